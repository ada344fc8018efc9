"""Mock interviews as data: a session's clock, notes, hints, sketch and self-scores, and what they add up to.

A :class:`PracticeSession` is what :class:`mlsd.progress.ProgressStore` reads back; the
functions here only compute from it (no database, no streamlit): time budgets per step, the
self-score against the rubric, attempts grouped by question, and which step and question to
practise next.

Self-scoring: after a session the user scores each criterion of the rubric 0 (missed),
1 (partly) or 2 (covered). A step's *share* is its points over the points possible for the
criteria scored, so a step scored halfway is not counted as failed on the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import ProgressError
from .model import ID_PATTERN, Criterion, Question, Rubric, Step
from .sketch import SKETCH_MAX_CHARS

MAX_SCORE = 2
SCORE_LABELS = ("Missed", "Partly", "Covered")  # the meaning of 0, 1 and 2


@dataclass(frozen=True)
class StepRecord:
    step_id: str
    note: str
    seconds: float


@dataclass(frozen=True)
class PracticeSession:
    """A mock interview: its question, length, where it stands, per-step notes and time, and what
    the user did to learn from it (hints revealed, a design sketch, self-scores).

    ``seconds`` per step are closed intervals; ``running_since`` is when the current step's
    open interval began (None while paused or finished). Use ``spent`` for live totals.
    ``scores`` maps ``"<step>/<criterion>"`` to 0, 1 or 2; ``hints`` maps a step id to the
    numbers (1-based, in order) of the hints revealed for it.
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
    sketch: str = ""
    scores: dict[str, int] = field(default_factory=dict)
    hints: dict[str, tuple[int, ...]] = field(default_factory=dict)

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

    def score(self, step_id: str, criterion_id: str) -> int | None:
        """The self-score of one criterion (0-2), or None when it is not scored."""
        return self.scores.get(f"{step_id}/{criterion_id}")

    def revealed(self, step_id: str) -> tuple[int, ...]:
        """The numbers (1-based) of the hints revealed for a step, in order."""
        return self.hints.get(step_id, ())

    @property
    def hints_revealed(self) -> int:
        return sum(len(numbers) for numbers in self.hints.values())


def step_budgets(steps: Sequence[Step], minutes: int) -> dict[str, float]:
    """Each step's time budget in seconds for an interview of ``minutes``.

    Steps carry their suggested minutes for a 45-minute interview; a longer or shorter session
    scales them in proportion (steps without a suggestion share the time evenly).
    """
    weights = [getattr(s, "minutes", 0) or 0 for s in steps]
    if not any(weights):
        weights = [1] * len(steps)
    total = sum(weights)
    return {s.id: minutes * 60 * w / total for s, w in zip(steps, weights)}


def check_score(step_id: str, criterion_id: str, score: int | None) -> None:
    """Refuse a self-score that is not 0-2 (or None) for a kebab-case step and criterion id.

    Raises:
        ProgressError: saying what is wrong.
    """
    for what, value in (("step", step_id), ("criterion", criterion_id)):
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise ProgressError(f"A score needs a {what} id in kebab-case, got {value!r}.")
    if score is not None and (not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= MAX_SCORE):
        raise ProgressError(f"A score is 0, 1 or 2, got {score!r}.")


def check_sketch(sketch: str) -> str:
    """The sketch's text when it can be saved (text, at most ``SKETCH_MAX_CHARS``); readable or not."""
    if not isinstance(sketch, str):
        raise ProgressError(f"A sketch must be text, got {type(sketch).__name__}.")
    if len(sketch) > SKETCH_MAX_CHARS:
        raise ProgressError(f"A sketch is limited to {SKETCH_MAX_CHARS:,} characters; this one has {len(sketch):,}.")
    return sketch


# -- self-scores ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """Points against the rubric, for one step or a whole session.

    Attributes:
        points: the sum of the scores given.
        scored: how many criteria were scored.
        criteria: how many criteria there are.
        missed: criteria scored 0; ``partly``: scored 1 (one step's only).
    """

    points: int = 0
    scored: int = 0
    criteria: int = 0
    missed: tuple[Criterion, ...] = ()
    partly: tuple[Criterion, ...] = ()

    @property
    def possible(self) -> int:
        return MAX_SCORE * self.scored

    @property
    def share(self) -> float | None:
        """Points over the points possible for the criteria scored; None when nothing is scored."""
        return self.points / self.possible if self.possible else None

    @property
    def complete(self) -> bool:
        return self.criteria > 0 and self.scored == self.criteria


def step_scores(session: PracticeSession, rubric: Rubric) -> dict[str, Score]:
    """Each rubric step's score in this session, in the flow's order (scores of criteria the
    rubric no longer has are left out)."""
    out = {}
    for entry in rubric.steps:
        given = [(c, session.score(entry.step, c.id)) for c in entry.criteria]
        scored = [(c, s) for c, s in given if s is not None]
        out[entry.step] = Score(sum(s for _, s in scored), len(scored), len(entry.criteria),
                                tuple(c for c, s in scored if s == 0), tuple(c for c, s in scored if s == 1))
    return out


def session_score(session: PracticeSession, rubric: Rubric) -> Score:
    """The whole session's score (no criteria lists: see ``step_scores`` for those)."""
    steps = step_scores(session, rubric).values()
    return Score(sum(s.points for s in steps), sum(s.scored for s in steps), sum(s.criteria for s in steps))


# -- attempts, grouped by question ----------------------------------------------------------------------
def question_key(session: PracticeSession) -> str:
    """What makes two sessions attempts at the same question: the sample question's id, or the
    text of the user's own question (case and spacing aside)."""
    if session.question_id:
        return session.question_id
    return "own:" + " ".join(session.question.casefold().split())


@dataclass(frozen=True)
class Attempt:
    number: int  # 1 for the first attempt at the question
    session: PracticeSession
    score: Score
    seconds: float  # time used


@dataclass(frozen=True)
class QuestionAttempts:
    key: str
    question_id: str | None
    title: str  # the latest attempt's question text
    attempts: tuple[Attempt, ...]  # oldest first

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]


def attempts_by_question(sessions: Sequence[PracticeSession], rubric: Rubric,
                         now: float | None = None) -> list[QuestionAttempts]:
    """Sessions grouped by question (``question_key``), attempts numbered oldest first; the group
    practised most recently comes first."""
    groups: dict[str, list[PracticeSession]] = {}
    for session in sorted(sessions, key=lambda s: (s.started_at, s.id)):
        groups.setdefault(question_key(session), []).append(session)
    out = [
        QuestionAttempts(key, members[-1].question_id, members[-1].question, tuple(
            Attempt(n, s, session_score(s, rubric), s.elapsed(now)) for n, s in enumerate(members, start=1)))
        for key, members in groups.items()
    ]
    return sorted(out, key=lambda g: (g.latest.session.started_at, g.latest.session.id), reverse=True)


# -- what to practise next ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    """The step scored lowest on average, and a sample question to practise it on.

    Attributes:
        step_id: the weakest step.
        share: its average share over the sessions that scored it.
        sessions: how many sessions scored it.
        question_id: a question whose ``steps`` include it, practised least so far.
        attempts: how many sessions that question has had.
    """

    step_id: str
    share: float
    sessions: int
    question_id: str
    attempts: int


def step_averages(sessions: Sequence[PracticeSession], rubric: Rubric) -> dict[str, tuple[float, int]]:
    """Per rubric step with any score: (the average of its share per session, how many sessions)."""
    shares: dict[str, list[float]] = {}
    for session in sessions:
        for step_id, score in step_scores(session, rubric).items():
            if score.share is not None:
                shares.setdefault(step_id, []).append(score.share)
    return {e.step: (sum(shares[e.step]) / len(shares[e.step]), len(shares[e.step]))
            for e in rubric.steps if e.step in shares}


def weakest_step(sessions: Sequence[PracticeSession], rubric: Rubric,
                 questions: Sequence[Question]) -> Suggestion | None:
    """What to practise next: the step with the lowest average share (the earlier step on a tie),
    then, of the questions that exercise it, the one with the fewest attempts (never tried, or
    tried longest ago, first; then file order). None until some session has been scored."""
    averages = step_averages(sessions, rubric)
    if not averages:
        return None
    order = [e.step for e in rubric.steps]
    step_id = min(averages, key=lambda s: (averages[s][0], order.index(s)))
    candidates = [q for q in questions if step_id in q.steps] or [q for q in questions if q.hints_for(step_id)]
    if not candidates:
        return None
    attempts: dict[str, list[str]] = {}
    for session in sessions:
        if session.question_id:
            attempts.setdefault(session.question_id, []).append(session.started_at)
    position = {q.id: n for n, q in enumerate(questions)}
    best = min(candidates, key=lambda q: (len(attempts.get(q.id, [])), max(attempts.get(q.id, [""])), position[q.id]))
    share, count = averages[step_id]
    return Suggestion(step_id, share, count, best.id, len(attempts.get(best.id, [])))
