"""Argument checks shared across the library: a `ValueError` naming the value and what is allowed.

Booleans are never accepted as numbers (`True` is an `int` in Python).
"""

from __future__ import annotations

import numbers
import operator

import jax


def is_int(value) -> bool:
  """An integer (Python or NumPy), not a bool."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
  """A real number (Python or NumPy), not a bool."""
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value, minimum: int, extra: str = "") -> None:
  """`ValueError` unless `value` is an integer (anything with `__index__`, not a bool) >= minimum.

  The message reads "{name} must be an integer >= {minimum} {extra}, got {value!r}".
  """
  try:
    ok = not isinstance(value, bool) and operator.index(value) >= minimum
  except TypeError:
    ok = False
  if not ok:
    raise ValueError(f"{name} must be an integer >= {minimum}{' ' + extra if extra else ''}, "
                     f"got {value!r}")


def is_concrete(x) -> bool:
  """Whether `x` holds values (outside `jit` / `vmap`), so that its values can be checked."""
  return not isinstance(x, jax.core.Tracer)


def check_choice(what: str, value, allowed) -> None:
  """`ValueError` unless `value` is one of `allowed`.

  The message reads "unknown {what} {value!r}; allowed: {a}, {b}, ...".
  """
  if value not in allowed:
    raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(map(str, allowed))}")
