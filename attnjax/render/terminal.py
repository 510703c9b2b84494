"""An `attnjax.sentences` document as a compact text table: tokens × methods."""

from __future__ import annotations

import numpy as np

from attnjax.render.top import top_positions


def _value(v) -> str:
  return "—" if v is None else f"{v:.3g}"


def table(document: dict) -> str:
  """Per text: its prediction, then one line per token with every method's seed-mean score;
  `*` marks a method's top tokens (the document's `top_fraction`, 20%), `?` a word the vocabulary lacks (read as <unk>)."""
  methods = document["methods"]
  fraction = document.get("top_fraction", 0.2)
  lines = []
  for i, sentence in enumerate(document["sentences"], 1):
    p = sentence["prediction"]
    lines.append(f"Text {i}: predicted {p['label']}, p = {_value(p['probability_mean'])} "
                 f"± {_value(p['probability_std'])} over {len(document['seeds'])} seed(s)")
    words = [w + ("?" if u else "") for w, u in zip(sentence["words"], sentence["unknown"])]
    top = {m: top_positions([np.nan if v is None else v for v in sentence["scores"][m]["mean"]],
                            fraction) for m in methods}
    cells = [[("*" if top[m][t] else " ") + _value(sentence["scores"][m]["mean"][t])
              for m in methods] for t in range(len(words))]
    first = max([len("token")] + [len(w) for w in words])
    widths = [max([len(m)] + [len(row[j]) for row in cells]) for j, m in enumerate(methods)]
    lines.append("  ".join(["token".ljust(first)] + [m.rjust(w) for m, w in zip(methods, widths)]))
    for word, row in zip(words, cells):
      lines.append("  ".join([word.ljust(first)] + [c.rjust(w) for c, w in zip(row, widths)]))
    lines.append("")
  lines.append(f"* top {fraction:.0%} of a text's tokens for that method; ? out of vocabulary "
               "(<unk>).")
  return "\n".join(lines)
