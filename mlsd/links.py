"""Link health for resource URLs: is each one alive, moved, gone, or impossible to tell?

A check asks with HEAD first (no body to download) and falls back to GET, reading nothing,
when a server refuses HEAD. Redirects are followed and recorded. Only a 404 or 410 counts as
dead: a 401/403/429 is usually a wall against bots, a 5xx or a timeout may pass, so those are
"unknown" with the reason kept, never "dead". Checks run in a thread pool, with at most a few
requests in flight to any one host, so a list of fifty links to one site does not hammer it.
A 429 whose Retry-After asks for at most 10 s is asked again after that wait (twice at most).
Like a fetch, a check connects only to public addresses (every redirect hop checked: a link to
or through a private address is "unknown", ``refused: private address``) and each link has a
total deadline (:mod:`mlsd.web`). Results are recorded in a :class:`mlsd.linkstore.LinkStore`.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime

import requests

from . import web
from .errors import AddressRefusedError, DeadlineError, LinkCheckError, SourceError
from .linkstore import LinkStatus, LinkStore
from .urls import is_web_url

NOT_WEB_URL = "not an http(s) URL"

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


def check_links(
    urls: Iterable[str],
    *,
    store: LinkStore | None,
    concurrency: int = 8,
    per_host: int = 2,
    timeout: tuple[float, float] = (5, 10),
    older_than_days: float | None = None,
    progress: Callable[[int, int, LinkStatus], None] | None = None,
    deadline: float | None = None,
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
        deadline: seconds one link's check may take in all (``MLSD_FETCH_DEADLINE`` or 60 by
            default); a link that takes longer is "unknown".

    Returns:
        One :class:`LinkStatus` per distinct URL, in the order first given.

    Raises:
        LinkCheckError: ``concurrency`` or ``per_host`` below 1, or ``older_than_days``
            negative, or ``older_than_days`` given without a store.
        SettingError: the deadline is not a positive number of seconds.
        LinkStoreError: the store could not be written.
    """
    if concurrency < 1 or per_host < 1:
        raise LinkCheckError(f"concurrency and per_host must be at least 1, got {concurrency} and {per_host}")
    seconds = web.deadline_seconds(deadline)
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

    slots = web.HostSlots(per_host)

    def check(url: str) -> LinkStatus:
        if not is_web_url(url):
            return _status(url, "unknown", None, url, (), NOT_WEB_URL)
        with slots.slot(url):
            return check_one(url, timeout=timeout, deadline=seconds)

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
    url: str,
    *,
    timeout: tuple[float, float] = (5, 10),
    session: requests.Session | None = None,
    deadline: float | None = None,
) -> LinkStatus:
    """Check one URL now, with no concurrency limit and no store.

    Args:
        url: the URL; anything but http(s) is ``unknown`` without a request.
        timeout: ``(connect, read)`` timeouts in seconds for each request.
        session: a ``requests.Session`` to reuse (it is guarded: see :func:`mlsd.web.guard_session`);
            a fresh one is used (and closed) otherwise.
        deadline: seconds the whole check may take (HEAD, GET, redirects and waits included).

    Returns:
        A :class:`LinkStatus`. Network failures are results (``unknown``), never exceptions.

    Raises:
        SettingError: the deadline is not a positive number of seconds.
    """
    if not is_web_url(url):
        return _status(url, "unknown", None, url, (), NOT_WEB_URL)
    try:
        web.check_url(url)
    except SourceError as exc:
        return _status(url, "unknown", None, url, (), str(exc))
    seconds = web.deadline_seconds(deadline)
    own_session = session is None
    session = web.new_session() if session is None else web.guard_session(session)
    try:
        with web.Deadline(seconds) as clock:
            answer = _ask_politely(session, "HEAD", url, timeout, clock)
            if isinstance(answer, LinkStatus):
                return answer
            response, redirects = answer
            if response.status_code not in HEAD_REFUSED:
                return _classify(url, response, redirects, "")
            refused = response.status_code
            answer = _ask_politely(session, "GET", url, timeout, clock)
            note = f" (GET; HEAD refused with {refused})"
            if isinstance(answer, LinkStatus):
                return _status(url, answer.status, None, url, (), answer.reason + note)
            response, redirects = answer
            return _classify(url, response, redirects, note)
    finally:
        if own_session:
            session.close()


# -- helpers --------------------------------------------------------------------------------

Answer = LinkStatus | tuple[requests.Response, list[str]]


def _ask(session: requests.Session, method: str, url: str, timeout: tuple[float, float], clock: web.Deadline) -> Answer:
    """The response to one request and its redirects (body unread and released), or an ``unknown`` status."""
    try:
        # stream=True: a GET fallback must not download the page just to learn it exists.
        response, redirects = web.request(session, method, url, timeout=timeout, deadline=clock)
    except AddressRefusedError as error:
        return _status(url, "unknown", None, url, (), str(error))
    except DeadlineError:
        return _status(url, "unknown", None, url, (), f"gave up after {clock.seconds:g} s (the time allowed for one link)")
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
    return response, redirects


# A 429 that says when to come back (Retry-After) is asked again, at most twice, if the wait is
# short; the host's slot stays taken meanwhile, so the checker slows down for that host only.
RATE_LIMIT_RETRIES = 2
RATE_LIMIT_MAX_WAIT = 10.0


def _ask_politely(session: requests.Session, method: str, url: str, timeout: tuple[float, float],
                  clock: web.Deadline) -> Answer:
    """``_ask``, honouring a short ``Retry-After`` on 429 Too Many Requests (within the deadline)."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        answer = _ask(session, method, url, timeout, clock)
        if isinstance(answer, LinkStatus) or answer[0].status_code != 429 or attempt == RATE_LIMIT_RETRIES:
            return answer
        wait = _retry_after(answer[0].headers.get("Retry-After"))
        if wait is None or wait > RATE_LIMIT_MAX_WAIT or wait >= clock.remaining():
            return answer
        time.sleep(wait)
    return answer


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


def _classify(url: str, response: requests.Response, history: list[str], note: str) -> LinkStatus:
    code = response.status_code
    redirects = tuple(history)
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
