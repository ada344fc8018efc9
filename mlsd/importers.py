"""Turn a curated list (CSV, Markdown list, Markdown table) into typed items. No network here.

Three formats are understood, and detected on their own:

* a CSV with a header row, its columns matched by name, case-insensitively
  (``title``/``name``, ``url``/``link``/``source_url``/``href``, ``company``, ``year``/``date``,
  ``tags``, ``summary``/``description``, ``industry``, ``category`` ...);
* a Markdown list of links under headings, one item a line:
  ``1. [Title](https://...) `Company` `2020```, the enclosing ``##``/``###`` headings becoming tags;
* a Markdown table with a link column: ``| Company | Industry | Description | [Title](url) | Year |``.

Rows that cannot become an item (no title, no http(s) URL) are skipped and reported by line,
never silently dropped. Fetching a list is :mod:`mlsd.fetch`'s job; this module only parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .csvlist import csv_header, parse_csv
from .errors import SourceError
from .formats import (
    NOTHING_RECOGNIZED,
    ImportedItem,
    column,
    count_table_links,
    list_items_with_links,
    parse_markdown_list,
    parse_markdown_table,
)
from .urls import normalize_url

if TYPE_CHECKING:  # only for the type hint: parsing never needs the corpus
    from .model import Corpus

FORMATS: tuple[str, ...] = ("auto", "csv", "markdown-list", "markdown-table")
LOOKS_LIKE_HTML = "looks like HTML, not CSV or Markdown"
_HTML_START = re.compile(r"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml)", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(html|head|body)[\s>]", re.IGNORECASE)


@dataclass
class ParseReport:
    """What parsing a list produced: the items, the format it was read as, and what was skipped.

    Attributes:
        items: the items, in list order.
        format: ``"csv"``, ``"markdown-list"`` or ``"markdown-table"``.
        origin: where the text came from (URL or path), used in the skip reasons.
        skipped: one reason per skipped row, naming its line, e.g.
            ``"list.csv, line 4: no title"``.
    """

    items: list[ImportedItem]
    format: str
    origin: str
    skipped: list[str] = field(default_factory=list)


# -- entry points ---------------------------------------------------------------------------


def parse(text: str, format: str = "auto", origin: str = "<text>") -> list[ImportedItem]:
    """Parse a curated list into items. See :func:`parse_report` for the skipped rows.

    Args:
        text: the whole list.
        format: ``"auto"`` (detect), ``"csv"``, ``"markdown-list"`` or ``"markdown-table"``.
        origin: where the text came from, shown in messages.

    Returns:
        The items, in list order.

    Raises:
        SourceError: the text is HTML, or no format recognizes it.
    """
    return parse_report(text, format=format, origin=origin).items


def parse_report(text: str, format: str = "auto", origin: str = "<text>") -> ParseReport:
    """Parse a curated list into items, and say which rows were skipped and why.

    Args:
        text: the whole list.
        format: ``"auto"`` (detect), ``"csv"``, ``"markdown-list"`` or ``"markdown-table"``.
        origin: where the text came from, shown in the skip reasons.

    Returns:
        A :class:`ParseReport`.

    Raises:
        SourceError: the text is HTML, ``format`` is unknown, or no format recognizes the text.
    """
    if format not in FORMATS:
        raise SourceError(f"unknown format '{format}': expected one of {', '.join(FORMATS)}")
    text = text.lstrip("\ufeff")
    if format == "auto":
        format = detect_format(text)
    elif looks_like_html(text):  # a login or error page answered: not the list asked for
        raise SourceError(LOOKS_LIKE_HTML)
    parser = {"csv": parse_csv, "markdown-list": parse_markdown_list, "markdown-table": parse_markdown_table}[format]
    items, skipped = parser(text, origin)
    return ParseReport(items=items, format=format, origin=origin, skipped=skipped)


def detect_format(text: str) -> str:
    """Which of the three formats the text is in.

    Args:
        text: the whole list.

    Returns:
        ``"csv"``, ``"markdown-list"`` or ``"markdown-table"``.

    Raises:
        SourceError: the text is HTML, or none of the formats fits.
    """
    text = text.lstrip("\ufeff")
    if looks_like_html(text):
        raise SourceError(LOOKS_LIKE_HTML)
    header = csv_header(text)
    if header is not None and column(header, "title") is not None and column(header, "url") is not None:
        return "csv"
    lines = text.splitlines()
    table_rows = count_table_links(lines)
    list_items = list_items_with_links(lines)
    if table_rows == 0 and list_items == 0:
        raise SourceError(NOTHING_RECOGNIZED)
    return "markdown-table" if table_rows >= list_items else "markdown-list"


def looks_like_html(text: str) -> bool:
    """True when the text starts like an HTML or XML page (a login or error page, say)."""
    head = text.lstrip("\ufeff")[:2000]
    return bool(_HTML_START.search(head) or _HTML_TAG.search(head))


# -- URLs, duplicates, companies ------------------------------------------------------------


def dedupe(
    items: Iterable[ImportedItem], known_urls: set[str]
) -> tuple[list[ImportedItem], list[ImportedItem]]:
    """Split items into new ones and duplicates, comparing normalized URLs. The first one wins.

    Args:
        items: imported items, in list order.
        known_urls: URLs already in the corpus (raw; they are normalized here).

    Returns:
        ``(new_items, duplicates)``: a duplicate repeats a known URL or an earlier item's URL.
    """
    seen = {normalize_url(u) for u in known_urls}
    new_items: list[ImportedItem] = []
    duplicates: list[ImportedItem] = []
    for item in items:
        key = normalize_url(item.url)
        if key in seen:
            duplicates.append(item)
        else:
            seen.add(key)
            new_items.append(item)
    return new_items, duplicates


def normalize_company(name: str | None, corpus: Corpus) -> str | None:
    """The bundled company's display name when the corpus knows the name, else the name stripped.

    Args:
        name: a company as written in a list (``"Meta"``, ``"Linkedin"``).
        corpus: the bundled corpus, whose companies carry names and aliases.

    Returns:
        e.g. ``"Facebook"`` for ``"Meta"``, ``"LinkedIn"`` for ``"Linkedin"``, ``"Acme"`` for
        ``" Acme "``, None for None or a blank name.
    """
    if name is None or not name.strip():
        return None
    company_id = corpus.resolve_company(name)
    if company_id is None:
        return name.strip()
    return corpus.company_name(company_id)


