#!/usr/bin/env python
"""The token rerank at scale: hybrid search over N synthetic items (default 100,000) with and
without the token store, interleaved query by query; the store's size on disk, the time to
load the index (which checks every file's sha256), and peak memory.

    .venv/bin/python benchmarks/bench_rerank_scale.py --items 100000 --workdir /tmp/rerank-scale

Items and vectors come from `bench_search.synthetic_items` (real bundled and case-study
vectors plus noise, texts sampled from the real words). Each synthetic item gets the real
int8 token rows of the item it was derived from, so the store has the real count and
distribution of tokens per item (at most `MAX_TOKENS`). Queries are encoded beforehand
(sentence vector and token vectors, the real model): the timings are what a search costs
besides the encoder (FAISS HNSW, BM25, fusion, the rerank, the company boost), plus the
encoder's own p50 printed beside them.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import (  # noqa: E402
    CSV_PATH,
    ItemsCorpus,
    PrecomputedEmbedder,
    csv_items,
    encode_latency,
    file_sha256,
    latency_queries,
    pct,
    rss_mb,
    synthetic_items,
    timed,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rerank-scale"))
    args = parser.parse_args()

    from mlsd.corpus import load_corpus
    from mlsd.index import build_index, item_text_hash, load_index, write_index
    from mlsd.rerank import join, split
    from mlsd.search import SearchEngine

    args.workdir.mkdir(parents=True, exist_ok=True)
    (items, vectors, embedder), t_gen = timed(synthetic_items, args.items, args.workdir)
    # The token rows of the real items the synthetic ones were drawn from (same seed, same draw).
    corpus = load_corpus()
    stores = [build_index(list(corpus.items), corpus.data_hash, embedder, args.workdir / "home" / "index").tokens]
    if CSV_PATH.exists():
        stores.append(build_index(csv_items(), file_sha256(CSV_PATH), embedder, args.workdir / "csv-index").tokens)
    parts = [part for store in stores for part in split(store)]
    source = np.random.default_rng(7).integers(0, len(parts), size=args.items)
    tokens = join([parts[s] for s in source], vectors.shape[1])
    ids = [i.id for i in items]
    hashes = [item_text_hash(i) for i in items]
    folder = args.workdir / f"syn-{args.items}"
    folder.mkdir(parents=True, exist_ok=True)
    _, t_write = timed(write_index, vectors, ids, hashes, f"synthetic-{args.items}", folder, tokens=tokens)
    del tokens, parts, stores
    sizes = {p.name.split("-")[0]: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    rss_before_load = rss_mb()
    index, t_load = timed(load_index, items, f"synthetic-{args.items}", folder)
    _, t_load_again = timed(load_index, items, f"synthetic-{args.items}", folder)
    items_corpus = ItemsCorpus(items)
    engine = SearchEngine(items_corpus, index, embedder)
    queries, warmup = latency_queries(args.queries)
    engine.query_encoder = PrecomputedEmbedder(embedder, queries + warmup)
    plain = copy.copy(engine)
    plain.index = copy.copy(engine.index)
    plain.index.tokens = None  # the same index searched without the rerank
    for q in warmup:
        engine.search(q, k=10)
        plain.search(q, k=10)
    times: dict[str, list[float]] = {"rerank": [], "no rerank": []}
    reranked = 0
    for q in queries:
        for name, e in (("rerank", engine), ("no rerank", plain)) if len(times["rerank"]) % 2 == 0 else \
                (("no rerank", plain), ("rerank", engine)):
            started = time.perf_counter()
            hits = e.search(q, k=10)
            times[name].append((time.perf_counter() - started) * 1000)
            if name == "rerank":
                reranked += any("keyword" in h.signals for h in hits)  # the gate passed: reranked
    result = {
        "items": args.items, "generate_s": round(t_gen, 1), "write_index_s": round(t_write, 1),
        "index_type": type(index.faiss_index).__name__ if index.faiss_index is not None else "flat (numpy)",
        "disk_mb": {k: round(v / 2**20, 1) for k, v in sorted(sizes.items())},
        "token_rows": int(index.tokens.offsets[-1]) if index.tokens is not None else 0,
        "load_index_s": round(t_load, 2), "load_index_again_s": round(t_load_again, 2),
        "queries": len(queries), "queries_reranked": reranked,
        "hybrid_ms_without_encoding": {name: {"p50": pct(ts, 50), "p95": pct(ts, 95)} for name, ts in times.items()},
        "encode_query_ms": encode_latency(embedder, queries),
        "peak_rss_mb_before_load": rss_before_load, "peak_rss_mb": rss_mb(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
