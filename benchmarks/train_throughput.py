"""Training throughput: S seeds in one program vs seed after seed vs a PyTorch loop.

All variants train the same model (embedding → BiLSTM → additive attention →
linear) on the same planted-task batches with Adam and global-norm clipping, in
one process. Compilation is excluded (a warm-up run first). Prints a table and
writes benchmarks/results/train_throughput.json.

  python benchmarks/train_throughput.py              # the reference setting
  python benchmarks/train_throughput.py --quick      # small shapes, seconds

The process exposes one CPU device per core (`--cpu-devices`); the S seeds are
timed once on one device and once sharded over all of them, the other rows on
one device.

Reference setting (the project's speed bar): vocab 20k, emb 128, hidden 128×2,
T 128, batch 64, S = 8.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

from attnjax.data import planted
from attnjax.io import write_json_atomic
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig, train, use_cpu_devices

RESULTS = Path(__file__).resolve().parent / "results" / "train_throughput.json"


def _time(fn, repeats: int) -> float:
  """Best wall time of `repeats` calls (after one warm-up call)."""
  fn()
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - start)
  return best


def jax_runs(config, data, num_seeds, repeats):
  """Times (1 seed, S seeds on one device, S seeds over all devices, S one after another)."""
  seeds = list(range(num_seeds))
  run = lambda seeds, devices=None: jax.block_until_ready(
      train(config, seeds, data, progress=False, devices=devices).params)
  one = _time(lambda: run([0]), repeats)
  together = _time(lambda: run(seeds, jax.devices()[:1]), repeats)
  sharded = _time(lambda: run(seeds), repeats) if len(jax.devices()) > 1 else None
  sequential = _time(lambda: [run([s]) for s in seeds], repeats)
  return one, together, sharded, sequential


def torch_run(args, data, num_seeds, repeats, packed: bool):
  """A straightforward PyTorch loop over seeds (same optimiser and batches).

  `packed=True` runs the LSTM on `pack_padded_sequence`, so the backward
  direction starts at each example's last real token: the same model as
  attnjax's. `packed=False` runs `nn.LSTM` over the padded batch, which is
  faster but a different model on padded data (the backward direction reads
  the padding first).
  """
  import torch
  from torch import nn

  torch.set_num_threads(args.threads)

  class Model(nn.Module):

    def __init__(self):
      super().__init__()
      self.embedding = nn.Embedding(args.vocab, args.embed)
      nn.init.normal_(self.embedding.weight, std=1.0)
      self.lstm = nn.LSTM(args.embed, args.hidden, batch_first=True, bidirectional=True)
      self.w = nn.Linear(2 * args.hidden, args.hidden)
      self.v = nn.Linear(args.hidden, 1, bias=False)
      self.out = nn.Linear(2 * args.hidden, 2)

    def forward(self, tokens, mask):
      embedded = self.embedding(tokens)
      if packed:
        lengths = mask.sum(1)
        sequence = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True,
                                                     enforce_sorted=False)
        hidden, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(sequence)[0], batch_first=True,
                                                     total_length=tokens.shape[1])
      else:
        hidden, _ = self.lstm(embedded)
      scores = self.v(torch.tanh(self.w(hidden))).squeeze(-1)
      weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
      return self.out(torch.einsum("bt,btd->bd", weights, hidden))

  tokens = torch.from_numpy(np.asarray(data.tokens, np.int64))
  labels = torch.from_numpy(np.asarray(data.labels, np.int64))
  mask = tokens != 0
  steps = len(data) // args.batch

  def run_all_seeds():
    for seed in range(num_seeds):
      torch.manual_seed(seed)
      model = Model()
      optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
      order = torch.randperm(len(data))
      for step in range(steps):
        idx = order[step * args.batch:(step + 1) * args.batch]
        loss = nn.functional.cross_entropy(model(tokens[idx], mask[idx]), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

  return _time(run_all_seeds, repeats), torch.__version__


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
  parser.add_argument("--seeds", type=int, default=8)
  parser.add_argument("--steps", type=int, default=8, help="training steps per seed per run")
  parser.add_argument("--repeats", type=int, default=2)
  parser.add_argument("--no-torch", action="store_true")
  parser.add_argument("--unroll", type=int, default=1)
  parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
  parser.add_argument("--cpu-devices", type=int, default=os.cpu_count(),
                      help="CPU devices to expose (default: one per core); the sharded row "
                      "splits the seeds over them, every other row runs on one device")
  parser.add_argument("--out", type=Path, default=RESULTS)
  args = parser.parse_args()
  use_cpu_devices(args.cpu_devices)
  shapes = (dict(vocab=2000, embed=64, hidden=64, seq_len=40, batch=64) if args.quick else
            dict(vocab=20000, embed=128, hidden=128, seq_len=128, batch=64))
  vars(args).update(shapes)

  # Lengths uniform in [T/2, T] (the planted task's default), padded to T.
  data = planted(jax.random.key(0), args.steps * args.batch, seq_len=args.seq_len,
                 vocab_size=args.vocab)
  model = AttentionClassifier(vocab_size=args.vocab, num_classes=2, embed_dim=args.embed,
                              hidden_dim=args.hidden, attention_dim=args.hidden,
                              unroll=args.unroll)
  config = TrainConfig(model=model, epochs=1, batch_size=args.batch, steps_per_call=args.steps)
  examples = len(data)
  one, together, sharded, sequential = jax_runs(config, data, args.seeds, args.repeats)
  vmapped_row = f"jax: {args.seeds} seeds vmapped in one program, 1 device"
  sharded_row = (f"jax: {args.seeds} seeds vmapped in one program, "
                 f"sharded over {len(jax.devices())} CPU devices")
  sequential_row = f"jax: {args.seeds} seeds one after another (jitted step)"
  rows = {"jax: 1 seed": examples / one, vmapped_row: args.seeds * examples / together}
  if sharded is not None:
    rows[sharded_row] = args.seeds * examples / sharded
  rows[sequential_row] = args.seeds * examples / sequential
  torch_version = None
  packed_row = f"pytorch: loop over {args.seeds} seeds, packed (same model)"
  padded_row = f"pytorch: loop over {args.seeds} seeds, unpacked (ignores lengths)"
  if not args.no_torch:
    for row, packed in ((packed_row, True), (padded_row, False)):
      torch_time, torch_version = torch_run(args, data, args.seeds, args.repeats, packed)
      rows[row] = args.seeds * examples / torch_time

  variants = {"vmapped (1 device)": rows[vmapped_row]}
  if sharded is not None:
    variants[f"vmapped ({len(jax.devices())} CPU devices)"] = rows[sharded_row]
  ratios = {}
  for name, value in variants.items():
    ratios[f"{name} / sequential"] = value / rows[sequential_row]
    if torch_version:
      ratios[f"{name} / pytorch loop (packed, same model)"] = value / rows[packed_row]
      ratios[f"{name} / pytorch loop (unpacked)"] = value / rows[padded_row]
  print(f"{'variant':<72} {'seed-examples/s':>16}")
  for name, value in rows.items():
    print(f"{name:<72} {value:>16.1f}")
  for name, value in ratios.items():
    print(f"{name:<72} {value:>15.2f}x")
  write_json_atomic(args.out, {
      "setting": shapes | {"seeds": args.seeds, "steps_per_seed": args.steps,
                           "unroll": args.unroll, "quick": args.quick,
                           "cpu_devices": len(jax.devices())},
      "seed_examples_per_second": rows, "ratios": ratios,
      "machine": {"platform": platform.platform(), "processor": platform.processor(),
                  "jax_devices": [str(d) for d in jax.devices()], "jax": jax.__version__,
                  "device_kind": jax.devices()[0].device_kind,
                  "torch": torch_version},
  })
  print(f"written: {args.out}")


if __name__ == "__main__":
  main()
