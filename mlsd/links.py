"""Link health for resource URLs: is each one alive, moved, gone, or impossible to tell?

A check asks with HEAD first (no body to download) and falls back to GET, reading nothing,
when a server refuses HEAD. Redirects are followed and recorded. Only a 404 or 410 counts as
dead: a 401/403/429 is usually a wall against bots, a 5xx or a timeout may pass, so those are
"unknown" with the reason kept, never "dead". Checks run in a thread pool, with at most a few
requests in flight to any one host, so a list of fifty links to one site does not hammer it.
A 429 whose Retry-After asks for at most 10 s is asked again after that wait (twice at most).

Results live in a :class:`LinkStore`, a JSON file written atomically, so a later run can
recheck only the links whose result is older than a given number of days.
"""

from __future__ import annotations

import email.utils
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import requests

from . import web
from .errors import LinkCheckError, LinkStoreError
from .files import atomic_write_bytes
from .urls import is_web_url

STATUSES = ("alive", "redirected", "dead", "unknown")
NOT_WEB_URL = "not an http(s) URL"
ARCHIVE_PREFIX = "https://web.archive.org/web/*/"

# Answers to HEAD that say "not like this", not "not here": ask again with GET.
HEAD_REFUSED = frozenset({400, 403, 405, 501})
DEAD = frozenset({404, 410})
# Why a status is not taken as death, in words a user can act on.
NOT_DEATH = {
    401: "the page needs a login",
    403: "the site may refuse automated checks; open it in a browser",
    429: "the site is rate limiting; try again later",
}
SAVE_EVERY = 50  # results written to the store in batches, so an interrupted run keeps most


@dataclass(frozen=True)
class LinkStatus:
    """The outcome of checking one URL.

    Attributes:
        url: the URL checked, as given.
        status: ``alive``, ``redirected`` (alive, but at another address), ``dead`` (404/410)
            or ``unknown`` (blocked, rate limited, server error, timeout, no connection).
        http_status: the final HTTP status, or None when no answer came.
        final_url: the URL that answered after redirects (the URL itself when none).
        redirects: the URLs that answered with a redirect, in order.
        reason: what happened, for a person, e.g. ``404 Not Found`` or ``timed out after 10 s``.
        checked_at: when, as ISO-8601 in UTC.
    """

    url: str
    status: str
    http_status: int | None
    final_url: str
    redirects: tuple[str, ...]
    reason: str
    checked_at: str

    def to_dict(self) -> dict:
        """A JSON-ready dict (the redirects as a list)."""
        data = asdict(self)
        data["redirects"] = list(self.redirects)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LinkStatus:
        """The inverse of :meth:`to_dict`.

        Raises:
            ValueError: a field is missing or of the wrong type.
        """
        if not isinstance(data, dict):
            raise ValueError("an entry must be an object")
        try:
            url, status, final_url, reason, checked_at = (
                data["url"], data["status"], data["final_url"], data["reason"], data["checked_at"]
            )
            http_status, redirects = data["http_status"], data["redirects"]
        except KeyError as error:
            raise ValueError(f"missing field {error}") from None
        if not all(isinstance(v, str) for v in (url, status, final_url, reason, checked_at)):
            raise ValueError("url, status, final_url, reason and checked_at must be strings")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if http_status is not None and (not isinstance(http_status, int) or isinstance(http_status, bool)):
            raise ValueError("http_status must be an integer or null")
        if not isinstance(redirects, list) or not all(isinstance(r, str) for r in redirects):
            raise ValueError("redirects must be a list of strings")
        _parse_time(checked_at)  # raises ValueError when unreadable
        return cls(url, status, http_status, final_url, tuple(redirects), reason, checked_at)

    def checked_time(self) -> datetime:
        """``checked_at`` as an aware UTC datetime."""
        return _parse_time(self.checked_at)


class LinkStore:
    """Link check results in one JSON file, an object keyed by URL.

    Loading never fails: a missing file is an empty store; an unreadable or corrupt one is
    copied aside to ``<name>.corrupt`` (so nothing is lost when the next save overwrites it)
    and the store starts from what could be salvaged. Every write replaces the file
    atomically. Safe to share between threads.

    Attributes:
        path: the JSON file.
        recovered_from: the ``.corrupt`` copy made on load, or None when the file was fine.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        """
        Args:
            path: the JSON file; ``links.json`` under ``MLSD_HOME`` by default.
        """
        if path is None:
            from .paths import links_path

            path = links_path()
        self.path = Path(path)
        self.recovered_from: Path | None = None
        self._lock = threading.Lock()
        self._entries: dict[str, LinkStatus] = self._load()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, url: str) -> bool:
        return url in self._entries

    def get(self, url: str) -> LinkStatus | None:
        """The last result for ``url``, or None when it was never checked."""
        return self._entries.get(url)

    def status_of(self, url: str) -> str:
        """``alive``, ``redirected``, ``dead``, ``unknown``, or ``unchecked``."""
        found = self._entries.get(url)
        return found.status if found else "unchecked"

    def all(self) -> list[LinkStatus]:
        """Every stored result, sorted by URL."""
        return [self._entries[url] for url in sorted(self._entries)]

    def put_many(self, statuses: Iterable[LinkStatus]) -> None:
        """Record results (replacing older ones for the same URLs) and save the file.

        Raises:
            LinkStoreError: the file could not be written; the results stay in memory.
        """
        with self._lock:
            for status in statuses:
                self._entries[status.url] = status
            self._save()

    def due(
        self, urls: Iterable[str], older_than_days: float, *, now: datetime | None = None
    ) -> list[str]:
        """The URLs to check again: never checked, or checked ``older_than_days`` or more ago.

        Args:
            urls: candidate URLs; duplicates are returned once, in first-seen order.
            older_than_days: the age from which a result is stale; 0 makes every URL due.
            now: the current time (for tests); the clock's UTC time otherwise.

        Raises:
            LinkCheckError: ``older_than_days`` is negative.
        """
        if older_than_days < 0:
            raise LinkCheckError(f"older_than_days must be 0 or more, got {older_than_days}")
        cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
        due: list[str] = []
        for url in dict.fromkeys(urls):
            found = self._entries.get(url)
            if found is None or found.checked_time() <= cutoff:
                due.append(url)
        return due

    # -- file IO ---------------------------------------------------------------------------

    def _load(self) -> dict[str, LinkStatus]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError):
            self._keep_corrupt_copy()
            return {}
        try:
            raw = json.loads(text)
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            self._keep_corrupt_copy()
            return {}
        entries: dict[str, LinkStatus] = {}
        damaged = False
        for url, data in raw.items():
            try:
                status = LinkStatus.from_dict(data)
            except ValueError:
                damaged = True
                continue
            if status.url != url:
                damaged = True
                continue
            entries[url] = status
        if damaged:
            # The next save drops the bad entries; keep the original for a person to look at.
            self._keep_corrupt_copy()
        return entries

    def _keep_corrupt_copy(self) -> None:
        copy = self.path.with_name(self.path.name + ".corrupt")
        try:
            shutil.copyfile(self.path, copy)
        except OSError:
            return  # the store must still open; there is simply no copy to point to
        self.recovered_from = copy

    def _save(self) -> None:
        data = {url: self._entries[url].to_dict() for url in sorted(self._entries)}
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, text.encode("utf-8"))
        except OSError as error:
            raise LinkStoreError(f"could not write {self.path}: {error.strerror or error}") from None


def archive_url(url: str) -> str:
    """The Wayback Machine's list of snapshots of ``url``, the place to look for a dead link."""
    return ARCHIVE_PREFIX + url


def check_links(
    urls: Iterable[str],
    *,
    store: LinkStore | None,
    concurrency: int = 8,
    per_host: int = 2,
    timeout: tuple[float, float] = (5, 10),
    older_than_days: float | None = None,
    progress: Callable[[int, int, LinkStatus], None] | None = None,
) -> list[LinkStatus]:
    """Check URLs concurrently, politely, and record the results.

    Args:
        urls: the URLs to check; duplicates are checked once.
        store: where results are read from (with ``older_than_days``) and written to, in
            batches as they come in; None to keep nothing.
        concurrency: requests in flight at most, over all hosts.
        per_host: requests in flight at most to one host (``host:port`` of the URL checked;
            a redirect to another host still counts against the first).
        timeout: ``(connect, read)`` timeouts in seconds for each request.
        older_than_days: when given, only URLs never checked or checked at least this many
            days ago are checked; the stored result is returned for the others.
        progress: called after each check that ran, as ``progress(done, total, status)``, from
            the calling thread.

    Returns:
        One :class:`LinkStatus` per distinct URL, in the order first given.

    Raises:
        LinkCheckError: ``concurrency`` or ``per_host`` below 1, or ``older_than_days``
            negative, or ``older_than_days`` given without a store.
        LinkStoreError: the store could not be written.
    """
    if concurrency < 1 or per_host < 1:
        raise LinkCheckError(f"concurrency and per_host must be at least 1, got {concurrency} and {per_host}")
    unique = list(dict.fromkeys(urls))
    if older_than_days is not None:
        if store is None:
            raise LinkCheckError("older_than_days needs a store to know when links were checked")
        to_check = store.due(unique, older_than_days)
    else:
        to_check = unique

    results: dict[str, LinkStatus] = {}
    if store is not None:
        due = set(to_check)
        for url in unique:
            found = store.get(url)
            if url not in due and found is not None:
                results[url] = found

    host_slots: dict[str, threading.Semaphore] = {}
    slots_lock = threading.Lock()

    def slot_for(url: str) -> threading.Semaphore:
        host = _host(url)
        with slots_lock:
            if host not in host_slots:
                host_slots[host] = threading.Semaphore(per_host)
            return host_slots[host]

    def check(url: str) -> LinkStatus:
        if not is_web_url(url):
            return _status(url, "unknown", None, url, (), NOT_WEB_URL)
        with slot_for(url):
            return check_one(url, timeout=timeout)

    pending: list[LinkStatus] = []
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mlsd-links") as pool:
        futures = [pool.submit(check, url) for url in to_check]
        for done, future in enumerate(as_completed(futures), start=1):
            status = future.result()
            results[status.url] = status
            pending.append(status)
            if store is not None and len(pending) >= SAVE_EVERY:
                store.put_many(pending)
                pending = []
            if progress is not None:
                progress(done, len(to_check), status)
    if store is not None and pending:
        store.put_many(pending)
    return [results[url] for url in unique]


def check_one(
    url: str, *, timeout: tuple[float, float] = (5, 10), session: requests.Session | None = None
) -> LinkStatus:
    """Check one URL now, with no concurrency limit and no store.

    Args:
        url: the URL; anything but http(s) is ``unknown`` without a request.
        timeout: ``(connect, read)`` timeouts in seconds for each request.
        session: a ``requests.Session`` to reuse; a fresh one is used (and closed) otherwise.

    Returns:
        A :class:`LinkStatus`. Network failures are results (``unknown``), never exceptions.
    """
    if not is_web_url(url):
        return _status(url, "unknown", None, url, (), NOT_WEB_URL)
    own_session = session is None
    session = session or requests.Session()
    session.headers["User-Agent"] = web.user_agent()
    try:
        response = _ask_politely(session, "HEAD", url, timeout)
        if isinstance(response, LinkStatus):
            return response
        if response.status_code not in HEAD_REFUSED:
            return _classify(url, response, "")
        refused = response.status_code
        response = _ask_politely(session, "GET", url, timeout)
        note = f" (GET; HEAD refused with {refused})"
        if isinstance(response, LinkStatus):
            return _status(url, response.status, None, url, (), response.reason + note)
        return _classify(url, response, note)
    finally:
        if own_session:
            session.close()


# -- helpers --------------------------------------------------------------------------------


def _ask(session: requests.Session, method: str, url: str, timeout: tuple[float, float]):
    """The response to one request (body unread and released), or an ``unknown`` status."""
    try:
        # stream=True: a GET fallback must not download the page just to learn it exists.
        response = session.request(method, url, timeout=timeout, allow_redirects=True, stream=True)
    except requests.exceptions.ConnectTimeout:
        return _status(url, "unknown", None, url, (), f"timed out connecting after {timeout[0]:g} s")
    except requests.exceptions.ReadTimeout:
        reason = f"timed out after {timeout[1]:g} s waiting for an answer"
        return _status(url, "unknown", None, url, (), reason)
    except requests.exceptions.TooManyRedirects:
        return _status(url, "unknown", None, url, (), "too many redirects")
    except requests.exceptions.InvalidSchema:
        return _status(url, "unknown", None, url, (), "redirected to a non-http(s) address")
    except requests.exceptions.ConnectionError as error:
        return _status(url, "unknown", None, url, (), f"could not connect: {web.reason(error)}")
    except requests.exceptions.RequestException as error:
        return _status(url, "unknown", None, url, (), f"request failed: {web.reason(error)}")
    response.close()  # nothing of the body is read; the connection is released
    return response


# A 429 that says when to come back (Retry-After) is asked again, at most twice, if the wait is
# short; the host's slot stays taken meanwhile, so the checker slows down for that host only.
RATE_LIMIT_RETRIES = 2
RATE_LIMIT_MAX_WAIT = 10.0


def _ask_politely(session: requests.Session, method: str, url: str, timeout: tuple[float, float]):
    """``_ask``, honouring a short ``Retry-After`` on 429 Too Many Requests."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        response = _ask(session, method, url, timeout)
        if isinstance(response, LinkStatus) or response.status_code != 429 or attempt == RATE_LIMIT_RETRIES:
            return response
        wait = _retry_after(response.headers.get("Retry-After"))
        if wait is None or wait > RATE_LIMIT_MAX_WAIT:
            return response
        time.sleep(wait)
    return response


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _classify(url: str, response: requests.Response, note: str) -> LinkStatus:
    code = response.status_code
    redirects = tuple(r.url for r in response.history)
    final_url = response.url
    line = web.status_line(response)
    if 200 <= code < 300:
        if redirects and final_url != url:
            hops = "redirect" if len(redirects) == 1 else "redirects"
            reason = f"{line} after {len(redirects)} {hops}{note}"
            return _status(url, "redirected", code, final_url, redirects, reason)
        return _status(url, "alive", code, final_url, redirects, line + note)
    if code in DEAD:
        return _status(url, "dead", code, final_url, redirects, line + note)
    if code in NOT_DEATH:
        return _status(url, "unknown", code, final_url, redirects, f"{line}: {NOT_DEATH[code]}{note}")
    if code >= 500:
        reason = f"{line}: the server failed; try again later{note}"
        return _status(url, "unknown", code, final_url, redirects, reason)
    return _status(url, "unknown", code, final_url, redirects, line + note)


def _status(url, status, http_status, final_url, redirects, reason) -> LinkStatus:
    return LinkStatus(
        url=url,
        status=status,
        http_status=http_status,
        final_url=final_url,
        redirects=tuple(redirects),
        reason=reason,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _host(url: str) -> str:
    parts = urlsplit(url)
    return (parts.netloc or url).lower()


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # written by hand without an offset: read it as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment
