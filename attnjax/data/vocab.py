"""`Vocab`: the token ↔ id map, built on a training split and saved as JSON with each run."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Iterable, Sequence

from attnjax.data.planted import PAD_ID, UNK_ID
from attnjax.data.tokenize import TOKENIZER, TOKENIZERS, tokenizer_named
from attnjax.io import write_atomic

PAD = "<pad>"
UNK = "<unk>"
_FORMAT = "attnjax.vocab"
_VERSION = 1


class Vocab:
  """Token ids: `<pad>` = 0, `<unk>` = 1, then tokens by decreasing training frequency.

  Ties in frequency are broken by the token's string order, so the ids depend
  only on the token counts, not on the order of the documents.

  Attributes:
    tokens: the V tokens, index = id.
    counts: training-split count of each token (0 for `<pad>` and `<unk>`).
    tokenizer: name of the tokeniser the vocabulary was built with.
  """

  def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None,
               tokenizer: str = TOKENIZER):
    tokens = tuple(tokens)
    if tokens[:2] != (PAD, UNK):
      raise ValueError(f"a Vocab starts with {PAD!r}, {UNK!r} (ids {PAD_ID}, {UNK_ID}); "
                       f"got {list(tokens[:2])}")
    ids = {token: i for i, token in enumerate(tokens)}
    if len(ids) != len(tokens):
      repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
      raise ValueError(f"Vocab tokens must be unique; repeated: {repeated[:5]}")
    tokenizer_named(tokenizer)  # a ValueError for an unknown name
    counts = (0,) * len(tokens) if counts is None else tuple(int(c) for c in counts)
    if len(counts) != len(tokens):
      raise ValueError(f"Vocab has {len(tokens)} tokens but {len(counts)} counts")
    self.tokens = tokens
    self.counts = counts
    self.tokenizer = tokenizer
    self._ids = ids

  @classmethod
  def build(cls, texts: Iterable[str], *, vocab_size: int | None = None,
            min_freq: int = 1, tokenizer: str = TOKENIZER) -> "Vocab":
    """Counts the tokens of `texts` (the training split) and keeps the most frequent.

    Args:
      texts: the training documents (tokenised with `tokenize`).
      vocab_size: at most this many ids in all, `<pad>` and `<unk>` included
        (None: no cap).
      min_freq: keep only tokens seen at least this often.
      tokenizer: the name of the tokeniser (`attnjax.data.tokenize.TOKENIZERS`).

    Returns:
      The `Vocab`.
    """
    if vocab_size is not None and vocab_size < 3:
      raise ValueError(f"vocab_size must be >= 3 (<pad>, <unk> and a token) or None, "
                       f"got {vocab_size!r}")
    if min_freq < 1:
      raise ValueError(f"min_freq must be >= 1, got {min_freq!r}")
    split = tokenizer_named(tokenizer)
    counter = collections.Counter()
    for text in texts:
      counter.update(split(text))
    kept = sorted((item for item in counter.items() if item[1] >= min_freq),
                  key=lambda item: (-item[1], item[0]))
    if vocab_size is not None:
      kept = kept[:vocab_size - 2]
    return cls([PAD, UNK] + [t for t, _ in kept], [0, 0] + [c for _, c in kept], tokenizer)

  def __len__(self) -> int:
    return len(self.tokens)

  def __eq__(self, other) -> bool:
    return (isinstance(other, Vocab) and self.tokens == other.tokens
            and self.counts == other.counts and self.tokenizer == other.tokenizer)

  def __repr__(self) -> str:
    return f"Vocab(size={len(self)}, tokenizer={self.tokenizer!r})"

  def id_of(self, token: str) -> int:
    """The id of `token`, `UNK_ID` when it is not in the vocabulary."""
    return self._ids.get(token, UNK_ID)

  def encode(self, text: str) -> list[int]:
    """Token ids of `text` (may be empty; no truncation or padding)."""
    get = self._ids.get
    return [get(token, UNK_ID) for token in TOKENIZERS[self.tokenizer](text)]

  def decode(self, ids: Iterable[int]) -> list[str]:
    """Tokens of `ids` (padding included, if given)."""
    return [self.tokens[int(i)] for i in ids]

  def to_dict(self) -> dict:
    return {"format": _FORMAT, "version": _VERSION, "tokenizer": self.tokenizer,
            "tokens": list(self.tokens), "counts": list(self.counts)}

  @classmethod
  def from_dict(cls, data: dict) -> "Vocab":
    if data.get("format") != _FORMAT or data.get("version") != _VERSION:
      raise ValueError(f"not an {_FORMAT} version {_VERSION} document (format="
                       f"{data.get('format')!r}, version={data.get('version')!r})")
    return cls(data["tokens"], data.get("counts"), data["tokenizer"])

  def save(self, path) -> None:
    """Writes the vocabulary as UTF-8 JSON to `path` (`attnjax.io.write_atomic`: a reader never
    sees half a file, and the file is synced to disk before it replaces the old one)."""
    write_atomic(path, json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8"))

  @classmethod
  def load(cls, path) -> "Vocab":
    """Reads a vocabulary written by `save`."""
    path = Path(path)
    try:
      data = json.loads(path.read_text(encoding="utf-8"))
      return cls.from_dict(data)
    except FileNotFoundError:
      raise FileNotFoundError(f"no vocabulary file at {path}") from None
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f"{path}: not a valid vocabulary file: {e}") from e
