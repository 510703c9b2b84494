"""Report figures: uncertainty drawn, every word whole, no backend switch."""

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from attnjax.reproduce.explanations import explanation_tokens_figure
from attnjax.reproduce.report import write_figures


def _examples(rng, count=4, methods=("attention", "gradient", "leave_one_out")):
  lengths = [int(n) for n in rng.integers(8, 40, count)]
  words = [["incomprehensibilities"[: int(k)] for k in rng.integers(2, 22, n)] for n in lengths]
  rows = {m: [rng.random(n).tolist() for n in lengths] for m in methods}
  return {"lengths": lengths, "rows": rows, "words": words}


def test_token_heat_map_words_are_whole_and_clear_of_the_next_panel():
  fig = explanation_tokens_figure(_examples(np.random.default_rng(0)))
  canvas = FigureCanvasAgg(fig)
  canvas.draw()
  renderer = canvas.get_renderer()
  page = fig.bbox
  axes = fig.axes
  assert len(axes) == 4
  for index, ax in enumerate(axes):
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) == len(ax.images[0].get_array()[0])  # one word per position
    below = axes[index + 1].get_window_extent(renderer) if index + 1 < len(axes) else None
    for label in labels:
      box = label.get_window_extent(renderer)
      assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, label.get_text()
      assert box.y0 >= page.y0 - 1, label.get_text()  # not cut at the bottom of the page
      if below is not None:  # not under the next example's heat map
        assert box.y0 >= below.y1 - 1, (index, label.get_text(), box.y0, below.y1)


def test_figures_draw_intervals_and_leave_the_backend_alone(tmp_path):
  backend = matplotlib.get_backend()
  profile = [0.1, 0.2, 0.3]
  summary = {"mean": 0.2, "ci": 0.05, "n": 3}
  findings = {
      "1": {"rows": {"additive": {"mi_profile": profile, "mi_profile_ci": [0.01, 0.02, 0.03],
                                  "mi_mean_over_positions": summary},
                     "deep": {"mi_profile": profile, "mi_profile_ci": [0.0, float("nan"), 0.1],
                              "mi_mean_over_positions": summary}}},
      "2": {"title": "Ablation", "rows": {"a": {"tau": summary}, "b": {"tau": {**summary, "ci": float("nan")}}}},
      "4": {"title": "Gumbel", "rows": {"softmax": {"tau": summary, "entropy": summary}}},
      "5": {"grid": [[0.2]], "encoders": ["bilstm"], "attentions": ["additive"],
            "rows": {"bilstm + additive": {"tau": summary}}},
  }
  (tmp_path / "figures").mkdir()
  rng = np.random.default_rng(0)
  cell = {"instance_mi": rng.random((2, 3, 6)), "attention": rng.random((2, 3, 6)),
          "mask": np.arange(6)[None] < np.array([[6], [4], [2]]),
          "importance": rng.random((3, 6)) > 0.5}
  paths = write_figures(tmp_path, "toy", findings, cell)
  assert [p.name for p in paths] == [f"toy_finding{n}.png" for n in (1, 2, 4, 5)] + ["toy_tokens.png"]
  assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
  assert matplotlib.get_backend() == backend


def test_every_experiment_draws_the_figures_it_registers():
  """One table: each experiment's `draw` gives exactly the figures its entry names."""
  import ast
  from pathlib import Path

  import attnjax
  from attnjax.reproduce.findings import EXPERIMENTS

  summary = {"mean": 0.2, "ci": 0.05, "n": 3}
  results = {
      1: {"rows": {"additive": {"mi_profile": [0.1, 0.2], "mi_profile_ci": [0.01, 0.02],
                                "mi_mean_over_positions": summary}}},
      2: {"title": "Ablation", "rows": {"a": {"tau": summary}}},
      3: {"rows": {"spread q1": {"spread (median)": summary, "tau": summary},
                   "length control": {"partial r(log spread, τ given log length)": summary}},
          "scatter": {"spread": [0.1, 0.2], "tau": [0.3, 0.1], "length": [5, 9]}},
      4: {"title": "Gumbel", "rows": {"softmax": {"tau": summary, "entropy": summary}}},
      5: {"grid": [[0.2]], "encoders": ["bilstm"], "attentions": ["additive"],
          "rows": {"bilstm + additive": {"tau": summary}}},
      6: {"agreement": {"additive": {"methods": ["attention", "gradient"],
                                     "mean": [[1.0, 0.3], [0.3, 1.0]]}},
          "counterfactual": {"additive": {"jsd": [0.1], "max_attention": [0.5]}},
          "examples": _examples(np.random.default_rng(1))},
      7: {"fractions": [0.0, 0.5, 1.0],
          "curves": {"additive": {
              "attention": {"mean": [0.9, 0.5, 0.4], "per_seed": [[0.9, 0.5, 0.4],
                                                                  [0.9, 0.6, 0.4]]},
              "random": {"mean": [0.9, 0.8, 0.4], "per_seed": [[0.9, 0.8, 0.4],
                                                               [0.9, 0.7, 0.4]]}}}},
  }
  for number, experiment in EXPERIMENTS.items():
    drawn = experiment.draw(results[number])
    assert list(drawn) == [name for name, _ in experiment.figures], number
  # No backend switch anywhere in the library.
  for path in Path(attnjax.__file__).parent.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        assert not (node.func.attr == "use" and getattr(node.func.value, "id", "") ==
                    "matplotlib"), path
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
        assert not any(n.startswith("matplotlib.pyplot") for n in names), path
