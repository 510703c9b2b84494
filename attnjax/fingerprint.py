"""Fingerprints of the code that computes a cached result.

A cached artefact (a trained run, a cell's analysis, explanation scores) is
keyed on its settings, its PRNG key and `fingerprint(parts)` of the code that
computes it. The fingerprint hashes each part's abstract syntax tree with its
docstrings and string-only statements removed, so:

- comments, docstrings, blank lines and line breaks do not change it (a cache
  of hours of training survives a documentation edit);
- any change to what the code does changes it: a statement, an expression, a
  constant, a default argument, an added or removed function, a renamed
  variable, a type annotation.

Parts are modules (their whole source) or functions (their own source only).
`module_closure` adds, to a set of modules, every `attnjax` module they import
(at module level or inside functions), transitively, so a helper moved to a
new module stays covered.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import inspect
import textwrap
import types
from typing import Iterable

PACKAGE = "attnjax"


def _is_string_statement(node: ast.AST) -> bool:
  return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
          and isinstance(node.value.value, str))


def _strip_strings(tree: ast.AST) -> ast.AST:
  """Removes docstrings and other string-only statements (attribute docs) in place."""
  for node in ast.walk(tree):
    for field in ("body", "orelse", "finalbody"):
      body = getattr(node, field, None)
      if isinstance(body, list) and any(_is_string_statement(s) for s in body):
        kept = [s for s in body if not _is_string_statement(s)]
        setattr(node, field, kept or [ast.Pass()])
  return tree


def _tree(part) -> ast.AST:
  return ast.parse(textwrap.dedent(inspect.getsource(part)))


def source_digest(part) -> str:
  """SHA-256 (hex) of a module's or function's code, docstrings and comments ignored."""
  dump = ast.dump(_strip_strings(_tree(part)), annotate_fields=False, include_attributes=False)
  return hashlib.sha256(dump.encode()).hexdigest()


def _name(part) -> str:
  if isinstance(part, types.ModuleType):
    return part.__name__
  return f"{part.__module__}.{part.__qualname__}"


def fingerprint(parts: Iterable) -> str:
  """A 16-hex-digit fingerprint of the code of `parts` (modules and functions).

  The order of `parts` does not matter; each part's qualified name enters the
  hash with its code.
  """
  digest = hashlib.sha256()
  for name, code in sorted((_name(p), source_digest(p)) for p in set(parts)):
    digest.update(f"{name}:{code};".encode())
  return digest.hexdigest()[:16]


def _is_module(name: str) -> bool:
  try:
    return importlib.util.find_spec(name) is not None
  except (ImportError, ValueError):
    return False


def _imported_modules(module: types.ModuleType) -> set[str]:
  """Names of the `attnjax` modules `module` imports anywhere in its source."""
  found = set()
  for node in ast.walk(_tree(module)):
    if isinstance(node, ast.Import):
      found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
        node.module.split(".")[0] == PACKAGE:
      submodules = {f"{node.module}.{a.name}" for a in node.names}
      submodules = {m for m in submodules if _is_module(m)}
      found |= submodules
      if len(submodules) < len(node.names):  # some names are attributes of node.module
        found.add(node.module)
  return found


@functools.cache
def _closure(name: str) -> frozenset[str]:
  seen, todo = set(), [name]
  while todo:
    current = todo.pop()
    if current in seen:
      continue
    seen.add(current)
    todo += sorted(_imported_modules(importlib.import_module(current)) - seen)
  seen.discard(PACKAGE)  # the top-level package only re-exports
  return frozenset(seen)


def module_closure(*modules) -> tuple[types.ModuleType, ...]:
  """`modules` (or their names) and every `attnjax` module they import, transitively."""
  names = set()
  for module in modules:
    names |= _closure(module if isinstance(module, str) else module.__name__)
  return tuple(importlib.import_module(n) for n in sorted(names))
