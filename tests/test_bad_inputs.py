"""Every bad input a clear error (or, under jit, a defined output).

The CLI part runs `attnjax.cli.main` on bad invocations: each must exit with code 2, print
`attnjax COMMAND: error: MESSAGE` naming the bad value, show no traceback and leave the files
already in place untouched. The library part checks the `ValueError`s of the public
functions and the outputs they define for traced inputs: a length-0 example's logits are the
output bias, a non-finite MI input gives NaN, `per_position` counts its samples.
"""

import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from attnjax import cli, explain, mi
from attnjax.data import FilesFormat, TextDataset, files, load
from attnjax.mi import fit
from attnjax.models import AttentionClassifier, init_params, masked_softmax, model_from_dict
from attnjax.training import TrainConfig, save_run
from attnjax.training.loop import TrainResult

# The embedding encoder initialises fastest; the tests under jit take every other encoder too.
TINY = dict(vocab_size=12, num_classes=3, embed_dim=4, hidden_dim=4, attention_dim=4,
            deep_layer_dims=(4, 4), encoder="embedding")
TOKENS = np.array([[2, 3, 4, 0], [5, 0, 0, 0], [6, 7, 8, 9]], np.int32)
MISSING = "/does/not/exist"


# --- the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  """Folders the bad invocations point at: data files, run directories, an --out folder."""
  root = tmp_path_factory.mktemp("bad_inputs")
  good = root / "data" / "sst2"
  good.mkdir(parents=True)
  rows = "sentence\tlabel\n" + "".join(f"text number {i}\t{i % 2}\n" for i in range(8))
  (good / "train.tsv").write_text(rows)
  (good / "dev.tsv").write_text(rows)  # no test.tsv: a missing split
  bad_row = root / "bad_row" / "sst2"
  bad_row.mkdir(parents=True)
  (bad_row / "train.tsv").write_text(rows)
  (bad_row / "dev.tsv").write_text("sentence\tlabel\ngood\t1\nbad movie\t7\n")
  (bad_row / "test.tsv").write_text(rows)
  not_utf8 = root / "not_utf8" / "sst2"
  not_utf8.mkdir(parents=True)
  (not_utf8 / "train.tsv").write_bytes(b"sentence\tlabel\ngood\t1\n\xff\xfe bad\t0\n")

  model = AttentionClassifier(**TINY)
  params = jax.tree.map(lambda x: x[None], init_params(model, jax.random.key(0)))
  result = TrainResult(params=params, history={"train_loss": np.zeros((1, 1), np.float32)},
                       config=TrainConfig(model=model), seeds=(0,),
                       best_epoch=np.zeros(1, np.int32))
  run = save_run(root / "run", result, extra={"data": {}})
  config = json.loads((run / "config.json").read_text())
  runs = {}
  for name, change in {
      "corrupt_config": lambda d: (d / "config.json").write_text("{not json"),
      "config_without_train": lambda d: (d / "config.json").write_text(
          json.dumps({k: v for k, v in config.items() if k != "train"})),
      "no_params": lambda d: (d / "params.msgpack").unlink(),
      "corrupt_params": lambda d: (d / "params.msgpack").write_bytes(b"\x93garbage"),
      "other_model": lambda d: (d / "config.json").write_text(json.dumps(
          {**config, "train": {**config["train"],
                               "model": {**config["train"]["model"], "embed_dim": 8}}})),
      "no_data_options": lambda d: None,
  }.items():
    runs[name] = root / name
    save_run(runs[name], result, extra={})
    change(runs[name])

  out = root / "out"  # a finished run the failing commands must not touch
  save_run(out, result, extra={"data": {}})
  (out / "notes.txt").write_text("keep me")
  return {"root": root, "data": root / "data", "bad_row": root / "bad_row",
          "not_utf8": root / "not_utf8", "runs": runs, "out": out, "file": good / "train.tsv"}


def _train(*args):
  return ["train", "--train-size", "8", "--max-len", "4", "--embed-dim", "4", "--hidden-dim",
          "4", "--epochs", "1", "--seeds", "1", "--no-progress", *args]


def _files(folder, *args):
  return _train("--data", "sst2", "--source", "files", "--data-dir", str(folder), *args)


# (name, argv given the workspace, regex the message must match)
CLI_CASES = [
    ("missing data folder",
     lambda w: ["train", "--source", "files", "--data-dir", MISSING, "--data", "sst2"],
     r"data folder /does/not/exist does not exist"),
    ("unknown dataset", lambda w: _train("--data", "nope"), r"unknown --data 'nope'; allowed:"),
    ("zero seeds", lambda w: _train("--seeds", "0"), r"--seeds must be an integer >= 1, got 0"),
    ("negative first seed", lambda w: _train("--first-seed", "-1"),
     r"--first-seed must be an integer >= 0, got -1"),
    ("negative data seed", lambda w: _train("--data-seed", "-3"),
     r"--data-seed must be an integer >= 0, got -3"),
    ("zero epochs", lambda w: _train("--epochs", "0"), r"--epochs must be an integer >= 1, got 0"),
    ("negative batch size", lambda w: _train("--batch-size", "-4"),
     r"--batch-size must be an integer >= 1, got -4"),
    ("zero max-len", lambda w: _train("--max-len", "0"), r"--max-len must be an integer >= 1"),
    ("zero temperature", lambda w: _train("--temperature", "0"),
     r"--temperature must be a finite number > 0, got 0.0"),
    ("dropout 1", lambda w: _train("--dropout", "1"), r"--dropout must be in \[0, 1\), got 1.0"),
    ("NaN learning rate", lambda w: _train("--learning-rate", "nan"),
     r"--learning-rate must be a finite number > 0, got nan"),
    ("vocab size 2", lambda w: _train("--vocab-size", "2"),
     r"--vocab-size must be an integer >= 3"),
    ("zero train size", lambda w: _train("--train-size", "0"), r"--train-size .* got 0"),
    ("zero patience", lambda w: _train("--patience", "0"), r"--patience .* got 0"),
    ("zero cpu devices", lambda w: ["--cpu-devices", "0", *_train()],
     r"--cpu-devices must be an integer >= 1, got 0"),
    ("out is a file", lambda w: _train("--out", str(w["file"])),
     r"--out '.*train.tsv' exists and is not a directory"),
    ("missing split", lambda w: _files(w["data"]),
     r"no file for split 'test' in .*sst2: expected test.tsv.*found \['dev.tsv', 'train.tsv'\]"),
    ("empty split", lambda w: _files(w["data"], "--test-split", "dev", "--train-split",
                                     "train[5:2]"),
     r"--train-split 'train\[5:2\]' of 'sst2' holds no examples"),
    ("bad split syntax", lambda w: _files(w["data"], "--dev-split", "dev[:x]"),
     r"bad slice bound 'x' in split 'dev\[:x\]'"),
    ("bad label row", lambda w: _files(w["bad_row"]),
     r"bad_row/sst2/dev.tsv:3: label '7' is not in the label set \['0', '1'\]"),
    ("not UTF-8", lambda w: _files(w["not_utf8"]), r"not_utf8/sst2/train.tsv:3: not UTF-8 text"),
    ("no run directory", lambda w: ["evaluate", MISSING],
     r"/does/not/exist is not a run directory: config.json is missing"),
    ("unknown eval split", lambda w: ["evaluate", str(w["out"]), "--split", "nope"],
     r"unknown --split 'nope'; allowed: train, dev, test"),
    ("corrupt config.json", lambda w: ["evaluate", str(w["runs"]["corrupt_config"])],
     r"corrupt_config/config.json: not valid JSON"),
    ("config.json without train", lambda w: ["evaluate", str(w["runs"]["config_without_train"])],
     r"config_without_train/config.json: missing entry 'train'"),
    ("missing params", lambda w: ["evaluate", str(w["runs"]["no_params"])],
     r"no_params is not a complete run directory: params.msgpack is missing"),
    ("corrupt params", lambda w: ["evaluate", str(w["runs"]["corrupt_params"])],
     r"corrupt_params/params.msgpack: not a valid params file"),
    ("params of another model", lambda w: ["evaluate", str(w["runs"]["other_model"])],
     r"other_model/params.msgpack does not hold the parameters of the model in config.json"),
    ("run without data options", lambda w: ["evaluate", str(w["runs"]["no_data_options"])],
     r"no_data_options/config.json has no data options"),
    ("reproduce out is a file", lambda w: ["reproduce", "--out", str(w["file"])],
     r"--out '.*train.tsv' exists and is not a directory"),
    ("ray flag without the ray executor", lambda w: ["reproduce", "--ray-address", "auto",
                                                     "--out", str(w["out"])],
     r"--ray-address needs --executor ray"),
    ("negative cell CPUs", lambda w: ["reproduce", "--executor", "ray", "--cell-cpus", "-1",
                                      "--out", str(w["out"])],
     r"cell_cpus must be a number >= 0, got -1.0"),
    ("ray workers with a cluster address", lambda w: [
        "reproduce", "--executor", "ray", "--ray-address", "auto", "--ray-workers", "2",
        "--out", str(w["out"])], r"workers sets the CPUs of a local cluster"),
    ("negative cell retries", lambda w: ["reproduce", "--executor", "ray", "--cell-retries",
                                         "-2", "--out", str(w["out"])],
     r"retries must be an integer >= 0, got -2"),
]


def _snapshot(folder: Path) -> dict[str, bytes]:
  return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
          if p.is_file()}


@pytest.mark.parametrize("name, argv, message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_a_one_line_error(workspace, capsys, name, argv, message):
  argv = argv(workspace)
  if argv[0] == "train" or argv[:2] == ["--cpu-devices", "0"]:
    if "--out" not in argv:
      argv = [*argv, "--out", str(workspace["out"])]
  before = _snapshot(workspace["root"])
  code = cli.main(argv)
  err = capsys.readouterr().err
  command = next(a for a in argv if a in ("train", "evaluate", "reproduce"))
  assert code == 2, err
  assert err.startswith(f"attnjax {command}: error: "), err
  assert len(err.strip().splitlines()) == 1, err
  assert "Traceback" not in err
  assert re.search(message, err), err
  assert _snapshot(workspace["root"]) == before  # nothing written, nothing lost


def test_cli_debug_shows_the_traceback(capsys):
  with pytest.raises(FileNotFoundError, match="does not exist"):
    cli.main(["--debug", "train", "--source", "files", "--data-dir", MISSING, "--data", "sst2"])
  with pytest.raises(ValueError, match="--seeds must be"):
    cli.main(["train", "--seeds", "0", "--debug"])


# --- the model ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
  model = AttentionClassifier(**TINY)
  return model, init_params(model, jax.random.key(0))


@pytest.mark.parametrize("lengths, message", [
    ([3, 0, 4], r"lengths must lie in 1 <= length <= T=4; got 0 at index 1(?!,)"),
    ([5, 1, -1], r"got 5 at index 0, -1 at index 2(?!,)"),
])
def test_bad_lengths_raise_naming_the_examples(tiny, lengths, message):
  model, params = tiny
  with pytest.raises(ValueError, match=message):
    model.apply(params, TOKENS, np.array(lengths))


def test_bad_tokens_and_dtypes_raise(tiny):
  model, params = tiny
  tokens = TOKENS.copy()
  tokens[0, 1], tokens[2, 0] = 12, -1
  with pytest.raises(ValueError, match=r"tokens must be ids in \[0, vocab_size=12\); got 12 at "
                     r"\[b, t\] = \(0, 1\), -1 at \[b, t\] = \(2, 0\)"):
    model.apply(params, tokens, np.array([3, 1, 4]))
  with pytest.raises(ValueError, match="lengths must be integers, got dtype float32"):
    model.apply(params, TOKENS, np.array([3.0, 1.0, 4.0], np.float32))
  with pytest.raises(ValueError, match="tokens must be integer token ids, got dtype float32"):
    model.apply(params, TOKENS.astype(np.float32), np.array([3, 1, 4]))


@pytest.mark.parametrize("changes, message", [
    (dict(unk_id=12), r"unk_id must be a token id in \[0, vocab_size=12\), got 12"),
    (dict(deep_layer_dims=(4, 0), attention="deep"), r"deep_layer_dims width .* got 0"),
    (dict(temperature=float("inf")), "temperature must be finite, got inf"),
    (dict(embedding_std=0.0), "embedding_std must be > 0, got 0.0"),
    (dict(vocab_size=5.5), r"vocab_size must be an integer >= 1, got 5.5"),
    (dict(num_classes=1), "num_classes must be an integer >= 2, got 1"),
])
def test_bad_model_settings_raise(changes, message):
  with pytest.raises(ValueError, match=message):
    AttentionClassifier(**{**TINY, **changes})


@pytest.mark.parametrize("build, message", [
    (lambda m: model_from_dict({"vocab_size": 5, "num_classes": 2, "colour": 1}),
     r"unknown model fields \['colour'\]"),
    (lambda m: model_from_dict({"num_classes": 2}), r"misses the required fields \['vocab_size'\]"),
    (lambda m: TrainConfig.from_dict({"epochs": 3}), "needs its 'model'"),
    (lambda m: TrainConfig.from_json("{"), "not valid JSON"),
    (lambda m: TrainConfig(model=m, grad_clip=-1.0), "grad_clip must be .* got -1.0"),
    (lambda m: TrainConfig(model=m, weight_decay=float("nan")), "weight_decay .* got nan"),
    (lambda m: TrainConfig(model=m, epochs=1.5), "epochs must be an integer, got 1.5"),
    (lambda m: TrainConfig(model=m, frozen="attention"), "frozen must be a sequence"),
    (lambda m: TrainConfig(model=m, bucket_shapes="yes"),
     "bucket_shapes must be True, False or 'auto', got 'yes'"),
])
def test_bad_configs_raise(tiny, build, message):
  with pytest.raises(ValueError, match=message):
    build(tiny[0])


@pytest.mark.parametrize("encoder, normalizer, mode", [
    ("bilstm", "softmax", "learned"),  # the default, with its hand-written backward pass
    ("cnn", "gumbel", "learned"),
    ("embedding", "softmax", "uniform"),
])
def test_length_zero_under_jit_gives_the_output_bias(encoder, normalizer, mode):
  model = AttentionClassifier(**{**TINY, "encoder": encoder}, normalizer=normalizer,
                              attention_mode=mode, dropout=0.2, word_dropout=0.2)
  params = init_params(model, jax.random.key(1))
  params["params"]["output_layer"]["bias"] = jnp.array([0.5, -1.0, 2.0])  # not the init's 0
  rngs = {"dropout": jax.random.key(2), "gumbel": jax.random.key(3)}

  @jax.jit
  def run(params, lengths):
    def loss(params):
      logits, aux = model.apply(params, TOKENS, lengths, train=True, rngs=rngs)
      return jnp.sum(logits ** 2), (logits, aux)
    return jax.grad(loss, has_aux=True)(params)

  # 0: the defined output; 9 > T = 4 and -2 < 0: clipped to 4 and 0.
  grads, (logits, aux) = jax.device_get(run(params, jnp.array([0, 9, -2])))
  bias = params["params"]["output_layer"]["bias"]
  np.testing.assert_array_equal(logits[0], bias)
  np.testing.assert_array_equal(logits[2], bias)
  np.testing.assert_array_equal(aux.attention[[0, 2]], 0.0)
  np.testing.assert_array_equal(aux.context[[0, 2]], 0.0)
  np.testing.assert_allclose(aux.attention.sum(-1), [0.0, 1.0, 0.0], rtol=1e-6)
  assert np.isfinite(logits).all() and np.isfinite(aux.attention).all()
  assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))
  assert not np.array_equal(logits[1], bias)
  np.testing.assert_array_equal(logits[1], run(params, jnp.array([1, 4, 1]))[1][0][1])


def test_lengths_of_at_least_one_keep_the_plain_masked_softmax(tiny):
  # Bit for bit the attention of the code before length 0 was defined: softmax of the
  # scores masked with -inf, and the context it weighs.
  model, params = tiny
  lengths = jnp.array([3, 1, 4])
  _, aux = jax.jit(lambda p: model.apply(p, TOKENS, lengths))(params)
  mask = jnp.arange(4)[None, :] < lengths[:, None]
  plain = jax.jit(lambda s: jax.nn.softmax(jnp.where(mask, s, -jnp.inf), axis=-1))(aux.scores)
  np.testing.assert_array_equal(aux.attention, plain)
  scores = jax.random.normal(jax.random.key(4), (3, 4))
  np.testing.assert_array_equal(masked_softmax(scores, mask),
                                jax.nn.softmax(jnp.where(mask, scores, -jnp.inf), axis=-1))
  empty = mask.at[1].set(False)
  np.testing.assert_array_equal(masked_softmax(scores, empty)[1], 0.0)
  grad = jax.grad(lambda s: masked_softmax(s, empty)[:, 0].sum())(scores)
  assert np.isfinite(grad).all() and not grad[1].any()


# --- MI estimators ------------------------------------------------------------------------


N = 64
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 2)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int32)
X_NAN = X.copy()
X_NAN[3, 1] = np.nan
X_NAN[5, 0] = np.inf


@pytest.mark.parametrize("call, message", [
    (lambda: mi.estimate(X_NAN, LABELS, method="mixed_ksg"),
     r"x holds 2 non-finite value\(s\) \(NaN or inf\) in masked-in samples, in rows \[3, 5\]"),
    (lambda: mi.estimate(X, np.where(np.arange(N) == 7, np.nan, X[:, 0]), method="ksg"),
     r"y holds 1 non-finite value\(s\) .* in rows \[7\]"),
    (lambda: mi.per_position(np.stack([X, X_NAN], 1), LABELS, method="mixed_ksg"),
     r"h holds 2 non-finite .* at positions \[1\], \(row, position\) \[\(3, 1\), \(5, 1\)\]"),
    (lambda: mi.estimate(X[:0], LABELS[:0], method="mixed_ksg"), r"x has no samples"),
    (lambda: mi.estimate(X, LABELS, method="mixed_ksg", k=N), r"k=64 .* \[1, N\) with N = 64"),
    (lambda: mi.estimate(X, LABELS, method="binning", bins=0), r"bins=0 .* integer >= 1"),
    (lambda: mi.estimate(X, LABELS, method="mixed_ksg", min_count=-1), r"min_count .* got -1"),
    (lambda: mi.estimate(X, LABELS, method="probe", key=jax.random.key(0), num_classes=1),
     r"needs labels y in \[0, num_classes=1\); got \[1, "),
    (lambda: mi.estimate(np.array(["a"] * N), LABELS, method="mixed_ksg"), r"numeric array"),
    (lambda: mi.per_position(X[:, None], LABELS, method="mixed_ksg", position_batch=0),
     r"position_batch must be an integer >= 1 or None or 'auto', got 0"),
])
def test_bad_mi_inputs_raise(call, message):
  with pytest.raises(ValueError, match=message):
    call()


def test_non_finite_masked_out_samples_are_ignored():
  mask = np.isfinite(X_NAN).all(-1)
  value = mi.estimate(X_NAN, LABELS, method="mixed_ksg", mask=mask).value
  clean = mi.estimate(np.where(mask[:, None], X, 0.0), LABELS, method="mixed_ksg", mask=mask)
  assert np.isfinite(value) and value == clean.value


def test_non_finite_inputs_under_jit_and_vmap_give_nan():
  run = jax.jit(lambda x: mi.estimate(x, LABELS, method="mixed_ksg", min_count=5).value)
  assert np.isnan(run(X_NAN))
  np.testing.assert_allclose(run(X), mi.estimate(X, LABELS, method="mixed_ksg").value)
  h = np.stack([X, X_NAN, X * 2], 1)
  curve = jax.jit(lambda h: mi.per_position(h, LABELS, method="mixed_ksg"))(h)
  assert np.isnan(curve[1]) and np.isfinite(np.asarray(curve)[[0, 2]]).all()


def test_per_position_returns_counts_under_jit_and_vmap():
  h = np.stack([X, X * 2, -X], 1)  # [N, T=3, D]
  mask = np.ones((N, 3), bool)
  mask[10:, 1] = False  # position 1: 10 samples, fewer than min_count = 20
  with pytest.warns(RuntimeWarning, match=r"positions \[1\]"):
    values, counts = mi.per_position(h, LABELS, mask=mask, method="mixed_ksg",
                                     return_counts=True)
  assert counts.dtype == jnp.int32
  np.testing.assert_array_equal(counts, [N, 10, N])
  assert np.isnan(values[1]) and np.isfinite(np.asarray(values)[[0, 2]]).all()
  run = jax.jit(jax.vmap(lambda h, m: mi.per_position(h, LABELS, mask=m, method="mixed_ksg",
                                                        return_counts=True)))
  masks = np.stack([mask, np.ones_like(mask)])
  seed_values, seed_counts = run(np.stack([h, h]), masks)
  assert seed_values.shape == seed_counts.shape == (2, 3)
  np.testing.assert_array_equal(seed_counts, [[N, 10, N], [N, N, N]])
  np.testing.assert_array_equal(np.isnan(seed_values), seed_counts < mi.MIN_COUNT)
  np.testing.assert_allclose(seed_values[0], values, rtol=1e-6)


def test_legacy_uint32_keys_work_for_trained_estimators():
  # The probe's early stopping reshaped the step keys assuming typed keys.
  loss = lambda p, state, batch, w: (jnp.mean((batch - p) ** 2), (jnp.float32(0), state))
  select = lambda p, state: jnp.abs(p - 1.0)
  runs = [fit.minimize(loss, jnp.float32(0), (), jnp.ones(8), jnp.ones(8), key, steps=6,
                       batch_size=4, optimizer=optax.sgd(0.1), select=select, eval_every=2)
          for key in (jax.random.PRNGKey(0), jax.random.key(0))]
  for run in runs:
    assert run.curve.shape == (6,) and run.scores.shape == (4,)


# --- explainers and data ------------------------------------------------------------------


def test_bad_explainer_inputs_raise(tiny):
  model, params = tiny
  lengths = np.array([3, 1, 4])
  with pytest.raises(ValueError, match=r"tokens must be ids in \[0, vocab_size=12\)"):
    explain.gradient(model, params, np.where(TOKENS == 9, 40, TOKENS), lengths)
  other = init_params(AttentionClassifier(**{**TINY, "embed_dim": 8}), jax.random.key(0))
  with pytest.raises(ValueError, match=r"params do not fit the model.*\(12, 8\) \(expected"):
    explain.gradient(model, other, TOKENS, lengths)
  with pytest.raises(ValueError, match="num_samples must be an integer >= 20 .*, got 0"):
    explain.instance_mi(model, params, TOKENS, lengths, num_samples=0)


def test_bad_data_inputs_raise(tmp_path):
  with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
    load("planted", split="train", size=8, seed=-1)
  with pytest.raises(ValueError, match=r"unknown planted_options \['colour'\]"):
    load("planted", split="train", size=8, planted_options={"colour": 1})
  with pytest.raises(ValueError, match=r"tokens must be \[N, T\], got shape \(3,\)"):
    TextDataset(np.zeros(3, np.int32), np.ones(3, np.int32), np.zeros(3, np.int32), ("a", "b"))
  path = tmp_path / "train.tsv"
  path.write_bytes(b"sentence\tlabel\nfine\t1\nalso fine\t0\n\xe9t\xe9\t1\n")
  with pytest.raises(ValueError, match=r"train.tsv:4: not UTF-8 text"):
    files.read_rows(path, FilesFormat())


def test_bad_seeds_and_perturbation_settings_raise(tiny):
  from attnjax.explain import instance_position_mi, perturbed_internals
  from attnjax.data import planted
  from attnjax.training import train

  model, params = tiny
  config = TrainConfig(model=AttentionClassifier(**{**TINY, "num_classes": 2}), epochs=1)
  data = planted(jax.random.key(0), 8, seq_len=4, vocab_size=12)
  for seeds, shown in (([-1], r"\[-1\]"), ([2**32], r"\[4294967296\]"), ([0, 1.5], r"\[1.5\]"),
                       ("ab", r"\['a', 'b'\]"), (True, "True")):
    with pytest.raises(ValueError, match=rf"seeds must be .*got {shown}"):
      train(config, seeds, data, progress=False)
  lengths, key = np.array([3, 1, 4]), jax.random.key(0)
  for options, message in ((dict(num_samples=1), "num_samples must be an integer >= 20 .*, got 1"),
                           (dict(scale=-1.0), "scale must be a finite number > 0, got -1.0"),
                           (dict(perturbation="dropout", rate=1.0), r"rate must be in \(0, 1\)"),
                           (dict(batch_size=0), "batch_size must be an integer >= 1, got 0")):
    with pytest.raises(ValueError, match=message):
      instance_position_mi(model, params, TOKENS, lengths, key=key, **options)
  with pytest.raises(ValueError, match="scale must be a finite number > 0, got nan"):
    perturbed_internals(model, params, TOKENS, lengths, key=key, scale=float("nan"))
