"""One writer per cell: an exclusive claim on a cell's folder while it is trained and analysed.

Several processes may compute the cells of one output folder at once (Ray
workers of `attnjax reproduce --executor ray`, or two drivers started by
hand). A cell is computed under `claim(folder)`, an operating-system lock
(`fcntl.flock`) on `folder/claim.lock`:

- a second claimant waits until the first is done, then finds the cell cached
  (`cells.analysed` reuses it) instead of computing it again;
- the lock belongs to the holding process, so the OS releases it when that
  process exits, crashes or is killed: a dead worker never blocks a re-run,
  and what it left is only `write_atomic` temporaries (removed by the next
  claimant) and whole files from before it died (each keyed by its stamp).

`flock` works between processes of one machine and on most shared file systems
(NFS v4, Lustre with `flock` mounted, CephFS); where the platform has no
`fcntl` (Windows) the claim is a no-op and one writer per folder is the user's
to keep.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from pathlib import Path

try:
  import fcntl
except ImportError:  # Windows
  fcntl = None

LOCK_FILE = "claim.lock"


@contextlib.contextmanager
def claim(folder, *, poll: float = 1.0, log=None):
  """Holds the exclusive claim on `folder` (created if missing) for the `with` block.

  Args:
    folder: the cell's folder.
    poll: seconds between tries while another process holds it.
    log: called once with a message when the claim is held elsewhere
      (default: print to stderr).

  Yields:
    the lock file's path. It holds the holder's "host pid time" while held.
  """
  folder = Path(folder)
  folder.mkdir(parents=True, exist_ok=True)
  path = folder / LOCK_FILE
  if fcntl is None:
    yield path
    return
  with open(path, "a+") as handle:
    waited = False
    while True:
      try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
      except BlockingIOError:
        if not waited:
          handle.seek(0)
          holder = handle.read().strip() or "another process"
          message = f"[reproduce] {folder.name}: claimed by {holder}; waiting for it"
          (log or (lambda m: print(m, file=sys.stderr, flush=True)))(message)
          waited = True
        time.sleep(poll)
    try:
      handle.seek(0)
      handle.truncate()
      handle.write(f"{socket.gethostname()} pid {os.getpid()} since {time.strftime('%H:%M:%S')}")
      handle.flush()
      yield path
    finally:
      handle.seek(0)
      handle.truncate()
      handle.flush()
      fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def holder(folder) -> str | None:
  """Who holds the claim on `folder` now ("host pid N since HH:MM:SS"), or None if nobody."""
  path = Path(folder) / LOCK_FILE
  if fcntl is None or not path.is_file():
    return None
  with open(path, "a+") as handle:
    try:
      fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      handle.seek(0)
      return handle.read().strip() or "another process"
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None
