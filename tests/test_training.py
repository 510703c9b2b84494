"""Training: seeds in one program equal seeds alone, sharding, learnability, run dirs, CLI."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import chex
import jax
import numpy as np
import pytest

from attnjax import cli
from attnjax.data import planted
from attnjax.models import AttentionClassifier
from attnjax.training import (TrainConfig, collect, evaluate, init_state, load_run, save_run,
                              seed_keys, train, use_cpu_devices)

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(vocab_size=60, num_classes=2, embed_dim=8, hidden_dim=8, attention_dim=8)


def _tiny_setup(n=96, **model_kwargs):
  data = planted(jax.random.key(0), n, seq_len=12, vocab_size=60)
  dev = planted(jax.random.key(1), 40, seq_len=12, vocab_size=60)
  model = AttentionClassifier(**{**TINY, **model_kwargs})
  config = TrainConfig(model=model, epochs=2, batch_size=16, steps_per_call=4)
  return config, data, dev


STOCHASTIC = dict(dropout=0.2, word_dropout=0.2, normalizer="gumbel", temperature=0.5)


def test_seeds_together_equal_seeds_alone():
  # Dropout, word dropout and Gumbel sampling on: a data order, dropout or Gumbel stream
  # shared between seeds (or taken from the group) would make trained parameters differ.
  config, data, dev = _tiny_setup(**STOCHASTIC)
  together = train(config, [3, 4, 5], data, dev, progress=False)
  chex.assert_tree_shape_prefix(together.params, (3,))
  for i, seed in enumerate([3, 4, 5]):
    alone = train(config, [seed], data, dev, progress=False)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], together.params),
                                jax.tree.map(lambda x: x[0], alone.params), rtol=1e-4, atol=1e-5)
    for key, values in together.history.items():
      np.testing.assert_allclose(values[i], alone.history[key][0], rtol=1e-4, atol=1e-5)
  # Seeds differ after training, and not only in their initial weights: seed 3 trained with
  # seed 4's data order and noise (its init kept) ends elsewhere.
  assert not np.allclose(together.params["params"]["output_layer"]["kernel"][0],
                         together.params["params"]["output_layer"]["kernel"][1])


def test_steps_per_call_does_not_change_numbers():
  # 100 examples in batches of 16: 7 steps per epoch, the last one partial; blocks of 1, 3
  # (3+3+1) and 50 (one block of 7) cut the epoch differently.
  config, _, dev = _tiny_setup(**STOCHASTIC)
  data = planted(jax.random.key(0), 100, seq_len=12, vocab_size=60)
  config = config.replace(epochs=2)
  runs = {k: train(config.replace(steps_per_call=k), [0, 1], data, dev, progress=False)
          for k in (1, 3, 50)}
  reference = runs.pop(50)
  for k, run in runs.items():
    chex.assert_trees_all_equal(run.params, reference.params)  # bit for bit
    for name, values in run.history.items():
      np.testing.assert_array_equal(values, reference.history[name], err_msg=f"{k} {name}")
  # The keys do matter: another seed (same steps_per_call) trains to other numbers.
  other = train(config, [2, 1], data, dev, progress=False)
  assert not np.array_equal(other.params["params"]["output_layer"]["kernel"][0],
                            reference.params["params"]["output_layer"]["kernel"][0])


SHARDED_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    import jax, numpy as np
    from attnjax.training import train, use_cpu_devices
    jax.config.update("jax_platforms", "cpu")
    use_cpu_devices(4)
    assert len(jax.devices()) == 4, jax.devices()
    use_cpu_devices(4)  # again, after JAX started: accepted, nothing changes
    from test_training import _tiny_setup
    config, data, dev = _tiny_setup()
    result = train(config, [0, 1, 2, 3], data, dev, progress=False)
    leaf = result.params["params"]["encoder"]["recurrent_kernel"]
    assert len(leaf.sharding.device_set) == 4, leaf.sharding
    np.savez({out!r}, **{{"/".join(str(k.key) for k in path): np.asarray(x)
        for path, x in jax.tree_util.tree_flatten_with_path(result.params)[0]}},
        eval_accuracy=result.history["eval_accuracy"])
""")


def test_sharded_seeds_equal_one_device(tmp_path):
  out = tmp_path / "sharded.npz"
  script = SHARDED_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests"), out=str(out))
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=600)
  sharded = np.load(out)
  config, data, dev = _tiny_setup()
  single = train(config, [0, 1, 2, 3], data, dev, progress=False)
  flat = {"/".join(str(k.key) for k in path): np.asarray(x)
          for path, x in jax.tree_util.tree_flatten_with_path(single.params)[0]}
  assert set(flat) == set(sharded.files) - {"eval_accuracy"}
  for name, value in flat.items():
    np.testing.assert_allclose(sharded[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
  np.testing.assert_allclose(sharded["eval_accuracy"], single.history["eval_accuracy"])


@pytest.mark.slow
def test_bilstm_additive_learns_planted_task_and_attends_to_planted_tokens():
  key = jax.random.key(11)
  options = dict(seq_len=30, vocab_size=400, num_planted=2, min_len=16)
  train_data = planted(jax.random.fold_in(key, 0), 1500, **options)
  test_data = planted(jax.random.fold_in(key, 1), 400, **options)
  planted_share = (test_data.importance.sum(1) / test_data.lengths).max()
  assert planted_share <= 0.15
  model = AttentionClassifier(vocab_size=400, num_classes=2, embed_dim=32, hidden_dim=32,
                              attention_dim=32)
  config = TrainConfig(model=model, epochs=4, batch_size=32, learning_rate=3e-3)
  result = train(config, [0, 1], train_data, test_data, progress=False)
  logits, aux = collect(model, result.params, test_data)
  accuracy = (logits.argmax(-1) == test_data.labels[None]).mean(-1)
  assert np.all(accuracy >= 0.95), accuracy
  mass_on_planted = (aux.attention * test_data.importance[None]).sum(-1).mean(-1)
  assert np.all(mass_on_planted >= 0.5), mass_on_planted


def test_early_stopping_keeps_best_epoch_per_seed():
  config, data, dev = _tiny_setup()
  config = config.replace(epochs=4, patience=1)
  result = train(config, [0, 1], data, dev, progress=False)
  epochs_run = result.history["eval_accuracy"].shape[1]
  np.testing.assert_array_equal(result.best_epoch,
                                result.history["eval_accuracy"].argmax(1))
  kept = evaluate(config.model, result.params, dev)["accuracy"]
  np.testing.assert_allclose(kept, result.history["eval_accuracy"].max(1))
  assert 1 <= epochs_run <= 4


def test_a_killed_run_resumes_from_its_epoch_checkpoint_bit_for_bit(tmp_path, monkeypatch,
                                                                     capsys):
  from attnjax.training import loop

  config, data, dev = _tiny_setup(**STOCHASTIC)
  config = config.replace(epochs=4)
  whole = train(config, [0, 1], data, dev, progress=False)
  evaluate_calls = []
  real_evaluate = loop.evaluate

  def evaluate_then_die(*args, **kwargs):
    evaluate_calls.append(1)
    if len(evaluate_calls) == 3:  # killed during epoch 3, after epoch 2's checkpoint
      raise KeyboardInterrupt
    return real_evaluate(*args, **kwargs)

  path = tmp_path / "state.msgpack"
  monkeypatch.setattr(loop, "evaluate", evaluate_then_die)
  with pytest.raises(KeyboardInterrupt):
    train(config, [0, 1], data, dev, progress=False, checkpoint=path, checkpoint_extra="v1")
  assert path.is_file()
  evaluate_calls.clear()
  monkeypatch.setattr(loop, "evaluate", lambda *a, **k: (evaluate_calls.append(1),
                                                         real_evaluate(*a, **k))[1])
  resumed = train(config, [0, 1], data, dev, progress=False, checkpoint=path,
                  checkpoint_extra="v1")
  assert len(evaluate_calls) == 2  # epochs 3 and 4 only
  chex.assert_trees_all_equal(resumed.params, whole.params)  # bit for bit
  np.testing.assert_array_equal(resumed.best_epoch, whole.best_epoch)
  for name, values in whole.history.items():
    chex.assert_shape(resumed.history[name], (2, 4))
    np.testing.assert_array_equal(resumed.history[name], values, err_msg=name)
  # A finished run's checkpoint returns its result without training.
  evaluate_calls.clear()
  again = train(config, [0, 1], data, dev, progress=False, checkpoint=path,
                checkpoint_extra="v1")
  assert evaluate_calls == []
  chex.assert_trees_all_equal(again.params, whole.params)
  # Another key (here the extra stamp, e.g. a code fingerprint) is not resumed: the run
  # starts afresh, says so, and equals a run without a checkpoint.
  capsys.readouterr()
  fresh = train(config.replace(epochs=1), [0, 1], data, dev, progress=False, checkpoint=path,
                checkpoint_extra="v2")
  assert "belongs to another run" in capsys.readouterr().err
  assert len(evaluate_calls) == 1
  chex.assert_trees_all_equal(
      fresh.params, train(config.replace(epochs=1), [0, 1], data, dev, progress=False).params)
  # A file with the right key but an entry missing (not something `save` writes): also afresh.
  from flax import serialization
  tree = serialization.msgpack_restore(path.read_bytes())
  del tree["opt_state"]
  path.write_bytes(serialization.msgpack_serialize(tree))
  evaluate_calls.clear()
  again = train(config.replace(epochs=1), [0, 1], data, dev, progress=False, checkpoint=path,
                checkpoint_extra="v2")
  assert "incomplete checkpoint" in capsys.readouterr().err and len(evaluate_calls) == 1
  chex.assert_trees_all_equal(again.params, fresh.params)


def test_run_directory_round_trip(tmp_path):
  config, data, dev = _tiny_setup()
  result = train(config, [0, 1], data, dev, progress=False)
  save_run(tmp_path / "run", result, extra={"note": "x"})
  run = load_run(tmp_path / "run")
  assert run.result.config == config and run.result.seeds == (0, 1)
  assert run.extra == {"note": "x"}
  chex.assert_trees_all_close(run.result.params, jax.device_get(result.params))
  np.testing.assert_array_equal(run.result.best_epoch, result.best_epoch)
  assert not list((tmp_path / "run").glob(".*tmp"))
  with pytest.raises(ValueError, match="not a run directory"):
    load_run(tmp_path)


def test_config_json_round_trip_and_errors():
  config = TrainConfig(model=AttentionClassifier(**TINY, attention="deep",
                                                 deep_layer_dims=(4, 3, 2)), epochs=7)
  assert TrainConfig.from_json(config.to_json()) == config
  assert config.replace(**{"model.attention": "scaled_dot"}).model.attention == "scaled_dot"
  with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
    config.replace(batch_size=0)
  with pytest.raises(ValueError, match=r"unknown TrainConfig fields \['epoch'\]"):
    TrainConfig.from_dict({**config.to_dict(), "epoch": 3})


def test_train_rejects_mismatched_data():
  config, data, dev = _tiny_setup()
  with pytest.raises(ValueError, match="vocab_size=30"):
    train(config.replace(**{"model.vocab_size": 30}), 1, data, progress=False)
  with pytest.raises(ValueError, match="num_classes=3"):
    train(config.replace(**{"model.num_classes": 3}), 1, data, progress=False)
  with pytest.raises(ValueError, match="distinct"):
    train(config, [1, 1], data, progress=False)


def test_cli_train_writes_run_directory(tmp_path, capsys):
  out = tmp_path / "demo"
  argv = ["train", "--data", "planted", "--train-size", "64", "--max-len", "10",
          "--vocab-size", "60", "--embed-dim", "8", "--hidden-dim", "8", "--seeds", "2",
          "--epochs", "2", "--dropout", "0.2", "--word-dropout", "0.1", "--no-progress"]
  code = cli.main([*argv, "--out", str(out)])
  assert code == 0
  # The same command twice: bit-identical metrics and parameters (dropout on).
  assert cli.main([*argv, "--out", str(tmp_path / "again")]) == 0
  for name in ("metrics.json", "params.msgpack"):
    assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
  printed = capsys.readouterr().out
  assert "test acc" in printed and str(out) in printed
  assert {"config.json", "metrics.json", "params.msgpack"} <= {p.name for p in out.iterdir()}
  assert not (out / "epoch_state.msgpack").exists()  # the epoch checkpoint, once saved
  saved = json.loads((out / "config.json").read_text())
  assert saved["seeds"] == [0, 1] and saved["train"]["model"]["encoder"] == "bilstm"
  assert cli.main(["evaluate", str(out), "--split", "dev"]) == 0
  assert cli.main(["train", "--data", "nope", "--out", str(tmp_path / "x")]) == 2
  assert "'nope'" in capsys.readouterr().err
  assert cli.main(["reproduce", "--epochs", "0", "--out", str(tmp_path / "r")]) == 2
  assert "--epochs must be >= 1, got 0" in capsys.readouterr().err
  # JAX has started: asking for another number of CPU devices is a clear error.
  current = len(jax.devices("cpu"))
  assert cli.main(["--cpu-devices", str(current + 2), "train", "--out", str(tmp_path / "y")]) == 2
  assert (f"cannot expose {current + 2} CPU devices: JAX has already started with {current}"
          in capsys.readouterr().err)
  assert not (tmp_path / "y").exists()


def test_use_cpu_devices_rejects_bad_counts():
  for bad in (0, -2, 1.5, "2", True):
    with pytest.raises(ValueError, match="positive integer"):
      use_cpu_devices(bad)
  use_cpu_devices(len(jax.devices("cpu")))  # the current count: a no-op


def test_training_with_frozen_scorer_or_uniform_attention():
  config, data, dev = _tiny_setup()
  frozen = train(config.replace(frozen=("attention",)), [7], data, progress=False)
  initial = jax.jit(jax.vmap(lambda k: init_state(config, k)[0]))(seed_keys([7]))
  chex.assert_trees_all_close(frozen.params["params"]["attention"],
                              initial["params"]["attention"])
  assert not np.allclose(frozen.params["params"]["encoder"]["bias"],
                         initial["params"]["encoder"]["bias"])
  uniform = config.replace(**{"model.attention_mode": "uniform"})
  result = train(uniform, [0], data, progress=False)
  _, aux = collect(uniform.model, result.params, dev)
  np.testing.assert_allclose(aux.attention[0].sum(-1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(aux.attention[0].max(-1), 1.0 / dev.lengths, rtol=1e-6)
  with pytest.raises(ValueError, match=r"frozen names unknown parameter groups \['scorer'\]"):
    train(config.replace(frozen=("scorer",)), [0], data, progress=False)


def test_l2_amsgrad_with_excluded_group_matches_the_update_written_out():
  """Two steps of `make_optimizer` against AMSGrad written out in NumPy: L2 decay added to the
  gradient of every group but the excluded one (PyTorch's Adam(weight_decay=, amsgrad=True),
  with optax's maximum of the bias-corrected second moment)."""
  from attnjax.training.loop import make_optimizer
  model = AttentionClassifier(**TINY)
  config = TrainConfig(model=model, learning_rate=0.1, optimizer="amsgrad", weight_decay=0.5,
                       weight_decay_kind="l2", weight_decay_exclude=("attention",), grad_clip=None)
  params = {"params": {"attention": {"w": np.array([1.0, -2.0])},
                       "embedding": {"w": np.array([3.0, 0.5])}}}
  grads = [{"params": {"attention": {"w": np.array([0.2, -0.1])},
                       "embedding": {"w": np.array([-0.3, 0.4])}}},
           {"params": {"attention": {"w": np.array([-0.5, 0.3])},
                       "embedding": {"w": np.array([0.1, 0.05])}}}]
  optimizer = make_optimizer(config)
  state = optimizer.init(params)
  current = jax.tree.map(np.asarray, params)
  expected = {g: np.array(params["params"][g]["w"]) for g in ("attention", "embedding")}
  m = {g: np.zeros(2) for g in expected}
  v, v_max = ({g: np.zeros(2) for g in expected} for _ in range(2))
  for step, grad in enumerate(grads, 1):
    updates, state = optimizer.update(grad, state, current)
    current = jax.tree.map(lambda p, u: p + u, current, updates)
    for g in expected:
      gradient = grad["params"][g]["w"] + (0.0 if g == "attention" else 0.5 * expected[g])
      m[g] = 0.9 * m[g] + 0.1 * gradient
      v[g] = 0.999 * v[g] + 0.001 * gradient ** 2
      v_max[g] = np.maximum(v_max[g], v[g] / (1 - 0.999 ** step))
      expected[g] = expected[g] - 0.1 * (m[g] / (1 - 0.9 ** step)) / (np.sqrt(v_max[g]) + 1e-8)
      np.testing.assert_allclose(current["params"][g]["w"], expected[g], rtol=1e-5)


def test_roc_auc_equals_scipy_mann_whitney_and_selects_the_best_epoch():
  from scipy import stats

  from attnjax.training.collect import roc_auc
  rng = np.random.default_rng(0)
  scores = rng.normal(size=(3, 60))
  scores[:, 10] = scores[:, 11]  # a tie
  labels = rng.integers(0, 2, 60)
  expected = [stats.mannwhitneyu(s[labels == 1], s[labels == 0]).statistic
              / ((labels == 1).sum() * (labels == 0).sum()) for s in scores]
  np.testing.assert_allclose(roc_auc(scores, labels), expected, rtol=1e-12)
  assert np.isnan(roc_auc(scores, np.ones(60, int))).all()
  config, data, dev = _tiny_setup()
  config = config.replace(epochs=3, select_metric="roc_auc")
  result = train(config, [0, 1], data, dev, progress=False)
  auc = result.history["eval_roc_auc"]
  chex.assert_shape(auc, (2, 3))
  np.testing.assert_array_equal(result.best_epoch, auc.argmax(1))
  np.testing.assert_allclose(evaluate(config.model, result.params, dev)["roc_auc"], auc.max(1))
  with pytest.raises(ValueError, match="roc_auc' needs two classes"):
    config.replace(**{"model.num_classes": 3})
  with pytest.raises(ValueError, match="unknown optimizer 'sgd'; allowed: adam, amsgrad"):
    config.replace(optimizer="sgd")
  with pytest.raises(ValueError, match=r"weight_decay_exclude names unknown parameter groups "
                     r"\['scorer'\]"):
    train(config.replace(weight_decay=1e-3, weight_decay_exclude=("scorer",)), [0], data, dev,
          progress=False)
