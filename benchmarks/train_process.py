"""Training as a user meets it: whole processes, compilation included, attnjax and two peers.

Each run is a fresh Python process that builds the data, trains BiLSTM + additive with
S seeds for one epoch and exits; its wall time is taken from outside (interpreter start,
imports, initialisation, compilation and training). Variants:

  - attnjax, default buckets ("auto") and padding to T (`buckets=None`), each on 1 and 2
    CPU devices (`attnjax.training.train`);
  - a Flax loop: the same model written as Flax users do (`nn.Bidirectional` of two
    `nn.RNN(nn.OptimizedLSTMCell)` with `seq_lengths`, optax Adam with clipping), one
    `jax.jit` training step called per batch, the S seeds one after another;
  - a PyTorch loop: `nn.LSTM` on `pack_padded_sequence` (each example read to its own
    length), Adam with clipping, the S seeds one after another, `torch.set_num_threads`
    = the machine's cores (skipped when torch is not installed).

Runs are interleaved (every variant once, then again) so a slow spell of the machine
spreads over all of them. Each round also measures the machine's fp32 GEMM rate (jax,
2048 × 2048, in its own process), the ceiling the model's training FLOPs are compared with.
Reported: seed-examples per second (S × N / wall), median and range over the runs.

  python benchmarks/train_process.py                 # both configs, 3 runs each
  python benchmarks/train_process.py --configs small --runs 1 --variants auto1,none1

Configs (batch 64, S = 4 seeds × N = 4,096 examples × 1 epoch, lengths uniform in
[T/2, T]): big = V 20k, E 128, H 128×2, T 128; small = V 2k, E 64, H 64×2, T 40.
Writes benchmarks/results/train_process.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "train_process.json"
CONFIGS = {"big": dict(vocab=20_000, embed=128, hidden=128, seq_len=128),
           "small": dict(vocab=2_000, embed=64, hidden=64, seq_len=40)}
VARIANTS = {"auto1": "attnjax default / 1 device", "none1": "attnjax padded / 1 device",
            "auto2": "attnjax default / 2 devices", "none2": "attnjax padded / 2 devices",
            "flax": "Flax loop (jit step)", "torch": "PyTorch loop (packed)"}
SEEDS, EXAMPLES, BATCH = 4, 4096, 64


def _data(shape):
  """(tokens <int32>[N, T], lengths <int32>[N], labels <int32>[N]): the benchmark's data."""
  import numpy as np
  rng = np.random.default_rng(0)
  t = shape["seq_len"]
  lengths = rng.integers(t // 2, t + 1, EXAMPLES).astype(np.int32)
  tokens = rng.integers(2, shape["vocab"], (EXAMPLES, t)).astype(np.int32)
  tokens = np.where(np.arange(t)[None] < lengths[:, None], tokens, 0).astype(np.int32)
  return tokens, lengths, rng.integers(0, 2, EXAMPLES).astype(np.int32)


def attnjax_child(shape, buckets: str, devices: int) -> None:
  from attnjax.training import use_cpu_devices
  use_cpu_devices(devices)
  import jax

  from attnjax.data.dataset import TextDataset
  from attnjax.models import AttentionClassifier
  from attnjax.training import TrainConfig, train

  tokens, lengths, labels = _data(shape)
  data = TextDataset(tokens=tokens, lengths=lengths, labels=labels,
                     label_names=("negative", "positive"))
  model = AttentionClassifier(vocab_size=shape["vocab"], num_classes=2,
                              embed_dim=shape["embed"], hidden_dim=shape["hidden"])
  config = TrainConfig(model=model, epochs=1, batch_size=BATCH,
                       buckets=None if buckets == "none" else buckets)
  jax.block_until_ready(train(config, list(range(SEEDS)), data, progress=False).params)


def flax_child(shape) -> None:
  """The model and loop as a Flax user writes them: a jit step per batch, seed after seed."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax

  class Model(nn.Module):

    @nn.compact
    def __call__(self, tokens, lengths):
      x = nn.Embed(shape["vocab"], shape["embed"])(tokens)
      hidden = nn.Bidirectional(
          nn.RNN(nn.OptimizedLSTMCell(shape["hidden"])),
          nn.RNN(nn.OptimizedLSTMCell(shape["hidden"]), reverse=True, keep_order=True))(
              x, seq_lengths=lengths)
      mask = jnp.arange(tokens.shape[1])[None] < lengths[:, None]
      scores = nn.Dense(1, use_bias=False)(jnp.tanh(nn.Dense(shape["hidden"])(hidden)))[..., 0]
      weights = jax.nn.softmax(jnp.where(mask, scores, -jnp.inf), axis=-1)
      return nn.Dense(2)(jnp.einsum("bt,btd->bd", weights, hidden))

  tokens, lengths, labels = _data(shape)
  model = Model()
  optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))

  @jax.jit
  def step(params, opt_state, tokens, lengths, labels):
    def loss_fn(params):
      logits = model.apply(params, tokens, lengths)
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  for seed in range(SEEDS):
    key = jax.random.key(seed)
    params = model.init(key, tokens[:BATCH], lengths[:BATCH])
    opt_state = optimizer.init(params)
    order = np.random.default_rng(seed).permutation(EXAMPLES)
    for start in range(0, EXAMPLES, BATCH):
      idx = order[start:start + BATCH]
      params, opt_state = step(params, opt_state, tokens[idx], lengths[idx], labels[idx])
    jax.block_until_ready(params)


def torch_child(shape) -> None:
  """A PyTorch loop on packed sequences, seed after seed."""
  import numpy as np
  import torch
  from torch import nn

  torch.set_num_threads(os.cpu_count() or 1)

  class Model(nn.Module):

    def __init__(self):
      super().__init__()
      self.embedding = nn.Embedding(shape["vocab"], shape["embed"])
      self.lstm = nn.LSTM(shape["embed"], shape["hidden"], batch_first=True,
                          bidirectional=True)
      self.w = nn.Linear(2 * shape["hidden"], shape["hidden"])
      self.v = nn.Linear(shape["hidden"], 1, bias=False)
      self.out = nn.Linear(2 * shape["hidden"], 2)

    def forward(self, tokens, lengths):
      sequence = nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths,
                                                   batch_first=True, enforce_sorted=False)
      hidden, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(sequence)[0], batch_first=True,
                                                   total_length=tokens.shape[1])
      mask = torch.arange(tokens.shape[1])[None] < lengths[:, None]
      scores = self.v(torch.tanh(self.w(hidden))).squeeze(-1)
      weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
      return self.out(torch.einsum("bt,btd->bd", weights, hidden))

  tokens, lengths, labels = (torch.from_numpy(a.astype(np.int64)) for a in _data(shape))
  for seed in range(SEEDS):
    torch.manual_seed(seed)
    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(EXAMPLES)
    for start in range(0, EXAMPLES, BATCH):
      idx = order[start:start + BATCH]
      loss = nn.functional.cross_entropy(model(tokens[idx], lengths[idx]), labels[idx])
      optimizer.zero_grad()
      loss.backward()
      nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      optimizer.step()


def gemm_child() -> None:
  """Prints the fp32 GEMM rate (GFLOP/s) of jax on this machine: 2048², median of 9."""
  import jax
  import jax.numpy as jnp

  from timing import median_time
  a = jax.random.normal(jax.random.key(0), (2048, 2048), jnp.float32)
  matmul = jax.jit(lambda a: a @ a)
  print(json.dumps({"gflops": 2 * 2048**3 / median_time(lambda: matmul(a), 9) / 1e9}))


def _child(argv) -> None:
  kind = argv[0]
  if kind == "gemm":
    return gemm_child()
  shape = CONFIGS[argv[1]]
  if kind in ("flax", "torch"):
    return {"flax": flax_child, "torch": torch_child}[kind](shape)
  return attnjax_child(shape, {"auto": "auto", "none": "none"}[kind[:-1]], int(kind[-1]))


def _process(*argv) -> tuple[float, str]:
  start = time.perf_counter()
  done = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True,
                        text=True, check=False)
  wall = time.perf_counter() - start
  if done.returncode != 0:
    raise RuntimeError(f"{' '.join(argv)}: {done.stderr[-2000:]}")
  return wall, done.stdout


def _training_flop_per_example(shape) -> float:
  """≈ FLOPs of one training example of the BiLSTM (3 × the forward's matmuls: forward,
  input/recurrent gradients, weight gradients), at the config's mean length 3T/4."""
  e, h, t = shape["embed"], shape["hidden"], shape["seq_len"]
  return 3 * 2 * 2 * (e + h) * 4 * h * (0.75 * t)


def _summary(times) -> dict:
  rates = [SEEDS * EXAMPLES / w for w in times]
  return {"wall_s": times, "examples_per_s": rates, "median": statistics.median(rates),
          "min": min(rates), "max": max(rates)}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
  parser.add_argument("--configs", default="big,small")
  parser.add_argument("--variants", default=",".join(VARIANTS),
                      help=f"comma-separated, of {', '.join(VARIANTS)}")
  parser.add_argument("--runs", type=int, default=3)
  parser.add_argument("--out", default=str(RESULTS))
  args = parser.parse_args(argv)
  if args.child:
    _child(args.child)
    return 0
  variants = args.variants.split(",")
  bad = sorted(set(variants) - set(VARIANTS))
  if bad:
    raise SystemExit(f"unknown variants {bad}; allowed: {', '.join(VARIANTS)}")
  try:
    import torch  # noqa: F401 (a peer, benchmarks only)
  except ImportError:
    if "torch" in variants:
      print("torch is not installed: the PyTorch column is skipped")
      variants.remove("torch")
  rows, gemm = {}, []
  for config in args.configs.split(","):
    walls = {v: [] for v in variants}
    for _ in range(args.runs):
      gemm.append(json.loads(_process("gemm")[1])["gflops"])
      for variant in variants:
        walls[variant].append(_process(variant, config)[0])
    rows[config] = {VARIANTS[v]: _summary(times) for v, times in walls.items()}
    flop = _training_flop_per_example(CONFIGS[config])
    for v in variants:
      row = rows[config][VARIANTS[v]]
      print(f"{config:5} {VARIANTS[v]:<28} {row['median']:7.0f} seed-examples/s "
            f"({row['min']:.0f}–{row['max']:.0f}; wall {statistics.median(walls[v]):.1f} s)")
    ratios = {}
    for devices in (1, 2):
      if f"auto{devices}" in variants and f"none{devices}" in variants:
        ratios[f"default / padded, {devices} device(s)"] = (
            rows[config][VARIANTS[f"auto{devices}"]]["median"]
            / rows[config][VARIANTS[f"none{devices}"]]["median"])
      for peer in ("flax", "torch"):
        if f"auto{devices}" in variants and peer in variants:
          ratios[f"default {devices} device(s) / {VARIANTS[peer]}"] = (
              rows[config][VARIANTS[f"auto{devices}"]]["median"]
              / rows[config][VARIANTS[peer]]["median"])
    ceiling = statistics.median(gemm) * 1e9 / flop
    for v in variants:
      ratios[f"{VARIANTS[v]} / GEMM ceiling"] = rows[config][VARIANTS[v]]["median"] / ceiling
    rows[config]["ratios"] = ratios
    rows[config]["gemm_ceiling_examples_per_s"] = ceiling
    for name, value in ratios.items():
      print(f"{config:5} {name}: {value:.2f}")
  import jax

  from attnjax.io import write_json_atomic
  write_json_atomic(Path(args.out), {
      "setting": {"configs": {c: CONFIGS[c] for c in rows}, "seeds": SEEDS,
                  "examples": EXAMPLES, "batch": BATCH, "epochs": 1, "runs": args.runs,
                  "interleaved": True, "timed": "whole process, from outside",
                  "flop_per_example": {c: _training_flop_per_example(CONFIGS[c]) for c in rows}},
      "gemm_gflops": gemm, "rows": rows,
      "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "jax": jax.__version__,
                  "python": platform.python_version()}})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
