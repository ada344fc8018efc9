"""The cold search path (issue 14): BM25 without bm25s, the flat scan without FAISS, the export's
sha256 checked once and then trusted while its files are untouched. Each gives the answers of
what it replaces; a damaged file is still caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUERY_SETS = ["queries.yaml", "queries_heldout.yaml", "queries_newtopics.yaml", "queries_offtopic.yaml"]
# Prints, at exit, which of these modules a `python -m mlsd.cli ...` run imported.
PROBE = (
    "import atexit, json, runpy, sys\n"
    "NAMES = ('faiss', 'scipy', 'bm25s', 'tqdm', 'torch')\n"
    "atexit.register(lambda: print('LOADED=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(NAMES))),"
    " file=sys.stderr))\n"
    "sys.argv = ['mlsd'] + sys.argv[1:]\n"
    "runpy.run_module('mlsd.cli', run_name='__main__', alter_sys=True)\n"
)


def benchmark_queries() -> list[str]:
    import yaml

    return [str(e["query"]) for name in QUERY_SETS
            for e in yaml.safe_load((ROOT / "benchmarks" / name).read_text(encoding="utf-8"))["queries"]]


def loaded_modules(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("LOADED=")]
    assert lines, stderr[-2000:]
    return json.loads(lines[-1].removeprefix("LOADED="))


# -- BM25 ------------------------------------------------------------------------------------------
def test_bm25_gives_the_scores_of_bm25s_bit_for_bit(corpus):
    import bm25s

    from mlsd.bm25 import BM25
    from mlsd.tokens import Tokenizer

    tokenizer = Tokenizer()
    documents = [tokenizer(item.embedding_text()) for item in corpus.items]
    documents += [[], ["cold", "cold", "cold"], documents[0][:3]]  # an empty one, repeats, a near-copy
    reference = bm25s.BM25()
    reference.index([d or [""] for d in documents], show_progress=False)
    ours = BM25(documents)
    queries = [tokenizer(q) for q in benchmark_queries()] + [d[:6] for d in documents[::5]]
    queries += [["cold", "cold", "start"], ["zzzunknown"], ["zzzunknown", "cold"]]
    compared = 0
    for query in (q for q in queries if q):
        expected = reference.get_scores(query)
        got = ours.get_scores(query)
        assert got.dtype == expected.dtype == np.float32
        assert np.array_equal(got, expected), (query, np.abs(got - expected).max())
        compared += 1
    assert compared > 200


def test_the_stop_words_copied_from_bm25s_are_its_own():
    from bm25s.stopwords import STOPWORDS_EN

    from mlsd.tokens import BM25S_STOPWORDS

    assert BM25S_STOPWORDS == frozenset(STOPWORDS_EN)
