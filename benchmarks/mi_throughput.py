"""MI-estimator throughput and accuracy, against scikit-learn and bmi.

One process, the same arrays for everyone; prints a table and writes
benchmarks/results/mi_throughput.json.

1. `per_position` on hidden states [N, T, D] (reference: 4096 × 64 × 256) for
   every method: its default (`position_batch="auto"`), all positions vmapped
   at once (critics: 8 at a time) and a Python loop of `estimate` over
   positions (all warm, compilation excluded), in positions·samples per
   second, with the compiled program's peak memory (XLA memory analysis).
2. One `mixed_ksg` estimate at N = 20,000, D = 256: peak memory and time.
3. Equal work with scikit-learn's `mutual_info_classif` (Ross's estimator per
   single feature): the same F one-dimensional features with known MI.
4. bmi (PyPI `benchmark-mi`): its KSG, InfoNCE, NWJ, DV and MINE called once
   per position as a user would, against our vmapped `per_position` with the
   same k / steps / batch / critic width, on tasks with known MI. bmi pins
   jax < 0.5, so it runs in its own virtual environment (created once,
   benchmarks/.venv-bmi, git-ignored) in a subprocess on the saved arrays.

  python benchmarks/mi_throughput.py            # the reference setting
  python benchmarks/mi_throughput.py --quick    # small shapes, about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mi_throughput.json"
BMI_VENV = HERE / ".venv-bmi"
# benchmark-mi 0.1.3 imports equinox 0.10, which needs jax < 0.4.34.
BMI_REQUIREMENTS = ["benchmark-mi==0.1.3", "jax==0.4.33", "jaxlib==0.4.33"]
TRAINED = ("infonce", "nwj", "mine", "smile", "probe")
# Critics hold a [B, B, hidden] pair tensor per position: chunk the positions.
CRITIC_POSITION_BATCH = 8
BMI_METHODS = {"ksg": "ksg", "infonce": "infonce", "nwj": "nwj", "dv": "mine", "mine": "mine"}


def _timed(fn):
  start = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - start


def _block(tree):
  import jax
  return jax.block_until_ready(tree)


# ---------------------------------------------------------------- our side


def _tasks(args):
  """Hidden states with per-position label strengths, a continuous output, and peer tasks."""
  import jax
  import jax.numpy as jnp
  from attnjax.mi import testing

  key = jax.random.key(args.seed)
  strengths = np.linspace(0.0, 2.0, args.positions).astype(np.float32)
  strengths[::8] = 0.0
  hidden, labels, truth = testing.position_stack(key, args.n, strengths, args.dim, 2)
  mask = jnp.arange(args.positions)[None, :] < jax.random.randint(
      jax.random.fold_in(key, 1), (args.n,), args.positions // 2, args.positions + 1)[:, None]
  output = jax.nn.one_hot(labels, 2) + 0.5 * jax.random.normal(jax.random.fold_in(key, 2),
                                                               (args.n, 2))
  return {"hidden": hidden, "labels": labels, "truth": truth, "mask": mask, "output": output}


def _ksg_task(args, positions):
  """x_t [N, T, D]: 2 coordinates correlated with z ∈ R² (ρ_t), the rest noise."""
  rng = np.random.default_rng(args.seed)
  rhos = np.linspace(0.3, 0.9, positions)
  z = rng.normal(size=(args.n, 2))
  x = rng.normal(size=(args.n, positions, args.dim))
  x[:, :, :2] = rhos[None, :, None] * z[:, None, :] + np.sqrt(1 - rhos**2)[None, :, None] * x[:, :, :2]
  return x.astype(np.float32), z.astype(np.float32), -np.log1p(-rhos**2)


def _options(method, args):
  if method in TRAINED:
    return {"steps": args.steps}
  # The Gram-matrix path (one matmul per block); the default Chebyshev norm
  # takes ~2.5× longer at D = 256.
  return {"metric": "euclidean"} if method == "ksg" else {}


def _program_bytes(compiled):
  """Buffers XLA assigns to a compiled program: arguments, outputs and temporaries."""
  memory = compiled.memory_analysis()
  return int(memory.temp_size_in_bytes + memory.argument_size_in_bytes
             + memory.output_size_in_bytes)


def throughput(args, data):
  """Per-position estimation, vmapped vs a loop of `estimate`, every method."""
  import jax
  from attnjax import mi
  from attnjax.mi import registry

  mask = data["mask"]
  key = jax.random.key(0)
  keys = jax.random.split(key, args.positions)
  rows = {}
  for method in args.methods.split(",") if args.methods else mi.METHODS:
    y = data["output"] if method == "ksg" else data["labels"]
    # Histograms are for low-dimensional views: bin a 2-D projection.
    hidden = data["hidden"][..., :2] if method == "binning" else data["hidden"]
    options = _options(method, args)
    together = (CRITIC_POSITION_BATCH if method in TRAINED and method != "probe"
                else args.positions)
    run_vmapped = lambda: _block(mi.per_position(hidden, y, mask=mask, method=method, key=key,
                                                 position_batch=together, **options))
    run_loop = lambda: _block([mi.estimate(hidden[:, t], y, mask=mask[:, t], method=method,
                                           key=keys[t], **options).value
                               for t in range(args.positions)])
    # The default (`position_batch="auto"`: `mi.auto_position_batch()` on this backend).
    run_default = lambda: _block(mi.per_position(hidden, y, mask=mask, method=method, key=key,
                                                 **options))
    _, default_cold = _timed(run_default)
    _block(mi.estimate(hidden[:, 0], y, mask=mask[:, 0], method=method, key=keys[0], **options))
    # Alternating repetitions, median of each: a drift in the machine hits both alike.
    default_times, loop_times = [], []
    for _ in range(args.reps):
      default_values, seconds = _timed(run_default)
      default_times.append(seconds)
      loop_values, seconds = _timed(run_loop)
      loop_times.append(seconds)
    default, loop = float(np.median(default_times)), float(np.median(loop_times))
    if args.skip_whole:
      cold = vmapped = None
    else:
      _, cold = _timed(run_vmapped)
      _, vmapped = _timed(run_vmapped)
    def program_bytes(chunk):
      frozen = registry._freeze(_resolved(method, y, options, args, chunk))
      return _program_bytes(registry._compiled_per_position(method, mi.MIN_COUNT, chunk, frozen)
                            .lower(hidden, y, mask, key).compile())

    default_chunk = min(registry.auto_position_batch() or args.positions, args.positions)
    work = args.n * args.positions
    rows[method] = {
        "options": options, "position_batch": together, "dim": int(hidden.shape[-1]),
        "default_position_batch": registry.auto_position_batch(),
        "default_s": default, "default_first_call_s": default_cold,
        "default_s_each": default_times, "loop_s_each": loop_times,
        "default_speedup_vs_loop": loop / default,
        # The default's numbers equal the loop's (the same key per position).
        "default_max_abs_diff_vs_loop": float(np.nanmax(np.abs(
            np.asarray(default_values) - np.asarray(loop_values)))),
        "vmapped_s": vmapped, "loop_s": loop, "first_call_s": cold,
        "speedup_vs_loop": loop / vmapped if vmapped else None,
        "positions_samples_per_s": work / vmapped if vmapped else None,
        "loop_positions_samples_per_s": work / loop,
        "peak_bytes": None if args.skip_whole else program_bytes(together),
        "default_peak_bytes": program_bytes(default_chunk),
        "spearman_vs_truth": (_spearman(default_values, data["truth"]) if method != "ksg"
                              else None),
    }
    whole = (f"chunks of {together:2d} {vmapped:7.2f}s ×{loop / vmapped:4.2f}" if vmapped
             else "")
    print(f"  {method:10s} default {default:7.2f}s  loop {loop:7.2f}s  ×{loop / default:4.2f}  "
          f"{whole}  default's peak {rows[method]['default_peak_bytes'] / 2**20:7.0f} MiB",
          flush=True)
  return rows


def _resolved(method, y, options, args, together):
  from attnjax.mi import blocks, registry
  options = registry._resolve_options(method, y, dict(options), args.n)
  if "block_size" in registry._accepted_options(method):
    options["block_size"] = blocks.default_block_size(args.n, together)
  return options


def _spearman(values, truth):
  import scipy.stats
  return float(scipy.stats.spearmanr(np.asarray(values), truth).statistic)


def large_n(args):
  """Memory and time of one mixed_ksg estimate at N = 20,000, D = 256."""
  import jax
  from attnjax import mi
  from attnjax.mi import registry, testing

  n = args.large_n
  means = np.zeros((2, args.dim), np.float32)
  means[0, 0], means[1, 1] = 1.5, 1.5
  x, y = testing.gaussian_classes(jax.random.key(3), n, means)
  compiled = registry._compiled_estimate("mixed_ksg", mi.MIN_COUNT, ()).lower(
      x, y, jax.numpy.ones(n, bool), None).compile()
  result, seconds = _timed(lambda: _block(mi.estimate(x, y, method="mixed_ksg")))
  truth = testing.gaussian_classes_mi(means, key=jax.random.key(4))
  row = {"n": n, "dim": args.dim, "peak_bytes": _program_bytes(compiled),
         "seconds_with_compile": seconds, "value": float(result.value), "truth": truth}
  print(f"  mixed_ksg N={n} D={args.dim}: peak {row['peak_bytes'] / 2**20:.0f} MiB, "
        f"{seconds:.1f}s, {row['value']:.3f} vs truth {truth:.3f}", flush=True)
  return row


def versus_sklearn(args):
  """Equal work: F one-dimensional features, ours (per_position, D = 1) vs mutual_info_classif."""
  import jax
  from sklearn.feature_selection import mutual_info_classif
  from attnjax import mi
  from attnjax.mi import testing

  rng = np.random.default_rng(args.seed)
  strengths = np.linspace(0.0, 2.0, args.features)
  labels = rng.integers(0, 2, args.n)
  x = (strengths[None, :] * (2 * labels[:, None] - 1) / 2 + rng.normal(size=(args.n, args.features)))
  x = x.astype(np.float32)
  truth = np.array([testing.gaussian_classes_mi(np.array([[-s / 2], [s / 2]]), key=jax.random.key(5))
                    for s in strengths])
  ours_fn = lambda: _block(mi.per_position(x[:, :, None], labels, method="mixed_ksg", k=3,
                                           key=jax.random.key(0)))
  _, cold = _timed(ours_fn)
  ours, warm = _timed(ours_fn)
  theirs, sk = _timed(lambda: mutual_info_classif(x, labels, n_neighbors=3, random_state=0))
  row = {"features": args.features, "n": args.n, "ours_s": warm, "ours_first_call_s": cold,
         "sklearn_s": sk, "speedup": sk / warm, "speedup_first_call": sk / cold,
         "ours_mae": float(np.mean(np.abs(np.asarray(ours) - truth))),
         "sklearn_mae": float(np.mean(np.abs(theirs - truth)))}
  print(f"  {args.features} features × N={args.n}: ours {warm:.3f}s (first call {cold:.2f}s), "
        f"sklearn {sk:.2f}s → ×{sk / warm:.0f} (×{sk / cold:.1f} with compile); "
        f"MAE ours {row['ours_mae']:.4f}, sklearn {row['sklearn_mae']:.4f}", flush=True)
  return row


def versus_bmi(args, data):
  """bmi's estimators once per position (subprocess, own venv) vs our per_position."""
  import jax
  from attnjax import mi

  python = _bmi_python()
  if isinstance(python, dict):
    return python
  t = args.peer_positions
  picks = np.linspace(1, args.positions - 1, t).astype(int)
  hidden = np.asarray(data["hidden"])[:, picks]
  labels = np.asarray(data["labels"])
  x_ksg, z_ksg, truth_ksg = _ksg_task(args, t)
  settings = {"steps": args.peer_steps, "batch_size": 128, "hidden": [64], "learning_rate": 1e-3,
              "k": 3}
  with tempfile.TemporaryDirectory() as tmp:
    arrays = Path(tmp) / "arrays.npz"
    np.savez(arrays, hidden=hidden, labels=labels, x_ksg=x_ksg, z_ksg=z_ksg)
    out = Path(tmp) / "bmi.json"
    command = [str(python), __file__, "--bmi-peer", str(arrays), str(out),
               json.dumps(settings)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
      return {"error": f"bmi peer failed: {proc.stderr[-2000:]}"}
    theirs = json.loads(out.read_text())

  rows = {}
  for name, method in BMI_METHODS.items():
    continuous = name == "ksg"
    h, y, truth = ((x_ksg, z_ksg, truth_ksg) if continuous
                   else (hidden, labels, np.asarray(data["truth"])[picks]))
    options = ({"k": 3, "metric": "euclidean"} if continuous else
               {"steps": settings["steps"], "batch_size": 128, "hidden": (64,),
                "learning_rate": 1e-3})
    run = lambda: _block(mi.per_position(h, y, method=method, key=jax.random.key(0),
                                         position_batch=min(t, CRITIC_POSITION_BATCH), **options))
    _, cold = _timed(run)
    ours, warm = _timed(run)
    peer = theirs[name]
    rows[name] = {
        "ours_method": method, "options": {k: list(v) if isinstance(v, tuple) else v
                                           for k, v in options.items()},
        "positions": t, "ours_s": warm, "ours_first_call_s": cold, "bmi_s": peer["seconds"],
        "speedup": peer["seconds"] / warm, "speedup_first_call": peer["seconds"] / cold,
        "ours_mae": float(np.mean(np.abs(np.asarray(ours) - truth))),
        "bmi_mae": float(np.mean(np.abs(np.asarray(peer["values"]) - truth))),
        "truth": [float(v) for v in truth], "ours": [float(v) for v in ours],
        "bmi": peer["values"]}
    print(f"  {name:8s} ({t} positions) ours {warm:6.2f}s (first call {cold:6.2f}s)  "
          f"bmi {peer['seconds']:7.2f}s → ×{rows[name]['speedup']:5.1f} "
          f"(×{rows[name]['speedup_first_call']:4.1f} with compile)  MAE ours "
          f"{rows[name]['ours_mae']:.3f}, bmi {rows[name]['bmi_mae']:.3f}", flush=True)
  return rows


def _bmi_python():
  """The bmi venv's python, creating the venv once; or {"error": ...}."""
  python = BMI_VENV / "bin" / "python"
  if python.exists():
    return python
  base = shutil.which("python3.11") or shutil.which("python3.12")
  if base is None:
    return {"error": "bmi needs Python < 3.13 (python3.11 or python3.12 not found)"}
  steps = [[base, "-m", "venv", str(BMI_VENV)],
           [str(python), "-m", "pip", "install", "-q", *BMI_REQUIREMENTS]]
  for step in steps:
    proc = subprocess.run(step, capture_output=True, text=True)
    if proc.returncode != 0:
      shutil.rmtree(BMI_VENV, ignore_errors=True)
      return {"error": f"{' '.join(step)} failed: {proc.stderr[-2000:]}"}
  return python


# ---------------------------------------------------------------- bmi side


def bmi_peer(arrays_path, out_path, settings_json):
  """Runs inside the bmi venv: each bmi estimator once per position."""
  import bmi

  settings = json.loads(settings_json)
  arrays = np.load(arrays_path)
  hidden, labels = arrays["hidden"], arrays["labels"]
  one_hot = np.eye(labels.max() + 1, dtype=np.float32)[labels]
  est = bmi.estimators
  neural = dict(batch_size=settings["batch_size"], max_n_steps=settings["steps"],
                test_every_n_steps=settings["steps"], learning_rate=settings["learning_rate"],
                hidden_layers=tuple(settings["hidden"]), verbose=False)
  make = {
      "ksg": lambda: est.KSGEnsembleFirstEstimator(neighborhoods=(settings["k"],), chunk_size=256),
      "infonce": lambda: est.InfoNCEEstimator(**neural),
      "nwj": lambda: est.NWJEstimator(**neural),
      "dv": lambda: est.DonskerVaradhanEstimator(**neural),
      "mine": lambda: est.MINEEstimator(**neural),
  }
  results = {}
  for name, factory in make.items():
    x, y = ((arrays["x_ksg"], arrays["z_ksg"]) if name == "ksg" else (hidden, one_hot))
    start = time.perf_counter()
    values = [float(factory().estimate(x[:, t], y)) for t in range(x.shape[1])]
    results[name] = {"seconds": time.perf_counter() - start, "values": values}
    print(f"    bmi {name}: {results[name]['seconds']:.1f}s", file=sys.stderr, flush=True)
  Path(out_path).write_text(json.dumps(results))


# ---------------------------------------------------------------- main


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small shapes (smoke run)")
  parser.add_argument("--n", type=int, default=4096)
  parser.add_argument("--positions", type=int, default=64)
  parser.add_argument("--dim", type=int, default=256)
  parser.add_argument("--steps", type=int, default=100, help="training steps, trained methods")
  parser.add_argument("--large-n", type=int, default=20_000)
  parser.add_argument("--features", type=int, default=64, help="1-D features vs sklearn")
  parser.add_argument("--peer-positions", type=int, default=4)
  parser.add_argument("--peer-steps", type=int, default=200)
  parser.add_argument("--skip-bmi", action="store_true")
  parser.add_argument("--reps", type=int, default=1,
                      help="per_position: alternating timings of the default and the loop "
                           "(medians reported)")
  parser.add_argument("--skip-whole", action="store_true",
                      help="per_position: time only the default and the loop, not the whole-T "
                           "(critics: 8-position) vmap")
  parser.add_argument("--methods", default="", help="comma-separated subset of the throughput rows")
  parser.add_argument("--sections", default="throughput,large_n,sklearn,bmi",
                      help="comma-separated subset to run; a subset updates the existing JSON")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", type=Path, default=None,
                      help="write the JSON here (default: benchmarks/results/mi_throughput.json, "
                      "merged with its earlier sections; --quick writes only with --out)")
  parser.add_argument("--bmi-peer", nargs=3, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.bmi_peer:
    return bmi_peer(*args.bmi_peer)
  if args.quick:
    args.n, args.positions, args.dim, args.steps = 512, 8, 32, 50
    args.large_n, args.features, args.peer_positions, args.peer_steps = 2000, 16, 2, 50

  import jax
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; "
        f"N={args.n} T={args.positions} D={args.dim}", flush=True)
  sections = set(args.sections.split(",")) - ({"bmi"} if args.skip_bmi else set())
  if "sklearn" in sections:
    import sklearn
  data = _tasks(args) if sections & {"throughput", "bmi"} else None
  report = {
      "machine": {"platform": platform.platform(), "processor": platform.processor(),
                  "cpus": os.cpu_count(), "python": platform.python_version(),
                  "jax": jax.__version__, "device": jax.devices()[0].platform,
                  "device_kind": jax.devices()[0].device_kind,
                  "sklearn": sklearn.__version__ if "sklearn" in sections else None},
      "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                   if k != "bmi_peer"},
  }
  if "throughput" in sections:
    print("per_position, vmapped vs loop over positions:")
    report["throughput"] = throughput(args, data)
  if "large_n" in sections:
    print("large N:")
    report["large_n"] = large_n(args)
  if "sklearn" in sections:
    print("vs scikit-learn mutual_info_classif (equal work: 1-D features):")
    report["sklearn"] = versus_sklearn(args)
  if "bmi" in sections:
    print("vs bmi (benchmark-mi), once per position:")
    report["bmi"] = versus_bmi(args, data)
  from attnjax.io import write_json_atomic  # strict JSON: an undefined value is null
  if args.out is not None:
    write_json_atomic(args.out, report, indent=1, sort_keys=False)
    print(f"wrote {args.out}")
  elif not args.quick:
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "throughput" in report:
      report["throughput"] = {**previous.get("throughput", {}), **report["throughput"]}
    write_json_atomic(RESULTS, {**previous, **report}, indent=1, sort_keys=False)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
  main()
