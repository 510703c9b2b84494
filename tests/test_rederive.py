"""Re-deriving stored results (`attnjax.reproduce.rederive`): from archived cell arrays the
same finding as a run computes; from a stored scatter the same once lengths are known."""

import json

import numpy as np
import pytest

from attnjax.io import strict_json, write_json_atomic
from attnjax.models.encoders import sequence_mask
from attnjax.reproduce import explanations, near_ties, rederive
from attnjax.reproduce.cells import save_arrays

S, B, T = 3, 12, 10


def _near_ties_judged(cell):
  return near_ties.EXPERIMENT.judged(near_ties.summarize(cell))


def _explanations_judged(scores, dataset):
  return explanations.EXPERIMENT.judged(explanations.summarize(scores, dataset))


def _cells(seed=0):
  rng = np.random.default_rng(seed)
  lengths = rng.integers(3, T + 1, B)
  mask = np.asarray(sequence_mask(lengths, T))
  analysis = {"stats_spread": rng.random((S, B + 4)), "tau": rng.normal(0.2, 0.1, (S, B)),
              "mask": np.concatenate([mask, np.ones((4, T), bool)])}
  scores = {}
  for attention in explanations.ATTENTIONS:
    cell = {m: rng.random((S, B, T)).astype(np.float32) * mask for m in explanations.METHODS}
    cell.update(lengths=lengths, counterfactual_jsd=rng.random((S, B)),
                counterfactual_tvd=rng.random((S, B)), max_attention=rng.random((S, B)),
                accuracy=rng.random(S))
    scores[attention] = cell
  return analysis, scores, lengths


def _results(tmp_path, analysis, scores, *, archive=True):
  """A results.json as an older run wrote it (its findings without the current rows)."""
  old_3 = _near_ties_judged(analysis)
  del old_3["rows"]["length control"]
  old_6 = _explanations_judged(scores, "sst2")
  for row in old_6["rows"].values():
    for name in [k for k in row if "input_x_gradient" in k]:
      del row[name]
  document = {"meta": {"seeds": S, "quick": False, "preset": "paper",
                       "analysis": {"explain_examples": B}},
              "results": {"sst2": {"3": {**old_3, "verdict": "reproduced"},
                                   "6": {**old_6, "verdict": "old"}}}}
  write_json_atomic(tmp_path / "results.json", strict_json(document))
  if archive:
    cells = tmp_path / "sst2" / "cells"
    save_arrays(cells / "bilstm-additive" / "analysis.npz", analysis)
    for attention, cell in scores.items():
      save_arrays(cells / f"bilstm-{attention}" / "explanations.npz", cell)


def test_rederive_from_archived_arrays_equals_the_runs_measurement(tmp_path):
  analysis, scores, _ = _cells()
  _results(tmp_path, analysis, scores)
  changes = rederive.rederive(tmp_path)
  assert [(c["finding"], c["before"]) for c in changes] == [(3, "reproduced"), (6, "old")]
  saved = json.loads((tmp_path / "results.json").read_text(), parse_constant=pytest.fail)
  finding_3 = saved["results"]["sst2"]["3"]
  expected = json.loads(json.dumps(strict_json(_near_ties_judged(analysis))))
  assert finding_3["rows"] == expected["rows"] and finding_3["verdict"] == expected["verdict"]
  assert finding_3["rederived"] == {"from": rederive.FROM_ARRAYS}
  row = saved["results"]["sst2"]["6"]["rows"]["bilstm + additive"]
  assert row["τ attention–input_x_gradient"]["per_seed"] == pytest.approx(
      np.asarray(_explanations_judged(scores, "sst2")["rows"]["bilstm + additive"][
          "τ attention–input_x_gradient"]["per_seed"]))
  reference = saved["results"]["sst2"]["6"]["rows"]["bilstm + additive (Jain & Wallace 2019)"]
  assert reference["τ attention–input_x_gradient"]["mean"] == 0.351
  assert (tmp_path / "figures" / "sst2_finding3.png").is_file()
  text = (tmp_path / "report.md").read_text()
  assert "partial r(log spread, τ given log length) − 0 (per seed): " in text
  assert "Without the length control, a separate family" in text


def test_rederive_without_arrays_uses_the_scatter_and_the_agreement_means(tmp_path, monkeypatch):
  analysis, scores, lengths = _cells(seed=1)
  _results(tmp_path, analysis, scores, archive=False)
  monkeypatch.setattr(rederive, "test_lengths", lambda dataset, meta, data_dir: lengths)
  rederive.rederive(tmp_path)
  saved = json.loads((tmp_path / "results.json").read_text())["results"]["sst2"]
  expected = _near_ties_judged(analysis)
  control = saved["3"]["rows"]["length control"][near_ties.PARTIAL]["per_seed"]
  np.testing.assert_allclose(control, expected["rows"]["length control"][near_ties.PARTIAL][
      "per_seed"], rtol=1e-9)
  row = saved["6"]["rows"]["bilstm + scaled_dot"]
  table = _explanations_judged(scores, "sst2")["agreement"]["scaled_dot"]
  i, j = (table["methods"].index(m) for m in ("attention", "input_x_gradient"))
  assert row["τ attention–input_x_gradient"]["mean"] == pytest.approx(table["mean"][i][j])
  assert row["τ attention–input_x_gradient"]["ci"] is None  # no per-seed values: no interval
  assert "per-seed values not stored" in saved["6"]["rule"]
  assert [c["measure"].split(": ")[1] for c in saved["6"]["comparisons"]] == [
      "τ with gradient", "τ with leave_one_out"] * 2


def test_a_scatter_with_left_out_points_cannot_be_placed():
  analysis, _, lengths = _cells()
  analysis["tau"][0, 3] = np.nan
  stored = json.loads(json.dumps(strict_json(_near_ties_judged(analysis))))
  with pytest.raises(ValueError, match="example of each point is unknown"):
    rederive.near_ties_cell(stored, lengths)
