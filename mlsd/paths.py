"""Where things live: bundled data in the project, everything written under MLSD_HOME."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


def home() -> Path:
    """The folder everything the program writes goes under.

    ``MLSD_HOME`` when set (tests and several libraries side by side never collide),
    otherwise the project folder itself (its ``index/`` is ignored by git).
    """
    value = os.environ.get("MLSD_HOME", "").strip()
    return Path(value).expanduser().resolve() if value else PROJECT_ROOT


def index_dir() -> Path:
    """Folder of the built search index and its manifest."""
    return home() / "index"


def links_path() -> Path:
    """The JSON file of link check results."""
    return home() / "links.json"

def progress_path() -> Path:
    """The SQLite database of reading progress and practice sessions (ignored by git)."""
    return home() / "progress.db"


def library_lock_path() -> Path:
    """Held while a list is imported or removed, so two never interleave (ignored by git)."""
    return home() / ".library.lock"


def library_dir() -> Path:
    """Folder of imported lists, one ``<name>.json`` per source (ignored by git)."""
    return home() / "library"
