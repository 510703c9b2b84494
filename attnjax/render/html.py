"""An `attnjax.sentences` document as one self-contained web page.

Inline CSS, no script, no external URL: the file opens from disk in any browser.
Per sentence: the prediction (seed mean ± std and every seed's value), one row per
method with each token coloured by its row-normalised score (`colors`), the exact
value and every seed's value on hover (`title`), tokens whose top-20% membership
differs across seeds underlined with a dotted line, out-of-vocabulary tokens in
a dashed box; then the Kendall τ-b matrix between the methods and each method's
comprehensiveness, sufficiency and decision flip for that sentence. All user text is
escaped (`html.escape`).
"""

from __future__ import annotations

import html

from attnjax.render import colors

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 72em; color: #111; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin-top: 2.2em; }
.meta { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0; }
td, th { padding: 0.25em 0.5em; vertical-align: top; }
table.tokens td.method { font-weight: 600; white-space: nowrap; padding-right: 1em; }
table.numbers td, table.numbers th { border: 1px solid #ddd; text-align: right;
                                     font-variant-numeric: tabular-nums; }
table.numbers th { background: #f4f4f4; }
span.tok { display: inline-block; padding: 0.05em 0.22em; margin: 0.12em 0.05em;
           border-radius: 3px; }
span.unk { outline: 1px dashed #555; }
span.unstable { text-decoration: underline dotted #000; text-underline-offset: 3px; }
.legend { display: flex; align-items: center; gap: 0.6em; font-size: 0.85em; color: #333; }
.bar { width: 16em; height: 0.9em; border: 1px solid #ccc; background: linear-gradient(to right,
       rgba(33,102,172,0.85), rgba(33,102,172,0) 50%, rgba(230,97,1,0) 50%,
       rgba(230,97,1,0.85)); }
"""


def _e(text) -> str:
  return html.escape(str(text), quote=True)


def _number(value, digits: int = 3) -> str:
  return "—" if value is None else f"{value:.{digits}f}"


def _prediction(sentence: dict, seeds: list) -> str:
  p = sentence["prediction"]
  per_seed = ", ".join(f"seed {s}: {_number(v)}" for s, v in zip(seeds, p["probability_per_seed"]))
  disagree = len(set(p["class_per_seed"])) > 1
  return (f"<p>Predicted <b>{_e(p['label'])}</b>, p = {_number(p['probability_mean'])} ± "
          f"{_number(p['probability_std'])} <span class=meta>(mean ± std over seeds; "
          f"{_e(per_seed)})</span>"
          + (" <b>— the seeds disagree on the class</b>" if disagree else "") + "</p>")


def _token_rows(sentence: dict, methods: list, seeds: list) -> str:
  words, unknown = sentence["words"], sentence["unknown"]
  rows = []
  for method in methods:
    scores = sentence["scores"][method]
    scaled = colors.normalise(scores["mean"])
    unstable = sentence["seed_disagreement"][method]
    cells = []
    for t, word in enumerate(words):
      per_seed = ", ".join(_number(row[t], 4) for row in scores["per_seed"])
      title = (f"{method}: {_number(scores['mean'][t], 4)} (seeds {', '.join(map(str, seeds))}: "
               f"{per_seed})" + ("; <unk> to the model" if unknown[t] else "")
               + ("; top-20% in some seeds only" if unstable[t] else ""))
      classes = "tok" + (" unk" if unknown[t] else "") + (" unstable" if unstable[t] else "")
      cells.append(f'<span class="{classes}" style="background:{colors.css(scaled[t])};'
                   f'color:{colors.text_colour(scaled[t])}" title="{_e(title)}">{_e(word)}</span>')
    rows.append(f'<tr><td class=method>{_e(method)}</td><td>{"".join(cells)}</td></tr>')
  return "<table class=tokens>" + "".join(rows) + "</table>"


def _agreement(sentence: dict) -> str:
  names = sentence["agreement"]["methods"]
  tau = sentence["agreement"]["kendall_tau_b"]
  head = "".join(f"<th>{_e(n)}</th>" for n in names)
  body = "".join(f"<tr><th>{_e(n)}</th>" + "".join(f"<td>{_number(v, 2)}</td>" for v in row)
                 + "</tr>" for n, row in zip(names, tau))
  return ("<p class=meta>Kendall τ-b between the methods' seed-mean scores (— : undefined, a "
          "constant row):</p>"
          f"<table class=numbers><tr><th></th>{head}</tr>{body}</table>")


def _faithfulness(sentence: dict, methods: list) -> str:
  names = (("comprehensiveness", "comprehensiveness ↑"), ("sufficiency", "sufficiency ↓"),
           ("flip_fraction", "decision flip ↓"))
  head = "".join(f"<th>{_e(label)}</th>" for _, label in names)
  body = "".join(
      f"<tr><th>{_e(m)}</th>" + "".join(
          f"<td>{_number(sentence['faithfulness'][m][key]['mean'])}</td>" for key, _ in names)
      + "</tr>" for m in methods)
  return ("<p class=meta>Faithfulness of each ranking on this sentence (seed mean; ERASER "
          "comprehensiveness and sufficiency, AOPC over removing or keeping the top 1–50% of "
          "tokens; decision flip: the fraction of top tokens removed before the class "
          "changes, 1 if it never does):</p>"
          f"<table class=numbers><tr><th></th>{head}</tr>{body}</table>")


def page(document: dict, title: str = "attnjax explain") -> str:
  """The page of an `attnjax.sentences.explain_texts` document, as an HTML string."""
  methods, seeds = document["methods"], document["seeds"]
  parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{_e(title)}</h1>",
           f"<p class=meta>Run <code>{_e(document['run'])}</code>; seeds "
           f"{_e(', '.join(map(str, seeds)))}; classes {_e(', '.join(document['label_names']))};"
           f" texts are cut to T = {document['max_length']} tokens. Each row is one method, "
           "its seed-mean scores scaled to the row's largest |score|; hover a token for its "
           "value and every seed's. Dotted underline: a token in the top 20% of some seeds "
           "but not of others. Dashed box: a word the vocabulary lacks (the model reads "
           "&lt;unk&gt;).</p>",
           '<div class=legend><span>−1</span><span class=bar></span><span>+1 (row maximum)'
           '</span><span class="tok unk">unknown</span>'
           '<span class="tok unstable">seeds disagree</span></div>']
  for i, sentence in enumerate(document["sentences"], 1):
    shown = len(sentence["words"])
    kept = "last" if document.get("keep") == "end" else "first"
    cut = (f" <span class=meta>(cut to its {kept} {shown} of {sentence['tokens_total']} "
           "tokens)</span>" if sentence["tokens_total"] > shown else "")
    parts += [f"<section><h2>Text {i}{cut}</h2>",
              f"<p>{_e(sentence['text'])}</p>",
              _prediction(sentence, seeds), _token_rows(sentence, methods, seeds),
              _agreement(sentence), _faithfulness(sentence, methods), "</section>"]
  parts.append("</body></html>")
  return "\n".join(parts)
