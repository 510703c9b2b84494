"""The real corpora `attnjax.data.load` knows: their tfds names, splits, file layouts and labels."""

from __future__ import annotations

import dataclasses
from typing import Mapping

from attnjax.data.files import FilesFormat

SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True)
class Corpus:
  """One text-classification corpus, as read from tfds or from a folder of files.

  Attributes:
    name: the `load` name.
    label_names: display names by class id (the tfds class-label order); None
      for "custom" (taken from the files).
    max_len: default padded length T, long enough for nearly every example.
    tfds_name: the tensorflow-datasets name (None: files only).
    tfds_text: the feature holding the text.
    tfds_splits: our split → the tfds split and slice it is read from.
    tfds_needs_tensorflow: the tfds builder registers only when tensorflow is
      installed (tfds 4.9: `glue`, `yelp_polarity_reviews`).
    files: the default layout of its split files.
  """
  name: str
  label_names: tuple[str, ...] | None
  max_len: int
  tfds_name: str | None = None
  tfds_text: str = "text"
  tfds_splits: Mapping[str, str] = dataclasses.field(default_factory=dict)
  tfds_needs_tensorflow: bool = False
  files: FilesFormat = FilesFormat()


# The 90%/10% train/dev cut of each tfds training split is the one the offline
# copies in shared/data use for SST-2 and IMDB.
_TRAIN_DEV_TEST = {"train": "train[:90%]", "dev": "train[90%:]", "test": "test"}

CORPORA = {
    "sst2": Corpus(
        "sst2", ("negative", "positive"), max_len=64, tfds_name="glue/sst2",
        tfds_text="sentence", tfds_needs_tensorflow=True,
        # GLUE's test labels are hidden: its validation split is the reported test set.
        tfds_splits={**_TRAIN_DEV_TEST, "test": "validation"},
        files=FilesFormat("sentence", "label", header=True, label_values=("0", "1"),
                          label_names=("negative", "positive"))),
    "imdb": Corpus(
        "imdb", ("negative", "positive"), max_len=400, tfds_name="imdb_reviews",
        tfds_splits=_TRAIN_DEV_TEST,
        files=FilesFormat("sentence", "label", header=True, label_values=("0", "1"),
                          label_names=("negative", "positive"))),
    "ag_news": Corpus(
        "ag_news", ("World", "Sports", "Business", "Sci/Tech"), max_len=96,
        # The article's description, without its title, as in the offline copy.
        tfds_name="ag_news_subset", tfds_text="description", tfds_splits=_TRAIN_DEV_TEST,
        files=FilesFormat(0, 1, header=False,
                          label_values=("World", "Sports", "Business", "Sci/Tech"))),
    "yelp": Corpus(
        "yelp", ("negative", "positive"), max_len=400, tfds_name="yelp_polarity_reviews",
        tfds_splits=_TRAIN_DEV_TEST, tfds_needs_tensorflow=True,
        files=FilesFormat("sentence", "label", header=True, label_values=("0", "1"),
                          label_names=("negative", "positive"))),
    # A user's own corpus: source="files" only; columns and labels from `files_format`.
    "custom": Corpus("custom", None, max_len=256),
}
