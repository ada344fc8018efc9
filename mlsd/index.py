"""The vector index on disk: build, save atomically, load, and check against a manifest.

Layout of the index folder (``$MLSD_HOME/index`` or the project's ``index/``)::

    vectors-<sha12>.faiss    the FAISS index (inner product on unit vectors = cosine); an
                             item's vector is the normalized mean of the vectors of its
                             embedded texts (``Item.embedded_texts()``: full text, summary)
    items-<sha12>.json       item ids in vector order, with a hash of the texts embedded
    projection-<sha12>.npy   2-D PCA coordinates of every item, for the map
    tokens-<sha12>.npy, token_scales-<sha12>.npy, token_offsets-<sha12>.npy
                             every item's token vectors for the late-interaction rerank
                             (int8, a float16 scale per token, per-item offsets: mlsd.rerank),
                             memory-mapped on load
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
from .rerank import MAX_TOKENS, TokenStore, join, quantize, split
from .stamps import sha256_matches
from .version import __version__

if TYPE_CHECKING:
    import faiss

# 2: one vector per item from two texts (full text and summary), text_sha over both.
# Version 1 indexes are rebuilt, and their vectors (of the full text alone) never reused.
# 3: plus every item's token vectors (mlsd.rerank). A version 2 index has none: it is rebuilt,
# and its vectors are not reused (the tokens come from the same forward pass anyway).
FORMAT_VERSION = 3
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
        tokens: every item's token vectors for the rerank; None for an index written without
            them (synthetic benchmark corpora), which hybrid search then does not rerank.
    """

    faiss_index: faiss.Index | None
    ids: list[str]
    projection: np.ndarray
    manifest: dict
    folder: Path
    status: str = "loaded"
    flat_vectors: np.ndarray | None = None
    tokens: TokenStore | None = None

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
    return embed_items_with_tokens(items, embedder, progress, with_tokens=False)[0]


def embed_items_with_tokens(items: Sequence[Item], embedder: TextEmbedder, progress: Progress | None = None,
                            with_tokens: bool = True) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each item's unit vector (see :func:`embed_items`) and, from the same forward pass, the
    token vectors of its full text (``embedding_text()``, the first embedded text), at most
    ``MAX_TOKENS`` of them: what the rerank compares a query's tokens with.

    An embedder without ``encode_with_tokens`` gives no tokens (empty lists).
    """
    if len(items) == 0:
        return np.zeros((0, DIMENSION), dtype=np.float32), []
    texts_of = [item.embedded_texts() for item in items]
    flat = [t for texts in texts_of for t in texts]
    ends = np.cumsum([len(texts) for texts in texts_of])  # index in flat after each item's texts
    report = None
    if progress is not None:
        def report(done: int, _total: int) -> None:
            progress(int(np.searchsorted(ends, done, side="right")), len(items))
    starts = np.concatenate([[0], ends[:-1]])
    encode_with_tokens = getattr(embedder, "encode_with_tokens", None) if with_tokens else None
    if encode_with_tokens is not None:
        encoded, token_lists = encode_with_tokens(flat, progress=report)
        tokens = [np.asarray(token_lists[int(start)][:MAX_TOKENS], dtype=np.float32) for start in starts]
    else:
        encoded = embedder.encode(flat, progress=report)
        tokens = [np.zeros((0, DIMENSION), dtype=np.float32) for _ in items]
    summed = np.add.reduceat(encoded, starts, axis=0)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return np.ascontiguousarray(summed / np.maximum(norms, 1e-12), dtype=np.float32), tokens


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
            # Read in full once, then trusted while the file is provably untouched (mlsd.stamps):
            # the token store alone is 1.6 GB at 100k items, 1.6-2.5 s of every process's first search.
            if not sha256_matches(path, sha):
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
        tokens = _load_tokens(files)
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
    problem = tokens.check(len(ids), DIMENSION) if tokens is not None else None
    if problem:
        raise IndexStaleError(problem)
    current = [(item.id, item_text_hash(item)) for item in items]
    if current != stored:
        raise IndexStaleError("the items in the index differ from the current data")
    return LoadedIndex(index, ids, projection, manifest, folder, flat_vectors=vectors, tokens=tokens)


def _load_tokens(files: dict[str, tuple[Path, str]]) -> TokenStore | None:
    """The token store the manifest lists, memory-mapped (read-only); None when it lists none."""
    if "tokens" not in files:
        return None
    return TokenStore(np.load(files["tokens"][0], mmap_mode="r", allow_pickle=False),
                      np.load(files["token_scales"][0], allow_pickle=False),
                      np.load(files["token_offsets"][0], allow_pickle=False))


Known = dict[str, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]


def _previous_vectors(folder: Path, model: str) -> Known:
    """Vectors and token vectors of the last good index, by text hash, so unchanged items are
    not re-encoded (an index without tokens gives nothing to reuse)."""
    try:
        manifest = read_manifest(folder)
        if not manifest or any(manifest.get(k) != v for k, v in
                               (("format_version", FORMAT_VERSION), ("model", model), ("dimension", DIMENSION))):
            return {}
        files = manifest_files(manifest, folder)
        if "tokens" not in files:
            return {}
        # Never reuse vectors from damaged files: check them against the manifest first.
        for role in ("vectors", "items", "tokens", "token_scales", "token_offsets"):
            path, sha = files[role]
            if file_sha256(path) != sha:
                return {}
        index = _faiss().read_index(str(files["vectors"][0]))
        stored = stored_items(files["items"][0])
        tokens = _load_tokens(files)
        if index.ntotal != len(stored) or index.d != DIMENSION or tokens is None or tokens.check(len(stored), DIMENSION):
            return {}
        vectors = index.reconstruct_n(0, index.ntotal)
        norms = np.linalg.norm(vectors, axis=1)
        usable = np.isfinite(vectors).all(axis=1) & (np.abs(norms - 1.0) < 1e-3)
        parts = split(tokens)
        return {text_sha: (vectors[i], parts[i]) for i, (_id, text_sha) in enumerate(stored) if usable[i]}
    except Exception:  # any damage just means: encode everything again
        return {}


@dataclass(frozen=True)
class ItemVectors:
    """The vectors of a list of items, in its order, and how many of them had to be encoded."""

    vectors: np.ndarray
    encoded: int
    hashes: tuple[str, ...]  # the items' text hashes: the vectors fit items whose texts hash alike
    tokens: tuple[tuple[np.ndarray, np.ndarray], ...]  # each item's int8 token rows and scales (mlsd.rerank)


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
    empty = (np.zeros((0, DIMENSION), dtype=np.int8), np.zeros(0, dtype=np.float16))
    parts = [empty] * len(items)
    for i, h in enumerate(hashes):
        if h in known:
            vectors[i], parts[i] = known[h]
    if missing:
        new_vectors, new_tokens = embed_items_with_tokens([items[i] for i in missing], embedder, progress=progress)
        vectors[missing] = new_vectors
        for i, part in zip(missing, split(quantize(new_tokens, dimension=DIMENSION))):
            parts[i] = part
    elif progress is not None:
        progress(len(items), len(items))
    return ItemVectors(vectors, len(missing), tuple(hashes), tuple(parts))


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
    if (vectors.vectors.shape != (len(items), DIMENSION) or list(vectors.hashes) != hashes
            or len(vectors.tokens) != len(items)):
        raise SearchIndexError("the vectors given were computed for other items (or other texts) than these")
    from .query_path import entry_for_build  # the torch-free query encoder, exported by this model

    return write_index(
        vectors.vectors, [item.id for item in items], hashes, data_sha256, folder,
        extra={"encoded": vectors.encoded, "reused": len(items) - vectors.encoded, "build_seconds": None,
               "query_model": entry_for_build(embedder, folder), "max_tokens_per_item": MAX_TOKENS},
        started=started, model=embedder.name, tokens=join(list(vectors.tokens), DIMENSION),
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
    tokens: TokenStore | None = None,
) -> LoadedIndex:
    """Write vectors, ids, projection and token store under content-addressed names, then the manifest.

    Args:
        model: the name of the embedder that made the vectors, recorded in the manifest.
        tokens: the items' token vectors for the rerank (None: an index searched without it).
    """
    index = make_faiss_index(vectors)
    projection = project_2d(vectors)
    blobs = {
        "vectors": ("faiss", _faiss().serialize_index(index).tobytes()),
        "items": ("json", json.dumps([{"id": i, "text_sha": h} for i, h in zip(ids, hashes)]).encode("utf-8")),
        "projection": ("npy", _npy_bytes(projection)),
    }
    if tokens is not None:
        problem = tokens.check(len(ids), DIMENSION)
        if problem:
            raise SearchIndexError(f"cannot write the index: {problem}")
        blobs.update({"tokens": ("npy", _npy_bytes(np.asarray(tokens.tokens))),
                      "token_scales": ("npy", _npy_bytes(np.asarray(tokens.scales))),
                      "token_offsets": ("npy", _npy_bytes(np.asarray(tokens.offsets)))})
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
    loaded_tokens = _load_tokens({role: (folder / entry["name"], entry["sha256"]) for role, entry in files.items()})
    return LoadedIndex(index, list(ids), projection, manifest, folder, tokens=loaded_tokens)


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
        stale_temp = path.name.startswith((".vectors", ".items", ".projection", ".token", ".manifest")) and _age(path) > 3600
        if stem in {"vectors", "items", "projection", "tokens", "token_scales", "token_offsets"} or stale_temp:
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
