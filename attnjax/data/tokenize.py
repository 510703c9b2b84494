"""The tokeniser: lower-case text into word and punctuation tokens, deterministically."""

from __future__ import annotations

import html
import re

# Saved with every vocabulary: a vocabulary only re-encodes identically with the
# tokeniser it was built with. Change the name whenever `tokenize` changes.
TOKENIZER = "lower-word-punct-v1"

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_BARE_ENTITY = re.compile(r"(?<!&)#(\d{1,6});")
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


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
  text = _BREAK.sub(" ", text)
  text = html.unescape(_BARE_ENTITY.sub(lambda m: f"&#{m.group(1)};", text))
  return _TOKEN.findall(text.lower())
