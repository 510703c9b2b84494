"""`load`: a named corpus split (tfds or a folder of files, or the planted task) as a `TextDataset`."""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import numpy as np

from attnjax.checks import is_int
from attnjax.data import files as files_lib
from attnjax.data import tfds_source
from attnjax.data.corpora import CORPORA, SPLITS, Corpus
from attnjax.data.dataset import TextDataset
from attnjax.data.planted import PAD_ID, UNK_ID, planted
from attnjax.data.split import parse_split
from attnjax.data.tokenize import TOKENIZER, TOKENIZERS, tokenizer_named
from attnjax.data.vocab import Vocab

NAMES = ("sst2", "imdb", "ag_news", "yelp", "planted", "custom")
SOURCES = ("tfds", "files")
DEFAULT_SOURCE = "files"
"""The source of real corpora when none is given (library, `attnjax train`, `attnjax reproduce`):
a folder of split files, which needs neither a network nor tensorflow; "tfds" downloads and
prepares through tensorflow-datasets (`pip install "attnjax[tfds]"`)."""
KEEPS = ("start", "end")
PLANTED_SIZES = {"train": 10_000, "dev": 2_000, "test": 2_000}
PLANTED_MAX_LEN = 40
PLANTED_VOCAB_SIZE = 1_000
DEFAULT_VOCAB_SIZE = 30_000


def default_splits(name: str, source: str = DEFAULT_SOURCE, *, train_size: int | None = None,
                   planted_sizes: Sequence[int] = (10_000, 2_000, 2_000)) -> tuple[str, str, str]:
  """The (train, dev, test) splits loaded when none are given: the one split policy.

  - planted: "train[:n]", "dev[:m]", "test[:k]" for `planted_sizes` (n, m, k);
  - ag_news from files: "dev[:90%]", "dev[90%:]", "test" (the offline copy has
    no train file: its 10,000 training articles are in dev.tsv);
  - otherwise "train" (or "train[:train_size]"), "dev", "test".
  The vocabulary is built on the first (`vocab_split`).
  """
  if name == "planted":
    train, dev, test = planted_sizes
    return f"train[:{train}]", f"dev[:{dev}]", f"test[:{test}]"
  if name == "ag_news" and source == "files":
    return "dev[:90%]", "dev[90%:]", "test"
  return ("train" if train_size is None else f"train[:{train_size}]"), "dev", "test"


def load(name: str, *, split: str, vocab: Vocab | None = None,
         options: LoadOptions | None = None, **fields) -> TextDataset:
  """One split of a corpus, tokenised, encoded and padded.

  `load_splits(name, [split], ...)[split]`; see `load_splits` for every argument.
  Loading several splits of one corpus? Pass `vocab=train.vocab` here, or use
  `load_splits`, so that the vocabulary is built once.
  """
  return load_splits(name, (split,), vocab=vocab, options=options, **fields)[split]


@dataclasses.dataclass(frozen=True)
class LoadOptions:
  """How `load_splits` reads and encodes a corpus, validated once (a `ValueError` on a bad value).

  Attributes:
    max_len: padded length T ≥ 1 (None: the corpus default, `CORPORA[name].max_len`;
      planted: 40).
    vocab_size: cap on the vocabulary built, `<pad>` and `<unk>` included
      (None: 30,000); for planted, its V (None: 1,000). Unused with `vocab`.
    min_freq: keep only tokens seen this often in `vocab_split`. Unused with `vocab`.
    tokenizer: the tokeniser a vocabulary is built with (`attnjax.data.tokenize.TOKENIZERS`;
      default: words and punctuation). Unused with `vocab`, which encodes with its own.
    min_length: keep only examples with at least this many tokens (before
      truncation to `max_len`), in every split; 1 keeps all.
    source: "files" (the default, `DEFAULT_SOURCE`: a folder of split files,
      offline) or "tfds" (tensorflow-datasets; downloads and prepares into
      `data_dir`). Ignored for planted.
    data_dir: tfds: its data directory (None: tfds' default). files: the folder
      of split files, or a folder with a subfolder `name` holding them (so the
      folder of all offline corpora works for every name).
    keep: "start" or "end", the part of a long text kept.
    vocab_split: the split the vocabulary (and, for files without
      `label_values`, the label set) is built on.
    files_format: the layout of the files (None: the corpus default, see
      `CORPORA`); "custom" without it reads a header with `sentence`, `label`.
    download: tfds: download and prepare a corpus not yet in `data_dir`.
    seed: planted: an integer >= 0; train/dev/test are drawn with
      `fold_in(PRNGKey(seed), i)`, i = 0, 1, 2, so they differ and are reproducible.
    size: planted: examples per split (None: 10,000 train, 2,000 dev/test).
    planted_options: planted: other keyword arguments of `planted`
      (num_classes, label_noise, ...).
  """
  max_len: int | None = None
  vocab_size: int | None = None
  min_freq: int = 1
  tokenizer: str = TOKENIZER
  min_length: int = 1
  source: str = DEFAULT_SOURCE
  data_dir: Any = None
  keep: str = "start"
  vocab_split: str = "train"
  files_format: files_lib.FilesFormat | None = None
  download: bool = True
  seed: int = 0
  size: int | None = None
  planted_options: Mapping[str, Any] | None = None

  def __post_init__(self):
    if self.max_len is not None and (isinstance(self.max_len, bool)
                                     or not isinstance(self.max_len, int) or self.max_len < 1):
      raise ValueError(f"max_len must be an int >= 1, got {self.max_len!r}")
    tokenizer_named(self.tokenizer)
    if not is_int(self.min_length) or self.min_length < 1:
      raise ValueError(f"min_length must be an integer >= 1, got {self.min_length!r}")
    if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
      raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
    allowed = set(inspect.signature(planted).parameters) - {"key", "n", "seq_len", "vocab_size"}
    unknown = sorted(set(self.planted_options or {}) - allowed)
    if unknown:
      raise ValueError(f"unknown planted_options {unknown}; allowed: {sorted(allowed)}")
    if self.source not in SOURCES:
      raise ValueError(f"unknown source {self.source!r}; known: {', '.join(SOURCES)}")
    if self.keep not in KEEPS:
      raise ValueError(f"unknown keep {self.keep!r}; known: {', '.join(KEEPS)}")


def load_splits(name: str, splits: Sequence[str] = SPLITS, *, vocab: Vocab | None = None,
                options: LoadOptions | None = None, **fields) -> dict[str, TextDataset]:
  """Splits of a corpus, encoded with one vocabulary built on the training split.

  Splits are "train", "dev" and "test", optionally sliced: "train[:2000]",
  "dev[90%:]" (see `attnjax.data.split`). With tfds, "train"/"dev" are the
  first 90% / last 10% of the tfds training split and "test" its test split
  (SST-2: GLUE's validation split, whose labels are public); with files, a
  split is the file `<split>.tsv|csv|jsonl`.

  Texts are tokenised by `attnjax.data.tokenize` and truncated to `max_len`
  tokens, keeping the beginning (`keep="start"`) or the end (`keep="end"`). A
  text with no tokens is encoded as one `<unk>` (length 1), so every row has a
  real position to attend to.

  Args:
    name: "sst2", "imdb", "ag_news", "yelp", "planted" (the synthetic task) or
      "custom" (your own files; `source="files"` only).
    splits: the splits to return.
    vocab: encode with this vocabulary (e.g. `Vocab.load` of a run's
      vocab.json); None builds one on `vocab_split`.
    options: a `LoadOptions` (default `LoadOptions()`).
    **fields: `LoadOptions` fields (max_len=64, source="tfds", data_dir=...,
      ...) replacing those of `options`.

  Returns:
    {split: `TextDataset`} with tokens <int32>[N, T], lengths <int32>[N] in
    [1, T], labels <int32>[N], label names and the `Vocab` (None for planted).

  Raises:
    ValueError / FileNotFoundError: unknown name, source, split or column,
      missing folder or file, empty text or unknown label (naming file:line),
      `max_len` < 1.
    ImportError: tfds source without tensorflow-datasets / tensorflow; the
      message names `pip install "attnjax[tfds]"`.
  """
  if name not in NAMES:
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
  o = dataclasses.replace(options or LoadOptions(), **fields)
  if name == "planted":
    if vocab is not None:
      raise ValueError("planted data have fixed token ids and no Vocab; pass vocab=None")
    return {s: _planted_split(s, max_len=o.max_len or PLANTED_MAX_LEN,
                              vocab_size=o.vocab_size or PLANTED_VOCAB_SIZE, seed=o.seed,
                              size=o.size, options=o.planted_options or {}) for s in splits}
  corpus = CORPORA[name]
  if o.source == "files":
    reader = _FilesReader(corpus, o.data_dir, o.files_format or corpus.files, o.vocab_split)
  else:
    reader = _TfdsReader(corpus, o.data_dir, o.download)
  if vocab is None:
    vocab = Vocab.build(reader.read(o.vocab_split).texts,
                        vocab_size=DEFAULT_VOCAB_SIZE if o.vocab_size is None else o.vocab_size,
                        min_freq=o.min_freq, tokenizer=o.tokenizer)
  out = {}
  for split in splits:
    texts, labels = reader.read(split)
    if o.min_length > 1:
      split_text = TOKENIZERS[vocab.tokenizer]
      kept = [i for i, text in enumerate(texts) if len(split_text(text)) >= o.min_length]
      texts, labels = [texts[i] for i in kept], [labels[i] for i in kept]
    out[split] = encode(texts, labels, vocab=vocab, label_names=reader.label_names(),
                        max_len=o.max_len or corpus.max_len, keep=o.keep)
  return out


def encode(texts: Sequence[str], labels: Sequence[int], *, vocab: Vocab,
           label_names: Sequence[str], max_len: int, keep: str = "start") -> TextDataset:
  """Tokenises, encodes, truncates and pads `texts` into a `TextDataset`.

  Args:
    texts: N documents.
    labels: N class ids in [0, len(label_names)).
    vocab: the vocabulary.
    label_names: class names by id.
    max_len: T ≥ 1.
    keep: "start" keeps the first T tokens of a longer text, "end" the last T.

  Returns:
    `TextDataset` with tokens <int32>[N, T] (`<pad>` = 0 after each length),
    lengths <int32>[N] (a text without tokens is one `<unk>`, length 1).
  """
  if max_len < 1:
    raise ValueError(f"max_len must be >= 1, got {max_len!r}")
  if keep not in KEEPS:
    raise ValueError(f"unknown keep {keep!r}; known: {', '.join(KEEPS)}")
  if len(texts) != len(labels):
    raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
  tokens = np.full((len(texts), max_len), PAD_ID, np.int32)
  lengths = np.empty(len(texts), np.int32)
  for i, text in enumerate(texts):
    ids = vocab.encode(text) or [UNK_ID]
    ids = ids[:max_len] if keep == "start" else ids[-max_len:]
    tokens[i, :len(ids)] = ids
    lengths[i] = len(ids)
  return TextDataset(tokens=tokens, lengths=lengths, labels=np.asarray(labels, np.int32),
                     label_names=tuple(label_names), vocab=vocab)


class _Texts(NamedTuple):
  texts: list[str]
  labels: list[int]


class _FilesReader:
  """Reads (and caches) the split files of one folder."""

  def __init__(self, corpus: Corpus, data_dir, fmt: files_lib.FilesFormat, vocab_split: str):
    if data_dir is None:
      raise ValueError(f"source='files' needs data_dir: the folder holding {corpus.name}'s "
                       f"train/dev/test files (or use source='tfds')")
    folder = Path(data_dir)
    self.folder = folder / corpus.name if (folder / corpus.name).is_dir() else folder
    self.fmt = fmt
    self.vocab_split = vocab_split
    self._rows: dict[str, files_lib.Rows] = {}
    self._label_values = fmt.label_values

  def rows(self, split: str) -> files_lib.Rows:
    parsed = parse_split(split)
    if parsed.name not in self._rows:
      path = files_lib.split_file(self.folder, parsed.name)
      self._rows[parsed.name] = files_lib.read_rows(path, self.fmt)
    rows = self._rows[parsed.name]
    pick = parsed.indices(len(rows.texts))
    return files_lib.Rows(*([column[i] for i in pick] for column in rows))

  def label_values(self) -> tuple[str, ...]:
    if self._label_values is None:
      labels = self.rows(self.vocab_split).labels
      if not labels:
        raise ValueError(f"split {self.vocab_split!r} of {self.folder} holds no examples, so "
                         f"it gives no label set")
      self._label_values = files_lib.infer_label_values(labels)
      if len(self._label_values) < 2:
        raise ValueError(f"split {self.vocab_split!r} of {self.folder} has a single label "
                         f"{self._label_values}; a classifier needs >= 2 classes")
    return self._label_values

  def label_names(self) -> tuple[str, ...]:
    return tuple(self.fmt.label_names or self.label_values())

  def read(self, split: str) -> _Texts:
    rows = self.rows(split)
    return _Texts(rows.texts, files_lib.label_ids(rows, self.label_values()))


class _TfdsReader:
  """Reads (and caches) splits of one tfds corpus."""

  def __init__(self, corpus: Corpus, data_dir, download: bool):
    if corpus.tfds_name is None:
      raise ValueError(f"{corpus.name!r} has no tfds source; use source='files'")
    self.corpus = corpus
    self.data_dir = data_dir
    self.download = download
    self._cache: dict[str, _Texts] = {}

  def label_names(self) -> tuple[str, ...]:
    return self.corpus.label_names

  def read(self, split: str) -> _Texts:
    parsed = parse_split(split)
    if parsed.name not in self.corpus.tfds_splits:
      raise ValueError(f"unknown split {parsed.name!r} for {self.corpus.name!r}; known: "
                       f"{', '.join(self.corpus.tfds_splits)}")
    if split not in self._cache:
      examples = tfds_source.read_examples(
          self.corpus.tfds_name, parse_split(self.corpus.tfds_splits[parsed.name]), then=parsed,
          text_feature=self.corpus.tfds_text, num_classes=len(self.corpus.label_names),
          data_dir=self.data_dir, download=self.download,
          needs_tensorflow=self.corpus.tfds_needs_tensorflow)
      self._cache[split] = _Texts(*examples)
    return self._cache[split]


def _planted_split(split: str, *, max_len: int, vocab_size: int, seed: int, size: int | None,
                   options: Mapping[str, Any]) -> TextDataset:
  parsed = parse_split(split)
  if parsed.name not in SPLITS:
    raise ValueError(f"unknown split {parsed.name!r} for 'planted'; known: {', '.join(SPLITS)}")
  n = PLANTED_SIZES[parsed.name] if size is None else size
  key = jax.random.fold_in(jax.random.PRNGKey(seed), SPLITS.index(parsed.name))
  data = planted(key, n, seq_len=max_len, vocab_size=vocab_size, **options)
  return data.take(np.asarray(parsed.indices(n), np.int64))
