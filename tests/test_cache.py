"""Caches keyed on what computed them; strict JSON; NaNs counted in summaries and reports."""

import dataclasses
import importlib
import json
import sys

import chex
import jax
import numpy as np
import pytest

from attnjax import fingerprint as fp
from attnjax.analysis import mean_ci, seed_summary
from attnjax.data import load_splits
from attnjax.io import nan_for_null, read_json, strict_json, write_json_atomic
from attnjax.models import AttentionClassifier
from attnjax.reproduce import cell_measurements as cm
from attnjax.reproduce import building_blocks, cells, report, reproduce
from attnjax.training import TrainConfig, train

MODULE = '''"""A module."""
import math

SCALE = 2.0
"""The scale."""


def f(x):
  """Doubles."""
  # a comment
  return SCALE * x
'''


def _load(folder, name, source):
  folder.mkdir(exist_ok=True)
  (folder / f"{name}.py").write_text(source)
  sys.path.insert(0, str(folder))
  try:
    importlib.invalidate_caches()
    return importlib.import_module(name)
  finally:
    sys.path.remove(str(folder))
    sys.modules.pop(name, None)


@pytest.mark.parametrize("edit, module_same, function_same", [
    (lambda s: s.replace("# a comment", "# another comment, longer"), True, True),
    (lambda s: s.replace('"""Doubles."""', '"""Doubles x.\n\n  Args: x.\n  """'), True, True),
    (lambda s: s.replace('"""The scale."""', ""), True, True),
    (lambda s: s.replace("return SCALE * x", "return (SCALE\n          * x)"), True, True),
    (lambda s: s.replace("SCALE = 2.0", "SCALE = 2.5"), False, True),  # outside f
    (lambda s: s.replace("SCALE * x", "x * SCALE"), False, False),
    (lambda s: s.replace("def f(x):", "def f(x, y=1):"), False, False),
    (lambda s: s + "\n\ndef g():\n  return 1\n", False, True),
])
def test_fingerprint_ignores_comments_and_docs_not_code(tmp_path, edit, module_same,
                                                        function_same):
  assert edit(MODULE) != MODULE
  base = _load(tmp_path / "a", "fp_module", MODULE)
  edited = _load(tmp_path / "b", "fp_module", edit(MODULE))
  assert (fp.fingerprint([base]) == fp.fingerprint([edited])) is module_same
  assert (fp.fingerprint([base.f]) == fp.fingerprint([edited.f])) is function_same


def test_module_closure_follows_attnjax_imports():
  names = {m.__name__ for m in fp.module_closure("attnjax.training.loop")}
  # loop imports models.classifier, which imports encoders and attention.
  assert {"attnjax.training.loop", "attnjax.models.classifier", "attnjax.models.encoders",
          "attnjax.models.attention", "attnjax.training.collect"} <= names
  assert not any(n.startswith("attnjax.reproduce") for n in names)
  # The estimators are covered by the analysis fingerprint, the CLI by none.
  analysis_modules = {m.__name__ for m in fp.module_closure("attnjax.analysis.position_mi")}
  assert {"attnjax.mi.knn", "attnjax.mi.probe", "attnjax.mi.registry"} <= analysis_modules
  assert "attnjax.cli" not in analysis_modules | names


def test_named_key_is_stable_and_anagrams_differ():
  key = jax.random.key(0)
  data = lambda k: np.asarray(jax.random.key_data(k)).tolist()
  # The old scheme, fold_in(key, sum(map(ord, name))), gave these two the same key.
  assert sum(map(ord, "cnn-additive")) == sum(map(ord, "cnn-addivite"))
  assert data(cells.named_key(key, "cnn-additive")) != data(cells.named_key(key, "cnn-addivite"))
  # Stable across processes and runs: a fixed hash, not Python's salted hash().
  assert cells.key_stamp(cells.named_key(key, "x")) == cells.key_stamp(cells.named_key(key, "x"))
  expected = jax.random.fold_in(key, int.from_bytes(
      bytes.fromhex("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")[:4],
      "little"))  # sha256(b"x")
  assert cells.key_stamp(cells.named_key(key, "x")) == cells.key_stamp(expected)


def test_strict_json_and_reads(tmp_path):
  obj = {"a": float("nan"), "b": [np.float32(1.5), np.inf, -np.inf], "c": np.arange(2),
         "d": (np.int64(3), "x")}
  path = write_json_atomic(tmp_path / "r.json", obj)
  text = path.read_text()
  assert "NaN" not in text and "Infinity" not in text
  def reject(token):
    raise AssertionError(token)
  loaded = json.loads(text, parse_constant=reject)
  assert loaded == {"a": None, "b": [1.5, None, None], "c": [0, 1], "d": [3, "x"]}
  assert np.isnan(nan_for_null(loaded)["a"]) and nan_for_null(loaded)["d"] == [3, "x"]
  assert strict_json({"x": (1, 2)}) == {"x": [1, 2]}
  assert read_json(tmp_path / "missing.json") is None
  (tmp_path / "bad.json").write_text('{"a": NaN}')
  with pytest.raises(ValueError, match=r"bad.json exists but is not readable JSON.*NaN"):
    read_json(tmp_path / "bad.json")


def test_reproduce_refuses_a_corrupt_results_json_and_keeps_it(tmp_path):
  (tmp_path / "results.json").write_text('{"meta": {"seeds": 2}, "results": {')
  with pytest.raises(ValueError, match="results.json exists but is not readable JSON"):
    reproduce(tmp_path, seeds=2, preset="quick", progress=False, only=(1,))
  assert (tmp_path / "results.json").read_text() == '{"meta": {"seeds": 2}, "results": {'


def test_mean_ci_counts_dropped_values():
  summary = mean_ci([0.5, np.nan, 0.7, np.inf], undefined="seed diverged")
  assert summary["n"] == 2 and summary["dropped"] == 2 and summary["undefined"] == "seed diverged"
  assert summary["mean"] == pytest.approx(0.6)
  assert "undefined" not in mean_ci([0.5, 0.7], undefined="never shown")
  per_seed = seed_summary(np.array([[1.0, np.nan, 3.0], [np.nan] * 3, [2.0, 2.0, 2.0]]),
                          undefined="τ of a constant ranking")
  assert per_seed["n"] == 2 and per_seed["dropped"] == 1  # seed 2 has no defined value
  assert per_seed["values"] == {"defined": 5, "total": 9}
  assert per_seed["mean"] == pytest.approx(2.0)  # mean of the per-seed means 2 and 2


def test_report_prints_n_and_notes_what_was_left_out():
  rows = {"learned": {"tau": seed_summary(np.array([[0.2, np.nan], [0.4, 0.4]]),
                                          undefined="τ undefined for constant attention")},
          "uniform": {"tau": seed_summary(np.full((2, 2), np.nan),
                                          undefined="τ undefined for constant attention")},
          "published": {"tau": {"mean": 0.35, "ci": None, "n": 0, "published": True}},
          "other": {"accuracy": mean_ci([0.9, 0.8])}}
  text = "\n".join(report._table(json.loads(json.dumps(strict_json(rows)))))
  assert "0.300 ± 1.271 (n=2) [1]" in text
  assert "| uniform | undefined (n=0) [2] |" in text
  assert "| published | 0.350 (published) | — |" in text  # no accuracy measured: a dash
  assert "| other | — | 0.850 ± 0.635 (n=2) |" in text
  assert "[1] learned, tau: 1 of 4 values undefined and left out of the per-seed means " \
         "(τ undefined for constant attention)." in text
  assert "[2] uniform, tau: 2 of 2 per-seed value(s) undefined" in text


def test_finding_5_ranks_undefined_tau_last_explicitly():
  taus = {"bilstm": [np.nan, np.nan, 0.1], "cnn": [0.3, 0.2, np.nan]}

  class StubLab:
    encoders = ("bilstm", "cnn")

    def cell(self, name, **changes):
      encoder, attention = name.split("-", 1)
      value = taus[encoder][("additive", "deep", "scaled_dot").index(attention)]
      return {"tau": np.full((3, 4), value), "accuracy": np.full(3, 0.9)}

  result = building_blocks.EXPERIMENT.judged(building_blocks.measure(StubLab()))
  assert result["order"] == ["cnn + additive", "cnn + deep", "bilstm + scaled_dot",
                             "bilstm + additive", "bilstm + deep", "cnn + scaled_dot"]
  assert "3 cell(s) with undefined τ" in result["rule"] and "ranks 4 of 6" in result["rule"]
  assert result["verdict"] == "not reproduced"  # rank 4 of 6 would be mixed; τ is undefined
  taus["bilstm"][0] = 0.25
  result = building_blocks.EXPERIMENT.judged(building_blocks.measure(StubLab()))
  assert result["order"][:3] == ["cnn + additive", "bilstm + additive", "cnn + deep"]
  assert "ranks between 2 and 2" in result["rule"]  # constant τ per cell: differences are exact
  assert result["verdict"] == "reproduced"


TINY_MODEL = dict(embed_dim=8, hidden_dim=8, attention_dim=8, deep_layer_dims=(8, 8))


@pytest.fixture(scope="module")
def tiny_splits():
  loaded = load_splits("planted", ("train[:96]", "dev[:32]", "test[:40]"), max_len=10)
  return dict(zip(("train", "dev", "test"), loaded.values()))


def test_cell_cache_keyed_on_code_settings_and_key(tmp_path, tiny_splits, monkeypatch):
  model = AttentionClassifier(vocab_size=1000, num_classes=2, **TINY_MODEL)
  config = TrainConfig(model=model, epochs=1, batch_size=32)
  settings = cells.AnalysisSettings(eval_examples=32, explain_examples=2, num_samples=24,
                                    robustness_method=None)
  key = jax.random.key(3)
  folder = tmp_path / "cell"

  def spec(settings=settings, key=key, **changes):
    return cells.CellSpec.of(folder, config.replace(**changes), (0, 1), settings, key,
                             data_id="tiny")

  def run(settings=settings, key=key):
    return cells.analysed(spec(settings, key), tiny_splits, progress=False)

  def mtimes():
    return {name: (folder / name).stat().st_mtime_ns
            for name in ("run/params.msgpack", "analysis.npz")}

  assert cells.status(spec()) == cells.MISSING
  first = run()
  assert cells.status(spec()) == cells.ANALYSED
  assert cells.status(spec(key=jax.random.key(4))) == cells.TRAINED
  stamp = json.loads((folder / "analysis.json").read_text())
  assert stamp["code"] == cells.analysis_code() and stamp["run"]["code"] == cells.run_code()
  assert stamp["key"] == cells.key_stamp(key)
  before = mtimes()
  run()  # everything matches: nothing recomputed
  assert mtimes() == before
  (folder / "explanations.npz").write_bytes(b"derived")
  # Changed analysis code (e.g. an estimator edit): re-analysed, not retrained, derived files go.
  monkeypatch.setattr(cells, "analysis_code", lambda: "0123456789abcdef")
  again = run()
  after = mtimes()
  assert after["run/params.msgpack"] == before["run/params.msgpack"]
  assert after["analysis.npz"] != before["analysis.npz"]
  assert not (folder / "explanations.npz").exists()
  np.testing.assert_array_equal(again["dataset_mi"], first["dataset_mi"])  # same code really
  # Another analysis key: re-analysed with it, the numbers change.
  other = run(key=jax.random.key(4))
  assert not np.array_equal(other["instance_mi"], first["instance_mi"])
  assert mtimes()["run/params.msgpack"] == before["run/params.msgpack"]
  # Changed training code: retrained (same numbers here, since the code did not really change).
  monkeypatch.setattr(cells, "run_code", lambda: "fedcba9876543210")
  (folder / ".analysis.npz.x1y2.tmp").write_bytes(b"half-written by a killed writer")
  retrained = run(key=jax.random.key(4))
  assert mtimes()["run/params.msgpack"] != before["run/params.msgpack"]
  np.testing.assert_array_equal(retrained["accuracy"], other["accuracy"])
  assert not list(folder.rglob("*.tmp"))
  saved = json.loads((folder / "run" / "config.json").read_text())
  assert saved["extra"]["stamp"] == {"code": "fedcba9876543210", "data_id": "tiny"}
  # Archived without parameters (`attnjax.reproduce.archive`) and its analysis stale:
  # retrained, to the same parameters and numbers.
  (folder / "run" / "params.msgpack").unlink()
  monkeypatch.setattr(cells, "analysis_code", lambda: "00112233aabbccdd")
  rearchived = run(key=jax.random.key(4))
  assert (folder / "run" / "params.msgpack").is_file()
  np.testing.assert_array_equal(rearchived["attention"], retrained["attention"])
  # Other data or config are refused, never silently recomputed over.
  with pytest.raises(ValueError, match="other data"):
    cells.analysed(cells.CellSpec.of(folder, config, (0, 1), settings, key, data_id="other"),
                   tiny_splits, progress=False)
  with pytest.raises(ValueError, match="different run"):
    cells.status(spec(epochs=2))


def test_a_cell_measurement_is_one_table_entry_with_its_switch(tiny_splits, monkeypatch):
  """`cell_measurements.MEASUREMENTS`: an added entry runs on the cell's inputs (shapes checked)
  when its switch says so; the second estimator and calibration follow their settings."""
  model = AttentionClassifier(vocab_size=1000, num_classes=2, **TINY_MODEL)
  config = TrainConfig(model=model, epochs=1, batch_size=32)
  params = train(config, (0, 1), tiny_splits["train"], tiny_splits["dev"], progress=False).params
  settings = cm.AnalysisSettings(eval_examples=32, explain_examples=2, num_samples=24,
                                 robustness_method=None, calibration_replicates=0)
  seen = []

  def context_norm(cell):
    seen.append(cell)
    return {"context_norm": np.linalg.norm(cell.context, axis=-1)}

  monkeypatch.setitem(cm.MEASUREMENTS, "context_norm",
                      cm.Measurement(context_norm, lambda s: s.num_samples == 24))
  arrays = cm.analyze(config, params, tiny_splits["test"], settings, jax.random.key(0))
  (cell,) = seen
  s, n, t = 2, 32, tiny_splits["test"].max_length
  chex.assert_shape([cell.attention, cell.hidden, cell.context, cell.logits],
                    [(s, n, t), (s, n, t, None), (s, n, None), (s, n, 2)])
  chex.assert_shape([cell.mask, cell.predicted], [(n, t), (s, n)])
  assert cell.hidden.shape[-1] == cell.context.shape[-1]
  np.testing.assert_array_equal(cell.predicted, cell.logits.argmax(-1))
  np.testing.assert_allclose(arrays["context_norm"], np.linalg.norm(cell.context, axis=-1))
  np.testing.assert_allclose(arrays["accuracy"],
                             (cell.predicted == tiny_splits["test"].labels[:n]).mean(-1))
  assert "dataset_mi_robust" not in arrays
  assert not any(name.startswith("calibration/") for name in arrays)
  # Switched off by its own rule; the second estimator on by the settings'.
  robust = dataclasses.replace(settings, num_samples=32, robustness_method="probe")
  again = cm.analyze(config, params, tiny_splits["test"], robust, jax.random.key(0))
  assert len(seen) == 1 and "context_norm" not in again
  assert again["dataset_mi_robust"].shape == again["dataset_mi"].shape == (s, t)
  np.testing.assert_array_equal(again["dataset_mi"], arrays["dataset_mi"])  # same key, same MI
