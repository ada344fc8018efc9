"""The vector index on disk: build, save atomically, load, and check against a manifest.

Layout of the index folder (``$MLSD_HOME/index`` or the project's ``index/``)::

    vectors-<sha12>.faiss    the FAISS index (inner product on unit vectors = cosine); an
                             item's vector is the normalized mean of the vectors of its
                             embedded texts (``Item.embedded_texts()``: full text, summary)
    items-<sha12>.json       item ids in vector order, with a hash of the texts embedded
    projection-<sha12>.npy   2-D PCA coordinates of every item, for the map
    query-<sha12>/           the model exported to ONNX for the torch-free query encoder
                             (mlsd.query_path; absent for the HashingEmbedder)
    manifest.json            written last: names the files above and their sha256

The manifest is the commit point. Data files carry their content hash in their names, so a
build that dies halfway leaves the previous manifest pointing at the previous, intact files.
On load, the manifest is checked against the files (sha256), the model, and the current
data (sha256 of the data the index was built from); any mismatch means rebuild.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import flat, paths
from .embed import DIMENSION, MODEL_NAME, TextEmbedder
from .errors import IndexStaleError, SearchIndexError
from .files import atomic_write_bytes
from .manifest import MANIFEST, file_sha256, manifest_files, read_manifest, stored_items
from .model import Item
from .version import __version__

if TYPE_CHECKING:
    import faiss

# 2: one vector per item from two texts (full text and summary), text_sha over both.
# Version 1 indexes are rebuilt, and their vectors (of the full text alone) never reused.
FORMAT_VERSION = 2
# Up to this many vectors an exact flat scan answers in a few milliseconds on 2 cores
# (measured: benchmarks/bench_search.py); beyond it HNSW keeps latency flat.
FLAT_MAX_ITEMS = 50_000
HNSW_NEIGHBORS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256  # recall@10 0.987 vs exact at 100k, 0.8 ms: encoding the query costs 12 ms anyway

Progress = Callable[[int, int], None]


def _faiss() -> Any:
    """FAISS, imported on first use: a search over a flat index never needs it (mlsd.flat)."""
    import faiss

    # One thread answers a single query faster on 2 busy cores (a process-wide setting).
    faiss.omp_set_num_threads(1)
    return faiss


@dataclass
class LoadedIndex:
    """A checked index in memory: the only door to FAISS for the rest of the library.

    Attributes:
        faiss_index: the FAISS index (flat or HNSW), positions = item order; None for a flat
            index loaded as its vectors alone (``flat_vectors``), without importing FAISS.
        ids: item ids in vector order.
        projection: 2-D coordinates per item, for the map.
        manifest: the manifest it was loaded or built with.
        folder: where it lives.
        status: ``loaded``, or how it came to be rebuilt (``rebuilt: the data changed ...``).
        flat_vectors: the vectors of a flat index read without FAISS (``faiss_index`` None).
    """

    faiss_index: faiss.Index | None
    ids: list[str]
    projection: np.ndarray
    manifest: dict
    folder: Path
    status: str = "loaded"
    flat_vectors: np.ndarray | None = None

    def __post_init__(self) -> None:
        index = self.faiss_index
        self._vectors: np.ndarray | None = self.flat_vectors
        # A flat index is scanned in numpy (mlsd.flat: the same answers, no FAISS import); HNSW
        # searches through FAISS, and a filtered query scans HNSW's storage exactly.
        self._exact: Any = None
        if index is None:
            if self._vectors is None:
                raise ValueError("a LoadedIndex needs a FAISS index or the vectors of a flat one")
            self._flat = True
        else:
            self._flat = isinstance(index, _faiss().IndexFlat)
            self._exact = None if self._flat else _faiss().downcast_index(index.storage)

    @property
    def vectors(self) -> np.ndarray:
        """All stored vectors, in item order (reconstructed from the FAISS index)."""
        if self._vectors is None:
            assert self.faiss_index is not None  # checked in __post_init__
            self._vectors = self.faiss_index.reconstruct_n(0, self.faiss_index.ntotal)
        return self._vectors

    def vector(self, position: int) -> np.ndarray:
        """The stored vector of one item, as a (1, dimension) array."""
        if self._flat:
            return self.vectors[position].reshape(1, -1)
        assert self.faiss_index is not None
        return self.faiss_index.reconstruct(position).reshape(1, -1)

    def search(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k nearest items to a (1, dimension) unit vector: ``(position, cosine)``, best first.

        Args:
            vector: the query vector.
            k: how many.
            mask: when given, a boolean array over positions; only allowed positions answer.
        """
        if self._flat:
            return flat.search(self.vectors, vector, k, mask)
        assert self.faiss_index is not None and self._exact is not None
        faiss = _faiss()
        total = self.faiss_index.ntotal
        if total == 0:
            return []
        if mask is None:
            scores, ids = self.faiss_index.search(vector, min(k, total))
        else:
            allowed = int(mask.sum())
            if allowed == 0:
                return []
            # A filtered query scans the allowed rows exactly (the flat storage with a bitmap
            # selector): HNSW with a selective filter misses most true neighbours (recall@10
            # 0.21 measured with a 4% filter at 100k items), and the scan costs ~7 ms at 100k.
            bitmap = np.packbits(mask, bitorder="little")  # must outlive the search
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(bitmap))
            scores, ids = self._exact.search(vector, min(k, allowed), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def item_text_hash(item: Item) -> str:
    """Hash of everything embedded for an item: its vector is reused while this is unchanged."""
    return text_hash("\x1f".join(item.embedded_texts()))


def embed_items(items: Sequence[Item], embedder: TextEmbedder, progress: Progress | None = None) -> np.ndarray:
    """One unit vector per item: the normalized mean of the vectors of its embedded texts.

    Averaging keeps one vector per item, so the index, its size and the query cost are what
    they were with a single text, and the inner product stays a cosine. ``progress`` is
    called with (items done, items).
    """
    if len(items) == 0:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    texts_of = [item.embedded_texts() for item in items]
    flat = [t for texts in texts_of for t in texts]
    ends = np.cumsum([len(texts) for texts in texts_of])  # index in flat after each item's texts
    report = None
    if progress is not None:
        def report(done: int, _total: int) -> None:
            progress(int(np.searchsorted(ends, done, side="right")), len(items))
    encoded = embedder.encode(flat, progress=report)
    starts = np.concatenate([[0], ends[:-1]])
    summed = np.add.reduceat(encoded, starts, axis=0)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return np.ascontiguousarray(summed / np.maximum(norms, 1e-12), dtype=np.float32)


def make_faiss_index(vectors: np.ndarray) -> faiss.Index:
    """Exact inner-product index for small corpora, HNSW for large ones."""
    faiss = _faiss()
    count, dim = vectors.shape
    if count <= FLAT_MAX_ITEMS:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBORS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    if count:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA to two dimensions (deterministic: signs fixed so the map does not flip)."""
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2), dtype=np.float32)
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
    return (centered @ (components * signs[:, None]).T).astype(np.float32)


def load_index(items: Sequence[Item], data_sha256: str, folder: Path | None = None, model: str = MODEL_NAME) -> LoadedIndex:
    """Load the index and check it against the manifest and the current items.

    Args:
        model: the name of the embedder the index must have been built with.

    Raises:
        IndexStaleError: with the reason, when the index is missing, corrupted or stale.
    """
    folder = Path(folder) if folder is not None else paths.index_dir()
    manifest = read_manifest(folder)
    if manifest is None:
        raise IndexStaleError(f"no index has been built in {folder} yet")
    expected = {"format_version": FORMAT_VERSION, "model": model, "dimension": DIMENSION, "metric": "inner_product"}
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise IndexStaleError(f"the manifest's {key} is {manifest.get(key)!r:.100}, expected {value!r}")
    if manifest.get("data_sha256") != data_sha256:
        raise IndexStaleError("the data changed since the index was built")
    files = manifest_files(manifest, folder)
    for path, sha in files.values():
        if not path.is_file():
            raise IndexStaleError(f"the index file {path.name} is missing")
        try:
            if file_sha256(path) != sha:
                raise IndexStaleError(f"the index file {path.name} is corrupted (its sha256 does not match the manifest)")
        except OSError as exc:
            raise IndexStaleError(f"the index file {path.name} cannot be read ({exc.strerror or exc})") from None
    index, vectors = None, None
    try:
        if manifest.get("index_type") == "IndexFlatIP":  # read without FAISS (mlsd.flat)
            vectors = flat.read_flat_vectors(files["vectors"][0], DIMENSION)
        else:
            index = _faiss().read_index(str(files["vectors"][0]))
        stored = stored_items(files["items"][0])
        projection = np.load(files["projection"][0], allow_pickle=False)
    except IndexStaleError:
        raise
    except Exception as exc:  # faiss raises RuntimeError, json ValueError, numpy ValueError/OSError
        raise IndexStaleError(f"the index files could not be read ({type(exc).__name__}: {str(exc)[:200]})") from None
    ids = [item_id for item_id, _ in stored]
    if vectors is not None:
        count, dimension = vectors.shape
    else:
        assert index is not None
        count, dimension = index.ntotal, index.d
    if count != len(ids) or manifest.get("item_count") != len(ids) or dimension != DIMENSION:
        raise IndexStaleError("the index and its manifest disagree on the number of items")
    if getattr(projection, "shape", None) != (len(ids), 2):
        raise IndexStaleError("the index's map projection does not match its items")
    current = [(item.id, item_text_hash(item)) for item in items]
    if current != stored:
        raise IndexStaleError("the items in the index differ from the current data")
    return LoadedIndex(index, ids, projection, manifest, folder, flat_vectors=vectors)


def _previous_vectors(folder: Path, model: str) -> dict[str, np.ndarray]:
    """Vectors of the last good index, by text hash, so unchanged items are not re-encoded."""
    try:
        manifest = read_manifest(folder)
        if not manifest or any(manifest.get(k) != v for k, v in
                               (("format_version", FORMAT_VERSION), ("model", model), ("dimension", DIMENSION))):
            return {}
        files = manifest_files(manifest, folder)
        # Never reuse vectors from damaged files: check them against the manifest first.
        for role in ("vectors", "items"):
            path, sha = files[role]
            if file_sha256(path) != sha:
                return {}
        index = _faiss().read_index(str(files["vectors"][0]))
        stored = stored_items(files["items"][0])
        if index.ntotal != len(stored) or index.d != DIMENSION:
            return {}
        vectors = index.reconstruct_n(0, index.ntotal)
        norms = np.linalg.norm(vectors, axis=1)
        usable = np.isfinite(vectors).all(axis=1) & (np.abs(norms - 1.0) < 1e-3)
        return {text_sha: vectors[i] for i, (_id, text_sha) in enumerate(stored) if usable[i]}
    except Exception:  # any damage just means: encode everything again
        return {}


@dataclass(frozen=True)
class ItemVectors:
    """The vectors of a list of items, in its order, and how many of them had to be encoded."""

    vectors: np.ndarray
    encoded: int
    hashes: tuple[str, ...]  # the items' text hashes: the vectors fit items whose texts hash alike


def item_vectors(items: Sequence[Item], embedder: TextEmbedder, folder: Path | None = None,
                 progress: Progress | None = None, reuse: bool = True) -> ItemVectors:
    """The items' vectors, reusing those of the last good index in ``folder`` and encoding the rest.

    Nothing is written. An import computes them once, files its items from them
    (:mod:`mlsd.assign`), then hands them to :func:`build_index`, which encodes nothing again.

    Args:
        folder: the index folder whose vectors may be reused; ``$MLSD_HOME/index`` by default.
        progress: called with (done, total) while encoding.
        reuse: reuse vectors from the previous index for texts that did not change.
    """
    folder = Path(folder) if folder is not None else paths.index_dir()
    hashes = [item_text_hash(item) for item in items]
    known = _previous_vectors(folder, embedder.name) if reuse else {}
    missing = [i for i, h in enumerate(hashes) if h not in known]
    vectors = np.zeros((len(items), DIMENSION), dtype=np.float32)
    for i, h in enumerate(hashes):
        if h in known:
            vectors[i] = known[h]
    if missing:
        vectors[missing] = embed_items([items[i] for i in missing], embedder, progress=progress)
    elif progress is not None:
        progress(len(items), len(items))
    return ItemVectors(vectors, len(missing), tuple(hashes))


def build_index(
    items: Sequence[Item],
    data_sha256: str,
    embedder: TextEmbedder,
    folder: Path | None = None,
    progress: Progress | None = None,
    reuse: bool = True,
    vectors: ItemVectors | None = None,
) -> LoadedIndex:
    """Embed the items (reusing vectors of items whose texts did not change), write the index, manifest last.

    Args:
        items: every item, in the order the vectors are stored.
        data_sha256: hash of the data the items come from, recorded in the manifest.
        embedder: the model.
        folder: where to write; ``$MLSD_HOME/index`` by default.
        progress: called with (done, total) while encoding.
        reuse: reuse vectors from the previous index for texts that did not change.
        vectors: the items' vectors, already computed by :func:`item_vectors` (nothing is encoded).
    """
    folder = Path(folder) if folder is not None else paths.index_dir()
    started = time.perf_counter()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SearchIndexError(f"cannot create the index folder {folder}: {exc}") from None
    if vectors is None:
        vectors = item_vectors(items, embedder, folder, progress=progress, reuse=reuse)
    hashes = [item_text_hash(item) for item in items]
    if vectors.vectors.shape != (len(items), DIMENSION) or list(vectors.hashes) != hashes:
        raise SearchIndexError("the vectors given were computed for other items (or other texts) than these")
    from .query_path import entry_for_build  # the torch-free query encoder, exported by this model

    return write_index(
        vectors.vectors, [item.id for item in items], hashes, data_sha256, folder,
        extra={"encoded": vectors.encoded, "reused": len(items) - vectors.encoded, "build_seconds": None,
               "query_model": entry_for_build(embedder, folder)},
        started=started, model=embedder.name,
    )


def write_index(
    vectors: np.ndarray,
    ids: list[str],
    hashes: list[str],
    data_sha256: str,
    folder: Path,
    extra: dict | None = None,
    started: float | None = None,
    model: str = MODEL_NAME,
) -> LoadedIndex:
    """Write vectors, ids and projection under content-addressed names, then the manifest.

    Args:
        model: the name of the embedder that made the vectors, recorded in the manifest.
    """
    index = make_faiss_index(vectors)
    projection = project_2d(vectors)
    blobs = {
        "vectors": ("faiss", _faiss().serialize_index(index).tobytes()),
        "items": ("json", json.dumps([{"id": i, "text_sha": h} for i, h in zip(ids, hashes)]).encode("utf-8")),
        "projection": ("npy", _npy_bytes(projection)),
    }
    files = {}
    try:
        for role, (suffix, data) in blobs.items():
            sha = hashlib.sha256(data).hexdigest()
            name = f"{role}-{sha[:12]}.{suffix}"
            if not (folder / name).exists() or file_sha256(folder / name) != sha:
                atomic_write_bytes(folder / name, data)
            files[role] = {"name": name, "sha256": sha}
        info = dict(extra or {})
        if started is not None:
            info["build_seconds"] = round(time.perf_counter() - started, 3)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": model,
            "dimension": DIMENSION,
            "metric": "inner_product",
            "index_type": type(index).__name__,
            "item_count": len(ids),
            "data_sha256": data_sha256,
            "package_version": __version__,
            "built_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "files": files,
            **info,
        }
        atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
    except OSError as exc:
        raise SearchIndexError(f"cannot write the index in {folder}: {exc}") from None
    _remove_unreferenced(folder, {entry["name"] for entry in files.values()})
    from .query_path import remove_unreferenced_models

    query_model = manifest.get("query_model")
    remove_unreferenced_models(folder, query_model.get("folder") if isinstance(query_model, dict) else None)
    return LoadedIndex(index, list(ids), projection, manifest, folder)


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _remove_unreferenced(folder: Path, keep: set[str]) -> None:
    """Delete index files of older builds (and temp files of dead builds)."""
    for path in folder.iterdir():
        stem = path.name.split("-", 1)[0]
        if path.name in keep or path.name == MANIFEST:
            continue
        stale_temp = path.name.startswith((".vectors", ".items", ".projection", ".manifest")) and _age(path) > 3600
        if stem in {"vectors", "items", "projection"} or stale_temp:
            try:
                path.unlink()
            except OSError:
                pass


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def open_index(
    items: Sequence[Item],
    data_sha256: str,
    embedder: TextEmbedder,
    folder: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_rebuild: Callable[[str], None] | None = None,
    vectors: ItemVectors | None = None,
) -> LoadedIndex:
    """Load the index checked against the items; build or rebuild it when needed.

    A missing, stale or corrupted index is rebuilt (never served, never a crash); the reason
    is kept in ``status`` and, before the rebuild starts, given to ``on_rebuild``.

    Args:
        force: re-encode everything, reusing no vector.
        vectors: the items' vectors for a rebuild, already computed (:func:`item_vectors`).
    """
    if force:
        status = "rebuilt on request"
    else:
        try:
            return load_index(items, data_sha256, folder, model=embedder.name)
        except IndexStaleError as exc:
            status = f"rebuilt: {exc}"
            if on_rebuild is not None:
                on_rebuild(str(exc))
    index = build_index(items, data_sha256, embedder, folder, progress=progress, reuse=not force, vectors=vectors)
    index.status = status
    return index
