"""Tables and texts built from the corpus and the user's progress, for the pages to show.

pandas lives here (and in the pages), so the command line and the search path never import it;
it is imported by the functions that build tables, on first use, so a page that only shows
search results answers without it (importing pandas took seconds on a loaded machine).
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .model import KIND_LABELS, Corpus, Item, Question, Resource, Rubric, Step
from .practice import SCORE_LABELS, PracticeSession, Score, session_score, step_budgets, step_scores
from .progress import Reading, resource_key
from .sketch import is_dot

if TYPE_CHECKING:
    import pandas as pd

    from .search import Hit, SearchEngine

NO_COMPANY = "General"  # the company column of a resource that names no company
CORE_LIST = "Core list"  # the bundled case studies, as a source name for people


def resources_frame(corpus: Corpus) -> pd.DataFrame:
    """One row per resource, with display names for company and kind."""
    import pandas as pd  # on first use: a page that never builds a table never imports it

    rows = [
        {
            "id": r.id,
            "title": r.title,
            "url": r.url,
            "company": corpus.company_name(r.company) or NO_COMPANY,  # text, never NaN: pages format it
            "company_id": r.company,
            "kind": KIND_LABELS.get(r.kind, r.kind) if r.kind else None,
            "year": r.year,
            "summary": r.summary,
            "summary_from": "page" if r.summary_from_page else "",  # the linked page's description (--enrich)
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
    import pandas as pd  # on first use: a page that never builds a table never imports it

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

    Adds ``key``, ``read`` (bool), ``bookmarked`` (bool), ``note``, ``read_at`` (ISO time,
    missing when unread: for sorting) and ``read_on`` (the date read, "" when unread: for showing).
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
        read_on=[(s.read_at or "")[:10] if s else "" for s in states],
    )


def progress_by(frame: pd.DataFrame, by: str, topic_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Read counts grouped by ``company`` or ``topic``: columns name, resources, read, share.

    Args:
        frame: a ``reading_frame``.
        by: "company" (company display name, "General" when none), "topic" (every topic a
            resource is filed under; ``topic_names`` maps ids to names; resources without a
            topic are left out) or "source" ("Core list" for the bundled ones, else the
            imported list's name).
    """
    if by == "company":
        grouped = frame.assign(name=frame["company"].fillna(NO_COMPANY))
    elif by == "source":
        grouped = frame.assign(name=frame["source"].replace({"bundled": CORE_LIST}))
    elif by == "topic":
        grouped = frame.explode("topic_ids").dropna(subset=["topic_ids"])
        grouped = grouped.assign(name=grouped["topic_ids"].map(topic_names or {}).fillna(grouped["topic_ids"]))
    else:
        raise ValueError(f"progress_by: by must be 'company' or 'topic', or 'source' for the lists; got {by!r}")
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
    return engine.related(item_id, k=k, filters=Filters(types=["resource"], exclude_ids=done), curated_first=True)


def recent_reads(corpus: Corpus, reading: dict[str, Reading], n: int = 3) -> list[Resource]:
    """The ``n`` resources of this corpus read last, newest first."""
    by_key = {resource_key(r): r for r in corpus.resources}
    done = sorted((s for s in reading.values() if s.read and s.key in by_key), key=lambda s: s.read_at or "",
                  reverse=True)
    return [by_key[s.key] for s in done[:n]]


def suggest_next(engine: SearchEngine, reading: dict[str, Reading], k: int = 6,
                 recent: int = 3) -> tuple[list[Hit], list[Resource]]:
    """Unread case studies to read next when the user has not said about what.

    The nearest unread case studies to the ``recent`` ones read last, taken in turn (the
    nearest to the newest read, then to the one before, ...), so one read does not fill the
    list; with nothing read yet (or all of it read), the core list's unread case studies in
    their curated order.

    Returns:
        The hits, and the reads they were found from (empty when they are the core list).
    """
    from .search import Filters  # search pulls in faiss and the model: only when asked

    corpus = engine.corpus
    done = read_ids(corpus, reading)
    last = [r for r in recent_reads(corpus, reading, recent) if r.id in engine.position]
    rankings = [engine.related(r.id, k=k, filters=Filters(types=["resource"], exclude_ids=done)) for r in last]
    chosen: dict[str, Hit] = {}
    for rank in range(k):
        for hits in rankings:
            if rank < len(hits) and hits[rank].id not in chosen and len(chosen) < k:
                chosen[hits[rank].id] = hits[rank]
    if chosen:
        return list(chosen.values()), last
    skip = set(done)
    core = [corpus.item_by_id[r.id] for r in corpus.resources if r.source == "bundled" and r.id not in skip]
    return [_core_hit(item) for item in core[:k]], []


def _core_hit(item: Item) -> Hit:
    from .search import Hit

    return Hit(id=item.id, type=item.type, title=item.title, url=item.url, company=item.company, kind=item.kind,
               year=item.year, summary=item.summary, path=item.path, score=0.0, signals=["core list"],
               source=item.source)


def csv_safe(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of a table whose text cells a spreadsheet cannot run as formulas (OWASP CSV injection).

    A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe, which spreadsheets show as text. Numbers and missing values are kept.

    Args:
        frame: the table to export (or to show in a grid that can export itself).
        columns: only these columns; every text column by default.
    """
    import pandas as pd  # on first use: a page that never builds a table never imports it

    out = frame.copy()
    for column in columns if columns is not None else out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_bytes(rows: Sequence[dict]) -> bytes:
    """Rows as UTF-8 CSV (the first row's keys as the header), text cells made safe as
    :func:`csv_safe` makes them, None as an empty cell; the standard library's writer, no pandas
    (the search page builds its export on every search, the first one of a fresh server included).
    """
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def html_text(value: object) -> str:
    """Text for Plotly labels, legends and hovers: Plotly renders <a>, <b>, <br>..., so escape them.

    Only ``&``, ``<`` and ``>``: Plotly turns ``&amp;``, ``&lt;`` and ``&gt;`` back into the
    characters, but would show ``&quot;`` as it is (quotes cannot open a tag anyway).
    """
    pandas = sys.modules.get("pandas")  # pd.NA exists only once pandas is imported
    if value is None or (isinstance(value, float) and value != value) or (pandas is not None and value is pandas.NA):
        return ""
    return html.escape(str(value), quote=False)


# -- companies -------------------------------------------------------------------------------------
def company_counts(corpus: Corpus) -> dict[str, int]:
    """Resources per company display name, most first (then A-Z); resources without one are left out."""
    counts: dict[str, int] = {}
    for r in corpus.resources:
        name = corpus.company_name(r.company)
        if name:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold())))


def company_label(corpus: Corpus, name: str, counts: dict[str, int] | None = None) -> str:
    """How a company is offered in a filter: its name, its count, the other names it goes by.

    e.g. ``"Facebook (98) · also Meta, Instagram, FB"``, so typing "meta" in a filter that
    matches labels finds it.
    """
    label = f"{name} ({counts[name]})" if counts and name in counts else name
    aliases = corpus.company_aliases(name)
    return f"{label} · also {', '.join(aliases)}" if aliases else label


# -- the map ------------------------------------------------------------------------------------------
TYPE_NAMES = {"topic": "Topic", "step": "Flow step", "question": "Question", "resource": "Case study"}
NO_TOPIC = "No topic yet"  # imported case studies near no topic (mlsd.assign), or never filed
FLOW_GROUP = "Design flow steps"
MAP_COLOURS = {"topic": "Topic", "company": "Company", "kind": "Kind", "source": "Source"}
# Per colouring: the group of the many beyond the top N, and the group of those without a value.
_OTHER_AND_NONE = {"topic": ("Other topics", NO_TOPIC), "company": ("Other companies", "No company"),
                   "kind": ("Other kinds", None), "source": ("Other lists", None)}
OTHER_GROUPS = frozenset(other for other, _ in _OTHER_AND_NONE.values())
NONE_GROUPS = frozenset(none for _, none in _OTHER_AND_NONE.values() if none)


def map_frame(engine: SearchEngine) -> pd.DataFrame:
    """Every indexed item at its place on the map (the PCA of its vector), with what the map shows.

    Columns: x, y, id, type, title, url, summary, company ("" when none), kind (a resource's
    kind, "Unclassified" for imported ones; the item type for topics, steps and questions),
    source ("Core list" or the imported list's name), source_id ("bundled" or the name),
    topic (the root topic's name; "Design flow steps" for steps; "No topic yet" without one)
    and topic_ids.
    """
    import pandas as pd  # on first use: a page that never builds a table never imports it

    corpus = engine.corpus
    rows = []
    for n, item in enumerate(engine.items):
        x, y = engine.index.projection[n]
        roots = [name for name in (corpus.root_topic_name(t) for t in item.topics) if name]
        topic = roots[0] if roots else FLOW_GROUP if item.type == "step" else NO_TOPIC
        if item.type == "resource":
            kind = KIND_LABELS.get(item.kind, item.kind) if item.kind else "Unclassified"
        else:
            kind = TYPE_NAMES[item.type]
        rows.append({"x": float(x), "y": float(y), "id": item.id, "type": item.type, "title": item.title,
                     "url": item.url or "", "summary": item.summary, "company": item.company or "", "kind": kind,
                     "source": CORE_LIST if item.source == "bundled" else item.source, "source_id": item.source,
                     "topic": topic, "topic_ids": list(item.topics)})
    return pd.DataFrame(rows)


def filter_map(frame: pd.DataFrame, corpus: Corpus, types: Sequence[str] = (), companies: Sequence[str] = (),
               sources: Sequence[str] = (), topics: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of a ``map_frame`` that pass the filters, as search filters them.

    Args:
        types: item types; companies: names, aliases or spellings; sources: "bundled" or
            list names; topics: topic ids, each with its subtree. Empty means no filter.
    """
    import pandas as pd  # on first use: a page that never builds a table never imports it

    keep = pd.Series(True, index=frame.index)
    if types:
        keep &= frame["type"].isin(list(types))
    if companies:
        names = {corpus.company_name(corpus.resolve_company(c) or c) for c in companies}
        keep &= frame["company"].isin(names)
    if sources:
        keep &= frame["source_id"].isin(list(sources))
    if topics:
        wanted = {t for topic in topics for t in corpus.subtree(topic)}
        keep &= frame["topic_ids"].map(lambda ids: bool(wanted.intersection(ids)))
    return frame[keep]


def map_groups(frame: pd.DataFrame, by: str, top: int | None = 10) -> tuple[pd.Series, list[str]]:
    """The legend group of each row when the map is coloured by ``by``, and the legend's order.

    At most ``top`` named groups (None: all), largest first; the rest fall into one "Other ..."
    group, and rows without a value (no company, no topic yet) into one honest group of their
    own, last.
    """
    if by not in MAP_COLOURS:
        raise ValueError(f"map_groups: by must be one of {', '.join(MAP_COLOURS)}, got {by!r}")
    other, none = _OTHER_AND_NONE[by]
    values = frame[by].replace({"": none}) if none else frame[by]
    counts = values.value_counts()
    named = [v for v in counts.index if v != none][:top]  # [:None] keeps them all
    groups = values.where(values.isin(named) | (values == none), other)
    order = named + [g for g in (other, none) if g is not None and (groups == g).any()]
    return groups, order


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
