"""The three list formats and how each is parsed, row by row. No network, no corpus here.

* CSV with a header row, its columns matched by name, case-insensitively (``COLUMNS``);
* a Markdown list of links under headings, one item a line:
  ``1. [Title](https://...) `Company` `2020```, the enclosing ``##``/``###`` headings becoming tags;
* a Markdown table with a link column: ``| Company | Industry | Description | [Title](url) | Year |``.

Each parser returns ``(items, skipped)``: a row that cannot become an item (no title, no http(s)
URL) is skipped with its line and the reason. :mod:`mlsd.importers` detects the format and
picks the parser.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import SourceError
from .urls import is_web_url

NOTHING_RECOGNIZED = (
    "no recognizable items (expected a CSV with title and url columns, a Markdown list of "
    "[title](url) links, or a Markdown table with a link column)"
)

# Column names each field accepts, in order of preference (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title", "name"),
    "url": ("url", "link", "source_url", "href"),
    "company": ("company", "organization", "organisation", "org"),
    "year": ("year", "date"),
    "tags": ("tags",),
    "summary": ("summary", "summary_oneliner", "description"),
    "industry": ("industry",),
}
# Columns whose values become tags too, after the ``tags`` column's own.
CATEGORY_COLUMNS: tuple[str, ...] = ("primary_category", "sub_category", "category")

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+(.*\S)\s*$")
# [title](url "optional title"): the title may hold one level of brackets, the URL one level of
# parentheses (Wikipedia links), so "[A [b]](https://x/y_(z))" still parses.
_LINK = re.compile(
    r"\[(?P<title>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\(\s*<?(?P<url>(?:[^()\s<>]|\([^()\s]*\))+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_CODE_SPAN = re.compile(r"`([^`]+)`")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_TAG_SPLIT = re.compile(r"[;,]")



@dataclass(frozen=True)
class ImportedItem:
    """One resource read from an imported list, before it joins the corpus.

    Attributes:
        title: the resource's title, as the list gives it.
        url: its http(s) address, as the list gives it (see :func:`normalize_url` for the key).
        company: the company as written in the list, or None.
        year: the year of publication, or None when the list has none.
        tags: headings, categories and tags, in order, without duplicates.
        summary: a one-line description, or ``""``.
        industry: the company's industry, or None.
    """

    title: str
    url: str
    company: str | None
    year: int | None
    tags: tuple[str, ...]
    summary: str
    industry: str | None


# -- CSV ------------------------------------------------------------------------------------


def csv_header(text: str) -> list[str] | None:
    """The first non-blank line read as a CSV header (lowercased), or None if it is not one."""
    for line in text.splitlines():
        if line.strip():
            try:
                row = next(csv.reader([line]))
            except (csv.Error, StopIteration):
                return None
            return [cell.strip().lower() for cell in row] if len(row) >= 2 else None
    return None


def column(header: list[str], name: str) -> int | None:
    """Index of the first header column the field accepts, in order of preference."""
    for alias in COLUMNS[name]:
        if alias in header:
            return header.index(alias)
    return None


def parse_csv(text: str, origin: str) -> tuple[list[ImportedItem], list[str]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    items: list[ImportedItem] = []
    skipped: list[str] = []
    line = 0
    for row in reader:
        start, line = line + 1, reader.line_num  # a quoted field may span several lines
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            columns = {name: column(header, name) for name in COLUMNS}
            categories = [header.index(c) for c in CATEGORY_COLUMNS if c in header]
            if columns["title"] is None or columns["url"] is None:
                raise SourceError(NOTHING_RECOGNIZED)
            continue

        def cell(name: str) -> str:
            index = columns[name]
            return row[index].strip() if index is not None and index < len(row) else ""

        where = f"{origin}, line {start}"
        title, url = cell("title"), cell("url")
        if not title:
            skipped.append(f"{where}: no title")
            continue
        if not is_web_url(url):
            skipped.append(f"{where}: {_describe_url(url)}")
            continue
        tags = [t for t in _TAG_SPLIT.split(cell("tags"))]
        tags += [row[i] for i in categories if i < len(row)]
        items.append(
            ImportedItem(
                title=title,
                url=url,
                company=cell("company") or None,
                year=_year(cell("year")),
                tags=_unique(tags),
                summary=cell("summary"),
                industry=cell("industry") or None,
            )
        )
    if header is None:
        raise SourceError(NOTHING_RECOGNIZED)
    return items, skipped


# -- Markdown list --------------------------------------------------------------------------


def parse_markdown_list(text: str, origin: str) -> tuple[list[ImportedItem], list[str]]:
    headings: dict[int, str] = {}
    items: list[ImportedItem] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if heading := _HEADING.match(line):
            level = len(heading.group(1))
            headings = {lvl: name for lvl, name in headings.items() if lvl < level}
            headings[level] = _plain(heading.group(2))
            continue
        match = _LIST_ITEM.match(line)
        if not match or not _LINK.search(match.group(1)):
            continue  # prose, badges, blank lines: not list items
        where = f"{origin}, line {number}"
        item = _list_item(match.group(1), [name for lvl, name in sorted(headings.items()) if lvl >= 2])
        if isinstance(item, str):
            skipped.append(f"{where}: {item}")
        else:
            items.append(item)
    return items, skipped


def _list_item(body: str, tags: list[str]) -> ImportedItem | str:
    """One list line as an item, or the reason it is not one."""
    link = _LINK.search(body)
    assert link is not None
    if link.start() == 0:
        title = link.group("title")
    else:
        # "How AI detects hate speech [Part 1](url), [Part 2](url) `Facebook` `2020`": the title
        # is the text before the first link. Only when the line names a company, so a line like
        # "More in [awful-ai](url)" stays a pointer, not an item.
        title = body[: link.start()] if _CODE_SPAN.search(body) else ""
    title = _plain(title).rstrip(" :-–—")
    url = link.group("url")
    if url.startswith("#"):
        return f"'{url}' is a link inside the page (table of contents), not an http(s) URL"
    if not is_web_url(url):
        return _describe_url(url)
    if not title:
        return "no title (expected a line starting with [title](url))"
    rest = body[link.end():]
    spans = [s.strip() for s in _CODE_SPAN.findall(rest)]
    years = [int(s) for s in spans if re.fullmatch(r"(?:19|20)\d\d", s)]
    names = [s for s in spans if not re.fullmatch(r"(?:19|20)\d\d", s)]
    # Awesome-list style "[Title](url) - what it is": only text after a dash or colon is a
    # summary; other leftovers ("(**PAPER NEEDED**)", "via") are the list's own notes.
    leftover = _plain(_LINK.sub("", re.sub(r"\(\s*" + _LINK.pattern + r"\s*\)", "", _CODE_SPAN.sub("", rest))))
    summary = leftover.lstrip(" -–—:").strip() if re.match(r"\s*[-–—:]", leftover) else ""
    return ImportedItem(
        title=title,
        url=url,
        company=names[0] if names else None,
        year=years[0] if years else None,
        tags=_unique(tags),
        summary=summary,
        industry=None,
    )


# -- Markdown table -------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def count_table_links(lines: list[str]) -> int:
    """How many table rows (below a header and separator) hold an http(s) link."""
    count, in_table = 0, False
    for i, line in enumerate(lines):
        if not _TABLE_ROW.match(line):
            in_table = False
        elif in_table:
            count += any(has_web_link(c) or is_web_url(c) for c in _cells(line))
        elif i + 1 < len(lines) and _TABLE_SEPARATOR.match(lines[i + 1]):
            in_table = True
    return count


def list_items_with_links(lines: list[str]) -> int:
    """How many Markdown list lines hold an http(s) link (detection: a list, or a table?)."""
    return sum(1 for line in lines if (m := _LIST_ITEM.match(line)) and has_web_link(m.group(1)))


def parse_markdown_table(text: str, origin: str) -> tuple[list[ImportedItem], list[str]]:
    lines = text.splitlines()
    headings: dict[int, str] = {}
    items: list[ImportedItem] = []
    skipped: list[str] = []
    header: list[str] | None = None
    skip_next = False
    for number, line in enumerate(lines, start=1):
        if skip_next:  # the separator under a header row
            skip_next = False
            continue
        if heading := _HEADING.match(line):
            level = len(heading.group(1))
            headings = {lvl: name for lvl, name in headings.items() if lvl < level}
            headings[level] = _plain(heading.group(2))
        if not _TABLE_ROW.match(line):
            header = None
            continue
        if header is None:
            if number < len(lines) and _TABLE_SEPARATOR.match(lines[number]):
                header = [_plain(c).lower() for c in _cells(line)]
                skip_next = True
            continue
        section = [name for lvl, name in sorted(headings.items()) if lvl >= 2]
        item = _table_row(header, _cells(line), section)
        if isinstance(item, str):
            skipped.append(f"{origin}, line {number}: {item}")
        else:
            items.append(item)
    return items, skipped


def _table_row(header: list[str], cells: list[str], tags: list[str]) -> ImportedItem | str:
    """One table row as an item, or the reason it is not one."""
    columns = {name: column(header, name) for name in COLUMNS}

    def cell(name: str) -> str:
        index = columns[name]
        return cells[index] if index is not None and index < len(cells) else ""

    title, url = _plain(cell("title")), cell("url").strip("<> ")
    link = next((m for c in cells if (m := _LINK.search(c))), None)
    if link and not is_web_url(url):
        url = link.group("url")
        title = title or _plain(link.group("title"))
    if not title and not url and not link:
        return "no link in the row"
    if not is_web_url(url):
        return _describe_url(url)
    if not title:
        return "no title"
    row_tags = tags + _TAG_SPLIT.split(_plain(cell("tags")))
    row_tags += [cells[header.index(c)] for c in CATEGORY_COLUMNS if c in header and header.index(c) < len(cells)]
    summary_index = columns["summary"]
    summary = cells[summary_index] if summary_index is not None and summary_index < len(cells) else ""
    return ImportedItem(
        title=title,
        url=url,
        company=_plain(cell("company")) or None,
        year=_year(cell("year")),
        tags=_unique(_plain(t) for t in row_tags),
        summary=_plain(summary),
        industry=_plain(cell("industry")) or None,
    )


# -- small helpers --------------------------------------------------------------------------


def has_web_link(text: str) -> bool:
    return any(is_web_url(m.group("url")) for m in _LINK.finditer(text))


def _describe_url(url: str) -> str:
    return "no URL" if not url.strip() else f"'{url.strip()}' is not an http(s) URL"


def _year(value: str) -> int | None:
    """The first 4-digit year (1900-2099) in a year or date cell: "2021", "2021-05-03", "May 2021"."""
    match = _YEAR.search(value or "")
    return int(match.group(1)) if match else None


def _plain(text: str) -> str:
    """Markdown inline text without links' syntax, emphasis markers or extra spaces."""
    text = _LINK.sub(lambda m: m.group("title"), text)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", text)
    return " ".join(text.split())


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Stripped, non-empty values without case-insensitive repeats, first spelling kept."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = value.strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)
