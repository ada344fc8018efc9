"""What a user has done: reading progress (read, bookmarked, notes) and mock interview sessions.

One SQLite file under ``MLSD_HOME`` (``progress.db``), in WAL mode. Its schema lives in
:mod:`mlsd.migrations` and is upgraded on first use; backups are :mod:`mlsd.backup`'s job,
tables over the corpus :mod:`mlsd.views`', and what sessions add up to (scores, attempts, the
step to practise next) :mod:`mlsd.practice`'s.

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
import random
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from . import paths
from .errors import ProgressError
from .migrations import upgrade
from .practice import PracticeSession, StepRecord, check_score, check_sketch
from .urls import normalize_url

NOTE_MAX_CHARS = 20_000
BUSY_TIMEOUT_SECONDS = 5.0
# A write (or the first-use migration) that finds the database locked for the whole busy timeout
# (another process importing a backup or migrating the file, on a loaded machine) is tried again,
# after a growing, jittered pause, until this much time has passed since the first try. Some locks
# SQLite reports at once without waiting (changing the journal mode, WAL recovery), so the pause
# here is what makes a writer wait its turn instead of failing.
BUSY_DEADLINE_SECONDS = 30.0


_T = TypeVar("_T")


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _while_busy(action: Callable[[], _T]) -> _T:
    """Run ``action``, trying again while SQLite says the database is locked (for ``BUSY_DEADLINE_SECONDS``)."""
    give_up = time.monotonic() + BUSY_DEADLINE_SECONDS
    pause = 0.05
    while True:
        try:
            return action()
        except sqlite3.Error as exc:
            if not _is_busy(exc) or time.monotonic() + pause > give_up:
                raise
        time.sleep(pause * random.uniform(0.5, 1.5))  # jitter: writers that collided do not collide again
        pause = min(pause * 2, 1.0)


class ResourceLike(Protocol):
    """What progress needs of a resource: a ``Resource``, an ``Item`` or a search ``Hit``."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def source(self) -> str: ...


def now_iso() -> str:
    """The current UTC time as ISO 8601, to the second (the ``updated_at`` of every change)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def resource_key(item: ResourceLike) -> str:
    """The stable key of a resource (a ``Resource``, an ``Item`` or a search ``Hit``).

    Bundled resources keep their curated id; imported ones are keyed by normalized URL, so
    re-importing a list (under any name) finds the same progress.
    """
    source = item.source or "bundled"
    if source == "bundled" or not item.url:
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
    def connect(self, write: bool = False) -> Iterator[sqlite3.Connection]:
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
                self._begin_immediate(conn)  # take the write lock now, not halfway through
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

    @staticmethod
    def _begin_immediate(conn: sqlite3.Connection) -> None:
        _while_busy(lambda: conn.execute("BEGIN IMMEDIATE"))

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
            # Several processes may open a new file at once; each re-checks the version it finds.
            version = _while_busy(lambda: upgrade(conn, self.path))
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
    def _upsert_reading(self, conn: sqlite3.Connection, key: str, item: ResourceLike) -> None:
        conn.execute(
            "INSERT INTO reading (key, item_id, title, url, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET item_id = excluded.item_id, title = excluded.title, url = excluded.url",
            (key, item.id, item.title or "", item.url, now_iso()),
        )

    def set_read(self, item: ResourceLike, read: bool = True) -> None:
        """Mark a resource (``Resource``, ``Item`` or ``Hit``) read or unread."""
        key = resource_key(item)
        with self.connect(write=True) as conn:
            self._upsert_reading(conn, key, item)
            conn.execute("UPDATE reading SET read_at = CASE WHEN ? THEN coalesce(read_at, ?) END, updated_at = ? WHERE key = ?",
                         (int(read), now_iso(), now_iso(), key))

    def set_bookmark(self, item: ResourceLike, bookmarked: bool = True) -> None:
        """Bookmark a resource, or remove its bookmark."""
        key = resource_key(item)
        with self.connect(write=True) as conn:
            self._upsert_reading(conn, key, item)
            conn.execute("UPDATE reading SET bookmarked = ?, updated_at = ? WHERE key = ?", (int(bookmarked), now_iso(), key))

    def set_note(self, item: ResourceLike, note: str) -> None:
        """Give a resource a short note (an empty string removes it)."""
        note = check_note(note)
        key = resource_key(item)
        with self.connect(write=True) as conn:
            self._upsert_reading(conn, key, item)
            conn.execute("UPDATE reading SET note = ?, updated_at = ? WHERE key = ?", (note, now_iso(), key))

    def reading(self, item: ResourceLike) -> Reading | None:
        """The progress on one resource, or None when the user has not touched it."""
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM reading WHERE key = ?", (resource_key(item),)).fetchone()
        return _reading(row) if row else None

    def all_reading(self) -> dict[str, Reading]:
        """Every resource the user has touched, by stable key."""
        with self.connect() as conn:
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
        with self.connect(write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO practice_session (uid, question_id, question, minutes, started_at, current_step, "
                "step_entered_at, updated_at, last_activity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, question_id, question, minutes, _iso(now), first_step, now, now_iso(), now),
            )
            return int(cursor.lastrowid or 0)

    def session(self, session_id: int) -> PracticeSession:
        """One session with its steps. Raises ProgressError when there is no such session."""
        with self.connect() as conn:
            return self._session(conn, session_id)

    def _session(self, conn: sqlite3.Connection, session_id: int) -> PracticeSession:
        row = conn.execute("SELECT * FROM practice_session WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise ProgressError(f"There is no practice session {session_id}.")
        steps = {r["step_id"]: StepRecord(r["step_id"], r["note"], r["seconds"])
                 for r in conn.execute("SELECT * FROM practice_step WHERE session_id = ?", (session_id,))}
        scores = {f"{r['step_id']}/{r['criterion_id']}": r["score"] for r in conn.execute(
            "SELECT * FROM practice_score WHERE session_id = ? ORDER BY step_id, criterion_id", (session_id,))}
        hints: dict[str, tuple[int, ...]] = {}
        for r in conn.execute("SELECT * FROM practice_hint WHERE session_id = ? ORDER BY step_id, number", (session_id,)):
            hints[r["step_id"]] = (*hints.get(r["step_id"], ()), r["number"])
        return PracticeSession(row["id"], row["uid"], row["question_id"], row["question"], row["minutes"],
                               row["started_at"], row["finished_at"], row["current_step"], row["step_entered_at"],
                               row["last_activity"], steps, row["sketch"], scores, hints)

    def sessions(self) -> list[PracticeSession]:
        """Every session, newest first."""
        with self.connect() as conn:
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
        with self.connect(write=True) as conn:
            running = conn.execute("SELECT step_entered_at FROM practice_session WHERE id = ?", (session_id,)).fetchone()
            if running is None:
                raise ProgressError(f"There is no practice session {session_id}.")
            self._close_interval(conn, session_id, now)
            conn.execute(
                "UPDATE practice_session SET current_step = ?, step_entered_at = ?, updated_at = ?, last_activity = ? WHERE id = ?",
                (step_id, now if running[0] is not None else None, now_iso(), now, session_id),
            )

    def pause(self, session_id: int, now: float | None = None) -> None:
        """Stop the clock; the time so far counts for the current step."""
        now = time.time() if now is None else now
        with self.connect(write=True) as conn:
            self._close_interval(conn, session_id, now)
            conn.execute("UPDATE practice_session SET updated_at = ?, last_activity = ? WHERE id = ?", (now_iso(), now, session_id))

    def resume(self, session_id: int, now: float | None = None) -> None:
        """Restart the clock on the current step (a finished session is reopened)."""
        now = time.time() if now is None else now
        with self.connect(write=True) as conn:
            self._close_interval(conn, session_id, now)
            conn.execute("UPDATE practice_session SET finished_at = NULL, step_entered_at = ?, updated_at = ?, "
                         "last_activity = ? WHERE id = ?", (now, now_iso(), now, session_id))

    def reopen(self, session_id: int, idle_after: float | None = None, now: float | None = None) -> PracticeSession:
        """Open a past session: a clock left running is stopped at the session's last activity.

        Time between leaving a session (closing the tab) and reopening it is not counted.

        Args:
            idle_after: only stop the clock when the last activity (a note saved, a step
                changed) is more than this many seconds ago, so reloading the page in the
                middle of an interview keeps the clock running. None stops it always.
        """
        now = time.time() if now is None else now
        with self.connect(write=True) as conn:
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
        with self.connect(write=True) as conn:
            self._close_interval(conn, session_id, now)
            conn.execute("UPDATE practice_session SET finished_at = coalesce(finished_at, ?), updated_at = ?, "
                         "last_activity = ? WHERE id = ?", (_iso(now), now_iso(), now, session_id))

    def save_step_note(self, session_id: int, step_id: str, note: str, now: float | None = None) -> None:
        """Save the notes of one step (called as the user types)."""
        note = check_note(note)
        now = time.time() if now is None else now
        with self.connect(write=True) as conn:
            self._require(conn, session_id)
            conn.execute(
                "INSERT INTO practice_step (session_id, step_id, note) VALUES (?, ?, ?) "
                "ON CONFLICT(session_id, step_id) DO UPDATE SET note = excluded.note",
                (session_id, step_id, note),
            )
            conn.execute("UPDATE practice_session SET updated_at = ?, last_activity = ? WHERE id = ?",
                         (now_iso(), now, session_id))

    def save_sketch(self, session_id: int, sketch: str, now: float | None = None) -> None:
        """Save the session's design sketch (called as the user types; a half-written sketch is kept too)."""
        sketch = check_sketch(sketch)
        now = time.time() if now is None else now
        with self.connect(write=True) as conn:
            self._require(conn, session_id)
            conn.execute("UPDATE practice_session SET sketch = ?, updated_at = ?, last_activity = ? WHERE id = ?",
                         (sketch, now_iso(), now, session_id))

    def set_score(self, session_id: int, step_id: str, criterion_id: str, score: int | None) -> None:
        """Self-score one rubric criterion: 0 missed, 1 partly, 2 covered; None takes the score back."""
        check_score(step_id, criterion_id, score)
        with self.connect(write=True) as conn:
            self._require(conn, session_id)
            if score is None:
                conn.execute("DELETE FROM practice_score WHERE session_id = ? AND step_id = ? AND criterion_id = ?",
                             (session_id, step_id, criterion_id))
            else:
                conn.execute("INSERT INTO practice_score (session_id, step_id, criterion_id, score) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT(session_id, step_id, criterion_id) DO UPDATE SET score = excluded.score",
                             (session_id, step_id, criterion_id, score))
            conn.execute("UPDATE practice_session SET updated_at = ? WHERE id = ?", (now_iso(), session_id))

    def reveal_hint(self, session_id: int, step_id: str, number: int, now: float | None = None) -> None:
        """Record that hint ``number`` (1-based) of a step was revealed; revealing it again changes nothing."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ProgressError(f"A hint is numbered from 1, got {number!r}.")
        now = time.time() if now is None else now
        with self.connect(write=True) as conn:
            self._require(conn, session_id)
            conn.execute("INSERT OR IGNORE INTO practice_hint (session_id, step_id, number, revealed_at) "
                         "VALUES (?, ?, ?, ?)", (session_id, step_id, number, _iso(now)))
            conn.execute("UPDATE practice_session SET updated_at = ?, last_activity = ? WHERE id = ?",
                         (now_iso(), now, session_id))

    def delete_session(self, session_id: int) -> None:
        """Delete one session with its notes, sketch, scores and hints; nothing else changes."""
        with self.connect(write=True) as conn:
            conn.execute("DELETE FROM practice_session WHERE id = ?", (session_id,))

    @staticmethod
    def _require(conn: sqlite3.Connection, session_id: int) -> None:
        if conn.execute("SELECT 1 FROM practice_session WHERE id = ?", (session_id,)).fetchone() is None:
            raise ProgressError(f"There is no practice session {session_id}.")


# -- helpers ------------------------------------------------------------------------------------
def _iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).isoformat(timespec="seconds")


def check_note(note: str) -> str:
    if not isinstance(note, str):
        raise ProgressError(f"A note must be text, got {type(note).__name__}.")
    if len(note) > NOTE_MAX_CHARS:
        raise ProgressError(f"A note is limited to {NOTE_MAX_CHARS:,} characters; this one has {len(note):,}.")
    return note


def _reading(row: sqlite3.Row) -> Reading:
    return Reading(row["key"], row["item_id"], row["title"], row["url"], row["read_at"], bool(row["bookmarked"]),
                   row["note"], row["updated_at"])


