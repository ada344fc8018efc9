"""Tables and texts built from the corpus and the user's progress, for the pages to show.

pandas lives here (and in the pages), so the command line and the search path never import it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from .model import KIND_LABELS, Corpus, Question, Rubric, Step
from .practice import SCORE_LABELS, PracticeSession, Score, session_score, step_budgets, step_scores
from .progress import Reading, resource_key
from .sketch import is_dot

if TYPE_CHECKING:
    from .search import Hit, SearchEngine


def resources_frame(corpus: Corpus) -> pd.DataFrame:
    """One row per resource, with display names for company and kind."""
    rows = [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "company": corpus.company_name(r.company),
            "company_id": r.company,
            "kind": KIND_LABELS.get(r.kind, r.kind) if r.kind else None,
            "year": r.year,
            "summary": r.summary,
            "topics": ", ".join(corpus.topic_by_id[t].name for t in r.topics),
            "topic_ids": list(r.topics),
            "steps": list(r.steps),
            "source": r.source,
            "tags": ", ".join(r.tags),
        }
        for r in corpus.resources
    ]
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["year"] = frame["year"].astype("Int64")
    return frame

def topics_frame(corpus: Corpus) -> pd.DataFrame:
    """One row per topic with its parent, depth and path (for trees and treemaps)."""
    rows = []
    for t in corpus.topics:
        path = corpus.topic_path(t.id)
        rows.append(
            {
                "id": t.id,
                "parent": t.parent or "",
                "name": t.name,
                "depth": len(path) - 1,
                "path": " > ".join(p.name for p in path),
                "description": t.description,
                "resources": sum(1 for r in corpus.resources if t.id in r.topics),
            }
        )
    return pd.DataFrame(rows)


def reading_frame(corpus: Corpus, reading: dict[str, Reading]) -> pd.DataFrame:
    """The corpus's resources (``resources_frame``) with the user's progress columns.

    Adds ``key``, ``read`` (bool), ``bookmarked`` (bool), ``note`` and ``read_at``.
    """
    frame = resources_frame(corpus)
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


def read_ids(corpus: Corpus, reading: dict[str, Reading], bookmarked: bool = False) -> list[str]:
    """Item ids of the resources read (or, with ``bookmarked``, bookmarked) in this corpus."""
    out = []
    for r in corpus.resources:
        state = reading.get(resource_key(r))
        if state is not None and (state.bookmarked if bookmarked else state.read):
            out.append(r.id)
    return out


def read_next(engine: SearchEngine, reading: dict[str, Reading], item_id: str, k: int = 5) -> list[Hit]:
    """Unread case studies related to a topic, question, step or resource, nearest first."""
    from .search import Filters  # search pulls in faiss and the model: only when asked

    done = read_ids(engine.corpus, reading)
    return engine.related(item_id, k=k, filters=Filters(types=["resource"], exclude_ids=done))


def session_markdown(session: PracticeSession, steps: Sequence[Step], now: float | None = None,
                     rubric: Rubric | None = None, question: Question | None = None) -> str:
    """A session as Markdown: question, time per step against budget, notes, and the design sketch.

    Args:
        rubric: with it, the self-scores: a column of the table, and under each step's notes
            every criterion scored (covered, partly, missed).
        question: the sample question practised, for the text of the hints revealed.
    """
    budgets = step_budgets(steps, session.minutes)
    scores = step_scores(session, rubric) if rubric is not None else {}
    lines = [f"# Mock interview: {session.question}", "",
             f"- Started: {session.started_at}",
             f"- Finished: {session.finished_at or 'not yet'}",
             f"- Length: {session.minutes} min, used {mmss(session.elapsed(now))}"]
    total = session_score(session, rubric) if rubric is not None else None
    if total is not None and total.share is not None:
        lines.append(f"- Self-score: {points(total)} ({total.scored} of {total.criteria} criteria scored)")
    if session.hints_revealed:
        lines.append(f"- Hints revealed: {session.hints_revealed}")
    score_column = rubric is not None
    lines += ["", "| Step | Spent | Budget |" + (" Score |" if score_column else ""),
              "|---|---|---|" + ("---|" if score_column else "")]
    for step in steps:
        score = scores.get(step.id)
        shown = f" {points(score) if score and score.scored else '–'} |" if score_column else ""
        lines.append(f"| {step.number}. {step.name} | {mmss(session.spent(step.id, now))} | {mmss(budgets[step.id])} |{shown}")
    for step in steps:
        lines += ["", f"## {step.number}. {step.name}", "", session.note(step.id).strip() or "_No notes._"]
        hints = question.hints_for(step.id) if question is not None else ()
        revealed = [hints[n - 1] for n in session.revealed(step.id) if n <= len(hints)]
        if revealed:
            lines += ["", "Hints revealed:", *(f"- {hint}" for hint in revealed)]
        score = scores.get(step.id)
        if rubric is not None and score is not None and score.scored:
            lines += ["", f"Self-score: {points(score)}"]
            for criterion in rubric.criteria(step.id):
                given = session.score(step.id, criterion.id)
                if given is not None:
                    lines.append(f"- {SCORE_LABELS[given]}: {criterion.text}")
    if session.sketch.strip():
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", session.sketch)), default=0))
        language = "dot" if is_dot(session.sketch) else "text"
        lines += ["", "## Design sketch", "", fence + language, session.sketch.strip("\n"), fence]
    return "\n".join(lines) + "\n"


def points(score: Score) -> str:
    """A score as text, e.g. "7 of 10 points (70%)"."""
    share = f" ({score.share:.0%})" if score.share is not None else ""
    return f"{score.points} of {score.possible} points{share}"


def mmss(seconds: float) -> str:
    """Seconds as minutes:seconds, e.g. 425 -> "7:05"."""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
