#!/usr/bin/env python
"""Warm hybrid latency with and without the rerank and company boost, interleaved query by query
on eval_search.py's libraries (ONNX query encoder, as the app and the command line search).

    MLSD_HOME=/tmp/rerank-eval .venv/bin/python benchmarks/latency_rerank.py

The bundled library with the main set's queries, the case studies with theirs, topped up with
item titles to 100; each query runs with both settings in turn, so load from other processes
falls on both alike. Prints p50/p95 in ms.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_search as ev  # noqa: E402

import mlsd.search as ms  # noqa: E402

libs = ev.Libraries(ev.corpora_dir(None), legacy_bundled=False)
orig_mask = ms.SearchEngine._company_mask
for lib, setname in (("bundled", "main"), ("case-studies", "casestudies")):
    e = libs.engine(lib)
    queries = [q["query"] for q in ev.read_set(ev.SETS[setname]).queries]
    queries += [i.title for i in e.items[:100 - len(queries)]] if len(queries) < 100 else []
    for q in queries[:8]:
        e.search(q)
    on, off = [], []
    for q in queries:
        for state, out in ((True, on), (False, off)):
            ms.DEPTH = 50 if state else 0
            ms.SearchEngine._company_mask = orig_mask if state else (lambda self, q, m: None)
            t = time.perf_counter()
            e.search(q, k=10)
            out.append(1000 * (time.perf_counter() - t))
    ms.DEPTH = 50
    ms.SearchEngine._company_mask = orig_mask

    def p(v, x):
        return float(np.percentile(v, x))
    print(f"{lib} ({len(e.items)} items, {len(queries)} queries, query encoder: {e.query_status}): "
          f"hybrid p50/p95 with rerank+company {p(on,50):.1f}/{p(on,95):.1f} ms, without {p(off,50):.1f}/{p(off,95):.1f} ms")
