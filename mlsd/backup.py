"""Back up and restore the progress database as JSON (``mlsd progress export/import``).

The backup holds every reading row and practice session (with its notes, design sketch,
self-scores and hints revealed). Restoring merges: the newer ``updated_at`` wins, nothing is
deleted, and the whole merge is one transaction. A backup is a file from elsewhere, so it is
validated before anything is written, naming the entry and field of the first problem: types,
but also ranges and formats (times are ISO 8601 with a time zone, from 2000 on, and an
``updated_at`` is not in the future, or it would win every later merge; step ids are the flow's;
durations are finite, non-negative and at most ``MAX_STEP_SECONDS``). Times are stored in one
form (UTC, to the second), so that comparing them as text stays right. Version 2 added the
sketch, scores and hints; a version 1 backup still imports (its sessions have none).

Exporting only reads: it works from a read-only ``MLSD_HOME`` too.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ProgressError
from .files import atomic_write_bytes
from .practice import check_score, check_sketch
from .progress import ProgressStore, check_note, now_iso

EXPORT_FORMAT = "mlsd-progress"
EXPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)
# What a backup may hold, beyond its types.
EARLIEST = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)
LATEST = _dt.datetime(2100, 1, 1, tzinfo=_dt.UTC)
CLOCK_SKEW = _dt.timedelta(days=1)  # an updated_at from a machine whose clock runs ahead
MAX_STEP_SECONDS = 30 * 24 * 3600.0  # a step's clock left running for a month is the most we believe
MAX_TEXT_CHARS = 2_000  # keys, ids, titles and questions (notes have their own limit)
MAX_URL_CHARS = 8_000


def export_data(store: ProgressStore) -> dict[str, Any]:
    """Everything, as a JSON-ready dict (see ``import_data``).

    Only reads: when the database cannot be opened for writing (a read-only ``MLSD_HOME``),
    it is read through a read-only connection instead.
    """
    try:
        with store.connect() as conn:
            return _export(conn)
    except ProgressError as exc:
        if not store.path.is_file():
            raise
        try:
            conn = _read_only(store.path)
        except sqlite3.Error:
            raise exc from None
        try:
            return _export(conn)
        except sqlite3.Error:
            raise exc from None
        finally:
            conn.close()


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes. In a read-only folder SQLite cannot create the -wal/-shm
    files WAL mode needs: when they are absent (everything checkpointed), ``immutable`` reads
    the file alone."""
    error: sqlite3.Error | None = None
    for options in ("mode=ro", "mode=ro&immutable=1"):
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("SELECT count(*) FROM reading").fetchone()  # a damaged or foreign file fails here
            return conn
        except sqlite3.Error as exc:
            conn.close()
            error = exc
    assert error is not None
    raise error


def _export(conn: sqlite3.Connection) -> dict[str, Any]:
    reading = [dict(row) for row in conn.execute("SELECT * FROM reading ORDER BY key")]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    practice_tables = {"practice_score", "practice_hint"} <= tables
    sessions = []
    for row in conn.execute("SELECT * FROM practice_session ORDER BY started_at, id").fetchall():
        data = {k: row[k] for k in row.keys() if k != "id"}
        data["steps"] = [dict(r) for r in conn.execute(
            "SELECT step_id, note, seconds FROM practice_step WHERE session_id = ? ORDER BY step_id", (row["id"],))]
        if practice_tables:  # a database read as it is (read-only) may predate them
            data["scores"] = [dict(r) for r in conn.execute(
                "SELECT step_id, criterion_id, score FROM practice_score WHERE session_id = ? "
                "ORDER BY step_id, criterion_id", (row["id"],))]
            data["hints"] = [dict(r) for r in conn.execute(
                "SELECT step_id, number, revealed_at FROM practice_hint WHERE session_id = ? ORDER BY step_id, number",
                (row["id"],))]
        sessions.append(data)
    for r in reading:
        r["bookmarked"] = bool(r["bookmarked"])
    return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": now_iso(),
            "reading": reading, "sessions": sessions}

def export_file(store: ProgressStore, path: Path | str) -> dict[str, int]:
    """Write a JSON backup atomically; returns counts."""
    data = export_data(store)
    atomic_write_bytes(Path(path), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return {"reading": len(data["reading"]), "sessions": len(data["sessions"])}

def import_data(store: ProgressStore, data: Any, origin: str = "the backup",
                step_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Merge a backup into the store's database, in one transaction (all or nothing).

    Reading rows are matched by key; the newer ``updated_at`` wins. Sessions are matched by
    ``uid``; one already here is replaced by the backup's copy when that is newer, and keeps
    its id. Imported sessions arrive paused: a clock running in the backup is stopped at the
    session's last activity, as ``reopen`` does.

    Args:
        step_ids: the flow's step ids a session may use; read from ``flow.yaml`` by default.

    Raises:
        ProgressError: the backup is not an mlsd progress export, naming the entry and field.
    """
    if step_ids is None:
        from .corpus import flow_step_ids

        step_ids = flow_step_ids()
    reading, sessions = _validate_export(data, origin, frozenset(step_ids))
    counts = {"reading": 0, "sessions": 0}
    with store.connect(write=True) as conn:
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
                "current_step, step_entered_at, updated_at, last_activity, sketch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (current["id"] if current is not None else None, s["uid"], s["question_id"], s["question"],
                 s["minutes"], s["started_at"], s["finished_at"], s["current_step"], None, s["updated_at"],
                 s["last_activity"], s.get("sketch", "")),  # imported sessions arrive paused
            )
            conn.executemany("INSERT INTO practice_score (session_id, step_id, criterion_id, score) VALUES (?, ?, ?, ?)",
                             [(cursor.lastrowid, c["step_id"], c["criterion_id"], c["score"]) for c in s.get("scores", [])])
            conn.executemany("INSERT INTO practice_hint (session_id, step_id, number, revealed_at) VALUES (?, ?, ?, ?)",
                             [(cursor.lastrowid, h["step_id"], h["number"], h["revealed_at"]) for h in s.get("hints", [])])
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

def import_file(store: ProgressStore, path: Path | str) -> dict[str, int]:
    """Read a JSON backup and merge it (see ``import_data``)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProgressError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    return import_data(store, load_backup(raw, str(path)), origin=str(path))


def load_backup(raw: bytes, origin: str) -> Any:
    """The JSON document of a backup file's bytes.

    Raises:
        ProgressError: not UTF-8, not JSON, nested too deeply, or a number too long to read.
    """
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ProgressError(f"{origin} is nested too deeply to be an `mlsd progress export` file.") from None
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or an integer of thousands of digits
        reason = "a number thousands of digits long" if "integer string conversion" in str(exc) else str(exc)[:200]
        raise ProgressError(f"{origin} is not valid JSON ({reason}); expected an `mlsd progress export` file.") from None


# -- validation --------------------------------------------------------------------------------
_READING_FIELDS = {"key": str, "item_id": str, "title": str, "url": (str, type(None)), "read_at": (str, type(None)),
                   "bookmarked": bool, "note": str, "updated_at": str}
_SESSION_FIELDS = {"uid": str, "question_id": (str, type(None)), "question": str, "minutes": int, "started_at": str,
                   "finished_at": (str, type(None)), "current_step": str, "updated_at": str,
                   "last_activity": (int, float), "steps": list}
_STEP_FIELDS = {"step_id": str, "note": str, "seconds": (int, float)}
_TEXTS = ("key", "item_id", "title", "uid", "question_id", "question")
# Optional (added in export version 2): what the session teaches.
_PRACTICE_FIELDS = {"sketch": str, "scores": list, "hints": list}
_SCORE_FIELDS = {"step_id": str, "criterion_id": str, "score": int}
_HINT_FIELDS = {"step_id": str, "number": int, "revealed_at": str}


def _check_fields(entry: Any, spec: dict[str, Any], where: str) -> None:
    if not isinstance(entry, dict):
        raise ProgressError(f"{where} must be an object, got {type(entry).__name__}.")
    for name, kinds in spec.items():
        if name not in entry:
            raise ProgressError(f"{where}: field '{name}' is missing.")
        value = entry[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
            raise ProgressError(f"{where}: field '{name}' has the wrong type ({type(value).__name__}): {value!r:.60}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProgressError(f"{where}: field '{name}' must be a finite number.")
        if name in _TEXTS and isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            raise ProgressError(f"{where}: field '{name}' is longer than {MAX_TEXT_CHARS:,} characters.")
        if name == "url" and isinstance(value, str) and len(value) > MAX_URL_CHARS:
            raise ProgressError(f"{where}: field 'url' is longer than {MAX_URL_CHARS:,} characters.")


def _time(entry: dict, name: str, where: str, latest: _dt.datetime = LATEST) -> None:
    """Check an ISO 8601 time field and store it in one form (UTC, to the second)."""
    value = entry[name]
    if value is None:
        return
    try:
        moment = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise ProgressError(f"{where}: field '{name}' is {value!r:.60}, not an ISO 8601 time "
                            "(e.g. 2026-12-02T10:00:00+00:00).") from None
    if moment.tzinfo is None:
        raise ProgressError(f"{where}: field '{name}' is {value!r:.60}, a time without a time zone "
                            "(e.g. 2026-12-02T10:00:00+00:00).")
    if not EARLIEST <= moment <= latest:
        raise ProgressError(f"{where}: field '{name}' is {value!r:.60}, out of range: it must lie between "
                            f"{EARLIEST:%Y-%m-%d} and {latest:%Y-%m-%d}.")
    entry[name] = moment.astimezone(_dt.UTC).isoformat(timespec="seconds")


def _epoch(entry: dict, name: str, where: str) -> None:
    value = entry.get(name)
    if value is not None and not EARLIEST.timestamp() <= value <= LATEST.timestamp():
        raise ProgressError(f"{where}: field '{name}' is {value!r:.30}, out of range: it must be a time in epoch "
                            f"seconds between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.")


def _step_id(value: str, where: str, name: str, step_ids: frozenset[str]) -> None:
    if value not in step_ids:
        raise ProgressError(f"{where}: field '{name}' is {value!r:.60}, not a step of the flow "
                            f"({', '.join(sorted(step_ids))}).")


def _validate_export(data: Any, origin: str, step_ids: frozenset[str]) -> tuple[list[dict], list[dict]]:
    """The backup's reading rows and sessions, checked, as copies with times in one form."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ProgressError(f"{origin} is not an mlsd progress export (its \"format\" should be \"{EXPORT_FORMAT}\").")
    if data.get("version") not in READABLE_VERSIONS:
        raise ProgressError(f"{origin} has export version {data.get('version')!r:.20}; this mlsd reads versions "
                            f"{' and '.join(map(str, READABLE_VERSIONS))}.")
    reading, sessions = data.get("reading", []), data.get("sessions", [])
    if not isinstance(reading, list) or not isinstance(sessions, list):
        raise ProgressError(f"{origin}: \"reading\" and \"sessions\" must be lists.")
    not_after = min(LATEST, _dt.datetime.now(_dt.UTC) + CLOCK_SKEW)  # a future updated_at would win every merge
    checked_reading = []
    for n, entry in enumerate(reading, start=1):
        where = f"{origin}, reading entry #{n}"
        _check_fields(entry, _READING_FIELDS, where)
        entry = dict(entry)
        check_note(entry["note"])
        _time(entry, "read_at", where)
        _time(entry, "updated_at", where, not_after)
        checked_reading.append(entry)
    checked_sessions = []
    for n, entry in enumerate(sessions, start=1):
        where = f"{origin}, session #{n}"
        _check_fields(entry, _SESSION_FIELDS, where)
        entry = dict(entry)
        if not 5 <= entry["minutes"] <= 240:
            raise ProgressError(f"{where}: field 'minutes' must be 5 to 240, got {str(entry['minutes'])[:30]}.")
        # Optional: when the session was exported running, when its current step was entered.
        _check_fields({"step_entered_at": entry.get("step_entered_at")}, {"step_entered_at": (int, float, type(None))}, where)
        for name in ("started_at", "finished_at"):
            _time(entry, name, where)
        _time(entry, "updated_at", where, not_after)
        _epoch(entry, "last_activity", where)
        _epoch(entry, "step_entered_at", where)
        _step_id(entry["current_step"], where, "current_step", step_ids)
        seen = set()
        for m, step in enumerate(entry["steps"], start=1):
            at = f"{where}, step #{m}"
            _check_fields(step, _STEP_FIELDS, at)
            check_note(step["note"])
            _step_id(step["step_id"], at, "step_id", step_ids)
            if not 0 <= step["seconds"] <= MAX_STEP_SECONDS:
                raise ProgressError(f"{at}: field 'seconds' is {str(step['seconds'])[:30]}, out of range: "
                                    f"it must be 0 to {MAX_STEP_SECONDS:,.0f} (30 days).")
            if step["step_id"] in seen:
                raise ProgressError(f"{at}: step {step['step_id']!r} appears twice.")
            seen.add(step["step_id"])
        _validate_practice(entry, where)
        checked_sessions.append(entry)
    return checked_reading, checked_sessions


def _validate_practice(entry: dict, where: str) -> None:
    """The optional sketch, self-scores and hints of one session."""
    _check_fields({k: entry.get(k, kind()) for k, kind in _PRACTICE_FIELDS.items()}, _PRACTICE_FIELDS, where)
    check_sketch(entry.get("sketch", ""))
    for kind, spec in (("score", _SCORE_FIELDS), ("hint", _HINT_FIELDS)):
        seen: set[tuple] = set()
        for m, item in enumerate(entry.get(f"{kind}s", []), start=1):
            at = f"{where}, {kind} #{m}"
            _check_fields(item, spec, at)
            try:
                if kind == "score":
                    check_score(item["step_id"], item["criterion_id"], item["score"])
                elif item["number"] < 1:
                    raise ProgressError(f"A hint is numbered from 1, got {item['number']!r}.")
            except ProgressError as exc:
                raise ProgressError(f"{at}: {exc}") from None
            name = (item["step_id"], item["criterion_id" if kind == "score" else "number"])
            if name in seen:
                raise ProgressError(f"{at}: {kind} {'/'.join(map(str, name))!r} appears twice.")
            seen.add(name)


