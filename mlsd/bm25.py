"""BM25 keyword scores in plain numpy: the scores of ``bm25s`` (Lucene variant), without it.

``bm25s`` imports scipy, tqdm and multiprocessing (0.3-1 s of a cold ``mlsd search`` on this
project's 2 cores, more than the whole query encoder) to build a sparse matrix that, for a few
thousand items, is a few thousand numbers. This module builds the same matrix (one column of
``(document, score)`` postings per stem, columns in a flat array) and scores a query the way
``bm25s.BM25.get_scores`` does: the same float32 per-posting scores, summed in query-token order,
so the scores are bit-for-bit those of ``bm25s`` (a test compares them on the bundled corpus).

Per posting: ``idf * tf / (tf + k1 * (1 - b + b * length / average length))`` with
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, k1 = 1.5, b = 0.75 (bm25s' defaults).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

K1 = 1.5
B = 0.75


class BM25:
    """A BM25 index over tokenized documents (thread-safe: read-only once built).

    Args:
        documents: each document's tokens (stems), in item order. An empty document is indexed
            as the single token ``""`` (as the engine gave bm25s), so document lengths match.

    Attributes:
        vocabulary: token -> column.
        indptr: column c's postings are ``[indptr[c], indptr[c + 1])``.
        documents: the posting's document, ascending within a column.
        scores: the posting's BM25 score (float32).
    """

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        documents = [list(d) or [""] for d in documents]
        vocabulary: dict[str, int] = {}
        for tokens in documents:
            for token in tokens:
                vocabulary.setdefault(token, len(vocabulary))
        count = len(documents)
        # bm25s: np.array(lengths).mean() is a float64 scalar, so the length normalization and
        # the tf component are computed in float64 and only the product is stored as float32.
        average = np.array([len(d) for d in documents]).mean() if documents else np.float64(1.0)
        counts = [Counter(vocabulary[t] for t in tokens) for tokens in documents]
        rows = np.fromiter((doc for doc, c in enumerate(counts) for _ in c), dtype=np.int32)
        column = np.fromiter((t for c in counts for t in c), dtype=np.int64, count=len(rows))
        tf = np.fromiter((n for c in counts for n in c.values()), dtype=np.float32, count=len(rows))
        frequency = np.bincount(column, minlength=len(vocabulary))
        idf = np.array([math.log(1 + (count - df + 0.5) / (df + 0.5)) for df in frequency.tolist()], dtype=np.float32)
        lengths = np.array([len(d) for d in documents], dtype=np.float64)
        tfc = tf / (K1 * ((1 - B) + B * lengths[rows] / average) + tf)  # float64, as bm25s per document
        order = np.argsort(column, kind="stable")  # by column, documents ascending within one
        self.vocabulary = vocabulary
        self.count = count
        self.documents = rows[order]
        self.scores = (idf[column] * tfc).astype(np.float32)[order]
        self.indptr = np.concatenate([[0], np.cumsum(frequency)]).astype(np.int64)

    def get_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Every document's BM25 score for the query tokens (float32; a repeated token counts
        again, an unknown token adds nothing), as ``bm25s.BM25.get_scores``."""
        scores = np.zeros(self.count, dtype=np.float32)
        for token in tokens:
            column = self.vocabulary.get(token)
            if column is None:
                continue
            start, end = self.indptr[column], self.indptr[column + 1]
            scores[self.documents[start:end]] += self.scores[start:end]  # one posting per document
        return scores
