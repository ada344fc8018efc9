"""Load and validate the bundled knowledge base (``data/*.yaml``) and the imported lists.

The corpus is read once, validated as a whole, and handed out as the frozen dataclasses of
:mod:`mlsd.model`. Every problem found is reported with file, line, entry and field, so a
person editing YAML by hand can fix it without reading code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import journal, paths
from .checker import LINE_KEY, Checker, display_path, read_yaml
from .errors import CorpusError, Problem
from .material import load_rubric, question_material
from .model import ID_PATTERN, KINDS, MIN_YEAR, ChecklistItem, Company, Corpus, Question, Resource, Step, Topic
from .sources import library_files, max_year, read_library, valid_year

DATA_FILES = ("flow.yaml", "topics.yaml", "companies.yaml", "resources.yaml", "questions.yaml", "rubric.yaml",
              "guide.yaml")


def _entry_id(check: Checker, file: str, raw: dict, number: int, kind: str, seen: dict[str, str]) -> tuple[str, str]:
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


def _checklist(check: Checker, file: str, raw_step: dict, label: str, value: Any) -> tuple[ChecklistItem, ...]:
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


def _check_url(check: Checker, file: str, raw: dict, label: str, url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in url):
        check.add(file, raw, label, "url", f"is '{url}', which is not an http(s) URL. Give a full address starting with https://.")


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


def flow_step_ids(data_dir: Path | str | None = None) -> tuple[str, ...]:
    """The ids of the design flow's steps, in order, read from ``flow.yaml`` alone (a progress
    backup is checked against them without loading, or depending on, the rest of the data).

    Raises:
        CorpusError: ``flow.yaml`` is missing or not YAML.
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.DATA_DIR
    doc = read_yaml(data_dir / "flow.yaml", display_path(data_dir / "flow.yaml", data_dir))
    steps = doc.get("steps") if isinstance(doc, dict) else None
    return tuple(s["id"] for s in steps or () if isinstance(s, dict) and isinstance(s.get("id"), str))


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
    if library_dir is None:
        journal.recover()  # an import or removal a crash left half done: finish or drop it first
    library_dir = Path(library_dir) if library_dir is not None else paths.library_dir()
    shown = {name: display_path(data_dir / name, data_dir) for name in DATA_FILES}
    docs: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in DATA_FILES:
        try:
            docs[name] = read_yaml(data_dir / name, shown[name])
        except CorpusError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CorpusError(problems)

    check = Checker()
    seen_ids: dict[str, str] = {}

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
        if year is not None and not valid_year(year):
            check.add(file, raw, label, "year", f"is {year!r}, which is out of range. Use a year from {MIN_YEAR} to {max_year()}, or leave it out.")
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
        title, prompt = check.text(file, raw, label, "title"), check.text(file, raw, label, "prompt")
        question_topics = refs(file, raw, label, "topics", topic_ids, "topic", True)
        question_steps = refs(file, raw, label, "steps", step_ids, "step", True)
        questions.append(Question(qid, title, prompt, question_topics, question_steps,
                                  **question_material(check, file, raw, label, step_ids, question_steps)))

    rubric = load_rubric(check, shown["rubric.yaml"], docs["rubric.yaml"], step_ids)

    guide = docs["guide.yaml"]
    if not isinstance(guide, dict):
        check.problems.append(Problem(shown["guide.yaml"], None, None, None, "must be a mapping of text fields (title: ..., intro: ...)."))
        guide = {}
    guide = {k: v for k, v in guide.items() if k != LINE_KEY}

    if check.problems:
        raise CorpusError(check.problems)

    # imported lists: their ids must not collide with the bundled ones or each other
    library_problems: list[Problem] = []
    topic_ids, known_steps = {t.id for t in topics}, {s.id for s in steps}
    for source in read_library(library_dir, companies):
        for r in source.resources:
            if r.assigned and not (set(r.topics) <= topic_ids and set(r.steps) <= known_steps):
                # Filed before a topic or step was removed from the data: keep what still exists
                # (`mlsd assign-topics` files the list again against the current data).
                r = replace(r, topics=tuple(t for t in r.topics if t in topic_ids),
                            steps=tuple(s for s in r.steps if s in known_steps))
            if r.id in seen_ids:
                library_problems.append(Problem(f"library/{source.path.name}", None, f"item '{r.id}'", "id",
                                                f"'{r.id}' is a duplicate: it is already used in {seen_ids[r.id]}. Import the list again."))
            else:
                seen_ids[r.id] = f"library/{source.path.name}"
                resources.append(r)
    if library_problems:
        raise CorpusError(library_problems)
    return Corpus(tuple(steps), tuple(topics), tuple(companies), tuple(resources), tuple(questions), guide,
                  data_hash(data_dir, library_dir), rubric)
