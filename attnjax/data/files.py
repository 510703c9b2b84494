"""The files source: a folder of `train`/`dev`/`test` files in TSV, CSV or JSONL."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import NamedTuple, Sequence

EXTENSIONS = ("tsv", "csv", "jsonl")


@dataclasses.dataclass(frozen=True)
class FilesFormat:
  """How the split files of a folder are laid out.

  Each split is one file `<split>.tsv`, `<split>.csv` or `<split>.jsonl`, one
  example per row:
    - TSV: fields split on the tab, no quoting (csv `QUOTE_NONE`), so a text may
      begin with `"`; a `\\r` before the newline is dropped.
    - CSV: standard CSV quoting (RFC 4180, Python's `csv`); quoted fields may span lines.
    - JSONL: one JSON object per line; columns are keys (`header` is ignored).
  Lines that are empty are skipped.

  Attributes:
    text_column: the text's column: a name (needs a header, or JSONL) or a
      0-based index (TSV/CSV).
    label_column: the label's column, likewise.
    header: whether TSV/CSV files start with a line of column names.
    label_values: the raw label strings in class-id order (`("0", "1")`,
      `("World", ...)`); None: the sorted distinct labels of the training split
      (numerically when all are integers).
    label_names: display names by class id (None: `label_values`).
  """
  text_column: str | int = "sentence"
  label_column: str | int = "label"
  header: bool = True
  label_values: Sequence[str] | None = None
  label_names: Sequence[str] | None = None

  def __post_init__(self):
    for field in ("text_column", "label_column"):
      column = getattr(self, field)
      if isinstance(column, bool) or not isinstance(column, (str, int)) or (
          isinstance(column, int) and column < 0):
        raise ValueError(f"{field} must be a column name or an index >= 0, got {column!r}")
    if self.label_values is not None:
      object.__setattr__(self, "label_values", tuple(str(v) for v in self.label_values))
      if len(set(self.label_values)) != len(self.label_values) or len(self.label_values) < 2:
        raise ValueError(f"label_values must be >= 2 distinct values, got {self.label_values}")
    if self.label_names is not None:
      object.__setattr__(self, "label_names", tuple(self.label_names))
      if self.label_values is not None and len(self.label_names) != len(self.label_values):
        raise ValueError(f"label_names {self.label_names} and label_values "
                         f"{self.label_values} differ in length")


class Rows(NamedTuple):
  """A split file's examples, raw.

  Attributes:
    texts: the N texts.
    labels: the N raw label strings.
    where: the N `file:line` locations, for error messages.
  """
  texts: list[str]
  labels: list[str]
  where: list[str]


def split_file(folder, split: str) -> Path:
  """The one file `folder/<split>.{tsv,csv,jsonl}`; a clear error if none or several exist."""
  folder = Path(folder)
  if not folder.is_dir():
    raise FileNotFoundError(f"data folder {folder} does not exist (or is not a folder)")
  found = [folder / f"{split}.{ext}" for ext in EXTENSIONS if (folder / f"{split}.{ext}").is_file()]
  if not found:
    present = sorted(p.name for p in folder.iterdir() if p.suffix.lstrip(".") in EXTENSIONS)
    raise FileNotFoundError(f"no file for split {split!r} in {folder}: expected {split}.tsv, "
                            f"{split}.csv or {split}.jsonl; found {present or 'none'}")
  if len(found) > 1:
    raise ValueError(f"split {split!r} is ambiguous in {folder}: {[p.name for p in found]}")
  return found[0]


def read_rows(path, fmt: FilesFormat) -> Rows:
  """Reads the texts and raw labels of one split file (see `FilesFormat`).

  Raises:
    ValueError: naming the file and line, for an unknown column, a short row,
      an empty text, an empty label or bytes that are not UTF-8.
  """
  path = Path(path)
  kind = path.suffix.lstrip(".").lower()
  if kind == "jsonl":
    records = _jsonl_records(path, fmt)
  elif kind in ("tsv", "csv"):
    records = _delimited_records(path, fmt, kind)
  else:
    raise ValueError(f"{path}: unknown file type {path.suffix!r}; use one of {EXTENSIONS}")
  texts, labels, where = [], [], []
  try:
    for line, text, label in records:
      place = f"{path}:{line}"
      if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{place}: empty text in column {fmt.text_column!r}")
      label = _label_string(label)
      if not label:
        raise ValueError(f"{place}: empty label in column {fmt.label_column!r}")
      texts.append(text)
      labels.append(label)
      where.append(place)
  except UnicodeDecodeError as error:
    raise ValueError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 text "
                     f"({error.reason} at byte {error.object[error.start:error.end]!r}); "
                     f"save the file as UTF-8") from None
  return Rows(texts, labels, where)


def _csv_rows(path: Path, f):
  """(line, fields) of a CSV file; a malformed row is a `ValueError` naming path:line."""
  reader = csv.reader(f)
  try:
    for row in reader:
      yield reader.line_num, row
  except csv.Error as error:
    raise ValueError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None


def _first_undecodable_line(path: Path) -> int | str:
  """The 1-based number of the first line of `path` that is not valid UTF-8 ("?" if none)."""
  with open(path, "rb") as f:
    for number, raw in enumerate(f, start=1):
      try:
        raw.decode("utf-8")
      except UnicodeDecodeError:
        return number
  return "?"


def _delimited_records(path: Path, fmt: FilesFormat, kind: str):
  # newline="\n": only \n ends a row; \x85, \u2028 and stray \r stay inside the text.
  with open(path, encoding="utf-8", newline="\n" if kind == "tsv" else "") as f:
    if kind == "tsv":
      rows = ((i, line.rstrip("\n").removesuffix("\r").split("\t")) for i, line in
              enumerate(f, start=1))
    else:
      rows = _csv_rows(path, f)
    text_index = label_index = None
    for line, fields in rows:
      if fields in ([], [""]):
        continue
      if text_index is None:
        header = fields if fmt.header else None
        text_index = _column_index(fmt.text_column, header, path)
        label_index = _column_index(fmt.label_column, header, path)
        if fmt.header:
          continue
      if len(fields) <= max(text_index, label_index):
        raise ValueError(f"{path}:{line}: {len(fields)} field(s), but column "
                         f"{max(text_index, label_index)} is needed (text column "
                         f"{fmt.text_column!r}, label column {fmt.label_column!r})")
      yield line, fields[text_index], fields[label_index]


def _column_index(column, header, path) -> int:
  if header is None:
    if isinstance(column, str):
      raise ValueError(f"{path}: column {column!r} is a name, but the format has no header "
                       f"(header=False); give a 0-based index")
    return column
  if isinstance(column, int):
    return column
  if column not in header:
    raise ValueError(f"{path}:1: unknown column {column!r}; the header has {header}")
  return header.index(column)


def _jsonl_records(path: Path, fmt: FilesFormat):
  with open(path, encoding="utf-8") as f:
    for line, raw in enumerate(f, start=1):
      if not raw.strip():
        continue
      try:
        record = json.loads(raw)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{line}: not valid JSON ({e.msg})") from None
      if not isinstance(record, dict):
        raise ValueError(f"{path}:{line}: expected a JSON object, got {type(record).__name__}")
      for column in (fmt.text_column, fmt.label_column):
        if str(column) not in record:
          raise ValueError(f"{path}:{line}: unknown column {column!r}; the object has keys "
                           f"{sorted(record)}")
      yield line, record[str(fmt.text_column)], record[str(fmt.label_column)]


def _label_string(label) -> str:
  if isinstance(label, bool):
    return str(int(label))
  if isinstance(label, float) and label.is_integer():
    return str(int(label))
  return str(label).strip() if label is not None else ""


def infer_label_values(labels: Sequence[str]) -> tuple[str, ...]:
  """The distinct raw labels, sorted (numerically when all are integers)."""
  values = set(labels)
  try:
    return tuple(sorted(values, key=int))
  except ValueError:
    return tuple(sorted(values))


def label_ids(rows: Rows, label_values: Sequence[str]) -> list[int]:
  """Class ids of `rows.labels`; a clear error naming file:line for a label outside the set."""
  index = {value: i for i, value in enumerate(label_values)}
  ids = []
  for label, place in zip(rows.labels, rows.where):
    if label not in index:
      raise ValueError(f"{place}: label {label!r} is not in the label set {list(label_values)}")
    ids.append(index[label])
  return ids
