"""The user's library of imported lists: import one by URL, file or preset name, list, remove.

Each imported list is one JSON file, ``$MLSD_HOME/library/<name>.json`` (its format is
:mod:`mlsd.sources`'), that :func:`mlsd.corpus.load_corpus` reads beside the bundled data. An import fetches and parses
the whole list before anything is written, so a failed fetch or an unrecognized list changes
nothing; the file is written atomically; then the search index is updated (only the new items
are encoded: the index reuses vectors by text hash). If that update fails, the file is put
back as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import paths
from .corpus import load_corpus
from .errors import LibraryError, LockTimeout, SourceError
from .fetch import read_source
from .files import atomic_write_bytes, exclusive_lock
from .importers import FORMATS, dedupe, normalize_company, parse_report
from .model import ID_PATTERN, Corpus
from .sources import LibrarySource, library_files, read_library, write_source
from .urls import normalize_url

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Preset:
    """A known public list that ``mlsd import NAME`` accepts by name."""

    name: str
    url: str
    license: str
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("applied-ml", "https://raw.githubusercontent.com/eugeneyan/applied-ml/master/README.md", "MIT",
               "Eugene Yan's papers and tech blogs by companies on ML in production"),
        Preset("ml-system-design-case-studies",
               "https://raw.githubusercontent.com/eren23/awesome-ml-system-design-case-studies/main/data/case_studies.csv",
               "MIT", "about 2,400 ML system design case studies, one CSV row each"),
    )
}
# File names that say nothing about the list: name the source after the folder or repository.
_GENERIC_STEMS = frozenset({"readme", "index"})


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        name: the source's name.
        origin: where the list came from (final URL after redirects, or the file's path).
        format: the format it was read as.
        new: items not in the library before.
        duplicates: items whose URL was already there (bundled, another source, this source's
            previous import, or an earlier row of the same list).
        skipped: one reason per row that could not become an item, naming its line.
        total: items the source holds after the import.
        path: the library file (None when nothing was written).
        encoded: items the index had to encode (None when the index was not updated).
    """

    name: str
    origin: str
    format: str
    new: int
    duplicates: int
    skipped: list[str] = field(default_factory=list)
    total: int = 0
    path: Path | None = None
    encoded: int | None = None


def source_name(source: str) -> str:
    """A kebab-case name for a list, from its URL or file name.

    ``.../eugeneyan/applied-ml/master/README.md`` gives ``applied-ml`` (a README names
    nothing, its repository does); ``lists/case_studies.csv`` gives ``case-studies``.
    """
    source = source.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", source, re.IGNORECASE):
        parts = urlsplit(source)
        segments = [s for s in parts.path.split("/") if s]
        host = (parts.hostname or "").removeprefix("www.")
        if host in ("raw.githubusercontent.com", "github.com") and len(segments) >= 2:
            # owner/repo/branch/path...: the repository names the list better than its files.
            fallback = [segments[1]]
        else:
            fallback = segments[:-1][::-1] + [host.split(".")[0]]
    else:
        path = Path(source)
        segments = [path.name]
        fallback = [path.resolve().parent.name]
    candidates = []
    if segments:
        candidates.append(_kebab(Path(segments[-1]).stem))
    candidates += [_kebab(s) for s in fallback]
    for candidate in candidates:
        if candidate and candidate not in _GENERIC_STEMS:
            return candidate
    return next((c for c in candidates if c), "imported")


def _kebab(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def item_id(name: str, normalized_url: str) -> str:
    """Stable id of an imported item: the same URL in the same source keeps its id on re-import."""
    return f"imp-{name}-{hashlib.sha256(normalized_url.encode('utf-8')).hexdigest()[:10]}"


def list_sources(library_dir: Path | None = None) -> list[LibrarySource]:
    """The imported lists, sorted by name.

    Raises:
        CorpusError: a library file is malformed (naming the file and field).
    """
    return read_library(Path(library_dir) if library_dir is not None else paths.library_dir())


def _check_name(name: str) -> str:
    if not ID_PATTERN.match(name):
        raise LibraryError(f"'{name}' is not a valid name: use lowercase letters, digits and single dashes, e.g. 'applied-ml'")
    return name


def import_source(
    source: str,
    *,
    format: str = "auto",
    name: str | None = None,
    corpus: Corpus | None = None,
    progress: Progress | None = None,
    embedder=None,
    update_index: bool = True,
) -> ImportReport:
    """Import a curated list into the library and update the search index.

    Importing under a name that exists replaces that source (a refresh): its items keep their
    ids, and only rows new to the library count as new.

    Args:
        source: an http(s) URL, a file path, or a preset name (see ``PRESETS``).
        format: ``auto``, ``csv``, ``markdown-list`` or ``markdown-table``.
        name: the source's kebab-case name; derived from the URL or file name by default.
        corpus: the current corpus (bundled + library) to dedupe against; loaded by default.
        progress: called with (done, total) while the new items are encoded.
        embedder: the model to encode with; ``default_embedder()`` by default.
        update_index: update the index after writing (the next search would do it anyway).

    Returns:
        An :class:`ImportReport`.

    Raises:
        SourceError: the list could not be fetched or read, or holds no items.
        LibraryError: the name is not kebab-case.
        CorpusError: the current library is malformed.
        SearchIndexError: the index could not be updated (the library is then left as it was).
    """
    if format not in FORMATS:
        raise SourceError(f"unknown format '{format}': expected one of {', '.join(FORMATS)}")
    preset = PRESETS.get(source.strip())
    location = preset.url if preset else source
    name = _check_name(name if name is not None else (preset.name if preset else source_name(location)))

    # Everything that can fail on the list itself happens before anything is written.
    text, origin = read_source(location)
    try:
        parsed = parse_report(text, format=format, origin=origin)
    except SourceError as exc:
        raise SourceError(f"{origin}: {exc}") from None
    if not parsed.items:
        reasons = f" ({len(parsed.skipped)} rows skipped, e.g. {parsed.skipped[0]})" if parsed.skipped else ""
        raise SourceError(f"{origin} holds no items to import{reasons}")

    # From here on the library is read, written and indexed under its lock: two imports (two
    # tabs, or the CLI beside the app) never dedupe against a stale library or interleave.
    with _library_lock():
        return _write_source(name, origin, parsed, corpus, progress, embedder, update_index)


LOCK_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def _library_lock():
    try:
        with exclusive_lock(paths.library_lock_path(), LOCK_TIMEOUT_SECONDS):
            yield
    except LockTimeout:
        raise LibraryError(
            "another import or removal is running in this library; try again when it has finished"
        ) from None


def _write_source(name, origin, parsed, corpus, progress, embedder, update_index) -> ImportReport:
    corpus = corpus if corpus is not None else load_corpus()
    previous = {normalize_url(r.url) for r in corpus.resources if r.source == name}
    others = {r.url for r in corpus.resources if r.source != name}
    kept, duplicates = dedupe(parsed.items, others)
    new = [item for item in kept if normalize_url(item.url) not in previous]
    report = ImportReport(name, origin, parsed.format, new=len(new), duplicates=len(duplicates) + len(kept) - len(new),
                          skipped=list(parsed.skipped), total=len(kept))
    if not kept:
        return report  # nothing left after dedupe: no empty source is written

    items = []
    for item in kept:
        key = normalize_url(item.url)
        items.append({
            "id": item_id(name, key),
            "title": item.title,
            "url": item.url,
            "normalized_url": key,
            "company": normalize_company(item.company, corpus),
            "year": item.year,  # a year the library cannot hold is stored as null by write_source
            "tags": list(item.tags),
            "summary": item.summary,
        })
    folder = paths.library_dir()
    path = folder / f"{name}.json"
    try:
        old_bytes = path.read_bytes() if path.exists() else None
        write_source(folder, name, origin, parsed.format, items)
    except OSError as exc:
        raise LibraryError(f"cannot write {path}: {exc.strerror or exc}") from None
    report.path = path
    if update_index:
        try:
            report.encoded = _update_index(embedder, progress)
        except BaseException:
            # Put the library back as it was, so the data and the index agree again.
            if old_bytes is None:
                path.unlink(missing_ok=True)
            else:
                atomic_write_bytes(path, old_bytes)
            raise
    return report


def remove_source(name: str, *, embedder=None, update_index: bool = True) -> int:
    """Delete an imported list from the library and drop its items from the index.

    A malformed library file can be removed too (that is how a user gets rid of one).

    Returns:
        The number of items the source held (0 when its file could not be read).

    Raises:
        LibraryError: no source has that name.
    """
    with _library_lock():
        return _remove_source(name, embedder, update_index)


def _remove_source(name: str, embedder, update_index: bool) -> int:
    folder = paths.library_dir()
    files = {p.stem: p for p in library_files(folder)}
    if name not in files:
        known = f"; imported sources: {', '.join(files)}" if files else "; no lists have been imported yet"
        raise LibraryError(f"no imported source named '{name}'{known}")
    path = files[name]
    try:
        count = len(json.loads(path.read_text(encoding="utf-8")).get("items") or [])
    except (OSError, ValueError, AttributeError, TypeError):
        count = 0
    old_bytes = path.read_bytes()
    path.unlink()
    if update_index:
        try:
            _update_index(embedder, None)  # vectors are reused: nothing is encoded
        except BaseException:
            atomic_write_bytes(path, old_bytes)
            raise
    return count


def _update_index(embedder, progress: Progress | None) -> int | None:
    """Bring the index up to date with the library; the number of items encoded."""
    from .embed import default_embedder
    from .index import open_index

    corpus = load_corpus()
    index = open_index(list(corpus.items), corpus.data_hash, embedder or default_embedder(), progress=progress)
    if index.status == "loaded":  # already current: this call encoded nothing
        return 0
    return index.manifest.get("encoded")
