"""Whole-split accuracy of a `reproduce` run's cells, against a plain per-seed forward pass."""

import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from attnjax.data import Vocab, load_splits
from attnjax.models import select_seed
from attnjax.reproduce import reproduce
from attnjax.reproduce.cell_measurements import AnalysisSettings
from attnjax.reproduce.split_accuracy import split_accuracy
from attnjax.training import load_run

TINY = dict(
    data=("planted",), seeds=2, preset="quick", progress=False, only=(3,),  # one cell
    analysis=AnalysisSettings(eval_examples=40, explain_examples=2, num_samples=24,
                              robustness_method=None, calibration_replicates=0),
    config_changes={"epochs": 1, "model.embed_dim": 8, "model.hidden_dim": 8,
                    "model.attention_dim": 8, "model.deep_layer_dims": (8, 8)},
    data_overrides={"splits": ("train[:160]", "dev[:40]", "test[:60]"), "max_len": 12})


def test_split_accuracy_evaluates_every_seed_on_the_whole_split(tmp_path, capsys):
  reproduce(tmp_path, **TINY)
  # The report says which test examples its accuracy is over, and where the whole split's is.
  report = (tmp_path / "report.md").read_text()
  assert "Accuracy, attention statistics and dataset-level MI are over the first 40 test " \
      "examples" in report and "experiments/split_accuracy.py" in report
  results = split_accuracy(tmp_path, "planted")
  assert list(results) == ["bilstm-additive"]
  test = load_splits("planted", ("train[:160]", "dev[:40]", "test[:60]"), max_len=12)["test[:60]"]
  for name, r in results.items():
    run = load_run(tmp_path / "planted" / "cells" / name / "run").result
    # Reference: one unbucketed forward pass per seed over all 60 test examples.
    expected = [float((np.asarray(run.model.apply(select_seed(run.params, s), test.tokens,
                                                  test.lengths)[0]).argmax(-1)
                       == test.labels).mean()) for s in range(2)]
    np.testing.assert_allclose(r["accuracy"], expected, atol=1e-6)
    assert r["n"] == 60 and r["seeds"] == [0, 1]
    assert r["summary"]["mean"] == pytest.approx(np.mean(expected))
    # The analysis measured accuracy on its 40 examples only: a different number of examples.
    analysed = np.load(tmp_path / "planted" / "cells" / name / "analysis.npz")
    assert analysed["attention"].shape[1] == 40
  assert split_accuracy(tmp_path, "planted", split="dev")["bilstm-additive"]["n"] == 40

  # A cell still training (no run yet) is skipped with a notice, unless it is asked for.
  (tmp_path / "planted" / "cells" / "bilstm-pending").mkdir()
  assert "bilstm-pending" not in split_accuracy(tmp_path, "planted", cells=None)
  assert "no saved run" in capsys.readouterr().err
  with pytest.raises(ValueError, match="cell 'bilstm-pending' has no saved run"):
    split_accuracy(tmp_path, "planted", cells=["bilstm-pending"])
  with pytest.raises(ValueError, match="unknown split 'val'; allowed: train, dev, test"):
    split_accuracy(tmp_path, "planted", split="val")
  with pytest.raises(ValueError, match="does not exist"):
    split_accuracy(tmp_path, "sst2")
  # The script writes OUT/<dataset>_<split>_accuracy.json; run again after a cell was
  # archived without parameters, it skips the cell and keeps the entry it wrote for it.
  script = runpy.run_path(str(Path(__file__).parents[1] / "experiments" / "split_accuracy.py"))
  assert script["main"]([str(tmp_path), "--data", "planted"]) == 0
  written = tmp_path / "planted_test_accuracy.json"
  first = json.loads(written.read_text())["cells"]
  np.testing.assert_allclose(first["bilstm-additive"]["accuracy"],
                             results["bilstm-additive"]["accuracy"])
  params = tmp_path / "planted" / "cells" / "bilstm-additive" / "run" / "params.msgpack"
  kept = params.read_bytes()
  params.unlink()
  assert split_accuracy(tmp_path, "planted") == {}
  assert "archived without parameters; skipped" in capsys.readouterr().err
  with pytest.raises(ValueError, match="has no parameters"):
    split_accuracy(tmp_path, "planted", cells=["bilstm-additive"])
  assert script["main"]([str(tmp_path), "--data", "planted"]) == 0
  assert json.loads(written.read_text())["cells"] == first
  params.write_bytes(kept)
  # A saved vocabulary other than the one the corpus files give: other files, refused.
  Vocab(["<pad>", "<unk>", "a"]).save(tmp_path / "planted" / "cells" / "bilstm-additive" / "run"
                                      / "vocab.json")
  with pytest.raises(ValueError, match="differs from the vocabulary built from"):
    split_accuracy(tmp_path, "planted", cells=["bilstm-additive"])
  # A stamp naming other data is refused.
  config = tmp_path / "planted" / "cells" / "bilstm-additive" / "run" / "config.json"
  saved = json.loads(config.read_text())
  saved["extra"]["stamp"]["data_id"] = json.dumps({"dataset": "sst2", "splits": ["train"]})
  config.write_text(json.dumps(saved))
  with pytest.raises(ValueError, match="not on 'planted'"):
    split_accuracy(tmp_path, "planted", cells=["bilstm-additive"])
