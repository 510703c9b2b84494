"""The `attnjax` command line: `attnjax train`, `attnjax evaluate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from attnjax.data.load import PLANTED_VOCAB_SIZE
from attnjax.models import ATTENTIONS, ENCODERS, NORMALIZERS

DATA_OPTIONS = ("data", "source", "data_dir", "max_len", "vocab_size", "train_split", "dev_split",
                "test_split", "train_size", "data_seed")


def _add_data_args(parser: argparse.ArgumentParser):
  group = parser.add_argument_group("data")
  group.add_argument("--data", default="planted",
                     help="planted (built in), sst2, imdb, ag_news, yelp or custom")
  group.add_argument("--source", default="tfds", choices=("tfds", "files"),
                     help="real corpora: tensorflow-datasets (needs attnjax[tfds]) or a folder "
                     "of train/dev/test files")
  group.add_argument("--data-dir", default=None,
                     help="tfds data_dir, or the folder of split files (or of <data>/ folders)")
  group.add_argument("--max-len", type=int, default=None,
                     help="padded length T (default: the corpus default; planted 40)")
  group.add_argument("--vocab-size", type=int, default=None,
                     help="vocabulary cap (planted: its V, default 1000)")
  group.add_argument("--train-split", default="train",
                     help="training split, e.g. 'train[:2000]' or, for the offline AG News "
                     "copy (no train file), 'dev[:90%%]'; the vocabulary is built on it")
  group.add_argument("--dev-split", default="dev", help="early-stopping split, e.g. 'dev[90%%:]'")
  group.add_argument("--test-split", default="test", help="test split")
  group.add_argument("--train-size", type=int, default=4000,
                     help="planted: training examples (dev and test get a quarter)")
  group.add_argument("--data-seed", type=int, default=0, help="planted: seed of the data")


def _add_model_args(parser: argparse.ArgumentParser):
  group = parser.add_argument_group("model")
  group.add_argument("--encoder", default="bilstm", choices=ENCODERS)
  group.add_argument("--attention", default="additive", choices=ATTENTIONS)
  group.add_argument("--normalizer", default="softmax", choices=NORMALIZERS)
  group.add_argument("--temperature", type=float, default=1.0, help="Gumbel-softmax τ > 0")
  group.add_argument("--embed-dim", type=int, default=128)
  group.add_argument("--hidden-dim", type=int, default=128)
  group.add_argument("--dropout", type=float, default=0.0)
  group.add_argument("--word-dropout", type=float, default=0.0)


def _add_train_args(parser: argparse.ArgumentParser):
  group = parser.add_argument_group("training")
  group.add_argument("--seeds", type=int, default=4, help="number of seeds S (seeds 0..S-1)")
  group.add_argument("--first-seed", type=int, default=0, help="seeds are first..first+S-1")
  group.add_argument("--epochs", type=int, default=3)
  group.add_argument("--batch-size", type=int, default=64)
  group.add_argument("--learning-rate", type=float, default=1e-3)
  group.add_argument("--patience", type=int, default=None,
                     help="stop after this many epochs without dev improvement")
  group.add_argument("--out", default="runs/demo", help="run directory to write")
  group.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _load_splits(args, vocab=None):
  """{"train", "dev", "test"} `TextDataset`s for the data options in `args`."""
  from attnjax.data import load_splits

  if args.data == "planted":
    n = args.train_size
    names = (f"train[:{n}]", f"dev[:{max(n // 4, 1)}]", f"test[:{max(n // 4, 1)}]")
    loaded = load_splits("planted", names, max_len=args.max_len, vocab_size=args.vocab_size,
                         seed=args.data_seed, size=n)
  else:
    names = (args.train_split, args.dev_split, args.test_split)
    loaded = load_splits(args.data, names, max_len=args.max_len, vocab_size=args.vocab_size,
                         vocab=vocab, source=args.source, data_dir=args.data_dir,
                         vocab_split=args.train_split)
  return dict(zip(("train", "dev", "test"), (loaded[name] for name in names)))


def _print_table(header, rows, file=sys.stdout):
  widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
  for row in [header, ["-" * w for w in widths], *rows]:
    print("  ".join(str(x).rjust(w) for x, w in zip(row, widths)), file=file)


def cmd_train(args) -> int:
  from attnjax.models import AttentionClassifier
  from attnjax.training import TrainConfig, evaluate, save_run, train

  splits = _load_splits(args)
  vocab = splits["train"].vocab
  vocab_size = len(vocab) if vocab is not None else int(args.vocab_size or PLANTED_VOCAB_SIZE)
  model = AttentionClassifier(
      vocab_size=vocab_size, num_classes=splits["train"].num_classes,
      embed_dim=args.embed_dim, hidden_dim=args.hidden_dim, encoder=args.encoder,
      attention=args.attention, normalizer=args.normalizer, temperature=args.temperature,
      dropout=args.dropout, word_dropout=args.word_dropout)
  config = TrainConfig(model=model, epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, patience=args.patience)
  seeds = list(range(args.first_seed, args.first_seed + args.seeds))
  result = train(config, seeds, splits["train"], splits["dev"], progress=not args.no_progress)
  test = evaluate(model, result.params, splits["test"], batch_size=config.eval_batch_size)
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
  print(f"run directory: {out}")
  return 0


def cmd_evaluate(args) -> int:
  from attnjax.training import evaluate, load_run

  from attnjax.data import Vocab

  run = load_run(args.run_dir)
  vocab = Vocab.load(run.vocab_path) if run.vocab_path else None
  splits = _load_splits(argparse.Namespace(**run.extra["data"]), vocab=vocab)
  if args.split not in splits:
    raise ValueError(f"unknown --split {args.split!r}; allowed: {', '.join(splits)}")
  metrics = evaluate(run.result.model, run.result.params, splits[args.split])
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

  data = [d.strip() for d in args.data.split(",") if d.strip()]
  if args.epochs is not None and args.epochs < 1:
    raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
  reproduce(args.out, data=data, seeds=args.seeds, only=args.only, quick=args.quick,
            source=args.source, data_dir=args.data_dir, progress=not args.no_progress,
            train_split=args.train_split,
            config_changes=None if args.epochs is None else {"epochs": args.epochs})
  print(f"report: {Path(args.out) / 'report.md'}")
  return 0


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="attnjax", description="Attention models, MI estimators and experiments in JAX.")
  parser.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                      help="expose N CPU devices (e.g. one per core) and shard seeds over them; "
                      "faster than one device when training several seeds on a CPU "
                      "(default: JAX's, one CPU device)")
  sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
  train_parser = sub.add_parser("train", help="train S seeds of one model in one program",
                                description="Train S seeds of one attention classifier "
                                "together and write a run directory.")
  _add_data_args(train_parser)
  _add_model_args(train_parser)
  _add_train_args(train_parser)
  train_parser.set_defaults(func=cmd_train)
  rep = sub.add_parser("reproduce", help="run the paper's five findings (+ experiment 6, the explainers) "
                       "and write a report",
                       description="Train every cell (S seeds each, one program per cell), "
                       "analyse attention vs MI, and write report.md, results.json and figures. "
                       "Finished cells are skipped on re-runs.")
  rep.add_argument("--quick", action="store_true", help="small models and data (minutes on CPU)")
  rep.add_argument("--data", default="planted",
                   help="comma-separated datasets: planted,sst2,ag_news,ag_news_2class "
                   "(World vs Business),imdb,yelp")
  rep.add_argument("--seeds", type=int, default=5, help="seeds per cell (>= 2)")
  rep.add_argument("--train-split", default=None,
                   help="training split of every dataset, e.g. 'train[:20000]' (default: "
                   "the mode's; the vocabulary is built on it)")
  rep.add_argument("--epochs", type=int, default=None, help="epochs per cell (default: the mode's)")
  rep.add_argument("--only", type=_int_list, default=None, help="findings to run, e.g. 1,4 (6: explainers side by side)")
  rep.add_argument("--source", default="files", choices=("files", "tfds"),
                   help="real corpora from a folder of files or tensorflow-datasets")
  rep.add_argument("--data-dir", default=None,
                   help="files: the folder holding <dataset>/train.tsv…; tfds: its data_dir")
  rep.add_argument("--out", default="runs/reproduce")
  rep.add_argument("--no-progress", action="store_true")
  rep.set_defaults(func=cmd_reproduce)
  eval_parser = sub.add_parser("evaluate", help="evaluate a run directory on a split")
  eval_parser.add_argument("run_dir", help="directory written by `attnjax train`")
  eval_parser.add_argument("--split", default="test")
  eval_parser.set_defaults(func=cmd_evaluate)
  return parser


def main(argv=None) -> int:
  parser = build_parser()
  args = parser.parse_args(argv)
  try:
    if args.cpu_devices is not None:
      from attnjax.training import use_cpu_devices
      use_cpu_devices(args.cpu_devices)
    return args.func(args)
  except ValueError as error:
    print(f"attnjax {args.command}: error: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
