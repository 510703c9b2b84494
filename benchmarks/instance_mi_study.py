"""Why instance-level MI under-locates the planted tokens, and which settings fix it.

    nice -n 10 python benchmarks/instance_mi_study.py [--out FILE] [--examples 100] [--seeds 3]
    nice -n 10 python benchmarks/instance_mi_study.py --smoke      # a check of the code (~8 min)

The planted task: `load_splits("planted", ...)` with seed 0,
train[:4000] (dev[:500] selects the best epoch), T 40, V 1,000; `AttentionClassifier`
with E = H = 32 (the other fields at their defaults: additive attention, softmax),
`TrainConfig(model, epochs=3)` (batch 64, learning rate 1e-3); encoders "embedding"
and "bilstm", training seeds 0 … S−1 trained together. Every ranking is scored by
`analysis.precision_at_k` against the planted tokens of test[:100] (k = the example's
planted count, 2; chance ≈ 0.07).

What is measured (each row: precision@k per training seed and their mean, and the
run time per explained example and model, the compile time apart):
  * baselines: attention, gradient, leave-one-out (`explain.explain`);
  * instance MI through the library (`explain.instance_position_mi` with an
    `InstanceMI`), one factor at a time from `START` (K 128, Gaussian σ 1): K, σ, perturbation,
    output, projection, estimator; then combinations;
  * settings the library has no option for, computed here with the library's own
    perturbations (`attnjax.explain.instance._perturb_one`, same keys; checked equal
    to the library for output="probs"): the output as the logit margin
    z_ŷ − z_other, as the logits, as a rank-Gaussianised p(ŷ); the projection onto
    the one readout direction w_1 − w_0 (two classes);
  * diagnostics: the trained embeddings' std per dimension (σ's units); what each
    perturbation does to the model (label flips, attention mass on the planted
    tokens, saturation p(ŷ) > 1 − 1e-6 in float32); the small-σ population value of
    I(P h_t ; margin) (linearised, from Jacobians: no estimator, no K); where the
    top-k picks fall (planted / within 2 positions / farther); and the same dropout
    copies scored on the input side, I(d_t ; output) with d_t = "token t dropped"
    (Ross's mixed k-NN with the output as the continuous variable).
Writes strict JSON (default benchmarks/results/instance_mi_study.json).
"""

from __future__ import annotations

import argparse
import functools
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import analysis, explain, mi
from attnjax.analysis.position_mi import PROJECTIONS, project_hidden
from attnjax.data.load import load_splits
from attnjax.explain import instance as instance_lib
from attnjax.explain.instance import InstanceMI
from attnjax.io import write_json_atomic
from attnjax.mi import inputs
from attnjax.models import AttentionClassifier
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import map_seeds, select_seed, split_over_seeds
from attnjax.training import TrainConfig, train

ENCODERS = ("embedding", "bilstm")
START = {"num_samples": 128, "perturbation": "gaussian", "scale": 1.0, "rate": 0.15}
"""The setting every row varies from (K 128, Gaussian σ 1; the other `InstanceMI` fields at
their defaults). The committed results label it "defaults": it was the library's then."""


def study_settings(**fields) -> InstanceMI:
  """`InstanceMI` at `START` with `fields` replaced."""
  return InstanceMI(**{**START, **fields})
BASELINES = ("attention", "gradient", "leave_one_out")
EARLIER_MEASUREMENT = {"embedding": {"attention": 0.33, "gradient": 0.33, "leave_one_out": 0.30,
                                   "instance_mi": 0.14},
                       "bilstm": {"attention": 0.62, "gradient": 0.42, "leave_one_out": 0.85,
                                  "instance_mi": 0.50}}
"""The table this study set out to explain (seed 0, the library's defaults)."""
CUSTOM_OUTPUTS = ("margin", "logits", "confidence_rank")
CONTINUOUS_Y_METHODS = tuple(m for m in mi.METHODS if m not in ("mixed_ksg", "probe",
                                                                 "crossfit_probe"))


# --------------------------------------------------------------------------- setup

def planted_splits(examples: int):
  splits = ("train[:4000]", "dev[:500]", f"test[:{examples}]")
  data = load_splits("planted", splits, max_len=40, vocab_size=1000, seed=0)
  return tuple(data[s] for s in splits)


def train_models(encoder: str, seeds, train_data, dev_data, **config):
  model = AttentionClassifier(vocab_size=1000, num_classes=2, embed_dim=32, hidden_dim=32,
                              encoder=encoder, **config.pop("model", {}))
  start = time.time()
  result = train(TrainConfig(model=model, epochs=3, **config), tuple(seeds), train_data,
                 dev_data, progress=False)
  return model, result.params, {"seconds": time.time() - start,
                                "dev_accuracy": result.history["eval_accuracy"][:, -1]}


def real_mask(data):
  return np.asarray(sequence_mask(jnp.asarray(data.lengths), data.tokens.shape[1]))


def precision(scores, data):
  """precision@k per seed: [S] (k = the planted count of each example)."""
  values = analysis.precision_at_k(scores, data.importance[None], real_mask(data)[None])
  return np.nanmean(np.asarray(values), -1)


def neighbourhood(scores, data):
  """Where the top-k picks (k = planted count) fall: planted, within 2 positions, farther."""
  mask, planted = real_mask(data), data.importance
  positions = np.arange(planted.shape[1])
  gap = np.abs(positions[:, None] - positions[None, :])                       # [T, T]
  distance = np.where(planted[:, None, :], gap[None], 10**6).min(-1)           # [B, T]
  ranked = np.where(mask[None], np.asarray(scores), -np.inf)
  order = np.argsort(-ranked, -1, kind="stable")
  k = planted.sum(-1)
  top = np.arange(planted.shape[1])[None, None, :] < k[None, :, None]           # [1, B, T]
  picked = np.take_along_axis(np.broadcast_to(distance, ranked.shape), order, -1)
  count = top.sum((-1, -2)).astype(float)
  share = lambda where: ((where & top).sum((-1, -2)) / count).tolist()
  return {"planted": share(picked == 0), "within_2": share((picked >= 1) & (picked <= 2)),
          "farther": share(picked > 2)}


def row(group, label, encoder, scores, data, seconds, compile_seconds=None, **extra):
  per_seed = precision(scores, data)
  n_models = np.asarray(scores).shape[0] * np.asarray(scores).shape[1]
  out = {"group": group, "setting": label, "encoder": encoder,
         "precision_per_seed": per_seed.tolist(), "precision_mean": float(per_seed.mean()),
         "examples": int(np.asarray(scores).shape[1]), "seeds": int(np.asarray(scores).shape[0]),
         "seconds_run": seconds, "seconds_compile": compile_seconds,
         "ms_per_example": 1000 * seconds / n_models, **extra}
  if encoder == "bilstm":
    out["top_k_picks"] = neighbourhood(scores, data)
  print(f"  {encoder:9s} {group:12s} {label:48s} {out['precision_mean']:.3f} "
        f"{np.round(per_seed, 3).tolist()}  {out['ms_per_example']:.1f} ms/ex", flush=True)
  return out


def timed(fn, args):
  """(result, run seconds, compile seconds) of a jitted function, compiled ahead of the call."""
  start = time.time()
  fn.lower(*args).compile()
  compile_seconds = time.time() - start
  start = time.time()
  result = jax.block_until_ready(fn(*args))
  return result, time.time() - start, compile_seconds


# ------------------------------------------------------------------ instance MI runs

def library_instance_mi(model, params, data, key, settings: InstanceMI):
  """`explain.instance_position_mi` (compiled first through its cached jitted function, so
  that run and compile time are apart)."""
  args = (params, split_over_seeds(key, params, model), jnp.asarray(data.tokens),
          jnp.asarray(data.lengths))
  fn = instance_lib._instance_fn(model, settings, ())
  start = time.time()
  fn.lower(*args).compile()
  compile_seconds = time.time() - start
  start = time.time()
  scores = jax.block_until_ready(explain.instance_position_mi(
      model, params, data.tokens, data.lengths, key=key, settings=settings))
  return scores, time.time() - start, compile_seconds


def output_variable(logits_KxC, output: str):
  """The library's outputs, and those it has no option for (CUSTOM_OUTPUTS)."""
  if output in instance_lib.OUTPUTS:
    return instance_lib._output_variable(logits_KxC, output)
  top = jnp.argmax(logits_KxC[0])
  if output == "logits":
    return logits_KxC
  if output == "margin":  # z_ŷ − max_{c ≠ ŷ} z_c, ŷ the clean copy's class; never saturates
    others = jnp.where(jnp.arange(logits_KxC.shape[-1]) == top, -jnp.inf, logits_KxC)
    return (logits_KxC[:, top] - others.max(-1))[:, None]
  if output == "confidence_rank":  # normal scores of p(ŷ)'s ranks: the same for margin, log p
    return inputs.rank_gauss(instance_lib._output_variable(logits_KxC, "confidence"),
                             jnp.ones(logits_KxC.shape[0], bool))
  raise ValueError(output)


def _over_examples(model, one_example, batch_size: int):
  """jit of `map_seeds` over stacked params of `lax.map` over examples, as the library's
  `_instance_fn` runs them: one key per example, split from the seed's key.

  `one_example(params, (tokens_T, length, *extra_T, key))` scores one example; the
  compiled function takes (params, keys [S], tokens [B, T], lengths [B], *extra [B, ...]).
  """
  def one_model(params, key, tokens, lengths, *extra):
    keys = jax.random.split(key, tokens.shape[0])
    return jax.lax.map(lambda args: one_example(params, args), (tokens, lengths, *extra, keys),
                       batch_size=batch_size)

  return jax.jit(lambda params, keys, tokens, lengths, *extra: map_seeds(
      lambda p, k: one_model(p, k, tokens, lengths, *extra), params, model=model,
      per_seed=(keys,)))


def _real(length, max_length: int):
  """<bool>[T]: the real positions of one example (a row of `sequence_mask`)."""
  return jnp.arange(max_length) < length


@functools.lru_cache(maxsize=None)
def _custom_fn(model, settings: InstanceMI, output: str, projection: str):
  """`attnjax.explain.instance._instance_fn` with any `output_variable` and, besides
  `PROJECTIONS`, projection "readout_diff": h_t · (w_1 − w_0), the one direction a
  two-class readout uses. Same perturbations, keys, estimator calls."""
  method = settings.estimator

  def one_example(params, args):
    tokens_T, length, example_key = args
    mask_T = _real(length, tokens_T.shape[0])
    perturb_key, mi_key = jax.random.split(example_key)
    logits, hidden = instance_lib._perturb_one(model, params, tokens_T, length, perturb_key,
                                               settings)
    if projection == "readout_diff":
      kernel = params["params"]["output_layer"]["kernel"]
      hidden = hidden @ (kernel[:, 1] - kernel[:, 0])[:, None]
    else:
      hidden = project_hidden(hidden, params, projection, settings.components)
    values = mi.per_position(hidden, output_variable(logits, output), method=method,
                             mask=jnp.broadcast_to(mask_T, hidden.shape[:2]), key=mi_key)
    return jnp.where(mask_T, values, 0.0)

  return _over_examples(model, one_example, settings.batch_size)


def custom_instance_mi(model, params, data, key, settings: InstanceMI, output: str,
                       projection: str | None = None):
  fn = _custom_fn(model, settings, output, projection or settings.projection)
  return timed(fn, (params, split_over_seeds(key, params, model), jnp.asarray(data.tokens),
                    jnp.asarray(data.lengths)))


@functools.lru_cache(maxsize=None)
def _input_side_fn(model, settings: InstanceMI):
  """The dropout copies of `_perturb_one` (same key use), scored on the input side:
  I(d_t ; output) per position, d_t = 1 where token t was replaced by <unk>."""
  def one_example(params, args):
    tokens_T, length, example_key = args
    mask_T = _real(length, tokens_T.shape[0])
    perturb_key, mi_key = jax.random.split(example_key)
    copies = settings.num_samples
    tokens_KxT = jnp.broadcast_to(tokens_T, (copies,) + tokens_T.shape)
    lengths_K = jnp.full((copies,), length)
    drop = jax.random.bernoulli(perturb_key, settings.rate, tokens_KxT.shape)
    drop = (drop & sequence_mask(lengths_K, tokens_T.shape[0])).at[0].set(False)
    logits, _ = model.apply(params, jnp.where(drop, model.unk_id, tokens_KxT), lengths_K)
    y = output_variable(logits, settings.output).astype(jnp.float32).reshape(copies, -1)
    position_keys = jax.random.split(mi_key, tokens_T.shape[0])
    estimate = lambda d, k: mi.estimate(y, d.astype(jnp.int32), method="mixed_ksg",
                                        key=k).value
    return jnp.where(mask_T, jax.vmap(estimate, in_axes=(1, 0))(drop, position_keys), 0.0)

  return _over_examples(model, one_example, settings.batch_size)


def input_side_mi(model, params, data, key, settings: InstanceMI):
  fn = _input_side_fn(model, settings)
  return timed(fn, (params, split_over_seeds(key, params, model), jnp.asarray(data.tokens),
                    jnp.asarray(data.lengths)))


# --------------------------------------------------------------------- diagnostics

def embedding_spread(model, params, data):
  table = np.asarray(params["params"]["embedding"]["embedding"])       # [S, V, E]
  used = np.unique(data.tokens[data.tokens > 1])
  signal = np.unique(data.tokens[data.importance])
  std = lambda rows: table[:, rows].std(1).mean(-1).tolist()            # per dim, averaged
  return {"init_std": model.embedding_std,
          "std_per_dim_all_rows": std(np.arange(2, table.shape[1])),
          "std_per_dim_test_tokens": std(used), "std_per_dim_signal_tokens": std(signal),
          "row_norm_signal_tokens": np.linalg.norm(table[:, signal], axis=-1).mean(-1).tolist(),
          "row_norm_expected_at_init": float(model.embedding_std * np.sqrt(table.shape[-1])),
          "noise_units_in_code": "absolute: ε·scale, not ε·scale·embedding_std "
                                 "(the same here, embedding_std = 1)"}


@functools.lru_cache(maxsize=None)
def _effects_fn(model, settings: InstanceMI):
  """Per example: share of copies whose label differs from the clean one, attention mass on
  the planted tokens (clean, and mean over copies), share of copies with p(ŷ) > 1 − 1e-6
  and = 1 in float32, mean |margin| of the copies."""
  def one_example(params, args):
    tokens_T, length, planted_T, k = args
    copies = settings.num_samples
    tokens_KxT = jnp.broadcast_to(tokens_T, (copies,) + tokens_T.shape)
    lengths_K = jnp.full((copies,), length)
    mask_KxT = sequence_mask(lengths_K, tokens_T.shape[0])
    if settings.perturbation == "gaussian":
      embedded = model.apply(params, tokens_KxT, method=model.embed)
      noise = jax.random.normal(k, embedded.shape) * settings.scale
      logits, aux = model.apply(params, tokens_KxT, lengths_K,
                                embedded=embedded + noise * mask_KxT[..., None])
    else:
      drop = (jax.random.bernoulli(k, settings.rate, tokens_KxT.shape) & mask_KxT).at[0].set(False)
      logits, aux = model.apply(params, jnp.where(drop, model.unk_id, tokens_KxT), lengths_K)
    clean_logits, clean_aux = model.apply(params, tokens_T[None], length[None])
    top = jnp.argmax(clean_logits[0])
    p_top = jax.nn.softmax(logits, -1)[:, top]
    mass = (aux.attention * planted_T[None]).sum(-1)
    return jnp.stack([jnp.mean(jnp.argmax(logits, -1) != top),
                      (clean_aux.attention[0] * planted_T).sum(), mass.mean(),
                      jnp.mean(p_top > 1 - 1e-6), jnp.mean(p_top == 1.0),
                      jnp.mean(jnp.abs(logits[:, top] - logits[:, 1 - top]))])

  return _over_examples(model, one_example, 8)


def perturbation_effects(model, params, data, key, settings: InstanceMI):
  values = np.asarray(_effects_fn(model, settings)(
      params, split_over_seeds(key, params, model), jnp.asarray(data.tokens),
      jnp.asarray(data.lengths), jnp.asarray(data.importance, jnp.float32)))
  names = ("label_flip_rate", "attention_on_planted_clean", "attention_on_planted_copies",
           "share_p_top_above_1_minus_1e-6", "share_p_top_equal_1", "mean_abs_margin")
  return {name: values[..., i].mean(-1).tolist() for i, name in enumerate(names)}


def linearised_population_mi(model, params, data, diff: bool = False):
  """Small-σ limit of I(P h_t ; margin) under Gaussian input noise, per seed: with
  y ≈ g·ε and P h_t ≈ A_t ε, −½ log(1 − ρ_t²), ρ_t² = gᵀA_tᵀ(A_tA_tᵀ)⁻¹A_t g / gᵀg
  (exact for Gaussians; no estimator, no K). P: the readout W (or w_1 − w_0)."""
  def one_model(p):
    kernel = p["params"]["output_layer"]["kernel"]
    project = (kernel[:, 1] - kernel[:, 0])[:, None] if diff else kernel

    def one(tokens_T, length):
      real = jnp.arange(tokens_T.shape[0]) < length
      clean = model.apply(p, tokens_T[None], method=model.embed)[0]

      def forward(e):
        logits, aux = model.apply(p, tokens_T[None], length[None], embedded=e[None])
        return logits[0], aux.hidden[0] @ project

      top = jnp.argmax(forward(clean)[0])
      margin = lambda e: forward(e)[0][top] - forward(e)[0][1 - top]
      g = (jax.grad(margin)(clean) * real[:, None]).reshape(-1)
      jac = jax.jacrev(lambda e: forward(e)[1])(clean) * real[None, None, :, None]
      a = jac.reshape(tokens_T.shape[0], project.shape[1], -1)              # [T, C, T·E]
      ag = a @ g
      gram = a @ jnp.swapaxes(a, 1, 2) + 1e-9 * jnp.eye(project.shape[1])
      rho2 = jnp.einsum("tc,tcd,td->t", ag, jnp.linalg.inv(gram), ag) / (g @ g)
      return jnp.where(real, -0.5 * jnp.log1p(-jnp.clip(rho2, 0, 1 - 1e-7)), 0.0)

    return jax.lax.map(lambda a: one(*a), (jnp.asarray(data.tokens), jnp.asarray(data.lengths)),
                       batch_size=10)

  fn = jax.jit(lambda p: map_seeds(one_model, p, model=model))
  return timed(fn, (params,))


# --------------------------------------------------------------------------- study

def grid(smoke: bool):
  """(group, label, kind, InstanceMI fields, extra) of the one-factor-at-a-time rows."""
  rows = [("defaults", "start (K 128, gaussian σ 1, probs, readout, ksg)", "library", {}, {})]
  for k in ((64, 256) if smoke else (64, 256, 512)):
    rows.append(("K", f"K {k}", "library", {"num_samples": k}, {}))
  for scale in (0.1, 0.3, 3.0):
    rows.append(("scale", f"σ {scale:g}", "library", {"scale": scale}, {}))
  for rate in (0.1, 0.15, 0.3):
    rows.append(("perturbation", f"dropout {rate:g}", "library",
                 {"perturbation": "dropout", "rate": rate}, {}))
  for output in ("confidence", "label"):
    rows.append(("output", f"output {output}" + (" (mixed_ksg)" if output == "label" else ""),
                 "library", {"output": output}, {}))
  for output in CUSTOM_OUTPUTS:
    rows.append(("output", f"output {output} [script]", "custom", {}, {"output": output}))
  for projection in PROJECTIONS[1:]:
    rows.append(("projection", f"projection {projection}", "library",
                 {"projection": projection}, {}))
  rows.append(("projection", "projection readout_diff [script]", "custom", {},
               {"output": "probs", "projection": "readout_diff"}))
  rows.append(("method", "method binning", "library", {"method": "binning"}, {}))
  return rows


COMBINATIONS = {
    "embedding": [
        ("σ 0.3, K 512", "library", {"scale": 0.3, "num_samples": 512}, {}),
        ("σ 0.3, K 512, output margin [script]", "custom", {"scale": 0.3, "num_samples": 512},
         {"output": "margin"}),
        ("σ 0.3, K 512, output logits [script]", "custom", {"scale": 0.3, "num_samples": 512},
         {"output": "logits"}),
        ("σ 0.1, K 512", "library", {"scale": 0.1, "num_samples": 512}, {}),
        ("σ 0.3, K 256", "library", {"scale": 0.3, "num_samples": 256}, {}),
        ("dropout 0.3, K 512", "library",
         {"perturbation": "dropout", "rate": 0.3, "num_samples": 512}, {}),
        ("σ 1, K 512, output margin [script]", "custom", {"num_samples": 512},
         {"output": "margin"}),
    ],
    "bilstm": [
        ("dropout 0.3, K 512", "library",
         {"perturbation": "dropout", "rate": 0.3, "num_samples": 512}, {}),
        ("dropout 0.3, K 256", "library",
         {"perturbation": "dropout", "rate": 0.3, "num_samples": 256}, {}),
        ("σ 1, K 512, output margin [script]", "custom", {"num_samples": 512},
         {"output": "margin"}),
        ("σ 0.3, K 512", "library", {"scale": 0.3, "num_samples": 512}, {}),
        ("σ 1, K 512", "library", {"num_samples": 512}, {}),
        ("input side I(d_t; probs), dropout 0.3, K 256 [script]", "input_side",
         {"perturbation": "dropout", "rate": 0.3, "num_samples": 256, "output": "probs"}, {}),
    ],
}


def run_setting(kind, model, params, data, key, fields, extra):
  settings = study_settings(**fields)
  if kind == "library":
    return library_instance_mi(model, params, data, key, settings)
  if kind == "custom":
    return custom_instance_mi(model, params, data, key, settings, extra["output"],
                              extra.get("projection"))
  return input_side_mi(model, params, data, key, settings)


def study_encoder(encoder, args, train_data, dev_data, test):
  seeds = tuple(range(args.seeds))
  key = jax.random.key(0)
  print(f"[{encoder}] training seeds {seeds}", flush=True)
  model, params, training = train_models(encoder, seeds, train_data, dev_data)
  two = jax.tree.map(lambda x: x[:2], params)            # the one-factor grid: seeds 0 and 1
  out = {"training": training, "embedding_spread": embedding_spread(model, params, test),
         "rows": [], "perturbation_effects": {}}
  rows = out["rows"]

  for method in BASELINES:
    explain.explain(model, params, test.tokens, test.lengths, method=method)   # compile
    start = time.time()
    scores = jax.block_until_ready(explain.explain(model, params, test.tokens, test.lengths,
                                                   method=method))
    rows.append(row("baseline", method, encoder, scores, test, time.time() - start))

  # The custom path equals the library (same perturbations and keys) for output="probs".
  small = test.take(np.arange(min(8, len(test.lengths))))
  library = explain.instance_position_mi(model, two, small.tokens, small.lengths, key=key,
                                         settings=study_settings())
  ours = custom_instance_mi(model, two, small, key, study_settings(), "probs")[0]
  out["custom_path_equals_library"] = bool(jnp.array_equal(library, ours))

  for group, label, kind, fields, extra in grid(args.smoke):
    if encoder == "bilstm" and fields.get("projection") == "pca" and not args.smoke:
      data = test.take(np.arange(min(40, len(test.lengths))))   # SVDs: ~1 s per example
    else:
      data = test
    scores, seconds, compile_seconds = run_setting(kind, model, two, data, key, fields, extra)
    rows.append(row(group, label, encoder, scores, data, seconds, compile_seconds,
                    fields={**fields, **extra}))

  for group, kind, fields, extra in (
      ("input_side", "input_side", {"perturbation": "dropout", "rate": 0.15}, {}),
      ("input_side", "input_side", {"perturbation": "dropout", "rate": 0.3}, {})):
    scores, seconds, compile_seconds = run_setting(kind, model, two, test, key, fields, extra)
    rows.append(row(group, f"input side I(d_t; probs), dropout {fields['rate']:g} [script]",
                    encoder, scores, test, seconds, compile_seconds, fields=fields))

  # Estimators that take a continuous y, other than ksg and binning (trained critics): a few
  # examples of seed 0, 200 critic steps (the default 1,000 is 5× slower).
  if encoder == "embedding":
    few = test.take(np.arange(4 if args.smoke else 8))
    one = select_seed(params, 0)
    for method in CONTINUOUS_Y_METHODS:
      if method in ("ksg", "binning"):
        continue
      settings = study_settings(method=method)
      args_ = (one, key, jnp.asarray(few.tokens), jnp.asarray(few.lengths))
      fn = instance_lib._instance_fn(model, settings, (("steps", 200),))
      scores, seconds, compile_seconds = timed(fn, args_)
      mask = real_mask(few)
      rows.append(row("method", f"method {method} (200 steps, seed 0, {len(few.lengths)} ex.)",
                      encoder, scores[None], few, seconds, compile_seconds,
                      fields={"method": method, "steps": 200},
                      share_exactly_zero=float((np.asarray(scores) == 0)[mask].mean())))

  for label, fields in (("σ 0.1", {"scale": 0.1}), ("σ 0.3", {"scale": 0.3}),
                        ("σ 1", {"scale": 1.0}), ("σ 3", {"scale": 3.0}),
                        ("dropout 0.1", {"perturbation": "dropout", "rate": 0.1}),
                        ("dropout 0.15", {"perturbation": "dropout", "rate": 0.15}),
                        ("dropout 0.3", {"perturbation": "dropout", "rate": 0.3})):
    out["perturbation_effects"][label] = perturbation_effects(model, params, test, key,
                                                              study_settings(**fields))
    print(f"  {encoder:9s} effects {label:12s} "
          f"{ {k: np.round(v, 4).tolist() for k, v in out['perturbation_effects'][label].items()} }",
          flush=True)

  for diff in (False, True):
    scores, seconds, compile_seconds = linearised_population_mi(model, params, test, diff)
    rows.append(row("population", "small-σ population I(P h_t; margin), P = "
                    + ("w_1 − w_0" if diff else "readout W") + " [script, no estimator]",
                    encoder, scores, test, seconds, compile_seconds))

  # The final comparison: every training seed.
  for group, label, kind, fields, extra in (
      [("final", "defaults (K 128, gaussian σ 1, probs)", "library", {}, {})]
      + [("final", *c) for c in COMBINATIONS[encoder]]):
    if args.smoke:
      fields = {**fields, "num_samples": min(fields.get("num_samples", 128), 128)}
    scores, seconds, compile_seconds = run_setting(kind, model, params, test, key, fields, extra)
    rows.append(row(group, label, encoder, scores, test, seconds, compile_seconds,
                    fields={**fields, **extra}))
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default="benchmarks/results/instance_mi_study.json")
  parser.add_argument("--examples", type=int, default=100)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--smoke", action="store_true", help="12 examples, 2 seeds, smaller K")
  args = parser.parse_args()
  if args.smoke:
    args.examples, args.seeds = 12, 2
    if args.out == parser.get_default("out"):
      args.out = "/tmp/instance_mi_study_smoke.json"
  start = time.time()
  train_data, dev_data, test = planted_splits(args.examples)
  result = {"description": __doc__, "earlier_measurement": EARLIER_MEASUREMENT,
            "setting": {"data": "planted seed 0, train[:4000], dev[:500], "
                                f"test[:{args.examples}], T 40, V 1000",
                        "model": "AttentionClassifier E = H = 32 (attention_dim 128), additive, "
                                 "softmax", "training": "TrainConfig(model, epochs=3)",
                        "seeds": args.seeds, "one_factor_grid_seeds": 2,
                        "chance": float(np.mean(test.importance.sum(-1) / test.lengths))},
            "machine": {"backend": jax.default_backend(), "processor": platform.processor(),
                        "jax": jax.__version__},
            "encoders": {}}
  for encoder in ENCODERS:
    result["encoders"][encoder] = study_encoder(encoder, args, train_data, dev_data, test)
    result["seconds_total"] = time.time() - start
    write_json_atomic(Path(args.out), result)
  print(f"wrote {args.out} in {time.time() - start:.0f} s")


if __name__ == "__main__":
  main()
