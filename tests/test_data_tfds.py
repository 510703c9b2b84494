"""`load(source="tfds")` under `tfds.testing.mock_data` (no download), and its install errors."""

import importlib.util
import sys

import numpy as np
import pytest

from attnjax.data import PAD_ID, UNK_ID, Vocab, load, load_splits

tfds = pytest.importorskip("tensorflow_datasets")
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


@pytest.mark.parametrize("name, num_classes", [("imdb", 2), ("ag_news", 4)])
def test_mock_corpus_loads_through_data_source(name, num_classes):
  with tfds.testing.mock_data(num_examples=20):
    out = load_splits(name, source="tfds", max_len=8)
  # "train"/"dev" are the first 90% / last 10% of tfds' train split (20 mock examples).
  assert {s: len(d) for s, d in out.items()} == {"train": 18, "dev": 2, "test": 20}
  for data in out.values():
    assert data.tokens.shape[1] == 8 and data.vocab is out["train"].vocab
    assert data.num_classes == num_classes
    assert np.all((data.lengths >= 1) & (data.lengths <= 8))
    beyond = np.arange(8)[None, :] >= data.lengths[:, None]
    assert np.all(data.tokens[beyond] == PAD_ID) and np.all(data.tokens[~beyond] != PAD_ID)
  assert len(out["train"].vocab) > 2


def _fake_source(examples):
  def as_data_source(self, split, decoders=None, deserialize_method=None, **kwargs):
    return examples
  return as_data_source


def test_tfds_texts_labels_and_slices_are_read_as_given():
  examples = [{"text": b"Great film<br />!", "label": np.int64(1)},
              {"text": "awful", "label": np.int64(0)},
              {"text": b"", "label": np.int64(0)},  # tfds text with no tokens: one <unk>
              {"text": "great fun", "label": np.int64(1)}]
  with tfds.testing.mock_data(as_data_source_fn=_fake_source(examples)):
    data = load("imdb", source="tfds", split="test[1:]", vocab=Vocab.build(["great film awful"]),
                max_len=4)
  vocab = data.vocab
  np.testing.assert_array_equal(data.labels, [0, 0, 1])
  np.testing.assert_array_equal(data.lengths, [1, 1, 2])
  np.testing.assert_array_equal(data.tokens[:, :2], [[vocab.id_of("awful"), PAD_ID],
                                                     [UNK_ID, PAD_ID],
                                                     [vocab.id_of("great"), UNK_ID]])
  assert data.label_names == ("negative", "positive")


def test_tfds_label_out_of_range_is_a_clear_error():
  examples = [{"text": "fine", "label": np.int64(-1)}]  # e.g. GLUE's hidden test labels
  with tfds.testing.mock_data(as_data_source_fn=_fake_source(examples)):
    with pytest.raises(ValueError, match=r"'imdb_reviews' split 'test' example 0: label -1"):
      load("imdb", source="tfds", split="test", vocab=Vocab.build(["fine"]))
    with pytest.raises(ValueError, match="unknown split 'validation'"):
      load("imdb", source="tfds", split="validation", vocab=Vocab.build(["fine"]))


@pytest.mark.skipif(HAS_TENSORFLOW, reason="checks the error shown when tensorflow is missing")
@pytest.mark.parametrize("name", ["sst2", "yelp"])
def test_builders_needing_tensorflow_name_the_install_command(name):
  with tfds.testing.mock_data(num_examples=4):
    with pytest.raises(ImportError, match=r'pip install "attnjax\[tfds\]"'):
      load(name, source="tfds", split="train")


@pytest.mark.skipif(not HAS_TENSORFLOW, reason="glue and yelp register only with tensorflow")
@pytest.mark.parametrize("name", ["sst2", "yelp"])
def test_builders_needing_tensorflow_load_when_it_is_installed(name):
  with tfds.testing.mock_data(num_examples=10):
    out = load_splits(name, source="tfds", max_len=6)
  assert [len(d) for d in out.values()] == [9, 1, 10]
  assert out["test"].label_names == ("negative", "positive")


def test_missing_tensorflow_datasets_names_the_install_command(monkeypatch):
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
  with pytest.raises(ImportError, match=r'needs tensorflow-datasets: pip install "attnjax\[tfds\]"'):
    load("imdb", source="tfds", split="train")


def test_preparation_missing_a_module_names_it_and_the_install_command(monkeypatch):
  def data_source(*args, **kwargs):
    raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")
  monkeypatch.setattr(tfds, "data_source", data_source)
  with pytest.raises(ImportError, match=r"'importlib_resources' is missing: pip install "
                                        r'"attnjax\[tfds\]"'):
    load("imdb", source="tfds", split="train")
