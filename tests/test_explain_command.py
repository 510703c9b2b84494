"""`attnjax explain RUN --text …`: the numbers equal the explainers', the page is safe and whole."""

import html.parser
import json
import shutil
import subprocess

import jax
import numpy as np
import pytest

from attnjax import explain, render, sentences
from attnjax.render.top import top_positions
from attnjax.cli import main
from attnjax.data.planted import signal_token_ids

# Class 0's signal ids are 2-5 and class 1's 6-9 (`signal_token_ids(2, 4)`); 100+ are filler.
PLANTED_TEXT = "120 130 140 3 150 160 170 180 190 200"
SIGNAL_POSITION = 3
OTHER_TEXT = "310 7 320 330 340 350"


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
  out = tmp_path_factory.mktemp("explain") / "run"
  assert main(["train", "--data", "planted", "--seeds", "2", "--epochs", "3", "--train-size",
               "2000", "--max-len", "16", "--embed-dim", "16", "--hidden-dim", "16",
               "--learning-rate", "0.005", "--no-progress", "--out", str(out)]) == 0
  return out


@pytest.fixture(scope="module")
def written(planted_run, tmp_path_factory):
  """The command's JSON, HTML and PNG for two texts, every method."""
  folder = tmp_path_factory.mktemp("written")
  paths = {ext: folder / f"e.{ext}" for ext in ("json", "html", "png")}
  args = ["explain", str(planted_run), "--text", PLANTED_TEXT, "--text", OTHER_TEXT]
  for path in paths.values():
    args += ["--out", str(path)]
  assert main(args) == 0
  return paths


def test_the_command_writes_the_explainers_numbers(planted_run, written):
  document = json.loads(written["json"].read_text())
  assert document["methods"] == list(sentences.METHODS) and document["seeds"] == [0, 1]
  run = sentences.open_run(planted_run)
  assert run.vocab is None and run.max_length == 16
  # One chunk (2 texts < --batch-size), length-sorted (OTHER_TEXT first), run at the longer
  # text's length; its random numbers come from fold_in(key(0), chunk 0).
  texts = (OTHER_TEXT, PLANTED_TEXT)
  tokens = np.zeros((2, 10), np.int32)
  for row, text in enumerate(texts):
    tokens[row, :len(text.split())] = [int(w) for w in text.split()]
  lengths = np.asarray([len(t.split()) for t in texts], np.int32)
  by_text = {s["text"]: s for s in document["sentences"]}
  for method in sentences.METHODS:
    options = {"key": jax.random.fold_in(jax.random.key(0), 0)} if method == "instance_mi" else {}
    expected = np.asarray(explain.explain(run.model, run.params, tokens, lengths, method=method,
                                          **options))
    for row, text in enumerate(texts):
      np.testing.assert_allclose(by_text[text]["scores"][method]["per_seed"],
                                 expected[:, row, :lengths[row]], rtol=1e-5, atol=1e-7,
                                 err_msg=method)
  logits = jax.vmap(lambda p: run.model.apply(p, tokens, lengths)[0])(run.params)
  probs = np.asarray(jax.nn.softmax(logits, -1))
  ranked = explain.explain(run.model, run.params, tokens, lengths, method="attention")
  faithful = explain.faithfulness(run.model, run.params, tokens, lengths, ranked)
  for row, text in enumerate(texts):
    sentence = by_text[text]
    assert sentence["words"] == text.split() and not any(sentence["unknown"])
    predicted = int(probs[:, row].mean(0).argmax())
    assert sentence["prediction"]["class"] == predicted
    np.testing.assert_allclose(sentence["prediction"]["probability_per_seed"],
                               probs[:, row, predicted], rtol=1e-5)
    np.testing.assert_allclose(
        sentence["faithfulness"]["attention"]["comprehensiveness"]["per_seed"],
        np.asarray(faithful["comprehensiveness"])[:, row], rtol=1e-5, atol=1e-7)
    tau = np.asarray(sentence["agreement"]["kendall_tau_b"], float)
    assert tau[0, 0] == 1.0 and np.array_equal(tau, tau.T, equal_nan=True)


def test_the_planted_token_gets_the_top_attention_in_the_pages_data(written):
  document = json.loads(written["json"].read_text())
  first = document["sentences"][0]
  assert first["prediction"]["label"] == "class_0"    # signal id 3 belongs to class 0
  assert int(np.argmax(first["scores"]["attention"]["mean"])) == SIGNAL_POSITION
  assert 3 in signal_token_ids(2, 4)[0]
  second = document["sentences"][1]
  assert second["prediction"]["label"] == "class_1"
  assert int(np.argmax(second["scores"]["attention"]["mean"])) == 1


class _Page(html.parser.HTMLParser):
  """Collects every token span's text per table row, start tags and attributes."""

  def __init__(self):
    super().__init__()
    self.rows, self.tags, self.attributes, self._in_token, self._row = [], [], [], False, None

  def handle_starttag(self, tag, attrs):
    self.tags.append(tag)
    self.attributes += attrs
    classes = dict(attrs).get("class") or ""
    if tag == "tr" and self._row is None:
      self._row = []
    if tag == "span" and "tok" in classes.split() and self._row is not None:
      self._in_token = True
      self._row.append("")

  def handle_endtag(self, tag):
    if tag == "span":
      self._in_token = False
    if tag == "tr" and self._row is not None:
      if self._row:
        self.rows.append(self._row)
      self._row = None

  def handle_data(self, data):
    if self._in_token:
      self._row[-1] += data


def test_the_page_holds_every_token_once_per_method_escapes_text_and_links_nothing(
    planted_run, tmp_path):
  run = sentences.open_run(planted_run)
  words = "<script>alert(1)</script> & tom's \"film\""
  text = " ".join(["120"] * 3)
  document = sentences.explain_texts(run, [text], methods=["attention", "gradient"])
  document["sentences"][0]["text"] = words            # user text as the page shows it
  document["sentences"][0]["words"] = ["<i>", "&amp;", "x"]
  page = render.page(document)
  parser = _Page()
  parser.feed(page)
  assert parser.rows == [["<i>", "&amp;", "x"]] * 2     # every token once per method, in order
  assert "script" not in parser.tags and "i" not in parser.tags
  assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; tom&#x27;s &quot;film&quot;" in page
  assert not [a for a in parser.attributes if a[0] in ("src", "href")]
  assert "http" not in page and "url(" not in page


def test_png_and_terminal_table(written, planted_run, capsys, tmp_path, monkeypatch):
  assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  monkeypatch.chdir(tmp_path)
  assert main(["explain", str(planted_run), "--text", PLANTED_TEXT, "--methods",
               "attention,leave_one_out"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[1].split() == ["token", "attention", "leave_one_out"]
  row = lines[2 + SIGNAL_POSITION].split()
  assert row[0] == "3" and row[1].startswith("*")     # the planted token is marked top
  assert not list(tmp_path.iterdir())                  # nothing written without --out


def test_words_wrap_inside_the_figure_and_do_not_overlap():
  from matplotlib.backends.backend_agg import FigureCanvasAgg

  words = ["incomprehensibilities"[: 3 + i % 17] for i in range(120)]
  values = np.linspace(-1, 1, len(words))
  fig = render.words_figure([("A long text", [render.Row("a method", words, values)])],
                            width=8.0)
  canvas = FigureCanvasAgg(fig)
  canvas.draw()
  renderer = canvas.get_renderer()
  page = fig.bbox
  boxes = [t.get_window_extent(renderer) for t in fig.texts if t.get_text() in words]
  assert len(boxes) == len(words)
  assert all(page.x0 <= b.x0 and b.x1 <= page.x1 and page.y0 <= b.y0 for b in boxes)
  lines = sorted({round(b.y0) for b in boxes})
  assert len(lines) >= 3                                # wrapped
  for y in lines:
    row = sorted((b for b in boxes if round(b.y0) == y), key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in zip(row, row[1:]))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium on this machine")
def test_chromium_renders_the_page(written, tmp_path):
  shot = tmp_path / "shot.png"
  subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                  "--window-size=1000,800", f"--screenshot={shot}", str(written["html"])],
                 check=True, capture_output=True, timeout=120)
  from matplotlib.image import imread
  image = imread(shot)[..., :3]
  assert image.std() > 0.05                            # not a blank page
  assert (image.reshape(-1, 3).max(1) - image.reshape(-1, 3).min(1) > 0.3).mean() > 0.002


@pytest.mark.parametrize("args, message", [
    (["explain", "{missing}", "--text", "x"], "does not exist"),
    (["explain", "{run}", "--text", "  "], "text 1 is empty"),
    (["explain", "{run}", "--text", "5 6", "--methods", "attention,shap"],
     r"unknown method\(s\) \['shap'\]; allowed: attention"),
    (["explain", "{run}", "--text", "5 6", "--out", "page.pdf"], "extension must be one of"),
    (["explain", "{run}", "--file", "{no_column}"], "has no text column"),
    (["explain", "{run}", "--text", "5 six"], "token ids in"),
    (["explain", "{run}", "--text", "5 6", "--seeds", "0,7"], r"seeds \[0, 7\] are not"),
    (["explain", "{run}"], "nothing to explain"),
    (["explain", "{incomplete}", "--text", "5 6"], "params.msgpack is missing"),
])
def test_bad_input_is_a_one_line_error(planted_run, tmp_path, capsys, args, message):
  import re

  no_column = tmp_path / "rows.tsv"
  no_column.write_text("label\tid\n1\t2\n")
  incomplete = tmp_path / "incomplete"
  shutil.copytree(planted_run, incomplete)
  (incomplete / "params.msgpack").unlink()
  names = {"missing": tmp_path / "nope", "run": planted_run, "no_column": no_column,
           "incomplete": incomplete}
  assert main([a.format(**names) for a in args]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("attnjax explain: error: ")
  assert re.search(message, err[0]), err[0]


def test_text_files_and_long_texts(planted_run, tmp_path, capsys):
  (tmp_path / "a.tsv").write_text("label\tsentence\n0\t120 3 130\n1\t7 140\n")
  (tmp_path / "b.jsonl").write_text('{"text": "120 3 130"}\n\n{"text": "7 140"}\n')
  (tmp_path / "c.txt").write_text("120 3 130\n\n7 140\n")
  for name in ("a.tsv", "b.jsonl", "c.txt"):
    assert sentences.read_texts(tmp_path / name) == ["120 3 130", "7 140"]
  (tmp_path / "d.jsonl").write_text('{"text": "1"}\n{"label": 1}\n')
  with pytest.raises(ValueError, match="line 2: no text column"):
    sentences.read_texts(tmp_path / "d.jsonl")
  long = " ".join(["120"] * 20)
  out = tmp_path / "long.json"
  assert main(["explain", str(planted_run), "--text", long, "--methods", "attention",
               "--out", str(out)]) == 0
  assert "text 1 has 20 tokens; the model reads its first 16 (T = 16)" in capsys.readouterr().err
  sentence = json.loads(out.read_text())["sentences"][0]
  assert len(sentence["words"]) == 16 and sentence["tokens_total"] == 20


def test_chunks_are_bounded_and_keep_the_input_order(planted_run):
  run = sentences.select_seeds(sentences.open_run(planted_run), "1")
  texts = ["120 3 130", "7", "150 160 170 180 4 190", "8 200"]
  seen = []
  document = sentences.explain_texts(run, texts, methods=["attention"], batch_size=2,
                                     progress=lambda done, total: seen.append((done, total)))
  assert seen == [(2, 4), (4, 4)] and document["seeds"] == [1]
  assert [s["text"] for s in document["sentences"]] == texts
  for text, sentence in zip(texts, document["sentences"]):
    ids = np.asarray([[int(w) for w in text.split()]], np.int32)
    lengths = np.asarray([ids.shape[1]], np.int32)
    expected = np.asarray(explain.explain(run.model, run.params, ids, lengths,
                                          method="attention"))
    np.testing.assert_allclose(sentence["scores"]["attention"]["per_seed"], expected[:, 0],
                               rtol=1e-5, atol=1e-7)


def test_top_positions_takes_the_top_fifth_ties_by_position_undefined_last():
  scores = np.array([[0.1, 0.9, 0.5, 0.9, np.nan, 0.2, 0.3, 0.0, 0.4, 0.6]])
  np.testing.assert_array_equal(np.flatnonzero(top_positions(scores, 0.2)[0]), [1, 3])
  np.testing.assert_array_equal(top_positions(np.array([np.nan, np.nan, 1.0]), 0.2),
                                [False, False, True])   # max(1, round(0.6)) = 1
  np.testing.assert_array_equal(top_positions(np.array([2.0, 2.0, 2.0]), 0.5), [True, True, False])
  with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got 0"):
    top_positions(scores, 0)
