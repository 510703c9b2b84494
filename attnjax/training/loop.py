"""Training many seeds in one compiled program.

Parameters and optimiser states of S seeds are stacked on a leading seed axis
(`jax.vmap(init)` over one key per seed); one `jax.jit(jax.vmap(...))` call runs
a block of steps for every seed at once (`lax.scan` over the steps). Each seed
keeps its own data order, dropout and Gumbel keys, derived from its seed alone,
so seed s trained in a group equals seed s trained by itself. With length
buckets (`TrainConfig.buckets`) a batch holds examples of similar length; a step's
recurrence runs only as far as its longest example; see `train`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from attnjax.checks import is_int
from attnjax.data import buckets as buckets_lib
from attnjax.data.dataset import TextDataset
from attnjax.models.classifier import init_params
from attnjax.training import epoch_state, sharding
from attnjax.training.collect import evaluate
from attnjax.training.config import TrainConfig


@dataclasses.dataclass
class TrainResult:
  """What `train` returns.

  Attributes:
    params: stacked parameters, every leaf with a leading seed axis S.
    history: per-seed metrics, each <float32>[S, epochs_run]: "train_loss",
      "train_accuracy" and, with eval data, "eval_loss", "eval_accuracy" (and
      "eval_roc_auc" when it selects the best epoch).
    config: the `TrainConfig` used.
    seeds: the S integer seeds.
    best_epoch: <int32>[S] 0-based epoch whose parameters were kept.
  """
  params: Any
  history: dict[str, np.ndarray]
  config: TrainConfig
  seeds: tuple[int, ...]
  best_epoch: np.ndarray

  @property
  def model(self):
    return self.config.model


def _group_labels(params, label_of):
  """A pytree of labels: every leaf of top-level group `name` gets `label_of(name)`."""
  return {"params": {name: jax.tree.map(lambda _: label_of(name), group)
                     for name, group in params["params"].items()}}


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
  """Adam or AMSGrad with optional clipping and weight decay; `config.frozen` groups get no
  updates.

  The chain: global-norm clipping (`grad_clip`), then for `weight_decay_kind="l2"` the decay
  λ·θ added to the gradient, the Adam / AMSGrad scaling, for "decoupled" the decay added to
  the update (AdamW), and the step −learning_rate. Groups in `weight_decay_exclude` are not
  decayed.
  """
  parts = [optax.clip_by_global_norm(config.grad_clip)] if config.grad_clip else []
  decay = []
  if config.weight_decay > 0:
    excluded = set(config.weight_decay_exclude)
    mask = (lambda params: _group_labels(params, lambda name: name not in excluded))
    decay = [optax.add_decayed_weights(config.weight_decay, mask)]
  scale = optax.scale_by_amsgrad() if config.optimizer == "amsgrad" else optax.scale_by_adam()
  if config.weight_decay_kind == "l2":
    parts += decay + [scale]
  else:
    parts += [scale] + decay
  optimizer = optax.chain(*parts, optax.scale(-config.learning_rate))
  if config.frozen:
    frozen = set(config.frozen)
    labels = lambda params: _group_labels(
        params, lambda name: "frozen" if name in frozen else "trained")
    optimizer = optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()},
                                      labels)
  return optimizer


def seed_keys(seeds: Sequence[int]):
  """One typed PRNG key per seed: <key>[S]."""
  return jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))


def _split_seed_key(key):
  init_key, order_key, step_key = jax.random.split(key, 3)
  return init_key, order_key, step_key


def init_state(config: TrainConfig, key):
  """(params, opt_state) of one seed from its seed key."""
  init_key, _, _ = _split_seed_key(key)
  params = init_params(config.model, init_key)
  return params, make_optimizer(config).init(params)


def _loss_fn(config: TrainConfig, params, tokens, lengths, labels, weights, key,
             num_steps=None):
  dropout_key, gumbel_key = jax.random.split(key)
  logits, _ = config.model.apply(params, tokens, lengths, train=True, num_steps=num_steps,
                                 rngs={"dropout": dropout_key, "gumbel": gumbel_key})
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  count = weights.sum()
  loss = (losses * weights).sum() / jnp.maximum(count, 1.0)
  correct = ((jnp.argmax(logits, -1) == labels) * weights).sum()
  return loss, (correct, count)


def _step_fn(config: TrainConfig):
  """One training step of one seed: (params, opt_state), (indices [B], key) → new, sums [3].

  `num_steps` (≥ the batch's longest length) bounds the recurrence
  (`AttentionClassifier.__call__`); the step's numbers do not depend on it.
  """
  optimizer = make_optimizer(config)
  grad_fn = jax.value_and_grad(lambda *a: _loss_fn(config, *a), has_aux=True)

  def step(params, opt_state, indices_B, key, tokens, lengths, labels, num_steps):
    valid = indices_B >= 0
    safe = jnp.where(valid, indices_B, 0)
    weights = valid.astype(jnp.float32)
    (loss, (correct, count)), grads = grad_fn(params, tokens[safe], lengths[safe],
                                              labels[safe], weights, key, num_steps)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, jnp.stack([loss * count, correct, count])

  return step


@functools.lru_cache(maxsize=32)
def _make_block_fn(config: TrainConfig):
  """jit(vmap over seeds) of a `lax.scan` over a block of training steps.

  The returned function takes (params, opt_state, step_key, indices [S,K,B],
  epoch [], step_numbers [K], tokens [N,T], lengths [N], labels [N]) and returns
  the new (params, opt_state) and per-seed, per-step sums (loss·count, correct,
  count) [S, K, 3] (summed over the epoch by the caller, in one fixed order).
  Index −1 marks a padded slot (only the epoch's last step has them; every step
  holds at least one example). Step k's dropout/Gumbel key is
  fold_in(fold_in(step_key, epoch), step_numbers[k]), where step_numbers count
  the real steps of the epoch (0, 1, …), so neither keys nor numbers depend on
  how the epoch is cut into blocks (`steps_per_call`; tested bit for bit).
  Step k's recurrence runs as far as its longest example over every seed's
  batch (`_longest`): one program for every step, each at the cost of its
  longest example.
  """
  step_fn = _step_fn(config)

  def seed_block(params, opt_state, step_key, indices_KxB, epoch, step_numbers_K, tokens,
                 lengths, labels, num_steps_K):
    epoch_key = jax.random.fold_in(step_key, epoch)

    def step(carry, xs):
      params, opt_state = carry
      indices_B, step_number, num_steps = xs
      key = jax.random.fold_in(epoch_key, step_number)
      params, opt_state, sums_3 = step_fn(params, opt_state, indices_B, key, tokens, lengths,
                                          labels, num_steps)
      return (params, opt_state), sums_3

    (params, opt_state), sums_Kx3 = jax.lax.scan(step, (params, opt_state),
                                                 (indices_KxB, step_numbers_K, num_steps_K))
    return params, opt_state, sums_Kx3

  seeds_block = jax.vmap(seed_block, in_axes=(0, 0, 0, 0) + (None,) * 6)

  def block(params, opt_state, step_key, indices_SxKxB, epoch, step_numbers_K, tokens, lengths,
            labels):
    num_steps_K = _longest(indices_SxKxB, lengths).max(0)
    return seeds_block(params, opt_state, step_key, indices_SxKxB, epoch, step_numbers_K,
                       tokens, lengths, labels, num_steps_K)

  return jax.jit(block, donate_argnums=(0, 1))


def _longest(indices_SxKxB, lengths_N):
  """<int32>[S, K]: the longest length in each seed's batch of each step (−1 slots: 0).

  Outside the seed `vmap` its maximum over seeds is one unbatched loop bound
  per step (under `vmap` a bound that differs by seed would turn the loop into
  one that selects over every carried buffer at each iteration).
  """
  picked = jnp.where(indices_SxKxB >= 0, lengths_N[jnp.maximum(indices_SxKxB, 0)], 0)
  return picked.max(-1).astype(jnp.int32)


@functools.lru_cache(maxsize=32)
def _make_bucket_step_fn(config: TrainConfig):
  """jit(vmap over seeds) of one training step on one bucket's examples.

  Takes (params, opt_state, step_key, indices [S,M,B] (every batch of the
  bucket this epoch, −1 padded), batch [] (which of the M), epoch [],
  step_number [], tokens [N_b,L], lengths [N_b], labels [N_b]) and returns the
  new (params, opt_state) and sums [S, 3] as `_make_block_fn`'s steps, with
  the same key fold_in(fold_in(step_key, epoch), step_number) and the
  recurrence bounded as there. One compiled program per bucket shape.
  """
  step_fn = _step_fn(config)

  def seed_step(params, opt_state, step_key, indices_MxB, batch, epoch, step_number, tokens,
                lengths, labels, num_steps):
    key = jax.random.fold_in(jax.random.fold_in(step_key, epoch), step_number)
    return step_fn(params, opt_state, indices_MxB[batch], key, tokens, lengths, labels,
                   num_steps)

  seeds_step = jax.vmap(seed_step, in_axes=(0, 0, 0, 0) + (None,) * 7)

  def bucket_step(params, opt_state, step_key, indices_SxMxB, batch, epoch, step_number,
                  tokens, lengths, labels):
    num_steps = _longest(indices_SxMxB[:, batch][:, None], lengths).max()
    return seeds_step(params, opt_state, step_key, indices_SxMxB, batch, epoch, step_number,
                      tokens, lengths, labels, num_steps)

  return jax.jit(bucket_step, donate_argnums=(0, 1))


@functools.lru_cache(maxsize=16)
def _init_fn(config: TrainConfig):
  """jit(vmap(init_state)) over seed keys, cached so repeated runs compile once."""
  return jax.jit(jax.vmap(functools.partial(init_state, config)))


def _shuffled_batches(order_keys, folds: Sequence[int], size: int, batch_size: int):
  """Per-seed shuffled indices 0 … size−1 cut into batches, the last one −1 padded.

  Seed s's order is `jax.random.permutation` under its order key folded with
  each of `folds` in turn: (epoch,) for the padded path's examples, (epoch,
  bucket) for the positions within one bucket.

  Args:
    order_keys: <key>[S] the seeds' order keys.
    folds: integers folded into each key, in order.
    size: how many indices to shuffle.
    batch_size: B.

  Returns:
    <int32>[S, ceil(size / B), B].
  """
  steps = math.ceil(size / batch_size)

  def one(key):
    for value in folds:
      key = jax.random.fold_in(key, value)
    perm = jax.random.permutation(key, size)
    return jnp.pad(perm, (0, steps * batch_size - size), constant_values=-1)

  return jax.vmap(one)(order_keys).reshape(-1, steps, batch_size)


SCHEDULE_KEY = 0x6275636B
"""Seed of the bucketed epochs' step schedule (which bucket each step draws from),
shared by every seed so that seeds trained together run steps of one shape."""


def _bucket_schedule(epoch: int, steps_per_bucket: Sequence[int]):
  """(bucket <int>[steps], batch <int>[steps]): the epoch's steps in a shuffled order.

  Bucket b's batches 0, 1, … appear in order, interleaved at random with the
  other buckets'; the order depends on the epoch and the bucket sizes only.
  """
  buckets = np.repeat(np.arange(len(steps_per_bucket)), steps_per_bucket)
  order = np.asarray(jax.random.permutation(
      jax.random.fold_in(jax.random.key(SCHEDULE_KEY), epoch), len(buckets)))
  buckets = buckets[order]
  batches = np.zeros_like(buckets)
  for b, steps in enumerate(steps_per_bucket):
    batches[buckets == b] = np.arange(steps)
  return buckets, batches


def train(config: TrainConfig, seeds: int | Sequence[int], train_data: TextDataset,
          eval_data: TextDataset | None = None, *, progress: bool = True,
          devices: Sequence[Any] | None = None, checkpoint=None,
          checkpoint_extra: Any = None) -> TrainResult:
  """Trains S seeds of `config.model` together, in one compiled program.

  Args:
    config: the run's `TrainConfig`.
    seeds: S integer seeds, or an int S meaning seeds 0 … S−1. Seed s's
      initialisation, data order and dropout/Gumbel keys depend only on s.
    train_data: the training split.
    eval_data: evaluated after every epoch (accuracy, loss); used to keep each
      seed's best epoch when `config.select_best`, and for `config.patience`
      (`select_best`).
    progress: show a progress bar (epoch, loss, accuracy averaged over seeds).
    devices: devices to shard the seed axis over (default: all visible). With
      more than one, seeds are split across a `Mesh` axis "seed" over the
      largest number of them that divides S evenly (5 seeds on 2 devices run
      on one); the numbers equal the one-device run to float32 round-off.
    checkpoint: a file path, or None. When given, the loop state is written
      there (atomically) after every epoch, and a run started again with the
      same path, config, seeds and data continues after the last epoch written;
      the result equals the uninterrupted run's bit for bit (a finished run's
      file returns its result without training). See `epoch_state`.
    checkpoint_extra: anything JSON-serialisable the checkpoint must also match
      to be resumed (e.g. a code fingerprint).

  Every step's LSTM recurrence runs only as far as the step's longest example
  (over all seeds' batches), in one compiled program for every step.

  Length buckets (`config.buckets`, `attnjax.data.buckets`): with None (and
  with "auto" on fewer than 50 batches of training data) each seed's batches
  are drawn from all its examples. Otherwise each training example belongs to
  the smallest bucket holding it, and an epoch is every bucket's batches in a
  shuffled order: the bucket of each step (the schedule) is shared by all
  seeds, drawn from a fixed key folded with the epoch, so that seeds in one
  program run steps of one shape; which examples form a seed's batches is its
  own permutation of each bucket (from its seed and the epoch). Per-seed
  schedules padded to the longest bucket of the S seeds at each step would
  run close to the largest bucket most of the time (benchmarks/README.md).
  A seed's numbers depend only on its seed, not on the group or on
  `steps_per_call` (tested). A bucket's steps run at T in one program or at
  the bucket's length in a program of its own (`config.bucket_shapes`; by
  default its own length for a bucket of ≥ `MIN_STEPS_PER_SHAPE` steps over
  the run); at its own length the dropout or Gumbel noise of a batch is drawn
  at the bucket's shape.

  Returns:
    `TrainResult` with stacked params [S, ...] and per-seed history.
  """
  seeds = _check_args(config, seeds, train_data, eval_data)
  mesh = sharding.seed_mesh(len(seeds), devices)
  state, steps, run_epoch = _start(config, seeds, mesh, train_data, eval_data is not None)
  if checkpoint is not None:
    checkpoint_key = epoch_state.stamp(config, seeds, train_data, eval_data, checkpoint_extra)
    state = _restore(checkpoint, checkpoint_key, mesh, state)
  placement = f" on {mesh.size} devices" if mesh is not None else ""
  with tqdm(total=config.epochs * steps, initial=state.epochs_done * steps,
            disable=not progress, unit="step", desc=f"train {len(seeds)} seed(s){placement}",
            dynamic_ncols=True) as bar:
    while not state.finished and state.epochs_done < config.epochs:
      state = _train_epoch(state, run_epoch, bar)
      if eval_data is not None:
        metrics = evaluate(config.model, state.params, eval_data,
                           batch_size=config.eval_batch_size, buckets=config.buckets)
        bar.set_postfix(epoch=state.epochs_done,
                        loss=f"{np.mean(state.history['train_loss'][-1]):.4f}",
                        eval_acc=f"{np.mean(metrics['accuracy']):.3f}")
        state = select_best(_record(state, {f"eval_{k}": v for k, v in metrics.items()}),
                            metrics, config)
      state = dataclasses.replace(
          state, finished=state.finished or state.epochs_done == config.epochs)
      if checkpoint is not None:
        epoch_state.save(checkpoint, state, checkpoint_key)
  return _result(state, config, seeds)


def select_best(state: epoch_state.EpochState, metrics: dict[str, np.ndarray],
                config: TrainConfig) -> epoch_state.EpochState:
  """Early stopping and best-epoch bookkeeping after the eval of epoch `epochs_done − 1`.

  As Flax's `flax.training.early_stopping.EarlyStopping.update`, a pure update
  that says whether to stop: the returned state's `finished` is set once no
  seed has improved its `config.select_metric` for `config.patience` epochs.
  A seed improves when its score beats its best so far (every seed does on the
  first eval). With `config.select_best`, an improving seed's parameters and
  epoch become its `best_params` and `best_epoch`.

  Args:
    state: the loop state, `params` and `epochs_done` just after the epoch.
    metrics: `evaluate`'s per-seed metrics of `state.params`, each <float32>[S].
    config: `select_metric`, `select_best` and `patience` are read.

  Returns:
    `state` with `best_score`, `stale_epochs` and `finished` updated, and with
    `config.select_best` also `best_params` and `best_epoch`.
  """
  score = metrics[config.select_metric]
  first = state.best_score is None
  improved = np.ones(len(score), bool) if first else score > state.best_score
  best_params, best_epoch = state.best_params, state.best_epoch
  if config.select_best:
    # A copy either way: `params` are donated to the next block call.
    best_params = (jax.tree.map(jnp.copy, state.params) if best_params is None
                   else _where_seed(improved, state.params, best_params))
    best_epoch = np.where(improved, state.epochs_done - 1, best_epoch).astype(np.int32)
  stale_epochs = 0 if improved.any() else state.stale_epochs + 1
  return dataclasses.replace(
      state, best_params=best_params, best_epoch=best_epoch,
      best_score=score if first else np.maximum(score, state.best_score),
      stale_epochs=stale_epochs,
      finished=state.finished or (config.patience is not None
                                  and stale_epochs >= config.patience))


def _check_args(config: TrainConfig, seeds, train_data, eval_data) -> tuple[int, ...]:
  """`train`'s seeds as a tuple of ints; a `ValueError` for a bad argument of `train`."""
  if isinstance(seeds, bool) or not isinstance(seeds, (int, Sequence, np.ndarray)):
    raise ValueError(f"seeds must be an int S or a sequence of ints, got {seeds!r}")
  seeds = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
  bad = [s for s in seeds if not is_int(s) or not 0 <= s < 2**32]
  if bad:
    raise ValueError(f"seeds must be integers in [0, 2**32), got {bad}")
  seeds = tuple(int(s) for s in seeds)
  if not seeds:
    raise ValueError("seeds must name at least one seed")
  if len(set(seeds)) != len(seeds):
    raise ValueError(f"seeds must be distinct, got {seeds}")
  _check_data(config, train_data, "train_data")
  groups = set(jax.eval_shape(lambda k: init_params(config.model, k), jax.random.key(0))["params"])
  for name in ("frozen", "weight_decay_exclude"):
    unknown = sorted(set(getattr(config, name)) - groups)
    if unknown:
      raise ValueError(f"{name} names unknown parameter groups {unknown}; allowed: "
                       f"{sorted(groups)}")
  if eval_data is not None:
    _check_data(config, eval_data, "eval_data")
  return seeds


def _check_data(config: TrainConfig, data: TextDataset, name: str):
  """A `ValueError` unless `data` is a non-empty `TextDataset` that fits `config.model`."""
  if not isinstance(data, TextDataset):
    raise ValueError(f"{name} must be a TextDataset, got {type(data).__name__}")
  if len(data) == 0:
    raise ValueError(f"{name} is empty")
  if data.num_classes != config.model.num_classes:
    raise ValueError(f"{name} has {data.num_classes} classes {list(data.label_names)} but the "
                     f"model has num_classes={config.model.num_classes}")
  max_token = int(np.max(data.tokens))
  if max_token >= config.model.vocab_size:
    raise ValueError(f"{name} holds token id {max_token} >= model vocab_size="
                     f"{config.model.vocab_size}")


def _start(config: TrainConfig, seeds: tuple[int, ...], mesh, data: TextDataset,
           evaluating: bool):
  """(state, steps per epoch, run_epoch) of a run from scratch (see `_padded_epochs`).

  The state holds the initialised params and optimiser states, sharded over
  `mesh`, and an empty history: "train_loss", "train_accuracy" and, when
  `evaluating`, "eval_loss", "eval_accuracy" and "eval_<select_metric>".
  """
  keys = seed_keys(seeds)
  params, opt_state = _init_fn(config)(keys)
  _, order_keys, step_keys = jax.vmap(_split_seed_key)(keys)
  params, opt_state, step_keys = sharding.shard_seeds(mesh, (params, opt_state, step_keys))
  # One compiled step function for every config that trains the same way (not per epoch
  # count, block size or evaluation, which change no step's computation).
  step_config = dataclasses.replace(config, epochs=1, steps_per_call=1, patience=None,
                                    select_best=False, eval_batch_size=1, buckets=None,
                                    bucket_shapes=False)
  if buckets_lib.resolve(config.buckets, np.asarray(data.lengths), config.batch_size) is None:
    steps, run_epoch = _padded_epochs(step_config, config, mesh, data, order_keys, step_keys)
  else:
    lengths, members = _bucket_members(config, data)
    shaped = _shaped_buckets(config, members)
    if any(shaped):
      steps, run_epoch = _bucketed_epochs(step_config, config, mesh, data, order_keys,
                                          step_keys, members, lengths, shaped)
    else:
      steps, run_epoch = _pooled_epochs(step_config, config, mesh, data, order_keys,
                                        step_keys, members)
  names = ["train_loss", "train_accuracy"]
  if evaluating:
    names += ["eval_loss", "eval_accuracy"]
    if config.select_metric != "accuracy":
      names.append(f"eval_{config.select_metric}")
  state = epoch_state.EpochState(
      epochs_done=0, finished=False, params=params, opt_state=opt_state, best_params=None,
      best_score=None, best_epoch=np.zeros(len(seeds), np.int32), stale_epochs=0,
      history={name: [] for name in names})
  return state, steps, run_epoch


def _restore(path, key: str, mesh, state: epoch_state.EpochState) -> epoch_state.EpochState:
  """The checkpoint at `path` if it carries `key` (arrays sharded over `mesh`), else `state`."""
  saved = epoch_state.load(path, key, state.params, state.opt_state)
  if saved is None:
    return state
  params, opt_state, best_params = sharding.shard_seeds(mesh, jax.tree.map(jnp.asarray, (
      saved.params, saved.opt_state, saved.best_params)))
  return dataclasses.replace(saved, params=params, opt_state=opt_state, best_params=best_params)


def _train_epoch(state: epoch_state.EpochState, run_epoch, bar) -> epoch_state.EpochState:
  """`state` after training epoch `state.epochs_done`, its train loss and accuracy recorded."""
  epoch = state.epochs_done

  def report(done, sums):
    bar.update(done)
    bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(sums[:, 0] / sums[:, 2]):.4f}",
                    acc=f"{np.mean(sums[:, 1] / sums[:, 2]):.3f}")

  params, opt_state, sums = run_epoch(state.params, state.opt_state, epoch, report)
  state = dataclasses.replace(state, epochs_done=epoch + 1, params=params, opt_state=opt_state)
  return _record(state, {"train_loss": sums[:, 0] / sums[:, 2],
                         "train_accuracy": sums[:, 1] / sums[:, 2]})


def _record(state: epoch_state.EpochState, values: dict) -> epoch_state.EpochState:
  """`state` with `values[name]` (<float32>[S]) appended to every history `name` it names."""
  history = {name: rows + [values[name]] if name in values else rows
             for name, rows in state.history.items()}
  return dataclasses.replace(state, history=history)


def _result(state: epoch_state.EpochState, config: TrainConfig,
            seeds: tuple[int, ...]) -> TrainResult:
  """The `TrainResult` of a finished loop: the kept params (best or last) and the history."""
  if state.best_params is not None:
    params, best_epoch = state.best_params, state.best_epoch
  else:
    params = state.params
    best_epoch = np.full(len(seeds), len(state.history["train_loss"]) - 1, np.int32)
  history = {k: np.stack(v, axis=1).astype(np.float32) for k, v in state.history.items()}
  return TrainResult(params=params, history=history, config=config, seeds=seeds,
                     best_epoch=best_epoch)


def _padded_epochs(step_config, config, mesh, data, order_keys, step_keys):
  """(steps per epoch, run_epoch) of the padded path: every seed's examples shuffled into
  batches, every step at the dataset's T (`_one_program_epochs`)."""
  num_examples = len(data)
  # One compiled program per run for the epoch's shuffle (eagerly, each op compiles).
  shuffle = jax.jit(lambda keys, epoch: _shuffled_batches(keys, (epoch,), num_examples,
                                                          config.batch_size))

  def batches(epoch):
    return shuffle(order_keys, epoch)

  steps = math.ceil(num_examples / config.batch_size)
  return _one_program_epochs(step_config, config, mesh, data, step_keys, steps, batches)


def _pooled_epochs(step_config, config, mesh, data, order_keys, step_keys, members):
  """(steps per epoch, run_epoch) of bucketed batches run in one program at T.

  The batches are those of `_bucketed_epochs` (each bucket's examples shuffled
  per seed, the buckets' steps interleaved by the shared `_bucket_schedule`),
  but every step runs at the dataset's T with its recurrence bounded by its
  longest example (`_make_block_fn`): bucketing's saving on the recurrence,
  without a compiled program per bucket. `members`: each non-empty bucket's
  example indices (`_bucket_members`).
  """
  steps_per_bucket = [math.ceil(len(m) / config.batch_size) for m in members]
  offsets = np.cumsum([0] + steps_per_bucket[:-1])

  # Every bucket's batches, bucket after bucket, in one compiled program: [S, steps, B].
  in_bucket_order = jax.jit(lambda keys, epoch: jnp.concatenate(
      [_bucket_batches(keys, epoch, b, m, config.batch_size) for b, m in enumerate(members)],
      axis=1))

  def batches(epoch):
    bucket_of_step, batch_of_step = _bucket_schedule(epoch, steps_per_bucket)
    return in_bucket_order(order_keys, epoch)[:, offsets[bucket_of_step] + batch_of_step]

  return _one_program_epochs(step_config, config, mesh, data, step_keys,
                             sum(steps_per_bucket), batches)


def _block_size(steps: int, steps_per_call: int) -> int:
  """Steps per call of an epoch of `steps`: at most `steps_per_call`, a divisor of `steps`
  where one of at least a quarter of the even split exists, so every block has one shape
  (one compile); else the even split, whose shorter last block compiles once more.

  No block holds an all-padding step (which would need a select over every parameter,
  and changes XLA's fusion). The numbers do not depend on the block size.

  Example:
    >>> _block_size(64, 50), _block_size(65, 50), _block_size(53, 50), _block_size(10, 50)
    (32, 13, 27, 10)
  """
  even = math.ceil(steps / math.ceil(steps / steps_per_call))
  divisors = [d for d in range(max(1, even // 4), even + 1) if steps % d == 0]
  return max(divisors) if divisors else even


def _one_program_epochs(step_config, config, mesh, data, step_keys, steps, batches):
  """(steps, run_epoch) for steps that index the whole [N, T] data, in blocks of steps.

  `batches(epoch)` gives the epoch's example indices <int32>[S, steps, B]
  (−1: a padded slot; every step holds at least one example).
  run_epoch(params, opt_state, epoch, report) → (params, opt_state, sums [S, 3]);
  `report(steps_done, sums_so_far)` is called after every block.
  """
  tokens, lengths, labels = sharding.replicate(
      mesh, (jnp.asarray(data.tokens), jnp.asarray(data.lengths), jnp.asarray(data.labels)))
  block = _block_size(steps, config.steps_per_call)
  block_fn = _make_block_fn(step_config)

  def run_epoch(params, opt_state, epoch, report):
    indices = sharding.shard_seeds(mesh, batches(epoch))
    step_sums = []
    for start in range(0, steps, block):
      stop = min(start + block, steps)
      step_numbers = jnp.arange(start, stop)  # real steps of this epoch
      params, opt_state, block_sums = block_fn(params, opt_state, step_keys,
                                               indices[:, start:stop], epoch, step_numbers,
                                               tokens, lengths, labels)
      step_sums.append(np.asarray(block_sums))
      # Summed over the steps so far in one order, whatever the blocks: [S, 3].
      sums = np.concatenate(step_sums, axis=1).sum(1)
      report(stop - start, sums)
    return params, opt_state, sums

  return steps, run_epoch


MIN_STEPS_PER_SHAPE = 50
"""`bucket_shapes="auto"` gives a bucket its own compiled length when it runs at least this
many steps over the run (its steps per epoch × epochs): a compile costs seconds, a step
at the bucket's length instead of T saves tens of milliseconds (benchmarks/README.md)."""


def _bucket_members(config: TrainConfig, data: TextDataset):
  """(lengths, members) of the non-empty buckets: each one's padded length and the
  indices <int>[N_b] of its examples."""
  lengths_N = np.asarray(data.lengths)
  bucket_lens = buckets_lib.bucket_lengths(config.buckets, lengths_N, data.max_length,
                                           config.batch_size)
  which = buckets_lib.assign(lengths_N, bucket_lens)
  pairs = [(length, np.flatnonzero(which == b)) for b, length in enumerate(bucket_lens)]
  pairs = [(length, members) for length, members in pairs if len(members)]
  return tuple(length for length, _ in pairs), [members for _, members in pairs]


def _bucket_batches(order_keys, epoch: int, bucket: int, members_Nb, batch_size: int,
                    whole_data: bool = True):
  """Bucket `bucket`'s batches of `epoch`, per seed: <int32>[S, ceil(N_b / B), B], −1 padded.

  Each seed's permutation of the bucket (`_shuffled_batches` folded with (epoch,
  bucket)), as indices into the whole data (`members_Nb[position]`) or, with
  `whole_data=False`, as positions within the bucket.
  """
  positions = _shuffled_batches(order_keys, (epoch, bucket), len(members_Nb), batch_size)
  if not whole_data:
    return positions
  return jnp.where(positions >= 0, jnp.asarray(members_Nb)[jnp.maximum(positions, 0)], -1)


def _shaped_buckets(config: TrainConfig, members) -> list[bool]:
  """Which buckets run at their own length (`TrainConfig.bucket_shapes`)."""
  if config.bucket_shapes != "auto":
    return [config.bucket_shapes] * len(members)
  return [math.ceil(len(m) / config.batch_size) * config.epochs >= MIN_STEPS_PER_SHAPE
          for m in members]


def _bucketed_epochs(step_config, config, mesh, data, order_keys, step_keys, members,
                     lengths, shaped):
  """(steps per epoch, run_epoch) with buckets at their own lengths; as `_pooled_epochs`.

  The batches and keys are `_pooled_epochs`'. A bucket with `shaped[b]` runs
  on its examples stored at its length `lengths[b]` (one compiled program per
  such bucket); the others on the whole [N, T] data, in one more program.
  Each step is its own call; the host waits for results only every
  `steps_per_call` steps.
  """
  whole = sharding.replicate(mesh, (jnp.asarray(data.tokens), jnp.asarray(data.lengths),
                                    jnp.asarray(data.labels)))
  arrays = [sharding.replicate(mesh, (jnp.asarray(data.tokens[m, :length]),
                                      jnp.asarray(data.lengths[m]), jnp.asarray(data.labels[m])))
            if own else whole for m, length, own in zip(members, lengths, shaped)]
  steps_per_bucket = [math.ceil(len(m) / config.batch_size) for m in members]
  step_fn = _make_bucket_step_fn(step_config)

  def bucket_batches(epoch, b):
    # Own length: positions in the bucket's arrays; at T: indices into the whole data.
    return sharding.shard_seeds(mesh, _bucket_batches(order_keys, epoch, b, members[b],
                                                      config.batch_size, not shaped[b]))

  def run_epoch(params, opt_state, epoch, report):
    indices = [bucket_batches(epoch, b) for b in range(len(members))]
    bucket_of_step, batch_of_step = _bucket_schedule(epoch, steps_per_bucket)
    step_sums, reported = [], 0
    for step, (b, batch) in enumerate(zip(bucket_of_step, batch_of_step)):
      params, opt_state, sums_Sx3 = step_fn(params, opt_state, step_keys, indices[b],
                                            int(batch), epoch, step, *arrays[b])
      step_sums.append(sums_Sx3)
      if step + 1 - reported >= config.steps_per_call or step + 1 == len(bucket_of_step):
        # Summed over the steps so far in one order: [S, 3].
        sums = np.stack([np.asarray(x) for x in step_sums], axis=1).sum(1)
        report(step + 1 - reported, sums)
        reported = step + 1
    return params, opt_state, sums

  return sum(steps_per_bucket), run_epoch


def _where_seed(select_S, new_tree, old_tree):
  """`new_tree` for the seeds where `select_S` (<bool>[S]) holds, `old_tree` elsewhere."""
  select_S = jnp.asarray(select_S)
  return jax.tree.map(
      lambda new, old: jnp.where(select_S.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
      new_tree, old_tree)
