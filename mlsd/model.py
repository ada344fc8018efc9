"""The typed model of the knowledge base: steps, topics, companies, resources, questions, rubric.

Frozen dataclasses, and ``Corpus``, which holds them all with their look-ups and the unified
``Item`` view that search indexes. Loading and validating them is :mod:`mlsd.corpus`'s job;
the imported lists' file format is :mod:`mlsd.sources`'s; tables for the pages are
:mod:`mlsd.views`'. Nothing here reads a file.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

KINDS: tuple[str, ...] = (
    "blog-post",
    "book",
    "course",
    "paper",
    "repository",
    "slides",
    "talk-video",
)
KIND_LABELS = {
    "blog-post": "Blog post",
    "book": "Book",
    "course": "Course",
    "paper": "Paper",
    "repository": "Repository",
    "slides": "Slides",
    "talk-video": "Talk video",
}
ITEM_TYPES: tuple[str, ...] = ("topic", "step", "question", "resource")
# Search modes (mlsd.search): here, so that the command line can offer them without importing search.
MODES: tuple[str, ...] = ("hybrid", "semantic", "keyword")
MIN_YEAR = 1990
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def company_key(name: str) -> str:
    """How spellings of a company compare: case, spaces and punctuation ignored.

    ``"DoorDash"``, ``"Doordash"`` and ``"Door-Dash"`` give ``"doordash"``; ``"JPMorgan Chase"``
    and ``"JPMorganChase"`` one key too. A name of punctuation only keys as itself, casefolded.
    """
    folded = " ".join(name.split()).casefold()
    return _NOT_LETTER_OR_DIGIT.sub("", folded) or folded


@dataclass(frozen=True)
class ChecklistItem:
    text: str
    items: tuple[ChecklistItem, ...] = ()

    def walk(self, depth: int = 0) -> Iterable[tuple[int, ChecklistItem]]:
        yield depth, self
        for child in self.items:
            yield from child.walk(depth + 1)


@dataclass(frozen=True)
class Step:
    id: str
    number: int
    name: str
    description: str
    checklist: tuple[ChecklistItem, ...]
    minutes: int = 0  # suggested share of a 45-minute interview (practice sessions scale it)

    def checklist_lines(self) -> list[tuple[int, str]]:
        """The checklist flattened to (depth, text) pairs, in order."""
        return [(d, item.text) for top in self.checklist for d, item in top.walk()]


@dataclass(frozen=True)
class Topic:
    id: str
    parent: str | None
    name: str
    description: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    id: str
    title: str
    url: str
    company: str | None  # bundled: a company id; imported: the company's display name
    kind: str | None  # None for imported resources: curated lists do not say
    year: int | None
    summary: str
    topics: tuple[str, ...]
    steps: tuple[str, ...]
    source: str = "bundled"  # or the name of the imported list (library/<name>.json)
    tags: tuple[str, ...] = ()
    assigned: bool = False  # topics and steps filed automatically (mlsd.assign), not curated
    summary_from: str | None = None  # "page": the summary is the linked page's own description (mlsd.enrich)
    page_title: str | None = None  # the linked page's title, when the summary was taken from it

    @property
    def summary_from_page(self) -> bool:
        """True when the summary is not the list's but the linked page's description: show it as such."""
        return self.summary_from == "page"

    @property
    def filed(self) -> str:
        """How its topics were given: "curated" (bundled data), "automatically" (an imported item
        filed by :mod:`mlsd.assign`) or "not yet" (an imported item never filed)."""
        if self.source == "bundled":
            return "curated"
        return "automatically" if self.assigned else "not yet"


@dataclass(frozen=True)
class Question:
    """A sample interview question and its practice material (never part of the search index)."""

    id: str
    title: str
    prompt: str
    topics: tuple[str, ...]
    steps: tuple[str, ...]
    hints: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (step id, its hints) in the flow's order
    pitfalls: tuple[str, ...] = ()
    follow_ups: tuple[str, ...] = ()
    outline: tuple[str, ...] = ()  # shown only once the user has finished a session

    def hints_for(self, step_id: str) -> tuple[str, ...]:
        """The hints for one flow step (empty when the question has none for it)."""
        return dict(self.hints).get(step_id, ())


@dataclass(frozen=True)
class Criterion:
    """One thing a strong answer does at a flow step; referred to as ``<step>/<id>``."""

    id: str
    text: str  # a short checkbox label ("Names an offline metric ...")
    detail: str  # what a good answer looks like, with examples


@dataclass(frozen=True)
class RubricStep:
    step: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Rubric:
    """What a strong answer covers at each flow step (``data/rubric.yaml``), in the flow's order."""

    steps: tuple[RubricStep, ...] = ()

    def criteria(self, step_id: str) -> tuple[Criterion, ...]:
        """The criteria of one step (empty for a step the rubric does not cover)."""
        for entry in self.steps:
            if entry.step == step_id:
                return entry.criteria
        return ()


@dataclass(frozen=True)
class Item:
    """Any searchable thing (topic, flow step, sample question, resource) in one shape."""

    id: str
    type: str
    title: str
    url: str | None
    company: str | None  # company display name
    kind: str | None
    year: int | None
    summary: str
    path: str  # place in the tree or flow, e.g. "Recommendation systems > Cold start problem"
    topics: tuple[str, ...]
    steps: tuple[str, ...]
    source: str = "bundled"
    tags: tuple[str, ...] = ()

    def embedding_text(self) -> str:
        """The text the model embeds and BM25 indexes: title, place in the tree, company, summary, tags.

        A topic carries its parent path ("Recommendation systems > Collaborative filtering"), so
        "cold start" sits inside recommendation. Resources and steps carry no path: their
        made-up labels ("Blog post on ...", "Design flow > Step 6") only diluted the vector
        (benchmarks/eval_search.py: nDCG@10 0.78 -> 0.81 on paraphrases and questions).
        """
        parts = [self.title]
        if self.type == "topic" and " > " in self.path:
            parts.append(self.path.rsplit(" > ", 1)[0])
        if self.company:
            parts.append(self.company)
        if self.summary:
            parts.append(self.summary)
        if self.tags:  # only imported items have tags, so bundled texts (and vectors) stay as they were
            parts.append(", ".join(self.tags))
        return ". ".join(p.rstrip(". ") for p in parts) + "."

    def embedded_texts(self) -> tuple[str, ...]:
        """The texts whose vectors are averaged into the item's one vector in the index.

        ``embedding_text()`` and, when there is one, the summary alone. In the full text the
        title, path and company pull the vector towards their names; the summary alone says
        what the item is about in plain words, which is what a query phrased in other words
        matches. The normalized mean of both vectors raised semantic nDCG@10 on paraphrases
        from 0.740 to 0.799 (benchmarks/eval_search.py) and on the held-out set
        (benchmarks/queries_heldout.yaml) from 0.613 to 0.698, at no cost in index size or
        query time; building encodes both texts (2,430 case studies: about 40 s, batched by length).
        The summary is part of ``embedding_text()``, so BM25 and the paraphrase check, which
        read that text, see every word embedded.
        """
        full = self.embedding_text()
        return (full, self.summary) if self.summary.strip() else (full,)


@dataclass(frozen=True)
class Corpus:
    """The whole validated knowledge base."""

    steps: tuple[Step, ...]
    topics: tuple[Topic, ...]
    companies: tuple[Company, ...]
    resources: tuple[Resource, ...]
    questions: tuple[Question, ...]
    guide: dict[str, Any] = field(hash=False, compare=False)
    data_hash: str = ""
    rubric: Rubric = field(default_factory=Rubric)

    # -- lookups ---------------------------------------------------------------------------
    @cached_property
    def topic_by_id(self) -> dict[str, Topic]:
        return {t.id: t for t in self.topics}

    @cached_property
    def step_by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    @cached_property
    def company_by_id(self) -> dict[str, Company]:
        return {c.id: c for c in self.companies}

    @cached_property
    def resource_by_id(self) -> dict[str, Resource]:
        return {r.id: r for r in self.resources}

    @cached_property
    def question_by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    @cached_property
    def children_by_id(self) -> dict[str | None, list[Topic]]:
        children: dict[str | None, list[Topic]] = {}
        for t in self.topics:
            children.setdefault(t.parent, []).append(t)
        return children

    def children(self, topic_id: str | None) -> list[Topic]:
        """Direct subtopics of a topic (``None`` gives the roots), in file order."""
        return list(self.children_by_id.get(topic_id, []))

    def subtree(self, topic_id: str) -> list[str]:
        """The topic's id and the ids of all its descendants."""
        out, stack = [], [topic_id]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(t.id for t in reversed(self.children_by_id.get(current, [])))
        return out

    def topic_path(self, topic_id: str) -> list[Topic]:
        """Root-to-node list of topics."""
        path: list[Topic] = []
        current: str | None = topic_id
        while current is not None:
            topic = self.topic_by_id[current]
            path.append(topic)
            current = topic.parent
        return list(reversed(path))

    @cached_property
    def root_names(self) -> dict[str, str]:
        """Topic id -> the name of its root topic ("cold-start" -> "Recommendation systems")."""
        return {t.id: self.topic_path(t.id)[0].name for t in self.topics}

    def root_topic_name(self, topic_id: object) -> str | None:
        """The name of a topic's root topic; None for anything that is not a topic id."""
        return self.root_names.get(topic_id) if isinstance(topic_id, str) else None

    # -- companies: one display name per company, whatever the spelling ---------------------------
    @cached_property
    def _company_spellings(self) -> dict[str, tuple[str, str | None]]:
        """Company key (``company_key``) -> (display name, bundled company id or None).

        Built once per corpus, so lists imported before canonicalisation existed benefit too.
        A bundled company owns its id, name and aliases ("Meta" -> Facebook); any other group of
        spellings that differ only in case and punctuation ("DoorDash", "Doordash", "Door-Dash")
        is shown under its most frequent spelling (ties: the one with more capitals, then A-Z).
        """
        groups: dict[str, tuple[str, str | None]] = {}
        for c in self.companies:
            for spelling in (c.id, c.name, *c.aliases):
                groups.setdefault(company_key(spelling), (c.name, c.id))
        seen: dict[str, Counter[str]] = {}
        for r in self.resources:
            if r.source != "bundled" and r.company and company_key(r.company) not in groups:
                seen.setdefault(company_key(r.company), Counter())[r.company] += 1
        for key, spellings in seen.items():
            ranked = sorted(spellings, key=lambda s: (-spellings[s], -sum(ch.isupper() for ch in s), s))
            groups[key] = (ranked[0], None)
        return groups

    def company_name(self, company_id: str | None) -> str | None:
        """Display name of a company given by id, name, alias or any spelling ("doordash" -> "DoorDash").

        A value the corpus does not know comes back unchanged; None stays None.
        """
        if company_id is None:
            return None
        company = self.company_by_id.get(company_id)
        if company is not None:
            return company.name
        known = self._company_spellings.get(company_key(company_id))
        return known[0] if known else company_id

    @cached_property
    def imported_company_names(self) -> tuple[str, ...]:
        """Companies only imported resources name (e.g. "Pinterest"), sorted, without repeats."""
        bundled = {c.name for c in self.companies}
        names = {self.company_name(r.company) for r in self.resources if r.source != "bundled" and r.company}
        return tuple(sorted((n for n in names if n and n not in bundled), key=str.casefold))

    @cached_property
    def company_names(self) -> tuple[str, ...]:
        """Display names of every company: the bundled ones in file order, then imported-only ones."""
        return tuple(c.name for c in self.companies) + self.imported_company_names

    def resolve_company(self, name: str) -> str | None:
        """Company id for an id, name, alias or spelling (case and punctuation ignored), or None.

        A company that only imported resources name has no id: its display name is returned,
        which ``company_name`` gives back unchanged, so filters treat both alike.
        """
        if not isinstance(name, str) or not name.strip():
            return None
        known = self._company_spellings.get(company_key(name))
        if known is None:
            return None
        display, company_id = known
        return company_id if company_id is not None else display

    def company_aliases(self, name: str) -> tuple[str, ...]:
        """Other names a company is known by, beyond case and punctuation ("Facebook" -> Meta, Instagram, FB).

        Only bundled companies have aliases (``companies.yaml``); an alias that merely extends
        the name ("Facebook/Meta") is left out.
        """
        company = self.company_by_id.get(self.resolve_company(name) or "")
        if company is None:
            return ()
        own = company_key(company.name)
        out = [a for a in company.aliases if own not in company_key(a)]
        return tuple(dict.fromkeys(out))

    def closest_companies(self, name: str, n: int = 3) -> list[str]:
        """Display names most like a name no company has (for "did you mean"), best first."""
        key = company_key(name)
        if not key:
            return []
        by_key = {company_key(c): c for c in self.company_names}
        close = difflib.get_close_matches(key, list(by_key), n=n, cutoff=0.7)  # 0.6 offers "Shopee" for "Nope"
        close += [k for k in by_key if len(key) >= 3 and key in k and k not in close]
        return [by_key[k] for k in close[:n]]

    # -- imported items filed automatically (mlsd.assign) -----------------------------------------
    def imported_under_topic(self, topic_id: str) -> list[Resource]:
        """Imported resources filed under a topic or its subtopics, those filed nearest to it first.

        Order: items whose nearest topic lies in the subtree, then the others; within each, the
        newest first, then by title.
        """
        subtree = set(self.subtree(topic_id)) if topic_id in self.topic_by_id else set()
        found = [r for r in self.resources if r.source != "bundled" and subtree.intersection(r.topics)]
        return sorted(found, key=lambda r: (r.topics[0] not in subtree, -(r.year or 0), r.title.casefold()))

    def imported_under_step(self, step_id: str) -> list[Resource]:
        """Imported resources filed under a flow step, the newest first, then by title."""
        found = [r for r in self.resources if r.source != "bundled" and step_id in r.steps]
        return sorted(found, key=lambda r: (-(r.year or 0), r.title.casefold()))

    # -- the unified item view -------------------------------------------------------------
    @cached_property
    def items(self) -> tuple[Item, ...]:
        """Every searchable item: topics, flow steps, sample questions, resources."""
        items: list[Item] = []
        for t in self.topics:
            path = " > ".join(p.name for p in self.topic_path(t.id))
            items.append(Item(t.id, "topic", t.name, None, None, None, None, t.description, path, (t.id,), ()))
        for s in self.steps:
            checklist = "; ".join(text for _, text in s.checklist_lines())
            summary = f"{s.description} Checklist: {checklist}."
            path = f"Design flow > Step {s.number}: {s.name}"
            items.append(Item(s.id, "step", s.name, None, None, None, None, summary, path, (), (s.id,)))
        for q in self.questions:
            items.append(
                Item(q.id, "question", q.title, None, None, None, None, q.prompt, "Sample questions", q.topics, q.steps)
            )
        for r in self.resources:
            company = self.company_name(r.company)
            topic_names = ", ".join(self.topic_by_id[t].name for t in r.topics if t in self.topic_by_id)
            label = KIND_LABELS.get(r.kind, r.kind) if r.kind else "Case study"
            path = f"{label} on {topic_names}" if topic_names else label
            if r.source != "bundled":
                path = f"{path} from the imported list '{r.source}'"
            items.append(
                Item(r.id, "resource", r.title, r.url, company, r.kind, r.year, r.summary, path, r.topics, r.steps,
                     r.source, r.tags)
            )
        return tuple(items)

    @cached_property
    def item_by_id(self) -> dict[str, Item]:
        return {i.id: i for i in self.items}

    # -- frames ----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts per company, kind, topic and flow step."""
        by_company: dict[str, int] = {}
        for r in self.resources:
            name = self.company_name(r.company) or "General"
            by_company[name] = by_company.get(name, 0) + 1
        by_kind: dict[str, int] = {}
        for r in self.resources:
            kind = r.kind or "unclassified"  # imported lists do not say the kind
            by_kind[kind] = by_kind.get(kind, 0) + 1
        by_topic = {}
        for root in self.children(None):
            sub = set(self.subtree(root.id))
            by_topic[root.name] = {
                "topics": len(sub),
                "resources": sum(1 for r in self.resources if sub & set(r.topics)),
            }
        by_step = {
            f"{s.number}. {s.name}": {
                "checklist_items": len(s.checklist_lines()),
                "resources": sum(1 for r in self.resources if s.id in r.steps),
                "questions": sum(1 for q in self.questions if s.id in q.steps),
            }
            for s in self.steps
        }
        return {
            "totals": {
                "steps": len(self.steps),
                "topics": len(self.topics),
                "companies": len(self.company_names),  # bundled and imported-only, each once
                "resources": len(self.resources),
                "questions": len(self.questions),
                "company_notes": sum(len(c.notes) for c in self.companies),
            },
            "by_company": dict(sorted(by_company.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_kind": dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_topic": by_topic,
            "by_step": by_step,
        }


