"""Late-interaction rerank: MiniLM's own token vectors, ColBERT-style MaxSim, over the hybrid top 50.

An item's one vector (the mean of its token vectors) blurs what it says into one direction; a
query word that matches one phrase of an item well counts for little once averaged with the
rest. MaxSim keeps the words apart: for each query token the best-matching token of the item
(cosine), averaged over the query's tokens. It needs no other model: the token vectors come
out of the same forward pass that makes the item's vector at build time
(``encode_with_tokens``), and the query's out of the query encoder's one pass
(:meth:`mlsd.query_encoder.OnnxEncoder.encode_query_tokens`), so no torch at query time.

Hybrid search fuses the MaxSim ranking of its top :data:`DEPTH` with its own ranking by equal
weight reciprocal rank fusion (:func:`mlsd.search.fuse`): MaxSim alone over-rewards items that
repeat one query word, the hybrid rank alone misses the phrase an item shares with the query.
Only queries whose words the library holds are reranked (a keyword hit passed hybrid's gate):
the token vectors of this small model match surface words, and on paraphrases, whose answers
share no word with the query by definition, the rerank promoted look-alikes (nDCG@10 of the
bundled paraphrases 0.749 -> 0.738, of the bundled held-out set 0.779 -> 0.748 and below
semantic search). Gated, it leaves those queries as they were (benchmarks/README.md).

Storage (beside the index, listed in its manifest with their sha256, memory-mapped on load):

    tokens-<sha12>.npy        int8 (tokens, 384): each token vector L2-normalized, divided by
                              its own scale and rounded (cosine error < 0.01)
    token_scales-<sha12>.npy  float16 (tokens,): the scale of each row (max |value| / 127)
    token_offsets-<sha12>.npy int64 (items + 1,): item i's rows are offsets[i]:offsets[i + 1]

At most :data:`MAX_TOKENS` token vectors are kept per item (the first ones: title, company and
the start of the summary), which bounds the store at 100,000 items to 64 x 386 bytes = 25 KB
per item, at most 2.5 GB on disk, of which a query touches 50 items (1.2 MB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_TOKENS = 64  # token vectors kept per item
DEPTH = 50  # hybrid results reranked
_EMPTY = np.zeros((0, 0), dtype=np.float32)
# OpenBLAS multiplies on one thread while m * n * k stays at or below 65536 * 4 (interface/gemm.c).
_ONE_THREAD_PRODUCT = 65536 * 4


@dataclass
class TokenStore:
    """Every item's token vectors, int8 with a per-token float16 scale, in item order.

    Attributes:
        tokens: (rows, dimension) int8, possibly a read-only memory map.
        scales: (rows,) float16.
        offsets: (items + 1,) int64, ascending, from 0 to rows.
    """

    tokens: np.ndarray
    scales: np.ndarray
    offsets: np.ndarray

    @property
    def item_count(self) -> int:
        return len(self.offsets) - 1

    def check(self, item_count: int, dimension: int) -> str | None:
        """What is wrong with the arrays for an index of ``item_count`` items, or None."""
        t, s, o = self.tokens, self.scales, self.offsets
        if t.dtype != np.int8 or t.ndim != 2 or t.shape[1] != dimension:
            return f"the token vectors are {t.dtype} {t.shape}, not int8 (rows, {dimension})"
        if s.dtype != np.float16 or s.shape != (t.shape[0],):
            return "the token scales do not match the token vectors"
        if o.dtype != np.int64 or o.shape != (item_count + 1,):
            return "the token offsets do not match the items"
        if item_count >= 0 and (o[0] != 0 or o[-1] != t.shape[0] or (np.diff(o) < 0).any()):
            return "the token offsets are not ascending from 0 to the number of token vectors"
        return None

    def item_tokens(self, position: int) -> np.ndarray:
        """One item's token vectors, dequantized to float32 (rows, dimension)."""
        start, end = int(self.offsets[position]), int(self.offsets[position + 1])
        return self.tokens[start:end].astype(np.float32) * self.scales[start:end, None].astype(np.float32)

    def maxsim(self, query_tokens: np.ndarray, positions: Sequence[int]) -> np.ndarray:
        """MaxSim of the query against each item: the mean over the query's tokens of the best
        cosine with one of the item's tokens. 0.0 for an item (or a query) without tokens.

        Args:
            query_tokens: (t, dimension) unit rows.
            positions: the items, by position in the index.

        Returns:
            (len(positions),) float32 scores.
        """
        scores = np.zeros(len(positions), dtype=np.float32)
        if len(query_tokens) == 0 or len(positions) == 0:
            return scores
        starts = self.offsets[np.asarray(positions, dtype=np.int64)]
        ends = self.offsets[np.asarray(positions, dtype=np.int64) + 1]
        lengths = ends - starts
        present = np.flatnonzero(lengths > 0)
        if len(present) == 0:
            return scores
        rows = np.concatenate([np.arange(starts[n], ends[n]) for n in present])
        query = np.ascontiguousarray(query_tokens, dtype=np.float32)
        # Dot products with the int8 rows, then each column times its scale. In blocks small
        # enough for OpenBLAS to stay on one thread: a threaded product left its threads
        # spinning and slowed the next query's encoding on 2 busy cores (hybrid p50 at 2,594
        # items 21.5 -> 41.8 ms in one product, 8.0 -> 10.0 ms with one thread).
        similarity = np.empty((len(query), len(rows)), dtype=np.float32)
        step = max(1, _ONE_THREAD_PRODUCT // (len(query) * query.shape[1]))
        for begin in range(0, len(rows), step):
            block = rows[begin:begin + step]
            similarity[:, begin:begin + step] = query @ self.tokens[block].astype(np.float32).T
        similarity *= self.scales[rows].astype(np.float32)[None, :]
        bounds = np.concatenate([[0], np.cumsum(lengths[present])[:-1]])
        best = np.maximum.reduceat(similarity, bounds, axis=1)  # (t, items present)
        scores[present] = best.mean(axis=0)
        return scores


def quantize(token_lists: Sequence[np.ndarray], max_tokens: int = MAX_TOKENS,
             dimension: int | None = None) -> TokenStore:
    """Pack each item's token vectors (unit rows, float32) into a :class:`TokenStore`.

    Args:
        token_lists: per item, (tokens, dimension) float32; the first ``max_tokens`` are kept.
        max_tokens: the cap per item.
        dimension: the vectors' width (needed when every list is empty).
    """
    kept = [np.asarray(t, dtype=np.float32)[:max_tokens] for t in token_lists]
    width = dimension if dimension is not None else next((t.shape[1] for t in kept if t.ndim == 2 and len(t)), 0)
    kept = [t.reshape(-1, width) for t in kept]
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in kept])
    total = int(offsets[-1])
    quantized = np.empty((total, width), dtype=np.int8)
    scales = np.empty(total, dtype=np.float16)
    # Item by item, straight into the int8 rows: one big float32 copy of every token (~180 MB
    # for the case-study list) and five passes over it took 1.3 s of a 2,430-row import.
    for t, start in zip(kept, offsets[:-1]):
        if not len(t):
            continue
        end = start + len(t)
        scale = (np.maximum(np.abs(t).max(axis=1), 1e-8) / 127.0).astype(np.float16)
        scales[start:end] = scale
        # Divide by the float16 scale actually stored, so rounding errors do not add up.
        quantized[start:end] = np.clip(np.rint(t / scale.astype(np.float32)[:, None]), -127, 127)
    return TokenStore(quantized, scales, offsets)


def split(store: TokenStore) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per item, its (int8 rows, float16 scales), to reuse them in another store (:func:`join`).

    Views, not copies: a rebuild that reuses a memory-mapped store reads each reused row once,
    when :func:`join` packs the new store, instead of holding a second copy of it.
    """
    out = []
    for i in range(store.item_count):
        start, end = int(store.offsets[i]), int(store.offsets[i + 1])
        out.append((store.tokens[start:end], store.scales[start:end]))
    return out


def join(parts: Sequence[tuple[np.ndarray, np.ndarray]], dimension: int) -> TokenStore:
    """A store from per-item (int8 rows, float16 scales) pairs, in item order (see :func:`split`)."""
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(rows) for rows, _ in parts])
    tokens = (np.concatenate([rows for rows, _ in parts]) if parts else np.zeros((0, dimension), dtype=np.int8))
    scales = (np.concatenate([s for _, s in parts]) if parts else np.zeros(0, dtype=np.float16))
    return TokenStore(tokens.reshape(-1, dimension).astype(np.int8, copy=False), scales.astype(np.float16, copy=False),
                      offsets)


def query_tokens(encoder: object, query: str) -> tuple[np.ndarray, np.ndarray]:
    """The query's (1, dimension) vector and its (t, dimension) token vectors, from one pass of
    the encoder in use: the ONNX export's ``encode_query_tokens``, else ``encode_with_tokens``
    (sentence-transformers in the fallback, the HashingEmbedder of the fast tests). An encoder
    with neither gives its ``encode_query`` vector and no tokens (no rerank)."""
    if hasattr(encoder, "encode_query_tokens"):
        vector, tokens = encoder.encode_query_tokens(query)
        return vector, tokens
    if hasattr(encoder, "encode_with_tokens"):
        vectors, token_lists = encoder.encode_with_tokens([query])
        return vectors[:1], token_lists[0] if token_lists else _EMPTY
    return encoder.encode_query(query), _EMPTY  # type: ignore[attr-defined]



def late_order(store: TokenStore, query_token_vectors: np.ndarray, positions: Sequence[int]) -> list[int]:
    """The positions ordered by MaxSim with the query, best first (ties keep the given order).

    Hybrid search fuses this order with its own over its top :data:`DEPTH`
    (:meth:`mlsd.search.SearchEngine.search`).
    """
    scores = store.maxsim(query_token_vectors, positions)
    return [positions[n] for n in np.argsort(-scores, kind="stable")]
