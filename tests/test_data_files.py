"""`load(source="files")` on small folders written here, bad input, and `load("planted")`."""

import json

import numpy as np
import pytest

from attnjax.data import FilesFormat, Vocab, load, load_splits

TRAIN = [("a good film", "1"), ('"a bad film', "0"), ("good good", "1"), ("bad", "0")]
TEST = [("good", "1"), ("an unseen bad word", "0")]


def _write_tsv(folder, split, rows, header=("sentence", "label")):
  lines = (["\t".join(header)] if header else []) + ["\t".join(r) for r in rows]
  (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def sst_like(tmp_path):
  folder = tmp_path / "sst2"
  folder.mkdir()
  _write_tsv(folder, "train", TRAIN)
  _write_tsv(folder, "test", TEST)
  return folder


def test_tsv_with_header_builds_vocab_on_train_only(sst_like):
  out = load_splits("sst2", ["train", "test"], source="files", data_dir=sst_like, max_len=5)
  train, test = out["train"], out["test"]
  vocab = train.vocab
  assert test.vocab is vocab
  assert vocab.tokens[2:] == ("good", "a", "bad", "film", '"')
  assert vocab.id_of("unseen") == 1  # test-only words are <unk>
  np.testing.assert_array_equal(train.labels, [1, 0, 1, 0])
  np.testing.assert_array_equal(train.lengths, [3, 4, 2, 1])  # '"' is a token: no quote eaten
  assert vocab.decode(train.tokens[1, :4]) == ['"', "a", "bad", "film"]
  assert vocab.decode(test.tokens[1, :4]) == ["<unk>", "<unk>", "bad", "<unk>"]
  assert train.label_names == ("negative", "positive")
  # The parent folder works too (a subfolder named after the corpus), and so does `load`.
  same = load("sst2", split="test", source="files", data_dir=sst_like.parent, max_len=5,
              vocab=vocab)
  np.testing.assert_array_equal(same.tokens, test.tokens)


def test_csv_and_jsonl_and_headerless_give_the_same_dataset(tmp_path, sst_like):
  expected = load("sst2", split="train", source="files", data_dir=sst_like, max_len=6)
  csv_dir, jsonl_dir, bare_dir = (tmp_path / d for d in ("csv", "jsonl", "bare"))
  for d in (csv_dir, jsonl_dir, bare_dir):
    d.mkdir()
  quoted = lambda s: '"' + s.replace('"', '""') + '"'
  (csv_dir / "train.csv").write_text(
      "label,sentence\r\n" + "".join(f"{y},{quoted(x)}\r\n" for x, y in TRAIN))
  (jsonl_dir / "train.jsonl").write_text(
      "".join(json.dumps({"sentence": x, "label": int(y)}) + "\n\n" for x, y in TRAIN))
  _write_tsv(bare_dir, "train", [(y, x) for x, y in TRAIN], header=None)
  formats = {csv_dir: FilesFormat(), jsonl_dir: FilesFormat(),
             bare_dir: FilesFormat(text_column=1, label_column=0, header=False)}
  for folder, fmt in formats.items():
    got = load("custom", split="train", source="files", data_dir=folder, max_len=6,
               files_format=fmt)
    assert got.vocab == expected.vocab, folder
    np.testing.assert_array_equal(got.tokens, expected.tokens)
    np.testing.assert_array_equal(got.labels, expected.labels)
    assert got.label_names == ("0", "1")  # inferred from the training split


def test_custom_labels_inferred_from_train_and_sliced_splits(tmp_path):
  rows = [(f"text {i}", label) for i, label in enumerate(["10", "9", "x"] * 3)]
  _write_tsv(tmp_path, "train", rows, header=("t", "y"))
  fmt = FilesFormat("t", "y")
  data = load("custom", split="train[1:4]", source="files", data_dir=tmp_path,
              files_format=fmt)
  assert data.label_names == ("10", "9", "x")  # not all integers: string order
  assert len(data) == 3
  assert data.vocab.id_of("text") == 2 and data.vocab.counts[2] == 9  # vocab: all of train
  names = FilesFormat("t", "y", label_values=("x", "9", "10"), label_names=("X", "N", "T"))
  renamed = load("custom", split="train", source="files", data_dir=tmp_path, files_format=names)
  assert renamed.label_names == ("X", "N", "T")
  np.testing.assert_array_equal(renamed.labels[:3], [2, 1, 0])


def test_vocab_split_and_given_vocab(sst_like):
  vocab = Vocab.build(["film"])
  data = load("sst2", split="train", source="files", data_dir=sst_like, vocab=vocab, max_len=3)
  assert data.vocab is vocab
  np.testing.assert_array_equal(data.tokens[0], [1, 1, 2])
  on_test = load("sst2", split="train", source="files", data_dir=sst_like, vocab_split="test")
  assert on_test.vocab.id_of("unseen") > 1 and on_test.vocab.id_of("film") == 1


@pytest.mark.parametrize("write, kwargs, error, match", [
    (None, dict(data_dir="/nonexistent/folder"), FileNotFoundError, "does not exist"),
    (None, dict(split="dev"), FileNotFoundError, "no file for split 'dev'.*train.tsv"),
    ("sentence\tlabel\nok\t1\n\t0\n", {}, ValueError, r"train.tsv:3: empty text"),
    ("sentence\tlabel\nok\t1\nfine\t2\n", {}, ValueError, r"train.tsv:3: label '2' is not in"),
    ("text\tlabel\nok\t1\n", {}, ValueError, r"train.tsv:1: unknown column 'sentence'"),
    ("sentence\tlabel\nok\n", {}, ValueError, r"train.tsv:2: 1 field"),
    (None, dict(max_len=0), ValueError, "max_len"),
    (None, dict(name="sst3"), ValueError, "unknown dataset 'sst3'"),
    (None, dict(source="hub"), ValueError, "unknown source"),
    (None, dict(data_dir=None), ValueError, "needs data_dir"),
])
def test_bad_input_gives_clear_errors(sst_like, write, kwargs, error, match):
  if write is not None:
    (sst_like / "train.tsv").write_text(write)
  kwargs = {"name": "sst2", "split": "train", "source": "files", "data_dir": sst_like, **kwargs}
  with pytest.raises(error, match=match):
    load(kwargs.pop("name"), **kwargs)


def test_bad_input_in_other_formats(tmp_path):
  (tmp_path / "train.jsonl").write_text('{"sentence": "a", "label": 0}\n[1]\n')
  with pytest.raises(ValueError, match=r"train.jsonl:2: expected a JSON object"):
    load("custom", split="train", source="files", data_dir=tmp_path)
  (tmp_path / "train.jsonl").write_text('{"text": "a", "label": 0}\n')
  with pytest.raises(ValueError, match=r"train.jsonl:1: unknown column 'sentence'"):
    load("custom", split="train", source="files", data_dir=tmp_path)
  (tmp_path / "train.csv").write_text("sentence,label\na,0\n")
  with pytest.raises(ValueError, match="ambiguous"):
    load("custom", split="train", source="files", data_dir=tmp_path)
  (tmp_path / "train.jsonl").unlink()
  with pytest.raises(ValueError, match="header=False"):
    load("custom", split="train", source="files", data_dir=tmp_path,
         files_format=FilesFormat(header=False))
  with pytest.raises(ValueError, match="single label"):
    load("custom", split="train", source="files", data_dir=tmp_path)
  with pytest.raises(ValueError, match="no tfds source"):
    load("custom", split="train", source="tfds")


def test_planted_splits_differ_and_are_reproducible():
  kwargs = dict(max_len=12, vocab_size=50, size=64, planted_options=dict(num_classes=3))
  out = load_splits("planted", **kwargs)
  again = load("planted", split="dev", **kwargs)
  np.testing.assert_array_equal(out["dev"].tokens, again.tokens)
  assert out["train"].tokens.shape == (64, 12) and out["train"].num_classes == 3
  assert not np.array_equal(out["train"].tokens, out["dev"].tokens)
  assert not np.array_equal(out["dev"].tokens, out["test"].tokens)
  other_seed = load("planted", split="dev", seed=1, **kwargs)
  assert not np.array_equal(other_seed.tokens, again.tokens)
  head = load("planted", split="dev[:10]", **kwargs)
  np.testing.assert_array_equal(head.tokens, again.tokens[:10])
  assert out["train"].vocab is None and out["train"].importance is not None
  with pytest.raises(ValueError, match="unknown split 'valid'"):
    load("planted", split="valid")


def test_select_classes_keeps_and_relabels_in_the_given_order():
  from attnjax.data import TextDataset
  data = TextDataset(tokens=np.arange(12, dtype=np.int32).reshape(6, 2) + 2,
                     lengths=np.full(6, 2, np.int32), labels=np.array([0, 1, 2, 3, 2, 0], np.int32),
                     label_names=("World", "Sports", "Business", "Sci/Tech"))
  two = data.select_classes(["Business", "World"])
  assert two.label_names == ("Business", "World")
  np.testing.assert_array_equal(two.labels, [1, 0, 0, 1])
  np.testing.assert_array_equal(two.tokens[:, 0], [2, 6, 10, 12])
  with pytest.raises(ValueError, match="Politics"):
    data.select_classes(["World", "Politics"])
  with pytest.raises(ValueError, match=">= 2 distinct"):
    data.select_classes(["World"])


def test_load_options_are_one_validated_frozen_dataclass():
  import dataclasses

  from attnjax.data import LoadOptions, load_splits

  options = LoadOptions(max_len=7, size=12, seed=3)
  with pytest.raises(dataclasses.FrozenInstanceError):
    options.max_len = 8
  for bad, message in ((dict(max_len=0), "max_len must be an int >= 1"),
                       (dict(source="hub"), "unknown source 'hub'"),
                       (dict(keep="middle"), "unknown keep 'middle'"),
                       (dict(seed=-1), "seed must be an integer >= 0"),
                       (dict(planted_options={"colour": 1}), "unknown planted_options")):
    with pytest.raises(ValueError, match=message):
      LoadOptions(**bad)
  by_options = load_splits("planted", ("train", "test"), options=options)
  by_keywords = load_splits("planted", ("train", "test"), max_len=7, size=12, seed=3)
  for split in ("train", "test"):
    np.testing.assert_array_equal(by_options[split].tokens, by_keywords[split].tokens)
  # Keywords replace the fields of `options`.
  assert load_splits("planted", ("dev",), options=options, max_len=9)["dev"].max_length == 9
