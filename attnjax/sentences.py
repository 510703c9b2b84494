"""Explain your own text with a trained run: every explainer side by side, per sentence.

    run = attnjax.sentences.open_run("runs/sst2")          # any `attnjax train --out` folder,
                                                         # or OUT/<dataset>/cells/<cell>/run
    doc = attnjax.sentences.explain_texts(run, ["a charming and often affecting journey"])
    doc["sentences"][0]["scores"]["attention"]["mean"]     # one score per token

A run directory holds the config, the parameters of every seed and the vocabulary,
so text is tokenised exactly as at training time (`Vocab.encode`): a word the
vocabulary lacks keeps its spelling in the output but reaches the model as `<unk>`;
text longer than the run's T is cut as the loaders cut it (its first T tokens, or
its last T for keep="end"). Runs on the planted task have no vocabulary: their text
is token ids separated by spaces ("2 517 33 ...").

`explain_texts` returns one strict-JSON document (`FORMAT`, documented there) that
`attnjax.render` draws as a web page, a figure or a terminal table. Texts are
explained in length-sorted chunks of `batch_size`, each run at the smallest
bucket length holding it (`attnjax.data.buckets.length_chunks`), so memory is
bounded by a chunk and a long file costs its real lengths. Chunk c draws its
random numbers (instance MI's perturbations) from `fold_in(key, c)`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np

from attnjax import analysis, explain
from attnjax.data import buckets as buckets_lib
from attnjax.data.corpora import CORPORA
from attnjax.data.load import PLANTED_MAX_LEN
from attnjax.data.planted import PAD_ID, UNK_ID
from attnjax.data.tokenize import TOKENIZERS
from attnjax.data.vocab import Vocab
from attnjax.models.encoders import sequence_mask
from attnjax.render.top import top_positions
from attnjax.training.checkpoint import load_run

FORMAT = "attnjax-explain"
VERSION = 1
METHODS = ("attention", "instance_mi", "gradient", "input_x_gradient", "integrated_gradients",
           "leave_one_out")
"""The explainers `explain_texts` runs by default (`attnjax.explain.METHODS` names)."""
TOP_FRACTION = 0.2
"""A token is among a sentence's top tokens for a method when its rank is within the first
max(1, round(0.2·L)) (ERASER's 20% bin); `seed_disagreement` flags tokens that are top in
some seeds and not in others."""


@dataclasses.dataclass(frozen=True)
class OpenedRun:
  """A run directory ready to explain text.

  Attributes:
    directory: the folder.
    model: the `AttentionClassifier`.
    params: every seed's parameters, stacked [S, ...].
    seeds: the S training seeds.
    vocab: the vocabulary (None for the planted task: text is token ids).
    max_length: T, the padded length the run was trained at.
    keep: "start" (the first T tokens of a longer text) or "end".
    label_names: class names by id.
  """
  directory: Path
  model: Any
  params: Any
  seeds: tuple[int, ...]
  vocab: Vocab | None
  max_length: int
  keep: str
  label_names: tuple[str, ...]


def _data_options(extra: dict) -> dict:
  """The dataset, max_len and keep the run was trained with, from its config's `extra`."""
  if isinstance(extra.get("data"), dict):       # attnjax train
    return extra["data"]
  stamp = extra.get("stamp")
  if isinstance(stamp, dict) and isinstance(stamp.get("data_id"), str):  # a reproduction cell
    return json.loads(stamp["data_id"])
  return {}


def open_run(directory) -> OpenedRun:
  """Loads a run directory for `explain_texts`.

  Raises:
    ValueError: `directory` is missing or not a complete run directory (the message names
      the missing or bad file), or a real-corpus run without its `vocab.json`.
  """
  directory = Path(directory)
  if not directory.is_dir():
    raise ValueError(f"run directory {str(directory)!r} does not exist")
  run = load_run(directory)
  options = _data_options(run.extra)
  dataset = options.get("data") or options.get("dataset")
  vocab = Vocab.load(run.vocab_path) if run.vocab_path else None
  if vocab is None and dataset not in (None, "planted"):
    raise ValueError(f"{directory} holds no vocab.json, needed to tokenise text for a "
                     f"{dataset!r} model")
  corpus = CORPORA.get(dataset)
  default_length = corpus.max_len if corpus else PLANTED_MAX_LEN
  max_length = int(options.get("max_len") or default_length)
  num_classes = run.result.config.model.num_classes
  names = corpus.label_names if corpus and corpus.label_names else None
  if names is None or len(names) != num_classes:
    names = tuple(f"class_{c}" for c in range(num_classes))
  return OpenedRun(directory=directory, model=run.result.config.model,
                   params=run.result.params, seeds=tuple(run.result.seeds), vocab=vocab,
                   max_length=max_length, keep=str(options.get("keep") or "start"),
                   label_names=tuple(names))


def select_seeds(run: OpenedRun, seeds: str | Sequence[int] | None) -> OpenedRun:
  """`run` restricted to `seeds` ("all", None, or seed values such as [0, 2] or "0,2")."""
  if seeds is None or seeds == "all":
    return run
  if isinstance(seeds, str):
    try:
      seeds = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
      raise ValueError(f"seeds must be 'all' or comma-separated seeds of the run "
                       f"{list(run.seeds)}, got {seeds!r}") from None
  unknown = [s for s in seeds if s not in run.seeds]
  if unknown or not seeds:
    raise ValueError(f"seeds {list(seeds)} are not a non-empty subset of the run's seeds "
                     f"{list(run.seeds)}")
  index = np.asarray([run.seeds.index(s) for s in seeds])
  params = jax.tree.map(lambda x: np.asarray(x)[index], run.params)
  return dataclasses.replace(run, params=params, seeds=tuple(int(s) for s in seeds))


@dataclasses.dataclass(frozen=True)
class Encoded:
  """Texts as the model sees them.

  Attributes:
    tokens: <int32>[B, T] ids, `<pad>` after each length.
    lengths: <int32>[B] real lengths in [1, T].
    words: per text, its L tokens as the run's tokeniser splits them (out-of-vocabulary
      ones too).
    unknown: per text, [L] whether each word reaches the model as `<unk>`.
    total: per text, its token count before the cut to T.
  """
  tokens: np.ndarray
  lengths: np.ndarray
  words: list[list[str]]
  unknown: list[list[bool]]
  total: list[int]


def _words_and_ids(run: OpenedRun, text: str) -> tuple[list[str], list[int]]:
  if run.vocab is None:  # the planted task: token ids
    words = text.split()
    ids = []
    for word in words:
      if not word.isdigit() or not 2 <= int(word) < run.model.vocab_size:
        raise ValueError(f"a planted-task run reads token ids in [2, {run.model.vocab_size}) "
                         f"separated by spaces; got {word!r} in {text!r}")
      ids.append(int(word))
    return words, ids
  words = TOKENIZERS[run.vocab.tokenizer](text)
  return words, [run.vocab.id_of(word) for word in words]


def encode_texts(run: OpenedRun, texts: Sequence[str]) -> Encoded:
  """Tokenises `texts` with the run's vocabulary and cuts each to T.

  Raises:
    ValueError: no texts, or a text without a single token (empty or blank).
  """
  if not texts:
    raise ValueError("no text to explain: give at least one")
  tokens = np.full((len(texts), run.max_length), PAD_ID, np.int32)
  lengths = np.zeros(len(texts), np.int32)
  all_words, unknown, total = [], [], []
  for i, text in enumerate(texts):
    if not isinstance(text, str) or not text.strip():
      raise ValueError(f"text {i + 1} is empty: every text needs at least one token")
    words, ids = _words_and_ids(run, text)
    if not ids:
      raise ValueError(f"text {i + 1} ({text!r}) has no token the tokeniser keeps")
    total.append(len(ids))
    cut = slice(None, run.max_length) if run.keep == "start" else slice(-run.max_length, None)
    words, ids = words[cut], ids[cut]
    tokens[i, :len(ids)] = ids
    lengths[i] = len(ids)
    all_words.append(words)
    unknown.append([token_id == UNK_ID for token_id in ids])
  return Encoded(tokens, lengths, all_words, unknown, total)


def _finite_list(values) -> list:
  """A JSON list: floats rounded to 6 significant digits, None where undefined."""
  out = []
  for v in np.asarray(values, np.float64).ravel().tolist():
    out.append(float(f"{v:.6g}") if math.isfinite(v) else None)
  return out


def _chunk(run: OpenedRun, tokens, lengths, methods, key, options) -> dict:
  """Predictions, every method's scores, agreement and faithfulness of one chunk [B, L]."""
  model, params = run.model, run.params
  logits = np.asarray(jax.vmap(lambda p: model.apply(p, tokens, lengths)[0])(params))
  probs = np.asarray(jax.nn.softmax(logits, -1))                                 # [S, B, C]
  mask = np.asarray(sequence_mask(lengths, tokens.shape[1]))
  scores = {}
  for method in methods:
    extra = dict(options.get(method, {}))
    if method == "instance_mi":
      extra.setdefault("key", key)
    scores[method] = np.asarray(explain.explain(model, params, tokens, lengths, method=method,
                                                **extra), np.float32)            # [S, B, L]
  faithful = {}
  for method, values in scores.items():
    ranked, unranked = explain.rankable_scores(values, mask)
    result = explain.faithfulness(model, params, tokens, lengths, ranked)
    faithful[method] = {}
    for name in ("comprehensiveness", "sufficiency", "flip_fraction"):
      measure = np.asarray(result[name], np.float64)
      faithful[method][name] = np.where(unranked, np.nan, measure)                # [S, B]
  # Kendall τ-b between every two methods' seed-mean scores, every text at once: [M, M, B].
  means = [np.mean(scores[m], 0) for m in methods]
  tau = np.asarray([[np.asarray(analysis.rank_correlation(a, b, mask)) for b in means]
                    for a in means])
  return {"probs": probs, "scores": scores, "faithfulness": faithful, "tau": tau}


def explain_texts(run: OpenedRun, texts: Sequence[str], *, methods: Sequence[str] = METHODS,
                  key=None, batch_size: int = 32, options: dict | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict:
  """Every method's token scores for each text, with predictions, agreement and faithfulness.

  Args:
    run: `open_run`'s result (optionally `select_seeds`).
    texts: B texts.
    methods: explainer names (`attnjax.explain.METHODS`).
    key: PRNG key of the random methods (default key(0); chunk c uses fold_in(key, c)).
    batch_size: texts per chunk, >= 1.
    options: {method: keyword options} passed to that explainer.
    progress: called as progress(texts done, B) after each chunk.

  Returns:
    The document (strict JSON): {"format", "version", "run", "seeds", "methods",
    "label_names", "max_length", "keep", "top_fraction", "sentences": [...]}; each sentence:
      "text", "words" [L], "unknown" [L] (reaches the model as `<unk>`), "tokens_total"
      (before the cut; > L when cut), "prediction": {"class", "label",
      "probability_mean", "probability_std", "probability_per_seed" [S] (p of the
      predicted class), "class_per_seed" [S]}, "scores": {method: {"per_seed" [S][L],
      "mean" [L]}}, "seed_disagreement": {method: [L] a token in the top 20% of some seeds
      and not of others}, "agreement": {"methods", "kendall_tau_b" [M][M] between the
      methods' seed-mean scores (None where undefined: a constant row)},
      "faithfulness": {method: {"comprehensiveness", "sufficiency", "flip_fraction": {"mean",
      "per_seed" [S]}}} (ERASER AOPC over 1-50% of the tokens, "remove" mode;
      `attnjax.explain.faithfulness`). The prediction's class is the seed-mean
      probabilities' argmax; every explainer explains each seed's own predicted class.

  Raises:
    ValueError: an unknown method (the allowed are listed), a bad batch size, or a text
      `encode_texts` rejects.
  """
  unknown = [m for m in methods if m not in explain.METHODS]
  if unknown or not methods:
    raise ValueError(f"unknown method(s) {unknown or list(methods)}; allowed: "
                     f"{', '.join(explain.METHODS)}")
  if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
    raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
  methods, options = list(methods), options or {}
  key = jax.random.key(0) if key is None else key
  encoded = encode_texts(run, texts)
  bucket_lengths = buckets_lib.bucket_lengths("auto", encoded.lengths, run.max_length,
                                              batch_size)
  sentences: list[dict | None] = [None] * len(texts)
  done = 0
  for c, (indices, length) in enumerate(buckets_lib.length_chunks(encoded.lengths,
                                                                  bucket_lengths, batch_size)):
    out = _chunk(run, encoded.tokens[indices, :length], encoded.lengths[indices], methods,
                 jax.random.fold_in(key, c), options)
    for b, index in enumerate(indices):
      sentences[index] = _sentence(run, texts[index], encoded, int(index), out, b, methods)
    done += len(indices)
    if progress is not None:
      progress(done, len(texts))
  return {"format": FORMAT, "version": VERSION, "run": str(run.directory),
          "seeds": list(run.seeds), "methods": methods, "label_names": list(run.label_names),
          "max_length": run.max_length, "keep": run.keep, "top_fraction": TOP_FRACTION,
          "sentences": sentences}


def _sentence(run, text, encoded: Encoded, index: int, out: dict, b: int, methods) -> dict:
  length = int(encoded.lengths[index])
  probs = out["probs"][:, b]                                                      # [S, C]
  predicted = int(np.argmax(probs.mean(0)))
  scores, disagreement = {}, {}
  for method in methods:
    per_seed = out["scores"][method][:, b, :length]                               # [S, L]
    scores[method] = {"per_seed": [_finite_list(row) for row in per_seed],
                      "mean": _finite_list(np.mean(per_seed, 0))}
    top = top_positions(per_seed, TOP_FRACTION)
    disagreement[method] = (top.any(0) & ~top.all(0)).tolist()
  tau = out["tau"][:, :, b]
  faithful = {method: {name: {"mean": _finite_list([np.nanmean(values[:, b])])[0]
                              if np.isfinite(values[:, b]).any() else None,
                              "per_seed": _finite_list(values[:, b])}
                       for name, values in out["faithfulness"][method].items()}
              for method in methods}
  return {
      "text": text, "words": encoded.words[index], "unknown": encoded.unknown[index],
      "tokens_total": int(encoded.total[index]),
      "prediction": {"class": predicted, "label": run.label_names[predicted],
                     "probability_mean": _finite_list([probs[:, predicted].mean()])[0],
                     "probability_std": _finite_list([probs[:, predicted].std()])[0],
                     "probability_per_seed": _finite_list(probs[:, predicted]),
                     "class_per_seed": [int(c) for c in probs.argmax(-1)]},
      "scores": scores, "seed_disagreement": disagreement,
      "agreement": {"methods": list(methods), "kendall_tau_b": [_finite_list(r) for r in tau]},
      "faithfulness": faithful}


TEXT_COLUMNS = ("text", "sentence", "review")
"""The column (.tsv header) or key (.jsonl) `read_texts` takes the text from, first found."""


def read_texts(path) -> list[str]:
  """The texts of a file: .txt (one per non-blank line), .tsv (a header row naming a
  `TEXT_COLUMNS` column) or .jsonl (one JSON object per line with a `TEXT_COLUMNS` key).

  Raises:
    ValueError: another extension, a file with no text column, a malformed line (its
      number named), or no text at all. OSError: the file cannot be read.
  """
  path = Path(path)
  suffix = path.suffix.lower()
  if suffix not in (".txt", ".tsv", ".jsonl"):
    raise ValueError(f"cannot read texts from {str(path)!r}: the extension must be .txt, .tsv "
                     f"or .jsonl")
  lines = path.read_text(encoding="utf-8").splitlines()
  if suffix == ".txt":
    texts = [line for line in lines if line.strip()]
  elif suffix == ".tsv":
    header = [c.strip().lower() for c in (lines[0].split("\t") if lines else [])]
    column = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if column is None:
      raise ValueError(f"{path} has no text column: its header {header} names none of "
                       f"{list(TEXT_COLUMNS)}")
    texts = []
    for number, line in enumerate(lines[1:], 2):
      if not line.strip():
        continue
      fields = line.split("\t")
      if column >= len(fields):
        raise ValueError(f"{path}, line {number}: {len(fields)} columns, the text column is "
                         f"number {column + 1}")
      texts.append(fields[column])
  else:
    texts = []
    for number, line in enumerate(lines, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {number}: not JSON ({error})") from None
      key = next((c for c in TEXT_COLUMNS if isinstance(row, dict) and c in row), None)
      if key is None or not isinstance(row[key], str):
        raise ValueError(f"{path}, line {number}: no text column (a string under one of "
                         f"{list(TEXT_COLUMNS)})")
      texts.append(row[key])
  if not texts:
    raise ValueError(f"{path} holds no text")
  return texts
