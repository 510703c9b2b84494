"""Cells carried without parameters (`attnjax.reproduce.archive`): a reproduction resumed from
an archive gives the same results without training, and retrains only where it needs parameters."""

import json
import zipfile

import numpy as np
import pytest

from attnjax.reproduce import ablation, archive, cells, reproduce
from attnjax.reproduce.cell_measurements import AnalysisSettings

TINY = dict(
    data=("planted",), seeds=2, quick=True, progress=False, encoders=("bilstm",),
    temperatures=(0.5,), only=(2,),
    analysis=AnalysisSettings(eval_examples=60, explain_examples=3, num_samples=24,
                              robustness_method=None, calibration_replicates=0),
    config_changes={"epochs": 1, "model.embed_dim": 8, "model.hidden_dim": 8,
                    "model.attention_dim": 8, "model.deep_layer_dims": (8, 8)},
    data_overrides={"splits": ("train[:160]", "dev[:40]", "test[:60]"), "max_len": 12})


def _files(folder):
  return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_run_resumed_from_its_archive_needs_no_parameters(tmp_path, monkeypatch):
  monkeypatch.setattr("attnjax.reproduce.write_figures", lambda *args: [])
  first = reproduce(tmp_path / "a", **TINY)
  saved = archive.archive_cells(tmp_path / "a", tmp_path / "archive")
  kept = _files(tmp_path / "archive")
  assert saved and len(saved) == len(kept)
  assert not [f for f in kept if f.endswith((".msgpack", "vocab.json", ".lock"))]
  cell = "planted/cells/bilstm-additive"
  assert [f for f in kept if f.startswith(cell + "/")] == [
      f"{cell}/{name}" for name in ("analysis.json", "analysis.npz", "run/config.json",
                                    "run/metrics.json", "swapped.json", "swapped.npz")]
  assert archive.archive_cells(tmp_path / "a", tmp_path / "archive") == []  # nothing new
  packed, original = (folder / cell / "analysis.npz" for folder in (tmp_path / "archive",
                                                                     tmp_path / "a"))
  with zipfile.ZipFile(packed) as z:
    assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
  with np.load(packed) as x, np.load(original) as y:
    assert x.files == y.files
    for k in x.files:
      np.testing.assert_array_equal(x[k], y[k])
  assert archive.restore_cells(tmp_path / "archive", tmp_path / "a") == []  # same arrays

  restored = tmp_path / "b"
  assert len(archive.restore_cells(tmp_path / "archive", restored)) == len(kept)
  again = reproduce(restored, **TINY)  # every cell and every experiment's arrays reused
  assert not list(restored.rglob("params.msgpack"))
  assert json.dumps(again["planted"]["2"]) == json.dumps(first["planted"]["2"])

  # Stale arrays of an experiment that needs parameters (here: the swapped-attention code):
  # the archived cell is retrained for them (`cells.trained_run`), nothing else is, and the
  # same code, config and seeds give the same numbers.
  monkeypatch.setattr(ablation, "swapped_code", lambda: "0123456789abcdef")
  retrained = reproduce(restored, **TINY)
  assert [p.parent.parent.name for p in restored.rglob("params.msgpack")] == ["bilstm-additive"]
  assert json.dumps(retrained["planted"]["2"]) == json.dumps(first["planted"]["2"])
  assert json.loads((restored / cell / "swapped.json").read_text())["code"] == "0123456789abcdef"

  # Restoring over a folder that holds other numbers is refused, nothing overwritten.
  other = tmp_path / "c"
  target = other / cell / "run" / "metrics.json"
  target.parent.mkdir(parents=True)
  target.write_text("{}")
  with pytest.raises(FileExistsError, match="metrics.json exists and differs"):
    archive.restore_cells(tmp_path / "archive", other)
  assert target.read_text() == "{}"


def test_an_archive_keeps_measurements_and_stamps_not_parameters(tmp_path):
  cell = tmp_path / "sst2" / "cells" / "bilstm-additive"
  (cell / "run").mkdir(parents=True)
  for name in ("analysis.npz", "analysis.json", "explanations.npz", "explanations.json",
               "faithfulness.npz", "faithfulness.json", "epoch_state.msgpack", "claim.lock",
               ".analysis.npz.x1y2.tmp", "run/params.msgpack", "run/vocab.json",
               "run/config.json", "run/metrics.json"):
    if name.endswith(".npz"):
      np.savez(cell / name, values=np.arange(3.0))
    else:
      (cell / name).write_bytes(name.encode())
  untrained = tmp_path / "sst2" / "cells" / "bilstm-deep"  # killed before its run was saved
  untrained.mkdir()
  (untrained / "epoch_state.msgpack").write_bytes(b"checkpoint")
  archive.archive_cells(tmp_path, tmp_path / "archive")
  assert _files(tmp_path / "archive") == [
      f"sst2/cells/bilstm-additive/{name}" for name in (
          "analysis.json", "analysis.npz", "explanations.json", "explanations.npz",
          "faithfulness.json", "faithfulness.npz", "run/config.json", "run/metrics.json")]


def test_archive_refuses_a_folder_without_cells(tmp_path):
  with pytest.raises(FileNotFoundError, match="holds no cells"):
    archive.archive_cells(tmp_path, tmp_path / "archive")
  with pytest.raises(FileNotFoundError, match="holds no cells"):
    archive.restore_cells(tmp_path, tmp_path / "out")


def test_trained_run_refuses_a_cell_that_was_never_run(tmp_path):
  from attnjax.models import AttentionClassifier
  from attnjax.training import TrainConfig
  config = TrainConfig(model=AttentionClassifier(vocab_size=10, num_classes=2), epochs=1)
  with pytest.raises(ValueError, match="run the cell first"):
    cells.trained_run(tmp_path / "cell", config, (0,), {}, progress=False)
