"""The BiLSTM recurrence as the library runs it vs with its input projection hoisted out.

`attnjax.models.encoders.lstm_directions` multiplies [x_t, h_{t-1}] by the whole
[E + H, 4H] kernel at every step of its forward scan, and the gate gradients by that
kernel's transpose at every step of its hand-written reverse scan (for dx and dh). The
hoisted variant here does the input half outside the loops: the input projection of all
T steps is one matmul before the forward scan, dx of all T steps one matmul after the
reverse scan, so each step multiplies by the [H, 4H] recurrent kernel only (half the
in-loop FLOPs at E = H). Both are `custom_vjp`s with the same residuals; this script times
forward and forward + backward of both, vmapped over S seeds, in one process, and reports
their largest relative difference (float additions in another order).

  python benchmarks/lstm_variants.py            # T 40 / H 64 and T 128 / H 128, B 64, S 4

Writes benchmarks/results/lstm_variants.json (or --out).
"""

from __future__ import annotations

import argparse
import functools
import platform
from pathlib import Path

import jax
import jax.numpy as jnp

from attnjax.io import write_json_atomic
from attnjax.models.encoders import (_gate_activations, _gate_gradients, _shift_in_zero,
                                     lstm_directions)
from timing import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "lstm_variants.json"
SHAPES = ({"seq_len": 40, "embed": 64, "hidden": 64}, {"seq_len": 128, "embed": 128,
                                                       "hidden": 128})


def _hoisted_forward(xs_TxBxE, kernels_KxG, biases_G, unroll):
  """(hs, cs, acts) as `encoders._lstm_forward`, the input projection done before the scan."""
  _, batch, embed_dim = xs_TxBxE[0].shape
  hidden_size = kernels_KxG[0].shape[-1] // 4
  zeros = tuple(jnp.zeros((batch, hidden_size), x.dtype) for x in xs_TxBxE)
  gates_in = tuple(jnp.einsum("tbe,eg->tbg", x, kernel[:embed_dim]) + bias
                   for x, kernel, bias in zip(xs_TxBxE, kernels_KxG, biases_G))
  recurrent = tuple(kernel[embed_dim:] for kernel in kernels_KxG)

  def step(carry, gates_in_t):
    hs, cs = carry
    new_h, new_c, acts = [], [], []
    for g, h, c, kernel in zip(gates_in_t, hs, cs, recurrent):
      act = _gate_activations(g + h @ kernel)
      i, f, g_, o = jnp.split(act, 4, axis=-1)
      c = f * c + i * g_
      new_h.append(o * jnp.tanh(c))
      new_c.append(c)
      acts.append(act)
    return (tuple(new_h), tuple(new_c)), (tuple(new_h), tuple(new_c), tuple(acts))

  _, (hs, cs, acts) = jax.lax.scan(step, (zeros, zeros), gates_in, unroll=unroll)
  return hs, cs, acts


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def hoisted_directions(xs_TxBxE, kernels_KxG, biases_G, unroll: int = 1):
  """`lstm_directions` with the input projection and dx outside the loops."""
  return _hoisted_forward(xs_TxBxE, kernels_KxG, biases_G, unroll)[0]


def _hoisted_fwd(xs_TxBxE, kernels_KxG, biases_G, unroll):
  hs, cs, acts = _hoisted_forward(xs_TxBxE, kernels_KxG, biases_G, unroll)
  return hs, (xs_TxBxE, kernels_KxG, hs, cs, acts)


def _hoisted_bwd(unroll, residuals, dhs_TxBxH):
  xs, kernels, hs, cs, acts = residuals
  embed_dim = xs[0].shape[-1]
  c_prevs = tuple(_shift_in_zero(c) for c in cs)
  zeros = tuple(jnp.zeros_like(h[0]) for h in hs)
  recurrent_T = tuple(kernel[embed_dim:].T for kernel in kernels)

  def step(carry, inputs):
    dh_recs, dcs = carry
    dh_outs, acts_t, cs_t, c_prevs_t = inputs
    new_dh, new_dc, dgates_all = [], [], []
    for dh_out, dh_rec, dc, act, c, c_prev, kernel_T in zip(dh_outs, dh_recs, dcs, acts_t,
                                                             cs_t, c_prevs_t, recurrent_T):
      dgates, dc_prev = _gate_gradients(dh_out + dh_rec, dc, act, c, c_prev)
      new_dh.append(dgates @ kernel_T)
      new_dc.append(dc_prev)
      dgates_all.append(dgates)
    return (tuple(new_dh), tuple(new_dc)), tuple(dgates_all)

  _, dgates = jax.lax.scan(step, (zeros, zeros), (dhs_TxBxH, acts, cs, c_prevs),
                           reverse=True, unroll=unroll)
  dxs = tuple(jnp.einsum("tbg,eg->tbe", dg, kernel[:embed_dim])
              for dg, kernel in zip(dgates, kernels))
  dkernels = tuple(jnp.einsum("tbk,tbg->kg", jnp.concatenate([x, _shift_in_zero(h)], -1), dg)
                   for x, h, dg in zip(xs, hs, dgates))
  return dxs, dkernels, tuple(dg.sum((0, 1)) for dg in dgates)


hoisted_directions.defvjp(_hoisted_fwd, _hoisted_bwd)


def compare(shape: dict, seeds: int, batch: int, repeats: int) -> dict:
  """Median ms of forward and forward + backward, library vs hoisted, and their difference."""
  t, e, h = shape["seq_len"], shape["embed"], shape["hidden"]
  k = jax.random.split(jax.random.key(0), 5)
  xs = tuple(jax.random.normal(k[d], (seeds, t, batch, e)) for d in range(2))
  kernels = tuple(0.1 * jax.random.normal(k[2 + d], (seeds, e + h, 4 * h)) for d in range(2))
  biases = (jnp.zeros((seeds, 4 * h)),) * 2
  cotangent = jax.random.normal(k[4], (t, batch, h))
  out = {"setting": {**shape, "batch": batch, "seeds": seeds, "repeats": repeats}}
  values = {}
  for name, lstm in (("library", lstm_directions), ("hoisted", hoisted_directions)):
    loss = lambda x, w, b, lstm=lstm: sum(jnp.vdot(s, cotangent) for s in lstm(x, w, b, 1))
    forward = jax.jit(jax.vmap(loss))
    backward = jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1, 2))))
    out[f"{name} fwd ms"] = 1e3 * median_time(lambda: forward(xs, kernels, biases), repeats)
    out[f"{name} fwd+bwd ms"] = 1e3 * median_time(lambda: backward(xs, kernels, biases), repeats)
    values[name] = jax.tree.leaves((forward(xs, kernels, biases),
                                    backward(xs, kernels, biases)))
  out["max relative difference"] = max(
      float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a)))
      for a, b in zip(values["library"], values["hoisted"]))
  for part in ("fwd", "fwd+bwd"):
    out[f"hoisted speed-up {part}"] = out[f"library {part} ms"] / out[f"hoisted {part} ms"]
  return out


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--seeds", type=int, default=4)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--repeats", type=int, default=9)
  parser.add_argument("--out", default=str(RESULTS))
  args = parser.parse_args(argv)
  rows = [compare(shape, args.seeds, args.batch, args.repeats) for shape in SHAPES]
  for row in rows:
    print(row["setting"], ", ".join(f"{k} {v:.3g}" for k, v in row.items() if k != "setting"))
  write_json_atomic(Path(args.out), {"rows": rows, "machine": {
      "processor": platform.processor() or platform.machine(), "jax": jax.__version__,
      "backend": jax.default_backend()}})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
