"""The imported lists' file format, read and written here only: ``library/<name>.json``.

One JSON file per imported list (format version 1)::

    {"format_version": 1, "name": "case-studies", "origin": "https://...", "format": "csv",
     "imported_at": "2026-12-02T10:00:00+00:00",
     "items": [{"id": "imp-case-studies-0123456789", "title": ..., "url": ..., "normalized_url": ...,
                "company": ..., "year": 2020 | null, "tags": [...], "summary": ...,
                "summary_from": "page", "page_title": ...,
                "assigned": {"topics": ["cold-start"], "steps": ["modeling"]}}, ...]}

``"summary_from": "page"`` says the summary is not the list's but the description the linked
page gives of itself (``mlsd import --enrich``, :mod:`mlsd.enrich`), and ``page_title`` is that
page's title; both are absent when the list gave the summary (or none), and from older files.

``assigned`` is where :mod:`mlsd.assign` filed the item (topic and flow step ids, nearest
first; empty lists when nothing is close enough). It is absent from lists imported before
filing existed, and from an import that did not update the index; ``mlsd assign-topics``
files those. :func:`with_filings` writes it.

:func:`write_source` writes it atomically; :func:`read_library` reads and validates every such
file, naming the file, item and field of each problem. The year rule lives in
:func:`valid_year`, which both sides use, so a year the reader would refuse is never written.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .errors import CorpusError, Problem
from .files import atomic_write_bytes
from .model import ID_PATTERN, MIN_YEAR, Company, Resource

if TYPE_CHECKING:
    from .assign import Filing

LIBRARY_FORMAT_VERSION = 1




@dataclass(frozen=True)
class LibrarySource:
    """One imported list as stored in ``library/<name>.json``.

    Attributes:
        name: the source's kebab-case name (the file's stem).
        origin: the URL or path it was imported from.
        format: the format it was parsed as (csv, markdown-list, markdown-table).
        imported_at: ISO 8601 time of the import (UTC).
        resources: its items as resources (``source`` = name, ``kind`` None, topics and steps as
            filed automatically, ``assigned`` True when the item was filed).
        path: the file.
    """

    name: str
    origin: str
    format: str
    imported_at: str
    resources: tuple[Resource, ...]
    path: Path


def library_files(library_dir: Path) -> list[Path]:
    """The imported lists' files (``<name>.json``), sorted by name; none when the folder is absent."""
    try:
        return sorted(p for p in library_dir.glob("*.json") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


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
            if year is not None and not valid_year(year):
                bad(entry, "year", f"is {year!r}, which is out of range. Use a year from {MIN_YEAR} to {max_year()}, or null.")
                year = None
            tags = raw.get("tags", [])
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                bad(entry, "tags", f"must be a list of texts, got {tags!r}.")
                tags = []
            filing = raw.get("assigned")
            topics: tuple[str, ...] = ()
            steps: tuple[str, ...] = ()
            if filing is not None:
                if not _valid_filing(filing):
                    bad(entry, "assigned", f"must be {{\"topics\": [ids], \"steps\": [ids]}}, got {filing!r:.100}. "
                                           "Run `mlsd assign-topics` to file the list again.")
                    filing = None
                else:
                    topics, steps = tuple(filing.get("topics", ())), tuple(filing.get("steps", ()))
            summary_from, page_title = _page_fields(raw, texts["summary"], lambda fld, message: bad(entry, fld, message))
            resources.append(Resource(
                rid if isinstance(rid, str) else "", texts["title"], texts["url"], company, None, year, texts["summary"],
                topics, steps, source=path.stem, tags=tuple(" ".join(t.split()) for t in tags if t.strip()),
                assigned=filing is not None, summary_from=summary_from, page_title=page_title,
            ))
        if len(problems) == before:
            sources.append(LibrarySource(path.stem, doc["origin"], doc["format"], doc["imported_at"], tuple(resources), path))
    if problems:
        raise CorpusError(problems)
    return sources




SUMMARY_FROM_PAGE = "page"


def _page_fields(raw: dict[str, Any], summary: str, bad: Callable[[str, str], None]) -> tuple[str | None, str | None]:
    """An item's ``summary_from`` and ``page_title``, checked (None when absent or malformed)."""
    summary_from = raw.get("summary_from")
    if summary_from is not None and summary_from != SUMMARY_FROM_PAGE:
        bad("summary_from", f"is {summary_from!r:.100}, but the only value it takes is \"page\" (the summary was "
                            "taken from the linked page). Remove the field if the list gave the summary.")
        summary_from = None
    elif summary_from == SUMMARY_FROM_PAGE and not summary:
        bad("summary_from", "is \"page\", but the item has no summary. Remove the field, or import the list again "
                            "with --enrich.")
        summary_from = None
    page_title = raw.get("page_title")
    if page_title is not None and not isinstance(page_title, str):
        bad("page_title", f"must be text (the linked page's title), got {page_title!r:.100}.")
        page_title = None
    elif page_title is not None:
        page_title = " ".join(page_title.split()) or None
    return summary_from, page_title


def _valid_filing(filing: Any) -> bool:
    return isinstance(filing, dict) and set(filing) <= {"topics", "steps"} and all(
        isinstance(ids, list) and all(isinstance(i, str) and ID_PATTERN.match(i) for i in ids)
        for ids in filing.values())


def with_filings(data: bytes, filings: Mapping[str, Filing]) -> bytes:
    """A list's file (its bytes) with each item's ``assigned`` filing set; everything else kept.

    Args:
        data: the bytes of a file as :func:`source_bytes` writes it.
        filings: item id -> where it is filed; an item not named is left unfiled (no ``assigned``).
    """
    document = json.loads(data)
    for item in document["items"]:
        filing = filings.get(item.get("id"))
        if filing is None:
            item.pop("assigned", None)
        else:
            item["assigned"] = {"topics": list(filing.topics), "steps": list(filing.steps)}
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")


def max_year() -> int:
    """The latest year an item may carry: next year (a list may announce a talk)."""
    return _dt.date.today().year + 1


def valid_year(year: Any) -> bool:
    """True for a whole number from ``MIN_YEAR`` to next year (not a bool)."""
    return isinstance(year, int) and not isinstance(year, bool) and MIN_YEAR <= year <= max_year()


def source_bytes(name: str, origin: str, format: str, items: list[dict[str, Any]]) -> bytes:
    """The bytes of one imported list's file (see the module docstring), stamped with the time now.

    Args:
        name: the source's kebab-case name (the file's stem).
        origin: where the list came from.
        format: the format it was read as.
        items: ``{id, title, url, normalized_url, company, year, tags, summary}`` per item;
            a year :func:`valid_year` refuses is stored as null, so the file always reads back.
    """
    document = {
        "format_version": LIBRARY_FORMAT_VERSION,
        "name": name,
        "origin": origin,
        "format": format,
        "imported_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "items": [{**item, "year": item.get("year") if valid_year(item.get("year")) else None} for item in items],
    }
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")


def write_source(folder: Path, name: str, origin: str, format: str, items: list[dict[str, Any]]) -> Path:
    """Write one imported list atomically (:func:`source_bytes`); returns its path.

    Raises:
        OSError: the folder cannot be created or the file written (the old file is then intact).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    atomic_write_bytes(path, source_bytes(name, origin, format, items))
    return path
