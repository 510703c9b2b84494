"""Cells carried without parameters (`attnjax.reproduce.archive`): what an archive keeps and
refuses. A reproduction resumed from an archive is tested end to end in test_reproduce."""

import zipfile

import jax
import numpy as np
import pytest

from attnjax.reproduce import archive, cells


def _files(folder):
  return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


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
  packed = tmp_path / "archive" / "sst2" / "cells" / "bilstm-additive" / "analysis.npz"
  with zipfile.ZipFile(packed) as z:  # arrays stored compressed, the same arrays
    assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
  np.testing.assert_array_equal(np.load(packed)["values"], np.arange(3.0))
  assert archive.archive_cells(tmp_path, tmp_path / "archive") == []  # nothing new
  assert archive.restore_cells(tmp_path / "archive", tmp_path) == []  # same content

  # Restoring over a folder that holds other numbers is refused, nothing overwritten.
  other = tmp_path / "other"
  target = other / "sst2" / "cells" / "bilstm-additive" / "run" / "metrics.json"
  target.parent.mkdir(parents=True)
  target.write_text("{}")
  with pytest.raises(FileExistsError, match="metrics.json exists and differs"):
    archive.restore_cells(tmp_path / "archive", other)
  assert target.read_text() == "{}"
  np.savez(other / "sst2" / "cells" / "bilstm-additive" / "analysis.npz", values=np.ones(3))
  with pytest.raises(FileExistsError, match="analysis.npz exists and differs"):
    archive.restore_cells(tmp_path / "archive", other)


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
    cells.trained(cells.CellSpec.of(tmp_path / "cell", config, (0,), cells.AnalysisSettings(),
                                    jax.random.key(0)), {}, progress=False)
