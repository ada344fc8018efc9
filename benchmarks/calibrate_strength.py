#!/usr/bin/env python
"""Fit match strength (mlsd/strength.py) and choose its thresholds; report them on held-out queries.

    MLSD_HOME=/tmp/mlsd-bench .venv/bin/python benchmarks/calibrate_strength.py

Data: the labelled queries of ``queries.yaml`` and ``queries_newtopics.yaml`` (fit) and
``queries_heldout.yaml`` (held out),
and the off-topic queries of ``queries_offtopic.yaml`` (split into fit and held out). For each
query the hybrid top 10 is taken; a result is a match when it is one of the query's labelled
answers, and never for an off-topic query. (Labels are incomplete: an unlabelled result may be a
fair answer, so the hit-level figures are a lower bound.)

It fits two logistic models on the fit part (with the cosine, and without it for keyword mode),
picks ``WEAK_BELOW`` as the threshold on a query's best strength that flags the most off-topic
queries as "nothing fits" while flagging at most 3% of the on-topic ones (on the fit part: telling
a user that nothing fits when something does is the worse mistake), ``STRONG_AT`` as the lowest strength whose hits
are matches at least 80% of the time, and prints the constants to put in mlsd/strength.py with
the figures on the held-out part: precision and recall of "nothing fits", and how results are
graded. Nothing in the project is changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlsd import strength as strength_module  # noqa: E402
from mlsd.corpus import load_corpus  # noqa: E402
from mlsd.search import open_engine  # noqa: E402

HERE = Path(__file__).resolve().parent


def labelled(path: Path) -> list[tuple[str, set[str]]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for entry in doc["queries"]:
        relevant = entry["relevant"]
        out.append((entry["query"], set(relevant if isinstance(relevant, list) else relevant.keys())))
    return out


def offtopic(path: Path, split: str) -> list[tuple[str, set[str]]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(e["query"], set()) for e in doc["queries"] if e["split"] == split]


def rows(engine, queries: list[tuple[str, set[str]]], k: int) -> list[dict]:
    """One row per (query, result): features, whether it is a match, and which query it is."""
    out = []
    for number, (query, relevant) in enumerate(queries):
        hits = engine.search(query, k=k)
        ids = [h.id for h in hits]
        with_cosine = engine.match_features(query, ids)
        without = engine.match_features(query, ids, semantic=False)
        for hit_id, (cos, cov, title, gap), (_, kcov, ktitle, _) in zip(ids, with_cosine, without):
            out.append({"query": number, "on_topic": bool(relevant), "match": hit_id in relevant,
                        "x": [cos, cov, title, gap], "x_keyword": [kcov, ktitle]})
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.01, steps: int = 50) -> np.ndarray:
    """Weights (bias first) of a logistic regression, by Newton's method with a little L2."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(design @ w)))
        gradient = design.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hessian, gradient)
    return w


def strengths(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(w[0] + x @ w[1:])))


def best_per_query(data: list[dict], s: np.ndarray) -> dict[int, tuple[float, bool]]:
    best: dict[int, tuple[float, bool]] = {}
    for row, value in zip(data, s):
        q = row["query"]
        if q not in best or value > best[q][0]:
            best[q] = (float(value), row["on_topic"])
    return best


def nothing_fits_figures(best: dict[int, tuple[float, bool]], threshold: float) -> dict[str, float]:
    flagged_off = sum(1 for v, on in best.values() if v < threshold and not on)
    flagged_on = sum(1 for v, on in best.values() if v < threshold and on)
    off = sum(1 for _, on in best.values() if not on)
    on = len(best) - off
    precision = flagged_off / (flagged_off + flagged_on) if flagged_off + flagged_on else 1.0
    recall = flagged_off / off if off else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "on_topic_kept": (on - flagged_on) / on if on else 1.0,
            "flagged_on_topic": flagged_on, "flagged_off_topic": flagged_off, "off_topic": off, "on_topic": on}


def grading(data: list[dict], s: np.ndarray, weak: float, strong: float) -> dict[str, float]:
    match = np.array([r["match"] for r in data])
    is_strong, is_weak = s >= strong, s < weak
    return {
        "strong_precision": float(match[is_strong].mean()) if is_strong.any() else float("nan"),
        "matches_strong_or_fair": float((~is_weak[match]).mean()) if match.any() else float("nan"),
        "weak_are_non_matches": float((~match[is_weak]).mean()) if is_weak.any() else float("nan"),
        "results": len(data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    engine = open_engine(load_corpus())
    fit = (labelled(HERE / "queries.yaml") + labelled(HERE / "queries_newtopics.yaml")
           + offtopic(HERE / "queries_offtopic.yaml", "fit"))
    held = labelled(HERE / "queries_heldout.yaml") + offtopic(HERE / "queries_offtopic.yaml", "heldout")
    fit_rows, held_rows = rows(engine, fit, args.k), rows(engine, held, args.k)

    x = np.array([r["x"] for r in fit_rows], dtype=float)
    y = np.array([r["match"] for r in fit_rows], dtype=float)
    w = fit_logistic(x, y)
    wk = fit_logistic(np.array([r["x_keyword"] for r in fit_rows], dtype=float), y)
    s_fit = strengths(w, x)
    best_fit = best_per_query(fit_rows, s_fit)
    candidates = np.round(np.arange(0.02, 0.9, 0.01), 2)
    allowed = [t for t in candidates if nothing_fits_figures(best_fit, t)["on_topic_kept"] >= 0.97]
    weak = max(allowed or [candidates[0]], key=lambda t: (nothing_fits_figures(best_fit, t)["recall"], -t))
    strong = next((float(t) for t in candidates
                   if (m := np.array([r["match"] for r, v in zip(fit_rows, s_fit) if v >= t])).size and m.mean() >= 0.8),
                  0.9)

    x_held = np.array([r["x"] for r in held_rows], dtype=float)
    s_held = strengths(w, x_held)
    print("Fitted (put these in mlsd/strength.py):")
    print(f"  WEIGHTS = {{'bias': {w[0]:.3f}, 'cosine': {w[1]:.3f}, 'coverage': {w[2]:.3f}, "
          f"'title_coverage': {w[3]:.3f}, 'gap': {w[4]:.3f}}}")
    print(f"  KEYWORD_WEIGHTS = {{'bias': {wk[0]:.3f}, 'coverage': {wk[1]:.3f}, 'title_coverage': {wk[2]:.3f}}}")
    print(f"  STRONG_AT = {strong:.2f}")
    print(f"  WEAK_BELOW = {weak:.2f}")
    print(f"\nFit: {len(fit)} queries ({sum(1 for _, r in fit if not r)} off-topic), {len(fit_rows)} results")
    print(f"Held out: {len(held)} queries ({sum(1 for _, r in held if not r)} off-topic), {len(held_rows)} results")
    for name, data, s in (("fit", fit_rows, s_fit), ("held out", held_rows, s_held)):
        figures = nothing_fits_figures(best_per_query(data, s), weak)
        print(f"\n{name}: 'nothing fits' (best strength < {weak:.2f}): precision {figures['precision']:.3f}, "
              f"recall {figures['recall']:.3f} ({figures['flagged_off_topic']} of {figures['off_topic']} off-topic "
              f"queries flagged; {figures['flagged_on_topic']} of {figures['on_topic']} on-topic queries flagged)")
        grade = grading(data, s, weak, strong)
        print(f"{name}: strong results that are labelled answers {grade['strong_precision']:.3f}; labelled answers "
              f"graded strong or fair {grade['matches_strong_or_fair']:.3f}; weak results that are not answers "
              f"{grade['weak_are_non_matches']:.3f}")
    current = np.array([strength_module.strength(*r["x"]) for r in held_rows])
    figures = nothing_fits_figures(best_per_query(held_rows, current), strength_module.WEAK_BELOW)
    print(f"\nThe constants in mlsd/strength.py now, on the held-out part: precision {figures['precision']:.3f}, "
          f"recall {figures['recall']:.3f}, on-topic queries kept {figures['on_topic_kept']:.3f}")


if __name__ == "__main__":
    main()
