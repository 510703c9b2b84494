"""Data: real corpora (tfds or files), tokenisation and vocabularies, the planted task,
and the `TextDataset` every loader returns."""

from attnjax.data.corpora import CORPORA, SPLITS, Corpus
from attnjax.data.dataset import TextDataset
from attnjax.data.files import FilesFormat
from attnjax.data.load import (DEFAULT_SOURCE, NAMES, SOURCES, LoadOptions, default_splits, encode,
                               load, load_splits)
from attnjax.data.planted import PAD_ID, UNK_ID, planted, signal_token_ids
from attnjax.data.split import Split, parse_split
from attnjax.data.tokenize import TOKENIZER, tokenize
from attnjax.data.vocab import PAD, UNK, Vocab
