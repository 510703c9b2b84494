r"""Tokenisers: lower-case text into tokens, deterministically, each under a saved name.

`tokenize` (`TOKENIZER`, the default) keeps words and punctuation; `tokenize_words`
(`WORDS_TOKENIZER`) keeps words only, as Jain & Wallace (2019) preprocess their corpora
(`re.sub(r'\W', ' ', text)` then lower-cased spaCy tokens). `TOKENIZERS` maps each saved
name to its function: a vocabulary records the name it was built with and encodes with it.
"""

from __future__ import annotations

import html
import re

# Saved with every vocabulary: a vocabulary only re-encodes identically with the
# tokeniser it was built with. Change the name whenever `tokenize` changes.
TOKENIZER = "lower-word-punct-v1"

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_BARE_ENTITY = re.compile(r"(?<!&)#(\d{1,6});")
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_WORD = re.compile(r"\w+")


def _normalise(text: str) -> str:
  """Steps 1 and 2 of `tokenize`: HTML breaks to spaces, entities decoded, lower case."""
  text = _BREAK.sub(" ", text)
  return html.unescape(_BARE_ENTITY.sub(lambda m: f"&#{m.group(1)};", text)).lower()


def tokenize(text: str) -> list[str]:
  """Splits `text` into lower-case word and punctuation tokens.

  The rule, in order:
    1. HTML line breaks (`<br />`, as in IMDB) become spaces; HTML entities
       (`&amp;`) and the bare numeric escapes of AG News (`#39;` for `'`) are
       decoded.
    2. The text is lower-cased.
    3. Tokens are maximal runs of word characters, with inner apostrophes kept
       (`don't`, `n't`), or single punctuation characters; whitespace separates.

  A text of only whitespace gives no tokens (the encoder then writes `<unk>`,
  see `attnjax.data.encode`).

  Example:
    >>> tokenize("It #39;s NOT bad...<br />Don't miss it!")
    ["it", "'", "s", "not", "bad", ".", ".", ".", "don't", "miss", "it", "!"]

  Args:
    text: one document.

  Returns:
    The tokens, in order.
  """
  return _TOKEN.findall(_normalise(text))


WORDS_TOKENIZER = "lower-words-v1"


def tokenize_words(text: str) -> list[str]:
  r"""Splits `text` into lower-case word tokens; punctuation separates words and is dropped.

  Steps 1 and 2 of `tokenize`, then tokens are maximal runs of word characters
  (`\w+`): "don't" gives "don", "t", as Jain & Wallace's `re.sub(r'\W', ' ', text)`
  does before tokenising.

  Example:
    >>> tokenize_words("It #39;s NOT bad...<br />Don't miss it!")
    ["it", "s", "not", "bad", "don", "t", "miss", "it"]
  """
  return _WORD.findall(_normalise(text))


TOKENIZERS = {TOKENIZER: tokenize, WORDS_TOKENIZER: tokenize_words}
"""Saved tokeniser name -> function."""


def tokenizer_named(name: str):
  """The tokenising function saved as `name`; a `ValueError` lists the known names."""
  if name not in TOKENIZERS:
    raise ValueError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
  return TOKENIZERS[name]
