"""Explainer throughput: batched leave-one-out and integrated gradients vs Python loops.

`attnjax.explain.leave_one_out` runs all B·T perturbed copies in one call and
`attnjax.explain.integrated_gradients` vmaps the path points in batches; the
loops run the same computations one position (one path point) per call of the
jitted model, as a straightforward implementation would. Same model, inputs and
process; compilation excluded (a warm-up call first); the loops' results are
checked against the batched ones. Prints a table and writes
benchmarks/results/explain_throughput.json.

  python benchmarks/explain_throughput.py              # the reference setting
  python benchmarks/explain_throughput.py --quick      # small shapes, seconds

Settings: BiLSTM + additive attention, T 128 (lengths uniform in [64, 128]),
"reference" vocab 20k, emb 128, hidden 128×2 and "small" emb 32, hidden 32×2;
batches of 1, 4 and 16 examples,
IG with 32 steps (batch_steps 16). Leave-one-out is timed twice: the default
`batch_copies=128` (real positions only, 128 copies per call in a compiled
loop) and `batch_copies=None` (all B·T copies in one call). The loop over
positions stops at the batch's longest example.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import explain
from attnjax.data import planted
from attnjax.explain.gradients import baseline_embedding, trapezoid_batches
from attnjax.io import write_json_atomic
from attnjax.models import AttentionClassifier, init_params

RESULTS = Path(__file__).resolve().parent / "results" / "explain_throughput.json"


def _time(fn, repeats: int) -> float:
  """Best wall time of `repeats` calls (after one warm-up call)."""
  jax.block_until_ready(fn())
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - start)
  return best


def loo_loop(model, params, tokens, lengths):
  """Leave-one-out ("remove", TVD) with one jitted model call per real position."""
  apply = jax.jit(model.apply)
  tokens, lengths = np.asarray(tokens), np.asarray(lengths)

  def run():
    probs = jax.nn.softmax(apply(params, tokens, lengths)[0])
    pad = np.zeros_like(tokens[:, :1])
    columns = [np.zeros(len(lengths))] * tokens.shape[1]
    for t in range(lengths.max()):
      removed = np.concatenate([tokens[:, :t], tokens[:, t + 1:], pad], axis=1)
      real, removable = t < lengths, lengths > 1
      copy = np.where(removable[:, None], removed, np.where(np.arange(tokens.shape[1]) == t, 0,
                                                            tokens))
      copy_lengths = np.where(real & removable, lengths - 1, lengths)
      copy_probs = jax.nn.softmax(apply(params, copy, copy_lengths)[0])
      columns[t] = np.where(real, 0.5 * np.abs(np.asarray(copy_probs - probs)).sum(-1), 0.0)
    return np.stack(columns, axis=1)
  return run


def ig_loop(model, params, tokens, lengths, steps: int):
  """Integrated gradients (pad baseline, trapezoid) with one jitted gradient call per point."""
  logits, _ = model.apply(params, tokens, lengths)
  target = jnp.argmax(logits, -1)
  embedded = model.apply(params, tokens, method=model.embed)
  start = baseline_embedding(model, params, tokens, lengths, "pad")
  delta = embedded - start

  @jax.jit
  def grad_at(alpha):
    def total_probability(e):
      probs = jax.nn.softmax(model.apply(params, tokens, lengths, embedded=e)[0])
      return jnp.take_along_axis(probs, target[:, None], axis=1).sum()
    return jax.grad(total_probability)(start + alpha * delta)

  alphas, weights = (np.asarray(a).ravel() for a in trapezoid_batches(steps, steps + 1))

  def run():
    total = jnp.zeros_like(embedded)
    for alpha, weight in zip(alphas, weights):
      total = total + weight * grad_at(alpha)
    return jnp.sum(delta * total, -1)
  return run


def measure(model, params, data, batch: int, steps: int, batch_copies: int,
            repeats: int) -> dict:
  tokens, lengths = jnp.asarray(data.tokens[:batch]), jnp.asarray(data.lengths[:batch])
  loo_batched = lambda: explain.leave_one_out(model, params, tokens, lengths, batch_copies=None)
  loo_chunked = lambda: explain.leave_one_out(model, params, tokens, lengths,
                                              batch_copies=batch_copies)
  ig_batched = lambda: explain.integrated_gradients(model, params, tokens, lengths, steps=steps)
  loo_run, ig_run = loo_loop(model, params, tokens, lengths), ig_loop(model, params, tokens,
                                                                      lengths, steps)
  chunked = f"leave_one_out: batch_copies={batch_copies}"
  np.testing.assert_allclose(loo_run(), loo_batched(), rtol=1e-3, atol=1e-6)
  np.testing.assert_allclose(loo_chunked(), loo_batched(), rtol=1e-3, atol=1e-6)
  np.testing.assert_allclose(ig_run(), ig_batched(), rtol=1e-3, atol=1e-6)
  times = {"leave_one_out: one call": _time(loo_batched, repeats),
           chunked: _time(loo_chunked, repeats),
           "leave_one_out: loop over positions": _time(loo_run, repeats),
           "integrated_gradients: batched": _time(ig_batched, repeats),
           "integrated_gradients: loop over steps": _time(ig_run, repeats)}
  loo_loop_time = times["leave_one_out: loop over positions"]
  return {"batch": batch, "real_positions": int(np.sum(data.lengths[:batch])), "seconds": times,
          "ratios": {"leave_one_out loop / one call": loo_loop_time
                     / times["leave_one_out: one call"],
                     f"leave_one_out loop / batch_copies={batch_copies}": loo_loop_time
                     / times[chunked],
                     "integrated_gradients loop / batched":
                         times["integrated_gradients: loop over steps"]
                         / times["integrated_gradients: batched"]}}


SHAPES = {
    "reference": dict(vocab=20000, embed=128, hidden=128, seq_len=128),
    "small": dict(vocab=20000, embed=32, hidden=32, seq_len=128),
    "quick": dict(vocab=2000, embed=32, hidden=32, seq_len=32),
}


def run_setting(shapes: dict, args) -> dict:
  """Every batch size of one model shape; prints its table."""
  return run_rows(shapes, args.batches, lambda model, params, data, batch: measure(
      model, params, data, batch, args.steps, args.batch_copies, args.repeats))


def run_rows(shapes: dict, batches, measure_batch) -> dict:
  """`measure_batch(model, params, data, batch)` for every batch size of one model shape.

  Builds the planted data and the BiLSTM + additive model of `shapes`, prints
  the rows' seconds and ratios as a table, and returns them with the load
  average before and after.
  """
  data = planted(jax.random.key(0), max(batches), seq_len=shapes["seq_len"],
                 vocab_size=shapes["vocab"])
  model = AttentionClassifier(vocab_size=shapes["vocab"], num_classes=2,
                              embed_dim=shapes["embed"], hidden_dim=shapes["hidden"],
                              attention_dim=shapes["hidden"])
  params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(0))
  load_before = os.getloadavg()[0]
  rows = [measure_batch(model, params, data, batch) for batch in batches]
  load_after = os.getloadavg()[0]
  print(f"\n{shapes}")
  print(f"{'B':>4} {'variant':<48} {'seconds':>9}")
  for row in rows:
    for name, value in row["seconds"].items():
      print(f"{row['batch']:>4} {name:<48} {value:>9.3f}")
    for name, value in row["ratios"].items():
      print(f"{row['batch']:>4} {name:<48} {value:>8.2f}x")
  print(f"load average (1 min) before/after: {load_before:.2f} / {load_after:.2f}")
  return {"shapes": shapes, "results": rows,
          "load_average_1min": {"before": load_before, "after": load_after}}


def machine() -> dict:
  """The platform, processor, CPU count, JAX devices and version, for a results file."""
  return {"platform": platform.platform(), "processor": platform.processor(),
          "cpu_count": os.cpu_count(), "jax_devices": [str(d) for d in jax.devices()],
          "device_kind": jax.devices()[0].device_kind, "jax": jax.__version__}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
  parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16],
                      help="examples explained per call")
  parser.add_argument("--steps", type=int, default=32, help="integrated-gradients steps")
  parser.add_argument("--batch-copies", type=int, default=128,
                      help="leave-one-out copies per call in the chunked variant (the default)")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--out", type=Path, default=RESULTS)
  args = parser.parse_args()
  names = ["quick"] if args.quick else ["reference", "small"]
  settings = {name: run_setting(SHAPES[name], args) for name in names}
  write_json_atomic(args.out, {
      "setting": {"steps": args.steps, "batches": args.batches, "quick": args.quick,
                  "batch_copies": args.batch_copies, "repeats": args.repeats,
                  "model": "bilstm + additive attention", "loo": "remove, tvd",
                  "ig": "pad baseline, probability, batch_steps 16"},
      "settings": settings,
      "machine": machine(),
  })
  print(f"written: {args.out}")


if __name__ == "__main__":
  main()
