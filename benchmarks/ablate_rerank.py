#!/usr/bin/env python
"""Ablations of hybrid search's rerank and company boost, hybrid nDCG@10 only, in one process.

    MLSD_HOME=/tmp/rerank-eval .venv/bin/python benchmarks/ablate_rerank.py main,casestudies,appliedml,benchmarks/queries_newtopics.yaml

Opens each set's library as eval_search.py does (built on first use under $MLSD_HOME/eval/),
then scores every variant: the rerank on or off (``mlsd.search.DEPTH``), gated by keyword hits
or not (``RERANK_NEEDS_WORDS``), the company boost off or at several values (``COMPANY_BOOST``),
and 32 token vectors per item instead of 64 (the stored ones, cut). Prints per set the mean
nDCG@10, the mean over the queries naming a company and the median latency (loaded machine:
compare within a run), then the companies each query names against the set's `company` key.
Tune on main, casestudies, appliedml and newtopics only, never on the held-out sets.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_search as ev  # noqa: E402

import mlsd.search as ms  # noqa: E402
from mlsd.rerank import TokenStore  # noqa: E402

names = sys.argv[1].split(",")
libs = ev.Libraries(ev.corpora_dir(None), legacy_bundled=False)
sets = [ev.read_set(ev.SETS.get(n) or Path(n)) for n in names]
engines = {}
for qs in sets:
    for lib in qs.libraries:
        if lib not in engines:
            engines[lib] = libs.engine(lib)
    ev.resolve_labels(qs, {lib: ev.Resolver(engines[lib].corpus) for lib in qs.libraries})

original_mask = ms.SearchEngine._company_mask
full_tokens = {lib: e.index.tokens for lib, e in engines.items()}

def capped(store, cap):
    starts, ends = store.offsets[:-1], np.minimum(store.offsets[1:], store.offsets[:-1] + cap)
    rows = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
    offsets = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    return TokenStore(np.asarray(store.tokens[rows]), np.asarray(store.scales[rows]), offsets)

capped_tokens = {}
def configure(depth, boost, company, cap=None, needs_words=False):
    ms.RERANK_NEEDS_WORDS = needs_words
    ms.DEPTH = depth
    ms.COMPANY_BOOST = boost
    ms.SearchEngine._company_mask = original_mask if company else (lambda self, q, m: None)
    for lib, e in engines.items():
        if cap is None:
            e.index.tokens = full_tokens[lib]
        else:
            key = (lib, cap)
            if key not in capped_tokens:
                capped_tokens[key] = capped(full_tokens[lib], cap)
            e.index.tokens = capped_tokens[key]

variants = {
    "main (no rerank, no company)": (0, 0.0, False),
    "rerank gated by words only": (50, 0.0, False, None, True),
    "rerank gated by words + company 0.10": (50, 0.10, True, None, True),
    "rerank gated by words + company 0.05": (50, 0.05, True, None, True),
    "rerank gated by words + company 0.20": (50, 0.20, True, None, True),
    "rerank only": (50, 0.0, False),
    "company boost 0.10 only": (0, 0.10, True),
    "rerank + company 0.00 (candidates only)": (50, 0.0, True),
    "rerank + company 0.05": (50, 0.05, True),
    "rerank + company 0.10": (50, 0.10, True),
    "rerank + company 0.20": (50, 0.20, True),
    "rerank cap 32 + company 0.10": (50, 0.10, True, 32),
    "rerank depth 30 + company 0.10": (30, 0.10, True),
}
for vname, cfg in variants.items():
    configure(*cfg)
    row = {}
    for qs in sets:
        vals, comp, lat = [], [], []
        for q in qs.queries:
            e = engines[q["library"]]
            t = time.perf_counter()
            ranked = [h.id for h in e.search(q["query"], k=10)]
            lat.append(time.perf_counter() - t)
            n = ev.score(ranked, q["relevant"], 10)["ndcg"]
            vals.append(n)
            if q["company"]:
                comp.append(n)
        row[qs.name] = (np.mean(vals), np.mean(comp) if comp else None, 1000 * np.median(lat))
    print(vname, " | ".join(f"{s}: {v[0]:.3f}" + (f" (company {v[1]:.3f})" if v[1] is not None else "") + f" p50 {v[2]:.0f}ms" for s, v in row.items()), flush=True)

configure(50, 0.10, True, None, True)
print("\nnamed companies vs the set's `company` key:")
for qs in sets:
    for q in qs.queries:
        named = engines[q["library"]].named_companies(q["query"])
        if named or q["company"]:
            mark = "" if (q["company"] and named and engines[q["library"]].corpus.company_name(engines[q["library"]].corpus.resolve_company(q["company"]) or q["company"]) in named) else "  <-- differs"
            print(f"  [{qs.name}] {q['query']!r}: named {named}, labelled {q['company']!r}{mark}")
