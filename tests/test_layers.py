"""The import graph points one way: models, mi, data < analysis < explain, training, render <
presets < reproduce, sentences < cli.

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
    "attnjax": 0, "checks": 0, "io": 0, "fingerprint": 0, "program_cache": 0,
    "models": 1, "mi": 1, "data": 1,
    "analysis": 2,
    "explain": 3, "training": 3, "render": 3,
    "presets": 4,
    "reproduce": 5, "sentences": 5,
    "cli": 6,
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


MAX_FUNCTION_LINES = 60
"""Lines of code (docstring, comments and blank lines excluded) any function may have."""


def _code_lines(node: ast.AST, lines: list[str]) -> int:
  body = node.body
  docstring = set()
  if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
      and isinstance(body[0].value.value, str):
    docstring = set(range(body[0].lineno, body[0].end_lineno + 1))
  return sum(1 for i in range(node.lineno, node.end_lineno + 1)
             if i not in docstring and lines[i - 1].strip()
             and not lines[i - 1].strip().startswith("#"))


def test_no_function_is_longer_than_its_budget():
  too_long = []
  for path in sorted(ROOT.rglob("*.py")):
    source = path.read_text()
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, str(path))):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        count = _code_lines(node, lines)
        if count > MAX_FUNCTION_LINES:
          too_long.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}: {count}")
  assert not too_long, "functions over the budget:\n" + "\n".join(too_long)


def test_each_experiment_module_owns_its_measurement_judge_and_figures():
  from attnjax.reproduce import findings, verdicts

  for number, experiment in findings.EXPERIMENTS.items():
    home = experiment.measure.__module__
    assert experiment.judge.__module__ == experiment.draw.__module__ == home, number
  # The generic statistics only: no experiment's row names or judges.
  source = Path(verdicts.__file__).read_text()
  assert "def judge" not in source and "bilstm" not in source and "gumbel" not in source
