"""Split names with an optional slice: `"train"`, `"train[:2000]"`, `"dev[90%:]"`."""

from __future__ import annotations

import re
from typing import NamedTuple

_SPLIT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[(?P<start>[^:\]]*):(?P<stop>[^\]]*)\])?$")
_BOUND = re.compile(r"^\s*(?P<value>[+-]?\d+)\s*(?P<percent>%?)\s*$")


class Split(NamedTuple):
  """A parsed split: the name, and the start/stop of a Python-style slice.

  Bounds are ints (examples; negative counts from the end) or strings like
  `"90%"` (percent of the split, rounded to the nearest example); None is open.
  """
  name: str
  start: int | str | None = None
  stop: int | str | None = None

  def indices(self, n: int) -> range:
    """The example indices of this slice of a split of `n` examples."""
    return self.select(range(n))

  def select(self, indices: range) -> range:
    """This slice of `indices` (percentages are of `len(indices)`)."""
    n = len(indices)
    return indices[slice(_resolve(self.start, n), _resolve(self.stop, n))]

  def __str__(self) -> str:
    if self.start is None and self.stop is None:
      return self.name
    fmt = lambda b: "" if b is None else str(b)
    return f"{self.name}[{fmt(self.start)}:{fmt(self.stop)}]"


def parse_split(split: str) -> Split:
  """Parses `"NAME"` or `"NAME[START:STOP]"` (START/STOP: int, `P%` or empty).

  Example:
    >>> parse_split("dev[:90%]").indices(10)
    range(0, 9)
  """
  match = _SPLIT.match(split) if isinstance(split, str) else None
  if match is None:
    raise ValueError(f"bad split {split!r}; expected NAME or NAME[START:STOP] such as "
                     f"'train', 'train[:2000]', 'dev[90%:]'")
  bounds = []
  for part in ("start", "stop"):
    text = match.group(part)
    if not text:
      bounds.append(None)
      continue
    bound = _BOUND.match(text)
    if bound is None:
      raise ValueError(f"bad slice bound {text!r} in split {split!r}; use an int or P%")
    value = int(bound.group("value"))
    if bound.group("percent"):
      if not -100 <= value <= 100:
        raise ValueError(f"percent bound {text!r} in split {split!r} is outside [-100, 100]")
      bounds.append(f"{value}%")
    else:
      bounds.append(value)
  return Split(match.group("name"), *bounds)


def _resolve(bound, n: int) -> int | None:
  if isinstance(bound, str):
    return int(round(int(bound[:-1]) * n / 100))
  return bound
