"""Token scores as a figure with legible words: one row per method, words coloured by score.

Words are laid out left to right with their measured widths and wrapped onto more
lines when a row would pass the figure's width, so long texts stay readable (no
clipped or overlapping labels). Colours are `colors`' (each row scaled to its largest
|score|). Object-oriented Matplotlib only: no pyplot state, no backend switch.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Sequence

from attnjax.io import write_atomic
from attnjax.render import colors

DPI = 110
ROW_GAP = 0.3
"""Space between two methods' rows, in lines."""


@dataclasses.dataclass(frozen=True)
class Row:
  """One labelled row of words: `values` are already scaled to [-1, 1] (NaN: undefined);
  `marked[t]` draws word t with a dashed edge (e.g. out of vocabulary)."""
  label: str
  words: Sequence[str]
  values: Sequence[float]
  marked: Sequence[bool] = ()


def _measure(words: Sequence[str], fontsize: float, weight: str = "normal") -> list[float]:
  """Each word's rendered width in inches."""
  from matplotlib.backends.backend_agg import RendererAgg
  from matplotlib.font_manager import FontProperties

  renderer = RendererAgg(1, 1, DPI)
  props = FontProperties(size=fontsize, weight=weight)
  return [renderer.get_text_width_height_descent(w, props, ismath=False)[0] / DPI for w in words]


def _layout(row: Row, left: float, right: float, fontsize: float):
  """[(word index, x in inches, line)], the number of lines and the right edge reached,
  wrapping at `right`."""
  pad = 0.35 * fontsize / 72                    # the box's padding on each side
  gap = 0.05
  widths = _measure(row.words, fontsize)
  x, line, placed, reached = left, 0, [], left
  for t, width in enumerate(widths):
    box = width + 2 * pad
    if x > left and x + box > right:
      x, line = left, line + 1
    placed.append((t, x + pad, line))
    x += box + gap
    reached = max(reached, x)
  return placed, line + 1, reached


def words_figure(blocks: Sequence[tuple[str, Sequence[Row]]], *, width: float = 10.0,
                 fontsize: float = 10.0):
  """A `Figure` of text blocks, each a heading and rows of coloured words.

  Args:
    blocks: [(heading, rows)]: one block per text.
    width: the widest the figure may be, in inches; words wrap there.
    fontsize: of the words (points).

  Returns:
    The Matplotlib `Figure`, sized to hold every line (narrower than `width` when
    every row fits).
  """
  from matplotlib.figure import Figure

  line_height = 2.0 * fontsize / 72
  margin = 0.15
  labels = [row.label for _, rows in blocks for row in rows]
  label_width = margin + max(_measure(labels, fontsize, "bold"), default=0.0) + 0.2
  layouts, height, reached = [], margin, 0.0
  for heading, rows in blocks:
    placed = [_layout(row, label_width, width - margin, fontsize) for row in rows]
    layouts.append((heading, rows, placed))
    height += line_height * (1.3 + sum(p[1] + ROW_GAP for p in placed)) + 0.6 * line_height
    reached = max([reached, margin + _measure([heading], fontsize + 1, "bold")[0]]
                  + [p[2] for p in placed])
  height += line_height * 1.2                                    # the legend
  legend = ("Each row scaled to its largest |score|: orange positive, blue negative, "
            "stronger = larger; grey: undefined; dashed edge: out of vocabulary (<unk>).")
  width = min(width, max(reached, margin + _measure([legend], fontsize - 1)[0]) + margin)
  fig = Figure(figsize=(width, height), dpi=DPI)
  y = margin

  def put(x, text, **options):
    return fig.text(x / width, 1 - y / height, text, va="top", **options)

  for heading, rows, placed in layouts:
    put(margin, heading, fontsize=fontsize + 1, weight="bold")
    y += 1.3 * line_height
    for row, (words, lines, _) in zip(rows, placed):
      put(margin, row.label, fontsize=fontsize, weight="bold")
      marked = list(row.marked) or [False] * len(row.words)
      for t, x, line in words:
        r, g, b, a = colors.rgba(row.values[t])
        value = row.values[t]
        fig.text(x / width, 1 - (y + line * line_height) / height, row.words[t], va="top",
                 fontsize=fontsize, color=colors.text_colour(value),
                 bbox={"boxstyle": "round,pad=0.3", "facecolor": (r / 255, g / 255, b / 255, a),
                       "edgecolor": "#444" if marked[t] else "none",
                       "linestyle": "--" if marked[t] else "-", "linewidth": 0.8})
      y += (lines + ROW_GAP) * line_height
    y += 0.6 * line_height
  put(margin, legend, fontsize=fontsize - 1, color="#444")
  return fig


def document_figure(document: dict, **options):
  """The `words_figure` of an `attnjax.sentences` document: per text, its prediction and one
  row per method (seed-mean scores)."""
  blocks = []
  for i, sentence in enumerate(document["sentences"], 1):
    p = sentence["prediction"]
    heading = (f"Text {i}: predicted {p['label']}, p = {p['probability_mean']:.3f} ± "
               f"{p['probability_std']:.3f} over {len(document['seeds'])} seed(s)")
    rows = [Row(method, sentence["words"], colors.normalise(sentence["scores"][method]["mean"]),
                sentence["unknown"]) for method in document["methods"]]
    blocks.append((heading, rows))
  return words_figure(blocks, **options)


def save_png(fig, path, *, tight: bool = False) -> Path:
  """Writes `fig` as a PNG at `DPI` to `path`, atomically (`tight`: cropped to what is drawn)."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=DPI, **({"bbox_inches": "tight"} if tight else {}))
  return write_atomic(Path(path), buffer.getvalue())
