"""How strongly a result matches its query, on a scale a person can read.

A search always returns its best k items, even when none of them is about the query; the rank
fusion score says only where an item came in the order. Match strength says how likely the item
is to be what the query asks for: a logistic model over three features of the pair,

- ``cosine``: the cosine between the query's and the item's embedding (none in keyword mode);
- ``coverage``: the share of the query's content words (stems) the item contains, each word
  weighted by its rarity in the library (IDF), so "cold" counts for more than "system";
- ``title_coverage``: the share of the query's distinct stems found in the item's title;
- ``gap``: the item's cosine minus the best cosine any allowed item has for the query (0 for the
  nearest item): a result far behind the best one is rarely what was asked for.

The weights are fitted by ``benchmarks/calibrate_strength.py`` on the project's labelled queries
(their labelled answers are matches, everything else in their top 10 is not) and on off-topic
queries (nothing matches); it prints the figures the thresholds below were chosen from, measured
on held-out queries. Re-run it after a change of model or of the features.
"""

from __future__ import annotations

import math
from typing import Literal

Level = Literal["strong", "fair", "weak"]

# Fitted by benchmarks/calibrate_strength.py (see its output in the README's Performance section).
WEIGHTS: dict[str, float] = {"bias": -4.455, "cosine": 9.476, "coverage": 1.805, "title_coverage": 0.707, "gap": 11.676}
KEYWORD_WEIGHTS: dict[str, float] = {"bias": -2.752, "coverage": 2.806, "title_coverage": 2.007}
STRONG_AT = 0.48  # strength from which a result is shown as a strong match
WEAK_BELOW = 0.14  # below this a result is a weak match; when the best one is weak, nothing fits


def strength(cosine: float | None, coverage: float, title_coverage: float, gap: float | None) -> float:
    """The probability-like match strength (0..1) of one result. ``cosine`` None: keyword mode."""
    if cosine is None or gap is None:
        z = KEYWORD_WEIGHTS["bias"] + KEYWORD_WEIGHTS["coverage"] * coverage
        z += KEYWORD_WEIGHTS["title_coverage"] * title_coverage
    else:
        z = WEIGHTS["bias"] + WEIGHTS["cosine"] * cosine + WEIGHTS["coverage"] * coverage
        z += WEIGHTS["title_coverage"] * title_coverage + WEIGHTS["gap"] * gap
    return 1.0 / (1.0 + math.exp(-z))


def level(value: float) -> Level:
    """``strong``, ``fair`` or ``weak``, from a strength."""
    if value >= STRONG_AT:
        return "strong"
    return "fair" if value >= WEAK_BELOW else "weak"
