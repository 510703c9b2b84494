"""How much of τ(attention, instance MI) is a shared trend along the sentence (finding v).

A unidirectional LSTM's state h_t has read tokens 1..t only, so its information about the
prediction grows with t; attention over those states can grow with t as well. Attention and
instance MI then agree partly because both rise along the sentence, whatever the tokens. This
module measures that, per cell, from the arrays `reproduce` caches (`analysis.npz`; a cell
archived without parameters is enough):

- τ(attention, position) and τ(instance MI, position): Kendall's τ-b of each with the token
  position, per example;
- τ(attention, instance MI): the finding's own τ (checked equal to the cached one);
- Kendall's partial τ of attention and instance MI given position (Kendall 1942):
  τ_am·p = (τ_am − τ_ap τ_mp) / √((1 − τ_ap²)(1 − τ_mp²)), undefined where either is
  constant over the example or a perfect function of position (|τ| = 1);

each averaged over the explained examples per seed, then mean ± 95% CI over seeds, and the
finding's comparison of BiLSTM + additive with every other encoder × attention cell (Welch's
t over seeds, Holm over the family) repeated on the partial τ.

Kendall's partial τ is not a test of conditional independence: under a strong shared trend
alone it shrinks but does not vanish (simulated attention and MI = position + independent
noise, τ with position 0.66 each: plain τ 0.51, partial τ 0.14; `tests/test_position_trend.py`).
Read it as "how much agreement is left once the trend is discounted", an overestimate where the
trend is strong, not as the position-free agreement itself.
"""

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from attnjax.analysis import compare, kendall_tau_b, partial_tau, seed_summary
from attnjax.models import ATTENTIONS, ENCODERS
from attnjax.reproduce.cells import load_arrays
from attnjax.reproduce.dataset_cells import TAU_UNDEFINED

MEASURES = ("τ(attention, position)", "τ(instance MI, position)", "τ(attention, instance MI)",
            "partial τ(attention, instance MI given position)")
REFERENCE = "bilstm-additive"
"""The cell the finding ranks; the comparisons are REFERENCE − each other cell."""


def example_taus(attention, instance_mi, mask) -> dict:
  """The four per-example τ of `MEASURES`.

  Args:
    attention: <float>[S, N, T] attention weights of S seeds on N ≥ E examples.
    instance_mi: <float>[S, E, T] instance MI of the first E examples.
    mask: <bool>[N, T] real (non-padding) positions.

  Returns:
    {measure: <float64>[S, E]}, NaN where a τ is undefined (fewer than 2 positions, a
    constant ranking, or, for the partial τ, a perfect positional trend).
  """
  instance_mi = np.asarray(instance_mi)
  seeds, examples, length = instance_mi.shape
  attention = np.asarray(attention)[:, :examples]
  mask = np.broadcast_to(np.asarray(mask, bool)[:examples], (seeds, examples, length))
  if attention.shape != instance_mi.shape:
    raise ValueError(f"attention {attention.shape[:1] + attention.shape[2:]} and instance MI "
                     f"{instance_mi.shape} disagree on seeds or length")
  position = np.broadcast_to(np.arange(length, dtype=np.float32), instance_mi.shape)
  tau = lambda a, b: np.asarray(kendall_tau_b(jnp.asarray(a, jnp.float32),
                                              jnp.asarray(b, jnp.float32), mask), np.float64)
  t_ap, t_mp, t_am = tau(attention, position), tau(instance_mi, position), \
      tau(attention, instance_mi)
  return dict(zip(MEASURES, (t_ap, t_mp, t_am, partial_tau(t_am, t_ap, t_mp))))


def cell_trend(arrays: dict, *, atol: float = 1e-5) -> dict:
  """`MEASURES` of one cell, summarised over seeds.

  Args:
    arrays: the cell's `analysis.npz` arrays ("attention", "instance_mi", "mask", "tau").
    atol: how far the recomputed τ(attention, instance MI) may be from the cached "tau".

  Returns:
    {measure: `seed_summary` (mean, ci, n, per_seed, ...)}.

  Raises:
    ValueError: the recomputed τ(attention, instance MI) is not the cached one (the arrays
      are not what this module reads them as).
  """
  taus = example_taus(arrays["attention"], arrays["instance_mi"], arrays["mask"])
  cached = np.asarray(arrays["tau"], np.float64)
  mine = taus["τ(attention, instance MI)"]
  if mine.shape != cached.shape or not np.allclose(mine, cached, atol=atol, equal_nan=True):
    raise ValueError("τ(attention, instance MI) recomputed from the arrays differs from the "
                     "cell's cached tau; these are not the analysis arrays this reads")
  return {m: seed_summary(v, undefined=TAU_UNDEFINED) for m, v in taus.items()}


def position_trend(out, dataset: str) -> dict:
  """`cell_trend` of every encoder × attention cell (`attnjax.models.ENCODERS` ×
  `ATTENTIONS`, named as finding v names them) of a `reproduce` output or archive.

  Args:
    out: the output (or `archive_cells`) folder: OUT/<dataset>/cells/<encoder>-<attention>/.
    dataset: its dataset name.

  Returns:
    {"cells": {name: cell_trend}, "comparisons": {measure: [welch dict + "a", "b",
    "holm_p"]} for τ(attention, instance MI) and the partial τ: REFERENCE − every other
    cell, Holm over them}.

  Raises:
    FileNotFoundError: no cell of the 12 has analysis arrays, or REFERENCE has none.
  """
  root = Path(out) / dataset / "cells"
  cells = {}
  for name in (f"{e}-{a}" for e in ENCODERS for a in ATTENTIONS):
    path = root / name / "analysis.npz"
    if path.is_file():
      cells[name] = cell_trend(load_arrays(path))
  if REFERENCE not in cells:
    raise FileNotFoundError(f"no {root / REFERENCE / 'analysis.npz'}: position_trend needs the "
                            f"cell finding v ranks (found: {sorted(cells) or 'none'})")
  comparisons = {}
  for measure in MEASURES[2:]:
    rows = [{"a": REFERENCE, "b": name,
             **compare.welch(cells[REFERENCE][measure]["per_seed"], cell[measure]["per_seed"])}
            for name, cell in cells.items() if name != REFERENCE]
    for row, p in zip(rows, compare.holm([r["p"] for r in rows])):
      row["holm_p"] = float(p)
    comparisons[measure] = rows
  return {"dataset": dataset, "cells": cells, "comparisons": comparisons}


def markdown(result: dict) -> str:
  """The cells' table and the comparisons as Markdown."""
  lines = ["| cell | " + " | ".join(MEASURES) + " |", "|---" * (len(MEASURES) + 1) + "|"]
  for name, cell in result["cells"].items():
    lines.append(f"| {name} | " + " | ".join(
        f"{cell[m]['mean']:+.3f} ± {cell[m]['ci']:.3f} (n={cell[m]['n']})" for m in MEASURES) + " |")
  for measure, rows in result["comparisons"].items():
    lines += ["", f"{REFERENCE} − other cells, {measure} (Welch's t, Holm over "
              f"{len(rows)}):", ""]
    lines += [f"- − {r['b']}: {r['difference']:+.3f} [{r['ci'][0]:+.3f}, {r['ci'][1]:+.3f}], "
              f"p = {r['p']:.3f}, Holm p = {r['holm_p']:.3f}" for r in rows]
  return "\n".join(lines)
