"""`TextDataset`: padded token ids with lengths and labels, the one type every loader returns."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class TextDataset:
  """A padded, encoded text-classification split (host NumPy arrays).

  Attributes:
    tokens: <int32>[N, T] token ids, 0 (`<pad>`) after each example's length.
    lengths: <int32>[N] real lengths, 1 ≤ lengths ≤ T.
    labels: <int32>[N] class ids in [0, C).
    label_names: the C class names, index = class id.
    vocab: the vocabulary the tokens were encoded with (None for synthetic data).
    importance: optional <bool>[N, T] ground-truth important positions
      (the planted task); None for real corpora.
  """
  tokens: np.ndarray
  lengths: np.ndarray
  labels: np.ndarray
  label_names: Sequence[str]
  vocab: Any = None
  importance: np.ndarray | None = None

  def __post_init__(self):
    if np.ndim(self.tokens) != 2:
      raise ValueError(f"tokens must be [N, T], got shape {np.shape(self.tokens)}")
    n, max_length = np.shape(self.tokens)
    if np.shape(self.lengths) != (n,) or np.shape(self.labels) != (n,):
      raise ValueError(f"lengths {np.shape(self.lengths)} and labels {np.shape(self.labels)} "
                       f"must both be [N]={n,} to match tokens {np.shape(self.tokens)}")
    if n and (np.min(self.lengths) < 1 or np.max(self.lengths) > max_length):
      raise ValueError(f"lengths must lie in [1, T={max_length}], got range "
                       f"[{np.min(self.lengths)}, {np.max(self.lengths)}]")
    if n and (np.min(self.labels) < 0 or np.max(self.labels) >= len(self.label_names)):
      raise ValueError(f"labels must lie in [0, {len(self.label_names)}) for label_names "
                       f"{list(self.label_names)}, got range [{np.min(self.labels)}, "
                       f"{np.max(self.labels)}]")
    if self.importance is not None and np.shape(self.importance) != (n, max_length):
      raise ValueError(f"importance must be [N, T]={(n, max_length)}, got "
                       f"{np.shape(self.importance)}")

  def __len__(self) -> int:
    return int(np.shape(self.tokens)[0])

  @property
  def num_classes(self) -> int:
    return len(self.label_names)

  @property
  def max_length(self) -> int:
    return int(np.shape(self.tokens)[1])

  def take(self, indices) -> "TextDataset":
    """The examples at `indices` (an int array, a slice or a boolean mask)."""
    pick = lambda a: None if a is None else np.asarray(a)[indices]
    return dataclasses.replace(self, tokens=pick(self.tokens), lengths=pick(self.lengths),
                               labels=pick(self.labels), importance=pick(self.importance))

  def select_classes(self, names: Sequence[str]) -> "TextDataset":
    """Only the examples of the classes `names`, relabelled 0..len(names)−1 in that order.

    E.g. AG News as Jain & Wallace (2019) used it:
    `ag_news.select_classes(["World", "Business"])`.
    """
    names = list(names)
    unknown = [n for n in names if n not in self.label_names]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
      raise ValueError(f"select_classes needs >= 2 distinct names from {list(self.label_names)}, "
                       f"got {names}")
    old_ids = np.array([list(self.label_names).index(n) for n in names])
    remap = np.full(len(self.label_names), -1, np.int32)
    remap[old_ids] = np.arange(len(names), dtype=np.int32)
    kept = self.take(np.isin(self.labels, old_ids))
    return dataclasses.replace(kept, labels=remap[kept.labels], label_names=tuple(names))
