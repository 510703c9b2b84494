"""The files source on the offline corpora in ../shared/data, and a short SST-2 training run.

Skipped when the corpora are absent; $ATTNJAX_SHARED_DATA points elsewhere.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from attnjax.data import CORPORA, Vocab, encode, load, load_splits
from attnjax.data.files import read_rows, split_file

SHARED_DATA = Path(os.environ.get("ATTNJAX_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "sst2").is_dir(),
    reason=f"offline corpora not found at {SHARED_DATA} (set ATTNJAX_SHARED_DATA)")


def _check_rows(data):
  assert data.tokens.dtype == np.int32 and data.labels.dtype == np.int32
  assert np.all((data.lengths >= 1) & (data.lengths <= data.max_length))
  beyond = np.arange(data.max_length)[None, :] >= data.lengths[:, None]
  assert np.all(data.tokens[beyond] == 0) and np.all(data.tokens[~beyond] > 0)


def test_sst2_files():
  out = load_splits("sst2", source="files", data_dir=SHARED_DATA)
  assert {s: len(d) for s, d in out.items()} == {"train": 60614, "dev": 6735, "test": 872}
  vocab = out["train"].vocab
  for data in out.values():
    _check_rows(data)
    assert data.vocab is vocab and data.label_names == ("negative", "positive")
    assert data.max_length == CORPORA["sst2"].max_len == 64
  np.testing.assert_array_equal(np.bincount(out["test"].labels), [428, 444])
  assert out["test"].lengths.max() < 64  # no test sentence is truncated by default
  test = out["test"]
  assert vocab.decode(test.tokens[0, :test.lengths[0]]) == (
      "it 's a charming and often affecting journey .".replace(" 's", " ' s").split())
  assert test.labels[0] == 1
  # Built on the training split only (uncapped here): its counts are exactly train's tokens.
  assert not np.any(out["train"].tokens == 1)
  assert sum(vocab.counts) == int(np.sum(out["train"].lengths))
  assert np.any(out["test"].tokens == 1)  # test words unseen in training are <unk>


def test_ag_news_and_imdb_files():
  ag = load_splits("ag_news", ("dev", "test"), source="files", data_dir=SHARED_DATA,
                   vocab_split="dev")
  assert ag["test"].label_names == ("World", "Sports", "Business", "Sci/Tech")
  np.testing.assert_array_equal(np.bincount(ag["test"].labels), [1900] * 4)
  assert len(ag["dev"]) >= 10_000
  assert ag["dev"].vocab.id_of("#39") == 1 and ag["dev"].vocab.id_of("'") > 1  # escapes decoded
  for data in ag.values():
    _check_rows(data)
  imdb = load("imdb", split="dev", source="files", data_dir=SHARED_DATA, vocab_split="dev")
  _check_rows(imdb)
  assert len(imdb) == 2500 and int(imdb.labels.sum()) == 1232
  assert imdb.vocab.id_of("br") == 1  # <br /> tags are not words
  # Texts that begin with a quote keep it (the TSV is split on tabs, never unquoted).
  rows = read_rows(split_file(SHARED_DATA / "imdb", "dev"), CORPORA["imdb"].files)
  assert any(t.startswith('"') for t in rows.texts)


def test_training_on_2000_sst2_examples_beats_chance():
  """2,000 training sentences → ≥ 65% on SST-2's test sentences (chance: 51%).

  The 2,000 longest of the first 20,000 training rows: whole sentences carry
  more signal than SST-2's short phrases. A bag of embeddings with additive
  attention, 3 seeds trained together, best epoch on 1,000 dev rows; about 15 s
  on 2 CPU cores.
  """
  from attnjax.models import AttentionClassifier
  from attnjax.training import TrainConfig, evaluate, train

  rows = read_rows(split_file(SHARED_DATA / "sst2", "train"), CORPORA["sst2"].files)
  words = np.array([len(t.split()) for t in rows.texts[:20_000]])
  pick = np.sort(np.argsort(-words, kind="stable")[:2000])
  texts = [rows.texts[i] for i in pick]
  vocab = Vocab.build(texts)
  train_data = encode(texts, [int(rows.labels[i]) for i in pick], vocab=vocab,
                      label_names=("negative", "positive"), max_len=40)
  dev_data = load("sst2", split="dev[:1000]", source="files", data_dir=SHARED_DATA,
                  vocab=vocab, max_len=40)
  test_data = load("sst2", split="test", source="files", data_dir=SHARED_DATA, vocab=vocab,
                   max_len=40)

  model = AttentionClassifier(len(vocab), 2, encoder="embedding", attention="additive",
                              embed_dim=64, attention_dim=64, dropout=0.5, word_dropout=0.2)
  config = TrainConfig(model=model, epochs=10, batch_size=32, learning_rate=1e-2,
                       select_best=True)
  result = train(config, [0, 1, 2], train_data, dev_data, progress=False)
  accuracy = evaluate(model, result.params, test_data)["accuracy"]
  assert np.mean(accuracy) >= 0.65, accuracy
  assert np.min(accuracy) >= 0.60, accuracy
