#!/usr/bin/env python
"""Search quality on labelled query sets: nDCG@10 (with a bootstrap CI), Recall@10 and MRR per
mode and style.

    MLSD_HOME=/tmp/mlsd-bench .venv/bin/python benchmarks/eval_search.py
    ... --sets all                 every set below, each against the library it needs
    ... --sets casestudies,appliedml   some of them (names or YAML paths)
    ... --queries FILE             one set (default benchmarks/queries.yaml)
    ... --show-failures            queries whose hybrid nDCG@10 < 0.5, with the top 5 ids
    ... --unjudged                 per query, the pooled top-10 items (all modes) that carry
                                   no judgment yet, with their fields, for pooled judging
    ... --json                     everything as JSON on stdout (per query, per mode)
    ... --check                    exit 1 when, on any set run, hybrid nDCG@10 is below the
                                   better single mode's by more than 0.01
    ... --check-legacy             the former gate: exit 1 when hybrid nDCG@10 < 0.9 on a set,
                                   or trails the better single mode on a style by > 0.005

Sets (`--sets` names; see benchmarks/README.md):
  main              queries.yaml                    bundled knowledge base only
  heldout           queries_heldout.yaml            bundled knowledge base only
  casestudies       queries_casestudies.yaml        bundled + the case-study CSV
  appliedml         queries_appliedml.yaml          bundled + the applied-ml README
  imported-heldout  queries_imported_heldout.yaml   per query, one of the two libraries

Where the indexes live:
  --queries FILE of the bundled data (no `library:` key): $MLSD_HOME/index and whatever
      $MLSD_HOME/library holds, like the app (the behaviour this script always had).
  --sets, and any set that names a library: $MLSD_HOME/eval/<library>/ (bundled, case-studies,
      applied-ml), each a home of its own. An imported library is imported there from the
      real list (`../shared/corpora/...`, or $MLSD_CORPORA, or --corpora) the first time and
      reused afterwards (re-imported when the list file changes). A set whose list is absent
      is skipped with a message. Set MLSD_HOME to a temporary folder.

Labels: a set's `relevant` (and `pooled`) keys are bundled item ids or, for imported items,
the item's URL as written in the list; URLs resolve through `mlsd.importers.normalize_url`,
and a label that resolves to no item of the set's library is an error naming the query.

Only the engine's public `search(query, k, mode)` produces the tables, scored as plain ranked
lists of ids. To prototype another fusion, take `SearchEngine.rankings(query)` (the semantic and
keyword lists hybrid fuses) and `mlsd.search.fuse`, and score the lists with `score()` here.

Metrics (k = 10, computed here, no library):
  nDCG@k     DCG = sum over ranks r <= k of (2^grade - 1) / log2(r + 1); divided by the DCG of
             the ideal ordering of the labelled grades (grade 0 for anything unlabelled).
  Recall@k   labelled items in the top k / labelled items.
  MRR        1 / rank of the first labelled item in the top k (0 when none), averaged.
  95% CI     percentile bootstrap over queries: 2000 resamples of the set's queries with
             replacement (seed 20240611, the same resamples for every mode), the 2.5th and
             97.5th percentiles of the resampled mean nDCG@k.
  paired     hybrid minus the better single mode (by the set's mean nDCG@k), per query, with
             the same bootstrap CI of the mean difference.
  judged@k   share of the returned top k (keyword mode may return fewer) that carries a
             judgment (a label, or `not_relevant`): low values mean the labels say little
             about what that mode returns.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlsd.corpus import Corpus, load_corpus  # noqa: E402
from mlsd.search import MODES, SearchEngine, open_engine  # noqa: E402
from mlsd.tokens import Tokenizer  # noqa: E402
from mlsd.urls import normalize_url  # noqa: E402

BENCH = Path(__file__).resolve().parent
STYLES = ("keyword", "paraphrase", "question")
DEFAULT_QUERIES = BENCH / "queries.yaml"
SETS = {
    "main": BENCH / "queries.yaml",
    "heldout": BENCH / "queries_heldout.yaml",
    "casestudies": BENCH / "queries_casestudies.yaml",
    "appliedml": BENCH / "queries_appliedml.yaml",
    "imported-heldout": BENCH / "queries_imported_heldout.yaml",
}
BUNDLED = "bundled"
# The imported libraries a set may name, and the list each is imported from (under the corpora
# folder). The name is also the source name the list is imported under.
LIBRARIES = {
    "case-studies": Path("case-studies") / "case_studies.csv",
    "applied-ml": Path("applied-ml") / "README.md",
}
DEFAULT_MAX_RELEVANT = 5  # per query, unless the file sets `max_relevant`
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240611
CHECK_NDCG = 0.9  # --check-legacy
CHECK_MARGIN = 0.005  # --check-legacy, per style
CHECK_SET_MARGIN = 0.01  # --check, per set


# ---------------------------------------------------------------------------------------------
# Query sets
# ---------------------------------------------------------------------------------------------
@dataclass
class QuerySet:
    """One YAML file of labelled queries, as read (labels not yet resolved to item ids)."""

    name: str
    path: Path
    queries: list[dict]
    libraries: list[str]  # the libraries its queries need, in order of first use
    header_library: str | None = None  # the file's `library:` key, if any
    max_relevant: int = DEFAULT_MAX_RELEVANT
    notes: list[str] = field(default_factory=list)


def set_name(path: Path) -> str:
    for name, p in SETS.items():
        if p.resolve() == path.resolve():
            return name
    return path.stem.removeprefix("queries_").replace("_", "-")


def _grades(value, default: int) -> dict | None:
    """A list of labels (all graded `default`) or a mapping label: grade; None if neither."""
    if isinstance(value, list):
        return {label: default for label in value}
    if isinstance(value, dict):
        return dict(value)
    return None


def read_set(path: Path) -> QuerySet:
    """Read and check a query file's structure. Labels are resolved later, per library.

    File: either a plain list of entries, or a mapping with `queries` and optionally
    `library` (the library every entry needs unless it says otherwise; `bundled` by default)
    and `max_relevant` (the cap on an entry's `relevant` labels; 5 by default).
    Entry: `query`, `style` (keyword, paraphrase, question), `relevant` (a list of labels with
    grade `grade` (default 1), or a mapping label: grade), optional `company` (the company the
    query names), `library`, `pooled` (labels added by pooled judgment, a mapping label:
    grade) and `not_relevant` (pooled items judged not relevant, a list of labels).
    """
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw = doc["queries"] if isinstance(doc, dict) else doc
    header_library = doc.get("library") if isinstance(doc, dict) else None
    max_relevant = doc.get("max_relevant", DEFAULT_MAX_RELEVANT) if isinstance(doc, dict) else DEFAULT_MAX_RELEVANT
    problems, out, seen, libraries = [], [], set(), []
    known_libraries = (BUNDLED, *LIBRARIES)
    if not isinstance(max_relevant, int) or max_relevant < 1:
        problems.append(f"max_relevant must be a positive whole number, not {max_relevant!r}")
        max_relevant = DEFAULT_MAX_RELEVANT
    for n, entry in enumerate(raw, start=1):
        query, style = entry.get("query"), entry.get("style")
        where = f"query #{n} ({query!r})"
        if not isinstance(query, str) or not query.strip():
            problems.append(f"{where}: 'query' must be a non-empty text")
            continue
        if query in seen:
            problems.append(f"{where}: duplicate query")
        seen.add(query)
        if style not in STYLES:
            problems.append(f"{where}: style {style!r} is not one of {', '.join(STYLES)}")
        library = entry.get("library", header_library) or BUNDLED
        if library not in known_libraries:
            problems.append(f"{where}: library {library!r} is not one of {', '.join(known_libraries)}")
            continue
        if library not in libraries:
            libraries.append(library)
        relevant = _grades(entry.get("relevant"), entry.get("grade", 1))
        if relevant is None or not 1 <= len(relevant) <= max_relevant:
            problems.append(f"{where}: 'relevant' must list 1-{max_relevant} labels (a list, or a mapping label: grade)")
            continue
        pooled = _grades(entry.get("pooled", {}), 1)
        not_relevant = entry.get("not_relevant", [])
        if pooled is None or not isinstance(not_relevant, list):
            problems.append(f"{where}: 'pooled' must be a mapping label: grade, 'not_relevant' a list of labels")
            continue
        for label, grade in {**relevant, **pooled}.items():
            if grade not in (1, 2):
                problems.append(f"{where}: grade of {label!r} is {grade!r}; use 1 (also good) or 2 (the answer)")
        for label in sorted(set(relevant) & set(pooled)):
            problems.append(f"{where}: {label!r} is both in 'relevant' and in 'pooled'")
        for label in sorted(set(not_relevant) & (set(relevant) | set(pooled))):
            problems.append(f"{where}: {label!r} is judged relevant and not relevant")
        company = entry.get("company")
        if company is not None and (not isinstance(company, str) or not company.strip()):
            problems.append(f"{where}: 'company' must be a company name")
        out.append({
            "query": query, "style": style, "library": library, "company": company,
            "labels": {"relevant": relevant, "pooled": pooled, "not_relevant": list(not_relevant)},
        })
    if problems:
        raise SystemExit(f"{path}: the queries file has problems:\n  " + "\n  ".join(problems))
    return QuerySet(set_name(path), path, out, libraries, header_library, max_relevant)


class Resolver:
    """Turns a label (an item id, or an imported item's URL as the list writes it) into an item id."""

    def __init__(self, corpus: Corpus) -> None:
        self.ids = set(corpus.item_by_id)
        self.by_url: dict[str, str] = {}
        for item in corpus.items:
            if item.url:
                self.by_url.setdefault(normalize_url(item.url), item.id)

    def __call__(self, label: str) -> str | None:
        if label in self.ids:
            return label
        if label.startswith(("http://", "https://")):
            return self.by_url.get(normalize_url(label))
        return None


def resolve_labels(qs: QuerySet, resolvers: dict[str, Resolver]) -> None:
    """Give every query `relevant` (id: grade, labels and pooled together), `field_ids` (the ids
    of its own `relevant` labels) and `judged` (every id with a judgment). Exits on unresolved labels."""
    problems = []
    for n, q in enumerate(qs.queries, start=1):
        resolve = resolvers[q["library"]]
        where = f"{qs.path.name}: query #{n} ({q['query']!r}, library {q['library']})"
        ids: dict[str, dict] = {"relevant": {}, "pooled": {}, "not_relevant": {}}
        for part in ("relevant", "pooled", "not_relevant"):
            labels = q["labels"][part]
            for label in labels:
                item_id = resolve(label)
                if item_id is None:
                    what = "URL" if str(label).startswith("http") else "id"
                    problems.append(f"{where}: {part} {what} {label!r} is no item of the library")
                elif item_id in ids["relevant"] or item_id in ids["pooled"] or item_id in ids["not_relevant"]:
                    problems.append(f"{where}: {part} label {label!r} names an item already labelled ({item_id})")
                else:
                    ids[part][item_id] = labels[label] if isinstance(labels, dict) else 0
        q["field_ids"] = dict(ids["relevant"])
        q["relevant"] = {**ids["relevant"], **ids["pooled"]}
        q["judged"] = set(q["relevant"]) | set(ids["not_relevant"])
    if problems:
        raise SystemExit("unresolved or repeated labels:\n  " + "\n  ".join(problems))


def paraphrase_violations(queries: list[dict], item_by_id: dict, tokenizer: Tokenizer,
                          ids_key: str = "relevant") -> list[str]:
    """Paraphrase queries whose stems occur in the embedded text of one of their answers
    (the ids under `ids_key`: "relevant" for every label, "field_ids" for a file's own labels)."""
    stems_of: dict[str, set[str]] = {}
    found = []
    for q in queries:
        if q["style"] != "paraphrase":
            continue
        query_stems = set(tokenizer(q["query"]))
        for rid in q[ids_key]:
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
# Libraries: one home per library under $MLSD_HOME/eval, imported from the real lists
# ---------------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _mlsd_home(folder: Path):
    """MLSD_HOME pointed at folder, for the library calls that read it (import, its lock)."""
    old = os.environ.get("MLSD_HOME")
    os.environ["MLSD_HOME"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLSD_HOME", None)
        else:
            os.environ["MLSD_HOME"] = old


def corpora_dir(option: Path | None) -> Path:
    """The folder of the real lists: --corpora, else $MLSD_CORPORA, else a `shared/corpora`
    beside the project or its parent folder (worktrees live one level deeper). It may not
    exist: the sets that need it are then skipped, naming the path looked at."""
    if option is not None:
        return option.expanduser()
    if os.environ.get("MLSD_CORPORA", "").strip():
        return Path(os.environ["MLSD_CORPORA"]).expanduser()
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "corpora").is_dir():
            return base / "shared" / "corpora"
    return ROOT.parent / "shared" / "corpora"


class Libraries:
    """Opens (and first imports, when needed) each library a set needs, once per run."""

    def __init__(self, corpora: Path, legacy_bundled: bool) -> None:
        self.corpora = corpora
        self.legacy_bundled = legacy_bundled  # bundled sets use $MLSD_HOME as it is
        self.embedder = None
        self.engines: dict[str, SearchEngine] = {}
        self.missing: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def _embedder(self):
        if self.embedder is None:
            from mlsd.embed import Embedder

            self.embedder = Embedder()
        return self.embedder

    def home(self, library: str) -> Path:
        value = os.environ.get("MLSD_HOME", "").strip()
        if not value:
            raise SystemExit("set MLSD_HOME to a temporary folder: the libraries of --sets (and of a set that "
                             "names a library) are imported and indexed under $MLSD_HOME/eval/")
        return Path(value).expanduser().resolve() / "eval" / library

    def source(self, library: str) -> Path | None:
        path = self.corpora / LIBRARIES[library]
        return path if path.is_file() else None

    def unavailable(self, library: str) -> str | None:
        """Why a library cannot be opened (its list is absent), or None."""
        if library == BUNDLED or self.source(library) is not None:
            return None
        return (f"the {library} list is not at {self.corpora / LIBRARIES[library]} "
                "(give the folder holding it with --corpora or MLSD_CORPORA)")

    def _import(self, library: str, home: Path) -> None:
        from mlsd.library import import_source

        source = self.source(library)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        stamp = home / "imported-from.json"
        library_file = home / "library" / f"{library}.json"
        if library_file.exists() and stamp.exists():
            try:
                if json.loads(stamp.read_text(encoding="utf-8")).get("sha256") == digest:
                    return  # imported from this very file before: reuse
            except (OSError, ValueError):
                pass
        log(f"importing {source} into {home} as '{library}' (once; later runs reuse it) ...")
        started = time.perf_counter()
        with _mlsd_home(home):
            report = import_source(str(source), name=library, embedder=self._embedder(), update_index=False)
        stamp.write_text(json.dumps({"source": str(source), "sha256": digest}), encoding="utf-8")
        log(f"  {report.total} items ({report.duplicates} duplicates, {len(report.skipped)} rows skipped) "
            f"in {time.perf_counter() - started:.1f} s")

    def engine(self, library: str) -> SearchEngine:
        if library in self.engines:
            return self.engines[library]
        started = time.perf_counter()
        if library == BUNDLED and self.legacy_bundled:
            corpus = load_corpus()
            engine = open_engine(corpus, self._embedder())
        else:
            home = self.home(library)
            if library != BUNDLED:
                self._import(library, home)
            corpus = load_corpus(library_dir=home / "library")
            shown = {"step": 0}

            def progress(done: int, total: int) -> None:
                if done == total or done - shown["step"] >= 500:
                    shown["step"] = done
                    log(f"  encoding {library}: {done}/{total}")

            engine = open_engine(corpus, self._embedder(), folder=home / "index", progress=progress)
        self.seconds[library] = time.perf_counter() - started
        log(f"library {library}: {len(engine.items)} items, index {engine.index.status} in {self.seconds[library]:.1f} s")
        self.engines[library] = engine
        return engine


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
def group_names(row: dict, several_libraries: bool) -> list[str]:
    groups = ["all", row["style"]]
    if row.get("company"):
        groups.append("company")
    if several_libraries:
        groups.append(f"lib:{row['library']}")
    return groups


def aggregate(rows: list[dict], methods: list[str], several_libraries: bool = False) -> dict:
    """Mean of each metric per method, overall, per style, for the company-naming queries and
    (for a set over several libraries) per library."""
    out: dict[str, dict] = {}
    for method in methods:
        groups: dict[str, list[dict]] = {"all": []}
        for row in rows:
            m = row["metrics"][method]
            for g in group_names(row, several_libraries):
                groups.setdefault(g, []).append(m)
        out[method] = {
            group: {
                "n": len(ms),
                **{metric: round(float(np.mean([m[metric] for m in ms])), 4)
                   for metric in ms[0] if metric in ("ndcg", "recall", "mrr", "judged")},
            }
            for group, ms in groups.items()
        }
    return out


def bootstrap_ci(values: list[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> list[float]:
    """95% percentile-bootstrap interval of the mean, resampling the values (queries) with
    replacement. The same seed gives the same resamples for every mode of a set."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def intervals(rows: list[dict], several_libraries: bool = False) -> dict:
    """Bootstrap CI of nDCG per mode and group, and the paired hybrid - better single mode."""
    ci: dict[str, dict] = {}
    for mode in MODES:
        groups: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            for g in group_names(row, several_libraries):
                groups[g].append(row["metrics"][mode]["ndcg"])
        ci[mode] = {g: bootstrap_ci(v) for g, v in groups.items()}
    means = {m: float(np.mean([r["metrics"][m]["ndcg"] for r in rows])) for m in ("semantic", "keyword")}
    best = max(means, key=means.get)
    diffs = [r["metrics"]["hybrid"]["ndcg"] - r["metrics"][best]["ndcg"] for r in rows]
    paired = {"versus": best, "diff": round(float(np.mean(diffs)), 4), "ci": bootstrap_ci(diffs),
              "hybrid_better": sum(d > 1e-9 for d in diffs), "hybrid_worse": sum(d < -1e-9 for d in diffs)}
    return {"ci": ci, "paired": paired}


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


def print_set_table(result: dict, k: int) -> None:
    """One table per set: overall nDCG with its CI, Recall, MRR, judged share, then per group."""
    summary, ci, paired = result["summary"], result["ci"], result["paired"]
    groups = [g for g in (*STYLES, "company") if g in summary["hybrid"]]
    groups += sorted(g for g in summary["hybrid"] if g.startswith("lib:"))
    print(f"\n### {result['set']} ({result['file']}): {result['queries']} queries ({result['counts']}) "
          f"on {result['library_text']}; {result['seconds']:.1f} s\n")
    print(f"| mode | nDCG@{k} [95% CI] | R@{k} | MRR | judged@{k} | "
          + " | ".join(f"{g} (n={summary['hybrid'][g]['n']}) nDCG / R / MRR" for g in groups) + " |")
    print("|" + "---|" * (5 + len(groups)))
    for mode in MODES:
        s = summary[mode]["all"]
        low, high = ci[mode]["all"]
        cells = [f"{s['ndcg']:.3f} [{low:.3f}, {high:.3f}]", f"{s['recall']:.3f}", f"{s['mrr']:.3f}", f"{s['judged']:.2f}"]
        cells += [f"{summary[mode][g]['ndcg']:.3f} / {summary[mode][g]['recall']:.3f} / {summary[mode][g]['mrr']:.3f}"
                  for g in groups]
        print(f"| {mode} | " + " | ".join(cells) + " |")
    low, high = paired["ci"]
    print(f"\nhybrid - {paired['versus']} (the better single mode here): {paired['diff']:+.3f} "
          f"[{low:+.3f}, {high:+.3f}]; hybrid better on {paired['hybrid_better']} queries, "
          f"worse on {paired['hybrid_worse']}")


def check(summary: dict) -> list[str]:
    """Reasons the --check-legacy gate fails on a set (empty when it passes)."""
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


def check_set(summary: dict) -> list[str]:
    """Reasons the --check gate fails on a set: hybrid below the better single mode by > 0.01."""
    hybrid = summary["hybrid"]["all"]["ndcg"]
    best_mode = max(("semantic", "keyword"), key=lambda m: summary[m]["all"]["ndcg"])
    best = summary[best_mode]["all"]["ndcg"]
    if hybrid < best - CHECK_SET_MARGIN:
        return [f"hybrid nDCG@10 is {hybrid:.3f}, below {best_mode} ({best:.3f}) by more than {CHECK_SET_MARGIN}"]
    return []


def label_of(item) -> str:
    """How a query file names an item: its URL for an imported item, its id for a bundled one."""
    return item.url if item.source != "bundled" and item.url else item.id


def print_unjudged(result: dict, engines: dict[str, SearchEngine]) -> None:
    print(f"\n### {result['set']}: pooled top-{result['k']} items (all modes) without a judgment\n")
    total = 0
    for row in result["results"]:
        judged = set(row["judged"])
        pooled: dict[str, list[str]] = {}
        for mode in MODES:
            for rank, item_id in enumerate(row["top"][mode], start=1):
                if item_id not in judged:
                    pooled.setdefault(item_id, []).append(f"{mode[0]}{rank}")
        if not pooled:
            continue
        print(f"- query: {row['query']!r}  [{row['style']}, {row['library']}]")
        items = engines[row["library"]].corpus.item_by_id
        for item_id, where in pooled.items():
            item = items[item_id]
            total += 1
            print(f"    {label_of(item)}  ({' '.join(where)})")
            print(f"      {item.title} | {item.company or '-'} | {item.year or '-'} | {', '.join(item.tags)}")
            if item.summary:
                print(f"      {item.summary[:400]}")
    print(f"\n{total} unjudged pooled items")


def run_set(qs: QuerySet, libraries: Libraries, k: int) -> dict:
    """Resolve labels, check paraphrases, search every query in every mode and score it."""
    engines = {lib: libraries.engine(lib) for lib in qs.libraries}
    resolve_labels(qs, {lib: Resolver(e.corpus) for lib, e in engines.items()})
    violations, pooled_overlaps = [], []
    for lib, engine in engines.items():
        mine = [q for q in qs.queries if q["library"] == lib]
        violations += paraphrase_violations(mine, engine.corpus.item_by_id, engine.tokenizer, "field_ids")
        pooled_overlaps += [v for v in paraphrase_violations(mine, engine.corpus.item_by_id, engine.tokenizer)
                            if v not in violations]
    for v in violations:
        log(f"WARNING: paraphrase shares words with its answer: {v}")
    for v in pooled_overlaps:
        log(f"note: paraphrase shares words with an answer found by pooling: {v}")

    rows = []
    started = time.perf_counter()
    for q in qs.queries:
        engine = engines[q["library"]]
        row = {"query": q["query"], "style": q["style"], "library": q["library"], "company": q["company"],
               "relevant": q["relevant"], "judged": sorted(q["judged"]), "top": {}, "metrics": {}}
        for mode in MODES:
            ranked = [h.id for h in engine.search(q["query"], k=k, mode=mode)]
            row["top"][mode] = ranked
            top = ranked[:k]  # keyword mode may return fewer than k
            row["metrics"][mode] = {**score(ranked, q["relevant"], k),
                                    "judged": sum(i in q["judged"] for i in top) / len(top) if top else 1.0}
        rows.append(row)
    seconds = time.perf_counter() - started

    several = len(qs.libraries) > 1
    methods = list(MODES)
    summary = aggregate(rows, methods, several)
    by_style = {s: sum(1 for r in rows if r["style"] == s) for s in STYLES}
    companies = sum(1 for r in rows if r["company"])
    counts = ", ".join(f"{n} {s}" for s, n in by_style.items() if n)
    if companies:
        counts += f"; {companies} name a company"
    library_text = " and ".join(
        f"{lib} ({len(engines[lib].items)} items, {sum(1 for q in qs.queries if q['library'] == lib)} queries)"
        if several else f"{lib} ({len(engines[lib].items)} items)" for lib in qs.libraries)
    if libraries.legacy_bundled and qs.libraries == [BUNDLED]:
        library_text += " as found in $MLSD_HOME"
    labels = {
        "field": sum(len(q["field_ids"]) for q in qs.queries),
        "pooled": sum(len(q["relevant"]) - len(q["field_ids"]) for q in qs.queries),
        "not_relevant": sum(len(q["judged"]) - len(q["relevant"]) for q in qs.queries),
    }
    return {
        "set": qs.name, "file": qs.path.name, "k": k, "queries": len(rows), "by_style": by_style,
        "company_queries": companies, "counts": counts, "libraries": qs.libraries, "library_text": library_text,
        "engine_status": {lib: e.index.status for lib, e in engines.items()}, "seconds": seconds, "labels": labels,
        "summary": summary, **intervals(rows, several),
        "paraphrase_violations": violations, "paraphrase_pooled_overlaps": pooled_overlaps,
        "results": rows,
    }


def choose_sets(value: str) -> list[Path]:
    names = list(SETS) if value.strip() == "all" else [v.strip() for v in value.split(",") if v.strip()]
    paths = []
    for name in names:
        path = SETS.get(name) or Path(name)
        if not path.is_file():
            raise SystemExit(f"--sets: {name!r} is neither a set name ({', '.join(SETS)}, all) nor a query file")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, default=None, help="one labelled query set (YAML); default queries.yaml")
    parser.add_argument("--sets", default=None,
                        help=f"comma-separated sets ({', '.join(SETS)}) or query files, or 'all'; each runs "
                             "against its own library under $MLSD_HOME/eval/")
    parser.add_argument("--corpora", type=Path, default=None,
                        help="folder of the real lists (default: $MLSD_CORPORA, else shared/corpora beside the project)")
    parser.add_argument("--k", type=int, default=10, help="cut-off of every metric (default 10)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--show-failures", action="store_true", help="list queries with hybrid nDCG@k < 0.5")
    parser.add_argument("--unjudged", action="store_true",
                        help="list, per query, the pooled top-k items of all modes that carry no judgment")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when on any set hybrid nDCG@k is below the better single mode's by more "
                             f"than {CHECK_SET_MARGIN}")
    parser.add_argument("--check-legacy", action="store_true",
                        help=f"exit 1 when on any set hybrid nDCG@k < {CHECK_NDCG} or trails the best single "
                             f"mode on a style by more than {CHECK_MARGIN} (the former --check)")
    args = parser.parse_args(argv)

    if args.sets is not None and args.queries is not None:
        parser.error("give --queries or --sets, not both")
    paths = choose_sets(args.sets) if args.sets is not None else [args.queries or DEFAULT_QUERIES]
    sets = [read_set(p) for p in paths]  # every file is checked before anything is loaded
    libraries = Libraries(corpora_dir(args.corpora), legacy_bundled=args.sets is None)

    started = time.perf_counter()
    results, skipped = [], []
    for qs in sets:
        reasons = [r for lib in qs.libraries if (r := libraries.unavailable(lib))]
        if reasons:
            skipped.append(f"{qs.name} ({qs.path.name}): skipped, {'; '.join(reasons)}")
            log(skipped[-1])
            continue
        results.append(run_set(qs, libraries, args.k))
    total_seconds = time.perf_counter() - started

    gate = {r["set"]: [*(check_set(r["summary"]) if args.check else []),
                       *(check(r["summary"]) if args.check_legacy else [])] for r in results}
    failed = {name: reasons for name, reasons in gate.items() if reasons}

    if args.json:
        def payload(r: dict) -> dict:
            return {**r, "check_failures": gate[r["set"]]}

        if args.sets is None and results:
            out = payload(results[0])
            out["engine_status"] = next(iter(results[0]["engine_status"].values()))  # as before: one status
        else:
            out = {"k": args.k, "sets": {r["set"]: payload(r) for r in results}, "skipped": skipped,
                   "library_seconds": libraries.seconds, "seconds": total_seconds}
        print(json.dumps(out, indent=2))
    else:
        opened = ", ".join(f"{lib} {s:.1f} s" for lib, s in libraries.seconds.items()) or "none"
        print(f"k={args.k}; {len(results)} set(s) in {total_seconds:.1f} s (libraries opened: {opened})")
        for r in results:
            print_set_table(r, args.k)
            labels = r["labels"]
            print(f"labels: {labels['field']} from the file's own `relevant`, {labels['pooled']} added by pooled "
                  f"judgment, {labels['not_relevant']} pooled items judged not relevant; paraphrase violations: "
                  f"{len(r['paraphrase_violations'])}")
            if args.show_failures:
                failures = [row for row in r["results"] if row["metrics"]["hybrid"]["ndcg"] < 0.5]
                print(f"\nQueries with hybrid nDCG@{args.k} < 0.5 ({len(failures)}):\n")
                for row in failures:
                    m = row["metrics"]
                    print(f"- [{row['style']}] {row['query']!r}: hybrid {m['hybrid']['ndcg']:.2f}, "
                          f"semantic {m['semantic']['ndcg']:.2f}, keyword {m['keyword']['ndcg']:.2f}")
                    print(f"    wanted: {', '.join(f'{i} ({g})' for i, g in row['relevant'].items())}")
                    print(f"    hybrid top 5: {', '.join(row['top']['hybrid'][:5])}")
            if args.unjudged:
                print_unjudged(r, libraries.engines)
        if len(results) > 1:
            print(f"\n### nDCG@{args.k} per set [95% CI]\n")
            print("| set | queries | hybrid | semantic | keyword | hybrid - better single |")
            print("|---|---|---|---|---|---|")
            for r in results:
                cells = [f"{r['summary'][m]['all']['ndcg']:.3f} [{r['ci'][m]['all'][0]:.3f}, {r['ci'][m]['all'][1]:.3f}]"
                         for m in MODES]
                p = r["paired"]
                print(f"| {r['set']} | {r['queries']} | " + " | ".join(cells)
                      + f" | {p['diff']:+.3f} [{p['ci'][0]:+.3f}, {p['ci'][1]:+.3f}] vs {p['versus']} |")
        for s in skipped:
            print(f"\n{s}")
        if (args.check or args.check_legacy) and not results:
            print("\ncheck: nothing to check, every set was skipped")
        elif args.check or args.check_legacy:
            print("\ncheck: " + ("passed" if not failed else "FAILED\n  " + "\n  ".join(
                f"{name}: {reason}" for name, reasons in failed.items() for reason in reasons)))
    if failed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
