"""Named model, training and data settings (`--preset`), as data: one table per corpus.

  quick  32-unit models, 3 epochs, 5,000 training examples: minutes per corpus on
         a laptop CPU. For checking that everything runs, not for citing.
  full   128-unit models, 5 epochs on the whole training split, one setting
         for every corpus (the default of `attnjax reproduce` and `attnjax train`).
  paper  per-corpus settings meant to reach published accuracy with the offline
         corpora: BiLSTM 128 (per direction), 128-d embeddings learned from
         scratch, dropout and word dropout, early stopping on the dev split
         (accuracy reached per corpus: `experiments/README.md`).
  jw     Jain & Wallace's (2019) protocol, as far as the offline corpora allow
         (`JAIN_WALLACE`; SST-2 only): see `JainWallaceSetting`.

A preset fixes (i) the `load_splits` options per dataset (`data_options`), (ii) the
`TrainConfig` of every cell before an experiment's own changes (attention type,
encoder, τ, …; `base_config`) and, for `attnjax reproduce`, (iii) the default
`AnalysisSettings` (`attnjax.reproduce.options.analysis_settings`). `attnjax train
--preset` reads (i) and (ii) from here too (`train_options`).
"""

from __future__ import annotations

import dataclasses

from attnjax.data import load_splits
from attnjax.data.load import default_splits
from attnjax.data.tokenize import WORDS_TOKENIZER
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig

PRESETS = ("quick", "full", "paper", "jw")

TWO_CLASS = {"ag_news_2class": ("ag_news", ("World", "Business"))}
"""Datasets that are a class subset of a corpus: name -> (corpus, classes kept)."""


@dataclasses.dataclass(frozen=True)
class Setting:
  """One corpus's model, training and padded length under a preset (the model is a
  BiLSTM + the experiment's attention; `width` is the embedding, per-direction hidden,
  attention and deep-scorer width; `max_len` None: the corpus's default)."""
  max_len: int | None
  width: int = 128
  dropout: float = 0.0
  word_dropout: float = 0.0
  epochs: int = 5
  patience: int | None = None
  batch_size: int = 64
  learning_rate: float = 1e-3


def _paper(max_len: int, **changes) -> Setting:
  """A `paper` setting: dropout 0.3, word dropout 0.1, 8 epochs with patience 2, batch 128,
  learning rate 2e-3, unless `changes` say otherwise."""
  defaults = dict(dropout=0.3, word_dropout=0.1, epochs=8, patience=2, batch_size=128,
                  learning_rate=2e-3)
  return Setting(max_len=max_len, **{**defaults, **changes})


_GENERIC_MAX_LEN = {"planted": 40, "sst2": 50, "ag_news": 60, "imdb": 200, "yelp": 200}

FULL = {corpus: Setting(max_len=t) for corpus, t in _GENERIC_MAX_LEN.items()}
QUICK = {corpus: Setting(max_len=30 if corpus == "planted" else t, width=32, epochs=3,
                         batch_size=32, learning_rate=3e-3)
         for corpus, t in _GENERIC_MAX_LEN.items()}

PAPER = {
    # 60,614 training phrases (mean 10 tokens); test sentences are at most 50 tokens.
    "sst2": _paper(64),
    # 9,000 training articles overfit by epoch 3 at dropout 0.3: regularise harder.
    "ag_news": _paper(64, dropout=0.5, word_dropout=0.2, epochs=12, patience=3, batch_size=64),
    # Reviews average 271 tokens (median 202, 85% within 400).
    "imdb": _paper(400, epochs=6, batch_size=64),
    "yelp": _paper(400, epochs=6, batch_size=64),
    "planted": _paper(40, dropout=0.0, word_dropout=0.0, epochs=5, batch_size=64,
                      learning_rate=1e-3),
}

SETTINGS = {"quick": QUICK, "full": FULL, "paper": PAPER}
"""Preset → corpus → `Setting` (the jw preset: `JAIN_WALLACE`)."""


@dataclasses.dataclass(frozen=True)
class JainWallaceSetting:
  r"""One corpus under Jain & Wallace's (2019) protocol, read from their code
  (github.com/successar/AttentionExplanation: `model/Binary_Classification.py`,
  `Trainers/TrainerBC.py`, `configurations.py`, `preprocess/SST/SST.ipynb`).

  Theirs, kept: BiLSTM with 128 units per direction, no dropout, Adam with AMSGrad at
  lr 1e-3, L2 weight decay 1e-5 added to the gradient (PyTorch's Adam `weight_decay`) on
  every parameter but the attention's, batch 32, 8 epochs keeping the epoch of best dev
  ROC-AUC, words only (`re.sub(r'\W', ' ', text)`: punctuation dropped, "n't" → "n", "t";
  `attnjax.data.tokenize.tokenize_words`), a vocabulary of every training word seen at
  least `min_freq` times (their SST notebook: `--min_df 1`; IMDB: 10), examples of at
  least 6 words (their `min_length=5` with `<SOS>`/`<EOS>` counted), every test example
  explained.

  Theirs, not kept, and why:
  - 300-d fastText (`simple.300d`) embeddings, fine-tuned: no download here; 300-d
    embeddings are learned from scratch instead.
  - Training on SST's 6,920 sentences (neutral removed): the offline copy is GLUE's
    SST-2 training split of 60,614 phrases and sentences, which cannot be told apart;
    the ≥ 6-word filter keeps the longer ones. Their test set is SST's 1,821-sentence
    test split; ours is GLUE's validation split, SST's 872 dev sentences (their dev).
  - Their loss is binary cross-entropy of one sigmoid output, summed over the batch,
    with a positive-class weight; ours is the 2-class softmax cross-entropy, averaged.
    Adam is invariant to the loss's scale but the L2 term is not: 1e-5 on a sum over 32
    examples is 1e-5 / 32 on their mean, the value used here. The class weight
    (SST-2 is 56% positive) is left out.
  - Their dot-product attention is a learned vector v·h_t / √(2H); ours, q·W_k h_t / √d,
    is the same function class (linear in h_t) with more parameters. Their additive
    scorer has H/2 hidden units (128 of the 256-d BiLSTM state), ours `attention_dim`
    128: the same.
  - optax's AMSGrad keeps the maximum of the bias-corrected second moment, PyTorch's the
    maximum before correction; their selection never keeps the first epoch.
  """
  max_len: int
  min_freq: int
  min_length: int = 6
  embed_dim: int = 300
  width: int = 128
  epochs: int = 8
  batch_size: int = 32
  learning_rate: float = 1e-3
  weight_decay: float = 1e-5 / 32


JAIN_WALLACE = {
    # The longest SST-2 test sentence has 52 words.
    "sst2": JainWallaceSetting(max_len=64, min_freq=1),
}


def check_preset(preset: str) -> str:
  """`preset`, or a ValueError naming the presets."""
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
  return preset


def corpus_of(dataset: str) -> str:
  """The corpus a dataset name reads (ag_news_2class reads ag_news)."""
  return TWO_CLASS.get(dataset, (dataset,))[0]


def setting(dataset: str, preset: str) -> Setting:
  """The `Setting` of `dataset` under `preset` (quick, full or paper).

  Raises:
    ValueError: an unknown preset, the jw preset (`jain_wallace_setting`), or a corpus
      the preset has no entry for (naming those it has).
  """
  table = SETTINGS.get(check_preset(preset))
  if table is None:
    raise ValueError(f"the {preset} preset is not a `Setting`: see `jain_wallace_setting`")
  corpus = corpus_of(dataset)
  if corpus not in table:
    raise ValueError(f"--preset {preset} has no settings for --data {dataset!r}; it has: "
                     f"{', '.join(table)}")
  return table[corpus]


def load_dataset(dataset: str, split_names, **options) -> dict:
  """The train, dev and test splits of a `reproduce` dataset: {"train", "dev", "test"}.

  `split_names` are the three `load_splits` splits in that order ("train",
  "dev[90%:]", ...); `options` the other `load_splits` options (source, data_dir,
  max_len, vocabulary, as `data_options` gives them). A class-subset dataset
  (`TWO_CLASS`: ag_news_2class) loads its corpus and keeps its classes.
  """
  corpus, classes = TWO_CLASS.get(dataset, (dataset, None))
  loaded = load_splits(corpus, split_names, **options)
  splits = dict(zip(("train", "dev", "test"), (loaded[s] for s in split_names)))
  if classes is not None:
    splits = {k: v.select_classes(classes) for k, v in splits.items()}
  return splits


def data_options(dataset: str, preset: str, source: str) -> dict:
  """`load_splits` options (splits, max_len, vocabulary) of `dataset` under `preset`."""
  check_preset(preset)
  quick = preset == "quick"
  if dataset == "planted":
    sizes = (1500, 300, 400) if quick else (10_000, 2_000, 2_000)
    return {"splits": default_splits("planted", planted_sizes=sizes),
            "max_len": setting(dataset, "full" if preset == "jw" else preset).max_len}
  corpus = corpus_of(dataset)
  splits = default_splits(corpus, source, train_size=5000 if quick else None)
  if preset == "jw":
    s = jain_wallace_setting(dataset)
    return {"splits": splits, "max_len": s.max_len, "vocab_size": None, "min_freq": s.min_freq,
            "tokenizer": WORDS_TOKENIZER, "min_length": s.min_length, "vocab_split": splits[0]}
  max_len = setting(dataset, preset).max_len
  return {"splits": splits, "max_len": max_len, "vocab_size": 20_000, "vocab_split": splits[0]}


def jain_wallace_setting(dataset: str) -> JainWallaceSetting:
  """`JAIN_WALLACE[dataset]`; a `ValueError` names the datasets the jw preset covers."""
  if dataset not in JAIN_WALLACE:
    raise ValueError(f"the jw preset has no settings for {dataset!r}; it has: "
                     f"{', '.join(JAIN_WALLACE)}")
  return JAIN_WALLACE[dataset]


def base_config(dataset: str, preset: str, vocab_size: int, num_classes: int) -> TrainConfig:
  """Every cell's `TrainConfig` before its experiment's changes."""
  if check_preset(preset) == "jw":
    s = jain_wallace_setting(dataset)
    model = AttentionClassifier(vocab_size=vocab_size, num_classes=num_classes,
                                embed_dim=s.embed_dim, hidden_dim=s.width, attention_dim=s.width,
                                deep_layer_dims=(s.width, s.width))
    return TrainConfig(model=model, epochs=s.epochs, batch_size=s.batch_size,
                       learning_rate=s.learning_rate, optimizer="amsgrad",
                       weight_decay=s.weight_decay, weight_decay_kind="l2",
                       weight_decay_exclude=("attention",), grad_clip=None,
                       select_metric="roc_auc")
  s = setting(dataset, preset)
  model = AttentionClassifier(vocab_size=vocab_size, num_classes=num_classes,
                              embed_dim=s.width, hidden_dim=s.width, attention_dim=s.width,
                              deep_layer_dims=(s.width, s.width), dropout=s.dropout,
                              word_dropout=s.word_dropout)
  return TrainConfig(model=model, epochs=s.epochs, batch_size=s.batch_size,
                     learning_rate=s.learning_rate, patience=s.patience)


TRAIN_PRESETS = ("quick", "full", "paper")
"""The presets `attnjax train --preset` takes (jw's optimiser has no command-line flags)."""


def train_options(dataset: str, preset: str) -> dict:
  """`attnjax train`'s option values under `preset` for `dataset`: embed_dim, hidden_dim,
  attention_dim, dropout, word_dropout, epochs, batch_size, learning_rate, patience,
  max_len (None where the preset has no entry for the corpus: the corpus default); with
  them `attnjax train` builds `base_config`'s `TrainConfig`."""
  if preset not in TRAIN_PRESETS:
    raise ValueError(f"attnjax train --preset must be one of {', '.join(TRAIN_PRESETS)}; got "
                     f"{preset!r}")
  table, corpus = SETTINGS[preset], corpus_of(dataset)
  if corpus in table:
    s = table[corpus]
  elif preset == "paper":
    s = setting(dataset, preset)  # raises, naming the corpora the paper preset has
  else:  # quick and full are one setting for every corpus; T is the corpus's default
    s = dataclasses.replace(table["planted"], max_len=None)
  return {"embed_dim": s.width, "hidden_dim": s.width, "attention_dim": s.width,
          "dropout": s.dropout,
          "word_dropout": s.word_dropout, "epochs": s.epochs, "batch_size": s.batch_size,
          "learning_rate": s.learning_rate, "patience": s.patience, "max_len": s.max_len}
