"""`reproduce --executor ray` on a local 2-CPU Ray cluster: the local executor's numbers, a
worker killed mid-cell (reported, nothing half-written, a re-run resumes), shipped results.

One test function, so that one pytest worker starts Ray once (a cluster per xdist worker
would share the machine's two cores with the other).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from attnjax.reproduce import reproduce
from attnjax.reproduce.cell_measurements import AnalysisSettings
from attnjax.reproduce.claims import LOCK_FILE, claim, holder
from attnjax.reproduce.cluster import CellsFailed, RayOptions
from test_reproduce import TINY

ray = pytest.importorskip("ray")  # in the [test] extra; the library itself never needs it
pytestmark = pytest.mark.ray

# 3 cells (bilstm + additive / deep / scaled_dot), analysed without the second estimator and
# its calibration (each Ray worker compiles its programs afresh; these add the most).
ONLY_1_3 = {**TINY, "only": (1, 3), "analysis": AnalysisSettings(
    eval_examples=60, explain_examples=3, num_samples=24, robustness_method=None,
    calibration_replicates=0)}


def _results(folder):
  return json.loads((folder / "results.json").read_text())["results"]


def _kill_the_first_claimant(cells, stop):
  """Waits for a worker to claim a cell (its pid in the lock file), kills it: (cell, pid)."""
  while not stop.is_set():
    for lock in sorted(cells.glob(f"*/{LOCK_FILE}")):
      found = re.search(r"pid (\d+)", holder(lock.parent) or "")
      if found and int(found.group(1)) != os.getpid():
        os.kill(int(found.group(1)), signal.SIGKILL)
        return lock.parent.name, int(found.group(1))
    time.sleep(0.05)
  return None, None


def test_ray_executor_equals_local_survives_a_killed_worker_and_ships_results(tmp_path):
  local = tmp_path / "local"
  reproduce(local, **ONLY_1_3)
  ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
  try:
    # A worker killed while it holds a cell: the driver reports the cell, the other cells
    # finish, the report lists what is left out, and the cell is not marked done.
    remote = tmp_path / "ray"
    box = {}

    def drive():
      try:
        reproduce(remote, **ONLY_1_3, executor="ray", ray=RayOptions(retries=0))
      except CellsFailed as error:
        box["error"] = error

    driver = threading.Thread(target=drive)
    stop = threading.Event()
    driver.start()
    killed, pid = _kill_the_first_claimant(remote / "planted" / "cells", stop)
    driver.join(timeout=900)
    stop.set()
    assert killed is not None and not driver.is_alive()
    assert killed in str(box["error"])
    cell = remote / "planted" / "cells" / killed
    assert not (cell / "analysis.json").exists() and holder(cell) is None  # claim released
    report = (remote / "report.md").read_text()
    assert "Experiment 1 left out" in report and killed in report
    # Re-running resumes: only the killed cell is computed; the results are the local ones.
    done = {c.name: (c / "analysis.npz").stat().st_mtime_ns
            for c in (remote / "planted" / "cells").iterdir() if c.name != killed}
    reproduce(remote, **ONLY_1_3, executor="ray", ray=RayOptions(retries=0))
    assert {name: (remote / "planted" / "cells" / name / "analysis.npz").stat().st_mtime_ns
            for name in done} == done
    assert _results(remote) == _results(local)
    assert "Experiment 1 left out" not in (remote / "report.md").read_text()
    assert (remote / "report.md").read_text() == (local / "report.md").read_text()
    # Shipped results (workers without the driver's folder): the same numbers.
    shipped = tmp_path / "shipped"
    reproduce(shipped, **{**ONLY_1_3, "only": (3,)}, executor="ray", ray=RayOptions(ship=True))
    assert _results(shipped)["planted"]["3"] == _results(local)["planted"]["3"]
    assert (shipped / "planted" / "cells" / "bilstm-additive" / "run" / "params.msgpack").is_file()
  finally:
    ray.shutdown()


def test_a_claim_is_exclusive_and_released_when_its_holder_is_killed(tmp_path):
  folder = tmp_path / "cell"
  messages, taken = [], threading.Event()

  def take():
    with claim(folder, poll=0.01, log=messages.append):
      taken.set()

  with claim(folder):
    assert f"pid {os.getpid()}" in holder(folder)
    waiter = threading.Thread(target=take)
    waiter.start()
    time.sleep(0.3)
    assert not taken.is_set()  # waits while the claim is held
  waiter.join(timeout=10)
  assert taken.is_set() and "waiting" in messages[0] and holder(folder) is None
  # A process killed while holding the claim: the OS releases it.
  code = ("import sys, time; from attnjax.reproduce.claims import claim; "
          "c = claim(sys.argv[1]); c.__enter__(); print('held', flush=True); time.sleep(120)")
  process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE,
                             text=True)
  try:
    assert process.stdout.readline().strip() == "held"
    assert f"pid {process.pid}" in holder(folder)
  finally:
    process.kill()
    process.wait()
  assert holder(folder) is None


def test_the_library_and_the_cli_never_import_ray_unless_asked():
  code = ("import sys, attnjax, attnjax.reproduce, attnjax.cli, attnjax.reproduce.cluster; "
          "assert 'ray' not in sys.modules, 'ray imported'; print('ok')")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
  assert done.stdout.strip() == "ok", done.stderr
