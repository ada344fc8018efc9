"""Back up and restore the progress database as JSON (``mlsd progress export/import``).

The backup holds every reading row and practice session (with its notes, design sketch,
self-scores and hints revealed). Restoring merges: the newer ``updated_at`` wins, nothing is
deleted, and the whole merge is one transaction. A backup is validated before anything is
written, naming the entry and field of the first problem. Version 2 added the sketch, scores
and hints; a version 1 backup still imports (its sessions have none).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import ProgressError
from .files import atomic_write_bytes
from .practice import check_score, check_sketch
from .progress import ProgressStore, check_note, now_iso

EXPORT_FORMAT = "mlsd-progress"
EXPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def export_data(store: ProgressStore) -> dict[str, Any]:
    """Everything, as a JSON-ready dict (see ``import_data``)."""
    with store.connect() as conn:
        reading = [dict(row) for row in conn.execute("SELECT * FROM reading ORDER BY key")]
        sessions = []
        for row in conn.execute("SELECT * FROM practice_session ORDER BY started_at, id").fetchall():
            data = {k: row[k] for k in row.keys() if k != "id"}
            data["steps"] = [dict(r) for r in conn.execute(
                "SELECT step_id, note, seconds FROM practice_step WHERE session_id = ? ORDER BY step_id", (row["id"],))]
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

def import_data(store: ProgressStore, data: Any, origin: str = "the backup") -> dict[str, int]:
    """Merge a backup into the store's database, in one transaction (all or nothing).

    Reading rows are matched by key; the newer ``updated_at`` wins. Sessions are matched by
    ``uid``; one already here is replaced by the backup's copy when that is newer, and keeps
    its id. Imported sessions arrive paused: a clock running in the backup is stopped at the
    session's last activity, as ``reopen`` does.

    Raises:
        ProgressError: the backup is not an mlsd progress export, naming the entry and field.
    """
    reading, sessions = _validate_export(data, origin)
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
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProgressError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProgressError(f"{path} is not valid JSON ({exc}); expected an `mlsd progress export` file.") from None
    return import_data(store, data, origin=str(path))


# -- validation --------------------------------------------------------------------------------
_READING_FIELDS = {"key": str, "item_id": str, "title": str, "url": (str, type(None)), "read_at": (str, type(None)),
                   "bookmarked": bool, "note": str, "updated_at": str}
_SESSION_FIELDS = {"uid": str, "question_id": (str, type(None)), "question": str, "minutes": int, "started_at": str,
                   "finished_at": (str, type(None)), "current_step": str, "updated_at": str,
                   "last_activity": (int, float), "steps": list}
_STEP_FIELDS = {"step_id": str, "note": str, "seconds": (int, float)}
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
        if not isinstance(value, kinds) or (kinds is int and isinstance(value, bool)):
            raise ProgressError(f"{where}: field '{name}' has the wrong type ({type(value).__name__}): {value!r:.60}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProgressError(f"{where}: field '{name}' must be a finite number.")


def _validate_export(data: Any, origin: str) -> tuple[list[dict], list[dict]]:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ProgressError(f"{origin} is not an mlsd progress export (its \"format\" should be \"{EXPORT_FORMAT}\").")
    if data.get("version") not in READABLE_VERSIONS:
        raise ProgressError(f"{origin} has export version {data.get('version')!r}; this mlsd reads versions "
                            f"{' and '.join(map(str, READABLE_VERSIONS))}.")
    reading, sessions = data.get("reading", []), data.get("sessions", [])
    if not isinstance(reading, list) or not isinstance(sessions, list):
        raise ProgressError(f"{origin}: \"reading\" and \"sessions\" must be lists.")
    for n, entry in enumerate(reading, start=1):
        _check_fields(entry, _READING_FIELDS, f"{origin}, reading entry #{n}")
        check_note(entry["note"])
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
            check_note(step["note"])
            if step["step_id"] in seen:
                raise ProgressError(f"{where}, step #{m}: step {step['step_id']!r} appears twice.")
            seen.add(step["step_id"])
        _validate_practice(entry, where)
    return reading, sessions


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


