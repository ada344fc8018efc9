"""The three list formats and how each is parsed, row by row. No network, no corpus here.

* CSV with a header row, its columns matched by name, case-insensitively (``COLUMNS``);
* a Markdown list of links under headings, one item a line:
  ``1. [Title](https://...) `Company` `2020```, the enclosing ``##``/``###`` headings becoming tags;
* a Markdown table with a link column: ``| Company | Industry | Description | [Title](url) | Year |``.

Each parser returns ``(items, skipped)``: a row that cannot become an item (no title, no http(s)
URL) is skipped with its line and the reason. The CSV parser is :mod:`mlsd.csvlist`'s; the
Markdown ones, the item type and the helpers they share are here. :mod:`mlsd.importers` detects
the format and picks the parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

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
# Every pattern here runs on text from strangers, so none may backtrack more than linearly: a
# line is stripped in Python first, and no pattern puts two unbounded runs of the same
# characters side by side (``\s+(.*\S)\s*$`` took 35 s on a 60 kB line of spaces).
_HEADING = re.compile(r"(#{1,6})\s")
_LIST_MARKER = re.compile(r"\s*(?:\d+[.)]|[-*+])\s")
# [title](url "optional title"): the title may hold one level of brackets, the URL one level of
# parentheses (Wikipedia links), so "[A [b]](https://x/y_(z))" still parses.
# Possessive (``*+``, ``++``): giving characters back can never help these two runs match (what
# follows them is a character they cannot hold), and not trying keeps a search linear.
_LINK = re.compile(
    r"\[(?P<title>(?:[^\[\]]|\[[^\[\]]*+\])*+)\]"
    r"\(\s*+<?(?P<url>(?:[^()\s<>]|\([^()\s]*+\))++)>?(?:\s+\"[^\"]*+\")?\s*\)"
)
_PAREN_LINK = re.compile(r"\(\s*" + _LINK.pattern + r"\s*\)")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_YEAR_SPAN = re.compile(r"(?:19|20)\d\d")
_SUMMARY_START = re.compile(r"\s*[-–—:]")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")
_SEPARATOR_CELL = re.compile(r":?-{3,}:?")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
TAG_SPLIT = re.compile(r"[;,]")


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


# -- shared by the parsers ------------------------------------------------------------------


def column(header: list[str], name: str) -> int | None:
    """Index of the first header column the field accepts, in order of preference."""
    for alias in COLUMNS[name]:
        if alias in header:
            return header.index(alias)
    return None


# -- Markdown list --------------------------------------------------------------------------


def parse_markdown_list(text: str, origin: str) -> tuple[list[ImportedItem], list[str]]:
    headings: dict[int, str] = {}
    items: list[ImportedItem] = []
    skipped: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if heading := _heading(line):
            level, title = heading
            headings = {lvl: name for lvl, name in headings.items() if lvl < level}
            headings[level] = _plain(title)
            continue
        body = _list_body(line)
        if not body or not _LINK.search(body):
            continue  # prose, badges, blank lines: not list items
        where = f"{origin}, line {number}"
        item = _list_item(body, [name for lvl, name in sorted(headings.items()) if lvl >= 2])
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
        return describe_url(url)
    if not title:
        return "no title (expected a line starting with [title](url))"
    rest = body[link.end():]
    # The first name and the first year among the code spans: stop looking once both are found.
    company: str | None = None
    year: int | None = None
    for span in _CODE_SPAN.finditer(rest):
        text = span.group(1).strip()
        if _YEAR_SPAN.fullmatch(text):
            year = int(text) if year is None else year
        elif company is None:
            company = text
        if company is not None and year is not None:
            break
    # Awesome-list style "[Title](url) - what it is": only text after a dash or colon is a
    # summary; other leftovers ("(**PAPER NEEDED**)", "via") are the list's own notes.
    leftover = _plain(_LINK.sub("", _PAREN_LINK.sub("", _CODE_SPAN.sub("", rest))))
    summary = leftover.lstrip(" -–—:").strip() if _SUMMARY_START.match(leftover) else ""
    return ImportedItem(
        title=title,
        url=url,
        company=company,
        year=year,
        tags=unique_values(tags),
        summary=summary,
        industry=None,
    )


def _heading(line: str) -> tuple[int, str] | None:
    """``(level, text)`` of an ATX heading (``## Recommendations ##``), else None."""
    match = _HEADING.match(line)
    if not match:
        return None
    return len(match.group(1)), line[match.end():].strip().rstrip("#").rstrip()


def _list_body(line: str) -> str | None:
    """The text of a list line after its marker (``-``, ``*``, ``+``, ``1.``, ``1)``), else None."""
    match = _LIST_MARKER.match(line)
    if not match:
        return None
    return line[match.end():].strip() or None


# -- Markdown table -------------------------------------------------------------------------


def _is_table_row(line: str) -> bool:
    inner = line.strip()
    return len(inner) >= 2 and inner[0] == "|" and inner[-1] == "|"


def _is_table_separator(line: str) -> bool:
    """``|---|:---:|``: the line under a table's header (outer pipes optional)."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return all(_SEPARATOR_CELL.fullmatch(cell.strip()) for cell in inner.split("|"))


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def count_table_links(lines: list[str]) -> int:
    """How many table rows (below a header and separator) hold an http(s) link."""
    count, in_table = 0, False
    for i, line in enumerate(lines):
        if not _is_table_row(line):
            in_table = False
        elif in_table:
            count += any(has_web_link(c) or is_web_url(c) for c in _cells(line))
        elif i + 1 < len(lines) and _is_table_separator(lines[i + 1]):
            in_table = True
    return count


def list_items_with_links(lines: list[str]) -> int:
    """How many Markdown list lines hold an http(s) link (detection: a list, or a table?)."""
    return sum(1 for line in lines if (body := _list_body(line)) and has_web_link(body))


def parse_markdown_table(text: str, origin: str) -> tuple[list[ImportedItem], list[str]]:
    lines = text.splitlines()
    headings: dict[int, str] = {}
    items: list[ImportedItem] = []
    skipped: list[str] = []
    header: _TableHeader | None = None
    skip_next = False
    for number, line in enumerate(lines, start=1):
        if skip_next:  # the separator under a header row
            skip_next = False
            continue
        if heading := _heading(line):
            level, title = heading
            headings = {lvl: name for lvl, name in headings.items() if lvl < level}
            headings[level] = _plain(title)
        if not _is_table_row(line):
            header = None
            continue
        if header is None:
            if number < len(lines) and _is_table_separator(lines[number]):
                header = _TableHeader([_plain(c).lower() for c in _cells(line)])
                skip_next = True
            continue
        section = [name for lvl, name in sorted(headings.items()) if lvl >= 2]
        item = _table_row(header, _cells(line), section)
        if isinstance(item, str):
            skipped.append(f"{origin}, line {number}: {item}")
        else:
            items.append(item)
    return items, skipped


class _TableHeader:
    """A table's header row, its columns looked up once (not once per row: a wide header would
    make that quadratic)."""

    def __init__(self, names: list[str]) -> None:
        self.columns = {name: column(names, name) for name in COLUMNS}
        self.categories = [names.index(c) for c in CATEGORY_COLUMNS if c in names]


def _table_row(header: _TableHeader, cells: list[str], tags: list[str]) -> ImportedItem | str:
    """One table row as an item, or the reason it is not one."""
    columns = header.columns

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
        return describe_url(url)
    if not title:
        return "no title"
    row_tags = tags + TAG_SPLIT.split(_plain(cell("tags")))
    row_tags += [cells[i] for i in header.categories if i < len(cells)]
    return ImportedItem(
        title=title,
        url=url,
        company=_plain(cell("company")) or None,
        year=year_in(cell("year")),
        tags=unique_values(_plain(t) for t in row_tags),
        summary=_plain(cell("summary")),
        industry=_plain(cell("industry")) or None,
    )


# -- small helpers --------------------------------------------------------------------------


def has_web_link(text: str) -> bool:
    return any(is_web_url(m.group("url")) for m in _LINK.finditer(text))


def describe_url(url: str) -> str:
    return "no URL" if not url.strip() else f"'{url.strip()}' is not an http(s) URL"


def year_in(value: str) -> int | None:
    """The first 4-digit year (1900-2099) in a year or date cell: "2021", "2021-05-03", "May 2021"."""
    match = _YEAR.search(value or "")
    return int(match.group(1)) if match else None


def _plain(text: str) -> str:
    """Markdown inline text without links' syntax, emphasis markers or extra spaces."""
    if "[" in text:
        text = _LINK.sub(lambda m: m.group("title"), text)
    text = _EMPHASIS.sub("", text)
    if "\\" in text:
        text = _ESCAPED.sub(r"\1", text)
    return " ".join(text.split())


def unique_values(values: Iterable[str]) -> tuple[str, ...]:
    """Stripped, non-empty values without case-insensitive repeats, first spelling kept."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = value.strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)
