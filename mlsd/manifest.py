"""The search index's manifest, read and checked without loading FAISS.

``manifest.json`` is the commit point of an index build (see :mod:`mlsd.index`). Everything
here treats it as untrusted input: a manifest that is not what a build writes (a missing or
mistyped field, a file name outside the folder or of the wrong shape, an items file without
ids) is a stale index, to be rebuilt, and never an exception of another kind. The recovery of
an interrupted import (:mod:`mlsd.journal`) reads it too, which is why this module stays light.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .errors import IndexStaleError

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexStaleError(f"the manifest {path} is unreadable ({str(exc)[:200]})") from None
    if not isinstance(manifest, dict):
        raise IndexStaleError(f"the manifest {path} is not a JSON object")
    return manifest


ROLES = {"vectors": "faiss", "items": "json", "projection": "npy"}
# The late-interaction rerank's token store (mlsd.rerank): every build lists all three; an index
# written without them (bench_search.py's synthetic corpora) is searched without the rerank.
TOKEN_ROLES = {"tokens": "npy", "token_scales": "npy", "token_offsets": "npy"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def manifest_files(manifest: dict, folder: Path) -> dict[str, tuple[Path, str]]:
    """The index files a manifest names, checked: ``role -> (path, sha256)``.

    Anything but the three files ``<role>-<sha12>.<suffix>`` in the index folder (and the three
    token files, all or none), each with a sha256, makes the index stale (and so rebuilt), never
    an exception of another kind.

    Raises:
        IndexStaleError: the manifest's file list is missing or malformed.
    """
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(ROLES) <= files.keys():
        raise IndexStaleError("the manifest does not list the index files")
    found = {}
    roles = dict(ROLES)
    if TOKEN_ROLES.keys() & files.keys():
        if not set(TOKEN_ROLES) <= files.keys():
            raise IndexStaleError("the manifest lists only some of the token files")
        roles.update(TOKEN_ROLES)
    for role, suffix in roles.items():
        entry = files[role]
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(entry.get("sha256"), str):
            raise IndexStaleError(f"the manifest's entry for {role!r} is malformed")
        name, sha = entry["name"], entry["sha256"]
        if Path(name).name != name:
            raise IndexStaleError(f"the manifest names a file outside the index folder: {name[:100]!r}")
        if not re.fullmatch(rf"{role}-[0-9a-f]{{12}}\.{suffix}", name) or not _SHA256.fullmatch(sha):
            raise IndexStaleError(f"the manifest's entry for {role!r} is malformed")
        found[role] = (folder / name, sha)
    return found


def stored_items(path: Path) -> list[tuple[str, str]]:
    """``(id, text_sha)`` per vector, from the items file; stale when it is not that."""
    stored = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(stored, list) or not all(
        isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("text_sha"), str) for e in stored
    ):
        raise IndexStaleError(f"the index file {path.name} does not list items as {{id, text_sha}}")
    return [(e["id"], e["text_sha"]) for e in stored]
