"""Which encoder answers queries: the ONNX export beside the index, or sentence-transformers.

- At build time (:func:`entry_for_build`, called by :func:`mlsd.index.build_index`): the
  previous export is kept when its files still match their sha256, otherwise the model that
  encoded the items (torch already loaded) is exported again. The result is the manifest's
  ``query_model`` entry. An embedder without an ONNX form (the ``HashingEmbedder`` of the fast
  tests) gets none, and neither does a build whose export failed: search then falls back.
- At search time (:func:`open_query_path`, called by :func:`mlsd.search.open_engine`): the
  export named in the manifest is checked (every file's sha256, the onnxruntime version) and
  opened. When it is missing, damaged or cannot run, queries are encoded by
  sentence-transformers instead (the same vectors, only slower to start), the model is
  exported again and the manifest updated, so the next process is fast again.

Nothing here imports torch unless the fallback needs it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from .embed import Embedder, TextEmbedder, model_dir
from .errors import IndexStaleError, ModelMissingError, QueryModelError, SearchIndexError
from .files import atomic_write_bytes
from .manifest import MANIFEST, read_manifest
from .query_encoder import FOLDER_PATTERN, open_query_encoder, verify_files

STAGING_PREFIX = ".query-"
# "sentence-transformers" makes search encode queries as before the export (benchmarks compare).
QUERY_ENCODER_ENV = "MLSD_QUERY_ENCODER"
STALE_STAGING_SECONDS = 3600


def exportable(embedder: object) -> TypeGuard[Embedder]:
    """Whether the embedder is the real model (sentence-transformers), which has an ONNX form."""
    return isinstance(embedder, Embedder)


def export(embedder: Embedder, folder: Path) -> dict:
    """Export the embedder's model beside the index in ``folder`` (loads it: torch is imported).

    Raises:
        QueryModelError: the export or its checks failed.
    """
    from .query_export import export_query_model

    return export_query_model(embedder.model, model_dir(), folder)


def entry_for_build(embedder: Any, folder: Path) -> dict | None:
    """The ``query_model`` entry for an index about to be written in ``folder``.

    The previous manifest's entry when its files still check (nothing exported), else a fresh
    export; None for an embedder with no ONNX form, or when the export failed (search then
    falls back to sentence-transformers and tries again).
    """
    if not exportable(embedder):
        return None
    try:
        previous = (read_manifest(folder) or {}).get("query_model")
        verify_files(previous, folder)
        return previous
    except (QueryModelError, IndexStaleError):
        pass
    try:
        return export(embedder, folder)
    except ModelMissingError:  # QueryModelError, or no model package: the index is still written
        return None


def open_query_path(index: Any, embedder: TextEmbedder,
                    on_fallback: Callable[[str], None] | None = None, few_queries: bool = False) -> tuple[Any, str]:
    """The encoder search should encode queries with, and a status line saying which.

    Args:
        index: the loaded index (:class:`mlsd.index.LoadedIndex`): its manifest and folder.
        embedder: the build-time embedder (sentence-transformers, or the HashingEmbedder).
        on_fallback: told why, before the fallback loads sentence-transformers and exports.
        few_queries: the process encodes a query or two (``mlsd search "..."``): the ONNX session
            skips weight prepacking, cheaper to create, slower per query.

    Returns:
        ``(encoder, status)``: the ONNX encoder and ``"onnx"``; the embedder itself when it has
        no ONNX form; or, when the export is missing or damaged, the embedder and a status
        starting with ``"fallback: "`` (the export rebuilt, or why it could not be).
    """
    if not exportable(embedder):
        return embedder, "no onnx form"
    if os.environ.get(QUERY_ENCODER_ENV, "").strip().lower() == "sentence-transformers":
        return embedder, f"sentence-transformers ({QUERY_ENCODER_ENV})"
    try:
        return open_query_encoder(index.manifest.get("query_model"), index.folder, prepack=not few_queries), "onnx"
    except QueryModelError as exc:
        reason = str(exc)
    if on_fallback is not None:
        on_fallback(reason)
    try:
        entry = export(embedder, index.folder)
        record(index, entry)
        return embedder, f"fallback: {reason}; exported again"
    except (QueryModelError, SearchIndexError) as exc:
        return embedder, f"fallback: {reason}; not exported again: {exc}"


def record(index: Any, entry: dict) -> None:
    """Write a fresh export's entry into the index's manifest (and the loaded copy).

    Only when the manifest on disk is still the one the index was loaded with (same files, same
    data): an index rebuilt meanwhile by another process keeps its own entry.

    Raises:
        SearchIndexError: the manifest changed meanwhile, or cannot be written.
    """
    folder = Path(index.folder)
    try:
        current = read_manifest(folder)
    except IndexStaleError as exc:
        raise SearchIndexError(str(exc)) from None
    same = current is not None and all(current.get(k) == index.manifest.get(k) for k in ("files", "data_sha256", "model"))
    if not same or current is None:
        raise SearchIndexError("the index was rebuilt meanwhile: the export is left to its build")
    current["query_model"] = entry
    try:
        atomic_write_bytes(folder / MANIFEST, json.dumps(current, indent=2).encode("utf-8"))
    except OSError as exc:
        raise SearchIndexError(f"cannot write the index manifest in {folder}: {exc}") from None
    index.manifest["query_model"] = entry
    remove_unreferenced_models(folder, entry["folder"])


def remove_unreferenced_models(folder: Path, keep: str | None) -> None:
    """Delete exported models other than ``keep``, and staging folders of dead exports.

    A process still running a deleted model keeps its memory map; nothing breaks.
    """
    try:
        children = list(folder.iterdir())
    except OSError:
        return
    for path in children:
        if not path.is_dir() or path.name == keep:
            continue
        stale_staging = path.name.startswith(STAGING_PREFIX) and _age(path) > STALE_STAGING_SECONDS
        if FOLDER_PATTERN.fullmatch(path.name) or stale_staging:
            shutil.rmtree(path, ignore_errors=True)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0
