"""`reproduce` presets: per-corpus settings, the quick alias, old results read as before; its
options as one validated value."""

import dataclasses
import json

import pytest

from attnjax import cli
from attnjax.reproduce import (AnalysisSettings, ReproduceOptions, RayOptions, _earlier_results,
                               reproduce)
from attnjax.presets import PRESETS, base_config, data_options
from attnjax.reproduce.options import analysis_settings


def test_paper_preset_is_per_corpus_and_full_keeps_the_one_setting():
  sst2 = base_config("sst2", "paper", vocab_size=100, num_classes=2)
  assert (sst2.model.embed_dim, sst2.model.hidden_dim, sst2.model.dropout) == (128, 128, 0.3)
  assert (sst2.epochs, sst2.patience, sst2.batch_size, sst2.learning_rate) == (8, 2, 128, 2e-3)
  ag2 = base_config("ag_news_2class", "paper", vocab_size=100, num_classes=2)
  ag4 = base_config("ag_news", "paper", vocab_size=100, num_classes=4)
  assert ag2.model.dropout == ag4.model.dropout == 0.5 and ag2.epochs == 12
  assert (ag2.model.num_classes, ag4.model.num_classes) == (2, 4)
  assert data_options("imdb", "paper", "files")["max_len"] == 400
  assert data_options("ag_news_2class", "paper", "files")["splits"] == ("dev[:90%]",
                                                                         "dev[90%:]", "test")
  full = {d: base_config(d, "full", vocab_size=100, num_classes=2) for d in ("sst2", "imdb")}
  assert full["sst2"] == full["imdb"] and full["sst2"].model.hidden_dim == 128
  assert full["sst2"].patience is None and full["sst2"].model.dropout == 0.0
  quick = base_config("sst2", "quick", vocab_size=100, num_classes=2)
  assert (quick.model.hidden_dim, quick.epochs) == (32, 3)
  assert data_options("sst2", "quick", "files")["splits"][0] == "train[:5000]"


def test_quick_flag_is_the_quick_preset():
  assert ReproduceOptions(preset="quick").settings == analysis_settings("quick")
  assert ReproduceOptions().settings == analysis_settings("full") == analysis_settings("paper")
  assert ReproduceOptions(preset="paper").settings == analysis_settings("paper")
  parser = cli.build_parser()
  assert cli._preset(parser.parse_args(["reproduce", "--quick"])) == "quick"
  assert cli._preset(parser.parse_args(["reproduce"])) == "full"
  assert cli._preset(parser.parse_args(["reproduce", "--preset", "paper"])) == "paper"
  with pytest.raises(ValueError, match="--quick contradicts --preset paper"):
    cli._preset(parser.parse_args(["reproduce", "--quick", "--preset", "paper"]))


def test_bad_presets_are_clear_errors(tmp_path):
  with pytest.raises(ValueError, match=r"unknown preset 'huge'; allowed: quick, full, paper, jw"):
    base_config("sst2", "huge", vocab_size=100, num_classes=2)
  with pytest.raises(ValueError, match=r"unknown preset 'huge'; allowed"):
    reproduce(tmp_path, preset="huge")
  assert not any(tmp_path.iterdir())  # refused before writing anything
  assert PRESETS == ("quick", "full", "paper", "jw")


def test_stored_results_are_kept_only_by_the_same_setting(tmp_path):
  path = tmp_path / "results.json"
  meta = {"seeds": 2, "quick": True, "preset": "quick", "analysis": {"a": 1},
          "code": {"run": "x"}}
  path.write_text(json.dumps({"meta": meta, "results": {"planted": {"1": {"verdict": "v"}}}}))
  assert _earlier_results(path, meta) == {"planted": {"1": {"verdict": "v"}}}
  assert _earlier_results(path, {**meta, "quick": False, "preset": "full"}) == {}
  assert _earlier_results(path, {**meta, "code": {"run": "y"}}) == {}


def test_train_preset_fills_only_the_options_not_given():
  parser = cli.build_parser()
  args = cli._apply_preset(parser.parse_args(
      ["train", "--data", "sst2", "--preset", "paper", "--dropout", "0.1"]))
  assert args.dropout == 0.1  # given: kept
  assert (args.word_dropout, args.hidden_dim, args.batch_size, args.learning_rate,
          args.epochs, args.patience, args.max_len) == (0.1, 128, 128, 2e-3, 8, 2, 64)
  config = cli._train_config(args, vocab_size=100, num_classes=2)
  assert config == base_config("sst2", "paper", 100, 2).replace(**{"model.dropout": 0.1})
  # Without --preset: the full preset, the same TrainConfig and T as `reproduce`'s cells.
  plain = cli._apply_preset(parser.parse_args(["train", "--data", "sst2"]))
  assert (plain.dropout, plain.epochs, plain.batch_size, plain.patience, plain.max_len) == (
      0.0, 5, 64, None, data_options("sst2", "full", "files")["max_len"])
  for preset in ("quick", "full"):
    args = cli._apply_preset(parser.parse_args(["train", "--data", "imdb", "--preset", preset]))
    assert cli._train_config(args, 100, 2) == base_config("imdb", preset, 100, 2)
    assert args.max_len == data_options("imdb", preset, "files")["max_len"]
  custom = cli._apply_preset(parser.parse_args(["train", "--data", "custom"]))
  assert custom.max_len is None and custom.epochs == 5  # the corpus's own default T
  with pytest.raises(ValueError, match=r"--preset paper has no settings for --data 'custom'"):
    cli._apply_preset(parser.parse_args(["train", "--data", "custom", "--preset", "paper"]))


def test_one_split_policy_and_one_default_source():
  import argparse

  from attnjax.data import DEFAULT_SOURCE, LoadOptions, default_splits
  from attnjax.presets import data_options as options

  assert DEFAULT_SOURCE == "files"
  parser = cli.build_parser()
  train_args = parser.parse_args(["train"])
  reproduce_args = parser.parse_args(["reproduce"])
  assert train_args.source == reproduce_args.source == DEFAULT_SOURCE
  assert LoadOptions().source == DEFAULT_SOURCE
  assert ReproduceOptions().source == DEFAULT_SOURCE
  for preset in PRESETS:
    for dataset, source in (("sst2", "files"), ("ag_news", "files"), ("ag_news", "tfds")):
      if preset == "jw" and dataset != "sst2":
        continue  # the jw preset is defined for SST-2 only
      splits = options(dataset, preset, source)["splits"]
      assert splits == default_splits(dataset, source,
                                      train_size=5000 if preset == "quick" else None)
  assert default_splits("ag_news", "files") == ("dev[:90%]", "dev[90%:]", "test")
  assert default_splits("planted", planted_sizes=(8, 2, 2)) == ("train[:8]", "dev[:2]", "test[:2]")
  # `attnjax train` takes the same defaults for the splits not given.
  args = argparse.Namespace(data="ag_news", source="files", train_split=None, dev_split="dev[95%:]",
                            test_split=None)
  assert cli._split_names(args) == ("dev[:90%]", "dev[95%:]", "test")


def test_reproduce_options_are_one_validated_value_whatever_way_they_are_passed(tmp_path):
  options = ReproduceOptions(data=("sst2", "planted"), only=(7, 1, 1), preset="quick")
  assert options.experiments == [1, 7] and options.preset == "quick"
  assert options.settings == analysis_settings("quick") and options.ray_options == RayOptions()
  paper = dataclasses.replace(options, preset="paper")  # fields stay as given
  assert paper.preset == "paper" and paper.settings == analysis_settings("paper")
  assert ReproduceOptions().experiments == [1, 2, 3, 4, 5, 6, 7]
  assert ReproduceOptions().preset == "full"
  for bad, message in ((dict(seeds=1), "seeds must be >= 2"),
                       (dict(only=(8,)), r"unknown findings \[8\]; allowed"),
                       (dict(data=("mnist",)), r"unknown datasets \['mnist'\]; allowed: planted"),
                       (dict(encoders=("gru",)), r"unknown encoders \['gru'\]; allowed"),
                       (dict(temperatures=(0.5, 0.0)), r"must be > 0, got \[0.0\]"),
                       (dict(executor="spark"), r"unknown executor 'spark'; allowed: local, ray"),
                       (dict(ray=RayOptions()), "executor='local'; pass executor='ray'"),
                       (dict(data="sst2"), r"data must be a sequence, e.g. data=\('sst2',\)")):
    with pytest.raises(ValueError, match=message):
      ReproduceOptions(**bad)
    with pytest.raises(ValueError, match=message):  # keywords over an options value: checked too
      reproduce(tmp_path, options, **bad)
  assert not any(tmp_path.iterdir())  # refused before writing anything


def test_cli_method_flags_change_only_their_field_of_the_presets_analysis():
  parser = cli.build_parser()
  assert cli._analysis_settings(parser.parse_args(["reproduce", "--quick"])) is None
  args = parser.parse_args(["reproduce", "--preset", "paper", "--dataset-method", "ksg",
                            "--robustness-method", "none"])
  assert cli._analysis_settings(args) == dataclasses.replace(
      analysis_settings("paper"), dataset_method="ksg", robustness_method=None)
  args = parser.parse_args(["reproduce", "--quick", "--robustness-method", "probe"])
  assert cli._analysis_settings(args) == dataclasses.replace(
      analysis_settings("quick"), robustness_method="probe")


@pytest.mark.parametrize("bad, message", [
    ({"num_samples": 16}, r"AnalysisSettings.num_samples must be an integer >= 20 \(the MI "
                          r"estimators' minimum sample count, attnjax.mi.MIN_COUNT\), got 16"),
    ({"eval_examples": 10}, r"eval_examples must be an integer >= 20 .*got 10"),
    ({"explain_examples": 0}, r"explain_examples must be an integer >= 1, got 0"),
    ({"explain_examples": True}, r"explain_examples must be an integer >= 1, got True"),
    ({"dataset_method": "knn"}, r"dataset_method = 'knn' is not an estimator"),
    ({"calibration_replicates": 1}, r"calibration_replicates must be 0 or an integer >= 2")])
def test_analysis_settings_refuse_bad_values_before_anything_trains(bad, message):
  with pytest.raises(ValueError, match=message):
    AnalysisSettings(**bad)
  AnalysisSettings(num_samples=20, eval_examples=20, explain_examples=1)  # the boundaries


def test_jw_preset_follows_jain_and_wallaces_protocol(tmp_path):
  config = base_config("sst2", "jw", vocab_size=100, num_classes=2)
  assert (config.model.embed_dim, config.model.hidden_dim, config.model.dropout,
          config.model.word_dropout) == (300, 128, 0.0, 0.0)
  assert (config.optimizer, config.learning_rate, config.batch_size, config.epochs) == (
      "amsgrad", 1e-3, 32, 8)
  assert (config.weight_decay, config.weight_decay_kind, config.weight_decay_exclude) == (
      1e-5 / 32, "l2", ("attention",))
  assert config.select_metric == "roc_auc" and config.grad_clip is None
  options = data_options("sst2", "jw", "files")
  assert (options["tokenizer"], options["min_freq"], options["min_length"]) == (
      "lower-words-v1", 1, 6)
  assert analysis_settings("jw").explain_examples >= 25_000
  with pytest.raises(ValueError, match="jw preset has no settings for 'imdb'; it has: sst2"):
    data_options("imdb", "jw", "files")
