"""The exact vector scan in numpy: a flat index answered without importing FAISS.

A flat index is an exact scan anyway: one dot product per item. Importing FAISS and reading
the index through it costs a cold ``mlsd search`` about 0.1 s (more under load), while the scan
itself, with ``np.vecdot`` (a plain loop per row, no BLAS threads that keep spinning on 2
shared cores after the call), costs about what FAISS's own scan does up to the largest flat
index (``FLAT_MAX_ITEMS``; ``benchmarks/bench_flat_scan.py``). HNSW indexes stay with FAISS.

The vectors are read straight from the FAISS file (``IndexFlatIP``, written by
``faiss.serialize_index``): a fourcc, the header, then the vectors as little-endian float32.
Anything else in the file is refused, so a damaged or foreign file is a stale index.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .errors import IndexStaleError

FOURCC = b"IxFI"  # faiss: IndexFlat with METRIC_INNER_PRODUCT
_HEADER = struct.Struct("<4siqqq?iQ")  # fourcc, d, ntotal, 2 x unused, is_trained, metric, floats that follow
METRIC_INNER_PRODUCT = 0


def read_flat_vectors(path: Path, dimension: int) -> np.ndarray:
    """The vectors of a FAISS ``IndexFlatIP`` file, as an (n, dimension) float32 array.

    Raises:
        IndexStaleError: the file is not a flat inner-product index of that dimension.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER.size)
            if len(header) != _HEADER.size:
                raise IndexStaleError(f"the index file {path.name} is too short to be a flat index")
            fourcc, d, total, _, _, _, metric, floats = _HEADER.unpack(header)
            if fourcc != FOURCC or metric != METRIC_INNER_PRODUCT or d != dimension or total < 0 or floats != total * d:
                raise IndexStaleError(f"the index file {path.name} is not a flat inner-product index of dimension {dimension}")
            vectors = np.fromfile(handle, dtype="<f4", count=floats)
            if len(vectors) != floats or handle.read(1):
                raise IndexStaleError(f"the index file {path.name} does not hold {total} vectors exactly")
    except OSError as exc:
        raise IndexStaleError(f"the index file {path.name} cannot be read ({exc.strerror or exc})") from None
    return vectors.astype(np.float32, copy=False).reshape(total, d)


def search(vectors: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The k rows of ``vectors`` with the largest inner product with ``query`` (1, d).

    Ties fall as FAISS's flat scan lets them fall, so both answer alike: among equal scores the
    lower positions are kept, and listed highest position first.

    Args:
        mask: when given, a boolean array over rows; only allowed rows answer.

    Returns:
        ``(row, score)`` pairs, best first.
    """
    candidates = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    k = min(k, len(candidates))
    if k <= 0:
        return []
    # Every row is scored, then the allowed ones kept: cheaper than copying the allowed rows out.
    scores = np.vecdot(vectors, query[0].astype(np.float32, copy=False))
    if mask is not None:
        scores = scores[candidates]
    if k < len(candidates):
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th largest score
        above = np.flatnonzero(scores > kth)
        chosen = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
    else:
        chosen = np.arange(len(candidates))
    order = chosen[np.lexsort((-chosen, -scores[chosen]))]
    return [(int(candidates[i]), float(scores[i])) for i in order]
