"""The user's library of imported lists: import one by URL, file, upload or preset name, list, remove.

Each imported list is one JSON file, ``$MLSD_HOME/library/<name>.json`` (its format is
:mod:`mlsd.sources`'), that :func:`mlsd.corpus.load_corpus` reads beside the bundled data. An
import fetches and parses the whole list before anything is written, so a failed fetch or an
unrecognized list changes nothing. Then the library file and the search index change together
(:mod:`mlsd.journal`): only the new items are encoded (the index reuses vectors by text hash),
and a failure, a Ctrl-C or a ``kill -9`` at any moment leaves either the old library with its
index or the new one with its index, never a list the index does not hold.

Three doors, for three callers: :func:`import_source` (the command line: a URL, a file path
or a preset), :func:`import_url` (the web page: a URL or a preset, never a path on the server)
and :func:`import_upload` (the web page: the bytes of an uploaded file).

With ``enrich``, each new link that the list gives no summary is asked for its page's
description (:mod:`mlsd.enrich`), after parsing and before the library lock is taken (the
pages may take a while; nothing is written meanwhile, so a failed or interrupted enrichment
leaves everything as it was). The description becomes the item's summary, marked as taken from
the page, before the item is encoded. An item a previous import of the same list enriched keeps
that description and is not fetched again, with or without ``enrich``; a summary the list gives
always wins.

A name already in the library is refreshed by the same list (the same origin: the same URL,
before or after redirects, compared normalized; the same file path, resolved; or an upload of
a file with the same name) and is otherwise only replaced when asked (``replace=True``).
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

from . import journal, paths
from .corpus import load_corpus
from .enrich import EnrichReport, PageResult, fetch_pages, report_of
from .errors import LibraryError, LockTimeout, NameTakenError, SourceError
from .fetch import read_source, read_upload, read_url
from .files import atomic_write_bytes, exclusive_lock
from .importers import FORMATS, ParseReport, dedupe, normalize_company, parse_report
from .model import ID_PATTERN, Corpus, Resource
from .sources import SUMMARY_FROM_PAGE, LibrarySource, library_files, read_library, source_bytes, with_filings
from .urls import is_web_url, normalize_url

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
        enrichment: what asking the linked pages for their descriptions gave (None unless asked).
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
    enrichment: EnrichReport | None = None


@dataclass(frozen=True)
class Enrich:
    """How to ask the new links' pages for their descriptions (``mlsd import --enrich``).

    Attributes:
        deadline: seconds all the pages may take (:data:`mlsd.enrich.DEFAULT_DEADLINE_SECONDS` by default).
        progress: called with (done, total) as the pages answer.
    """

    deadline: float | None = None
    progress: Progress | None = None


def source_name(source: str) -> str:
    """A kebab-case name for a list, from its URL or file name.

    ``.../eugeneyan/applied-ml/master/README.md`` gives ``applied-ml`` (a README names
    nothing, its repository does); ``lists/case_studies.csv`` gives ``case-studies``.
    """
    source = source.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", source, re.IGNORECASE):
        try:
            parts = urlsplit(source)
            host = (parts.hostname or "").removeprefix("www.")
        except ValueError:  # "http://[zz/x.csv": the fetch will say what is wrong with it
            return "imported"
        segments = [s for s in parts.path.split("/") if s]
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
    """The imported lists, sorted by name (after settling a change a crash left unfinished).

    Raises:
        CorpusError: a library file is malformed (naming the file and field).
    """
    if library_dir is None:
        journal.recover()
    return read_library(Path(library_dir) if library_dir is not None else paths.library_dir())


def _check_name(name: str) -> str:
    if not ID_PATTERN.match(name):
        raise LibraryError(f"'{name[:80]}' is not a valid name: use lowercase letters, digits and single dashes, e.g. 'applied-ml'")
    return name


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise SourceError(f"unknown format '{format}': expected one of {', '.join(FORMATS)}")


def import_source(
    source: str,
    *,
    format: str = "auto",
    name: str | None = None,
    corpus: Corpus | None = None,
    progress: Progress | None = None,
    embedder=None,
    update_index: bool = True,
    replace: bool = False,
    deadline: float | None = None,
    enrich: Enrich | None = None,
) -> ImportReport:
    """Import a curated list into the library and update the search index (the command line's door).

    Importing the same list again under its name refreshes it: its items keep their ids, and
    only rows new to the library count as new. A different list under a taken name is refused
    unless ``replace`` is set.

    Args:
        source: an http(s) URL, a file path, or a preset name (see ``PRESETS``).
        format: ``auto``, ``csv``, ``markdown-list`` or ``markdown-table``.
        name: the source's kebab-case name; derived from the URL or file name by default.
        corpus: the current corpus (bundled + library) to dedupe against; loaded by default.
        progress: called with (done, total) while the new items are encoded.
        embedder: the model to encode with; ``default_embedder()`` by default.
        update_index: update the index with the library (the next search would do it anyway).
        replace: replace a different list already imported under ``name``.
        deadline: seconds a download may take in all (``MLSD_FETCH_DEADLINE`` or 60 by default).
        enrich: ask each new link without a summary for its page's description (see :class:`Enrich`);
            a page that cannot give one never fails the import.

    Returns:
        An :class:`ImportReport`.

    Raises:
        SourceError: the list could not be fetched or read, or holds no items.
        LibraryError: the name is not kebab-case, the library cannot be written, or (as
            :class:`NameTakenError`) a different list holds the name and ``replace`` is not set.
        CorpusError: the current library is malformed.
        SearchIndexError: the index could not be updated (the library is then left as it was).
    """
    _check_format(format)
    location, name = _location_and_name(source, name)
    text, origin = read_source(location, deadline=deadline)
    return _import_text(text, origin, location, name, format, corpus, progress, embedder, update_index, replace,
                        enrich)


def _location_and_name(source: str, name: str | None) -> tuple[str, str]:
    """Where to read a list from (a preset's URL, or ``source`` itself) and its checked name
    (given, else the preset's, else derived from the location)."""
    preset = PRESETS.get(source.strip())
    location = preset.url if preset else source.strip()
    return location, _check_name(name if name is not None else (preset.name if preset else source_name(location)))


def import_url(
    url: str,
    *,
    format: str = "auto",
    name: str | None = None,
    progress: Progress | None = None,
    embedder=None,
    replace: bool = False,
    deadline: float | None = None,
    enrich: Enrich | None = None,
) -> ImportReport:
    """Import a list from an http(s) URL or a preset name, and nothing else (the web page's door).

    Whatever ``url`` holds, no file of the machine running the app is read. Arguments, result
    and errors as :func:`import_source`'s.
    """
    _check_format(format)
    location, name = _location_and_name(url, name or None)  # the page's empty name box: no name given
    text, origin = read_url(location, deadline=deadline)
    return _import_text(text, origin, location, name, format, None, progress, embedder, True, replace, enrich)


def import_upload(
    data: bytes,
    filename: str,
    *,
    format: str = "auto",
    name: str | None = None,
    progress: Progress | None = None,
    embedder=None,
    replace: bool = False,
    enrich: Enrich | None = None,
) -> ImportReport:
    """Import an uploaded list from its bytes (the web page's door for files; nothing is read from disk).

    Args:
        data: the file's bytes (UTF-8 text, at most 20 MB).
        filename: the name the browser gave; it names the source (unless ``name`` does) and its
            origin (``upload:<file name>``).

    Other arguments, result and errors as :func:`import_source`'s.
    """
    _check_format(format)
    text, origin = read_upload(data, filename)
    shown = origin.removeprefix("upload:")
    name = _check_name(name if name else (_kebab(Path(shown).stem) or "upload"))
    return _import_text(text, origin, origin, name, format, None, progress, embedder, True, replace, enrich)


def _import_text(text, origin, location, name, format, corpus, progress, embedder, update_index, replace,
                 enrich: Enrich | None = None) -> ImportReport:
    # Everything that can fail on the list itself happens before anything is written.
    try:
        parsed = parse_report(text, format=format, origin=origin)
    except SourceError as exc:
        message = str(exc)
        raise SourceError(message if message.startswith(origin) else f"{origin}: {message}") from None
    if not parsed.items:
        reasons = f" ({len(parsed.skipped)} rows skipped, e.g. {parsed.skipped[0]})" if parsed.skipped else ""
        raise SourceError(f"{origin} holds no items to import{reasons}")

    # The pages are asked before the lock is taken (they may take a minute, and another import
    # should not wait that long) and before anything is written; which of their answers apply is
    # decided again under the lock, against the library as it then is.
    pages: dict[str, PageResult] | None = None
    if enrich is not None:
        pages = _ask_pages(parsed, name, corpus, enrich)

    # From here on the library is read, written and indexed under its lock: two imports (two
    # tabs, or the CLI beside the app) never dedupe against a stale library or interleave.
    with _library_lock():
        journal.recover(locked=True)
        if not replace:
            _check_same_list(name, location, origin)
        return _write_source(name, origin, parsed, corpus, progress, embedder, update_index, pages)


def same_origin(stored: str, *candidates: str) -> bool:
    """True when a list stored with origin ``stored`` is the list at one of ``candidates``.

    URLs compare normalized (``http://www.a.example/x/`` is ``https://a.example/x``), file
    paths resolved, uploads (``upload:<file name>``) by file name.
    """
    for candidate in candidates:
        if stored.startswith("upload:") or candidate.startswith("upload:"):
            if stored == candidate:
                return True
        elif is_web_url(stored) or is_web_url(candidate):
            if is_web_url(stored) and is_web_url(candidate) and normalize_url(stored) == normalize_url(candidate):
                return True
        else:
            try:
                if Path(stored).expanduser().resolve() == Path(candidate).expanduser().resolve():
                    return True
            except (OSError, RuntimeError, ValueError):
                continue
    return False


def _check_same_list(name: str, location: str, origin: str) -> None:
    """Refuse to replace a different list imported under ``name`` (a refresh of the same one is fine)."""
    path = paths.library_dir() / f"{name}.json"
    if not path.exists():
        return
    try:
        stored = json.loads(path.read_text(encoding="utf-8")).get("origin")
    except (OSError, ValueError, AttributeError, RecursionError):
        stored = None
    if isinstance(stored, str) and same_origin(stored, location, origin):
        return
    raise NameTakenError(name, stored if isinstance(stored, str) else f"{path.name}, which cannot be read")


LOCK_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def _library_lock():
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(paths.library_lock_path(), LOCK_TIMEOUT_SECONDS))
        except LockTimeout:
            raise LibraryError(
                "another import or removal is running in this library; try again when it has finished"
            ) from None
        except OSError as exc:  # a read-only MLSD_HOME, say: nothing can be imported or removed
            raise LibraryError(f"cannot change the library: {paths.home()} is not writable "
                               f"({exc.strerror or exc})") from None
        yield


def _kept_items(parsed: ParseReport, name: str, corpus: Corpus):
    """The list's items left after dedupe against the rest of the library, the duplicates, and the
    items of the list's previous import by normalized URL."""
    previous = {normalize_url(r.url): r for r in corpus.resources if r.source == name}
    others = {r.url for r in corpus.resources if r.source != name}
    kept, duplicates = dedupe(parsed.items, others)
    return kept, duplicates, previous


def _wants_page(summary: str, earlier: Resource | None) -> bool:
    """True for an item whose page should be asked: the list gives it no summary and no earlier
    import of the list took one from its page."""
    return not summary.strip() and not (earlier is not None and earlier.summary_from_page)


def _ask_pages(parsed: ParseReport, name: str, corpus: Corpus | None, enrich: Enrich) -> dict[str, PageResult]:
    """The pages of the items that want one (:func:`_wants_page`), by normalized URL."""
    kept, _duplicates, previous = _kept_items(parsed, name, corpus if corpus is not None else load_corpus())
    wanted = {normalize_url(item.url): item.url for item in kept
              if _wants_page(item.summary, previous.get(normalize_url(item.url)))}
    if not wanted:
        return {}
    results = fetch_pages(wanted.values(), deadline=enrich.deadline, progress=enrich.progress)
    return {key: results[url] for key, url in wanted.items()}


def _write_source(name: str, origin: str, parsed: ParseReport, corpus: Corpus | None, progress: Progress | None,
                  embedder, update_index: bool, pages: dict[str, PageResult] | None = None) -> ImportReport:
    corpus = corpus if corpus is not None else load_corpus()
    kept, duplicates, previous = _kept_items(parsed, name, corpus)
    new = [item for item in kept if normalize_url(item.url) not in previous]
    report = ImportReport(name, origin, parsed.format, new=len(new), duplicates=len(duplicates) + len(kept) - len(new),
                          skipped=list(parsed.skipped), total=len(kept))
    if pages is not None:
        report.enrichment = report_of(pages.values())
        report.enrichment.enriched = 0  # counted below: the items the descriptions were given to
    if not kept:
        return report  # nothing left after dedupe: no empty source is written

    items = []
    for item in kept:
        key = normalize_url(item.url)
        entry: dict[str, object] = {
            "id": item_id(name, key),
            "title": item.title,
            "url": item.url,
            "normalized_url": key,
            "company": normalize_company(item.company, corpus),
            "year": item.year,  # a year the library cannot hold is stored as null by source_bytes
            "tags": list(item.tags),
            "summary": item.summary,
        }
        earlier = previous.get(key)
        result = (pages or {}).get(key)
        if item.summary.strip():
            pass  # the list's own summary wins
        elif earlier is not None and earlier.summary_from_page:
            # Enriched by an earlier import: keep what its page said, without asking it again.
            entry.update(_from_page(earlier.summary, earlier.page_title))
            if report.enrichment is not None:
                report.enrichment.reused += 1
        elif result is not None and result.info is not None:
            entry.update(_from_page(result.info.description, result.info.title))
            if report.enrichment is not None:
                report.enrichment.enriched += 1
        items.append(entry)
    report.path = paths.library_dir() / f"{name}.json"
    report.encoded = _change(name, source_bytes(name, origin, parsed.format, items), embedder, progress, update_index)
    return report


def _from_page(description: str, title: str | None) -> dict[str, object]:
    """The item fields of a summary taken from the linked page."""
    fields: dict[str, object] = {"summary": description, "summary_from": SUMMARY_FROM_PAGE}
    if title:
        fields["page_title"] = title
    return fields


def remove_source(name: str, *, embedder=None, update_index: bool = True) -> int:
    """Delete an imported list from the library and drop its items from the index.

    A malformed library file can be removed too (that is how a user gets rid of one).

    Returns:
        The number of items the source held (0 when its file could not be read).

    Raises:
        LibraryError: no source has that name, or the library cannot be written.
    """
    with _library_lock():
        journal.recover(locked=True)
        return _remove_source(name, embedder, update_index)


def _remove_source(name: str, embedder, update_index: bool) -> int:
    folder = paths.library_dir()
    files = {p.stem: p for p in library_files(folder)}
    if name not in files:
        known = f"; imported sources: {', '.join(files)}" if files else "; no lists have been imported yet"
        raise LibraryError(f"no imported source named '{name[:80]}'{known}")
    path = files[name]
    try:
        count = len(json.loads(path.read_text(encoding="utf-8")).get("items") or [])
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        count = 0
    _change(name, None, embedder, None, update_index)  # vectors are reused: nothing is encoded
    return count


def _change(name: str, data: bytes | None, embedder, progress: Progress | None, update_index: bool) -> int | None:
    """Write (``data``) or delete (None) one library file; with the index, atomically (:mod:`mlsd.journal`).

    Returns:
        The number of items the index had to encode (None when the index was not updated).
    """
    path = paths.library_dir() / f"{name}.json"
    try:
        if not update_index:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, data)
            return None
        with journal.LibraryChange(name, data) as change:
            corpus = load_corpus(library_dir=change.staging)  # the library as it will be
            vectors = None
            if data is not None:
                # File the list's items from their vectors before anything is recorded, so the
                # filed list is what the journal, the index and the library hold together.
                vectors, filed = _filed(name, data, corpus, embedder, progress)
                if filed != data:
                    change.restage(filed)
                    corpus = load_corpus(library_dir=change.staging)
            change.record(corpus.data_hash)
            encoded = _update_index(corpus, embedder, progress, vectors)  # the manifest written: the commit point
            change.publish()
        return encoded
    except OSError as exc:
        raise LibraryError(f"cannot change the library in {paths.home()}: {exc.strerror or exc}") from None


def _filed(name: str, data: bytes, corpus: Corpus, embedder, progress: Progress | None):
    """The vectors of the corpus's items (reused from the index, the new ones encoded) and the
    list's bytes with its items filed under their nearest topics and steps (:mod:`mlsd.assign`)."""
    from .assign import file_items
    from .embed import default_embedder
    from .index import item_vectors

    items = list(corpus.items)
    vectors = item_vectors(items, embedder or default_embedder(), progress=progress)
    mine = [r.id for r in corpus.resources if r.source == name]
    return vectors, with_filings(data, file_items(items, vectors.vectors, mine))


def _update_index(corpus: Corpus, embedder, progress: Progress | None, vectors=None) -> int | None:
    """Bring the index up to date with this corpus; the number of items encoded (counting those
    encoded beforehand for ``vectors``, which the index then reuses)."""
    from .embed import default_embedder
    from .index import open_index

    index = open_index(list(corpus.items), corpus.data_hash, embedder or default_embedder(), progress=progress,
                       vectors=vectors)
    if index.status == "loaded":  # already current: this call encoded nothing
        return 0
    return index.manifest.get("encoded")


@dataclass(frozen=True)
class FilingReport:
    """Where ``mlsd assign-topics`` filed one imported list.

    Attributes:
        name: the list's name.
        items: its items.
        with_topic: items filed under at least one topic.
        with_step: items filed under a flow step.
        changed: the list's filing changed (it was rewritten, the index with it).
    """

    name: str
    items: int
    with_topic: int
    with_step: int
    changed: bool


def assign_topics(*, embedder=None) -> list[FilingReport]:
    """File every imported list's items under their nearest topics and flow steps again.

    For lists imported before filing existed, or after the bundled topics changed. A list whose
    filing is unchanged is left as it is; a changed one is rewritten with the index, as an
    import is (:mod:`mlsd.journal`). Nothing is encoded when the index is current.

    Returns:
        One :class:`FilingReport` per list, sorted by name.

    Raises:
        LibraryError: the library is being changed by another process, or cannot be written.
        CorpusError: a library file is malformed.
    """
    reports = []
    with _library_lock():
        journal.recover(locked=True)
        for source in read_library(paths.library_dir()):
            try:
                data = source.path.read_bytes()
            except OSError as exc:
                raise LibraryError(f"cannot read {source.path}: {exc.strerror or exc}") from None
            corpus = load_corpus()
            _vectors, filed = _filed(source.name, data, corpus, embedder, None)
            changed = filed != data
            if changed:
                _change(source.name, filed, embedder, None, True)
            after = [r for r in load_corpus().resources if r.source == source.name]
            reports.append(FilingReport(source.name, len(after), sum(1 for r in after if r.topics),
                                        sum(1 for r in after if r.steps), changed))
    return reports
