"""Faithfulness and leave-one-out throughput: batched and jitted vs Python loops, side by side.

`attnjax.explain.faithfulness` runs every perturbed copy of every example (the
L-step deletion curve and one sufficiency copy per bin) in one jitted call,
128 copies per model call in a compiled loop; the loop runs the same copies
one per call of the jitted model, example after example, as a straightforward
implementation would. Leave-one-out ("remove", TVD) is timed the same way
against the loop of `explain_throughput.py` (one call per position, the batch's
examples together), and with `reuse_states=True` (the LSTM recurrences start
from the original's states; the share of the recurrence that saves is
counted too). Same model, inputs and process; compilation excluded (a
warm-up call first); the loops' results are checked against the batched ones.
Prints a table and writes benchmarks/results/faithfulness.json (only from a
full run; `--quick` writes nothing unless given `--out`).

  python benchmarks/faithfulness.py              # the reference setting
  python benchmarks/faithfulness.py --quick      # small shapes, a smoke run

Settings: BiLSTM + additive attention, T 128 (lengths uniform in [64, 128]),
"reference" vocab 20k, emb 128, hidden 128×2 and "small" emb 32, hidden 32×2;
batches of 1, 4 and 16 examples; ERASER's bins; gradient scores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import explain
from attnjax.data.planted import UNK_ID
from attnjax.explain.faithfulness import BINS
from attnjax.io import write_json_atomic
from explain_throughput import SHAPES, _time, loo_loop, machine, run_rows  # benchmarks/ is the script's folder

RESULTS = Path(__file__).resolve().parent / "results" / "faithfulness.json"


def faithfulness_loop(model, params, tokens, lengths, scores, bins=BINS):
  """AOPC comprehensiveness / sufficiency and flip fraction, one model call per copy."""
  apply = jax.jit(model.apply)
  tokens, lengths, scores = np.asarray(tokens), np.asarray(lengths), np.asarray(scores)
  max_length = tokens.shape[1]

  def probs(row):
    padded = np.zeros((1, max_length), np.int32)
    padded[0, :len(row)] = row
    logits = apply(params, padded, np.array([len(row)], np.int32))[0]
    return np.asarray(jax.nn.softmax(logits[0]))

  def run():
    out = {"comprehensiveness": [], "sufficiency": [], "flip_fraction": []}
    for row, length, row_scores in zip(tokens, lengths, scores):
      x = row[:length]
      order = np.lexsort((np.arange(length), -row_scores[:length]))  # by score, then position
      full = probs(x)
      predicted = int(np.argmax(full))
      curve, flip = [], None
      for m in range(1, length + 1):
        p = probs(np.delete(x, order[:m]) if m < length else np.array([UNK_ID]))
        curve.append(p[predicted])
        if flip is None and int(np.argmax(p)) != predicted:
          flip = m / length
      ks = [max(1, int(b * length + 0.5)) for b in bins]
      out["comprehensiveness"].append(np.mean([full[predicted] - curve[k - 1] for k in ks]))
      out["sufficiency"].append(np.mean([full[predicted] - probs(x[np.sort(order[:k])])[predicted]
                                         for k in ks]))
      out["flip_fraction"].append(1.0 if flip is None else flip)
    return {name: np.array(values) for name, values in out.items()}
  return run


def measure(model, params, data, batch: int, repeats: int) -> dict:
  tokens, lengths = jnp.asarray(data.tokens[:batch]), jnp.asarray(data.lengths[:batch])
  scores = explain.gradient(model, params, tokens, lengths)
  batched = lambda: explain.faithfulness(model, params, tokens, lengths, scores)
  looped = faithfulness_loop(model, params, tokens, lengths, scores)
  loo_batched = lambda: explain.leave_one_out(model, params, tokens, lengths)
  loo_reused = lambda: explain.leave_one_out(model, params, tokens, lengths, reuse_states=True)
  loo_looped = loo_loop(model, params, tokens, lengths)
  reference, result = looped(), batched()
  for name, values in reference.items():
    np.testing.assert_allclose(result[name], values, rtol=1e-3, atol=1e-5, err_msg=name)
  np.testing.assert_allclose(loo_looped(), loo_batched(), rtol=1e-3, atol=1e-6)
  np.testing.assert_allclose(loo_reused(), loo_batched(), rtol=1e-3, atol=1e-6)
  times = {"faithfulness: batched": _time(batched, repeats),
           "faithfulness: loop over examples and copies": _time(looped, repeats),
           "leave_one_out: batched": _time(loo_batched, repeats),
           "leave_one_out: batched, reuse_states": _time(loo_reused, repeats),
           "leave_one_out: loop over positions": _time(loo_looped, repeats)}
  copies = int(np.sum(data.lengths[:batch])) + batch * len(BINS)
  return {"batch": batch, "copies": copies, "seconds": times,
          "ratios": {"faithfulness loop / batched":
                         times["faithfulness: loop over examples and copies"]
                         / times["faithfulness: batched"],
                     "leave_one_out loop / batched":
                         times["leave_one_out: loop over positions"]
                         / times["leave_one_out: batched"],
                     "leave_one_out loop / batched, reuse_states":
                         times["leave_one_out: loop over positions"]
                         / times["leave_one_out: batched, reuse_states"],
                     "leave_one_out batched / batched, reuse_states":
                         times["leave_one_out: batched"]
                         / times["leave_one_out: batched, reuse_states"]},
          "recurrence_steps": recurrence_steps(data.lengths[:batch], tokens.shape[1])}


def recurrence_steps(lengths, max_length: int, batch_copies: int = 128) -> dict:
  """LSTM steps (both directions in lockstep) of leave-one-out's copies, with and without reuse.

  Plain: every real copy runs T steps. Reused ("remove"): copy t of an example
  of length L runs max(L − 1 − t, t) steps, and a chunk of K copies sorted by
  that count runs as many as its longest; counted here as the plain path's
  step-copies that the reuse path skips.
  """
  lengths = np.asarray(lengths)
  work = np.sort(np.concatenate([np.maximum(length - 1 - np.arange(length), np.arange(length))
                                 for length in lengths]))[::-1]
  plain = len(work) * max_length
  reused = sum(int(work[i]) * len(work[i:i + batch_copies])
               for i in range(0, len(work), batch_copies))
  return {"plain_step_copies": plain, "reused_step_copies": reused,
          "share_saved": 1 - reused / plain}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true",
                      help="small shapes, one batch of 2, one repeat: a smoke run")
  parser.add_argument("--batches", type=int, nargs="+", default=None,
                      help="examples per call (default 1 4 16; --quick: 2)")
  parser.add_argument("--repeats", type=int, default=None, help="default 3 (--quick: 1)")
  parser.add_argument("--out", type=Path, default=None,
                      help=f"results file (default {RESULTS}; --quick: none)")
  args = parser.parse_args()
  args.batches = args.batches or ([2] if args.quick else [1, 4, 16])
  args.repeats = args.repeats or (1 if args.quick else 3)
  out = args.out or (None if args.quick else RESULTS)
  names = ["quick"] if args.quick else ["reference", "small"]
  settings = {name: run_rows(SHAPES[name], args.batches,
                             lambda model, params, data, batch: measure(model, params, data, batch,
                                                                        args.repeats))
              for name in names}
  if out is None:
    print("quick run: no results file written")
    return
  write_json_atomic(out, {
      "setting": {"batches": args.batches, "quick": args.quick, "repeats": args.repeats,
                  "model": "bilstm + additive attention", "scores": "gradient",
                  "faithfulness": f"remove, bins {list(BINS)}, batch_copies 128",
                  "loo": "remove, tvd, batch_copies 128 (plain and reuse_states)"},
      "settings": settings,
      "machine": machine(),
  })
  print(f"written: {out}")


if __name__ == "__main__":
  main()
