"""The title and description of linked pages, for imported items a list gives a title only.

A curated list often says no more than ``[Personalized Recommendations at Etsy](https://...)``,
and a title alone is little to search by. ``mlsd import --enrich`` asks each new link's page
for its ``<title>``, ``<meta name="description">`` and OpenGraph / Twitter equivalents, and the
import stores the description as the item's summary, marked as taken from the page
(:mod:`mlsd.library`, :mod:`mlsd.sources`).

It is as polite and as guarded as the link checker (:mod:`mlsd.links`), through the same
:mod:`mlsd.web`: public addresses only (every redirect hop checked; ``MLSD_ALLOW_PRIVATE_URLS``
opens the door on purpose), a ``(connect, read)`` timeout per wait and a deadline per page, at
most a few requests in flight to any one host, and a total deadline for all the pages, after
which the pages not yet asked are not asked. Only ``text/html`` and ``application/xhtml+xml``
answers are read, and only their first 256 kB at most, stopping at ``</head>``: the title and
descriptions live in the head.

Everything taken from a page is text: the parser (the standard library's ``html.parser``,
which does not build a tree and never runs anything) keeps character data and attribute values
only, entities decoded; control and format characters are dropped, whitespace collapsed and the
length capped. The pages show it escaped, like every text a list supplies.

A page that cannot give a description is a result, never an error of the import: its item just
keeps no summary, and the failure is counted by its reason (:data:`REASONS`).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from html.parser import HTMLParser

import requests

from . import web
from .errors import AddressRefusedError, DeadlineError, PageError, SourceError
from .urls import is_web_url

MAX_PAGE_BYTES = 256 * 1024  # of the page's HTML, after decompression; the head is near the start
PAGE_DEADLINE_SECONDS = 20.0  # one page, redirects included (cut to what the total deadline leaves)
DEFAULT_DEADLINE_SECONDS = 120.0  # all the pages of one import
TITLE_CHARS = 300
DESCRIPTION_CHARS = 500
CHUNK_BYTES = 16 * 1024
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Why a page gave no description, as counted and shown ("3 failed: 2 timeout, 1 not HTML").
TIMEOUT = "timeout"
OUT_OF_TIME = "out of time"  # the total deadline passed before (or while) the page was asked
NOT_HTML = "not HTML"
TOO_LARGE = "too large"  # no description in the first MAX_PAGE_BYTES
REFUSED = "refused: private address"
HTTP_ERROR = "HTTP error"
CONNECTION = "connection failed"
NO_DESCRIPTION = "no description"
INVALID_URL = "invalid URL"
REASONS = (TIMEOUT, OUT_OF_TIME, NOT_HTML, TOO_LARGE, REFUSED, HTTP_ERROR, CONNECTION, NO_DESCRIPTION, INVALID_URL)

_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]{1,40})", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([\w.:-]{1,40})", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.IGNORECASE)
# Control, format (bidi overrides, zero-width joiners), surrogate and private-use characters.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PageInfo:
    """What a page says about itself, cleaned to plain text.

    Attributes:
        url: the URL asked for.
        final_url: the URL that answered, after redirects.
        title: ``og:title``, else ``<title>``, else ``twitter:title``; ``""`` when none.
        description: ``<meta name="description">``, else ``og:description``, else
            ``twitter:description``; never empty (a page without one is a :class:`PageError`).
    """

    url: str
    final_url: str
    title: str
    description: str


@dataclass(frozen=True)
class PageResult:
    """One link's outcome: its page's :class:`PageInfo`, or why there is none.

    Attributes:
        url: the link.
        info: the page's title and description, or None.
        reason: one of :data:`REASONS` when ``info`` is None, else ``""``.
        message: what went wrong, for a person (``"404 Not Found"``); ``""`` on success.
    """

    url: str
    info: PageInfo | None
    reason: str = ""
    message: str = ""


@dataclass
class EnrichReport:
    """What fetching the pages of an import gave.

    Attributes:
        asked: links whose pages were to be fetched (new to the list, with no summary of their own).
        enriched: items whose summary is now their page's description.
        reused: items that kept the description an earlier import of the same list took from
            their page (not fetched again).
        failures: reason (:data:`REASONS`) -> number of links.
        examples: ``"<url>: <message>"`` of the first few failures, in list order.
    """

    asked: int = 0
    enriched: int = 0
    reused: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def summary(self) -> str:
        """One line for a person, e.g. ``Descriptions taken from 5 of 8 linked pages; 3 failed: 2 timeout, 1 not HTML``."""
        if self.asked:
            line = f"Descriptions taken from {self.enriched} of {self.asked} linked pages"
        else:
            line = "No linked page needed asking for a description"
        if self.reused:
            line += f" ({self.reused} kept from the previous import, not fetched again)"
        if self.failures:
            counts = sorted(self.failures.items(), key=lambda kv: (-kv[1], REASONS.index(kv[0])))
            line += f"; {self.failed} failed: " + ", ".join(f"{n} {reason}" for reason, n in counts)
        return line


EXAMPLES_KEPT = 10


def report_of(results: Iterable[PageResult]) -> EnrichReport:
    """Count the results (``enriched`` here counts the pages that gave a description)."""
    report = EnrichReport()
    for result in results:
        report.asked += 1
        if result.info is not None:
            report.enriched += 1
            continue
        report.failures[result.reason] = report.failures.get(result.reason, 0) + 1
        if len(report.examples) < EXAMPLES_KEPT:
            report.examples.append(f"{result.url}: {result.message}")
    return report


# -- many pages ------------------------------------------------------------------------------


def fetch_pages(
    urls: Iterable[str],
    *,
    concurrency: int = 8,
    per_host: int = 2,
    timeout: tuple[float, float] = (5, 10),
    page_deadline: float = PAGE_DEADLINE_SECONDS,
    deadline: float | None = None,
    max_bytes: int = MAX_PAGE_BYTES,
    progress: Progress | None = None,
) -> dict[str, PageResult]:
    """Fetch the title and description of many pages, concurrently and politely, within a total time.

    Args:
        urls: the links; duplicates are fetched once.
        concurrency: requests in flight at most, over all hosts.
        per_host: requests in flight at most to one host (as the link checker).
        timeout: ``(connect, read)`` timeouts in seconds for each wait.
        page_deadline: seconds one page may take in all, redirects included.
        deadline: seconds all the pages may take (120 by default); a page not asked by then is
            not asked (``out of time``), and one being fetched is cut short.
        max_bytes: the most of a page's HTML read.
        progress: called as ``progress(done, total)`` after each page, from the calling thread.

    Returns:
        ``url -> PageResult`` for every distinct URL. Failures are results, never exceptions.

    Raises:
        SettingError: a deadline is not a positive number of seconds.
    """
    total_seconds = web.deadline_seconds(deadline if deadline is not None else DEFAULT_DEADLINE_SECONDS)
    page_seconds = web.deadline_seconds(page_deadline)
    unique = list(dict.fromkeys(urls))
    ends_at = time.monotonic() + total_seconds
    slots = web.HostSlots(max(1, per_host))

    def out_of_time(url: str) -> PageResult:
        return PageResult(url, None, OUT_OF_TIME, f"not asked: the {total_seconds:g} s for all pages had passed")

    def fetch(url: str) -> PageResult:
        slot = slots.slot(url)
        if not slot.acquire(timeout=max(0.0, ends_at - time.monotonic())):
            return out_of_time(url)
        try:
            left = ends_at - time.monotonic()
            if left <= 0:
                return out_of_time(url)
            try:
                info = fetch_page(url, timeout=timeout, deadline=min(page_seconds, left), max_bytes=max_bytes)
            except PageError as exc:
                reason = exc.reason
                if reason == TIMEOUT and time.monotonic() >= ends_at - 0.1:
                    reason = OUT_OF_TIME  # cut short by the total deadline, not by the page's own
                return PageResult(url, None, reason, str(exc))
            return PageResult(url, info)
        finally:
            slot.release()

    results: dict[str, PageResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="mlsd-pages")
    try:
        futures = [pool.submit(fetch, url) for url in unique]
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            results[result.url] = result
            if progress is not None:
                progress(done, len(unique))
    finally:
        # Ctrl-C (or a failing progress callback): drop the pages not started; those running end
        # by their deadline, and nothing of theirs is kept.
        pool.shutdown(wait=False, cancel_futures=True)
    return {url: results[url] for url in unique}


# -- one page --------------------------------------------------------------------------------


def fetch_page(
    url: str,
    *,
    timeout: tuple[float, float] = (5, 10),
    deadline: float = PAGE_DEADLINE_SECONDS,
    max_bytes: int = MAX_PAGE_BYTES,
    session: requests.Session | None = None,
) -> PageInfo:
    """Fetch one page's title and description (no retries: this is a courtesy, not a must).

    Args:
        url: an http(s) URL the project's URL checks accept.
        timeout: ``(connect, read)`` timeouts in seconds for each wait.
        deadline: seconds the whole fetch may take, redirects included.
        max_bytes: the most of the HTML read; reading also stops at ``</head>``.
        session: a ``requests.Session`` to reuse (it is guarded: see :func:`mlsd.web.guard_session`);
            a fresh one is used (and closed) otherwise.

    Returns:
        A :class:`PageInfo` with a non-empty description.

    Raises:
        PageError: the URL is invalid or refused, the server failed, answered something other
            than HTML, or too slowly, or the page has no description (``reason`` says which).
    """
    if not is_web_url(url):
        raise PageError(INVALID_URL, "not an http(s) URL")
    try:
        web.check_url(url)
    except SourceError as exc:
        raise PageError(INVALID_URL, str(exc)) from None
    own_session = session is None
    session = web.new_session() if session is None else web.guard_session(session)
    try:
        with web.Deadline(deadline) as clock:
            response = _get(session, url, timeout, clock)
            with response:
                if not 200 <= response.status_code < 300:
                    raise PageError(HTTP_ERROR, web.status_line(response))
                content_type = response.headers.get("Content-Type", "")
                media = content_type.split(";", 1)[0].strip().lower()
                if media not in HTML_TYPES:
                    raise PageError(NOT_HTML, f"the page is {media or 'of no declared type'}, not HTML")
                body, capped = _read_head(response, max_bytes, timeout, clock)
    finally:
        if own_session:
            session.close()
    title, description = page_meta(decode_html(body, content_type))
    if not description:
        if capped:
            raise PageError(TOO_LARGE, f"no description in the first {max_bytes // 1024} kB of the page")
        raise PageError(NO_DESCRIPTION, "the page gives no description")
    return PageInfo(url, response.url or url, title, description)


def _get(session: requests.Session, url: str, timeout: tuple[float, float], clock: web.Deadline) -> requests.Response:
    try:
        response, _redirects = web.request(session, "GET", url, timeout=timeout, deadline=clock,
                                           headers={"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
                                                    "Accept-Encoding": "gzip, deflate"})
    except AddressRefusedError as exc:
        raise PageError(REFUSED, str(exc)) from None
    except DeadlineError:
        raise PageError(TIMEOUT, f"gave up after {clock.seconds:g} s") from None
    except requests.exceptions.ConnectTimeout:
        raise PageError(TIMEOUT, f"timed out connecting after {timeout[0]:g} s") from None
    except requests.exceptions.ReadTimeout:
        raise PageError(TIMEOUT, f"timed out after {timeout[1]:g} s waiting for an answer") from None
    except requests.exceptions.TooManyRedirects:
        raise PageError(HTTP_ERROR, "too many redirects") from None
    except requests.exceptions.InvalidSchema:
        raise PageError(INVALID_URL, "redirected to a non-http(s) address") from None
    except requests.exceptions.ConnectionError as error:
        if "timed out" in str(error).lower():
            raise PageError(TIMEOUT, f"timed out: {web.reason(error)}") from None
        raise PageError(CONNECTION, f"could not connect: {web.reason(error)}") from None
    except requests.exceptions.RequestException as error:
        raise PageError(CONNECTION, f"request failed: {web.reason(error)}") from None
    return response


def _read_head(response: requests.Response, max_bytes: int, timeout: tuple[float, float],
               clock: web.Deadline) -> tuple[bytes, bool]:
    """The page's first bytes, up to ``</head>`` (or ``<body>``) or ``max_bytes``; and whether the cap cut it.

    Decoded chunks: a compressed page is capped on what it expands to.
    """
    body = bytearray()
    try:
        with web.deadline_scope(clock):
            for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
                searched_from = max(0, len(body) - 8)  # "</head >" may straddle two chunks
                body += chunk
                if len(body) > max_bytes:
                    return bytes(body[:max_bytes]), True
                if _HEAD_END.search(body, searched_from):
                    return bytes(body), False
    except DeadlineError:
        raise PageError(TIMEOUT, f"gave up after {clock.seconds:g} s") from None
    except requests.exceptions.ConnectionError as error:
        if "timed out" in str(error).lower():
            raise PageError(TIMEOUT, f"timed out after {timeout[1]:g} s reading the page") from None
        raise PageError(CONNECTION, f"the connection broke while reading: {web.reason(error)}") from None
    except requests.exceptions.RequestException as error:
        raise PageError(CONNECTION, f"could not read the page: {web.reason(error)}") from None
    return bytes(body), False


# -- reading the HTML --------------------------------------------------------------------------


def decode_html(body: bytes, content_type: str = "") -> str:
    """The page's text: in the charset of the Content-Type header, else of a ``<meta charset>``
    (or ``http-equiv``) near the start, else UTF-8; bytes that do not decode become U+FFFD."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    match = _CHARSET.search(content_type)
    encoding = match.group(1) if match else None
    if encoding is None:
        found = _META_CHARSET.search(body[:4096])
        encoding = found.group(1).decode("ascii", errors="replace") if found else "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):  # unknown, or not a text encoding (base64)
        return body.decode("utf-8", errors="replace")


def page_meta(html: str) -> tuple[str, str]:
    """``(title, description)`` of an HTML page's head, as clean plain text (``""`` when absent).

    The title is ``og:title``, else ``<title>``, else ``twitter:title``; the description is
    ``<meta name="description">``, else ``og:description``, else ``twitter:description``.
    Malformed HTML gives what could be read before it went wrong.
    """
    parser = _HeadParser()
    try:
        # In pieces, never closed over a long unfinished construct: html.parser rescans an
        # unclosed tag to the end of its buffer each time it tries it, and at close() it tries
        # every "<" of it in turn, so 256 kB of "<a <a <a" would take minutes fed at once.
        for start in range(0, len(html), FEED_CHARS):
            parser.feed(html[start:start + FEED_CHARS])
            if parser.done or len(parser.rawdata) > PENDING_CHARS:
                break
        else:
            if len(parser.rawdata) <= PENDING_CHARS:
                parser.close()
    except Exception:  # noqa: BLE001 - html.parser on hostile input: keep what was read
        pass
    meta = {key: clean_text(value, DESCRIPTION_CHARS if "description" in key else TITLE_CHARS)
            for key, value in parser.meta.items()}
    own_title = clean_text("".join(parser.title_parts), TITLE_CHARS)
    title = meta.get("og:title") or own_title or meta.get("twitter:title") or ""
    description = meta.get("description") or meta.get("og:description") or meta.get("twitter:description") or ""
    return title, description


def clean_text(text: str, limit: int) -> str:
    """Text fit to show and search: control and format characters dropped, whitespace collapsed,
    at most ``limit`` characters (cut at a word, with an ellipsis)."""
    kept = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = " ".join(kept.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    at_word = cut.rsplit(" ", 1)[0]
    return (at_word if len(at_word) >= limit // 2 else cut).rstrip(" ,;:.") + "…"


_META_KEYS = frozenset({"description", "og:description", "twitter:description", "og:title", "twitter:title"})
FEED_CHARS = 4096
PENDING_CHARS = 16_384  # an unfinished tag, comment or declaration longer than this ends the parse
_RAW_CAP = 20_000  # characters kept of any one value before cleaning: a page cannot make us hold more


class _HeadParser(HTMLParser):
    """Collects ``<title>`` text and the wanted ``<meta>`` contents, until the head ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities decoded in text and attribute values
        self.title_parts: list[str] = []
        self.meta: dict[str, str] = {}
        self._in_title = False
        self._title_seen = False
        self._skipping: str | None = None  # inside <script> or <style>: never text
        self.done = False  # the head has ended: nothing more to read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "meta":
            self._meta(attrs)
        elif tag in ("script", "style"):
            self._skipping = tag
        elif tag == "title" and not self._title_seen:
            self._in_title = True
        elif tag == "body":
            self.done = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.done and tag == "meta":
            self._meta(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._skipping:
            self._skipping = None
        elif tag == "title" and self._in_title:
            self._in_title = False
            self._title_seen = True
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and self._skipping is None and sum(map(len, self.title_parts)) < _RAW_CAP:
            self.title_parts.append(data)

    def _meta(self, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        key = (values.get("property") or values.get("name") or "").strip().lower()
        if key in _META_KEYS and key not in self.meta and values.get("content", "").strip():
            self.meta[key] = values["content"][:_RAW_CAP]
