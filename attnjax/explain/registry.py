"""The explainer registry `METHODS`, its entry point `explain`, and `attention` itself."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping

import jax
import numpy as np

from attnjax.data import buckets as buckets_lib
from attnjax.explain.gradients import gradient, input_x_gradient, integrated_gradients
from attnjax.explain.instance import instance_mi
from attnjax.explain.occlusion import leave_one_out
from attnjax.explain.inputs_and_target import check_inputs, mask_padding
from attnjax.models.seeds import map_seeds


def attention(model, params, tokens, lengths, *, target=None):
  """The model's own attention weights, under the explainers' signature.

  Args:
    model: the `AttentionClassifier`.
    params: its parameters; stacked on a leading seed axis S gives [S, B, T].
    tokens: <int32>[B, T] token ids.
    lengths: <int32>[B] real lengths.
    target: checked like the other explainers' but otherwise unused: the
      weights do not depend on the class explained.

  Returns:
    <float32>[B, T] (or [S, B, T]) weights (`aux.attention`), exactly 0 on
    padding, rows summing to 1.

  References:
    Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly
    Learning to Align and Translate", ICLR.
  """
  tokens, lengths, _ = check_inputs(model, params, tokens, lengths, target)
  return _attention(model, params, tokens, lengths)


@functools.partial(jax.jit, static_argnames=("model",))
def _attention(model, params, tokens, lengths):
  def one_seed(p):
    return mask_padding(model.apply(p, tokens, lengths)[1].attention, lengths)
  return map_seeds(one_seed, params, model=model)


class UnknownMethodError(KeyError, ValueError):
  """An explainer name not in `METHODS` (both a `KeyError` and a `ValueError`)."""

  def __str__(self):
    return str(self.args[0])


class _Registry(Mapping):
  """A read-only name → function mapping whose unknown names list the allowed ones."""

  def __init__(self, methods):
    self._methods = dict(methods)

  def __getitem__(self, name):
    if name not in self._methods:
      raise UnknownMethodError(f"unknown explanation method {name!r}; allowed: "
                               f"{', '.join(sorted(self._methods))}")
    return self._methods[name]

  def __iter__(self):
    return iter(self._methods)

  def __len__(self):
    return len(self._methods)

  def __repr__(self):
    return f"METHODS({', '.join(self._methods)})"


METHODS = _Registry({
    "attention": attention,
    "gradient": gradient,
    "input_x_gradient": input_x_gradient,
    "integrated_gradients": integrated_gradients,
    "leave_one_out": leave_one_out,
    "instance_mi": instance_mi,
})
"""Explainer name → function `(model, params, tokens, lengths, *, target=None, **options)`
returning <float32>[B, T] scores (or [S, B, T] for stacked params), 0 on padding."""


def explain(model, params, tokens, lengths, *, method: str, target=None, **options):
  """Importance scores of the explainer `method` (a name in `METHODS`).

  Returns:
    `METHODS[method](model, params, tokens, lengths, target=target, **options)`.

  Raises:
    ValueError: an unknown method (the message lists the allowed ones) or
      options the method does not take, or any of the method's own errors.
  """
  fn = METHODS[method]
  accepted = {p.name for p in inspect.signature(fn).parameters.values()
              if p.kind is inspect.Parameter.KEYWORD_ONLY} - {"target"}
  unknown = sorted(set(options) - accepted)
  if unknown:
    raise ValueError(f"unknown option(s) {unknown} for method {method!r}; accepted: "
                     f"{sorted(accepted)}")
  return fn(model, params, tokens, lengths, target=target, **options)


def explain_in_buckets(model, params, tokens, lengths, *, method: str, target=None,
                       batch_size: int = 64, buckets="auto", **options):
  """`explain` over many examples, in length-sorted chunks each run at its bucket's length.

  Examples are sorted by length, cut into chunks of `batch_size`, and each
  chunk is explained on `tokens[:, :L]`, L the smallest bucket holding it
  (`attnjax.data.buckets`); scores are put back in order and padded to T with
  0 (what every explainer returns on padding). A long dataset then costs its
  real lengths rather than B·T (leave-one-out: B·T² → Σ L²), and each chunk
  shape compiles once. For the deterministic explainers the result equals
  `explain` on all examples at once to float round-off; a method taking a
  `key` draws its noise per chunk, so it differs (same distribution).

  Args:
    model, params, tokens, lengths, method, target, **options: as `explain`.
    batch_size: examples per chunk, ≥ 1.
    buckets: a bucket specification; None runs every chunk at T (data order
      is still sorted by length).

  Returns:
    <float32>[B, T] (or [S, B, T] for stacked params), as `explain`.
  """
  if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
    raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
  tokens, lengths, target = check_inputs(model, params, tokens, lengths, target)
  tokens, lengths = np.asarray(tokens), np.asarray(lengths)
  target = None if target is None else np.asarray(target)
  num, max_length = tokens.shape
  bucket_lens = buckets_lib.bucket_lengths(buckets, lengths, max_length, batch_size)
  out = None
  for indices, length in buckets_lib.length_chunks(lengths, bucket_lens, batch_size):
    scores = np.asarray(explain(model, params, tokens[indices, :length], lengths[indices],
                                method=method,
                                target=None if target is None else target[indices], **options))
    if out is None:
      out = np.zeros(scores.shape[:-2] + (num, max_length), np.float32)
    out[..., indices, :length] = scores
  return out
