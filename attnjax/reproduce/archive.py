"""Archived cells: a reproduction's measurements without parameters, carried between runs.

A full-size `reproduce` can outlast the time one machine is available (an IMDB
cell trains for an hour on 2 CPU cores), and parameters are not results: they
are large and do not belong in a repository. `archive_cells(out, archive)`
copies every cell of an output folder without its parameters, only the files
its findings read:

- `analysis.npz` / `analysis.json` and every other cached measurement of the
  cell (`explanations.*`, `faithfulness.*`, `swapped.*`): the top-level `.npz`
  and `.json` files of the cell folder, stamps included;
- `run/config.json` and `run/metrics.json` (the config, seeds, run stamp and
  training history).

Arrays are stored compressed (`np.savez_compressed`; an SST-2 cell's 1.1 MB
analysis becomes 0.33 MB); `load_arrays` reads either form.

Left out: `run/params.msgpack`, `run/vocab.json`, epoch checkpoints,
claim locks and temporaries. `restore_cells(archive, out)` copies an archive
back into an output folder (refusing to overwrite a file that differs), and a
later `reproduce --out` reuses every restored cell whose stamps match, exactly
like a cached one.

A restored cell has no parameters. Where a reproduction needs them (its
measurements are stale because the analysis code or settings changed, or an
experiment's own cached arrays are), the cell is retrained first
(`attnjax.reproduce.cells.trained`): the same code, config and seeds give
the same parameters on the same platform, so the measurements kept from the
archive stay those of the retrained model (across CPU types, XLA may round
differently; the report's run stamps say which code trained each cell).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from attnjax.io import TEMPORARY_SUFFIX, write_atomic
from attnjax.reproduce.cells import load_arrays
from attnjax.training.checkpoint import CONFIG_FILE, METRICS_FILE

RUN_FILES = (CONFIG_FILE, METRICS_FILE)
"""The files of a cell's `run/` an archive keeps (not its parameters or vocabulary)."""


def cell_folders(out) -> list[Path]:
  """Every cell folder of an output folder (`<out>/<dataset>/cells/<name>`), sorted."""
  out = Path(out)
  return sorted(p for p in out.glob("*/cells/*") if p.is_dir())


def archived_files(cell: Path) -> list[Path]:
  """The files of `cell` an archive keeps, relative to the cell folder (see the module doc)."""
  cell = Path(cell)
  kept = [p.relative_to(cell) for p in sorted(cell.iterdir())
          if p.is_file() and p.suffix in (".npz", ".json") and not p.name.startswith(".")
          and not p.name.endswith(TEMPORARY_SUFFIX)]
  kept += [Path("run") / name for name in RUN_FILES if (cell / "run" / name).is_file()]
  return kept


def _same(a: Path, b: Path) -> bool:
  """Same content: equal bytes, or for `.npz` the same arrays (an archive compresses them)."""
  if a.read_bytes() == b.read_bytes():
    return True
  if a.suffix != ".npz":
    return False
  x, y = load_arrays(a), load_arrays(b)
  return x.keys() == y.keys() and all(
      x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind in "fc")
      for k in x)


def _copy(source: Path, target: Path, *, overwrite: bool, compress: bool = False) -> bool:
  """Copies one file atomically (an `.npz` recompressed if `compress`); False if `target`
  already holds the same content."""
  if target.is_file():
    if _same(source, target):
      return False
    if not overwrite:
      raise FileExistsError(f"{target} exists and differs from {source}: the archive and the "
                            "output folder hold different runs; restore into another --out "
                            "or remove the cell")
  data = source.read_bytes()
  if compress and source.suffix == ".npz":
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **load_arrays(source))
    data = buffer.getvalue()
  target.parent.mkdir(parents=True, exist_ok=True)
  write_atomic(target, data)
  return True


def archive_cells(out, archive) -> list[Path]:
  """Copies every complete cell of `out` into `archive`, without parameters.

  Args:
    out: a `reproduce` output folder (cells in `<out>/<dataset>/cells/<name>`).
    archive: the destination (same layout; arrays compressed); files already there
      are replaced by the newer measurements.

  Returns:
    The files written (paths under `archive`); unchanged files are skipped.

  Raises:
    FileNotFoundError: `out` holds no cell folder.
  """
  out, archive = Path(out), Path(archive)
  folders = cell_folders(out)
  if not folders:
    raise FileNotFoundError(f"{out} holds no cells (<out>/<dataset>/cells/<name>): is it a "
                            "`reproduce --out` folder?")
  written = []
  for cell in folders:
    if not (cell / "run" / CONFIG_FILE).is_file():
      continue  # not trained yet (or killed before its run was saved): nothing to keep
    for name in archived_files(cell):
      target = archive / cell.relative_to(out) / name
      if _copy(cell / name, target, overwrite=True, compress=True):
        written.append(target)
  return written


def restore_cells(archive, out) -> list[Path]:
  """Copies an archive's cells into the output folder `out` (the inverse of `archive_cells`).

  Returns:
    The files written under `out`.

  Raises:
    FileNotFoundError: `archive` holds no cell folder.
    FileExistsError: a file of `out` differs from the archive's (nothing is overwritten;
      files copied before it stay, each whole).
  """
  archive, out = Path(archive), Path(out)
  folders = cell_folders(archive)
  if not folders:
    raise FileNotFoundError(f"{archive} holds no cells (<archive>/<dataset>/cells/<name>)")
  written = []
  for cell in folders:
    for name in archived_files(cell):
      target = out / cell.relative_to(archive) / name
      if _copy(cell / name, target, overwrite=False):
        written.append(target)
  return written
