#!/usr/bin/env python
"""Search quality on a labelled query set: nDCG@10, Recall@10 and MRR per mode and style.

    MLSD_HOME=/tmp/mlsd-bench .venv/bin/python benchmarks/eval_search.py
    ... --show-failures            queries whose hybrid nDCG@10 < 0.5, with the top 5 ids
    ... --json                     everything as JSON on stdout (per query, per mode)
    ... --fusion all               also score prototype fusions of the semantic and BM25
                                   rankings (engine internals; mlsd/ is not changed). They
                                   fuse the engine's ungated `_keyword` pool themselves, so
                                   they do not depend on how `search` fuses.
    ... --check                    exit 1 when hybrid nDCG@10 < 0.9 overall, or hybrid trails
                                   the better single mode on some style by more than 0.005

The index is loaded (or built) under $MLSD_HOME/index, like the app does: set MLSD_HOME to a
temporary folder so nothing is written into the project.

Metrics (k = 10, computed here, no library):
  nDCG@k     DCG = sum over ranks r <= k of (2^grade - 1) / log2(r + 1); divided by the DCG of
             the ideal ordering of the labelled grades (grade 0 for anything unlabelled).
  Recall@k   labelled items in the top k / labelled items.
  MRR        1 / rank of the first labelled item in the top k (0 when none), averaged.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlsd.corpus import load_corpus  # noqa: E402
from mlsd.search import MODES, RRF_K, SearchEngine, Tokenizer, open_engine  # noqa: E402

STYLES = ("keyword", "paraphrase", "question")
DEFAULT_QUERIES = Path(__file__).resolve().parent / "queries.yaml"
CHECK_NDCG = 0.9
CHECK_MARGIN = 0.005


# ---------------------------------------------------------------------------------------------
# Query set
# ---------------------------------------------------------------------------------------------
def load_queries(path: Path, known_ids: set[str]) -> list[dict]:
    """Read and validate the labelled queries; relevant becomes {id: grade}."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw = doc["queries"] if isinstance(doc, dict) else doc
    problems, out, seen = [], [], set()
    for n, entry in enumerate(raw, start=1):
        query, style, relevant = entry.get("query"), entry.get("style"), entry.get("relevant")
        where = f"query #{n} ({query!r})"
        if not isinstance(query, str) or not query.strip():
            problems.append(f"{where}: 'query' must be a non-empty text")
            continue
        if query in seen:
            problems.append(f"{where}: duplicate query")
        seen.add(query)
        if style not in STYLES:
            problems.append(f"{where}: style {style!r} is not one of {', '.join(STYLES)}")
        if isinstance(relevant, list):
            grade = entry.get("grade", 1)
            relevant = {rid: grade for rid in relevant}
        if not isinstance(relevant, dict) or not 1 <= len(relevant) <= 5:
            problems.append(f"{where}: 'relevant' must list 1-5 ids (a list, or a mapping id: grade)")
            continue
        for rid, grade in relevant.items():
            if rid not in known_ids:
                problems.append(f"{where}: relevant id {rid!r} is not an item id of data/*.yaml")
            if grade not in (1, 2):
                problems.append(f"{where}: grade of {rid!r} is {grade!r}; use 1 (also good) or 2 (the answer)")
        out.append({"query": query, "style": style, "relevant": dict(relevant)})
    if problems:
        raise SystemExit("queries file has problems:\n  " + "\n  ".join(problems))
    return out


def paraphrase_violations(queries: list[dict], item_by_id: dict, tokenizer: Tokenizer) -> list[str]:
    """Paraphrase queries whose stems occur in the embedded text of one of their answers."""
    stems_of: dict[str, set[str]] = {}
    found = []
    for q in queries:
        if q["style"] != "paraphrase":
            continue
        query_stems = set(tokenizer(q["query"]))
        for rid in q["relevant"]:
            if rid not in stems_of:
                stems_of[rid] = set(tokenizer(item_by_id[rid].embedding_text()))
            shared = sorted(query_stems & stems_of[rid])
            if shared:
                found.append(f"{q['query']!r} shares {shared} with {rid}")
    return found


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    gains = [2 ** relevant.get(i, 0) - 1 for i in ranked[:k]]
    ideal = sorted((2**g - 1 for g in relevant.values()), reverse=True)[:k]
    best = dcg(ideal)
    return dcg(gains) / best if best > 0 else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {i for i, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def reciprocal_rank(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    for rank, i in enumerate(ranked[:k], start=1):
        if relevant.get(i, 0) > 0:
            return 1.0 / rank
    return 0.0


def score(ranked: list[str], relevant: dict[str, int], k: int) -> dict[str, float]:
    return {
        "ndcg": ndcg_at(ranked, relevant, k),
        "recall": recall_at(ranked, relevant, k),
        "mrr": reciprocal_rank(ranked, relevant, k),
    }


# ---------------------------------------------------------------------------------------------
# Prototype fusions (engine internals; mlsd/search.py is not changed)
# ---------------------------------------------------------------------------------------------
Ranking = list[tuple[int, float]]  # (position in engine.items, score), best first


def _rrf(sem: Ranking, kw: Ranking, k: int = RRF_K, w_sem: float = 1.0, w_kw: float = 1.0,
         kw_weight: dict[int, float] | None = None) -> list[int]:
    fused: dict[int, float] = defaultdict(float)
    sem_rank = {}
    for r, (i, _) in enumerate(sem, start=1):
        fused[i] += w_sem / (k + r)
        sem_rank[i] = r
    for r, (i, _) in enumerate(kw, start=1):
        fused[i] += w_kw * (kw_weight.get(i, 0.0) if kw_weight is not None else 1.0) / (k + r)
    return sorted(fused, key=lambda i: (-fused[i], sem_rank.get(i, 10**9)))


def _minmax(ranking: Ranking) -> dict[int, float]:
    if not ranking:
        return {}
    values = np.array([s for _, s in ranking], dtype=float)
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    return {i: ((s - lo) / span if span > 0 else 1.0) for i, s in ranking}


def _convex(sem: Ranking, kw: Ranking, alpha: float, kw_weight: dict[int, float] | None = None) -> list[int]:
    """alpha * minmax(cosine) + (1 - alpha) * minmax(BM25) over the union of both pools."""
    s, b = _minmax(sem), _minmax(kw)
    fused = {i: alpha * s.get(i, 0.0) + (1 - alpha) * b.get(i, 0.0) * (kw_weight.get(i, 0.0) if kw_weight is not None else 1.0)
             for i in set(s) | set(b)}
    sem_order = {i: r for r, (i, _) in enumerate(sem)}
    return sorted(fused, key=lambda i: (-fused[i], sem_order.get(i, 10**9)))


def _coverage(engine: SearchEngine, kw: Ranking, stems: list[str]) -> dict[int, float]:
    """Share of the query's distinct stems that occur in each keyword hit."""
    wanted = set(stems)
    return {i: len(wanted & engine._doc_stems[i]) / len(wanted) for i, _ in kw} if wanted else {}


def _sem_plus_bm25(sem: Ranking, kw: Ranking, beta: float) -> list[int]:
    """Raw cosine plus beta * BM25 / max BM25: semantics decide, keywords break near-ties."""
    top = max((s for _, s in kw), default=0.0)
    sem_score = dict(sem)
    floor = min(sem_score.values(), default=0.0)  # items outside the semantic pool
    fused = {i: sem_score.get(i, floor) for i in set(sem_score) | {i for i, _ in kw}}
    for i, s in kw:
        fused[i] += beta * s / top if top > 0 else 0.0
    return sorted(fused, key=lambda i: -fused[i])


# English function words missing from bm25s's short STOPWORDS_EN (which lacks "you", "can",
# "from", "over", "each", ...). Applied to the query side only, for the "+stop" prototypes.
EXTRA_STOPWORDS = frozenset("""
    a about above after again against all also am an any anyone anything are around as at be
    because been before being below between both but by can could did doing down during each
    else ever every few for from further get gets getting had has have having he her here hers
    him his i if in into is it its itself just me might more most must my myself no nor not now
    of off on once one only or other our ours out over own per same she should so some someone
    something than that the their them then there these they this those through to too under
    until up upon us very via was we were what when where whether which while who whom whose
    why will with within without would yet you your yours
""".split())


def _idf_coverage(engine: SearchEngine, kw: Ranking, stems: list[str]) -> dict[int, float]:
    """Share of the query's IDF mass (BM25 idf; unseen stems count as the rarest) in each hit."""
    if not hasattr(engine, "_eval_df"):
        engine._eval_df = Counter(s for doc in engine._doc_stems for s in doc)
    n = len(engine._doc_stems)
    idf = {s: math.log((n - engine._eval_df.get(s, 0) + 0.5) / (engine._eval_df.get(s, 0) + 0.5) + 1) for s in set(stems)}
    total = sum(idf.values())
    return {i: sum(v for s, v in idf.items() if s in engine._doc_stems[i]) / total for i, _ in kw} if total else {}


def _gate(kw: Ranking, cov: dict[int, float], minimum: float) -> Ranking:
    """Keep the keyword hits that match at least `minimum` of the query's distinct stems."""
    return [(i, s) for i, s in kw if cov.get(i, 0.0) >= minimum]


class CleanKeyword:
    """BM25 over title + company name + summary only: no place path ("Talk video on ...",
    "Design flow > Step 3: ..."), no "Company:" label. Prototype for a less noisy keyword index."""

    def __init__(self, engine: SearchEngine) -> None:
        import bm25s

        self.engine = engine
        texts = [" ".join(x for x in (i.title, i.company or "", i.summary) if x) for i in engine.items]
        tokens = [engine.tokenizer(t) for t in texts]
        self.doc_stems = [set(t) for t in tokens]
        self.bm25 = bm25s.BM25()
        self.bm25.index([t or [""] for t in tokens], show_progress=False)

    def search(self, stems: list[str], pool: int) -> Ranking:
        if not stems:
            return []
        scores = self.bm25.get_scores(stems)
        positive = np.flatnonzero(scores > 0)
        order = positive[np.argsort(-scores[positive], kind="stable")][:pool]
        return [(int(i), float(scores[i])) for i in order]

    def coverage(self, ranking: Ranking, stems: list[str]) -> dict[int, float]:
        wanted = set(stems)
        return {i: len(wanted & self.doc_stems[i]) / len(wanted) for i, _ in ranking} if wanted else {}


def fusions(engine: SearchEngine) -> dict[str, Callable[[dict], list[int]]]:
    """Prototype fusions. Each takes a context with the semantic pool `sem`, the BM25 pool `kw`
    (and `kw_stop`, computed from the query's stems minus EXTRA_STOPWORDS), and `stems`/`stems_stop`."""

    def cov(c: dict, stop: bool = False) -> dict[int, float]:
        return _coverage(engine, c["kw_stop" if stop else "kw"], c["stems_stop" if stop else "stems"])

    return {
        "rrf": lambda c: _rrf(c["sem"], c["kw"]),  # plain RRF k=60 of both pools (no gate)
        "rrf-k20": lambda c: _rrf(c["sem"], c["kw"], k=20),
        "rrf-kw0.5": lambda c: _rrf(c["sem"], c["kw"], w_kw=0.5),
        "rrf-kw-top20": lambda c: _rrf(c["sem"], c["kw"][:20]),
        "rrf-coverage": lambda c: _rrf(c["sem"], c["kw"], kw_weight=cov(c)),
        "rrf+stop": lambda c: _rrf(c["sem"], c["kw_stop"]),
        "rrf-gate0.5": lambda c: _rrf(c["sem"], _gate(c["kw"], cov(c), 0.5)),
        "rrf-gate0.5+stop": lambda c: _rrf(c["sem"], _gate(c["kw_stop"], cov(c, True), 0.5)),
        "rrf-gate0.67+stop": lambda c: _rrf(c["sem"], _gate(c["kw_stop"], cov(c, True), 0.67)),
        "rrf-gate0.67": lambda c: _rrf(c["sem"], _gate(c["kw"], cov(c), 0.67)),
        "rrf-gate2/3": lambda c: _rrf(c["sem"], _gate(c["kw"], cov(c), 2 / 3)),  # = KEYWORD_GATE adopted by mlsd.search
        "rrf-idfgate0.5": lambda c: _rrf(c["sem"], _gate(c["kw"], _idf_coverage(engine, c["kw"], c["stems"]), 0.5)),
        "rrf-idfgate2/3": lambda c: _rrf(c["sem"], _gate(c["kw"], _idf_coverage(engine, c["kw"], c["stems"]), 2 / 3)),
        "rrf-clean": lambda c: _rrf(c["sem"], c["kw_clean"]),
        "rrf-gate0.67+stop+clean": lambda c: _rrf(c["sem"], _gate(c["kw_clean"], c["cov_clean"], 0.67)),
        "convex-0.5": lambda c: _convex(c["sem"], c["kw"], 0.5),
        "convex-0.7": lambda c: _convex(c["sem"], c["kw"], 0.7),
        "convex-0.8": lambda c: _convex(c["sem"], c["kw"], 0.8),
        "convex-0.5-coverage": lambda c: _convex(c["sem"], c["kw"], 0.5, kw_weight=cov(c)),
        "convex-0.7-coverage": lambda c: _convex(c["sem"], c["kw"], 0.7, kw_weight=cov(c)),
        "convex-0.7-coverage+stop": lambda c: _convex(c["sem"], c["kw_stop"], 0.7, kw_weight=cov(c, True)),
        "convex-0.7-gate0.67+stop": lambda c: _convex(c["sem"], _gate(c["kw_stop"], cov(c, True), 0.67), 0.7),
        "cos+0.1bm25": lambda c: _sem_plus_bm25(c["sem"], c["kw"], 0.1),
        "cos+0.2bm25": lambda c: _sem_plus_bm25(c["sem"], c["kw"], 0.2),
    }


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
def aggregate(rows: list[dict], methods: list[str]) -> dict:
    """Mean of each metric per method, overall and per style."""
    out: dict[str, dict] = {}
    for method in methods:
        groups: dict[str, list[dict]] = {"all": []}
        for row in rows:
            m = row["metrics"][method]
            groups["all"].append(m)
            groups.setdefault(row["style"], []).append(m)
        out[method] = {
            group: {
                "n": len(ms),
                **{metric: round(float(np.mean([m[metric] for m in ms])), 4) for metric in ("ndcg", "recall", "mrr")},
            }
            for group, ms in groups.items()
        }
    return out


def print_table(summary: dict, methods: list[str], title: str) -> None:
    groups = ["all", *[s for s in STYLES if s in summary[methods[0]]]]
    print(f"\n{title}\n")
    header = "| method | " + " | ".join(f"{g} (n={summary[methods[0]][g]['n']}) nDCG / R / MRR" for g in groups) + " |"
    print(header)
    print("|" + "---|" * (len(groups) + 1))
    for method in methods:
        cells = [
            f"{summary[method][g]['ndcg']:.3f} / {summary[method][g]['recall']:.3f} / {summary[method][g]['mrr']:.3f}"
            for g in groups
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")


def check(summary: dict) -> list[str]:
    """Reasons the --check gate fails (empty when it passes)."""
    failures = []
    hybrid = summary["hybrid"]
    if hybrid["all"]["ndcg"] < CHECK_NDCG:
        failures.append(f"hybrid nDCG@10 overall is {hybrid['all']['ndcg']:.3f} < {CHECK_NDCG}")
    for style in STYLES:
        if style not in hybrid:
            continue
        best_mode = max(("semantic", "keyword"), key=lambda m: summary[m][style]["ndcg"])
        best = summary[best_mode][style]["ndcg"]
        if hybrid[style]["ndcg"] < best - CHECK_MARGIN:
            failures.append(
                f"hybrid nDCG@10 on {style} queries is {hybrid[style]['ndcg']:.3f}, "
                f"below {best_mode} ({best:.3f}) by more than {CHECK_MARGIN}"
            )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="labelled queries (YAML)")
    parser.add_argument("--k", type=int, default=10, help="cut-off of every metric (default 10)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--show-failures", action="store_true", help="list queries with hybrid nDCG@k < 0.5")
    parser.add_argument("--fusion", default="",
                        help="comma-separated prototype fusions to score as well, or 'all' "
                             "(names: see --list-fusions)")
    parser.add_argument("--list-fusions", action="store_true", help="print the prototype fusion names and exit")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when hybrid nDCG@k < {CHECK_NDCG} overall or trails the best single "
                             f"mode on a style by more than {CHECK_MARGIN}")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpus = load_corpus()
    engine = open_engine(corpus)
    load_seconds = time.perf_counter() - started
    queries = load_queries(args.queries, set(corpus.item_by_id))

    available = fusions(engine)
    if args.list_fusions:
        print("\n".join(available))
        return 0
    chosen = list(available) if args.fusion.strip() == "all" else [f for f in args.fusion.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in available]
    if unknown:
        parser.error(f"unknown fusion(s) {', '.join(unknown)}; known: {', '.join(available)}")

    violations = paraphrase_violations(queries, corpus.item_by_id, engine.tokenizer)
    for v in violations:
        print(f"WARNING: paraphrase shares words with its answer: {v}", file=sys.stderr)

    clean = CleanKeyword(engine) if chosen else None
    rows = []
    started = time.perf_counter()
    for q in queries:
        row = {"query": q["query"], "style": q["style"], "relevant": q["relevant"], "top": {}, "metrics": {}}
        for mode in MODES:
            ranked = [h.id for h in engine.search(q["query"], k=args.k, mode=mode)]
            row["top"][mode] = ranked
            row["metrics"][mode] = score(ranked, q["relevant"], args.k)
        if chosen:
            pool = max(50, 3 * args.k)  # the pools the engine's hybrid mode fuses
            words = engine.tokenizer.words(q["query"])
            stems = engine.tokenizer.stems(words)
            stems_stop = engine.tokenizer.stems([w for w in words if w not in EXTRA_STOPWORDS])
            context = {
                "sem": engine._semantic(engine.embedder.encode_query(q["query"]), pool, None),
                "kw": engine._keyword(stems, pool, None),
                "kw_stop": engine._keyword(stems_stop, pool, None),
                "stems": stems,
                "stems_stop": stems_stop,
            }
            context["kw_clean"] = clean.search(stems_stop, pool)
            context["cov_clean"] = clean.coverage(context["kw_clean"], stems_stop)
            for name in chosen:
                ranked = [engine.items[i].id for i in available[name](context)[: args.k]]
                row["top"][f"fusion:{name}"] = ranked
                row["metrics"][f"fusion:{name}"] = score(ranked, q["relevant"], args.k)
        rows.append(row)
    run_seconds = time.perf_counter() - started

    methods = [*MODES, *(f"fusion:{n}" for n in chosen)]
    summary = aggregate(rows, methods)
    failures = [r for r in rows if r["metrics"]["hybrid"]["ndcg"] < 0.5]
    gate = check(summary)

    if args.json:
        payload = {
            "k": args.k,
            "queries": len(rows),
            "by_style": {s: sum(1 for r in rows if r["style"] == s) for s in STYLES},
            "engine_status": engine.index.status,
            "summary": summary,
            "paraphrase_violations": violations,
            "check_failures": gate,
            "results": rows,
        }
        print(json.dumps(payload, indent=2))
    else:
        counts = ", ".join(f"{sum(1 for r in rows if r['style'] == s)} {s}" for s in STYLES)
        print(f"{len(rows)} queries ({counts}); k={args.k}; engine {engine.index.status} in {load_seconds:.1f} s; "
              f"all runs {run_seconds:.1f} s")
        print(f"paraphrase violations: {len(violations)}")
        print_table(summary, list(MODES), f"Search quality per mode (nDCG@{args.k} / Recall@{args.k} / MRR)")
        if chosen:
            print_table(summary, ["hybrid", "semantic", "keyword", *(f"fusion:{n}" for n in chosen)],
                        f"Prototype fusions of the same semantic and BM25 pools (nDCG@{args.k} / Recall@{args.k} / MRR)")
        if args.show_failures:
            print(f"\nQueries with hybrid nDCG@{args.k} < 0.5 ({len(failures)}):\n")
            for r in failures:
                m = r["metrics"]
                print(f"- [{r['style']}] {r['query']!r}: hybrid {m['hybrid']['ndcg']:.2f}, "
                      f"semantic {m['semantic']['ndcg']:.2f}, keyword {m['keyword']['ndcg']:.2f}")
                print(f"    wanted: {', '.join(f'{i} ({g})' for i, g in r['relevant'].items())}")
                print(f"    hybrid top 5: {', '.join(r['top']['hybrid'][:5])}")
        if args.check:
            print("\ncheck: " + ("passed" if not gate else "FAILED\n  " + "\n  ".join(gate)))
    if args.check and gate:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
