"""`attnjax reproduce --executor ray`: every cell one Ray task, then the findings on the cache.

    reproduce(out, data=("sst2",), executor="ray", ray=RayOptions(address="auto"))

The driver plans the cells the chosen experiments read (`findings.plan_cells`),
submits each cell that is not cached as one Ray task (train S seeds in one
program + its analysis, `cells.analysed`), shows progress as tasks finish
(cells done / running or queued / failed), and then runs the experiments
exactly as the local executor does: every cell they read is now a cache hit,
so results.json and report.md are the local executor's. Experiments 6 and 7
(explainer and faithfulness scores of two cells) run on the driver.

Where results go:
- **shared folder** (default): workers write the cell into `out/<dataset>/
  cells/<name>` themselves, under the cell's claim
  (`attnjax.reproduce.claims`: one writer per cell; a second claimant waits
  and then finds it cached; the OS drops the claim of a killed worker). This
  is the default because it is how clusters run (a shared home or scratch
  file system), it moves no parameters through the network twice, and a
  killed driver loses nothing a worker finished.
- **shipped** (`ship=True`, `--ray-ship-results`): for workers without the
  driver's file system. A worker receives the cell folder's current files
  (so a trained run is reused), computes in a temporary folder, and returns
  every file; the driver writes them atomically, the analysis stamp last.

A failed cell (an exception, or its worker killed after `retries` re-runs)
is reported with the worker's traceback; the other cells still finish, the
experiments that need it are left out of the report (which lists them), and
a re-run resumes. Nothing here imports Ray until a Ray run starts.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path


from attnjax.io import write_atomic
from attnjax.reproduce import cells
from attnjax.reproduce.claims import LOCK_FILE, claim

class CellsFailed(RuntimeError):
  """Some cells failed on Ray; the report of the rest was written and a re-run resumes."""


RAY_MISSING = 'the Ray executor needs Ray: pip install "attnjax[ray]" (or pip install ray)'
EXECUTORS = ("local", "ray")
DONE_FILE = "analysis.json"
"""The file that marks a cell done; shipped cells write it last."""


@dataclasses.dataclass(frozen=True)
class RayOptions:
  """How `reproduce` uses Ray.

  Attributes:
    address: None starts a local Ray cluster on this machine (unless Ray is
      already initialised in this process, which is then used as it is);
      "auto" joins the cluster this machine belongs to; "ray://host:10001"
      a remote one (Ray Client).
    cell_cpus: CPUs each cell's task reserves (Ray schedules by it).
    cell_gpus: GPUs each cell's task reserves (0: CPU workers).
    retries: how often Ray re-runs a cell whose worker died (a killed
      process, a lost node); an exception raised by the cell is not retried.
    ship: results travel back to the driver through Ray instead of a shared
      folder (see the module docstring).
    cpu_devices: CPU devices each worker's JAX exposes (`use_cpu_devices`;
      None: JAX's default, one).
    workers: CPUs of a local cluster started here (None: all cores).
  """
  address: str | None = None
  cell_cpus: float = 1.0
  cell_gpus: float = 0.0
  retries: int = 1
  ship: bool = False
  cpu_devices: int | None = None
  workers: int | None = None

  def __post_init__(self):
    for name in ("cell_cpus", "cell_gpus"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    for name, low in (("retries", 0), ("cpu_devices", 1), ("workers", 1)):
      value = getattr(self, name)
      if value is None and name != "retries":
        continue
      if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if self.workers is not None and self.address is not None:
      raise ValueError(f"workers sets the CPUs of a local cluster started here; with "
                       f"address={self.address!r} the cluster's own resources apply")


def import_ray():
  """Ray, or an ImportError that says how to install it."""
  try:
    import ray
  except ImportError as error:
    raise ImportError(RAY_MISSING) from error
  return ray


def _folder_files(folder: Path) -> dict[str, bytes]:
  """Every file under `folder` (relative POSIX path → bytes), the claim's lock excepted."""
  if not folder.is_dir():
    return {}
  return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
          if p.is_file() and p.name != LOCK_FILE}


def write_shipped(folder: Path, files: dict[str, bytes]) -> None:
  """Writes a shipped cell's files atomically, the done marker last (a crash in between
  leaves a cell that is simply not done)."""
  folder = Path(folder)
  (folder / DONE_FILE).unlink(missing_ok=True)
  for name in sorted(files, key=lambda n: n == DONE_FILE):
    write_atomic(folder / name, files[name])


def cell_task(spec, splits, ship: bool, files: dict[str, bytes] | None,
              cpu_devices: int | None):
  """One cell on a Ray worker: `cells.analysed` under the cell's claim (shared folder), or
  in a temporary folder seeded with `files` whose files it returns (shipped).

  Args:
    spec: the cell's `CellSpec` (its directory is the driver's folder).
    splits: the dataset's splits.
    ship: compute in a temporary folder and return the files.
    files: the cell folder's current files (shipped).
    cpu_devices: split the worker's CPU into this many XLA devices (None: leave it).

  Returns:
    None (shared folder) or {relative path: bytes} (shipped).
  """
  if cpu_devices is not None:
    from attnjax.training import use_cpu_devices
    use_cpu_devices(cpu_devices)
  if not ship:
    with claim(spec.directory):
      cells.analysed(spec, splits, progress=False)
    return None
  with tempfile.TemporaryDirectory(prefix="attnjax-cell-") as scratch:
    work = Path(scratch) / spec.directory.name
    write_shipped(work, files or {})
    cells.analysed(dataclasses.replace(spec, directory=work), splits, progress=False)
    return _folder_files(work)


def run_cells(lab, plan: dict[str, dict], options: RayOptions, *, log=print) -> dict[str, str]:
  """Computes the planned cells of `lab` that are not cached, one Ray task each.

  Args:
    lab: the dataset's `DatasetCells` (its folder, base config, seeds, splits, settings, key).
    plan: {cell name: `TrainConfig` changes} (`findings.plan_cells`).
    options: `RayOptions`.
    log: progress lines.

  Returns:
    {cell name: error text (the worker's traceback)} of the cells that failed.
  """
  ray = import_ray()
  specs = {name: lab.spec(name, **changes) for name, changes in plan.items()}
  todo = [name for name, spec in specs.items() if cells.status(spec) != cells.ANALYSED]
  log(f"cells: {len(plan) - len(todo)} cached, {len(todo)} to compute on Ray")
  if not todo:
    return {}
  task = ray.remote(cell_task).options(num_cpus=options.cell_cpus, num_gpus=options.cell_gpus,
                                       max_retries=options.retries, retry_exceptions=False)
  splits = ray.put(lab.splits)
  pending = {}
  for name in todo:
    files = _folder_files(lab.folder(name)) if options.ship else None
    ref = task.remote(specs[name], splits, options.ship, files, options.cpu_devices)
    pending[ref] = name
  failed, finished, start = {}, 0, time.time()
  while pending:
    (ref,), _ = ray.wait(list(pending), num_returns=1)
    name = pending.pop(ref)
    try:
      files = ray.get(ref)
    except Exception as error:  # RayTaskError (carries the worker's traceback), WorkerCrashedError
      failed[name] = str(error)
      log(f"cell {name} FAILED on its Ray worker:\n{error}")
    else:
      if files is not None:
        write_shipped(lab.folder(name), files)
      finished += 1
    log(f"cells: {finished} done, {len(pending)} running or queued, {len(failed)} failed "
        f"({time.time() - start:.0f} s)")
  return failed


@dataclasses.dataclass
class RaySession:
  """Starts (or joins) Ray for a `reproduce` run and shuts down only what it started."""
  options: RayOptions
  started: bool = False

  def __enter__(self):
    ray = import_ray()
    if not ray.is_initialized():
      kwargs = {"address": self.options.address}
      if self.options.address is None:  # a local cluster started here: no dashboard
        kwargs["include_dashboard"] = False
        if self.options.workers is not None:
          kwargs["num_cpus"] = self.options.workers
      ray.init(**kwargs)
      self.started = True
    return self

  def __exit__(self, *exc):
    if self.started:
      import_ray().shutdown()
    return False
