"""Load and validate the bundled knowledge base (``data/*.yaml``) into typed objects.

The corpus is read once, validated as a whole, and handed out as frozen dataclasses and
pandas frames. Every problem found is reported with file, line, entry and field, so a
person editing YAML by hand can fix it without reading code.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

import pandas as pd
import yaml

from . import paths
from .errors import CorpusError, Problem

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
MIN_YEAR = 1990
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DATA_FILES = ("flow.yaml", "topics.yaml", "companies.yaml", "resources.yaml", "questions.yaml", "guide.yaml")
# Mojibake left by a UTF-8 text decoded as cp1252 (the seed had "Facebookâ€™s").
ENCODING_DAMAGE = re.compile("â€|Ã[\u0080-\u00bf]|Â[\u0080-\u00bf ]|\ufffd")


@dataclass(frozen=True)
class ChecklistItem:
    text: str
    items: tuple["ChecklistItem", ...] = ()

    def walk(self, depth: int = 0) -> Iterable[tuple[int, "ChecklistItem"]]:
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


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    prompt: str
    topics: tuple[str, ...]
    steps: tuple[str, ...]


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

    def company_name(self, company_id: str | None) -> str | None:
        """Display name of a bundled company id; any other value (an imported resource's
        company, already a display name) comes back unchanged."""
        if company_id is None:
            return None
        company = self.company_by_id.get(company_id)
        return company.name if company else company_id

    @cached_property
    def imported_company_names(self) -> tuple[str, ...]:
        """Companies only imported resources name (e.g. "Pinterest"), sorted, without repeats."""
        bundled = {c.name for c in self.companies}
        names = {r.company for r in self.resources if r.source != "bundled" and r.company and r.company not in bundled}
        return tuple(sorted(names, key=str.casefold))

    @cached_property
    def company_names(self) -> tuple[str, ...]:
        """Display names of every company: the bundled ones in file order, then imported-only ones."""
        return tuple(c.name for c in self.companies) + self.imported_company_names

    def resolve_company(self, name: str) -> str | None:
        """Company id for an id, name or alias (case-insensitive), or None.

        A company that only imported resources name has no id: its display name is returned,
        which ``company_name`` gives back unchanged, so filters treat both alike.
        """
        key = name.strip().casefold()
        for c in self.companies:
            if key in {c.id.casefold(), c.name.casefold(), *(a.casefold() for a in c.aliases)}:
                return c.id
        for imported in self.imported_company_names:
            if key == imported.casefold():
                return imported
        return None

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
    def resources_frame(self) -> pd.DataFrame:
        """One row per resource, with display names for company and kind."""
        rows = [
            {
                "id": r.id,
                "title": r.title,
                "url": r.url,
                "company": self.company_name(r.company),
                "company_id": r.company,
                "kind": KIND_LABELS.get(r.kind, r.kind),
                "year": r.year,
                "summary": r.summary,
                "topics": ", ".join(self.topic_by_id[t].name for t in r.topics),
                "topic_ids": list(r.topics),
                "steps": list(r.steps),
                "source": r.source,
                "tags": ", ".join(r.tags),
            }
            for r in self.resources
        ]
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame["year"] = frame["year"].astype("Int64")
        return frame

    def topics_frame(self) -> pd.DataFrame:
        """One row per topic with its parent, depth and path (for trees and treemaps)."""
        rows = []
        for t in self.topics:
            path = self.topic_path(t.id)
            rows.append(
                {
                    "id": t.id,
                    "parent": t.parent or "",
                    "name": t.name,
                    "depth": len(path) - 1,
                    "path": " > ".join(p.name for p in path),
                    "description": t.description,
                    "resources": sum(1 for r in self.resources if t.id in r.topics),
                }
            )
        return pd.DataFrame(rows)

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
                "companies": len(self.companies),
                "resources": len(self.resources),
                "questions": len(self.questions),
                "company_notes": sum(len(c.notes) for c in self.companies),
            },
            "by_company": dict(sorted(by_company.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_kind": dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_topic": by_topic,
            "by_step": by_step,
        }


# ---------------------------------------------------------------------------------------
# Reading YAML with line numbers
# ---------------------------------------------------------------------------------------
LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records the line of every mapping, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _display(path: Path, data_dir: Path) -> str:
    try:
        return str(Path(data_dir.name) / path.relative_to(data_dir))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, shown: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError([Problem(shown, None, None, None, "is missing. Restore it from git or create it (see data/README.md).")])
    except UnicodeDecodeError as exc:
        raise CorpusError([Problem(shown, None, None, None, f"is not valid UTF-8 ({exc.reason} at byte {exc.start}). Save it as UTF-8.")])
    except OSError as exc:
        raise CorpusError([Problem(shown, None, None, None, f"cannot be read ({exc.strerror}). Make it a readable file.")])
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise CorpusError([Problem(shown, line, None, None, f"is not valid YAML: {what}. Check indentation and quoting there.")])


class _Checker:
    """Collects problems while turning raw YAML entries into dataclasses."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str, raw: Any, entry: str | None, fld: str | None, message: str) -> None:
        line = raw.get(LINE_KEY) if isinstance(raw, dict) else None
        self.problems.append(Problem(file, line, entry, fld, message))

    def entries(self, doc: Any, key: str, file: str) -> list[dict]:
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            self.problems.append(Problem(file, None, None, None, f"must hold a top-level list named '{key}:'."))
            return []
        out = []
        for number, raw in enumerate(doc[key], start=1):
            if not isinstance(raw, dict):
                self.problems.append(Problem(file, None, f"entry #{number}", None, "must be a mapping of fields (id: ..., name: ...)."))
                continue
            out.append(raw)
        return out

    def text(self, file: str, raw: dict, entry: str, fld: str, required: bool = True) -> str:
        value = raw.get(fld)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(file, raw, entry, fld, "is empty or missing. Give it a non-empty text.")
            return ""
        if not isinstance(value, str):
            self.add(file, raw, entry, fld, f"must be text, got {type(value).__name__}: {value!r}. Quote it.")
            return str(value)
        self.damage(file, raw, entry, fld, value)
        return " ".join(value.split())

    def id_list(self, file: str, raw: dict, entry: str, fld: str) -> tuple[str, ...]:
        value = raw.get(fld)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(file, raw, entry, fld, f"must be a list of ids, got {value!r}.")
            return ()
        return tuple(value)

    def strings(self, file: str, raw: dict, entry: str, fld: str) -> tuple[str, ...]:
        value = raw.get(fld) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(file, raw, entry, fld, f"must be a list of texts, got {value!r}.")
            return ()
        for v in value:
            self.damage(file, raw, entry, fld, v)
        return tuple(" ".join(v.split()) for v in value)

    def damage(self, file: str, raw: dict, entry: str, fld: str, value: str) -> None:
        if ENCODING_DAMAGE.search(value):
            self.add(file, raw, entry, fld, f"has encoding damage ({value!r}). Retype the broken characters (e.g. 'â€™' is an apostrophe).")


def _entry_id(check: _Checker, file: str, raw: dict, number: int, kind: str, seen: dict[str, str]) -> tuple[str, str]:
    value = raw.get("id")
    label = f"{kind} #{number}"
    if value is None or (isinstance(value, str) and not value.strip()):
        check.add(file, raw, label, "id", "is missing. Give every entry a unique kebab-case id such as 'cold-start'.")
        return "", label
    value = str(value)
    label = f"{kind} '{value}'"
    if not ID_PATTERN.match(value):
        check.add(file, raw, label, "id", f"is '{value}', which is not lowercase kebab-case. Use letters, digits and single dashes, e.g. 'cold-start'.")
    if value in seen:
        check.add(file, raw, label, "id", f"'{value}' is a duplicate: it is already used in {seen[value]}. Ids must be unique across all data files.")
    else:
        seen[value] = file
    return value, label


def _checklist(check: _Checker, file: str, raw_step: dict, label: str, value: Any) -> tuple[ChecklistItem, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        check.add(file, raw_step, label, "checklist", "must be a list of items (text, or {text: ..., items: [...]}).")
        return ()
    out = []
    for element in value:
        text = element.get("text") if isinstance(element, dict) else element
        if isinstance(text, str):
            check.damage(file, raw_step, label, "checklist", text)
        if isinstance(element, str) and element.strip():
            out.append(ChecklistItem(" ".join(element.split())))
        elif isinstance(element, dict) and isinstance(element.get("text"), str) and element["text"].strip():
            out.append(ChecklistItem(" ".join(element["text"].split()), _checklist(check, file, raw_step, label, element.get("items"))))
        else:
            check.add(file, raw_step, label, "checklist", f"has an item that is neither text nor {{text: ..., items: [...]}}: {element!r}.")
    return tuple(out)


def _check_url(check: _Checker, file: str, raw: dict, label: str, url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in url):
        check.add(file, raw, label, "url", f"is '{url}', which is not an http(s) URL. Give a full address starting with https://.")


def library_files(library_dir: Path) -> list[Path]:
    """The imported lists' files (``<name>.json``), sorted by name; none when the folder is absent."""
    try:
        return sorted(p for p in library_dir.glob("*.json") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def data_hash(data_dir: Path, library_dir: Path | None = None) -> str:
    """sha256 over the bundled data files and the imported lists (name and bytes).

    Used to detect a stale index: an import or a removal changes it. With no library files
    the hash is the bundled data's alone.
    """
    digest = hashlib.sha256()
    for name in DATA_FILES:
        path = data_dir / name
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    for path in library_files(library_dir) if library_dir is not None else []:
        digest.update(f"library/{path.name}".encode())
        digest.update(b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
        digest.update(b"\0")
    return digest.hexdigest()


LIBRARY_FORMAT_VERSION = 1


@dataclass(frozen=True)
class LibrarySource:
    """One imported list as stored in ``library/<name>.json``.

    Attributes:
        name: the source's kebab-case name (the file's stem).
        origin: the URL or path it was imported from.
        format: the format it was parsed as (csv, markdown-list, markdown-table).
        imported_at: ISO 8601 time of the import (UTC).
        resources: its items as resources (``source`` = name, ``kind`` None, no topics).
        path: the file.
    """

    name: str
    origin: str
    format: str
    imported_at: str
    resources: tuple[Resource, ...]
    path: Path


def read_library(library_dir: Path, companies: Iterable[Company] = ()) -> list[LibrarySource]:
    """Read and validate every ``library/<name>.json``.

    Args:
        library_dir: the library folder (it may not exist yet: then there are no sources).
        companies: bundled companies, so "Meta" in an imported list becomes "Facebook".

    Returns:
        The sources, sorted by name.

    Raises:
        CorpusError: naming the file, item and field of every problem.
    """
    aliases: dict[str, str] = {}
    for c in companies:
        for key in (c.id, c.name, *c.aliases):
            aliases.setdefault(key.casefold(), c.name)
    problems: list[Problem] = []
    sources: list[LibrarySource] = []
    max_year = _dt.date.today().year + 1
    for path in library_files(library_dir):
        shown = f"library/{path.name}"

        def bad(entry: str | None, fld: str | None, message: str) -> None:
            problems.append(Problem(shown, None, entry, fld, message))

        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            bad(None, None, f"is not valid UTF-8 ({exc.reason} at byte {exc.start}). Import the list again.")
            continue
        except ValueError as exc:
            bad(None, None, f"is not valid JSON ({exc}). Import the list again or delete the file.")
            continue
        except OSError as exc:
            bad(None, None, f"cannot be read ({exc.strerror}). Make it a readable file.")
            continue
        if not isinstance(doc, dict):
            bad(None, None, "must hold a JSON object with 'name', 'origin' and 'items'. Import the list again.")
            continue
        before = len(problems)
        if doc.get("format_version") != LIBRARY_FORMAT_VERSION:
            bad(None, "format_version", f"is {doc.get('format_version')!r}, expected {LIBRARY_FORMAT_VERSION}. Import the list again.")
        name = doc.get("name")
        if name != path.stem or not isinstance(name, str) or not ID_PATTERN.match(name):
            bad(None, "name", f"is {name!r}, but must be the file's name '{path.stem}' in kebab-case. Rename one to match.")
        for fld in ("origin", "format", "imported_at"):
            if not isinstance(doc.get(fld), str) or not doc[fld].strip():
                bad(None, fld, "is empty or missing. Give it a non-empty text.")
        items = doc.get("items")
        if not isinstance(items, list):
            bad(None, "items", "must be a list of items ({id, title, url, ...}).")
            items = []
        resources = []
        for number, raw in enumerate(items, start=1):
            entry = f"item #{number}"
            if not isinstance(raw, dict):
                bad(entry, None, "must be an object of fields (id, title, url, ...).")
                continue
            rid = raw.get("id")
            if isinstance(rid, str) and rid:
                entry = f"item '{rid}'"
            if not isinstance(rid, str) or not ID_PATTERN.match(rid):
                bad(entry, "id", f"is {rid!r}, which is not a lowercase kebab-case id such as 'imp-list-0123456789'.")
            texts = {}
            for fld, required in (("title", True), ("url", True), ("summary", False)):
                value = raw.get(fld, "" if not required else None)
                if not isinstance(value, str) or (required and not value.strip()):
                    bad(entry, fld, f"must be {'a non-empty text' if required else 'text'}, got {value!r}.")
                    value = ""
                texts[fld] = " ".join(value.split())
            if texts["url"]:
                parsed = urlparse(texts["url"])
                if parsed.scheme not in ("http", "https") or not parsed.netloc:
                    bad(entry, "url", f"is '{texts['url']}', which is not an http(s) URL.")
            company = raw.get("company")
            if company is not None and (not isinstance(company, str) or not company.strip()):
                bad(entry, "company", f"must be a non-empty text or null, got {company!r}.")
                company = None
            if company is not None:
                company = aliases.get(company.strip().casefold(), " ".join(company.split()))
            year = raw.get("year")
            if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not MIN_YEAR <= year <= max_year):
                bad(entry, "year", f"is {year!r}, which is out of range. Use a year from {MIN_YEAR} to {max_year}, or null.")
                year = None
            tags = raw.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                bad(entry, "tags", f"must be a list of texts, got {tags!r}.")
                tags = []
            resources.append(Resource(
                rid if isinstance(rid, str) else "", texts["title"], texts["url"], company, None, year, texts["summary"],
                (), (), source=path.stem, tags=tuple(" ".join(t.split()) for t in tags if t.strip()),
            ))
        if len(problems) == before:
            sources.append(LibrarySource(name, doc["origin"], doc["format"], doc["imported_at"], tuple(resources), path))
    if problems:
        raise CorpusError(problems)
    return sources


def load_corpus(data_dir: Path | str | None = None, library_dir: Path | str | None = None) -> Corpus:
    """Load and validate every data file, and the imported lists of the user's library.

    Args:
        data_dir: folder holding the YAML files; the bundled ``data/`` by default.
        library_dir: folder of imported lists (``<name>.json``); ``$MLSD_HOME/library`` by default.

    Returns:
        The validated corpus.

    Raises:
        CorpusError: listing every problem found, each with file, line, entry and field.
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.DATA_DIR
    library_dir = Path(library_dir) if library_dir is not None else paths.library_dir()
    shown = {name: _display(data_dir / name, data_dir) for name in DATA_FILES}
    docs: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in DATA_FILES:
        try:
            docs[name] = _read_yaml(data_dir / name, shown[name])
        except CorpusError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CorpusError(problems)

    check = _Checker()
    seen_ids: dict[str, str] = {}
    max_year = _dt.date.today().year + 1

    # flow
    file = shown["flow.yaml"]
    steps = []
    for n, raw in enumerate(check.entries(docs["flow.yaml"], "steps", file), start=1):
        sid, label = _entry_id(check, file, raw, n, "step", seen_ids)
        number = raw.get("number")
        if not isinstance(number, int) or isinstance(number, bool):
            check.add(file, raw, label, "number", f"must be a whole number, got {number!r}.")
            number = 0
        minutes = raw.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 60:
            check.add(file, raw, label, "minutes",
                      f"must be the step's suggested minutes in a 45-minute interview, a whole number from 1 to 60; got {minutes!r}.")
            minutes = 0
        steps.append(Step(sid, number, check.text(file, raw, label, "name"), check.text(file, raw, label, "description"),
                          _checklist(check, file, raw, label, raw.get("checklist")), minutes))
    numbers = [s.number for s in steps]
    if numbers and numbers != list(range(1, len(steps) + 1)):
        problems_at = ", ".join(str(n) for n in numbers)
        check.problems.append(Problem(file, None, None, "number", f"must run 1, 2, 3, ... in file order; found {problems_at}. Renumber the steps."))

    # topics
    file = shown["topics.yaml"]
    topics, raw_topics = [], []
    for n, raw in enumerate(check.entries(docs["topics.yaml"], "topics", file), start=1):
        tid, label = _entry_id(check, file, raw, n, "topic", seen_ids)
        parent = raw.get("parent")
        topics.append(Topic(tid, str(parent) if parent is not None else None, check.text(file, raw, label, "name"),
                            check.text(file, raw, label, "description"), check.strings(file, raw, label, "notes")))
        raw_topics.append((raw, label))
    topic_ids = {t.id for t in topics}
    for topic, (raw, label) in zip(topics, raw_topics):
        if topic.parent is not None and topic.parent not in topic_ids:
            check.add(file, raw, label, "parent", f"is '{topic.parent}', which is not a topic id. Use an id from topics.yaml or null for a root.")
    parent_of = {t.id: t.parent for t in topics}
    for topic, (raw, label) in zip(topics, raw_topics):
        seen, current = set(), parent_of.get(topic.id)
        while current is not None and current in parent_of and current not in seen:
            if current == topic.id:  # the walk came back: this topic is on a cycle
                check.add(file, raw, label, "parent", "makes a cycle in the tree. Point it at an ancestor that leads to a root.")
                break
            seen.add(current)
            current = parent_of[current]

    # companies
    file = shown["companies.yaml"]
    companies = []
    for n, raw in enumerate(check.entries(docs["companies.yaml"], "companies", file), start=1):
        cid, label = _entry_id(check, file, raw, n, "company", seen_ids)
        companies.append(Company(cid, check.text(file, raw, label, "name"), check.strings(file, raw, label, "aliases"),
                                 check.text(file, raw, label, "description", required=False), check.strings(file, raw, label, "notes")))
    company_ids = sorted(c.id for c in companies)
    step_ids = [s.id for s in steps]

    def refs(file: str, raw: dict, label: str, fld: str, known: Iterable[str], what: str, required: bool) -> tuple[str, ...]:
        values = check.id_list(file, raw, label, fld)
        known = set(known)
        for value in values:
            if value not in known:
                check.add(file, raw, label, fld, f"names '{value}', which is not a {what} id. Use an id from {what}s ({'topics' if what == 'topic' else 'flow'}.yaml).")
        if required and not values:
            check.add(file, raw, label, fld, f"is empty. Give at least one {what} id.")
        return values

    # resources
    file = shown["resources.yaml"]
    resources = []
    seen_urls: dict[str, str] = {}
    for n, raw in enumerate(check.entries(docs["resources.yaml"], "resources", file), start=1):
        rid, label = _entry_id(check, file, raw, n, "resource", seen_ids)
        title = check.text(file, raw, label, "title")
        url = check.text(file, raw, label, "url")
        if url:
            _check_url(check, file, raw, label, url)
            if url in seen_urls:
                check.add(file, raw, label, "url", f"duplicates the url of resource '{seen_urls[url]}'. Keep one entry per link.")
            seen_urls.setdefault(url, rid)
        company = raw.get("company")
        if company is not None and str(company) not in company_ids:
            check.add(file, raw, label, "company", f"is '{company}', which is not a known company. Use one of: {', '.join(company_ids)}, or null.")
        kind = raw.get("kind")
        if kind not in KINDS:
            check.add(file, raw, label, "kind", f"is '{kind}', which is not a known kind. Use one of: {', '.join(KINDS)}.")
        year = raw.get("year")
        if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not MIN_YEAR <= year <= max_year):
            check.add(file, raw, label, "year", f"is {year!r}, which is out of range. Use a year from {MIN_YEAR} to {max_year}, or leave it out.")
            year = None
        resources.append(Resource(rid, title, url, str(company) if company is not None else None, str(kind), year,
                                  check.text(file, raw, label, "summary"),
                                  refs(file, raw, label, "topics", topic_ids, "topic", True),
                                  refs(file, raw, label, "steps", step_ids, "step", False)))

    # questions
    file = shown["questions.yaml"]
    questions = []
    for n, raw in enumerate(check.entries(docs["questions.yaml"], "questions", file), start=1):
        qid, label = _entry_id(check, file, raw, n, "question", seen_ids)
        questions.append(Question(qid, check.text(file, raw, label, "title"), check.text(file, raw, label, "prompt"),
                                  refs(file, raw, label, "topics", topic_ids, "topic", True),
                                  refs(file, raw, label, "steps", step_ids, "step", True)))

    guide = docs["guide.yaml"]
    if not isinstance(guide, dict):
        check.problems.append(Problem(shown["guide.yaml"], None, None, None, "must be a mapping of text fields (title: ..., intro: ...)."))
        guide = {}
    guide = {k: v for k, v in guide.items() if k != LINE_KEY}

    if check.problems:
        raise CorpusError(check.problems)

    # imported lists: their ids must not collide with the bundled ones or each other
    library_problems: list[Problem] = []
    for source in read_library(library_dir, companies):
        for r in source.resources:
            if r.id in seen_ids:
                library_problems.append(Problem(f"library/{source.path.name}", None, f"item '{r.id}'", "id",
                                                f"'{r.id}' is a duplicate: it is already used in {seen_ids[r.id]}. Import the list again."))
            else:
                seen_ids[r.id] = f"library/{source.path.name}"
                resources.append(r)
    if library_problems:
        raise CorpusError(library_problems)
    return Corpus(tuple(steps), tuple(topics), tuple(companies), tuple(resources), tuple(questions), guide,
                  data_hash(data_dir, library_dir))
