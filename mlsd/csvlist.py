"""Curated lists written as CSV: a header row, its columns matched by name (:data:`mlsd.formats.COLUMNS`).

Python's csv reader does the reading; this module turns its rows into items and its failures
into messages that name the line: a cell over the reader's field limit (the process-wide limit
is never raised), a quote that never closes (the file is refused: the rest of it would be one
cell), and rows a stray quote swallowed into one cell (reported among the skipped rows).
"""

from __future__ import annotations

import csv
import io
import re

from .errors import SourceError
from .formats import (
    CATEGORY_COLUMNS,
    COLUMNS,
    NOTHING_RECOGNIZED,
    TAG_SPLIT,
    ImportedItem,
    column,
    describe_url,
    unique_values,
    year_in,
)
from .urls import is_web_url

_HAS_URL = re.compile(r"https?://", re.IGNORECASE)


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


def parse_csv(text: str, origin: str) -> tuple[list[ImportedItem], list[str]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    items: list[ImportedItem] = []
    skipped: list[str] = []
    line = 0
    row: list[str] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SourceError(_csv_error(exc, origin, reader.line_num)) from None
        start, line = line + 1, reader.line_num  # a quoted field may span several lines
        if line > start:
            skipped += _swallowed(row, origin, start)
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
            skipped.append(f"{where}: {describe_url(url)}")
            continue
        tags = [t for t in TAG_SPLIT.split(cell("tags"))]
        tags += [row[i] for i in categories if i < len(row)]
        items.append(
            ImportedItem(
                title=title,
                url=url,
                company=cell("company") or None,
                year=year_in(cell("year")),
                tags=unique_values(tags),
                summary=cell("summary"),
                industry=cell("industry") or None,
            )
        )
    if header is None:
        raise SourceError(NOTHING_RECOGNIZED)
    if line > start and _ends_inside_quotes(text):
        # The last row ran to the end of the file: its last cell opened a quote that never closed.
        opened = start + sum(c.count("\n") for c in row[:-1])
        raise SourceError(
            f"{origin}, line {opened}: a quote opens here and is never closed, so the {line - opened} lines after it "
            "would be read as one cell; close the quote (or double it: \"\") and import again"
        )
    return items, skipped


def _csv_error(exc: csv.Error, origin: str, line: int) -> str:
    """A CSV reader's error as a message naming the line (the process-wide field limit stays as it is)."""
    if "field larger than field limit" in str(exc):
        return (f"{origin}, line {line}: a cell is longer than {csv.field_size_limit():,} characters, more than any "
                "list holds; is this the right file?")
    return f"{origin}, line {line}: not readable as CSV ({exc})"


def _swallowed(row: list[str], origin: str, start: int) -> list[str]:
    """Report lines with links of their own inside one quoted cell: the rows a stray quote ate."""
    reports = []
    line = start
    for cell in row:
        inner = cell.split("\n")
        eaten = [n for n, text in enumerate(inner[1:], start=line + 1) if _HAS_URL.search(text)]
        if eaten:
            reports.append(
                f"{origin}, lines {eaten[0]}-{eaten[-1]}: {len(eaten)} line(s) with links were read as part of a "
                f"quoted cell that opens on line {line} (is a closing quote missing there?), not as rows"
            )
        line += len(inner) - 1
    return reports


def _ends_inside_quotes(text: str) -> bool:
    """True when the text ends inside a quoted CSV field (a strict reader says so; a lenient one does not)."""
    try:
        for _row in csv.reader(io.StringIO(text), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False
