"""What a user has done: reading progress (read, bookmarked, notes) and mock interview sessions.

One SQLite file under ``MLSD_HOME`` (``progress.db``), in WAL mode. The schema is versioned
with ``PRAGMA user_version`` and upgraded on open by the migrations below, each in its own
transaction, so a database made by an older version upgrades without loss.

Every change is one short transaction that touches only the columns it changes (marking a
resource read never rewrites its note), so several tabs or processes writing at once do not
lose each other's work. A connection is opened per operation, which makes a ``ProgressStore``
safe to share across threads (Streamlit serves each browser tab from its own thread).

Resources are keyed by a stable id that survives rebuilding the index and re-importing a
list: a bundled resource by its id in ``data/resources.yaml``, an imported one by its
normalized URL (``url:...``), since its item id names the list it came from.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .errors import MlsdError
from .files import atomic_write_bytes
from .importers import normalize_url

EXPORT_FORMAT = "mlsd-progress"
EXPORT_VERSION = 1
if TYPE_CHECKING:
    import pandas as pd

NOTE_MAX_CHARS = 20_000
BUSY_TIMEOUT_SECONDS = 5.0

# Each entry upgrades the schema by one version (user_version n -> n + 1). Never edit a
# released migration: add a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: reading progress.
    """
    CREATE TABLE reading (
        key        TEXT PRIMARY KEY,          -- stable resource key (see resource_key)
        item_id    TEXT NOT NULL,             -- the item id when last seen, for links back
        title      TEXT NOT NULL DEFAULT '',
        url        TEXT,
        read_at    TEXT,                      -- ISO time, NULL when unread
        bookmarked INTEGER NOT NULL DEFAULT 0,
        note       TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL
    );
    """,
    # 2: mock interview sessions; time per step is kept as closed intervals (seconds) plus
    # the moment the current step was entered (NULL while paused or finished).
    """
    CREATE TABLE practice_session (
        id              INTEGER PRIMARY KEY,
        uid             TEXT NOT NULL UNIQUE,  -- survives export/import
        question_id     TEXT,                  -- a sample question, or NULL for the user's own
        question        TEXT NOT NULL,
        minutes         INTEGER NOT NULL,
        started_at      TEXT NOT NULL,
        finished_at     TEXT,
        current_step    TEXT NOT NULL,
        step_entered_at REAL,                  -- epoch seconds; NULL = clock stopped
        updated_at      TEXT NOT NULL,
        last_activity   REAL NOT NULL          -- epoch seconds of the last change
    );
    CREATE TABLE practice_step (
        session_id INTEGER NOT NULL REFERENCES practice_session(id) ON DELETE CASCADE,
        step_id    TEXT NOT NULL,
        note       TEXT NOT NULL DEFAULT '',
        seconds    REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, step_id)
    );
    CREATE INDEX reading_read ON reading(read_at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class ProgressError(MlsdError):
    """The progress database cannot be used (locked, read-only, corrupt, newer) or a request is invalid."""


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def resource_key(item: Any) -> str:
    """The stable key of a resource (a ``Resource``, an ``Item`` or a search ``Hit``).

    Bundled resources keep their curated id; imported ones are keyed by normalized URL, so
    re-importing a list (under any name) finds the same progress.
    """
    source = getattr(item, "source", "bundled") or "bundled"
    if source == "bundled" or not getattr(item, "url", None):
        return item.id
    return "url:" + normalize_url(item.url)


@dataclass(frozen=True)
class Reading:
    """A user's progress on one resource."""

    key: str
    item_id: str
    title: str
    url: str | None
    read_at: str | None
    bookmarked: bool
    note: str
    updated_at: str

    @property
    def read(self) -> bool:
        return self.read_at is not None


@dataclass(frozen=True)
class StepRecord:
    step_id: str
    note: str
    seconds: float


@dataclass(frozen=True)
class PracticeSession:
    """A mock interview: its question, length, where it stands, and per-step notes and time.

    ``seconds`` per step are closed intervals; ``running_since`` is when the current step's
    open interval began (None while paused or finished). Use ``spent`` for live totals.
    """

    id: int
    uid: str
    question_id: str | None
    question: str
    minutes: int
    started_at: str
    finished_at: str | None
    current_step: str
    running_since: float | None
    last_activity: float
    steps: dict[str, StepRecord] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def spent(self, step_id: str, now: float | None = None) -> float:
        """Seconds spent on a step so far, counting the open interval of the current step."""
        record = self.steps.get(step_id)
        total = record.seconds if record else 0.0
        if self.running_since is not None and step_id == self.current_step:
            total += max(0.0, (now if now is not None else time.time()) - self.running_since)
        return total

    def elapsed(self, now: float | None = None) -> float:
        """Seconds spent on the whole session so far."""
        steps = set(self.steps) | {self.current_step}
        return sum(self.spent(s, now) for s in steps)

    def note(self, step_id: str) -> str:
        record = self.steps.get(step_id)
        return record.note if record else ""


def step_budgets(steps: Sequence[Any], minutes: int) -> dict[str, float]:
    """Each step's time budget in seconds for an interview of ``minutes``.

    Steps carry their suggested minutes for a 45-minute interview; a longer or shorter session
    scales them in proportion (steps without a suggestion share the time evenly).
    """
    weights = [getattr(s, "minutes", 0) or 0 for s in steps]
    if not any(weights):
        weights = [1] * len(steps)
    total = sum(weights)
    return {s.id: minutes * 60 * w / total for s, w in zip(steps, weights)}


class ProgressStore:
    """The user's progress database. Cheap to create; migrates the file on first use."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else paths.progress_path()
        self._migrated = False

    # -- connections -------------------------------------------------------------------------
    def _explain(self, exc: sqlite3.Error) -> ProgressError:
        text = str(exc).lower()
        where = f"The progress database {self.path}"
        if "locked" in text or "busy" in text:
            return ProgressError(f"{where} is busy: another program holds a lock on it. Try again in a moment.")
        if "readonly" in text or "read-only" in text or "attempt to write" in text:
            return ProgressError(f"{where} is read-only, so progress cannot be saved. Check the file's permissions.")
        if "not a database" in text or "malformed" in text or "corrupt" in text or "file is encrypted" in text:
            return ProgressError(
                f"{where} is damaged ({exc}). Your reading and practice notes cannot be read from it. "
                "Move it aside to start a new one (the Progress page has a button, or rename the file)."
            )
        if "unable to open" in text:
            return ProgressError(f"{where} cannot be opened ({exc}). Check that its folder exists and is writable.")
        return ProgressError(f"{where} failed: {exc}.")

    @contextlib.contextmanager
    def _connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; with ``write`` the block is one IMMEDIATE transaction."""
        if not self._migrated:
            self.migrate()
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            if write:
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through
                try:
                    yield conn
                except BaseException:
                    # SQLite may already have rolled back (disk full, I/O error, a trigger's
                    # RAISE(ROLLBACK)); a second ROLLBACK would then hide that error.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        finally:
            conn.close()

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version found before upgrading.

        Raises:
            ProgressError: the file is locked, read-only, damaged, or from a newer version.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ProgressError(f"The progress database {self.path} cannot be opened: {exc}.") from None
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ProgressError(
                    f"The progress database {self.path} was made by a newer version of mlsd (schema "
                    f"{version}, this one knows {SCHEMA_VERSION}). Upgrade mlsd to use it."
                )
            if version < SCHEMA_VERSION:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                for number in range(version, SCHEMA_VERSION):
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        # Another process may have migrated while we waited for the lock.
                        if conn.execute("PRAGMA user_version").fetchone()[0] != number:
                            conn.execute("ROLLBACK")
                            continue
                        for statement in _statements(MIGRATIONS[number]):
                            conn.execute(statement)
                        conn.execute(f"PRAGMA user_version = {number + 1}")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
            else:
                conn.execute("SELECT count(*) FROM reading").fetchone()  # detects a damaged file early
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        finally:
            conn.close()
        self._migrated = True
        return version

    def quarantine(self) -> Path | None:
        """Move a damaged database aside (nothing is deleted) so a new one can start.

        Returns:
            Where the old file now is, or None when there was no file.
        """
        if not self.path.exists():
            return None
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        number = 1
        # A move onto an existing name would replace (delete) an earlier damaged file.
        while any(Path(str(target) + suffix).exists() for suffix in ("", "-wal", "-shm")):
            number += 1
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{number}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                shutil.move(source, Path(str(target) + suffix))
        self._migrated = False
        return target

    # -- reading progress ----------------------------------------------------------------------
    def _upsert_reading(self, conn: sqlite3.Connection, key: str, item: Any) -> None:
        conn.execute(
            "INSERT INTO reading (key, item_id, title, url, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET item_id = excluded.item_id, title = excluded.title, url = excluded.url",
            (key, item.id, getattr(item, "title", "") or "", getattr(item, "url", None), _now_iso()),
        )

    def set_read(self, item: Any, read: bool = True) -> None:
        """Mark a resource (``Resource``, ``Item`` or ``Hit``) read or unread."""
        key = resource_key(item)
        with self._connect(write=True) as conn:
            self._upsert_reading(conn, key, item)
            conn.execute("UPDATE reading SET read_at = CASE WHEN ? THEN coalesce(read_at, ?) END, updated_at = ? WHERE key = ?",
                         (int(read), _now_iso(), _now_iso(), key))

    def set_bookmark(self, item: Any, bookmarked: bool = True) -> None:
        """Bookmark a resource, or remove its bookmark."""
        key = resource_key(item)
        with self._connect(write=True) as conn:
            self._upsert_reading(conn, key, item)
            conn.execute("UPDATE reading SET bookmarked = ?, updated_at = ? WHERE key = ?", (int(bookmarked), _now_iso(), key))

    def set_note(self, item: Any, note: str) -> None:
        """Give a resource a short note (an empty string removes it)."""
        note = _check_note(note)
        key = resource_key(item)
        with self._connect(write=True) as conn:
            self._upsert_reading(conn, key, item)
            conn.execute("UPDATE reading SET note = ?, updated_at = ? WHERE key = ?", (note, _now_iso(), key))

    def reading(self, item: Any) -> Reading | None:
        """The progress on one resource, or None when the user has not touched it."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM reading WHERE key = ?", (resource_key(item),)).fetchone()
        return _reading(row) if row else None

    def all_reading(self) -> dict[str, Reading]:
        """Every resource the user has touched, by stable key."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM reading ORDER BY updated_at DESC, key").fetchall()
        return {row["key"]: _reading(row) for row in rows}

    # -- practice sessions ---------------------------------------------------------------------
    def start_session(self, question: str, minutes: int, first_step: str, question_id: str | None = None,
                      now: float | None = None) -> int:
        """Start a mock interview on ``first_step`` with the clock running; returns its id."""
        question = " ".join((question or "").split())
        if not question:
            raise ProgressError("A practice session needs a question: pick a sample question or type your own.")
        if len(question) > 2_000:
            raise ProgressError("The question is longer than 2,000 characters; shorten it.")
        if not isinstance(minutes, int) or not 5 <= minutes <= 240:
            raise ProgressError(f"The interview length must be 5 to 240 minutes, got {minutes!r}.")
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO practice_session (uid, question_id, question, minutes, started_at, current_step, "
                "step_entered_at, updated_at, last_activity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, question_id, question, minutes, _iso(now), first_step, now, _now_iso(), now),
            )
            return int(cursor.lastrowid)

    def session(self, session_id: int) -> PracticeSession:
        """One session with its steps. Raises ProgressError when there is no such session."""
        with self._connect() as conn:
            return self._session(conn, session_id)

    def _session(self, conn: sqlite3.Connection, session_id: int) -> PracticeSession:
        row = conn.execute("SELECT * FROM practice_session WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise ProgressError(f"There is no practice session {session_id}.")
        steps = {r["step_id"]: StepRecord(r["step_id"], r["note"], r["seconds"])
                 for r in conn.execute("SELECT * FROM practice_step WHERE session_id = ?", (session_id,))}
        return PracticeSession(row["id"], row["uid"], row["question_id"], row["question"], row["minutes"],
                               row["started_at"], row["finished_at"], row["current_step"], row["step_entered_at"],
                               row["last_activity"], steps)

    def sessions(self) -> list[PracticeSession]:
        """Every session, newest first."""
        with self._connect() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM practice_session ORDER BY started_at DESC, id DESC")]
            return [self._session(conn, i) for i in ids]

    def _close_interval(self, conn: sqlite3.Connection, session_id: int, until: float) -> None:
        """Add the current step's open interval (if any) to its time, and stop the clock."""
        row = conn.execute("SELECT current_step, step_entered_at FROM practice_session WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise ProgressError(f"There is no practice session {session_id}.")
        if row["step_entered_at"] is not None:
            seconds = max(0.0, until - row["step_entered_at"])
            conn.execute(
                "INSERT INTO practice_step (session_id, step_id, seconds) VALUES (?, ?, ?) "
                "ON CONFLICT(session_id, step_id) DO UPDATE SET seconds = seconds + excluded.seconds",
                (session_id, row["current_step"], seconds),
            )
            conn.execute("UPDATE practice_session SET step_entered_at = NULL WHERE id = ?", (session_id,))

    def move_to(self, session_id: int, step_id: str, now: float | None = None) -> None:
        """Make ``step_id`` the current step; the time so far counts for the step left.

        A paused session stays paused; a finished one only changes which step is shown.
        """
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            running = conn.execute("SELECT step_entered_at FROM practice_session WHERE id = ?", (session_id,)).fetchone()
            if running is None:
                raise ProgressError(f"There is no practice session {session_id}.")
            self._close_interval(conn, session_id, now)
            conn.execute(
                "UPDATE practice_session SET current_step = ?, step_entered_at = ?, updated_at = ?, last_activity = ? WHERE id = ?",
                (step_id, now if running[0] is not None else None, _now_iso(), now, session_id),
            )

    def pause(self, session_id: int, now: float | None = None) -> None:
        """Stop the clock; the time so far counts for the current step."""
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            self._close_interval(conn, session_id, now)
            conn.execute("UPDATE practice_session SET updated_at = ?, last_activity = ? WHERE id = ?", (_now_iso(), now, session_id))

    def resume(self, session_id: int, now: float | None = None) -> None:
        """Restart the clock on the current step (a finished session is reopened)."""
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            self._close_interval(conn, session_id, now)
            conn.execute("UPDATE practice_session SET finished_at = NULL, step_entered_at = ?, updated_at = ?, "
                         "last_activity = ? WHERE id = ?", (now, _now_iso(), now, session_id))

    def reopen(self, session_id: int, idle_after: float | None = None, now: float | None = None) -> PracticeSession:
        """Open a past session: a clock left running is stopped at the session's last activity.

        Time between leaving a session (closing the tab) and reopening it is not counted.

        Args:
            idle_after: only stop the clock when the last activity (a note saved, a step
                changed) is more than this many seconds ago, so reloading the page in the
                middle of an interview keeps the clock running. None stops it always.
        """
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            row = conn.execute("SELECT last_activity, step_entered_at FROM practice_session WHERE id = ?",
                               (session_id,)).fetchone()
            if row is None:
                raise ProgressError(f"There is no practice session {session_id}.")
            if row["step_entered_at"] is not None and (idle_after is None or now - row["last_activity"] > idle_after):
                self._close_interval(conn, session_id, max(row["last_activity"], row["step_entered_at"]))
            return self._session(conn, session_id)

    def finish(self, session_id: int, now: float | None = None) -> None:
        """End the session: stop the clock and record when."""
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            self._close_interval(conn, session_id, now)
            conn.execute("UPDATE practice_session SET finished_at = coalesce(finished_at, ?), updated_at = ?, "
                         "last_activity = ? WHERE id = ?", (_iso(now), _now_iso(), now, session_id))

    def save_step_note(self, session_id: int, step_id: str, note: str, now: float | None = None) -> None:
        """Save the notes of one step (called as the user types)."""
        note = _check_note(note)
        now = time.time() if now is None else now
        with self._connect(write=True) as conn:
            if conn.execute("SELECT 1 FROM practice_session WHERE id = ?", (session_id,)).fetchone() is None:
                raise ProgressError(f"There is no practice session {session_id}.")
            conn.execute(
                "INSERT INTO practice_step (session_id, step_id, note) VALUES (?, ?, ?) "
                "ON CONFLICT(session_id, step_id) DO UPDATE SET note = excluded.note",
                (session_id, step_id, note),
            )
            conn.execute("UPDATE practice_session SET updated_at = ?, last_activity = ? WHERE id = ?",
                         (_now_iso(), now, session_id))

    def delete_session(self, session_id: int) -> None:
        with self._connect(write=True) as conn:
            conn.execute("DELETE FROM practice_session WHERE id = ?", (session_id,))

    # -- backup ----------------------------------------------------------------------------------
    def export_data(self) -> dict[str, Any]:
        """Everything, as a JSON-ready dict (see ``import_data``)."""
        with self._connect() as conn:
            reading = [dict(row) for row in conn.execute("SELECT * FROM reading ORDER BY key")]
            sessions = []
            for row in conn.execute("SELECT * FROM practice_session ORDER BY started_at, id").fetchall():
                data = {k: row[k] for k in row.keys() if k != "id"}
                data["steps"] = [dict(r) for r in conn.execute(
                    "SELECT step_id, note, seconds FROM practice_step WHERE session_id = ? ORDER BY step_id", (row["id"],))]
                sessions.append(data)
        for r in reading:
            r["bookmarked"] = bool(r["bookmarked"])
        return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": _now_iso(),
                "reading": reading, "sessions": sessions}

    def export_file(self, path: Path | str) -> dict[str, int]:
        """Write a JSON backup atomically; returns counts."""
        data = self.export_data()
        atomic_write_bytes(Path(path), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        return {"reading": len(data["reading"]), "sessions": len(data["sessions"])}

    def import_data(self, data: Any, origin: str = "the backup") -> dict[str, int]:
        """Merge a backup into this database, in one transaction (all or nothing).

        Reading rows are matched by key; the newer ``updated_at`` wins. Sessions are matched by
        ``uid``; one already here is replaced by the backup's copy when that is newer, and keeps
        its id. Imported sessions arrive paused: a clock running in the backup is stopped at the
        session's last activity, as ``reopen`` does.

        Raises:
            ProgressError: the backup is not an mlsd progress export, naming the entry and field.
        """
        reading, sessions = _validate_export(data, origin)
        counts = {"reading": 0, "sessions": 0}
        with self._connect(write=True) as conn:
            for r in reading:
                current = conn.execute("SELECT updated_at FROM reading WHERE key = ?", (r["key"],)).fetchone()
                if current is not None and current[0] >= r["updated_at"]:
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO reading (key, item_id, title, url, read_at, bookmarked, note, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (r["key"], r["item_id"], r["title"], r["url"], r["read_at"], int(r["bookmarked"]), r["note"], r["updated_at"]),
                )
                counts["reading"] += 1
            for s in sessions:
                current = conn.execute("SELECT id, updated_at FROM practice_session WHERE uid = ?", (s["uid"],)).fetchone()
                if current is not None:
                    if current["updated_at"] >= s["updated_at"]:
                        continue
                    # Same id as before, so a page showing this session still finds it.
                    conn.execute("DELETE FROM practice_session WHERE id = ?", (current["id"],))
                cursor = conn.execute(
                    "INSERT INTO practice_session (id, uid, question_id, question, minutes, started_at, finished_at, "
                    "current_step, step_entered_at, updated_at, last_activity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (current["id"] if current is not None else None, s["uid"], s["question_id"], s["question"],
                     s["minutes"], s["started_at"], s["finished_at"], s["current_step"], None, s["updated_at"],
                     s["last_activity"]),  # imported sessions arrive paused
                )
                seconds = {step["step_id"]: step["seconds"] for step in s["steps"]}
                entered = s.get("step_entered_at")
                if entered is not None:  # the open interval of a running session, up to its last activity
                    seconds[s["current_step"]] = seconds.get(s["current_step"], 0.0) + max(0.0, s["last_activity"] - entered)
                notes = {step["step_id"]: step["note"] for step in s["steps"]}
                for step_id in seconds:
                    conn.execute("INSERT INTO practice_step (session_id, step_id, note, seconds) VALUES (?, ?, ?, ?)",
                                 (cursor.lastrowid, step_id, notes.get(step_id, ""), seconds[step_id]))
                counts["sessions"] += 1
        return counts

    def import_file(self, path: Path | str) -> dict[str, int]:
        """Read a JSON backup and merge it (see ``import_data``)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ProgressError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProgressError(f"{path} is not valid JSON ({exc}); expected an `mlsd progress export` file.") from None
        return self.import_data(data, origin=str(path))


# -- helpers ------------------------------------------------------------------------------------
def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit on its own)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(not ln.strip() or ln.strip().startswith("--") for ln in buffer.splitlines()):
        raise ValueError(f"incomplete statement in a migration: {buffer.strip()[:80]}")
    return statements


def _iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).isoformat(timespec="seconds")


def _check_note(note: str) -> str:
    if not isinstance(note, str):
        raise ProgressError(f"A note must be text, got {type(note).__name__}.")
    if len(note) > NOTE_MAX_CHARS:
        raise ProgressError(f"A note is limited to {NOTE_MAX_CHARS:,} characters; this one has {len(note):,}.")
    return note


def _reading(row: sqlite3.Row) -> Reading:
    return Reading(row["key"], row["item_id"], row["title"], row["url"], row["read_at"], bool(row["bookmarked"]),
                   row["note"], row["updated_at"])


_READING_FIELDS = {"key": str, "item_id": str, "title": str, "url": (str, type(None)), "read_at": (str, type(None)),
                   "bookmarked": bool, "note": str, "updated_at": str}
_SESSION_FIELDS = {"uid": str, "question_id": (str, type(None)), "question": str, "minutes": int, "started_at": str,
                   "finished_at": (str, type(None)), "current_step": str, "updated_at": str,
                   "last_activity": (int, float), "steps": list}
_STEP_FIELDS = {"step_id": str, "note": str, "seconds": (int, float)}


def _check_fields(entry: Any, spec: dict[str, Any], where: str) -> None:
    if not isinstance(entry, dict):
        raise ProgressError(f"{where} must be an object, got {type(entry).__name__}.")
    for name, kinds in spec.items():
        if name not in entry:
            raise ProgressError(f"{where}: field '{name}' is missing.")
        value = entry[name]
        if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
            raise ProgressError(f"{where}: field '{name}' has the wrong type ({type(value).__name__}): {value!r:.60}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProgressError(f"{where}: field '{name}' must be a finite number.")


def _validate_export(data: Any, origin: str) -> tuple[list[dict], list[dict]]:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ProgressError(f"{origin} is not an mlsd progress export (its \"format\" should be \"{EXPORT_FORMAT}\").")
    if data.get("version") != EXPORT_VERSION:
        raise ProgressError(f"{origin} has export version {data.get('version')!r}; this mlsd reads version {EXPORT_VERSION}.")
    reading, sessions = data.get("reading", []), data.get("sessions", [])
    if not isinstance(reading, list) or not isinstance(sessions, list):
        raise ProgressError(f"{origin}: \"reading\" and \"sessions\" must be lists.")
    for n, entry in enumerate(reading, start=1):
        _check_fields(entry, _READING_FIELDS, f"{origin}, reading entry #{n}")
        _check_note(entry["note"])
    for n, entry in enumerate(sessions, start=1):
        where = f"{origin}, session #{n}"
        _check_fields(entry, _SESSION_FIELDS, where)
        if not 5 <= entry["minutes"] <= 240:
            raise ProgressError(f"{where}: field 'minutes' must be 5 to 240, got {entry['minutes']!r}.")
        # Optional: when the session was exported running, when its current step was entered.
        _check_fields({"step_entered_at": entry.get("step_entered_at")}, {"step_entered_at": (int, float, type(None))}, where)
        seen = set()
        for m, step in enumerate(entry["steps"], start=1):
            _check_fields(step, _STEP_FIELDS, f"{where}, step #{m}")
            _check_note(step["note"])
            if step["step_id"] in seen:
                raise ProgressError(f"{where}, step #{m}: step {step['step_id']!r} appears twice.")
            seen.add(step["step_id"])
    return reading, sessions


# -- views over the corpus -----------------------------------------------------------------------
def reading_frame(corpus: Any, reading: dict[str, Reading]) -> pd.DataFrame:
    """The corpus's resources (``Corpus.resources_frame``) with the user's progress columns.

    Adds ``key``, ``read`` (bool), ``bookmarked`` (bool), ``note`` and ``read_at``.
    """
    frame = corpus.resources_frame()
    keys = [resource_key(r) for r in corpus.resources]
    states = [reading.get(k) for k in keys]
    return frame.assign(
        key=keys,
        read=[bool(s and s.read) for s in states],
        bookmarked=[bool(s and s.bookmarked) for s in states],
        note=[s.note if s else "" for s in states],
        read_at=[s.read_at if s else None for s in states],
    )


def progress_by(frame: pd.DataFrame, by: str, topic_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Read counts grouped by ``company`` or ``topic``: columns name, resources, read, share.

    Args:
        frame: a ``reading_frame``.
        by: "company" (company display name, "General" when none) or "topic" (every topic a
            resource is filed under; ``topic_names`` maps ids to names).
    """
    if by == "company":
        grouped = frame.assign(name=frame["company"].fillna("General"))
    elif by == "topic":
        grouped = frame.explode("topic_ids").dropna(subset=["topic_ids"])
        grouped = grouped.assign(name=grouped["topic_ids"].map(topic_names or {}).fillna(grouped["topic_ids"]))
    else:
        raise ValueError(f"progress_by: by must be 'company' or 'topic', got {by!r}")
    table = grouped.groupby("name").agg(resources=("id", "size"), read=("read", "sum")).reset_index()
    table["read"] = table["read"].astype(int)
    table["share"] = table["read"] / table["resources"]
    return table.sort_values(["read", "resources", "name"], ascending=[False, False, True], ignore_index=True)


def read_ids(corpus: Any, reading: dict[str, Reading], bookmarked: bool = False) -> list[str]:
    """Item ids of the resources read (or, with ``bookmarked``, bookmarked) in this corpus."""
    out = []
    for r in corpus.resources:
        state = reading.get(resource_key(r))
        if state is not None and (state.bookmarked if bookmarked else state.read):
            out.append(r.id)
    return out


def read_next(engine: Any, reading: dict[str, Reading], item_id: str, k: int = 5) -> list[Any]:
    """Unread case studies related to a topic, question, step or resource, nearest first."""
    from .search import Filters

    done = read_ids(engine.corpus, reading)
    return engine.related(item_id, k=k, filters=Filters(types=["resource"], exclude_ids=done))


def session_markdown(session: PracticeSession, steps: Sequence[Any], now: float | None = None) -> str:
    """A finished (or running) session as Markdown: question, time per step against budget, notes."""
    budgets = step_budgets(steps, session.minutes)
    lines = [f"# Mock interview: {session.question}", "",
             f"- Started: {session.started_at}",
             f"- Finished: {session.finished_at or 'not yet'}",
             f"- Length: {session.minutes} min, used {mmss(session.elapsed(now))}", "",
             "| Step | Spent | Budget |", "|---|---|---|"]
    for step in steps:
        lines.append(f"| {step.number}. {step.name} | {mmss(session.spent(step.id, now))} | {mmss(budgets[step.id])} |")
    for step in steps:
        lines += ["", f"## {step.number}. {step.name}", "", session.note(step.id).strip() or "_No notes._"]
    return "\n".join(lines) + "\n"


def mmss(seconds: float) -> str:
    """Seconds as minutes:seconds, e.g. 425 -> "7:05"."""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


__all__ = ["ProgressError", "ProgressStore", "PracticeSession", "Reading", "StepRecord", "resource_key",
           "reading_frame", "progress_by", "read_ids", "read_next", "session_markdown", "step_budgets", "mmss",
           "SCHEMA_VERSION", "MIGRATIONS"]
