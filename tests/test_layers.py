"""The import graph points one way: models, mi, data < analysis < explain, training, render <
reproduce, sentences < cli.

Every module under attnjax/ is parsed (not imported) and each `attnjax` import,
at module level or inside a function, is checked against the layer order. A
package may import its own modules and any package of a lower layer; packages
of one layer (models / mi / data, explain / training) do not import each other;
nothing imports `attnjax.cli` but the command line itself, and nothing imports
`experiments`.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "attnjax"

LAYERS = {
    # Shared helpers below everything: argument checks, atomic files, code fingerprints.
    "attnjax": 0, "checks": 0, "io": 0, "fingerprint": 0, "compiled": 0,
    "models": 1, "mi": 1, "data": 1,
    "analysis": 2,
    "explain": 3, "training": 3, "render": 3,
    "reproduce": 4, "sentences": 4,
    "cli": 5,
}

ALLOWED: set[tuple[str, str]] = set()
"""(importer package, imported package) edges still waiting to be removed."""


def _package(module: str) -> str:
  """The layer name of a dotted module name ("attnjax.mi.knn" → "mi", "attnjax" → "attnjax")."""
  parts = module.split(".")
  return parts[1] if len(parts) > 1 else parts[0]


def _module_name(path: Path) -> str:
  parts = path.relative_to(ROOT.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
  """Every absolute module name imported by the file (relative imports resolved)."""
  name = _module_name(path)
  package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      if node.level:
        base = package.split(".")
        base = base[:len(base) - node.level + 1]
        yield ".".join(base + ([node.module] if node.module else []))
      else:
        yield node.module


def _edges():
  for path in sorted(ROOT.rglob("*.py")):
    importer = _module_name(path)
    for imported in _imports(path):
      if imported and imported.split(".")[0] in ("attnjax", "experiments"):
        yield importer, imported


def test_every_package_has_a_layer():
  packages = {_package(_module_name(p)) for p in ROOT.rglob("*.py")}
  assert packages <= set(LAYERS), sorted(packages - set(LAYERS))


def test_imports_point_down():
  upward = []
  for importer, imported in _edges():
    if imported.split(".")[0] == "experiments":
      upward.append(f"{importer} -> {imported}")
      continue
    source, target = _package(importer), _package(imported)
    if source == target or target == "attnjax":
      continue
    lower = LAYERS[target] < LAYERS[source]
    if not lower and (source, target) not in ALLOWED:
      upward.append(f"{importer} -> {imported}")
  assert not upward, "imports that do not point to a lower layer:\n" + "\n".join(upward)


def test_only_the_command_line_imports_it():
  importers = sorted({i for i, m in _edges() if m == "attnjax.cli" or m.startswith("attnjax.cli.")})
  assert importers == [], importers


def test_analysis_does_not_run_models():
  """`analysis` takes arrays: it imports no model classes and no training code."""
  for path in sorted((ROOT / "analysis").rglob("*.py")):
    for imported in _imports(path):
      assert not (imported or "").startswith(("attnjax.models.classifier", "attnjax.training",
                                              "attnjax.explain")), (path.name, imported)
