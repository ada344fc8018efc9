"""Practice that teaches: self-scores, hints revealed and the design sketch in the store, the
upgrade of a file made by the released schema, and what the sessions add up to (scores,
attempts by question, the weakest step, the Markdown export).

A real SQLite file in tmp_path and the real corpus and rubric; time is passed explicitly.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from mlsd.errors import ProgressError
from mlsd.migrations import MIGRATIONS, SCHEMA_VERSION
from mlsd.practice import (
    attempts_by_question,
    question_key,
    session_score,
    step_averages,
    step_scores,
    weakest_step,
)
from mlsd.progress import ProgressStore
from mlsd.sketch import SKETCH_MAX_CHARS
from mlsd.views import session_markdown

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "progress"
T0 = 1_800_000_000.0  # the epoch second the schema-2 fixture was made with (2027-01-15)


@pytest.fixture
def store(tmp_path) -> ProgressStore:
    return ProgressStore(tmp_path / "progress.db")


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def score_all(store: ProgressStore, sid: int, rubric, step_id: str, value: int) -> None:
    for criterion in rubric.criteria(step_id):
        store.set_score(sid, step_id, criterion.id, value)


# ---------------------------------------------------------------------------------------------
# the schema: a file made by the released code (schema 2) upgrades without loss
# ---------------------------------------------------------------------------------------------
def test_a_schema_2_file_made_by_the_released_code_upgrades_without_loss(tmp_path, corpus):
    # tests/fixtures/progress/schema-2.db was written by mlsd at commit 8156855 (schema 2):
    # three reading rows (read, bookmarked, noted), a finished session on q-feature-store with
    # notes on two steps, and a session on the user's own question left running.
    db = tmp_path / "progress.db"
    shutil.copy(FIXTURES / "schema-2.db", db)
    assert rows(db, "PRAGMA user_version") == [(2,)]
    before_reading = rows(db, "SELECT * FROM reading ORDER BY key")
    before_steps = rows(db, "SELECT * FROM practice_step ORDER BY session_id, step_id")

    store = ProgressStore(db)
    assert store.migrate() == 2
    assert rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)] and SCHEMA_VERSION == len(MIGRATIONS) == 3
    assert rows(db, "SELECT * FROM reading ORDER BY key") == before_reading
    assert rows(db, "SELECT * FROM practice_step ORDER BY session_id, step_id") == before_steps

    a, b, c = corpus.resources[:3]
    assert store.reading(a).read and store.reading(b).bookmarked and store.reading(c).note == "Reread the ranking part ✓"
    running, done = store.sessions()
    assert (done.question_id, done.question, done.finished) == (
        "q-feature-store", "Design a feature store for real-time ML", True)
    assert (done.spent("problem-formulation"), done.spent("data-pipeline")) == (120, 180)
    assert done.note("data-pipeline") == "Point-in-time joins"
    assert running.running and running.note("problem-formulation") == "Left running"
    # The new fields start empty, and work.
    assert (done.sketch, done.scores, done.hints) == ("", {}, {})
    store.set_score(done.id, "ml-metrics", "offline-metric", 2)
    store.reveal_hint(done.id, "training", 1, now=T0 + 400)
    store.save_sketch(done.id, "client -> api", now=T0 + 410)
    again = store.session(done.id)
    assert (again.scores, again.hints, again.sketch) == ({"ml-metrics/offline-metric": 2}, {"training": (1,)},
                                                         "client -> api")
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "PRAGMA foreign_key_check") == []


# ---------------------------------------------------------------------------------------------
# scores, hints and the sketch, saved and read back
# ---------------------------------------------------------------------------------------------
def test_scores_hints_and_the_sketch_are_saved_and_read_back(store):
    sid = store.start_session("Design a feature store for real-time ML", 45, "problem-formulation",
                              "q-feature-store", now=T0)
    store.finish(sid, now=T0 + 600)
    updated = store.session(sid)

    store.set_score(sid, "ml-metrics", "offline-metric", 2)
    store.set_score(sid, "ml-metrics", "online-metric", 0)
    store.set_score(sid, "training", "realistic-splits", 1)
    store.set_score(sid, "ml-metrics", "online-metric", 1)  # changed
    store.set_score(sid, "training", "realistic-splits", None)  # taken back
    store.reveal_hint(sid, "data-pipeline", 2, now=T0 + 700)
    store.reveal_hint(sid, "data-pipeline", 1, now=T0 + 710)
    store.reveal_hint(sid, "data-pipeline", 1, now=T0 + 720)  # again: nothing changes
    store.reveal_hint(sid, "training", 1, now=T0 + 730)
    sketch = 'client -> api -> ranker: top 500\n# "quotes" and \\N stay text\n'
    store.save_sketch(sid, sketch, now=T0 + 740)

    session = store.session(sid)
    assert session.scores == {"ml-metrics/offline-metric": 2, "ml-metrics/online-metric": 1}
    assert session.score("ml-metrics", "online-metric") == 1 and session.score("training", "realistic-splits") is None
    assert session.hints == {"data-pipeline": (1, 2), "training": (1,)}
    assert session.revealed("data-pipeline") == (1, 2) and session.revealed("inference") == ()
    assert session.hints_revealed == 3
    assert session.sketch == sketch
    assert session.finished and session.finished_at == updated.finished_at  # scoring does not reopen it
    assert session.last_activity == T0 + 740
    assert rows(store.path, "SELECT step_id, number, revealed_at FROM practice_hint ORDER BY step_id, number") == [
        ("data-pipeline", 1, "2027-01-15T08:11:50+00:00"), ("data-pipeline", 2, "2027-01-15T08:11:40+00:00"),
        ("training", 1, "2027-01-15T08:12:10+00:00")]


@pytest.mark.parametrize("call, message", [
    (lambda s, sid: s.set_score(sid, "ml-metrics", "offline-metric", 3), "A score is 0, 1 or 2, got 3."),
    (lambda s, sid: s.set_score(sid, "ml-metrics", "offline-metric", True), "A score is 0, 1 or 2, got True."),
    (lambda s, sid: s.set_score(sid, "ml-metrics", "offline-metric", "2"), "A score is 0, 1 or 2, got '2'."),
    (lambda s, sid: s.set_score(sid, "ml-metrics", "offline-metric", 1.0), "A score is 0, 1 or 2, got 1.0."),
    (lambda s, sid: s.set_score(sid, "ml-metrics", "Offline Metric", 1),
     "A score needs a criterion id in kebab-case, got 'Offline Metric'."),
    (lambda s, sid: s.set_score(sid, "", "offline-metric", 1), "A score needs a step id in kebab-case, got ''."),
    (lambda s, sid: s.reveal_hint(sid, "training", 0), "A hint is numbered from 1, got 0."),
    (lambda s, sid: s.save_sketch(sid, "x" * (SKETCH_MAX_CHARS + 1)),
     f"A sketch is limited to {SKETCH_MAX_CHARS:,} characters; this one has {SKETCH_MAX_CHARS + 1:,}."),
    (lambda s, sid: s.save_sketch(sid, None), "A sketch must be text, got NoneType."),
    (lambda s, sid: s.set_score(sid + 1, "ml-metrics", "offline-metric", 1), "There is no practice session {next}."),
    (lambda s, sid: s.reveal_hint(sid + 1, "training", 1), "There is no practice session {next}."),
    (lambda s, sid: s.save_sketch(sid + 1, "a -> b"), "There is no practice session {next}."),
])
def test_bad_scores_hints_and_sketches_are_refused_and_change_nothing(store, call, message):
    sid = store.start_session("Q", 45, "problem-formulation", now=T0)
    store.save_sketch(sid, "x" * SKETCH_MAX_CHARS, now=T0)  # the limit itself is allowed
    before = store.session(sid)
    with pytest.raises(ProgressError) as error:
        call(store, sid)
    assert str(error.value) == message.format(next=sid + 1)
    assert store.session(sid) == before


def test_deleting_a_session_removes_only_it(store, corpus):
    keep = store.start_session("Design a feed", 45, "problem-formulation", now=T0)
    drop = store.start_session("Design a feed", 45, "problem-formulation", now=T0 + 100)
    for sid in (keep, drop):
        store.save_step_note(sid, "ml-metrics", f"notes of {sid}", now=T0 + 200)
        store.set_score(sid, "ml-metrics", "offline-metric", 2)
        store.reveal_hint(sid, "training", 1, now=T0 + 300)
        store.save_sketch(sid, f"a -> b: {sid}", now=T0 + 400)
    store.set_read(corpus.resources[0])
    kept_before = store.session(keep)

    store.delete_session(drop)

    assert [s.id for s in store.sessions()] == [keep]
    assert store.session(keep) == kept_before
    with pytest.raises(ProgressError, match=f"^There is no practice session {drop}.$"):
        store.session(drop)
    for table in ("practice_step", "practice_score", "practice_hint"):
        assert rows(store.path, f"SELECT DISTINCT session_id FROM {table}") == [(keep,)], table
    assert store.reading(corpus.resources[0]).read


# ---------------------------------------------------------------------------------------------
# what the scores add up to
# ---------------------------------------------------------------------------------------------
def test_step_and_session_scores_count_only_what_was_scored(store, corpus):
    rubric = corpus.rubric
    sid = store.start_session("Q", 45, "problem-formulation", now=T0)
    empty = store.session(sid)
    assert session_score(empty, rubric).share is None and session_score(empty, rubric).criteria == 33

    metrics = [c.id for c in rubric.criteria("ml-metrics")]  # 5 criteria
    store.set_score(sid, "ml-metrics", metrics[0], 2)
    store.set_score(sid, "ml-metrics", metrics[1], 1)
    store.set_score(sid, "ml-metrics", metrics[2], 0)
    score_all(store, sid, rubric, "inference", 2)  # 4 criteria, all covered
    store.set_score(sid, "inference", "not-in-the-rubric", 0)  # a criterion since removed: ignored
    session = store.session(sid)

    scores = step_scores(session, rubric)
    assert list(scores) == [s.id for s in corpus.steps]
    m = scores["ml-metrics"]
    assert (m.points, m.scored, m.criteria, m.possible, m.share, m.complete) == (3, 3, 5, 6, 0.5, False)
    assert [c.id for c in m.missed] == [metrics[2]] and [c.id for c in m.partly] == [metrics[1]]
    i = scores["inference"]
    assert (i.share, i.complete, i.missed) == (1.0, True, ())
    assert scores["training"].share is None
    total = session_score(session, rubric)
    assert (total.points, total.possible, total.scored, total.criteria) == (11, 14, 7, 33)


def test_attempts_are_grouped_by_question_and_numbered_oldest_first(store, corpus):
    rubric = corpus.rubric
    first = store.start_session("Design a feature store for real-time ML", 45, "problem-formulation",
                                "q-feature-store", now=T0)
    store.finish(first, now=T0 + 1200)
    own = store.start_session("Design  a spam filter", 30, "problem-formulation", now=T0 + 5000)
    second = store.start_session("Design a feature store for real-time ML", 45, "problem-formulation",
                                 "q-feature-store", now=T0 + 10_000)
    own_again = store.start_session("design a SPAM filter", 30, "problem-formulation", now=T0 + 20_000)
    score_all(store, first, rubric, "data-pipeline", 0)
    score_all(store, second, rubric, "data-pipeline", 2)

    groups = attempts_by_question(store.sessions(), rubric, now=T0 + 20_060)
    assert [g.key for g in groups] == ["own:design a spam filter", "q-feature-store"]
    spam, feature_store = groups
    assert [a.session.id for a in spam.attempts] == [own, own_again] and spam.title == "design a SPAM filter"
    assert spam.question_id is None and question_key(store.session(own)) == "own:design a spam filter"
    assert [(a.number, a.session.id) for a in feature_store.attempts] == [(1, first), (2, second)]
    assert [a.score.share for a in feature_store.attempts] == [0.0, 1.0]
    assert feature_store.attempts[0].seconds == 1200 and feature_store.latest.session.id == second


def test_the_weakest_step_and_the_question_practised_least(store, corpus):
    rubric, questions = corpus.rubric, corpus.questions
    assert weakest_step([], rubric, questions) is None
    unscored = store.start_session("Q", 45, "problem-formulation", now=T0)
    assert weakest_step(store.sessions(), rubric, questions) is None  # nothing scored yet

    a = store.start_session("Design a feature store for real-time ML", 45, "problem-formulation",
                            "q-feature-store", now=T0 + 100)
    b = store.start_session("Design a feature store for real-time ML", 45, "problem-formulation",
                            "q-feature-store", now=T0 + 200)
    score_all(store, a, rubric, "data-pipeline", 0)  # data pipeline: 0% then 100%: average 50%
    score_all(store, b, rubric, "data-pipeline", 2)
    score_all(store, a, rubric, "training", 1)  # training: 50% then 25%: average 37.5%, the weakest
    training = [c.id for c in rubric.criteria("training")]
    store.set_score(b, "training", training[0], 1)
    store.set_score(b, "training", training[1], 0)
    score_all(store, b, rubric, "inference", 2)
    sessions = store.sessions()

    averages = step_averages(sessions, rubric)
    assert averages == {"data-pipeline": (0.5, 2), "training": (0.375, 2), "inference": (1.0, 1)}
    suggestion = weakest_step(sessions, rubric, questions)
    assert (suggestion.step_id, suggestion.share, suggestion.sessions) == ("training", 0.375, 2)
    exercising = [q.id for q in questions if "training" in q.steps]
    assert suggestion.question_id == exercising[0] and suggestion.attempts == 0  # never practised, file order

    # Once every question that exercises training has an attempt, the one tried longest ago comes first.
    for n, qid in enumerate(exercising):
        store.start_session(qid, 45, "problem-formulation", qid, now=T0 + 1000 + n)
    again = weakest_step(store.sessions(), rubric, questions)
    assert (again.question_id, again.attempts) == (exercising[0], 1)
    assert unscored in {s.id for s in store.sessions()}


# ---------------------------------------------------------------------------------------------
# the Markdown export
# ---------------------------------------------------------------------------------------------
def test_the_markdown_export_has_notes_hints_scores_and_the_sketch(store, corpus):
    question = corpus.question_by_id["q-feature-store"]
    sid = store.start_session(question.title, 45, "problem-formulation", question.id, now=T0)
    store.save_step_note(sid, "problem-formulation", "Users: feature authors", now=T0 + 30)
    store.reveal_hint(sid, "problem-formulation", 1, now=T0 + 40)
    store.move_to(sid, "ml-metrics", now=T0 + 60)
    store.save_sketch(sid, "client -> api -> ranker: top 500\nnote -> ```code```", now=T0 + 90)
    store.finish(sid, now=T0 + 120)
    rubric = corpus.rubric
    criteria = rubric.criteria("problem-formulation")
    store.set_score(sid, "problem-formulation", criteria[0].id, 2)
    store.set_score(sid, "problem-formulation", criteria[1].id, 1)
    store.set_score(sid, "problem-formulation", criteria[2].id, 0)

    text = session_markdown(store.session(sid), corpus.steps, rubric=rubric, question=question)
    lines = text.splitlines()
    assert lines[:7] == [
        "# Mock interview: Design a feature store for real-time ML", "",
        "- Started: 2027-01-15T08:00:00+00:00",
        "- Finished: 2027-01-15T08:02:00+00:00",
        "- Length: 45 min, used 2:00",
        "- Self-score: 3 of 6 points (50%) (3 of 33 criteria scored)",
        "- Hints revealed: 1",
    ]
    assert "| Step | Spent | Budget | Score |" in lines and "|---|---|---|---|" in lines
    assert "| 1. Problem formulation | 1:00 | 5:00 | 3 of 6 points (50%) |" in lines
    assert "| 2. ML metrics (offline and online) | 1:00 | 5:00 | – |" in lines
    assert ("## 1. Problem formulation\n\nUsers: feature authors\n\nHints revealed:\n"
            f"- {question.hints_for('problem-formulation')[0]}\n\nSelf-score: 3 of 6 points (50%)\n"
            f"- Covered: {criteria[0].text}\n- Partly: {criteria[1].text}\n- Missed: {criteria[2].text}\n") in text
    # The sketch's source, in a fence longer than any run of backticks inside it.
    assert text.endswith("## Design sketch\n\n````text\nclient -> api -> ranker: top 500\nnote -> ```code```\n````\n")


def test_the_markdown_export_of_a_dot_sketch_is_marked_as_dot(store, corpus):
    sid = store.start_session("Q", 45, "problem-formulation", now=T0)
    store.save_sketch(sid, "digraph { a -> b }", now=T0)
    text = session_markdown(store.session(sid), corpus.steps)
    assert text.endswith("## Design sketch\n\n```dot\ndigraph { a -> b }\n```\n")
    assert "Score" not in text  # no rubric given: no score column


# ---------------------------------------------------------------------------------------------
# backups carry the sketch, the self-scores and the hints revealed
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def taught(tmp_path) -> ProgressStore:
    """A store with a finished session that has a sketch, scores and hints, and one without."""
    store = ProgressStore(tmp_path / "taught.db")
    sid = store.start_session("Design a feature store for real-time ML", 45, "problem-formulation",
                              "q-feature-store", now=T0)
    store.reveal_hint(sid, "data-pipeline", 1, now=T0 + 10)
    store.reveal_hint(sid, "data-pipeline", 2, now=T0 + 20)
    store.save_sketch(sid, "client -> api -> ranker: top 500", now=T0 + 30)
    store.finish(sid, now=T0 + 60)
    store.set_score(sid, "ml-metrics", "offline-metric", 2)
    store.set_score(sid, "training", "realistic-splits", 0)
    store.start_session("Plain", 30, "problem-formulation", now=T0 + 100)
    return store


def test_a_backup_round_trip_keeps_sketch_scores_and_hints(taught, tmp_path):
    from mlsd.backup import EXPORT_VERSION, export_data, import_data

    exported = export_data(taught)
    assert exported["version"] == EXPORT_VERSION == 2
    done = exported["sessions"][0]
    assert done["sketch"] == "client -> api -> ranker: top 500"
    assert done["scores"] == [{"step_id": "ml-metrics", "criterion_id": "offline-metric", "score": 2},
                              {"step_id": "training", "criterion_id": "realistic-splits", "score": 0}]
    assert done["hints"] == [{"step_id": "data-pipeline", "number": 1, "revealed_at": "2027-01-15T08:00:10+00:00"},
                             {"step_id": "data-pipeline", "number": 2, "revealed_at": "2027-01-15T08:00:20+00:00"}]
    empty = ProgressStore(tmp_path / "empty.db")
    assert import_data(empty, exported) == {"reading": 0, "sessions": 2}
    copy = {s.uid: s for s in empty.sessions()}
    for original in taught.sessions():
        imported = copy[original.uid]
        assert (imported.sketch, imported.scores, imported.hints) == (original.sketch, original.scores, original.hints)
    again = export_data(empty)
    assert again["sessions"][0] == exported["sessions"][0]  # the finished one, field for field


def test_a_newer_copy_from_a_backup_replaces_scores_and_hints_too(taught):
    from mlsd.backup import export_data, import_data

    backup = export_data(taught)
    done = backup["sessions"][0]
    import datetime as dt

    newer = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(timespec="seconds")  # a clock ahead, not 2999
    done.update(updated_at=newer, sketch="a -> b", hints=[],
                scores=[{"step_id": "inference", "criterion_id": "latency-budget", "score": 1}])
    sid = {s.uid: s.id for s in taught.sessions()}[done["uid"]]
    assert import_data(taught, backup) == {"reading": 0, "sessions": 1}
    replaced = taught.session(sid)
    assert (replaced.sketch, replaced.scores, replaced.hints) == ("a -> b", {"inference/latency-budget": 1}, {})


def test_a_version_1_backup_without_the_new_fields_still_imports(store):
    from mlsd.backup import import_data

    session = {"uid": "u1", "question_id": None, "question": "Q", "minutes": 45,
               "started_at": "2026-01-01T00:00:00+00:00", "finished_at": None, "current_step": "ml-metrics",
               "step_entered_at": None, "updated_at": "2026-01-01T00:00:00+00:00", "last_activity": T0,
               "steps": [{"step_id": "ml-metrics", "note": "n", "seconds": 3.0}]}
    backup = {"format": "mlsd-progress", "version": 1, "exported_at": "2026-01-01T00:00:00+00:00",
              "reading": [], "sessions": [session]}
    assert import_data(store, backup) == {"reading": 0, "sessions": 1}
    imported = store.sessions()[0]
    assert (imported.note("ml-metrics"), imported.sketch, imported.scores, imported.hints) == ("n", "", {}, {})


def _with(**changes) -> dict:
    session = {"uid": "u1", "question_id": None, "question": "Q", "minutes": 45,
               "started_at": "2026-01-01T00:00:00+00:00", "finished_at": None, "current_step": "ml-metrics",
               "step_entered_at": None, "updated_at": "2026-01-01T00:00:00+00:00", "last_activity": T0, "steps": [],
               "sketch": "", "scores": [], "hints": [], **changes}
    return {"format": "mlsd-progress", "version": 2, "exported_at": "2026-01-01T00:00:00+00:00",
            "reading": [], "sessions": [session]}


SCORE = {"step_id": "ml-metrics", "criterion_id": "offline-metric", "score": 2}
HINT = {"step_id": "training", "number": 1, "revealed_at": "2026-01-01T00:00:00+00:00"}


@pytest.mark.parametrize("data, message", [
    (_with(sketch=None), "{o}, session #1: field 'sketch' has the wrong type (NoneType): None."),
    (_with(sketch="x" * (SKETCH_MAX_CHARS + 1)),
     f"A sketch is limited to {SKETCH_MAX_CHARS:,} characters; this one has {SKETCH_MAX_CHARS + 1:,}."),
    (_with(scores={"ml-metrics/offline-metric": 2}), "{o}, session #1: field 'scores' has the wrong type (dict): "
                                                     "{{'ml-metrics/offline-metric': 2}}."),
    (_with(scores=[{**SCORE, "score": 3}]), "{o}, session #1, score #1: A score is 0, 1 or 2, got 3."),
    (_with(scores=[{**SCORE, "score": "2"}]), "{o}, session #1, score #1: field 'score' has the wrong type (str): '2'."),
    (_with(scores=[{**SCORE, "criterion_id": "Offline metric"}]),
     "{o}, session #1, score #1: A score needs a criterion id in kebab-case, got 'Offline metric'."),
    (_with(scores=[SCORE, {**SCORE, "score": 1}]),
     "{o}, session #1, score #2: score 'ml-metrics/offline-metric' appears twice."),
    (_with(hints=[{**HINT, "number": 0}]), "{o}, session #1, hint #1: A hint is numbered from 1, got 0."),
    (_with(hints=[HINT, HINT]), "{o}, session #1, hint #2: hint 'training/1' appears twice."),
    (_with(hints=[{"step_id": "training", "number": 1}]), "{o}, session #1, hint #1: field 'revealed_at' is missing."),
])
def test_a_malformed_sketch_score_or_hint_in_a_backup_is_refused_and_changes_nothing(taught, tmp_path, data,
                                                                                     message):
    import json

    from mlsd.backup import export_data, import_file

    before = export_data(taught)["sessions"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProgressError) as error:
        import_file(taught, path)
    assert str(error.value) == message.format(o=path)
    assert export_data(taught)["sessions"] == before
