"""Where a training step's time goes on this machine: the step taken apart, piece by piece.

Each piece is its own compiled program over the same S stacked seeds (`jax.vmap`, one
device), timed after a warm-up call, median of `--repeats`:

  embedding       the embedding gather                                   [S, B, T, E]
  encoder fwd     embedding + BiLSTM forward                             [S, B, T, 2H]
  encoder fwd+bwd  the same with its gradient (the hand-written BiLSTM backward pass)
  loss fwd        the whole model and the loss
  loss fwd+bwd    the loss and its gradient
  step            gradient + the optimizer update (Adam, global-norm clipping) + apply
  update only     the optimizer update and apply, gradients given
  train() / step  `attnjax.training.train` on the same batches (padded, `buckets=None`),
                  compilation excluded: the step plus the loop's host work

and the table attributes the differences: forward recurrence = encoder fwd − embedding;
backward recurrence = encoder fwd+bwd − encoder fwd; attention, readout and loss forward
= loss fwd − encoder fwd; their backward = (loss fwd+bwd − loss fwd) − (backward
recurrence); optimizer = step − loss fwd+bwd; train()'s loop = train() / step − step
(host work and dispatch; negative where `train`'s blocks of steps in one program beat one
call per step). Pieces are compiled separately, so the rows are estimates. The GEMM
ceiling (fp32 matmul of 2048², the same process) and the model's FLOPs per example put
the step against the machine's rate.

  python benchmarks/step_profile.py            # V 20k, E 128, H 128×2, T 128, B 64, S 4
  python benchmarks/step_profile.py --quick    # V 2k, E 64, H 64×2, T 40

Writes benchmarks/results/step_profile.json (or --out).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.data.dataset import TextDataset
from attnjax.io import write_json_atomic
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig, train
from attnjax.training.loop import _loss_fn, init_state, make_optimizer, seed_keys
from timing import cpu_model, median_time

RESULTS = Path(__file__).resolve().parent / "results" / "step_profile.json"
SHAPES = {"big": dict(vocab=20_000, embed=128, hidden=128, seq_len=128, batch=64),
          "small": dict(vocab=2_000, embed=64, hidden=64, seq_len=40, batch=64)}


def _data(shape: dict, examples: int, key) -> TextDataset:
  """`examples` random token sequences, lengths uniform in [T/2, T], labels 0/1."""
  t = shape["seq_len"]
  k_tokens, k_lengths, k_labels = jax.random.split(key, 3)
  lengths = np.asarray(jax.random.randint(k_lengths, (examples,), t // 2, t + 1), np.int32)
  tokens = np.asarray(jax.random.randint(k_tokens, (examples, t), 2, shape["vocab"]), np.int32)
  tokens = np.where(np.arange(t)[None] < lengths[:, None], tokens, 0).astype(np.int32)
  labels = np.asarray(jax.random.bernoulli(k_labels, 0.5, (examples,)), np.int32)
  return TextDataset(tokens=tokens, lengths=lengths, labels=labels,
                     label_names=("negative", "positive"))


def _gemm_rate(size: int = 2048, repeats: int = 5) -> float:
  """fp32 GFLOP/s of one `size`² matmul in a compiled program."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  matmul = jax.jit(lambda x: x @ x)
  return 2 * size ** 3 / median_time(lambda: matmul(a), repeats) / 1e9


def _flops_per_example(shape: dict) -> float:
  """Training FLOPs of one example (forward ≈ 1/3, backward ≈ 2/3): the BiLSTM's gate GEMMs
  and the additive attention's projection over T positions; the rest is smaller."""
  e, h, t = shape["embed"], shape["hidden"], shape["seq_len"]
  lstm = 2 * t * 2 * (e + h) * 4 * h          # 2 directions, [x, h] @ K per step
  attention = t * 2 * (2 * h) * 128            # additive scorer, attention_dim 128
  return 3 * (lstm + attention)


def pieces(shape: dict, seeds: int, repeats: int, steps: int) -> dict:
  """{piece: median seconds per step} (see the module docstring)."""
  model = AttentionClassifier(vocab_size=shape["vocab"], num_classes=2,
                              embed_dim=shape["embed"], hidden_dim=shape["hidden"])
  config = TrainConfig(model=model, epochs=1, batch_size=shape["batch"], buckets=None,
                       steps_per_call=steps)
  data = _data(shape, shape["batch"] * steps, jax.random.key(1))
  params, opt_state = jax.vmap(lambda k: init_state(config, k))(seed_keys(range(seeds)))
  run = lambda: train(config, list(range(seeds)), data, progress=False,
                      devices=jax.devices()[:1]).params
  train_step = median_time(run, max(repeats // 4, 2)) / steps  # before the state is donated
  b = shape["batch"]
  tokens, lengths, labels = (jnp.asarray(x[:b]) for x in (data.tokens, data.lengths,
                                                           data.labels))
  weights = jnp.ones((b,), jnp.float32)
  keys = jax.random.split(jax.random.key(2), seeds)
  optimizer = make_optimizer(config)

  def over_seeds(fn, **jit_options):
    return jax.jit(jax.vmap(fn), **jit_options)

  def encoder(p):
    return model.apply(p, tokens, lengths,
                       method=lambda m, t, n: m.encoder_module(m.embed(t), n))

  # Pieces end in a scalar that reads every value they compute (a dot product with fixed
  # random weights), so no piece pays for writing outputs the step would not write.
  cotangent = jax.random.normal(jax.random.key(3), (b, shape["seq_len"], 2 * shape["hidden"]))
  weights_tree = jax.tree.map(lambda x: jax.random.normal(jax.random.key(4), x.shape[1:]),
                              params)
  read = lambda tree: sum(jnp.vdot(g, w) for g, w in zip(jax.tree.leaves(tree),
                                                         jax.tree.leaves(weights_tree)))
  loss = lambda p, k: _loss_fn(config, p, tokens, lengths, labels, weights, k)[0]
  grad = jax.value_and_grad(loss)

  def step(p, o, k):
    _, g = grad(p, k)
    updates, o = optimizer.update(g, o, p)
    return optax.apply_updates(p, updates), o

  def update(p, o, g):
    updates, o = optimizer.update(g, o, p)
    return optax.apply_updates(p, updates), o

  embedding = over_seeds(lambda p: jnp.vdot(
      model.apply(p, tokens, method=lambda m, t: m.embed(t)), cotangent[..., :shape["embed"]]))
  encoder_fwd = over_seeds(lambda p: jnp.vdot(encoder(p), cotangent))
  encoder_bwd = over_seeds(lambda p: read(jax.grad(lambda q: jnp.vdot(encoder(q), cotangent))(p)))
  loss_fwd = over_seeds(loss)
  loss_bwd = over_seeds(lambda p, k: read(grad(p, k)[1]))
  # The step and the update run in place on their state (donated buffers), as in `train`.
  step_fn = over_seeds(step, donate_argnums=(0, 1))
  update_fn = over_seeds(update, donate_argnums=(0, 1))
  grads = over_seeds(lambda p, k: grad(p, k)[1])(params, keys)
  state = {"step": (params, opt_state),
           "update": jax.tree.map(jnp.copy, (params, opt_state))}

  def advance(name, fn, *args):
    state[name] = fn(*state[name], *args)
    return state[name]

  out = {
      "embedding": median_time(lambda: embedding(params), repeats),
      "encoder fwd": median_time(lambda: encoder_fwd(params), repeats),
      "encoder fwd+bwd": median_time(lambda: encoder_bwd(params), repeats),
      "loss fwd": median_time(lambda: loss_fwd(params, keys), repeats),
      "loss fwd+bwd": median_time(lambda: loss_bwd(params, keys), repeats),
      "update only": median_time(lambda: advance("update", update_fn, grads), repeats),
      "step": median_time(lambda: advance("step", step_fn, keys), repeats),
  }
  out["train() / step"] = train_step
  return out


def attribution(t: dict) -> dict:
  """{share of the step: seconds} from the pieces' times (module docstring)."""
  backward_recurrence = t["encoder fwd+bwd"] - t["encoder fwd"]
  return {
      "embedding gather": t["embedding"],
      "BiLSTM forward recurrence": t["encoder fwd"] - t["embedding"],
      "BiLSTM backward recurrence": backward_recurrence,
      "attention + readout + loss, forward": t["loss fwd"] - t["encoder fwd"],
      "attention + readout + loss, backward": (t["loss fwd+bwd"] - t["loss fwd"]
                                               - backward_recurrence),
      "optimizer update (Adam over S × V × E rows)": t["step"] - t["loss fwd+bwd"],
      "train()'s loop − one step per call (host work, dispatch; < 0: the loop is cheaper)":
          t["train() / step"] - t["step"],
  }


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="the small config")
  parser.add_argument("--seeds", type=int, default=4)
  parser.add_argument("--repeats", type=int, default=20)
  parser.add_argument("--steps", type=int, default=16, help="batches of the train() timing")
  parser.add_argument("--out", default=str(RESULTS))
  args = parser.parse_args(argv)
  name = "small" if args.quick else "big"
  shape = SHAPES[name]
  times = pieces(shape, args.seeds, args.repeats, args.steps)
  shares = attribution(times)
  gemm = _gemm_rate()
  examples_per_s = args.seeds * shape["batch"] / times["train() / step"]
  ceiling = gemm * 1e9 / _flops_per_example(shape)
  print(f"{name}: {shape}, S = {args.seeds}, one device, median of {args.repeats}")
  for piece, seconds in times.items():
    print(f"  {piece:<18} {seconds * 1e3:9.1f} ms")
  print("attribution of train()'s step:")
  for piece, seconds in shares.items():
    print(f"  {piece[:60]:<60} {seconds * 1e3:8.1f} ms  {seconds / times['train() / step']:6.1%}")
  print(f"train(): {examples_per_s:.0f} seed-examples/s; fp32 GEMM {gemm:.0f} GFLOP/s → "
        f"ceiling {ceiling:.0f} examples/s ({examples_per_s / ceiling:.0%} of it)")
  write_json_atomic(Path(args.out), {
      "setting": {"config": name, **shape, "seeds": args.seeds, "repeats": args.repeats,
                  "train_steps": args.steps, "devices": 1},
      "seconds": times, "attribution_seconds": shares,
      "attribution_share": {k: v / times["train() / step"] for k, v in shares.items()},
      "train_examples_per_s": examples_per_s, "gemm_gflops": gemm,
      "flops_per_example": _flops_per_example(shape), "ceiling_examples_per_s": ceiling,
      "machine": {"processor": platform.processor() or platform.machine(),
                  "cpu": cpu_model(), "jax": jax.__version__,
                  "backend": jax.default_backend()}})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
