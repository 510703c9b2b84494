"""The tfds source: corpora read through tensorflow-datasets' random-access `data_source`."""

from __future__ import annotations

import importlib
import importlib.util
from typing import NamedTuple

import numpy as np

from attnjax.data.split import Split

INSTALL = 'pip install "attnjax[tfds]"'


class Examples(NamedTuple):
  """Texts and class ids read from one tfds split.

  Attributes:
    texts: the N texts (may be empty strings).
    labels: the N class ids.
  """
  texts: list[str]
  labels: list[int]


def read_examples(tfds_name: str, split: Split, *, then: Split | None = None, text_feature: str,
                  num_classes: int, data_dir=None, download: bool = True,
                  needs_tensorflow: bool = False) -> Examples:
  """Reads the examples of `split` (a tfds split name, with an optional slice).

  Uses `tfds.data_source` (ArrayRecord files, random access): only the sliced
  examples are decoded. With `download=True` a corpus not yet in `data_dir` is
  downloaded and prepared there first (this needs internet and, for most
  builders, tensorflow).

  Args:
    tfds_name: e.g. "imdb_reviews", "glue/sst2".
    split: the tfds split and slice, e.g. `parse_split("train[:90%]")`.
    then: an optional further slice of that, e.g. `parse_split("train[:2000]")`
      (its name is not used).
    text_feature: the feature holding the text.
    num_classes: labels must lie in [0, num_classes).
    data_dir: tfds data directory (None: tfds' default, ~/tensorflow_datasets).
    download: download and prepare when absent.
    needs_tensorflow: the builder is only registered when tensorflow is installed.

  Returns:
    `Examples`.

  Raises:
    ImportError: naming the install command, when tensorflow-datasets (or the
      tensorflow that this builder or its preparation needs) is missing.
    ValueError: for a label outside [0, num_classes) (e.g. GLUE's hidden test labels, -1).
  """
  tfds = _import("tensorflow_datasets", "source='tfds' needs tensorflow-datasets")
  if needs_tensorflow:
    _import("tensorflow", f"the tfds builder {tfds_name!r} is only registered when tensorflow "
                          f"is installed")
  try:
    source = tfds.data_source(tfds_name, split=split.name, data_dir=data_dir, download=download)
  except tfds.core.registered.DatasetNotFoundError as e:
    if importlib.util.find_spec("tensorflow") is None:
      raise ImportError(f"tfds has no builder {tfds_name!r} without tensorflow: {INSTALL}, "
                        f"or use source='files'") from e
    raise
  except ImportError as e:
    # Preparing needs more than reading: tensorflow, and (tfds 4.9) importlib_resources.
    raise ImportError(f"tfds could not prepare {tfds_name!r}: module {e.name!r} is missing: "
                      f"{INSTALL}, or use source='files'") from e
  texts, labels = [], []
  indices = split.indices(len(source))
  for i in indices if then is None else then.select(indices):
    example = source[i]
    text = example[text_feature]
    texts.append(text.decode("utf-8") if isinstance(text, bytes) else str(text))
    label = int(np.asarray(example["label"]))
    if not 0 <= label < num_classes:
      raise ValueError(f"tfds {tfds_name!r} split {split.name!r} example {i}: label {label} is "
                       f"not in [0, {num_classes})")
    labels.append(label)
  return Examples(texts, labels)


def _import(module: str, why: str):
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise ImportError(f"{why}: {INSTALL}, or use source='files' with a folder of "
                      f"train/dev/test files") from e
