"""The BiLSTM's gradient against its loop length: traced `num_steps`, the full scan, a short shape.

For S seeds vmapped (B, T, E = H as given), times the gradient of a sum of squares of
`LSTMEncoder`'s output (its hand-written backward pass): with `num_steps` n traced (one
compiled program for every n) for several n, with the scan over all T (`num_steps=None`),
and at shape [B, n] (a program compiled for that length). Median of 7 calls after a
warm-up, the variants alternating over --rounds rounds. Writes
benchmarks/results/traced_length.json (or --out).

  python benchmarks/traced_length.py                               # SST-2's and IMDB's shapes
  python benchmarks/traced_length.py --shapes 3,64,400 --steps 0,300,400
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import jax
import jax.numpy as jnp

from attnjax.io import write_json_atomic
from attnjax.models.encoders import LSTMEncoder
from timing import cpu_model, median_time

RESULTS = Path(__file__).resolve().parent / "results" / "traced_length.json"


def measure(seeds: int, batch: int, length: int, steps, width: int, rounds: int) -> dict:
  key = jax.random.key(0)
  x = jax.random.normal(key, (batch, length, width))
  lengths = jnp.full((batch,), length)
  encoder = LSTMEncoder(width)
  params = jax.vmap(lambda k: encoder.init(k, x, lengths))(jax.random.split(key, seeds))

  def grad(n, inputs):
    loss = lambda p, x: (encoder.apply(p, x, jnp.minimum(lengths, x.shape[1]),
                                       num_steps=n) ** 2).sum()
    return jax.vmap(jax.grad(loss), in_axes=(0, None))(params, inputs)

  traced = jax.jit(lambda n: grad(n, x))
  scan = jax.jit(lambda: grad(None, x))
  shaped = {n: jax.jit(lambda xs: grad(None, xs)) for n in steps if n > 0}
  out = {f"traced n={n}": [] for n in steps}
  out["scan over T"] = []
  out.update({f"shape [B, {n}]": [] for n in shaped})
  for _ in range(rounds):
    for n in steps:
      out[f"traced n={n}"].append(median_time(lambda: traced(n), 7))
    out["scan over T"].append(median_time(scan, 7))
    for n, fn in shaped.items():
      out[f"shape [B, {n}]"].append(median_time(lambda: fn(x[:, :n]), 7))
  for name, times in out.items():
    print(f"S {seeds} B {batch} T {length}: {name:16} "
          + " ".join(f"{1000 * t:7.1f}" for t in times) + " ms", flush=True)
  return {"seeds": seeds, "batch": batch, "T": length, "width": width, "seconds": out}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--shapes", nargs="+", default=["3,128,64", "3,64,400"],
                      help="S,B,T triples")
  parser.add_argument("--steps", nargs="+", default=["0,8,16,64", "0,250,300,400"],
                      help="num_steps lists, one per shape")
  parser.add_argument("--width", type=int, default=128)
  parser.add_argument("--rounds", type=int, default=2)
  parser.add_argument("--out", default=str(RESULTS))
  args = parser.parse_args(argv)
  rows = [measure(*map(int, shape.split(",")), [int(n) for n in steps.split(",")],
                  args.width, args.rounds) for shape, steps in zip(args.shapes, args.steps)]
  write_json_atomic(Path(args.out), {
      "rows": rows, "machine": {"cpu": cpu_model(), "jax": jax.__version__,
                                "python": platform.python_version()}})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
