"""Tokeniser, vocabulary, split slices and encoding: values, not just shapes."""

import json

import numpy as np
import pytest

from attnjax.data import (PAD, PAD_ID, UNK, UNK_ID, Split, Vocab, encode, parse_split,
                          tokenize)


def test_tokenize_rule():
  assert tokenize("It #39;s NOT bad...<br />Don't miss it!") == [
      "it", "'", "s", "not", "bad", ".", ".", ".", "don't", "miss", "it", "!"]
  assert tokenize("it 's does n't -lrb- well-made") == [
      "it", "'", "s", "does", "n't", "-", "lrb", "-", "well", "-", "made"]
  assert tokenize("A&amp;B  costs #36;10\tÉté") == ["a", "&", "b", "costs", "$", "10", "été"]
  assert tokenize(" \t\n") == []
  assert tokenize('"quoted"') == ['"', "quoted", '"']


def test_vocab_orders_by_frequency_then_token_and_caps():
  texts = ["b a c a", "c a b d", "e"]  # a:3, b:2, c:2, d:1, e:1
  vocab = Vocab.build(texts)
  assert vocab.tokens == (PAD, UNK, "a", "b", "c", "d", "e")
  assert vocab.counts == (0, 0, 3, 2, 2, 1, 1)
  assert vocab.id_of(PAD) == PAD_ID and vocab.id_of(UNK) == UNK_ID
  assert Vocab.build(texts[::-1]) == vocab  # document order does not matter
  assert Vocab.build(texts, vocab_size=4).tokens == (PAD, UNK, "a", "b")
  assert Vocab.build(texts, min_freq=2).tokens == (PAD, UNK, "a", "b", "c")
  assert vocab.encode("A z d") == [2, UNK_ID, 5]
  assert vocab.decode([2, 1, 0]) == ["a", UNK, PAD]


@pytest.mark.parametrize("kwargs", [dict(vocab_size=2), dict(min_freq=0)])
def test_vocab_build_rejects_bad_caps(kwargs):
  with pytest.raises(ValueError, match=next(iter(kwargs))):
    Vocab.build(["a"], **kwargs)


def test_vocab_save_load_round_trip_is_atomic(tmp_path, monkeypatch):
  import os
  synced = []
  real_fsync = os.fsync
  monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
  vocab = Vocab.build(["héllo world", "world ."])
  path = tmp_path / "run" / "vocab.json"
  vocab.save(path)
  assert synced  # written by attnjax.io.write_atomic: synced before it replaces the file
  vocab.save(path)  # overwriting goes through a temporary file too
  assert Vocab.load(path) == vocab
  assert sorted(p.name for p in path.parent.iterdir()) == ["vocab.json"]
  data = json.loads(path.read_text(encoding="utf-8"))
  assert data["tokens"][:2] == [PAD, UNK] and data["tokenizer"] == vocab.tokenizer


def test_words_tokenizer_drops_punctuation_and_round_trips(tmp_path):
  from attnjax.data.tokenize import WORDS_TOKENIZER, tokenize_words
  assert tokenize_words("It #39;s NOT bad...<br />Don't miss it!") == [
      "it", "s", "not", "bad", "don", "t", "miss", "it"]
  vocab = Vocab.build(["a b , c !", "a c ."], tokenizer=WORDS_TOKENIZER)
  assert vocab.tokens == (PAD, UNK, "a", "c", "b") and vocab.tokenizer == WORDS_TOKENIZER
  assert vocab.encode("a , zz . c") == [2, 1, 3]  # punctuation gone, zz unknown
  vocab.save(tmp_path / "vocab.json")
  assert Vocab.load(tmp_path / "vocab.json") == vocab


def test_vocab_load_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="no vocabulary file"):
    Vocab.load(tmp_path / "missing.json")
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps({"format": "attnjax.vocab", "version": 1, "tokenizer": "x",
                             "tokens": ["a", "b"]}))
  with pytest.raises(ValueError, match="bad.json.*<pad>"):
    Vocab.load(bad)
  with pytest.raises(ValueError, match="another-tokenizer.*known: lower-word-punct-v1"):
    Vocab([PAD, UNK, "a"], tokenizer="another-tokenizer")
  with pytest.raises(ValueError, match="unique"):
    Vocab([PAD, UNK, "a", "a"])


@pytest.mark.parametrize("split, n, expected", [
    ("train", 10, range(10)),
    ("train[:3]", 10, range(3)),
    ("dev[90%:]", 10, range(9, 10)),
    ("dev[:90%]", 60, range(54)),
    ("test[-2:]", 10, range(8, 10)),
    ("test[10%:-10%]", 20, range(2, 18)),
])
def test_split_slices(split, n, expected):
  assert parse_split(split).indices(n) == expected


def test_split_select_composes_and_round_trips():
  assert parse_split("x[:2]").select(parse_split("train[90%:]").indices(100)) == range(90, 92)
  assert str(parse_split("dev[:90%]")) == "dev[:90%]"
  assert parse_split("dev") == Split("dev")


@pytest.mark.parametrize("bad", ["", "train[", "train[a:b]", "tr ain", "train[:200%]", 3])
def test_split_parse_errors(bad):
  with pytest.raises(ValueError, match="split|bound"):
    parse_split(bad)


def test_encode_pads_truncates_and_never_emits_empty_rows():
  vocab = Vocab.build(["a b c d e"])
  texts = ["a b c d e", "e", "", "!!"]  # "!" is not in the vocabulary
  data = encode(texts, [0, 1, 0, 1], vocab=vocab, label_names=("x", "y"), max_len=3)
  ids = {t: vocab.id_of(t) for t in "abcde"}
  np.testing.assert_array_equal(data.tokens, [[ids["a"], ids["b"], ids["c"]],
                                              [ids["e"], 0, 0],
                                              [UNK_ID, 0, 0],
                                              [UNK_ID, UNK_ID, 0]])
  np.testing.assert_array_equal(data.lengths, [3, 1, 1, 2])
  assert data.tokens.dtype == np.int32 and data.lengths.dtype == np.int32
  assert data.vocab is vocab and data.label_names == ("x", "y")
  end = encode(texts[:1], [0], vocab=vocab, label_names=("x", "y"), max_len=2, keep="end")
  np.testing.assert_array_equal(end.tokens, [[ids["d"], ids["e"]]])


@pytest.mark.parametrize("kwargs, match", [(dict(max_len=0), "max_len"),
                                           (dict(keep="middle"), "keep")])
def test_encode_rejects_bad_options(kwargs, match):
  with pytest.raises(ValueError, match=match):
    encode(["a"], [0], vocab=Vocab.build(["a"]), label_names=("x", "y"),
           **{"max_len": 2, **kwargs})
