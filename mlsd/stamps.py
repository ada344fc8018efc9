"""A file's sha256 checked once, then trusted while the file is provably untouched.

Checking the exported query model against its sha256 reads ~90 MB: 0.1-0.3 s of every cold
``mlsd search``, a third of what the search adds to ``mlsd stats``. After a full check, the
file's identity (size, mtime, ctime, inode, device) is recorded beside it in a stamp file; a
later check whose file still shows exactly that identity skips the read. Any change to the
file (a write, a truncation, a replacement, ``touch``, even one that restores the mtime,
since the kernel sets the ctime) makes the identity differ, and the full hash runs again.

As git does for its index ("racy git"), a file changed less than ``SETTLE_SECONDS`` before
the check is hashed but not stamped: a write in the same clock tick as the stamp could leave
its times unchanged. The stamp file itself is a cache: unreadable or malformed, it is ignored;
unwritable (a read-only folder), nothing is stamped and every check hashes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .files import atomic_write_bytes
from .manifest import file_sha256

STAMPS = ".verified.json"
SETTLE_SECONDS = 2.0


def _identity(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def _read(folder: Path) -> dict:
    try:
        stamps = json.loads((folder / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return stamps if isinstance(stamps, dict) else {}


def sha256_matches(path: Path, sha256: str) -> bool:
    """Whether the file's sha256 is ``sha256``: from its stamp when it is unchanged since the
    last full check, else by reading it (and stamping it when it matches).

    Raises:
        OSError: the file is missing or unreadable (as reading it would).
    """
    before = path.stat()
    stamps = _read(path.parent)
    if stamps.get(path.name) == [sha256, *_identity(before)]:
        return True
    if file_sha256(path) != sha256:
        return False
    after = path.stat()
    settled = time.time_ns() - max(after.st_mtime_ns, after.st_ctime_ns) > SETTLE_SECONDS * 1e9
    if _identity(after) == _identity(before) and settled:
        # Files gone since (an index's older builds) leave the stamps with them.
        stamps = {name: stamp for name, stamp in stamps.items() if (path.parent / name).exists()}
        stamps[path.name] = [sha256, *_identity(after)]
        try:
            atomic_write_bytes(path.parent / STAMPS, json.dumps(stamps).encode("utf-8"))
        except OSError:
            pass  # a read-only index: every check hashes
    return True
