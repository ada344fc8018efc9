#!/usr/bin/env python
"""Search performance: index build, warm query latency, FAISS Flat vs HNSW, memory, startup.

    MLSD_HOME=/tmp/mlsd-bench .venv/bin/python benchmarks/bench_search.py --out /tmp/bench.json
    ... --sizes bundled,2430,100000   which corpora (default: all three)
    ... --queries 100                 distinct queries per mode and filter
    ... --no-startup                  skip the cold/warm `mlsd search` start-up runs
    ... --no-evict                    do not evict the venv's files from the page cache
                                      before the "cold" start-up run

Sizes:
  bundled  the YAML knowledge base (data/*.yaml), indexed exactly as the app does.
  2430     the case-study CSV (/work/shared/corpora/case-studies/case_studies.csv), read in
           place: one Item per row from title, company, primary/sub category, tags and the
           one-line summary; fully encoded.
  N        any other number: N synthetic items. Vectors are real item vectors (bundled + CSV)
           plus gaussian noise, renormalized; texts are words sampled from the real texts
           (half from the item the vector came from, half from the whole vocabulary), so
           BM25 sees realistic term statistics. Nothing is encoded except the queries.

Every size runs in a fresh subprocess, so its peak memory (ru_maxrss) is its own. Latency is
measured end to end through SearchEngine.search (query encoding, FAISS, BM25, fusion,
filters) after a warm-up, single-threaded FAISS as the engine configures it. Everything is
written under a temporary folder (MLSD_HOME of the subprocesses), never into the project.
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval_search import corpora_dir  # noqa: E402  (beside this file: where the real lists are)

CSV_PATH = corpora_dir(None) / "case-studies" / "case_studies.csv"
QUERIES_FILE = Path(__file__).resolve().parent / "queries.yaml"
TARGETS = {
    "hybrid_p50_ms_bundled": 20.0,
    "hybrid_p50_ms_100k": 50.0,
    "first_answer_s_cold": 12.0,
}
NOISE_SIGMA = 0.04  # per dimension: |noise| ~ 0.78, cosine to the source vector ~ 0.79
WARMUP = 8


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pct(values: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def latency_queries(n: int) -> tuple[list[str], list[str]]:
    """n distinct measured queries and a few distinct warm-up queries.

    The labelled evaluation queries first (realistic wording), then bundled item titles.
    """
    import yaml

    from mlsd.corpus import load_corpus

    labelled = [q["query"] for q in yaml.safe_load(QUERIES_FILE.read_text(encoding="utf-8"))["queries"]]
    titles = [i.title for i in load_corpus().items]
    pool = list(dict.fromkeys([*labelled, *titles]))
    if len(pool) < n + WARMUP:
        raise SystemExit(f"only {len(pool)} distinct queries available; use --queries <= {len(pool) - WARMUP}")
    return pool[:n], pool[n : n + WARMUP]


class ItemsCorpus:
    """What SearchEngine needs from a corpus, for items that do not come from data/*.yaml.

    SearchEngine touches: item_by_id (construction); resolve_company, company_name,
    companies, topic_by_id, step_by_id, topics (check_filters); subtree (topic filters);
    company_names (the companies a query names, mlsd.mentions).
    """

    def __init__(self, items) -> None:
        from mlsd.corpus import Company

        self.items = tuple(items)
        self.item_by_id = {i.id: i for i in self.items}
        names = sorted({i.company for i in self.items if i.company})
        self.companies = tuple(Company(re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-") or "x", n) for n in names)
        self._by_key = {n.casefold(): n for n in names}
        self.company_names = tuple(names)
        self.topics: tuple = ()
        self.topic_by_id: dict = {}
        self.step_by_id: dict = {}

    def resolve_company(self, name: str) -> str | None:
        return self._by_key.get(name.strip().casefold())

    def company_name(self, company_id: str | None) -> str | None:
        return company_id  # ids are the display names here

    def subtree(self, topic_id: str) -> list[str]:
        return [topic_id]


def csv_items():
    """One resource Item per case-study row (the CSV is read in place, never copied)."""
    from mlsd.model import Item

    items = []
    with open(CSV_PATH, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            tags = ", ".join(t.strip() for t in (row.get("tags") or "").split(";") if t.strip())
            summary = (row.get("summary_oneliner") or "").strip()
            if tags:
                summary = f"{summary} Tags: {tags}." if summary else f"Tags: {tags}."
            category = " > ".join(x for x in (row.get("primary_category"), row.get("sub_category")) if x)
            year = row.get("year") or ""
            items.append(Item(
                id=row["id"], type="resource", title=row["title"].strip(), url=row.get("source_url") or None,
                company=(row.get("company") or "").strip() or None, kind=None,
                year=int(year) if year.isdigit() else None, summary=summary,
                path=f"Case study on {category}" if category else "Case study",
                topics=(), steps=(), source="case-studies",
            ))
    return items


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Latency
# ---------------------------------------------------------------------------------------------
def measure_latency(engine, queries: list[str], warmup: list[str], filters: dict) -> dict:
    """p50/p95 (ms) of engine.search per mode and filter.

    Every (mode, filter) combination is warmed up first; then, query by query, all of them run
    in turn, so a burst of load from other processes hits every combination alike instead
    of one block of measurements.
    """
    from mlsd.search import MODES

    combos = [(mode, name, flt) for mode in MODES for name, flt in filters.items()]
    for mode, _, flt in combos:
        for q in warmup:
            engine.search(q, k=10, mode=mode, filters=flt)
    times: dict = {(mode, name): [] for mode, name, _ in combos}
    empty: Counter = Counter()
    for q in queries:
        for mode, name, flt in combos:
            started = time.perf_counter()
            hits = engine.search(q, k=10, mode=mode, filters=flt)
            times[(mode, name)].append((time.perf_counter() - started) * 1000)
            empty[(mode, name)] += not hits
    out: dict = {mode: {} for mode in MODES}
    for (mode, name), ts in times.items():
        out[mode][name] = {"p50_ms": pct(ts, 50), "p95_ms": pct(ts, 95), "mean_ms": round(sum(ts) / len(ts), 2),
                           "n": len(ts), "empty": empty[(mode, name)]}
    return out


class PrecomputedEmbedder:
    """Stands in for the Embedder with the query vectors (and token vectors, for the rerank)
    computed beforehand, to time what a search costs besides encoding the query (FAISS, BM25,
    fusion, the rerank, filters, hits)."""

    def __init__(self, embedder, queries: list[str]) -> None:
        self.vectors = {q: embedder.encode_query(q) for q in queries}
        _, tokens = embedder.encode_with_tokens(queries)
        self.tokens = dict(zip(queries, tokens))

    def encode_query(self, text: str):
        return self.vectors[text]

    def encode_query_tokens(self, text: str):
        return self.vectors[text], self.tokens[text]


def without_encoding(engine, embedder, queries: list[str], warmup: list[str], filters: dict) -> dict:
    """measure_latency for hybrid and semantic with precomputed query vectors."""
    from mlsd.search import MODES

    shadow = copy.copy(engine)
    shadow.query_encoder = PrecomputedEmbedder(embedder, queries + warmup)
    out = measure_latency(shadow, queries, warmup, filters)
    return {mode: out[mode] for mode in MODES if mode != "keyword"}


def encode_latency(embedder, queries: list[str]) -> dict:
    """The query-encoding share of every search: encode_query alone."""
    for q in queries[:WARMUP]:
        embedder.encode_query(q)
    times = []
    for q in queries:
        started = time.perf_counter()
        embedder.encode_query(q)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}


def filters_for(items) -> dict:
    """No filter, type=resource, and the most frequent company (a selective filter)."""
    from mlsd.search import Filters

    counts = Counter(i.company for i in items if i.company)
    company, count = counts.most_common(1)[0]
    n = len(items)
    resources = sum(1 for i in items if i.type == "resource")
    return {
        "none": (None, n),
        "type=resource": (Filters(types=["resource"]), resources),
        f"company={company}": (Filters(companies=[company]), count),
    }


# ---------------------------------------------------------------------------------------------
# Stages (each runs in its own subprocess)
# ---------------------------------------------------------------------------------------------
def stage_real(kind: str, workdir: Path, n_queries: int) -> dict:
    """Bundled data or the case-study CSV: full encode + build, then latency."""
    from mlsd.corpus import load_corpus
    from mlsd.embed import Embedder
    from mlsd.index import build_index, load_index
    from mlsd.search import SearchEngine

    result: dict = {"loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    embedder, t_model = timed(lambda: Embedder().load())
    result["model_load_s"] = round(t_model, 2)
    result["rss_after_model_mb"] = rss_mb()
    if kind == "bundled":
        corpus = load_corpus()
        items, sha = list(corpus.items), corpus.data_hash
        folder = workdir / "home" / "index"  # MLSD_HOME/index: the start-up stage reuses it
    else:
        items = csv_items()
        corpus = ItemsCorpus(items)
        sha = file_sha256(CSV_PATH)
        folder = workdir / "csv-index"
    index, t_build = timed(build_index, items, sha, embedder, folder, reuse=False)
    result.update(items=len(items), index_type=type(index.faiss_index).__name__,
                  build_index_s=round(t_build, 2), encode_rate_per_s=round(len(items) / t_build, 1))
    # Opening the engine from disk, as the app does after the first build.
    loaded, t_load = timed(load_index, items, sha, folder)
    engine, t_engine = timed(SearchEngine, corpus, loaded, embedder)
    result["load_index_s"] = round(t_load, 3)
    result["engine_init_s"] = round(t_engine, 3)
    result["rss_after_engine_mb"] = rss_mb()

    queries, warmup = latency_queries(n_queries)
    named = filters_for(items)
    result["filters"] = {name: {"matching_items": m} for name, (_, m) in named.items()}
    result["encode_query"] = encode_latency(embedder, queries)
    result["latency"] = measure_latency(engine, queries, warmup, {k: f for k, (f, _) in named.items()})
    result["latency_without_encoding"] = without_encoding(engine, embedder, queries, warmup, {k: f for k, (f, _) in named.items()})
    result["peak_rss_mb"] = rss_mb()
    return result


def synthetic_items(n: int, workdir: Path, seed: int = 7):
    """n synthetic items and unit vectors derived from the real items (see module docstring)."""
    import numpy as np

    from mlsd.corpus import load_corpus
    from mlsd.embed import Embedder
    from mlsd.index import build_index
    from mlsd.model import Item

    embedder = Embedder().load()
    corpus = load_corpus()
    base_items = list(corpus.items)
    # reuse=True (default): the bundled stage's vectors are reused when it ran first.
    vec_parts = [build_index(base_items, corpus.data_hash, embedder, workdir / "home" / "index").vectors]
    if CSV_PATH.exists():
        rows = csv_items()
        # reuse=True: the 2430 stage's vectors are reused when it ran first.
        vec_parts.append(build_index(rows, file_sha256(CSV_PATH), embedder, workdir / "csv-index").vectors)
        base_items += rows
    base = np.vstack(vec_parts).astype(np.float32)
    rng = np.random.default_rng(seed)
    source = rng.integers(0, len(base_items), size=n)
    vectors = base[source] + rng.normal(0.0, NOISE_SIGMA, size=(n, base.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    word = re.compile(r"[A-Za-z][A-Za-z0-9]+")
    words_of = [word.findall(i.embedding_text()) for i in base_items]
    counts = Counter(w.lower() for ws in words_of for w in ws)
    vocab = np.array(list(counts))
    p = np.array([counts[w] for w in vocab], dtype=float)
    p /= p.sum()
    lengths = np.clip(np.array([len(words_of[s]) for s in source]), 16, 80)
    background = rng.choice(vocab, size=int(lengths.sum()), p=p)
    items, offset = [], 0
    for n_i, (s, length) in enumerate(zip(source, lengths)):
        own = words_of[s]
        half = length // 2
        picked = [own[j] for j in rng.integers(0, len(own), size=half)] + list(background[offset : offset + length - half])
        offset += length - half
        b = base_items[s]
        items.append(Item(
            id=f"syn{n_i:07d}", type=b.type, title=" ".join(picked[:8]).capitalize(), url=None,
            company=b.company, kind=b.kind, year=b.year, summary=" ".join(picked[8:]) + ".",
            path="", topics=(), steps=(), source="synthetic",
        ))
    return items, vectors, embedder


def stage_synthetic(n: int, workdir: Path, n_queries: int) -> dict:
    import faiss
    import numpy as np

    from mlsd.index import (
        FLAT_MAX_ITEMS,
        HNSW_EF_SEARCH,
        HNSW_NEIGHBORS,
        LoadedIndex,
        item_text_hash,
        write_index,
    )
    from mlsd.search import SearchEngine

    result: dict = {"loadavg_start": [round(x, 2) for x in os.getloadavg()], "items": n,
                    "noise_sigma": NOISE_SIGMA}
    (items, vectors, embedder), t_gen = timed(synthetic_items, n, workdir)
    result["generate_s"] = round(t_gen, 2)
    result["rss_after_generate_mb"] = rss_mb()
    corpus = ItemsCorpus(items)
    ids = [i.id for i in items]
    hashes = [item_text_hash(i) for i in items]
    folder = workdir / f"syn-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # building may use every core
    index, t_write = timed(write_index, vectors, ids, hashes, f"synthetic-{n}", folder)
    result.update(index_type=type(index.faiss_index).__name__, flat_max_items=FLAT_MAX_ITEMS,
                  write_index_s=round(t_write, 2))
    # The other index type, for the comparison.
    other_type = "IndexFlatIP" if result["index_type"] != "IndexFlatIP" else "IndexHNSWFlat"
    if other_type == "IndexFlatIP":
        flat, t_flat = timed(lambda: _flat(vectors))
        hnsw, t_hnsw = index.faiss_index, None
    else:
        flat, t_flat = index.faiss_index, None
        hnsw, t_hnsw = timed(lambda: _hnsw(vectors))
    result["flat_build_s"] = round(t_flat, 2) if t_flat is not None else None
    result["hnsw_build_s"] = round(t_hnsw, 2) if t_hnsw is not None else None
    engine, t_engine = timed(SearchEngine, corpus, index, embedder)  # sets FAISS to 1 thread
    result["engine_init_s"] = round(t_engine, 2)
    index.vectors  # noqa: B018 - the filtered path reads them; reconstruct once, outside the timings
    result["rss_after_engine_mb"] = rss_mb()

    queries, warmup = latency_queries(n_queries)
    qvecs = np.vstack([embedder.encode_query(q) for q in queries])

    # Raw FAISS: latency per single query and HNSW recall@10 against the exact answer.
    def raw(ix, params=None):
        for v in qvecs[:WARMUP]:
            ix.search(v[None, :], 10, params=params)
        times, found = [], []
        for v in qvecs:
            started = time.perf_counter()
            _, got = ix.search(v[None, :], 10, params=params)
            times.append((time.perf_counter() - started) * 1000)
            found.append(got[0])
        return times, found

    flat_times, truth = raw(flat)
    comparison = {"IndexFlatIP": {"build_s": result["flat_build_s"] if t_flat is not None else round(t_write, 2),
                                  "search_p50_ms": pct(flat_times, 50), "search_p95_ms": pct(flat_times, 95),
                                  "recall_at_10": 1.0}}
    sweep = {}
    for ef in (16, 32, 64, HNSW_EF_SEARCH, 256):
        times, found = raw(hnsw, faiss.SearchParametersHNSW(efSearch=ef))
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
        sweep[ef] = {"search_p50_ms": pct(times, 50), "search_p95_ms": pct(times, 95), "recall_at_10": round(recall, 4)}
    comparison["IndexHNSWFlat"] = {"build_s": result["hnsw_build_s"] if t_hnsw is not None else round(t_write, 2),
                                   "M": HNSW_NEIGHBORS,
                                   "efSearch": HNSW_EF_SEARCH, **sweep[HNSW_EF_SEARCH]}
    result["faiss_raw"] = comparison
    result["hnsw_ef_sweep"] = sweep

    named = filters_for(items)
    result["filters"] = {name: {"matching_items": m} for name, (_, m) in named.items()}
    result["encode_query"] = encode_latency(embedder, queries)
    result["latency"] = measure_latency(engine, queries, warmup, {k: f for k, (f, _) in named.items()})
    result["latency_without_encoding"] = without_encoding(engine, embedder, queries, warmup, {k: f for k, (f, _) in named.items()})

    # The same engine with the other index type (BM25 and columns shared, not rebuilt).
    swapped = copy.copy(engine)
    swapped.index = LoadedIndex(flat if index.faiss_index is hnsw else hnsw, index.ids, index.projection,
                                index.manifest, index.folder)
    swapped.index._vectors = index.vectors
    result["latency_other_index"] = {
        "index_type": other_type,
        "latency": measure_latency(swapped, queries, warmup, {k: f for k, (f, _) in named.items()}),
        "latency_without_encoding": without_encoding(swapped, embedder, queries, warmup, {k: f for k, (f, _) in named.items()}),
    }
    # Recall of the engine's semantic ranking (top 10) with HNSW vs exact, with each filter.
    recall_by_filter = {}
    hnsw_engine = engine if index.faiss_index is hnsw else swapped
    flat_engine = swapped if hnsw_engine is engine else engine
    for name, (flt, _) in named.items():
        mask = engine._mask(engine.check_filters(flt))
        scores = []
        for v in qvecs:
            a = [i for i, _ in hnsw_engine._semantic(v[None, :], 50, mask)][:10]  # the engine's pool
            b = [i for i, _ in flat_engine._semantic(v[None, :], 50, mask)][:10]
            scores.append(len(set(a) & set(b)) / max(1, len(b)))
        recall_by_filter[name] = round(float(np.mean(scores)), 4)
    result["engine_semantic_recall_at_10_hnsw_vs_exact"] = recall_by_filter
    result["peak_rss_mb"] = rss_mb()
    return result


def _flat(vectors):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def _hnsw(vectors):
    import faiss

    from mlsd.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_NEIGHBORS

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBORS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(vectors)
    return index


# ---------------------------------------------------------------------------------------------
# Start-up: a fresh `mlsd search` against an already-built index
# ---------------------------------------------------------------------------------------------
def evict_page_cache(paths: list[Path]) -> int:
    """Ask the kernel to drop these files from the page cache (posix_fadvise DONTNEED).

    Only the venv's and the model's files: the next start reads them from disk again, like
    the first start after a reboot. Harmless (advisory; pages in use stay)."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    dropped = 0
    for top in paths:
        for dirpath, _, files in os.walk(top):
            for name in files:
                try:
                    fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    dropped += 1
                except OSError:
                    pass
                finally:
                    os.close(fd)
    return dropped


BREAKDOWN = r"""
import time, json
t0 = time.perf_counter(); marks = {}
from mlsd.corpus import load_corpus
from mlsd.search import open_engine
marks["import_s"] = time.perf_counter() - t0
corpus = load_corpus(); marks["load_corpus_s"] = time.perf_counter() - t0
engine = open_engine(corpus); marks["open_engine_s"] = time.perf_counter() - t0
engine.query_encoder.load(); marks["model_loaded_s"] = time.perf_counter() - t0
hits = engine.search("cold start"); marks["first_answer_s"] = time.perf_counter() - t0
marks["status"] = engine.index.status; marks["top"] = hits[0].id if hits else None
print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in marks.items()}))
"""


def stage_startup(workdir: Path, evict: bool, repeats: int = 1) -> dict:
    home = workdir / "home"
    env = {**os.environ, "MLSD_HOME": str(home)}
    mlsd = Path(sys.executable).parent / "mlsd"
    command = [str(mlsd), "search", "cold start", "--json"] if mlsd.exists() else \
        [sys.executable, "-m", "mlsd.cli", "search", "cold start", "--json"]
    result: dict = {"command": " ".join(command[:2] + ['"cold start"', "--json"]), "mlsd_home": str(home)}
    if not (home / "index" / "manifest.json").exists():  # no bundled stage ran: build it first (untimed)
        subprocess.run([*command[:-3], "build-index"], env=env, check=True, capture_output=True)

    manifest = home / "index" / "manifest.json"

    def run(label: str) -> dict:
        before = manifest.read_bytes() if manifest.exists() else b""
        started = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        ok = proc.returncode == 0
        top = None
        if ok:
            try:
                top = json.loads(proc.stdout.strip().splitlines()[-1])["hits"][0]["id"]
            except (ValueError, KeyError, IndexError):
                ok = False
        rebuilt = (manifest.read_bytes() if manifest.exists() else b"") != before  # the data changed meanwhile
        return {"run": label, "wall_s": round(wall, 2), "ok": ok, "top_hit": top, "rebuilt_index": rebuilt,
                "stderr_tail": proc.stderr.strip().splitlines()[-1:] if not ok else []}

    tops: list[Path] = []
    if evict:
        import site
        import sysconfig

        from mlsd.embed import model_dir

        tops = [Path(p) for p in site.getsitepackages()] + [Path(sysconfig.get_paths()["stdlib"]), model_dir(), ROOT / "mlsd"]
        tops = [t for t in tops if t.exists()]
    result["runs"] = []
    for n in range(1, repeats + 1):
        evicted = evict_page_cache(tops) if evict else 0
        result["evicted_files"] = evicted
        cold = run(f"cold #{n}" + (" (page cache evicted)" if evict else " (first run)"))
        warm = run(f"warm #{n} (right after)")
        result["runs"] += [cold, warm]
    colds = sorted(r["wall_s"] for r in result["runs"] if r["run"].startswith("cold"))
    warms = sorted(r["wall_s"] for r in result["runs"] if r["run"].startswith("warm"))
    result["cold_median_s"] = colds[len(colds) // 2]
    result["warm_median_s"] = warms[len(warms) // 2]
    proc = subprocess.run([sys.executable, "-c", BREAKDOWN], env=env, capture_output=True, text=True, cwd=ROOT)
    try:
        result["breakdown_warm"] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result["breakdown_warm"] = {"error": proc.stderr.strip().splitlines()[-1:]}
    return result


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def _fmt(v, unit=""):
    if v is None:
        return "-"
    return f"{v}{unit}"


def report(data: dict) -> str:
    lines = []
    m = data["machine"]
    lines.append(f"# mlsd search benchmark\n\n{m['cpus']} CPUs, Python {m['python']}, {m['platform']}; "
                 f"load average at start {m['loadavg_start']}; {data['queries']} distinct queries per mode and filter, "
                 f"after {WARMUP} warm-up queries; OPENBLAS_NUM_THREADS={data.get('openblas_num_threads') or 'unset'}.\n")
    stages = data["stages"]

    lines.append("## Index build and engine open\n")
    lines.append("| size | items | index | build | load index | engine init (BM25 etc.) | peak RSS | load avg start -> end |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, s in stages.items():
        if "error" in s:
            lines.append(f"| {name} | - | - | error: {s['error']} | | | |")
            continue
        if "build_index_s" in s:
            build = f"{s['build_index_s']} s full encode ({s['encode_rate_per_s']} items/s; model load {s['model_load_s']} s extra)"
            load = f"{s['load_index_s']} s"
        else:
            build = f"{s['write_index_s']} s write_index (no encoding; vectors+texts generated in {s['generate_s']} s)"
            load = "-"
        la = f"{s['loadavg_start'][0]} -> {s.get('loadavg_end', ['?'])[0]}"
        lines.append(f"| {name} | {s['items']:,} | {s['index_type']} | {build} | {load} | {s['engine_init_s']} s | {s['peak_rss_mb']} MB | {la} |")

    lines.append("\n## Warm query latency (end to end through SearchEngine.search, ms)\n")
    lines.append("| size | index | filter (matching items) | hybrid p50 / p95 | semantic p50 / p95 | keyword p50 / p95 | target (hybrid p50) |")
    lines.append("|---|---|---|---|---|---|---|")
    for name, s in stages.items():
        if "latency" not in s:
            continue
        blocks = [(s["index_type"], s["latency"])]
        if "latency_other_index" in s:
            blocks.append((s["latency_other_index"]["index_type"] + " (comparison)", s["latency_other_index"]["latency"]))
        target = TARGETS["hybrid_p50_ms_bundled"] if name == "bundled" else (
            TARGETS["hybrid_p50_ms_100k"] if s["items"] >= 100_000 else None)
        for index_type, lat in blocks:
            for flt in lat["hybrid"]:
                matching = s["filters"][flt]["matching_items"]
                cells = [f"{lat[mode][flt]['p50_ms']} / {lat[mode][flt]['p95_ms']}" for mode in ("hybrid", "semantic", "keyword")]
                verdict = "-"
                if target is not None and flt == "none" and "comparison" not in index_type:
                    verdict = f"<= {target:g}: {'met' if lat['hybrid'][flt]['p50_ms'] <= target else 'MISSED'}"
                elif target is not None:
                    verdict = f"(<= {target:g})"
                lines.append(f"| {name} | {index_type} | {flt} ({matching:,}) | " + " | ".join(cells) + f" | {verdict} |")
    enc = [f"{name}: {s['encode_query']['p50_ms']} / {s['encode_query']['p95_ms']}" for name, s in stages.items() if "encode_query" in s]
    if enc:
        lines.append("\nQuery encoding alone (p50 / p95 ms, part of hybrid and semantic): " + "; ".join(enc) + ".")
    rows = []
    for name, s in stages.items():
        blocks = []
        if "latency_without_encoding" in s:
            blocks.append((s["index_type"], s["latency_without_encoding"]))
        other = s.get("latency_other_index", {})
        if "latency_without_encoding" in other:
            blocks.append((other["index_type"] + " (comparison)", other["latency_without_encoding"]))
        for index_type, lat in blocks:
            for flt in lat["hybrid"]:
                rows.append(f"| {name} | {index_type} | {flt} | {lat['hybrid'][flt]['p50_ms']} / {lat['hybrid'][flt]['p95_ms']} | "
                            f"{lat['semantic'][flt]['p50_ms']} / {lat['semantic'][flt]['p95_ms']} |")
    if rows:
        lines.append("\n## Latency without query encoding (query vectors precomputed, ms)\n")
        lines.append("Everything else a search does: FAISS, BM25, gate and fusion, filters, building hits.\n")
        lines.append("| size | index | filter | hybrid p50 / p95 | semantic p50 / p95 |")
        lines.append("|---|---|---|---|---|")
        lines.extend(rows)

    for s in stages.values():
        if "faiss_raw" not in s:
            continue
        lines.append(f"\n## FAISS at {s['items']:,} items: IndexFlatIP vs IndexHNSWFlat (single query, 1 thread)\n")
        lines.append("| index | build | search p50 / p95 ms | recall@10 vs exact |")
        lines.append("|---|---|---|---|")
        for ix, row in s["faiss_raw"].items():
            extra = f" (M={row.get('M')}, efSearch={row.get('efSearch')})" if ix == "IndexHNSWFlat" else ""
            lines.append(f"| {ix}{extra} | {_fmt(row['build_s'], ' s')} | {row['search_p50_ms']} / {row['search_p95_ms']} | {row['recall_at_10']} |")
        lines.append("\nHNSW efSearch sweep: " + "; ".join(
            f"ef={ef}: {r['search_p50_ms']} ms p50, recall {r['recall_at_10']}" for ef, r in s["hnsw_ef_sweep"].items()) + ".")
        lines.append("Engine semantic top-10 recall, HNSW vs exact, per filter: " + "; ".join(
            f"{k}: {v}" for k, v in s["engine_semantic_recall_at_10_hnsw_vs_exact"].items()) + ".")

    if "startup" in data:
        st = data["startup"]
        lines.append("\n## Time from process start to first answer\n")
        lines.append(f"`MLSD_HOME=<tmp>/home {st['command']}` with the bundled index already built"
                     f" ({st['evicted_files']} venv/model files evicted from the page cache before the cold run).\n")
        lines.append("| run | wall | ok | top hit | index rebuilt | target |")
        lines.append("|---|---|---|---|---|---|")
        target = TARGETS["first_answer_s_cold"]
        for r in st["runs"]:
            verdict = f"<= {target:g} s: {'met' if r['wall_s'] <= target else 'MISSED'}" if r["run"].startswith("cold") else "-"
            lines.append(f"| {r['run']} | {r['wall_s']} s | {r['ok']} | {r['top_hit']} | {r['rebuilt_index']} | {verdict} |")
        verdict = "met" if st["cold_median_s"] <= target else "MISSED"
        lines.append(f"\nMedian cold {st['cold_median_s']} s (target <= {target:g} s: {verdict}), median warm {st['warm_median_s']} s.")
        b = st.get("breakdown_warm", {})
        if "first_answer_s" in b:
            lines.append(f"\nWarm breakdown (python -c, cumulative): imports {b['import_s']} s, corpus {b['load_corpus_s']} s, "
                         f"index + BM25 {b['open_engine_s']} s, model loaded {b['model_loaded_s']} s, "
                         f"first answer {b['first_answer_s']} s (engine status: {b['status']}).")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------
def run_stage(name: str, workdir: Path, n_queries: int, evict: bool, repeats: int = 1,
              blas_threads: int | None = None) -> dict:
    """Run one stage in a fresh interpreter; its result comes back as JSON in a file."""
    out = workdir / f"result-{name}.json"
    env = {**os.environ, "MLSD_HOME": str(workdir / "home"), "TOKENIZERS_PARALLELISM": "false"}
    if blas_threads is not None:  # numpy's OpenBLAS only; torch and FAISS keep their own settings
        env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_stage", name, "--_workdir", str(workdir),
           "--_result", str(out), "--queries", str(n_queries), "--startup-repeats", str(repeats)]
    if not evict:
        cmd.append("--no-evict")
    print(f"[bench] stage {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
    print(f"[bench] stage {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    if proc.returncode != 0 or not out.exists():
        tail = [line for line in proc.stderr.strip().splitlines() if "Loading weights" not in line][-5:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="bundled,2430,100000", help="comma-separated: bundled, 2430 (the CSV), N (synthetic)")
    parser.add_argument("--queries", type=int, default=100, help="distinct queries per mode and filter (default 100)")
    parser.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up (first answer) runs")
    parser.add_argument("--no-evict", action="store_true", help="do not evict the venv from the page cache before the cold run")
    parser.add_argument("--startup-repeats", type=int, default=1, help="cold/warm start-up pairs to run (default 1)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="set OPENBLAS_NUM_THREADS in the stages (numpy's BLAS threads spin after the engine's "
                             "exact filtered scan and slow the next query encoding; 1 shows the effect of fixing that)")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temp folder, removed after)")
    parser.add_argument("--_stage", help=argparse.SUPPRESS)
    parser.add_argument("--_workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._stage:  # inside a stage subprocess
        stage = args._stage
        if stage == "bundled":
            result = stage_real("bundled", args._workdir, args.queries)
        elif stage == "csv":
            result = stage_real("csv", args._workdir, args.queries)
        elif stage == "startup":
            result = stage_startup(args._workdir, evict=not args.no_evict, repeats=args.startup_repeats)
        else:
            result = stage_synthetic(int(stage), args._workdir, args.queries)
        result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        args._result.write_text(json.dumps(result, indent=2))
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlsd-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    csv_rows = None
    if CSV_PATH.exists():
        with open(CSV_PATH, encoding="utf-8", newline="") as handle:
            csv_rows = sum(1 for _ in csv.DictReader(handle))
    data: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
        "queries": args.queries,
        "openblas_num_threads": args.blas_threads if args.blas_threads is not None else os.environ.get("OPENBLAS_NUM_THREADS"),
        "targets": TARGETS,
        "stages": {},
    }
    try:
        for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
            if size == "bundled":
                data["stages"]["bundled"] = run_stage("bundled", workdir, args.queries, not args.no_evict, blas_threads=args.blas_threads)
            elif size.isdigit() and csv_rows is not None and int(size) == csv_rows:
                data["stages"][f"{size} (case-study CSV)"] = run_stage("csv", workdir, args.queries, not args.no_evict, blas_threads=args.blas_threads)
            elif size.isdigit():
                data["stages"][f"{int(size):,} (synthetic)"] = run_stage(size, workdir, args.queries, not args.no_evict, blas_threads=args.blas_threads)
            else:
                parser.error(f"unknown size {size!r}: use bundled or a number")
        if not args.no_startup:
            data["startup"] = run_stage("startup", workdir, args.queries, not args.no_evict, args.startup_repeats)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(data)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(data, indent=2))
        print(f"\n(JSON written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
