"""Where things live: the bundled data, and the folder everything the program writes goes under.

Run from a checkout (``make run``), the data is the project's own ``data/`` (the files people
edit) and everything written goes into the project folder (ignored by git). Installed as a
package (``pip install .``), the data is the copy inside the package and everything written
goes under ``~/.mlsd``. ``MLSD_HOME`` overrides where things are written, in both cases.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def _in_checkout() -> bool:
    """True when the package runs from the project's source tree, not from an installed copy."""
    return (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "data" / "flow.yaml").is_file()


# In a checkout, the top-level data/ (the wheel carries a copy of it as mlsd/data).
DATA_DIR = PROJECT_ROOT / "data" if _in_checkout() else PACKAGE_DIR / "data"


def home() -> Path:
    """The folder everything the program writes goes under.

    ``MLSD_HOME`` when set (tests and several libraries side by side never collide),
    otherwise the project folder in a checkout (its ``index/`` is ignored by git), or
    ``~/.mlsd`` for an installed package.
    """
    value = os.environ.get("MLSD_HOME", "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return PROJECT_ROOT if _in_checkout() else Path.home() / ".mlsd"


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
