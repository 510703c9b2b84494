"""Data: the planted-token task and the `TextDataset` every loader returns."""

from attnjax.data.dataset import TextDataset
from attnjax.data.planted import PAD_ID, UNK_ID, planted, signal_token_ids
