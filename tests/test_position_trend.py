"""Finding (v)'s position confound (`attnjax.reproduce.position_trend`): τ with position and
Kendall's partial τ against scipy, constructed trends, and a cells folder end to end."""

import json

import numpy as np
import pytest
from scipy import stats

from attnjax import analysis
from attnjax.io import write_json_atomic
from attnjax.reproduce import position_trend as pt

MEASURES = pt.MEASURES


def _reference(a, b, length):
  """scipy's τ-b per example over the first `length` positions and Kendall's partial τ."""
  position = np.arange(length)
  t_ap = stats.kendalltau(a[:length], position)[0]
  t_mp = stats.kendalltau(b[:length], position)[0]
  t_am = stats.kendalltau(a[:length], b[:length])[0]
  partial = (t_am - t_ap * t_mp) / np.sqrt((1 - t_ap ** 2) * (1 - t_mp ** 2))
  return t_ap, t_mp, t_am, partial


def test_example_taus_equal_scipy_and_the_partial_formula_with_padding_and_ties():
  rng = np.random.default_rng(0)
  seeds, examples, length = 2, 6, 9
  attention = rng.integers(0, 4, (seeds, examples + 3, length)).astype(float)  # ties
  mi = rng.normal(size=(seeds, examples, length))
  lengths = rng.integers(3, length + 1, examples + 3)
  mask = np.arange(length) < lengths[:, None]
  got = pt.example_taus(attention, mi, mask)
  assert all(got[m].shape == (seeds, examples) for m in MEASURES)
  for s in range(seeds):
    for i in range(examples):
      want = _reference(attention[s, i], mi[s, i], lengths[i])
      np.testing.assert_allclose([got[m][s, i] for m in MEASURES], want, atol=1e-6)


def test_partial_tau_known_cases():
  # Identical rankings stay perfectly related whatever their trend along the sentence.
  np.testing.assert_allclose(analysis.partial_tau(1.0, 0.4, 0.4), 1.0)
  # No trend: the partial τ is the plain τ.
  np.testing.assert_allclose(analysis.partial_tau(0.3, 0.0, 0.0), 0.3)
  # Undefined where a side is a perfect function of position, or an input is undefined.
  assert np.isnan(analysis.partial_tau(0.5, 1.0, 0.2)) and np.isnan(analysis.partial_tau(np.nan, 0.1, 0.1))


def test_a_shared_trend_alone_inflates_the_plain_tau_far_more_than_the_partial():
  rng = np.random.default_rng(1)
  seeds, examples, length = 1, 400, 20
  position = np.arange(length, dtype=float)
  mask = np.ones((examples, length), bool)
  trend = pt.example_taus(position + rng.normal(0, 4, (seeds, examples, length)),
                          position + rng.normal(0, 4, (seeds, examples, length)), mask)
  flat = pt.example_taus(rng.normal(0, 4, (seeds, examples, length)),
                         rng.normal(0, 4, (seeds, examples, length)), mask)
  plain, partial = (np.mean(trend[m]) for m in MEASURES[2:])
  assert np.mean(trend[MEASURES[0]]) > 0.6 and np.mean(trend[MEASURES[1]]) > 0.6
  assert plain > 0.45 and partial < 0.3 * plain  # the module docstring's 0.51 → 0.14
  for m in MEASURES:  # no trend, no relation: everything near 0
    assert abs(np.mean(flat[m])) < 0.03, m


def _reject(token):
  raise AssertionError(f"not strict JSON: {token}")


def _cell(rng, seeds, examples, length, drift):
  """Analysis arrays of a cell whose attention and MI share a rising trend of size `drift`."""
  position = np.arange(length, dtype=float)
  signal = rng.normal(size=(seeds, examples, length))
  attention = signal + drift * position + rng.normal(0, 0.5, (seeds, examples, length))
  mi = signal + drift * position + rng.normal(0, 0.5, (seeds, examples, length))
  mask = np.ones((examples + 2, length), bool)
  attention = np.concatenate([attention, rng.normal(size=(seeds, 2, length))], 1)
  tau = pt.example_taus(attention, mi, mask)[MEASURES[2]]
  return dict(attention=attention.astype(np.float32), instance_mi=mi.astype(np.float32),
              mask=mask, tau=tau.astype(np.float32))


def test_position_trend_reads_a_cells_folder_compares_with_scipy_and_refuses_other_arrays(tmp_path):
  rng = np.random.default_rng(2)
  seeds, examples, length = 3, 40, 10
  for name, drift in (("bilstm-additive", 0.0), ("lstm-additive", 0.5), ("cnn-deep", 0.0)):
    folder = tmp_path / "toy" / "cells" / name
    folder.mkdir(parents=True)
    np.savez(folder / "analysis.npz", **_cell(rng, seeds, examples, length, drift))
  result = pt.position_trend(tmp_path, "toy")
  assert list(result["cells"]) == ["bilstm-additive", "lstm-additive", "cnn-deep"]
  lstm = result["cells"]["lstm-additive"]
  assert lstm[MEASURES[0]]["mean"] > 0.5 and lstm[MEASURES[1]]["mean"] > 0.5
  assert result["cells"]["bilstm-additive"][MEASURES[0]]["n"] == seeds
  for measure in MEASURES[2:]:
    rows = result["comparisons"][measure]
    assert [r["b"] for r in rows] == ["lstm-additive", "cnn-deep"]
    for row in rows:
      a = result["cells"]["bilstm-additive"][measure]["per_seed"]
      b = result["cells"][row["b"]][measure]["per_seed"]
      want = stats.ttest_ind(a, b, equal_var=False)
      np.testing.assert_allclose([row["t"], row["p"]], [want.statistic, want.pvalue], rtol=1e-6)
    low, high = sorted(r["p"] for r in rows)  # Holm over two: 2·p_min, then max(that, p_max)
    holm = {low: min(1.0, 2 * low), high: min(1.0, max(2 * low, high))}
    np.testing.assert_allclose([r["holm_p"] for r in rows], [holm[r["p"]] for r in rows])
  # The lstm cell's lead in the plain τ comes from the shared trend: the partial τ removes most.
  lead = [r["difference"] for m in MEASURES[2:] for r in result["comparisons"][m]
          if r["b"] == "lstm-additive"]
  assert lead[0] < 0 and abs(lead[1]) < 0.5 * abs(lead[0])
  saved = json.loads(write_json_atomic(tmp_path / "trend.json", result).read_text(),
                     parse_constant=_reject)
  assert saved["cells"]["lstm-additive"][MEASURES[3]]["mean"] == \
      pytest.approx(lstm[MEASURES[3]]["mean"])
  assert "| lstm-additive | +0." in pt.markdown(result)
  # Arrays whose cached τ is not τ(attention, instance MI) are refused, not misread.
  bad = _cell(rng, seeds, examples, length, 0.0)
  bad["tau"] = bad["tau"][::-1]
  with pytest.raises(ValueError, match="differs from the cell's cached tau"):
    pt.cell_trend(bad)
  with pytest.raises(FileNotFoundError, match="bilstm-additive"):
    pt.position_trend(tmp_path, "other")
