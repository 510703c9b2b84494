"""The `attnjax` command line: `attnjax train`, `attnjax evaluate`."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path

import numpy as np

from attnjax.data import SPLITS
from attnjax.data.load import DEFAULT_SOURCE, PLANTED_VOCAB_SIZE, SOURCES
from attnjax.models import ATTENTIONS, ENCODERS, NORMALIZERS
from attnjax.sentences import METHODS as METHODS_DEFAULT

DATA_OPTIONS = ("data", "source", "data_dir", "max_len", "vocab_size", "train_split", "dev_split",
                "test_split", "train_size", "data_seed")


SOURCE_HELP = ("real corpora: files (default; a folder of train/dev/test files, see --data-dir; "
               "offline) or tfds (tensorflow-datasets, downloads; needs attnjax[tfds])")
SPLITS_HELP = ("attnjax.data.default_splits: train, dev, test; for AG News from files, whose "
               "offline copy has no train file, dev[:90%%], dev[90%%:], test")


def _add_data_args(parser: argparse.ArgumentParser):
  group = parser.add_argument_group("data")
  group.add_argument("--data", default="planted",
                     help="planted (built in), sst2, imdb, ag_news, yelp or custom")
  group.add_argument("--source", default=DEFAULT_SOURCE, choices=SOURCES,
                     help=SOURCE_HELP)
  group.add_argument("--data-dir", default=None,
                     help="tfds data_dir, or the folder of split files (or of <data>/ folders)")
  group.add_argument("--max-len", type=int, default=None,
                     help="padded length T (default: the preset's, else the corpus default; "
                     "planted 40)")
  group.add_argument("--vocab-size", type=int, default=None,
                     help="vocabulary cap (planted: its V, default 1000)")
  group.add_argument("--train-split", default=None,
                     help="training split, e.g. 'train[:2000]'; the vocabulary is built on it "
                     "(default: " + SPLITS_HELP + ")")
  group.add_argument("--dev-split", default=None,
                     help="early-stopping split, e.g. 'dev[90%%:]' (default: as --train-split)")
  group.add_argument("--test-split", default=None, help="test split (default: test)")
  group.add_argument("--train-size", type=int, default=4000,
                     help="planted: training examples (dev and test get a quarter)")
  group.add_argument("--data-seed", type=int, default=0, help="planted: seed of the data")


def _add_model_args(parser: argparse.ArgumentParser):
  group = parser.add_argument_group("model")
  group.add_argument("--encoder", default="bilstm", choices=ENCODERS)
  group.add_argument("--attention", default="additive", choices=ATTENTIONS)
  group.add_argument("--normalizer", default="softmax", choices=NORMALIZERS)
  group.add_argument("--temperature", type=float, default=1.0, help="Gumbel-softmax τ > 0")
  group.add_argument("--embed-dim", type=int, default=None, help="(default: the preset's)")
  group.add_argument("--hidden-dim", type=int, default=None, help="(default: the preset's)")
  group.add_argument("--dropout", type=float, default=None, help="(default: the preset's)")
  group.add_argument("--word-dropout", type=float, default=None,
                     help="(default: the preset's)")


def _add_train_args(parser: argparse.ArgumentParser):
  group = parser.add_argument_group("training")
  group.add_argument("--seeds", type=int, default=4, help="number of seeds S (seeds 0..S-1)")
  group.add_argument("--first-seed", type=int, default=0, help="seeds are first..first+S-1")
  group.add_argument("--preset", default="full", choices=("quick", "full", "paper"),
                     help="the corpus's settings of `attnjax reproduce --preset` (attnjax.presets) "
                     "for every model, training and --max-len option not given (default: full, "
                     "128 units, 5 epochs, batch 64, learning rate 1e-3, no dropout)")
  group.add_argument("--epochs", type=int, default=None, help="(default: the preset's)")
  group.add_argument("--batch-size", type=int, default=None, help="(default: the preset's)")
  group.add_argument("--learning-rate", type=float, default=None,
                     help="(default: the preset's)")
  group.add_argument("--patience", type=int, default=None,
                     help="stop after this many epochs without dev improvement (default: the "
                     "preset's; full and quick run all epochs)")
  group.add_argument("--buckets", default="auto",
                     help="length buckets: 'auto', 'none' (pad every batch to T) or lengths "
                          "such as 16,32,64")
  group.add_argument("--bucket-shapes", choices=("auto", "yes", "no"), default="auto",
                     help="yes: each bucket at its own length, one compiled program per "
                          "bucket; no: every step at T in one program, the recurrence only as "
                          "far as the step's longest example; auto: its own length for a "
                          "bucket of at least 100 steps over the run")
  group.add_argument("--out", default="runs/demo",
                     help="run directory to write (a killed run started again with the same "
                          "--out and options resumes after its last finished epoch)")
  group.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _check_data_args(args):
  """`ValueError` for data options out of range (before anything is loaded)."""
  from attnjax.data import NAMES

  if args.data not in NAMES:
    raise ValueError(f"unknown --data {args.data!r}; allowed: {', '.join(NAMES)}")
  _at_least(args, "max_len", 1, optional=True)
  _at_least(args, "vocab_size", 3, optional=True)
  _at_least(args, "train_size", 1)
  _at_least(args, "data_seed", 0)


def _at_least(args, name, minimum, optional=False):
  value = getattr(args, name)
  if optional and value is None:
    return
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    raise ValueError(f"--{name.replace('_', '-')} must be an integer >= {minimum}"
                     f"{' (or left out)' if optional else ''}, got {value!r}")


def _check_number(args, name, low, high, allowed):
  value = getattr(args, name)
  if not low(value) or not high(value):
    raise ValueError(f"--{name.replace('_', '-')} must be {allowed}, got {value!r}")


def _check_model_and_train_args(args):
  """`ValueError`s naming the flag of a model or training option out of range."""
  for name in ("epochs", "batch_size", "embed_dim", "hidden_dim"):
    _at_least(args, name, 1)
  _at_least(args, "patience", 1, optional=True)
  _check_number(args, "learning_rate", lambda v: v > 0, math.isfinite, "a finite number > 0")
  _check_number(args, "temperature", lambda v: v > 0, math.isfinite, "a finite number > 0")
  for name in ("dropout", "word_dropout"):
    _check_number(args, name, lambda v: v >= 0, lambda v: v < 1, "in [0, 1)")


def _split_names(args) -> tuple[str, str, str]:
  """The (train, dev, test) splits of `args`: those given, the others `default_splits`'."""
  from attnjax.data import default_splits

  if args.data == "planted":
    n = args.train_size
    return default_splits("planted", planted_sizes=(n, max(n // 4, 1), max(n // 4, 1)))
  given = (args.train_split, args.dev_split, args.test_split)
  return tuple(g if g is not None else d
               for g, d in zip(given, default_splits(args.data, args.source)))


def _load_splits(args, vocab=None):
  """{"train", "dev", "test"} `TextDataset`s for the data options in `args`."""
  from attnjax.data import load_splits

  _check_data_args(args)
  names = _split_names(args)
  if args.data == "planted":
    loaded = load_splits("planted", names, max_len=args.max_len, vocab_size=args.vocab_size,
                         seed=args.data_seed, size=args.train_size)
  else:
    loaded = load_splits(args.data, names, max_len=args.max_len, vocab_size=args.vocab_size,
                         vocab=vocab, source=args.source, data_dir=args.data_dir,
                         vocab_split=names[0])
  for role, name in zip(SPLITS, names):
    if len(loaded[name]) == 0:
      raise ValueError(f"--{role}-split {name!r} of {args.data!r} holds no examples; give a "
                       f"split or slice with at least one")
  return dict(zip(SPLITS, (loaded[name] for name in names)))


def _check_out_dir(out) -> Path:
  """`--out` as a Path; a `ValueError` now, not after training, if it cannot be a directory."""
  out = Path(out)
  if out.exists() and not out.is_dir():
    raise ValueError(f"--out {str(out)!r} exists and is not a directory")
  existing = out  # the nearest part of the path that exists
  while not existing.exists() and existing != existing.parent:
    existing = existing.parent
  if existing.exists() and not existing.is_dir():
    raise ValueError(f"--out {str(out)!r} cannot be created: {str(existing)!r} is a file")
  if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
    raise ValueError(f"--out {str(out)!r} cannot be written: no permission in "
                     f"{str(existing)!r}")
  return out


def _print_table(header, rows, file=sys.stdout):
  widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
  for row in [header, ["-" * w for w in widths], *rows]:
    print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)), file=file)


def _apply_preset(args):
  """Fills every model/training option not given from --preset (`attnjax.presets.train_options`)."""
  from attnjax.presets import train_options

  for name, value in train_options(args.data, args.preset).items():
    if getattr(args, name, None) is None:
      setattr(args, name, value)
  return args


def _train_config(args, vocab_size: int, num_classes: int):
  from attnjax.models import AttentionClassifier
  from attnjax.training import TrainConfig

  model = AttentionClassifier(
      vocab_size=vocab_size, num_classes=num_classes,
      embed_dim=args.embed_dim, hidden_dim=args.hidden_dim, encoder=args.encoder,
      attention_dim=args.attention_dim, deep_layer_dims=(args.attention_dim,) * 2,
      attention=args.attention, normalizer=args.normalizer, temperature=args.temperature,
      dropout=args.dropout, word_dropout=args.word_dropout)
  return TrainConfig(model=model, epochs=args.epochs, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, patience=args.patience,
                     buckets=_buckets_arg(args.buckets), bucket_shapes={"yes": True, "no": False}.get(args.bucket_shapes, "auto"))


def _buckets_arg(text: str):
  """--buckets: "auto", "none" or comma-separated lengths "16,32,64"."""
  if text in ("auto", "none"):
    return text
  try:
    return tuple(int(part) for part in text.split(","))
  except ValueError:
    raise ValueError(f"--buckets must be 'auto', 'none' or comma-separated lengths such as "
                     f"16,32,64; got {text!r}") from None


def cmd_train(args) -> int:
  from attnjax.training import evaluate, save_run, train
  from attnjax.training.epoch_state import EPOCH_STATE_FILE

  # Every option is checked before the data are loaded and long before the run is written.
  _apply_preset(args)
  _at_least(args, "seeds", 1)
  _at_least(args, "first_seed", 0)
  if args.first_seed + args.seeds > 2**32:
    raise ValueError(f"seeds must be < 2**32, got --first-seed {args.first_seed} with "
                     f"--seeds {args.seeds}")
  _check_data_args(args)
  _check_model_and_train_args(args)
  _train_config(args, vocab_size=3, num_classes=2)  # anything else the model or config reject
  _check_out_dir(args.out)

  splits = _load_splits(args)
  vocab = splits["train"].vocab
  vocab_size = len(vocab) if vocab is not None else int(args.vocab_size or PLANTED_VOCAB_SIZE)
  config = _train_config(args, vocab_size, splits["train"].num_classes)
  model = config.model
  seeds = list(range(args.first_seed, args.first_seed + args.seeds))
  # A killed run started again with the same --out and options resumes after its last epoch.
  epochs_file = Path(args.out) / EPOCH_STATE_FILE
  result = train(config, seeds, splits["train"], splits["dev"], progress=not args.no_progress,
                 checkpoint=epochs_file)
  test = evaluate(model, result.params, splits["test"], batch_size=config.eval_batch_size,
                  buckets=config.buckets)
  for role, name in zip(SPLITS, _split_names(args)):  # the run records what it loaded
    setattr(args, f"{role}_split", name)
  data_options = {k: getattr(args, k) for k in DATA_OPTIONS}
  out = save_run(args.out, result, vocab=vocab, extra={"data": data_options,
                                          "test_accuracy": test["accuracy"].tolist()})
  rows = [[seed, int(result.best_epoch[i]) + 1,
           f"{result.history['train_accuracy'][i, -1]:.4f}",
           f"{result.history['eval_accuracy'][i, result.best_epoch[i]]:.4f}",
           f"{test['accuracy'][i]:.4f}"] for i, seed in enumerate(result.seeds)]
  _print_table(["seed", "best epoch", "train acc", "dev acc", "test acc"], rows)
  print(f"test accuracy {np.mean(test['accuracy']):.4f} ± {np.std(test['accuracy']):.4f} "
        f"(mean ± std over {len(seeds)} seeds)")
  epochs_file.unlink(missing_ok=True)
  print(f"run directory: {out}")
  return 0


def cmd_evaluate(args) -> int:
  from attnjax.training import evaluate, load_run

  from attnjax.data import Vocab

  if args.split not in SPLITS:
    raise ValueError(f"unknown --split {args.split!r}; allowed: {', '.join(SPLITS)}")
  run = load_run(args.run_dir)
  data = run.extra.get("data")
  config_path = Path(args.run_dir) / "config.json"
  if not isinstance(data, dict):
    raise ValueError(f"{config_path} has no data options (extra.data): was the run written by "
                     f"`attnjax train`?")
  missing = [k for k in DATA_OPTIONS if k not in data]
  if missing:
    raise ValueError(f"{config_path}: the data options (extra.data) miss {missing}")
  data = argparse.Namespace(**data)
  try:
    _check_data_args(data)
  except ValueError as error:
    raise ValueError(f"{config_path}: the run's data options: {error}") from None
  vocab = Vocab.load(run.vocab_path) if run.vocab_path else None
  splits = _load_splits(data, vocab=vocab)
  metrics = evaluate(run.result.model, run.result.params, splits[args.split],
                     buckets=run.result.config.buckets)
  rows = [[seed, f"{metrics['accuracy'][i]:.4f}", f"{metrics['loss'][i]:.4f}"]
          for i, seed in enumerate(run.result.seeds)]
  _print_table(["seed", f"{args.split} acc", f"{args.split} loss"], rows)
  return 0


def _int_list(text: str) -> list[int]:
  try:
    return [int(x) for x in text.split(",") if x.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def cmd_reproduce(args) -> int:
  from attnjax.reproduce import reproduce
  from attnjax.reproduce.cluster import CellsFailed, RayOptions

  data = [d.strip() for d in args.data.split(",") if d.strip()]
  if args.epochs is not None and args.epochs < 1:
    raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
  _check_out_dir(args.out)
  ray = None
  if args.executor == "ray":
    ray = RayOptions(address=args.ray_address, cell_cpus=args.cell_cpus,
                     cell_gpus=args.cell_gpus, retries=args.cell_retries,
                     ship=args.ray_ship_results, cpu_devices=args.cpu_devices,
                     workers=args.ray_workers)
  else:
    ray_flags = [flag for flag, value in (("--ray-address", args.ray_address),
                                          ("--ray-ship-results", args.ray_ship_results),
                                          ("--ray-workers", args.ray_workers))
                 if value not in (None, False)]
    if ray_flags:
      raise ValueError(f"{', '.join(ray_flags)} {'needs' if len(ray_flags) == 1 else 'need'} "
                       "--executor ray")
  try:
    reproduce(args.out, data=data, seeds=args.seeds, only=args.only, preset=_preset(args),
              source=args.source, data_dir=args.data_dir, progress=not args.no_progress,
              train_split=args.train_split, analysis=_analysis_settings(args),
              config_changes=None if args.epochs is None else {"epochs": args.epochs},
              executor=args.executor, ray=ray)
  except CellsFailed as error:
    print(f"attnjax reproduce: {error}", file=sys.stderr)
    return 1
  print(f"report: {Path(args.out) / 'report.md'}")
  return 0


def _analysis_settings(args):
  """The preset's `AnalysisSettings` with --dataset-method / --robustness-method applied (or None)."""
  changes = {}
  if args.dataset_method is not None:
    changes["dataset_method"] = args.dataset_method
  if args.robustness_method is not None:
    changes["robustness_method"] = (None if args.robustness_method == "none"
                                    else args.robustness_method)
  if not changes:
    return None
  from attnjax.reproduce.options import analysis_settings
  return dataclasses.replace(analysis_settings(_preset(args)), **changes)


def _preset(args) -> str:
  """--preset, with --quick as its short form."""
  if args.quick and args.preset not in (None, "quick"):
    raise ValueError(f"--quick contradicts --preset {args.preset}: pass one of them")
  return "quick" if args.quick else (args.preset or "full")


def cmd_rejudge(args) -> int:
  from attnjax.reproduce.rejudge import describe, rejudge

  for directory in args.directories:
    print("\n".join(describe(directory, rejudge(directory))))
  return 0


def cmd_explain(args) -> int:
  from attnjax import render, sentences

  # Every input is checked before the model runs.
  outs = [render.check_path(path) for path in args.out or []]
  methods = [m.strip() for m in args.methods.split(",") if m.strip()]
  texts = list(args.text or [])
  if args.file:
    texts += sentences.read_texts(args.file)
  if not texts:
    raise ValueError("nothing to explain: give --text TEXT (repeatable) or --file FILE")
  _at_least(args, "batch_size", 1)
  run = sentences.select_seeds(sentences.open_run(args.run_dir), args.seeds)
  bar = None
  if not args.no_progress and len(texts) > args.batch_size:
    from tqdm.auto import tqdm
    bar = tqdm(total=len(texts), unit="text", file=sys.stderr)
  progress = None if bar is None else (lambda done, total: bar.update(done - bar.n))
  try:
    document = sentences.explain_texts(run, texts, methods=methods, batch_size=args.batch_size,
                                       progress=progress)
  finally:
    if bar is not None:
      bar.close()
  for i, sentence in enumerate(document["sentences"], 1):
    length, total = len(sentence["words"]), sentence["tokens_total"]
    if total > length:
      kept = "first" if run.keep == "start" else "last"
      print(f"attnjax explain: warning: text {i} has {total} tokens; the model reads its "
            f"{kept} {length} (T = {run.max_length})", file=sys.stderr)
  for path in outs:
    print(f"wrote {render.write(document, path)}")
  if not outs:
    print(render.table(document))
  return 0


def _add_train_command(sub) -> argparse.ArgumentParser:
  """`attnjax train`."""
  train_parser = sub.add_parser("train", help="train S seeds of one model in one program",
                                description="Train S seeds of one attention classifier "
                                "together and write a run directory.")
  _add_data_args(train_parser)
  _add_model_args(train_parser)
  _add_train_args(train_parser)
  train_parser.set_defaults(func=cmd_train)
  return train_parser


def _add_reproduce_command(sub) -> argparse.ArgumentParser:
  """`attnjax reproduce`."""
  rep = sub.add_parser("reproduce", help="run the paper's five findings (+ experiment 6, the explainers) "
                       "and write a report",
                       description="Train every cell (S seeds each, one program per cell), "
                       "analyse attention vs MI, and write report.md, results.json and figures. "
                       "Finished cells are skipped on re-runs.")
  rep.add_argument("--preset", default=None, choices=("quick", "full", "paper", "jw"),
                   help="model, training and data settings (attnjax.presets): quick "
                   "(minutes on CPU), full (default; 128 units, 5 epochs, one setting for all "
                   "corpora), paper (per-corpus settings that reach published accuracy), jw (Jain & "
                   "Wallace 2019's protocol, SST-2)")
  rep.add_argument("--quick", action="store_true", help="the same as --preset quick")
  rep.add_argument("--data", default="planted",
                   help="comma-separated datasets: planted,sst2,ag_news,ag_news_2class "
                   "(World vs Business),imdb,yelp")
  rep.add_argument("--seeds", type=int, default=5, help="seeds per cell (>= 2)")
  rep.add_argument("--train-split", default=None,
                   help="training split of every dataset, e.g. 'train[:20000]' (default: "
                   "the preset's; the vocabulary is built on it)")
  rep.add_argument("--epochs", type=int, default=None, help="epochs per cell (default: the preset's)")
  rep.add_argument("--only", type=_int_list, default=None, help="experiments to run, e.g. 1,4 (1-5: the paper's findings; 6: explainers side by side; 7: faithfulness)")
  rep.add_argument("--source", default=DEFAULT_SOURCE, choices=SOURCES, help=SOURCE_HELP)
  rep.add_argument("--data-dir", default=None,
                   help="files: the folder holding <dataset>/train.tsv…; tfds: its data_dir")
  rep.add_argument("--dataset-method", default=None,
                   help="estimator of finding i's dataset-level I(h_t ; ŷ) (default: the "
                   "preset's, see attnjax.reproduce.cell_measurements.AnalysisSettings)")
  rep.add_argument("--robustness-method", default=None,
                   help="finding i's second estimator, or 'none' (default: the preset's)")
  rep.add_argument("--out", default="runs/reproduce")
  rep.add_argument("--no-progress", action="store_true")
  rep.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local (default: cells one after another here) or ray (every cell a "
                   "Ray task, then the same report; needs attnjax[ray])")
  rep.add_argument("--ray-address", default=None,
                   help="ray: the cluster to join ('auto': the one this machine belongs to; "
                   "'ray://HOST:10001': a remote one); default: start a local cluster")
  rep.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="ray, local cluster only: its CPUs (default: all cores)")
  rep.add_argument("--cell-cpus", type=float, default=1.0,
                   help="ray: CPUs each cell reserves (default 1)")
  rep.add_argument("--cell-gpus", type=float, default=0.0,
                   help="ray: GPUs each cell reserves (default 0)")
  rep.add_argument("--cell-retries", type=int, default=1,
                   help="ray: re-runs of a cell whose worker died (default 1)")
  rep.add_argument("--ray-ship-results", action="store_true",
                   help="ray: cells travel back to the driver through Ray (workers without "
                   "the driver's file system); default: workers write the shared --out")
  rep.set_defaults(func=cmd_reproduce)
  return rep


def _add_rejudge_command(sub) -> argparse.ArgumentParser:
  """`attnjax rejudge`."""
  rejudge_parser = sub.add_parser(
      "rejudge", help="recompute the verdicts of stored reproduce results (no re-training)",
      description="Recompute every finding's verdict in DIR/results.json from its stored "
      "summaries with today's rules (comparisons over seeds) and rewrite results.json and "
      "report.md; nothing is trained or analysed again.")
  rejudge_parser.add_argument("directories", nargs="+", metavar="DIR",
                              help="folders holding a results.json written by `reproduce`")
  rejudge_parser.set_defaults(func=cmd_rejudge)
  return rejudge_parser


def _add_explain_command(sub) -> argparse.ArgumentParser:
  """`attnjax explain`."""
  explain_parser = sub.add_parser(
      "explain", help="explain your own text with a trained run: every explainer side by side",
      description="Score every token of each text with each explainer, for every seed of a "
      "run, and show them side by side: a web page (.html), a figure (.png) or JSON (.json) "
      "by the extension of --out; without --out, a table in the terminal.")
  explain_parser.add_argument("run_dir", metavar="RUN_DIR",
                              help="a directory written by `attnjax train --out`, or a "
                              "reproduction cell's OUT/<dataset>/cells/<cell>/run")
  explain_parser.add_argument("--text", action="append", metavar="TEXT",
                              help="a text to explain (repeatable)")
  explain_parser.add_argument("--file", default=None,
                              help="more texts: .txt (one per line), .tsv (a 'text' or "
                              "'sentence' column) or .jsonl (a 'text' key)")
  explain_parser.add_argument("--methods", default=",".join(METHODS_DEFAULT),
                              help=f"comma-separated explainers (default: all of "
                              f"{','.join(METHODS_DEFAULT)})")
  explain_parser.add_argument("--seeds", default="all",
                              help="'all' (default) or comma-separated seeds of the run, e.g. 0,2")
  explain_parser.add_argument("--out", action="append", metavar="FILE",
                              help="write FILE (.html, .png or .json; repeatable)")
  explain_parser.add_argument("--batch-size", type=int, default=32,
                              help="texts per chunk (memory bound; default 32)")
  explain_parser.add_argument("--no-progress", action="store_true")
  explain_parser.set_defaults(func=cmd_explain)
  return explain_parser


def _add_evaluate_command(sub) -> argparse.ArgumentParser:
  """`attnjax evaluate`."""
  eval_parser = sub.add_parser("evaluate", help="evaluate a run directory on a split")
  eval_parser.add_argument("run_dir", help="directory written by `attnjax train`")
  eval_parser.add_argument("--split", default="test")
  eval_parser.set_defaults(func=cmd_evaluate)
  return eval_parser


def build_parser() -> argparse.ArgumentParser:
  """The `attnjax` command line: every subcommand, each with `--debug`."""
  parser = argparse.ArgumentParser(
      prog="attnjax", description="Attention models, MI estimators and experiments in JAX.")
  parser.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                      help="expose N CPU devices (e.g. one per core) and shard seeds over them; "
                      "faster than one device when training several seeds on a CPU "
                      "(default: JAX's, one CPU device)")
  parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
  for add in (_add_train_command, _add_reproduce_command, _add_rejudge_command,
              _add_explain_command, _add_evaluate_command):
    command = add(sub)  # `--debug` after the command works too
    command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help=DEBUG_HELP)
  return parser


DEBUG_HELP = "show the full traceback of an error instead of a one-line message"


# What a user's input can cause: bad values, missing or unreadable files (OSError), a
# missing entry in a file (KeyError), an optional dependency not installed (ImportError).
USER_ERRORS = (ValueError, OSError, KeyError, ImportError)


def main(argv=None) -> int:
  """Runs the command in `argv`; returns its exit code.

  A user error (`USER_ERRORS`) prints `attnjax COMMAND: error: MESSAGE` to
  stderr and returns 2, without a traceback (`--debug` re-raises it). Run
  files are written atomically, so a failing command leaves what was already
  written as it was.
  """
  parser = build_parser()
  args = parser.parse_args(argv)
  try:
    if args.cpu_devices is not None:
      from attnjax.training import use_cpu_devices
      _at_least(args, "cpu_devices", 1)
      use_cpu_devices(args.cpu_devices)
    return args.func(args)
  except USER_ERRORS as error:
    if args.debug:
      raise
    print(f"attnjax {args.command}: error: {_message(error)}", file=sys.stderr)
    return 2


def finding_script(number: int, argv=None) -> int:
  """Command line of `experiments/<finding>.py`: `attnjax reproduce --only NUMBER` with the
  usual flags (`argv`, default `sys.argv[1:]`)."""
  return main(["reproduce", "--only", str(number), *(sys.argv[1:] if argv is None else argv)])


def _message(error: BaseException) -> str:
  """The one-line message of a user error."""
  if type(error) is KeyError:  # str() of a plain KeyError is just the key's repr
    return f"missing entry {error.args[0]!r}" if error.args else "missing entry"
  if isinstance(error, ImportError) and not str(error):
    return f"{type(error).__name__}: {error.name}"
  # JAX appends a note on its filtered traceback to errors raised under its transformations.
  return str(error).split("\n--------------------\n")[0] or type(error).__name__


if __name__ == "__main__":
  sys.exit(main())
