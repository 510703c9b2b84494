"""A tiny end-to-end `reproduce`: every finding's section, figure and finite numbers; resumes."""

import json

import numpy as np
import pytest

from attnjax.io import strict_json
from attnjax.reproduce import (ReproduceOptions, ablation, archive, cells, compute_cell,
                               dataset_cells, explanations, findings, reproduce)
from attnjax.reproduce.cell_measurements import AnalysisSettings

TINY = dict(
    data=("planted",), seeds=2, preset="quick", progress=False, encoders=("bilstm",),
    temperatures=(0.5,),
    analysis=AnalysisSettings(eval_examples=60, explain_examples=3, num_samples=24),
    config_changes={"epochs": 1, "model.embed_dim": 8, "model.hidden_dim": 8,
                    "model.attention_dim": 8, "model.deep_layer_dims": (8, 8)},
    data_overrides={"splits": ("train[:160]", "dev[:40]", "test[:60]"), "max_len": 12})


def _finite_means(node):
  if isinstance(node, dict):
    if "mean" in node and "ci" in node:
      yield node["mean"]
    for value in node.values():
      yield from _finite_means(value)


def _reject(token):
  raise AssertionError(f"results.json is not strict JSON: {token}")


def test_reproduce_writes_every_section_and_figure_and_resumes(tmp_path, monkeypatch):
  # The cells first computed one at a time (`compute_cell`, as experiments/compute_cells.py
  # does), each with every measurement its experiments read from its parameters: the
  # report then trains and measures nothing.
  options = ReproduceOptions(**TINY)
  lab, plan = dataset_cells(tmp_path, "planted", options)
  with pytest.raises(ValueError, match="unknown cell 'lstm-additive'.*allowed: bilstm-additive"):
    compute_cell(lab, "lstm-additive", {}, options.experiments)
  for name, changes in plan.items():
    compute_cell(lab, name, changes, options.experiments)
  folder = tmp_path / "planted" / "cells"
  cached = lambda name: {p.name for p in (folder / name).iterdir() if p.suffix == ".npz"}
  assert cached("bilstm-additive") == {"analysis.npz", "swapped.npz", "explanations.npz",
                                       "faithfulness.npz"}
  assert cached("bilstm-scaled_dot") == {"analysis.npz", "explanations.npz", "faithfulness.npz"}
  assert cached("bilstm-deep") == {"analysis.npz"}
  files = lambda: {p: p.stat().st_mtime_ns for p in folder.rglob("*")
                   if p.suffix in (".npz", ".json", ".msgpack")}  # not claim locks
  computed = files()
  results = reproduce(tmp_path, **TINY)
  assert files() == computed
  report = (tmp_path / "report.md").read_text()
  assert "(n=2)" in report  # every interval says how many seeds it is over
  for title in ("Information preservation (finding i)", "Ablation (finding ii)",
                "Near-ties (finding iii)", "Gumbel-softmax (finding iv)",
                "Building blocks (finding v)", "Explainers side by side (experiment 6)",
                "Jain & Wallace", "decision flips (experiment 7)", "In words:"):
    assert title in report
  for name in ([f"planted_finding{i}.png" for i in range(1, 8)] +
               ["planted_tokens.png", "planted_explanations_tokens.png"]):
    assert (tmp_path / "figures" / name).stat().st_size > 1000, name
  saved = json.loads((tmp_path / "results.json").read_text(), parse_constant=_reject)
  assert saved["meta"]["code"]["run"] == cells.run_code()
  assert saved["meta"]["analysis"]["code"] == cells.analysis_code()
  assert set(saved["results"]["planted"]) == {"1", "2", "3", "4", "5", "6", "7"}
  for number, finding in results["planted"].items():
    allowed = findings.EXPERIMENTS[int(number)].outcomes
    assert finding["verdict"] in allowed
    assert strict_json(finding["comparisons"]) == saved["results"]["planted"][number]["comparisons"]
  assert "Comparisons (difference of means, its 95% interval" in report
  assert {c["test"] for c in results["planted"]["3"]["comparisons"]} == {"one-sample"}
  assert {c["test"] for c in results["planted"]["3"]["comparisons_uncontrolled"]} == {"paired"}
  assert {c["test"] for c in results["planted"]["6"]["comparisons"]} == {"paired"}
  for row in saved["results"]["planted"]["1"]["rows"].values():  # estimator error, both methods
    for name, method in (("calibration", "mixed_ksg"),
                         ("calibration_robust", "crossfit_probe")):
      calibration = row[name]
      assert calibration["method"] == method and len(calibration["estimates"]) == 3
      assert calibration["truth"] >= 0 and np.isfinite(calibration["bias"])
  assert "bias " in report and "estimator's error of a difference" in report
  accuracy = saved["results"]["planted"]["1"]["rows"]["additive"]["accuracy"]
  assert len(accuracy["per_seed"]) == 2 and accuracy["n"] == 2  # per-seed values are stored
  explained = results["planted"]["6"]
  for attention, table in explained["agreement"].items():
    grid = np.asarray(table["mean"])
    np.testing.assert_allclose(grid, grid.T)
    np.testing.assert_allclose(np.diag(grid), 1.0)  # every method agrees with itself
  row = explained["rows"]["bilstm + additive"]
  assert -1 <= row["τ gradient–leave_one_out"]["mean"] <= 1
  assert 0 <= row["counterfactual JSD"]["mean"] <= np.log(2)
  assert 0 <= row["p@k gradient"]["mean"] <= 1  # planted data: precision@k of every method
  faithful = results["planted"]["7"]["rows"]
  assert set(faithful) == {f"{a}: {m}" for a in ("additive", "scaled_dot")
                           for m in ("planted", *explanations.METHODS, "random")}
  for row in faithful.values():
    assert -1 <= row["comprehensiveness (AOPC)"]["mean"] <= 1
    assert 0 < row["flip fraction"]["mean"] <= 1
  means = list(_finite_means(results["planted"]["1"])) + list(_finite_means(results["planted"]["4"]))
  assert means and np.all(np.isfinite(means))
  assert 0.0 <= results["planted"]["4"]["rows"]["softmax"]["entropy"]["mean"] <= np.log(12)
  cells_ = sorted(p.name for p in (tmp_path / "planted" / "cells").iterdir())
  assert len(cells_) == 3 + 2 + 1  # finding 1 (and v), + ablations, + Gumbel
  for c in cells_:  # the second estimator and its calibration only where finding i reads them
    with np.load(tmp_path / "planted" / "cells" / c / "analysis.npz") as saved_cell:
      checked = c in ("bilstm-additive", "bilstm-deep", "bilstm-scaled_dot")
      assert ("dataset_mi_robust" in saved_cell) == checked, c
      assert ("calibration/dataset/bias" in saved_cell) == checked, c
      assert all(saved_cell[k].dtype != object for k in saved_cell.files)  # plain arrays
  stamps = {c: (tmp_path / "planted" / "cells" / c / "analysis.npz").stat().st_mtime_ns
            for c in cells_}
  # Figures were checked above; the resumed and partial runs below test the caches (each
  # figure set costs seconds of Matplotlib).
  monkeypatch.setattr("attnjax.reproduce.write_figures", lambda *args: [])
  faithful_path = tmp_path / "planted" / "cells" / "bilstm-additive" / "faithfulness.npz"
  faithful_stamp = faithful_path.stat().st_mtime_ns
  again = reproduce(tmp_path, **TINY)  # resumes: every cell is skipped
  assert faithful_path.stat().st_mtime_ns == faithful_stamp  # experiment 7's arrays reused
  assert {c: (tmp_path / "planted" / "cells" / c / "analysis.npz").stat().st_mtime_ns
          for c in cells_} == stamps
  assert json.dumps(again["planted"]["1"]) == json.dumps(results["planted"]["1"])
  # Archived without parameters and restored elsewhere (`attnjax.reproduce.archive`): every
  # experiment, 2, 6 and 7 included, is re-derived from the cached arrays without training.
  archive.archive_cells(tmp_path, tmp_path / "archive")
  archive.restore_cells(tmp_path / "archive", tmp_path / "restored")
  restored = reproduce(tmp_path / "restored", **TINY)
  assert not list((tmp_path / "restored").rglob("params.msgpack"))
  for number in results["planted"]:
    assert json.dumps(restored["planted"][number]) == json.dumps(results["planted"][number])
  # An experiment's stale arrays need parameters (here finding ii's swapped-attention code):
  # only that cell is retrained (`cells.trained`), to the same numbers.
  monkeypatch.setattr(ablation, "swapped_code", lambda: "0123456789abcdef")
  swapped = reproduce(tmp_path / "restored", **{**TINY, "only": (2,)})
  assert [p.parent.parent.name for p in (tmp_path / "restored").rglob("params.msgpack")] == \
      ["bilstm-additive"]
  assert json.dumps(swapped["planted"]["2"]) == json.dumps(results["planted"]["2"])
  partial = reproduce(tmp_path, **{**TINY, "only": (3,)})  # adds to the report, keeps the rest
  assert set(partial["planted"]) == {"1", "2", "3", "4", "5", "6", "7"}
  assert "Explainers side by side" in (tmp_path / "report.md").read_text()
  # Changed explainer code: the cached explanation scores are recomputed, nothing else.
  scores = tmp_path / "planted" / "cells" / "bilstm-additive" / "explanations.npz"
  scores_stamp = scores.stat().st_mtime_ns
  reproduce(tmp_path, **{**TINY, "only": (6,)})
  assert scores.stat().st_mtime_ns == scores_stamp
  monkeypatch.setattr(explanations, "explanation_code", lambda: "0123456789abcdef")
  reproduce(tmp_path, **{**TINY, "only": (6,)})
  assert scores.stat().st_mtime_ns != scores_stamp
  # Experiment 7's arrays are keyed on the explanations they rank: recomputed after them.
  reproduce(tmp_path, **{**TINY, "only": (7,)})
  assert faithful_path.stat().st_mtime_ns != faithful_stamp
  assert {c: (tmp_path / "planted" / "cells" / c / "analysis.npz").stat().st_mtime_ns
          for c in cells_} == stamps
  # Other analysis settings: the cached run is re-analysed, not retrained, and the files
  # derived from its old analysis (explanation scores) are removed, not reused.
  cell = tmp_path / "planted" / "cells" / "bilstm-additive"
  run_stamp = (cell / "run" / "config.json").stat().st_mtime_ns
  assert (cell / "explanations.npz").is_file()
  fewer = AnalysisSettings(eval_examples=40, explain_examples=2, num_samples=24)
  reanalysed = reproduce(tmp_path, **{**TINY, "analysis": fewer, "only": (3,)})
  assert (cell / "run" / "config.json").stat().st_mtime_ns == run_stamp
  assert np.load(cell / "analysis.npz")["attention"].shape[:2] == (2, 40)
  assert not (cell / "explanations.npz").exists()
  assert set(reanalysed["planted"]) == {"3"}  # results of other settings are not mixed in
  other_data = {**TINY["data_overrides"], "splits": ("train[:120]", "dev[:40]", "test[:60]")}
  with pytest.raises(ValueError, match="other data"):  # cached cells are never mixed across data
    reproduce(tmp_path, **{**TINY, "data_overrides": other_data})
