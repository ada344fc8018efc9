"""Changing the library and the search index together, so that a crash never leaves one without the other.

An import writes ``library/<name>.json``; a removal deletes it; either way the index must follow.
Written in that order, a process killed in between leaves a list that no index holds, which the
next search silently indexes: the import is in effect committed although it failed. So a
change goes through a staging folder and a journal (both under ``MLSD_HOME``)::

    1. stage      .library-staging/ holds the library as it will be (the current files, hard
                  linked, with the one file written or left out);
    2. record     .library-journal.json names the change and the sha256 of the data it leads to;
    3. index      the index is built from the staged library; its manifest is the commit point;
    4. publish    the staged file is renamed into library/ (or the removed one deleted);
    5. clean      the journal, then the staging folder, are deleted.

Whoever next takes the library lock and finds a journal (:func:`recover`) finishes the change
when the index's manifest already records the new data (a crash after step 3), and otherwise
drops it (a crash before): the library is then byte for byte what it was, and the index, never
replaced, still matches it. Index files are content-addressed and the previous build's are only
deleted once a new manifest is written, so a change that is rolled back never lost the vectors
of the index it keeps. Recovery moves files only; it encodes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from . import paths
from .errors import LockTimeout
from .files import atomic_write_bytes, exclusive_lock
from .manifest import MANIFEST
from .sources import library_files

STAGING = ".library-staging"
JOURNAL = ".library-journal.json"


def staging_dir() -> Path:
    return paths.home() / STAGING


def journal_path() -> Path:
    return paths.home() / JOURNAL


def pending() -> bool:
    """True when a change was left unfinished (or is running now in another process)."""
    return journal_path().exists() or staging_dir().exists()


class LibraryChange:
    """One library file written or deleted, in step with the index (see the module's steps).

    Use under the library lock::

        with LibraryChange(name, new_bytes) as change:   # 1. stage
            corpus = load_corpus(library_dir=change.staging)
            ...change.restage(filed_bytes) if need be...  # (still step 1: nothing is recorded yet)
            change.record(corpus.data_hash)              # 2. record
            ...build the index from corpus...            # 3. index (the commit point)
            change.publish()                             # 4-5. publish, clean

    Leaving the block by an exception (Ctrl-C included) settles the change as :func:`recover`
    would: finished if the index already records it, dropped otherwise.
    """

    def __init__(self, name: str, data: bytes | None) -> None:
        self.name = name
        self.data = data  # None: the file is deleted
        self.library = paths.library_dir()
        self.staging = staging_dir()

    def __enter__(self) -> LibraryChange:
        if pending():  # a crashed change's leftovers (the caller holds the lock: nobody else is at work)
            _settle()
        self.staging.mkdir(parents=True)
        for path in library_files(self.library):
            if path.name != f"{self.name}.json":
                _link_or_copy(path, self.staging / path.name)
        if self.data is not None:
            atomic_write_bytes(self.staging / f"{self.name}.json", self.data)
        return self

    def restage(self, data: bytes) -> None:
        """Replace the staged file's bytes (before :meth:`record`): an import files its items once
        their vectors are known, and the filed list is what the index and the library then hold."""
        if self.data is None:
            raise ValueError("a removal stages no file to replace")
        self.data = data
        atomic_write_bytes(self.staging / f"{self.name}.json", data)

    def record(self, data_sha256: str) -> None:
        """Write the journal: from here on a crash is settled by comparing the index with it."""
        action = "delete" if self.data is None else "write"
        document = {"name": self.name, "action": action, "data_sha256": data_sha256}
        atomic_write_bytes(journal_path(), json.dumps(document).encode("utf-8"))

    def publish(self) -> None:
        """Make the staged change the library (after the index that holds it was written)."""
        _apply(self.name, "delete" if self.data is None else "write")
        _clean()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if kind is not None:
            _settle()


def recover(locked: bool = False) -> str | None:
    """Finish or drop a change a crashed process left behind; a no-op when there is none.

    Args:
        locked: the caller holds the library lock already.

    Returns:
        ``"finished"``, ``"dropped"`` or None (nothing to do, another process is changing the
        library right now, or ``MLSD_HOME`` cannot be written).
    """
    if not pending():
        return None
    if locked:
        return _settle()
    try:
        with exclusive_lock(paths.library_lock_path(), timeout=0):
            return _settle()
    except (LockTimeout, OSError):
        return None  # a live import or removal holds the lock (its files are not leftovers), or a read-only home


# -- helpers -----------------------------------------------------------------------------------


def _settle() -> str:
    """Under the lock: finish the journal's change if the index records it, else drop it."""
    journal = _read_json(journal_path())
    manifest = _read_json(paths.index_dir() / MANIFEST)
    outcome = "dropped"
    if (isinstance(journal, dict) and isinstance(manifest, dict) and isinstance(journal.get("name"), str)
            and journal.get("action") in ("write", "delete")
            and journal.get("data_sha256") == manifest.get("data_sha256")):
        _apply(journal["name"], journal["action"])
        outcome = "finished"
    _clean()
    return outcome


def _apply(name: str, action: str) -> None:
    target = paths.library_dir() / f"{name}.json"
    if action == "delete":
        target.unlink(missing_ok=True)
    else:
        staged = staging_dir() / f"{name}.json"
        if staged.exists():  # absent: it was published before the crash
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
    _sync_folder(target.parent)


def _clean() -> None:
    """Delete the journal, then the staging folder (in that order: a journal never outlives its files unsettled)."""
    journal_path().unlink(missing_ok=True)
    shutil.rmtree(staging_dir(), ignore_errors=True)
    if staging_dir().exists():  # rmtree could not: say so rather than leave a half-staged library
        raise OSError(f"cannot delete {staging_dir()}")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # files are only ever replaced by rename, so the link keeps this version
    except OSError:
        shutil.copy2(source, target)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

