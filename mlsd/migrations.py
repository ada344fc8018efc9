"""The progress database's schema, one migration per version (as sqlite-utils keeps them).

``PRAGMA user_version`` holds the version; :func:`upgrade` applies the missing migrations,
each in its own transaction, so a database made by an older mlsd upgrades without loss and
one made by a newer mlsd is refused untouched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import ProgressError

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
    # 3: what a session teaches: a design sketch, self-scores against the rubric (data/rubric.yaml)
    # and the hints revealed. Criteria are named by step and id, as the rubric's ids never change.
    """
    ALTER TABLE practice_session ADD COLUMN sketch TEXT NOT NULL DEFAULT '';
    CREATE TABLE practice_score (
        session_id   INTEGER NOT NULL REFERENCES practice_session(id) ON DELETE CASCADE,
        step_id      TEXT NOT NULL,
        criterion_id TEXT NOT NULL,
        score        INTEGER NOT NULL CHECK (score BETWEEN 0 AND 2),  -- missed, partly, covered
        PRIMARY KEY (session_id, step_id, criterion_id)
    );
    CREATE TABLE practice_hint (
        session_id  INTEGER NOT NULL REFERENCES practice_session(id) ON DELETE CASCADE,
        step_id     TEXT NOT NULL,
        number      INTEGER NOT NULL CHECK (number >= 1),  -- the hint's place in the step's list
        revealed_at TEXT NOT NULL,
        PRIMARY KEY (session_id, step_id, number)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def upgrade(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema of an open connection (autocommit mode) up to ``SCHEMA_VERSION``.

    Returns:
        The version found before upgrading.

    Raises:
        ProgressError: the file was made by a newer mlsd.
        sqlite3.Error: the file is locked, read-only or damaged (the caller explains it).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ProgressError(
            f"The progress database {path} was made by a newer version of mlsd (schema "
            f"{version}, this one knows {SCHEMA_VERSION}). Upgrade mlsd to use it."
        )
    if version == SCHEMA_VERSION:
        conn.execute("SELECT count(*) FROM reading").fetchone()  # detects a damaged file early
        return version
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] != number:
                conn.execute("ROLLBACK")
                continue
            for statement in statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return version


def statements(script: str) -> list[str]:
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


