"""Figure helpers of the report: a backend-free Matplotlib `Figure`, PNG writes, error bars.

Object-oriented Matplotlib only: no pyplot state and no `matplotlib.use` (a
notebook's backend is left alone); `Figure.savefig` renders PNG with Agg by itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attnjax.render.figure import save_png


def save(fig, path: Path) -> Path:
  """Writes `fig` as a PNG to `path`, atomically, cropped to what is drawn."""
  return save_png(fig, path, tight=True)


def figure(width: float, height: float, rows: int = 1, columns: int = 1):
  """A Matplotlib `Figure` with a grid of axes [rows, columns], laid out so that no label
  is clipped. Object-oriented: no pyplot state, no backend switch (a notebook's
  backend is left alone); `Figure.savefig` renders PNG with Agg by itself."""
  from matplotlib.figure import Figure
  fig = Figure(figsize=(width, height), layout="constrained")
  return fig, fig.subplots(rows, columns, squeeze=False)


def panel(width: float = 6.5, height: float = 3.6):
  """(Figure, its one axes): the single-panel figure of findings 1–5."""
  fig, axes = figure(width, height)
  return fig, axes[0, 0]


def errors(summaries: list[dict]) -> np.ndarray:
  """95% half-widths of summaries for `yerr` (0 where undefined, e.g. one seed)."""
  return np.nan_to_num(np.array([s.get("ci", np.nan) for s in summaries], float))


def tau_bars(ax, rows: dict, title: str) -> list[str]:
  """Bars of each row's mean Kendall τ (attention, MI) with its 95% interval; returns the names."""
  names = list(rows)
  means = [rows[n]["tau"]["mean"] for n in names]
  ax.bar(range(len(names)), np.nan_to_num(means), yerr=errors([rows[n]["tau"] for n in names]),
         capsize=3, color="tab:blue")
  ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
  ax.set(ylabel="Kendall τ (attention, MI)", title=title)
  return names


def token_figure(cell: dict, vocab=None, examples: int = 4):
  """Seed 0's attention vs instance MI (and planted tokens) on the first explained examples
  of a cell's analysis (`attnjax.reproduce.cell_measurements.analyze`), the words written
  out (`attnjax.render.words_figure`; token ids where `vocab` is None, as on the planted
  task): a `Figure`."""
  from attnjax.render import Row, colors, words_figure

  mi = cell["instance_mi"][0]
  attention = cell["attention"][0]
  mask = cell["mask"]
  importance = cell.get("importance")
  tokens = cell.get("tokens")
  blocks = []
  for row in range(min(examples, mi.shape[0])):
    length = int(mask[row].sum())
    ids = tokens[row, :length] if tokens is not None else range(length)
    words = vocab.decode(ids) if vocab is not None and tokens is not None else [str(i) for i in ids]
    rows = [Row("attention", words, colors.normalise(attention[row, :length])),
            Row("instance MI", words, colors.normalise(mi[row, :length]))]
    if importance is not None:
      rows.append(Row("planted", words, importance[row, :length].astype(float)))
    blocks.append((f"Example {row + 1} (seed 0)", rows))
  return words_figure(blocks, width=9.0, fontsize=9.0)
