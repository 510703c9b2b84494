"""The seed axis: the parameters of S models trained together, stacked on axis 0.

`attnjax.training.train` returns parameters whose every leaf carries a leading
seed axis S (`SEED_AXIS`); `model.apply` takes one model's parameters. Every
function of the library that takes parameters (`collect`, the explainers,
`explain.ablate`, `explain.instance_position_mi`) takes either, and returns
results with a leading S axis for stacked ones. This module is where that axis
is decided and mapped over:

    S = num_seeds(params, model)             # int for stacked params, None for one model's
    one = select_seed(params, 0)             # seed 0's parameters, for model.apply
    logits = map_seeds(lambda p: model.apply(p, tokens, lengths)[0], params,
                       model=model)          # [S, B, C] (or [B, C] for one model's)

`num_seeds` with the model compares every leaf with the model's own parameter
shapes (`check_params`, which raises on parameters that fit neither way);
without it, it reads the one leaf every classifier has, the embedding table
([V, E] for one model, [S, V, E] stacked).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from attnjax.models.classifier import AttentionClassifier, check_params

SEED_AXIS = 0
"""The axis of stacked parameters' leaves (and of every per-seed result) that indexes seeds."""


def num_seeds(params, model: AttentionClassifier | None = None) -> int | None:
  """S for parameters stacked on the seed axis, None for one model's parameters.

  Args:
    params: `{"params": {...}}`, unstacked or with a leading axis S on every leaf.
    model: the classifier they belong to (recommended): every leaf is then
      checked against its parameter shapes. None: decided by the embedding
      table's rank alone (for code that holds no model).

  Raises:
    ValueError: with `model`, parameters that fit it neither unstacked nor stacked.
    KeyError, TypeError: without `model`, parameters with no embedding table.
  """
  if model is not None:
    return check_params(model, params)
  table = params["params"]["embedding"]["embedding"]
  return int(jnp.shape(table)[SEED_AXIS]) if jnp.ndim(table) == 3 else None


def is_stacked(params, model: AttentionClassifier | None = None) -> bool:
  """Whether `params` carry the seed axis (see `num_seeds`)."""
  return num_seeds(params, model) is not None


def stack_seeds(params, model: AttentionClassifier | None = None):
  """Stacked parameters as they are; one model's parameters with a seed axis of size 1."""
  if is_stacked(params, model):
    return params
  return jax.tree.map(lambda x: x[None], params)  # SEED_AXIS = 0


def select_seed(params, index: int):
  """The parameters of the seed at `index` of stacked parameters (one model's, for `model.apply`)."""
  return jax.tree.map(lambda x: x[index], params)


def split_over_seeds(key, params, model: AttentionClassifier | None = None):
  """`key` itself for one model's parameters; `jax.random.split(key, S)` for stacked ones.

  The per-seed keys `map_seeds(..., per_seed=(keys,))` hands to each seed.
  """
  seeds = num_seeds(params, model)
  return key if seeds is None else jax.random.split(key, seeds)


def map_seeds(fn, params, *args, model: AttentionClassifier | None = None, per_seed=()):
  """`fn(params, *per_seed, *args)`, mapped over the seed axis when `params` are stacked.

  Args:
    fn: a function of one model's parameters (then `per_seed`, then `args`).
    params: one model's parameters, or stacked [S, ...] ones.
    *args: shared by every seed.
    model: the classifier, to decide the seed axis by its shapes (see `num_seeds`).
    per_seed: values with a leading seed axis S, mapped together with the
      parameters (e.g. the keys of `split_over_seeds`); for one model's
      parameters they are passed as they are.

  Returns:
    `fn`'s result, with a leading seed axis S when `params` are stacked
    (`jax.vmap`; it works the same under `jit`).
  """
  if num_seeds(params, model) is None:
    return fn(params, *per_seed, *args)
  return jax.vmap(lambda p, *mapped: fn(p, *mapped, *args))(params, *per_seed)
