"""The progress store: a real SQLite file in tmp_path, real processes and threads, the real corpus.

Nothing is mocked. Time is passed explicitly (``now=``) wherever the store accepts it, so the
practice clock is tested to the second without sleeping.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import mlsd.progress
from mlsd.backup import EXPORT_FORMAT, EXPORT_VERSION, export_data, export_file, import_data, import_file
from mlsd.corpus import load_corpus
from mlsd.errors import ProgressError
from mlsd.migrations import MIGRATIONS, SCHEMA_VERSION
from mlsd.practice import PracticeSession, step_budgets
from mlsd.progress import NOTE_MAX_CHARS, ProgressStore, resource_key
from mlsd.search import Filters, open_engine
from mlsd.views import progress_by, read_ids, read_next, reading_frame, session_markdown

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
T0 = 1_800_000_000.0  # a fixed epoch second for the practice clock (2027-01-15)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "progress.db"


@pytest.fixture
def store(db) -> ProgressStore:
    return ProgressStore(db)


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode, to look at (or prepare) the file directly."""
    return sqlite3.connect(path, isolation_level=None)


def pragma(path: Path, name: str):
    conn = raw(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def without_export_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "exported_at"}


def file_bytes(path: Path) -> dict[str, bytes]:
    """The database and its -wal/-shm companions, by suffix, as bytes."""
    out = {}
    for suffix in ("", "-wal", "-shm"):
        companion = Path(str(path) + suffix)
        if companion.exists():
            out[suffix] = companion.read_bytes()
    return out


# ---------------------------------------------------------------------------------------------
# 1-2. schema: a fresh file, migrations from an older version, a newer version
# ---------------------------------------------------------------------------------------------
def test_a_fresh_database_is_created_in_wal_mode_at_the_current_schema(db, store):
    assert not db.exists()
    assert store.migrate() == 0  # the version found before upgrading: none

    assert db.is_file()
    assert pragma(db, "journal_mode") == "wal"
    assert pragma(db, "user_version") == SCHEMA_VERSION == len(MIGRATIONS) == 3
    assert store.all_reading() == {} and store.sessions() == []
    assert ProgressStore(db).migrate() == SCHEMA_VERSION  # a second open finds it current


def test_the_default_path_is_under_mlsd_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_HOME", str(tmp_path / "home"))
    store = ProgressStore()
    assert store.path == tmp_path / "home" / "progress.db"
    store.migrate()  # creates the folder too
    assert store.path.is_file()


def test_a_version_1_database_is_upgraded_without_losing_reading_progress(db, corpus):
    # What the first release wrote: only the reading table, user_version 1.
    conn = raw(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    read, bookmarked, noted = corpus.resources[:3]
    rows = [
        (read.id, read.id, read.title, read.url, "2026-01-02T03:04:05+00:00", 0, "", "2026-01-02T03:04:05+00:00"),
        (bookmarked.id, bookmarked.id, bookmarked.title, bookmarked.url, None, 1, "", "2026-01-03T00:00:00+00:00"),
        (noted.id, noted.id, noted.title, noted.url, None, 0, "Reread the ranking part.", "2026-01-04T00:00:00+00:00"),
    ]
    conn.executemany("INSERT INTO reading VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()

    store = ProgressStore(db)
    assert store.migrate() == 1

    assert pragma(db, "user_version") == SCHEMA_VERSION
    assert store.reading(read).read_at == "2026-01-02T03:04:05+00:00"
    assert store.reading(bookmarked).bookmarked and not store.reading(bookmarked).read
    assert store.reading(noted).note == "Reread the ranking part."
    assert len(store.all_reading()) == 3
    # The tables of version 2 exist and work.
    session_id = store.start_session("Design a feed", 45, "problem-formulation", now=T0)
    store.save_step_note(session_id, "problem-formulation", "Clarify the goal", now=T0 + 10)
    assert store.session(session_id).note("problem-formulation") == "Clarify the goal"
    assert raw(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_a_newer_version_is_refused_and_left_alone(db, corpus):
    conn = raw(db)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = file_bytes(db)

    store = ProgressStore(db)
    for operation in (store.migrate, store.all_reading, lambda: store.set_read(corpus.resources[0])):
        with pytest.raises(ProgressError) as error:
            operation()
        assert str(error.value) == (
            f"The progress database {db} was made by a newer version of mlsd (schema {SCHEMA_VERSION + 1}, "
            f"this one knows {SCHEMA_VERSION}). Upgrade mlsd to use it.")
    assert file_bytes(db) == before


# ---------------------------------------------------------------------------------------------
# 3. several writers at once
# ---------------------------------------------------------------------------------------------
WRITES = 50
STEP_IDS = ["problem-formulation", "ml-metrics", "mvp-logic", "data-pipeline", "training", "inference",
            "scaling-monitoring"]


def _practice_worker(path: str, worker: int, barrier) -> None:
    """One process: start its own session, then save WRITES step notes into it."""
    store = ProgressStore(path)
    barrier.wait()  # every process starts writing at the same moment
    session_id = store.start_session(f"Worker {worker}", 45, STEP_IDS[0], now=T0)
    for n in range(WRITES):
        store.save_step_note(session_id, STEP_IDS[n % len(STEP_IDS)], f"worker {worker} write {n}", now=T0 + n)


def _field_worker(path: str, field: str, resources: list, barrier) -> None:
    """One process writing one field of the same resources the other processes write."""
    store = ProgressStore(path)
    barrier.wait()
    for n in range(WRITES):
        j = n % len(resources)
        resource = resources[j]
        if field == "bookmark":
            store.set_bookmark(resource, (n // len(resources) + j) % 2 == 0)
        elif field == "read":
            store.set_read(resource, (n // len(resources) + j) % 2 == 1)
        else:
            store.set_note(resource, f"note {n}")


def _run_processes(targets: list[tuple]) -> None:
    # spawn: a clean interpreter per writer, as separate Streamlit servers or CLI runs would be.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(targets))
    processes = [context.Process(target=target, args=(*args, barrier)) for target, *args in targets]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * len(processes)


@pytest.mark.slow  # a stress test: several processes, hundreds of fsyncs
@pytest.mark.parametrize("existing", [False, True], ids=["fresh-file", "existing-file"])
def test_processes_writing_step_notes_at_once_lose_nothing(db, existing):
    if existing:
        ProgressStore(db).migrate()
    # With a fresh file the four processes also race to create and migrate it.
    _run_processes([(_practice_worker, str(db), w) for w in range(4)])

    store = ProgressStore(db)
    sessions = {s.question: s for s in store.sessions()}
    assert sorted(sessions) == [f"Worker {w}" for w in range(4)]
    for w in range(4):
        session = sessions[f"Worker {w}"]
        last = {STEP_IDS[n % len(STEP_IDS)]: n for n in range(WRITES)}  # the last write to each step
        assert {s: session.note(s) for s in STEP_IDS} == {s: f"worker {w} write {n}" for s, n in last.items()}
        assert session.last_activity == T0 + WRITES - 1
    assert pragma(db, "integrity_check") == "ok"
    assert pragma(db, "user_version") == SCHEMA_VERSION


@pytest.mark.slow  # a stress test: several processes, hundreds of fsyncs
def test_processes_writing_different_fields_of_the_same_resources_lose_nothing(db, corpus):
    resources = corpus.resources[:10]
    ProgressStore(db).migrate()
    _run_processes([(_field_worker, str(db), field, resources) for field in ("bookmark", "read", "note")])

    store = ProgressStore(db)
    rounds = WRITES // len(resources)  # each resource is written this many times per field
    for j, resource in enumerate(resources):
        state = store.reading(resource)
        last = (rounds - 1) * len(resources) + j  # the last write each worker made to this resource
        assert state.bookmarked == ((rounds - 1 + j) % 2 == 0), resource.id
        assert state.read == ((rounds - 1 + j) % 2 == 1), resource.id
        assert state.note == f"note {last}", resource.id
    assert len(store.all_reading()) == len(resources)
    assert pragma(db, "integrity_check") == "ok"


def test_threads_sharing_one_store_lose_nothing(store, corpus):
    # Streamlit serves each browser tab from its own thread, all with the one cached store.
    resources = corpus.resources[:20]
    errors = []

    def write(worker: int) -> None:
        try:
            for resource in resources[worker * 5:(worker + 1) * 5]:
                store.set_read(resource)
                store.set_note(resource, f"thread {worker}")
                store.set_bookmark(resource, worker % 2 == 0)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    states = store.all_reading()
    assert len(states) == 20
    for n, resource in enumerate(resources):
        state = states[resource_key(resource)]
        assert (state.read, state.note, state.bookmarked) == (True, f"thread {n // 5}", (n // 5) % 2 == 0)
    assert pragma(store.path, "integrity_check") == "ok"


# ---------------------------------------------------------------------------------------------
# 4. backup: export, import, merge, malformed files
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def filled(tmp_path, corpus) -> ProgressStore:
    """A store with every kind of progress: read, bookmarked, noted, a finished and a running session."""
    store = ProgressStore(tmp_path / "filled.db")
    a, b, c, d = corpus.resources[:4]
    store.set_read(a)
    store.set_bookmark(b)
    store.set_note(c, "Ünïcode notes survive: ✓")
    store.set_read(d)
    store.set_read(d, False)  # read, then unread again: a row with read_at NULL
    done = store.start_session("Design a video recommender", 45, "problem-formulation", "q-video-recommendations", now=T0)
    store.save_step_note(done, "problem-formulation", "Goal: watch time", now=T0 + 30)
    store.move_to(done, "ml-metrics", now=T0 + 60)
    store.finish(done, now=T0 + 100)
    running = store.start_session("My own question", 30, "problem-formulation", now=T0 + 1000)
    store.move_to(running, "ml-metrics", now=T0 + 1100)
    store.save_step_note(running, "ml-metrics", "NDCG@10", now=T0 + 1150)  # left running, last seen at +1150
    return store


def test_export_then_import_into_an_empty_store_gives_the_same_data(filled, tmp_path):
    exported = export_data(filled)
    assert (exported["format"], exported["version"]) == (EXPORT_FORMAT, EXPORT_VERSION)
    assert len(exported["reading"]) == 4 and len(exported["sessions"]) == 2

    empty = ProgressStore(tmp_path / "empty.db")
    assert import_data(empty, json.loads(json.dumps(exported))) == {"reading": 4, "sessions": 2}
    again = export_data(empty)

    # Imported sessions arrive paused (a clock cannot run in a file); the running one's open
    # interval counts up to its last activity, as reopening it would.
    expected = json.loads(json.dumps(exported))
    running = expected["sessions"][1]
    assert running["step_entered_at"] == T0 + 1100
    running["step_entered_at"] = None
    running["steps"] = [{**s, "seconds": s["seconds"] + 50} if s["step_id"] == "ml-metrics" else s
                        for s in running["steps"]]
    assert without_export_time(again) == without_export_time(expected)
    imported = {s.question: s for s in empty.sessions()}["My own question"]
    assert not imported.running
    assert (imported.spent("problem-formulation"), imported.spent("ml-metrics")) == (100, 50)
    assert imported.spent("ml-metrics", now=T0 + 99_999) == 50  # paused: no more time counts
    # The reading rows read back as the same objects.
    assert empty.all_reading() == filled.all_reading()


def test_importing_the_same_backup_twice_adds_nothing(filled, tmp_path):
    backup = tmp_path / "backup.json"
    assert export_file(filled, backup) == {"reading": 4, "sessions": 2}
    other = ProgressStore(tmp_path / "other.db")
    assert import_file(other, backup) == {"reading": 4, "sessions": 2}
    first = export_data(other)

    assert import_file(other, backup) == {"reading": 0, "sessions": 0}
    assert without_export_time(export_data(other)) == without_export_time(first)
    assert len(other.sessions()) == 2
    # Importing a store's own backup into itself changes nothing either.
    before = without_export_time(export_data(filled))
    assert import_file(filled, backup) == {"reading": 0, "sessions": 0}
    assert without_export_time(export_data(filled)) == before


def test_a_merge_keeps_the_newer_entry(filled, tmp_path, corpus):
    backup = export_data(filled)
    a, b = corpus.resources[:2]
    by_key = {r["key"]: r for r in backup["reading"]}
    # The backup's copy of `a` is older than the store's, its copy of `b` newer.
    by_key[a.id].update(note="old note from the backup", updated_at="2000-01-01T00:00:00+00:00")
    # Newer than the store's rows (written just now), yet not in the future beyond clock skew:
    # a backup's updated_at from the far future is refused (it would win every later merge).
    newer = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    by_key[b.id].update(note="newer note from the backup", bookmarked=False, updated_at=newer)
    # The backup's copy of the first session (not the newest row) is newer, of the second older.
    done, running = backup["sessions"]
    done.update(question="A newer title", updated_at=newer,
                steps=[{"step_id": "ml-metrics", "note": "rewritten elsewhere", "seconds": 12.5}])
    running.update(question="An old title", updated_at="2000-01-01T00:00:00+00:00")
    done_id = {s.uid: s.id for s in filled.sessions()}[done["uid"]]

    assert import_data(filled, backup) == {"reading": 1, "sessions": 1}

    assert filled.reading(a).note == "" and filled.reading(a).read
    assert filled.reading(b).note == "newer note from the backup" and not filled.reading(b).bookmarked
    assert sorted(s.question for s in filled.sessions()) == ["A newer title", "My own question"]
    replaced = filled.session(done_id)  # an open page keeps finding the session by its id
    assert (replaced.question, replaced.note("ml-metrics"), replaced.spent("ml-metrics")) == (
        "A newer title", "rewritten elsewhere", 12.5)
    assert replaced.finished and not replaced.running
    assert replaced.note("problem-formulation") == ""  # the backup's copy replaced the steps too


def test_a_backup_from_another_machine_adds_to_what_is_here(filled, tmp_path, corpus):
    other = ProgressStore(tmp_path / "other.db")
    other.set_note(corpus.resources[10], "from the laptop")
    other.start_session("Laptop question", 45, "problem-formulation", now=T0 + 5000)

    assert import_data(filled, export_data(other)) == {"reading": 1, "sessions": 1}
    assert filled.reading(corpus.resources[10]).note == "from the laptop"
    assert [s.question for s in filled.sessions()] == ["Laptop question", "My own question", "Design a video recommender"]


def _backup(**changes) -> dict:
    """A valid two-entry backup, with top-level keys replaced by ``changes``."""
    reading = {"key": "r1", "item_id": "r1", "title": "One", "url": None, "read_at": None, "bookmarked": True,
               "note": "", "updated_at": "2026-01-01T00:00:00+00:00"}
    session = {"uid": "u1", "question_id": None, "question": "Q", "minutes": 45, "started_at": "2026-01-01T00:00:00+00:00",
               "finished_at": None, "current_step": "ml-metrics", "step_entered_at": None,
               "updated_at": "2026-01-01T00:00:00+00:00", "last_activity": T0,
               "steps": [{"step_id": "ml-metrics", "note": "n", "seconds": 3.0}]}
    data = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": "2026-01-01T00:00:00+00:00",
            "reading": [reading, {**reading, "key": "r2", "item_id": "r2"}],
            "sessions": [session, {**session, "uid": "u2"}]}
    data.update(changes)
    return data


def _step(**changes) -> dict:
    return {"step_id": "ml-metrics", "note": "", "seconds": 1.0, **changes}


FLOW_STEP_LIST = ", ".join(sorted(s.id for s in load_corpus().steps))
TOMORROW = f"{datetime.now(UTC) + timedelta(days=1):%Y-%m-%d}"


def _second(kind: str, **changes) -> list[dict]:
    """The backup's list of ``kind`` with its second entry changed (a key set to ... is removed)."""
    entries = _backup()[kind]
    entries[1] = {k: v for k, v in {**entries[1], **changes}.items() if v is not ...}
    return entries


BAD_BACKUPS = [
    ("not-an-object", [1, 2], '{o} is not an mlsd progress export (its "format" should be "mlsd-progress").'),
    ("wrong-format", _backup(format="something-else"),
     '{o} is not an mlsd progress export (its "format" should be "mlsd-progress").'),
    ("wrong-version", _backup(version=3), "{o} has export version 3; this mlsd reads versions 1 and 2."),
    ("reading-not-a-list", _backup(reading={"r1": {}}), '{o}: "reading" and "sessions" must be lists.'),
    ("reading-missing-field", _backup(reading=_second("reading", updated_at=...)),
     "{o}, reading entry #2: field 'updated_at' is missing."),
    ("reading-not-an-object", _backup(reading=_second("reading")[:1] + ["r2"]),
     "{o}, reading entry #2 must be an object, got str."),
    ("reading-bad-bookmark", _backup(reading=_second("reading", bookmarked="yes")),
     "{o}, reading entry #2: field 'bookmarked' has the wrong type (str): 'yes'."),
    ("reading-note-too-long", _backup(reading=_second("reading", note="x" * (NOTE_MAX_CHARS + 1))),
     f"A note is limited to {NOTE_MAX_CHARS:,} characters; this one has {NOTE_MAX_CHARS + 1:,}."),
    ("session-minutes-text", _backup(sessions=_second("sessions", minutes="45")),
     "{o}, session #2: field 'minutes' has the wrong type (str): '45'."),
    ("session-minutes-bool", _backup(sessions=_second("sessions", minutes=True)),
     "{o}, session #2: field 'minutes' has the wrong type (bool): True."),
    ("session-minutes-range", _backup(sessions=_second("sessions", minutes=1000)),
     "{o}, session #2: field 'minutes' must be 5 to 240, got 1000."),
    ("session-last-activity-infinite", _backup(sessions=_second("sessions", last_activity=float("inf"))),
     "{o}, session #2: field 'last_activity' must be a finite number."),
    ("session-clock-text", _backup(sessions=_second("sessions", step_entered_at="now")),
     "{o}, session #2: field 'step_entered_at' has the wrong type (str): 'now'."),
    ("step-missing-seconds", _backup(sessions=_second("sessions", steps=[{"step_id": "ml-metrics", "note": ""}])),
     "{o}, session #2, step #1: field 'seconds' is missing."),
    ("step-twice", _backup(sessions=_second("sessions", steps=[{"step_id": "ml-metrics", "note": "", "seconds": 1},
                                                               {"step_id": "ml-metrics", "note": "", "seconds": 2}])),
     "{o}, session #2, step #2: step 'ml-metrics' appears twice."),    # Types right, values absurd: each would have been accepted, or crashed the import, before.
    ("step-seconds-negative", _backup(sessions=_second("sessions", steps=[_step(seconds=-1e9)])),
     "{o}, session #2, step #1: field 'seconds' is -1000000000.0, out of range: it must be 0 to 2,592,000 (30 days)."),
    ("step-seconds-huge-int", _backup(sessions=_second("sessions", steps=[_step(seconds=10 ** 300)])),
     "{o}, session #2, step #1: field 'seconds' is 100000000000000000000000000000, out of range: "
     "it must be 0 to 2,592,000 (30 days)."),
    ("step-seconds-bool", _backup(sessions=_second("sessions", steps=[_step(seconds=True)])),
     "{o}, session #2, step #1: field 'seconds' has the wrong type (bool): True."),
    ("step-unknown-id", _backup(sessions=_second("sessions", steps=[_step(step_id="hacking")])),
     "{o}, session #2, step #1: field 'step_id' is 'hacking', not a step of the flow (" + FLOW_STEP_LIST + ")."),
    ("session-unknown-current-step", _backup(sessions=_second("sessions", current_step="../../etc")),
     "{o}, session #2: field 'current_step' is '../../etc', not a step of the flow (" + FLOW_STEP_LIST + ")."),
    ("session-last-activity-1e308", _backup(sessions=_second("sessions", last_activity=1e308)),
     "{o}, session #2: field 'last_activity' is 1e+308, out of range: it must be a time in epoch seconds between "
     "2000-01-01 and 2100-01-01."),
    ("session-clock-negative", _backup(sessions=_second("sessions", step_entered_at=-5)),
     "{o}, session #2: field 'step_entered_at' is -5, out of range: it must be a time in epoch seconds between "
     "2000-01-01 and 2100-01-01."),
    ("session-minutes-huge-int", _backup(sessions=_second("sessions", minutes=10 ** 100)),
     "{o}, session #2: field 'minutes' must be 5 to 240, got 100000000000000000000000000000."),
    ("reading-updated-at-garbage", _backup(reading=_second("reading", updated_at="9999-zz")),
     "{o}, reading entry #2: field 'updated_at' is '9999-zz', not an ISO 8601 time (e.g. 2026-12-02T10:00:00+00:00)."),
    ("reading-updated-at-far-future", _backup(reading=_second("reading", updated_at="9999-01-01T00:00:00+00:00")),
     "{o}, reading entry #2: field 'updated_at' is '9999-01-01T00:00:00+00:00', out of range: it must lie between "
     "2000-01-01 and " + TOMORROW + "."),
    ("reading-read-at-no-zone", _backup(reading=_second("reading", read_at="2026-01-01T10:00:00")),
     "{o}, reading entry #2: field 'read_at' is '2026-01-01T10:00:00', a time without a time zone "
     "(e.g. 2026-12-02T10:00:00+00:00)."),
    ("session-started-at-1900", _backup(sessions=_second("sessions", started_at="1900-01-01T00:00:00+00:00")),
     "{o}, session #2: field 'started_at' is '1900-01-01T00:00:00+00:00', out of range: it must lie between "
     "2000-01-01 and 2100-01-01."),
    ("reading-title-huge", _backup(reading=_second("reading", title="x" * 100_000)),
     "{o}, reading entry #2: field 'title' is longer than 2,000 characters."),
]


@pytest.mark.parametrize("data, message", [b[1:] for b in BAD_BACKUPS], ids=[b[0] for b in BAD_BACKUPS])
def test_a_malformed_backup_names_entry_and_field_and_changes_nothing(filled, tmp_path, data, message):
    before = without_export_time(export_data(filled))
    backup = tmp_path / "bad.json"
    backup.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(ProgressError) as error:
        import_file(filled, backup)

    assert str(error.value) == message.format(o=backup)
    assert without_export_time(export_data(filled)) == before


def test_the_valid_backup_used_above_imports(store):
    # Proves the malformed cases fail for the one change each makes, not for something else.
    assert import_data(store, _backup()) == {"reading": 2, "sessions": 2}
    assert {s.uid: s.note("ml-metrics") for s in store.sessions()} == {"u1": "n", "u2": "n"}


@pytest.mark.parametrize("content, message", [
    (b"{not json", "{p} is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
                   "expected an `mlsd progress export` file."),
    (b"\xff\xfe\x00garbage", "{p} is not valid JSON ('utf-8' codec can't decode byte 0xff in position 0: invalid start "
                             "byte); expected an `mlsd progress export` file."),
    # built to crash the reader
    (b"[" * 100_000 + b"]" * 100_000, "{p} is nested too deeply to be an `mlsd progress export` file."),
    (b'{"format": "mlsd-progress", "version": ' + b"9" * 5000 + b"}",
     "{p} is not valid JSON (a number thousands of digits long); expected an `mlsd progress export` file."),
])
def test_a_backup_that_is_not_json_is_refused(filled, tmp_path, content, message):
    before = without_export_time(export_data(filled))
    backup = tmp_path / "bad.json"
    backup.write_bytes(content)
    with pytest.raises(ProgressError) as error:
        import_file(filled, backup)
    assert str(error.value) == message.format(p=backup)
    assert without_export_time(export_data(filled)) == before


def test_backup_times_are_stored_in_one_form(store):
    backup = _backup(reading=[{**_backup()["reading"][0], "updated_at": "2026-01-01T02:00:00+02:00",
                               "read_at": "2026-01-01T00:00:00Z"}], sessions=[])
    import_data(store, backup)
    [row] = export_data(store)["reading"]
    assert (row["updated_at"], row["read_at"]) == ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")


def test_a_missing_backup_is_refused(store, tmp_path):
    with pytest.raises(ProgressError) as error:
        import_file(store, tmp_path / "nowhere.json")
    assert str(error.value) == f"Cannot read {tmp_path / 'nowhere.json'}: No such file or directory."


@pytest.mark.parametrize("action", ["ABORT", "ROLLBACK"])
def test_an_import_that_fails_in_the_database_is_rolled_back(filled, action):
    # A failure only SQLite sees, after the backup's reading rows and first session are already
    # written in the import's transaction: a trigger refuses the second session. With ROLLBACK
    # SQLite ends the transaction itself, as it does on a full disk or an I/O error; the
    # error must still be the one reported.
    before = without_export_time(export_data(filled))
    conn = raw(filled.path)
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON practice_session WHEN NEW.uid = 'u2' "
                 f"BEGIN SELECT RAISE({action}, 'refused by the test'); END")
    conn.close()

    with pytest.raises(ProgressError) as error:
        import_data(filled, _backup())

    assert str(error.value) == f"The progress database {filled.path} failed: refused by the test."
    assert without_export_time(export_data(filled)) == before  # reading r1, r2 and session u1 rolled back


# ---------------------------------------------------------------------------------------------
# 5-7. damaged, read-only and locked files
# ---------------------------------------------------------------------------------------------
def _operations(store: ProgressStore, resource) -> dict:
    return {
        "migrate": store.migrate,
        "reading": lambda: store.reading(resource),
        "all_reading": store.all_reading,
        "set_read": lambda: store.set_read(resource),
        "set_note": lambda: store.set_note(resource, "x"),
        "start_session": lambda: store.start_session("Q", 45, "ml-metrics"),
        "sessions": store.sessions,
        "export_data": lambda: export_data(store),
        "import_data": lambda: import_data(store, _backup()),
    }


def _damaged_message(path: Path, detail: str) -> str:
    return (f"The progress database {path} is damaged ({detail}). Your reading and practice notes cannot be read "
            "from it. Move it aside to start a new one (the Progress page has a button, or rename the file).")


def test_a_file_of_garbage_is_reported_damaged_and_quarantined(db, corpus):
    garbage = b"this is not a database, it is a shopping list\n" * 200
    db.write_bytes(garbage)
    store = ProgressStore(db)

    for name, operation in _operations(store, corpus.resources[0]).items():
        with pytest.raises(ProgressError) as error:
            operation()
        assert str(error.value) == _damaged_message(db, "file is not a database"), name
    assert db.read_bytes() == garbage  # reporting never writes

    # Companion files go along. (Written now: SQLite itself removes a WAL it finds invalid.)
    Path(str(db) + "-wal").write_bytes(b"stale wal")
    Path(str(db) + "-shm").write_bytes(b"stale shm")
    moved = store.quarantine()
    assert moved.parent == db.parent and moved.name.startswith("progress.db.damaged-")
    assert moved.read_bytes() == garbage
    assert Path(str(moved) + "-wal").read_bytes() == b"stale wal"
    assert Path(str(moved) + "-shm").read_bytes() == b"stale shm"
    assert not db.exists() and not Path(str(db) + "-wal").exists() and not Path(str(db) + "-shm").exists()
    # The same store object starts a new database.
    store.set_read(corpus.resources[0])
    assert store.reading(corpus.resources[0]).read
    assert pragma(db, "integrity_check") == "ok"


def test_a_database_damaged_while_in_use_is_reported(store, corpus):
    store.set_read(corpus.resources[0])  # migrated: later operations skip the upgrade check
    store.path.write_bytes(b"\0" * 100 + b"overwritten by a bad sync tool" * 100)
    Path(str(store.path) + "-shm").unlink(missing_ok=True)
    with pytest.raises(ProgressError) as error:
        store.all_reading()
    assert str(error.value) == _damaged_message(store.path, "file is not a database")


def test_a_truncated_database_is_reported_damaged(db):
    store = ProgressStore(db)
    for n in range(300):  # several hundred KB, so that cutting the file in half loses table pages
        store.set_note(_Thing(f"r{n:03d}", "A title " * 20), "note " * 100)
    assert pragma(db, "wal_checkpoint(TRUNCATE)") == 0  # everything in the main file, the WAL empty
    size = db.stat().st_size
    with db.open("r+b") as handle:
        handle.truncate(size // 2)

    fresh = ProgressStore(db)  # a new process opening the file: the check on open finds it
    with pytest.raises(ProgressError) as error:
        fresh.all_reading()
    assert str(error.value) == _damaged_message(db, "database disk image is malformed")
    half = db.read_bytes()
    assert fresh.quarantine().read_bytes() == half
    assert fresh.all_reading() == {}


def test_quarantining_twice_in_the_same_second_keeps_both_files(db):
    # The name carries a time stamp; a second damaged file must not be moved over the first.
    db.write_bytes(b"first damaged file")
    first = ProgressStore(db).quarantine()
    db.write_bytes(b"second damaged file")
    second = ProgressStore(db).quarantine()
    assert first != second
    assert (first.read_bytes(), second.read_bytes()) == (b"first damaged file", b"second damaged file")
    assert ProgressStore(db).quarantine() is None  # nothing left to move


class _Thing:
    """A minimal bundled resource: what resource_key and the store read from a Resource."""

    source = "bundled"
    url = None

    def __init__(self, id: str, title: str = "") -> None:
        self.id, self.title = id, title


@pytest.fixture
def read_only(tmp_path):
    """Make a path read-only for this process: chmod, or for root (whom chmod does not stop)
    the immutable attribute. Yields a function; undoes everything afterwards."""
    changed: list[tuple[Path, str, int]] = []

    def make(path: Path) -> None:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        changed.append((path, "chmod", mode))
        if _writable(path):  # root: permissions are not checked
            if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)],
                                                                capture_output=True).returncode != 0:
                pytest.skip("running as root, where chmod does not stop writes, and `chattr +i` is unavailable")
            changed.append((path, "chattr", 0))
            assert not _writable(path)

    yield make
    for path, how, mode in reversed(changed):
        if how == "chattr":
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(mode)


def _writable(path: Path) -> bool:
    """Whether this process can really write to the path (not what the mode bits say)."""
    try:
        if path.is_dir():
            probe = path / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        else:
            with path.open("r+b"):
                pass
        return True
    except OSError:
        return False


def test_a_read_only_database_can_be_read_but_not_written(db, corpus, read_only):
    a, b = corpus.resources[:2]
    ProgressStore(db).set_read(a)
    read_only(db)
    store = ProgressStore(db)

    assert store.reading(a).read  # reading progress still shows
    for operation in (lambda: store.set_read(b), lambda: store.set_note(a, "new"),
                      lambda: store.start_session("Q", 45, "ml-metrics")):
        with pytest.raises(ProgressError) as error:
            operation()
        assert str(error.value) == (f"The progress database {db} is read-only, so progress cannot be saved. "
                                    "Check the file's permissions.")
    assert store.reading(a).note == "" and store.reading(b) is None


def test_a_database_in_a_read_only_folder_cannot_be_created(tmp_path, read_only):
    folder = tmp_path / "locked-folder"
    folder.mkdir()
    read_only(folder)
    store = ProgressStore(folder / "progress.db")
    with pytest.raises(ProgressError) as error:
        store.all_reading()
    assert str(error.value) == f"The progress database {folder / 'progress.db'} cannot be opened: unable to open database file."
    assert not (folder / "progress.db").exists()


def test_a_write_while_another_program_holds_the_lock_says_busy(store, corpus, monkeypatch):
    monkeypatch.setattr(mlsd.progress, "BUSY_TIMEOUT_SECONDS", 0.2)  # fail fast instead of waiting 5 s
    monkeypatch.setattr(mlsd.progress, "BUSY_DEADLINE_SECONDS", 0.5)  # and give up after half a second
    store.set_read(corpus.resources[0])
    holder = raw(store.path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ProgressError) as error:
            store.set_note(corpus.resources[0], "typed while locked")
        assert str(error.value) == (f"The progress database {store.path} is busy: another program holds a lock on it. "
                                    "Try again in a moment.")
        assert store.reading(corpus.resources[0]).read  # WAL: reading goes on during the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.set_note(corpus.resources[0], "typed after")  # the lock is gone: writes work again
    assert store.reading(corpus.resources[0]).note == "typed after"


# ---------------------------------------------------------------------------------------------
# 8. stable keys across re-imports and index rebuilds
# ---------------------------------------------------------------------------------------------
def test_bundled_resources_are_keyed_by_their_id(corpus, engine):
    for resource in corpus.resources:
        assert resource_key(resource) == resource.id
    item = next(i for i in corpus.items if i.type == "resource")
    assert resource_key(item) == item.id
    hit = engine.search(corpus.resources[0].title, k=1, filters=Filters(types=["resource"]))[0]
    assert resource_key(hit) == hit.id == corpus.resources[0].id


@pytest.mark.slow
def test_progress_on_an_imported_resource_survives_reimporting_under_another_name(home, embedder):
    from mlsd.library import import_source, remove_source

    listing = FIXTURES / "library" / "reading.md"
    import_source(str(listing), name="reading", embedder=embedder)
    corpus = load_corpus()
    ferries = next(r for r in corpus.resources if r.url == "https://ferries.example/tides")
    assert ferries.source == "reading" and ferries.id.startswith("imp-reading-")
    store = ProgressStore()  # in MLSD_HOME, like the app's
    store.set_read(ferries)
    store.set_note(ferries, "tides drive the delays")
    assert resource_key(ferries) == "url:https://ferries.example/tides"

    remove_source("reading", embedder=embedder)
    import_source(str(listing), name="weekend-reading", embedder=embedder)
    corpus = load_corpus()
    again = next(r for r in corpus.resources if r.url == "https://ferries.example/tides")
    assert again.id.startswith("imp-weekend-reading-") and again.id != ferries.id

    state = store.reading(again)
    assert (state.read, state.note) == (True, "tides drive the delays")
    assert read_ids(corpus, store.all_reading()) == [again.id]
    # A search hit from a newly opened engine carries the same key.
    hit = open_engine(corpus, embedder).search("Ferry Timetables Learned From Tides", k=1)[0]
    assert (hit.id, resource_key(hit)) == (again.id, "url:https://ferries.example/tides")
    assert store.reading(hit).read
    frame = reading_frame(corpus, store.all_reading())
    assert frame.loc[frame["id"] == again.id, "read"].tolist() == [True]


# ---------------------------------------------------------------------------------------------
# 9. the practice clock
# ---------------------------------------------------------------------------------------------
def test_time_is_split_between_steps_and_stops_while_paused(store):
    sid = store.start_session("  Design   a feed ranker ", 45, "problem-formulation", now=T0)
    session = store.session(sid)
    assert session.question == "Design a feed ranker"  # whitespace collapsed
    assert session.running and not session.finished and session.current_step == "problem-formulation"
    assert session.spent("problem-formulation", now=T0 + 42) == 42  # the open interval counts live

    store.move_to(sid, "ml-metrics", now=T0 + 60)
    store.save_step_note(sid, "ml-metrics", "precision@k", now=T0 + 100)
    assert store.session(sid).last_activity == T0 + 100  # typing counts as activity
    store.pause(sid, now=T0 + 130)
    paused = store.session(sid)
    assert not paused.running
    assert {s: paused.spent(s, now=T0 + 5000) for s in STEP_IDS[:2]} == {"problem-formulation": 60, "ml-metrics": 70}

    store.move_to(sid, "mvp-logic", now=T0 + 150)  # moving while paused keeps the clock stopped
    assert not store.session(sid).running and store.session(sid).spent("mvp-logic", now=T0 + 5000) == 0
    store.move_to(sid, "ml-metrics", now=T0 + 160)
    store.resume(sid, now=T0 + 200)
    store.move_to(sid, "mvp-logic", now=T0 + 230)
    store.finish(sid, now=T0 + 300)

    done = store.session(sid)
    assert done.finished and not done.running
    assert done.finished_at == "2027-01-15T08:05:00+00:00"
    assert {s: done.spent(s) for s in STEP_IDS[:3]} == {"problem-formulation": 60, "ml-metrics": 100, "mvp-logic": 70}
    assert done.elapsed(now=T0 + 99_999) == 230
    assert done.note("ml-metrics") == "precision@k" and done.note("training") == ""

    store.resume(sid, now=T0 + 1000)  # resuming a finished session reopens it
    resumed = store.session(sid)
    assert resumed.running and not resumed.finished
    assert resumed.spent("mvp-logic", now=T0 + 1010) == 80


def test_reopening_a_session_left_running_counts_up_to_its_last_activity(store):
    sid = store.start_session("Design search ranking", 45, "problem-formulation", now=T0)
    store.move_to(sid, "ml-metrics", now=T0 + 100)
    store.save_step_note(sid, "ml-metrics", "MRR", now=T0 + 160)
    # The tab was closed at +160; the user comes back much later.
    session = store.reopen(sid)
    assert isinstance(session, PracticeSession) and not session.running
    assert (session.spent("problem-formulation"), session.spent("ml-metrics", now=T0 + 86_400)) == (100, 60)
    assert store.session(sid) == session
    assert store.reopen(sid) == session  # reopening again adds nothing


def test_sessions_are_listed_newest_first_and_can_be_deleted(store):
    first = store.start_session("First", 45, "problem-formulation", now=T0)
    second = store.start_session("Second", 60, "problem-formulation", now=T0 + 60)
    store.save_step_note(first, "training", "x", now=T0 + 70)
    assert [s.id for s in store.sessions()] == [second, first]
    store.delete_session(first)
    assert [s.id for s in store.sessions()] == [second]
    with pytest.raises(ProgressError, match=f"^There is no practice session {first}.$"):
        store.session(first)
    assert raw(store.path).execute("SELECT count(*) FROM practice_step").fetchone()[0] == 0  # steps went too


def test_step_budgets_scale_the_45_minute_plan(corpus):
    assert sum(s.minutes for s in corpus.steps) == 45
    budgets = step_budgets(corpus.steps, 60)
    assert list(budgets) == [s.id for s in corpus.steps]
    assert sum(budgets.values()) == pytest.approx(60 * 60)
    assert budgets["problem-formulation"] == pytest.approx(5 * 60 * 60 / 45)  # 6:40
    assert budgets["training"] == pytest.approx(7 * 60 * 60 / 45)
    assert step_budgets(corpus.steps, 45) == {s.id: s.minutes * 60 for s in corpus.steps}
    even = step_budgets([_Thing("a"), _Thing("b")], 10)  # no suggested minutes: an even split
    assert even == {"a": 300, "b": 300}


def test_session_markdown_has_the_question_a_row_per_step_and_the_notes(store, corpus):
    sid = store.start_session("Design a video recommender", 60, "problem-formulation", now=T0)
    store.save_step_note(sid, "problem-formulation", "  Goal: watch time\n- constraint: 200 ms  \n", now=T0 + 30)
    store.move_to(sid, "ml-metrics", now=T0 + 90)
    store.save_step_note(sid, "ml-metrics", "NDCG", now=T0 + 100)
    store.finish(sid, now=T0 + 215)

    text = session_markdown(store.session(sid), corpus.steps)
    lines = text.splitlines()
    assert lines[:8] == [
        "# Mock interview: Design a video recommender", "",
        "- Started: 2027-01-15T08:00:00+00:00",
        "- Finished: 2027-01-15T08:03:35+00:00",
        "- Length: 60 min, used 3:35", "",
        "| Step | Spent | Budget |", "|---|---|---|",
    ]
    assert lines[8:15] == [
        "| 1. Problem formulation | 1:30 | 6:40 |",
        "| 2. ML metrics (offline and online) | 2:05 | 6:40 |",
        "| 3. MVP logic (high-level design) | 0:00 | 9:20 |",
        "| 4. Data pipeline | 0:00 | 9:20 |",
        "| 5. Training | 0:00 | 9:20 |",
        "| 6. Inference (online) | 0:00 | 9:20 |",
        "| 7. Scaling, monitoring and updates | 0:00 | 9:20 |",
    ]
    assert "\n## 1. Problem formulation\n\nGoal: watch time\n- constraint: 200 ms\n" in text
    assert "\n## 2. ML metrics (offline and online)\n\nNDCG\n" in text
    assert text.count("_No notes._") == 5 and text.endswith("_No notes._\n")


# ---------------------------------------------------------------------------------------------
# 10. views over the corpus and search filters
# ---------------------------------------------------------------------------------------------
def test_reading_frame_and_progress_by_company_and_topic(store, corpus):
    netflix = [r for r in corpus.resources if r.company == "netflix"]
    general = [r for r in corpus.resources if r.company is None]
    for resource in netflix[:2] + general[:1]:
        store.set_read(resource)
    store.set_bookmark(netflix[2])
    store.set_note(netflix[2], "later")
    reading = store.all_reading()

    frame = reading_frame(corpus, reading)
    assert len(frame) == len(corpus.resources)
    assert frame["read"].sum() == 3 and frame["bookmarked"].sum() == 1
    row = frame.set_index("id").loc[netflix[2].id]
    assert (row["read"], row["bookmarked"], row["note"], row["key"]) == (False, True, "later", netflix[2].id)
    assert pd.isna(row["read_at"])
    assert frame.set_index("id").loc[netflix[0].id, "read_at"] == reading[netflix[0].id].read_at

    by_company = progress_by(frame, "company").set_index("name")
    netflix_name = corpus.company_name("netflix")
    assert by_company.loc[netflix_name, ["resources", "read"]].tolist() == [len(netflix), 2]
    assert by_company.loc["General", ["resources", "read"]].tolist() == [len(general), 1]
    assert by_company.loc[netflix_name, "share"] == pytest.approx(2 / len(netflix))
    assert by_company["resources"].sum() == len(corpus.resources) and by_company["read"].sum() == 3
    assert by_company.index[0] == netflix_name  # most read first

    names = {t.id: t.name for t in corpus.topics}
    by_topic = progress_by(frame, "topic", names).set_index("name")
    read_set = {r.id for r in netflix[:2] + general[:1]}
    for topic in corpus.topics:
        filed = [r for r in corpus.resources if topic.id in r.topics]
        if filed:
            assert by_topic.loc[topic.name, ["resources", "read"]].tolist() == [
                len(filed), sum(r.id in read_set for r in filed)], topic.id
    assert len(by_topic) == len({t for r in corpus.resources for t in r.topics})
    with pytest.raises(ValueError, match="by must be 'company' or 'topic'"):
        progress_by(frame, "year")


def test_read_ids_lists_read_or_bookmarked_resources_in_corpus_order(store, corpus):
    a, b, c = corpus.resources[5], corpus.resources[1], corpus.resources[9]
    store.set_read(a)
    store.set_read(b)
    store.set_bookmark(c)
    store.set_note(corpus.resources[0], "only a note")
    assert read_ids(corpus, store.all_reading()) == [b.id, a.id]
    assert read_ids(corpus, store.all_reading(), bookmarked=True) == [c.id]


def test_read_next_leaves_out_what_was_read(store, engine):
    topic = "cold-start"
    before = read_next(engine, {}, topic, k=5)
    assert len(before) == 5 and all(h.type == "resource" for h in before)
    store.set_read(before[0])  # a Hit is accepted like a Resource
    store.set_read(before[2])

    after = read_next(engine, store.all_reading(), topic, k=5)
    ids = [h.id for h in after]
    assert before[0].id not in ids and before[2].id not in ids
    assert ids[:3] == [before[1].id, before[3].id, before[4].id]  # the rest keep their order


def test_search_filters_only_ids_and_exclude_ids(engine, corpus):
    query = "recommendations for new users"
    everything = engine.search(query, k=10, filters=Filters(types=["resource"]))
    wanted = [everything[3].id, everything[7].id]

    only = engine.search(query, k=10, filters=Filters(only_ids=wanted))
    assert sorted(h.id for h in only) == sorted(wanted)
    assert engine.search(query, k=10, filters=Filters(only_ids=[])) == []  # no bookmarks: nothing

    rest = engine.search(query, k=10, filters=Filters(types=["resource"], exclude_ids=[everything[0].id]))
    assert everything[0].id not in [h.id for h in rest]
    assert [h.id for h in rest][:3] == [h.id for h in everything[1:4]]


# ---------------------------------------------------------------------------------------------
# 11. validation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question, minutes, message", [
    ("   ", 45, "A practice session needs a question: pick a sample question or type your own."),
    ("x" * 2001, 45, "The question is longer than 2,000 characters; shorten it."),
    ("Q", 4, "The interview length must be 5 to 240 minutes, got 4."),
    ("Q", 241, "The interview length must be 5 to 240 minutes, got 241."),
    ("Q", 45.0, "The interview length must be 5 to 240 minutes, got 45.0."),
])
def test_a_session_needs_a_question_and_a_sensible_length(store, question, minutes, message):
    with pytest.raises(ProgressError) as error:
        store.start_session(question, minutes, "problem-formulation")
    assert str(error.value) == message
    assert store.sessions() == []


def test_notes_have_a_size_limit(store, corpus):
    sid = store.start_session("Q", 45, "problem-formulation", now=T0)
    longest = "x" * NOTE_MAX_CHARS
    store.set_note(corpus.resources[0], longest)  # the limit itself is allowed
    store.save_step_note(sid, "ml-metrics", longest, now=T0)
    message = f"A note is limited to {NOTE_MAX_CHARS:,} characters; this one has {NOTE_MAX_CHARS + 1:,}."
    for operation in (lambda: store.set_note(corpus.resources[0], longest + "x"),
                      lambda: store.save_step_note(sid, "ml-metrics", longest + "x", now=T0)):
        with pytest.raises(ProgressError) as error:
            operation()
        assert str(error.value) == message
    with pytest.raises(ProgressError, match="^A note must be text, got NoneType.$"):
        store.set_note(corpus.resources[0], None)
    assert store.reading(corpus.resources[0]).note == longest and store.session(sid).note("ml-metrics") == longest


@pytest.mark.parametrize("operation", ["session", "move_to", "pause", "resume", "finish", "reopen", "save_step_note"])
def test_an_unknown_session_is_an_error(store, operation):
    store.start_session("Q", 45, "problem-formulation", now=T0)
    call = {
        "session": lambda: store.session(999),
        "move_to": lambda: store.move_to(999, "ml-metrics", now=T0),
        "pause": lambda: store.pause(999, now=T0),
        "resume": lambda: store.resume(999, now=T0),
        "finish": lambda: store.finish(999, now=T0),
        "reopen": lambda: store.reopen(999),
        "save_step_note": lambda: store.save_step_note(999, "ml-metrics", "x", now=T0),
    }[operation]
    with pytest.raises(ProgressError) as error:
        call()
    assert str(error.value) == "There is no practice session 999."
    assert raw(store.path).execute("SELECT count(*) FROM practice_step").fetchone()[0] == 0


def test_reading_marks(store, corpus):
    resource = corpus.resources[0]
    assert store.reading(resource) is None
    store.set_read(resource)
    first = store.reading(resource)
    assert first.read and first.read_at is not None and first.title == resource.title
    store.set_read(resource)  # marking again keeps when it was first read
    assert store.reading(resource).read_at == first.read_at
    store.set_note(resource, "good")
    store.set_read(resource, False)
    state = store.reading(resource)
    assert (state.read, state.read_at, state.note) == (False, None, "good")  # unread keeps the note
    store.set_bookmark(resource)
    store.set_bookmark(resource, False)
    assert not store.reading(resource).bookmarked
