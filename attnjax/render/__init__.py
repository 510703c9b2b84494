"""Token scores drawn for people: a web page, a figure, a terminal table, strict JSON.

`attnjax.explain` computes scores (models in, scores out); this package draws them.
`write(document, path)` writes an `attnjax.sentences` document in the format its
extension names (`WRITERS`).
"""

from __future__ import annotations

from pathlib import Path

from attnjax.io import write_atomic, write_json_atomic
from attnjax.render import colors
from attnjax.render.figure import Row, document_figure, save_png, words_figure
from attnjax.render.html import page
from attnjax.render.terminal import table


def _html(document: dict, path: Path) -> Path:
  return write_atomic(path, page(document).encode("utf-8"))


def _png(document: dict, path: Path) -> Path:
  return save_png(document_figure(document), path)


def _json(document: dict, path: Path) -> Path:
  write_json_atomic(path, document)
  return path


WRITERS = {".html": _html, ".png": _png, ".json": _json}
"""Output extension → writer."""


def check_path(path) -> Path:
  """`path` as a Path; a `ValueError` naming the extension when no writer takes it."""
  path = Path(path)
  if path.suffix.lower() not in WRITERS:
    raise ValueError(f"cannot write {str(path)!r}: the extension must be one of "
                     f"{', '.join(WRITERS)}")
  return path


def write(document: dict, path) -> Path:
  """Writes `document` to `path` as HTML, PNG or JSON by its extension (atomically)."""
  path = check_path(path)
  return WRITERS[path.suffix.lower()](document, path)


__all__ = ["Row", "WRITERS", "check_path", "colors", "document_figure", "page", "table",
           "words_figure", "write"]
