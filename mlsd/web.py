"""What every HTTP request of the library shares: who we say we are, where we may connect, how
long we wait, and how a failure reads.

Fetching a list (:mod:`mlsd.fetch`) and checking links (:mod:`mlsd.links`) both go through
:func:`request`, which

* connects only to addresses :mod:`mlsd.addresses` allows, checked inside the connection on
  the very address it connects to (resolved once, then pinned: no DNS-rebinding gap), and
  again on the socket's peer;
* follows redirects itself, one hop at a time, so every hop is checked the same way;
* ignores proxies from the environment (``HTTP_PROXY`` ...): a proxy would resolve and connect
  on our behalf, out of reach of the address check;
* runs under a :class:`Deadline`: a total time for a whole fetch, enforced by a watchdog that
  shuts the connection's socket when time is up, so a server trickling one byte every few
  seconds cannot hold a fetch (or the page waiting on it) forever.
"""

from __future__ import annotations

import http
import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .addresses import check_host, check_peer, resolve_allowed
from .errors import DeadlineError, SettingError, SourceError
from .version import __version__

DEADLINE_ENV = "MLSD_FETCH_DEADLINE"
DEFAULT_DEADLINE_SECONDS = 60.0
MAX_REDIRECTS = 10
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def user_agent() -> str:
    """The User-Agent every request sends, naming the project and its version."""
    return f"mlsd/{__version__} (+ML System Design Explorer)"


def status_line(response: requests.Response) -> str:
    """``404 Not Found``: the status code and its reason phrase (the standard one if the server sent none)."""
    reason = response.reason
    if not reason:
        try:
            reason = http.HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = "error"
    return f"{response.status_code} {reason}"


def reason(error: Exception) -> str:
    """The useful end of a requests error ("Connection refused"), not its whole repr chain."""
    text = str(error)
    match = _ERRNO.search(text)
    if match:
        return match.group(1).strip()
    return text if len(text) <= 200 else text[:197] + "..."


def check_url(url: str) -> None:
    """Refuse, with a message for a user, a URL that ``requests`` would choke on.

    Raises:
        SourceError: the URL is not http(s), has no host, or cannot be parsed (an unclosed
            ``[``, a port out of range, spaces or control characters in the host).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"'{_shown(url)}' is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SourceError("only http and https URLs can be imported")
    if port == 0 or any(c.isspace() or ord(c) < 32 for c in parts.netloc):
        raise SourceError(f"'{_shown(url)}' is not a valid URL (bad host or port)")


def _shown(url: str) -> str:
    url = "".join(c if c.isprintable() else "?" for c in url)
    return url if len(url) <= 200 else url[:197] + "..."


# -- the deadline ---------------------------------------------------------------------------


def deadline_seconds(value: float | str | None = None) -> float:
    """The total time a fetch (or one link's check) may take: ``value``, else ``MLSD_FETCH_DEADLINE``, else 60 s.

    Raises:
        SettingError: the value is not a positive number of seconds.
    """
    raw: Any = value if value is not None else os.environ.get(DEADLINE_ENV, "").strip() or DEFAULT_DEADLINE_SECONDS
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        source = DEADLINE_ENV if value is None else "the deadline"
        raise SettingError(f"{source} is {str(raw)[:40]!r}: give a positive number of seconds, e.g. 60")
    return seconds


_current = threading.local()


class Deadline:
    """A total time limit for a group of requests, shared by every connection they open.

    Per-read timeouts alone let a server answer forever by sending a byte now and then. Inside
    ``with Deadline(60):`` every connection the library opens in this thread registers here;
    when time is up a timer shuts their sockets, which ends any read or write in progress.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self._watched: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.deadline = self._outer
        with self._lock:
            self._watched.clear()

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    def check(self) -> None:
        """Raise :class:`DeadlineError` once time is up."""
        if self.expired or self.remaining() <= 0:
            self.expired = True
            raise DeadlineError(f"gave up after {self.seconds:g} s (the time allowed for one fetch: "
                                f"{DEADLINE_ENV} or --deadline)")

    def timeout(self, connect: float, read: float) -> tuple[float, float]:
        """``(connect, read)`` timeouts no longer than the time left."""
        self.check()
        left = max(self.remaining(), 0.001)
        return min(connect, left), min(read, left)

    def watch(self, thing: Any) -> None:
        """Shut this socket (or this connection's socket) when time is up."""
        with self._lock:
            self._watched.append(thing)
            expired = self.expired
        if expired:
            _shut(thing)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            watched = list(self._watched)
        for thing in watched:
            _shut(thing)


def current_deadline() -> Deadline | None:
    return getattr(_current, "deadline", None)


def _shut(thing: Any) -> None:
    sock = getattr(thing, "sock", thing)
    if isinstance(sock, socket.socket):
        try:
            # The plain socket's shutdown, also for an SSLSocket: the peer sees the end of the
            # stream and a blocked recv on this side returns at once.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed, or not connected yet


# -- politeness -------------------------------------------------------------------------------


class HostSlots:
    """At most ``per_host`` requests in flight to any one host, shared by the threads of a pool.

    A list of fifty links to one site must not hammer it: each thread takes the slot of its URL's
    ``host:port`` for the whole of that URL's requests (a redirect to another host still counts
    against the first).
    """

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._slots: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()

    def slot(self, url: str) -> threading.Semaphore:
        """The semaphore of ``url``'s host (``with slots.slot(url): ...``)."""
        parts = urlsplit(url)
        host = (parts.netloc or url).lower()
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.Semaphore(self.per_host)
            return self._slots[host]


# -- connections that check where they connect -----------------------------------------------


class _GuardedConnectionMixin:
    """Resolve once, keep the allowed addresses, connect to one of them, check the peer."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        deadline = current_deadline()
        if deadline is not None:
            deadline.check()
        try:
            targets = resolve_allowed(self._dns_host, self.port)
        except (socket.gaierror, UnicodeError) as exc:
            error = exc if isinstance(exc, socket.gaierror) else socket.gaierror(str(exc))
            raise NameResolutionError(self.host, self, error) from exc  # type: ignore[arg-type]
        last: OSError | None = None
        for family, sockaddr in targets:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
                if deadline is not None:
                    timeout = min(timeout or math.inf, max(deadline.remaining(), 0.001))
                    deadline.watch(sock)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                check_peer(sock)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
            except BaseException:
                sock.close()
                raise
        if isinstance(last, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})")
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        # A kept-alive connection serves the next request without connecting again: register it
        # with the deadline now running, so its reads are bounded too.
        deadline = current_deadline()
        if deadline is not None:
            deadline.watch(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse addresses :mod:`mlsd.addresses` refuses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise requests.exceptions.InvalidURL("proxies are not used by mlsd")


def guard_session(session: requests.Session) -> requests.Session:
    """Make a session safe for user-given URLs: guarded connections, no proxies from the environment."""
    session.trust_env = False  # HTTP(S)_PROXY, ALL_PROXY and .netrc would route around the check
    session.proxies = {}
    session.mount("http://", GuardedAdapter())
    session.mount("https://", GuardedAdapter())
    session.headers["User-Agent"] = user_agent()
    return session


def new_session() -> requests.Session:
    """A fresh :func:`guard_session` session."""
    return guard_session(requests.Session())


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[Deadline]:
    """Turn any failure caused by the deadline's watchdog into a :class:`DeadlineError`."""
    try:
        yield deadline
    except DeadlineError:
        raise
    except Exception:
        # The watchdog shut the socket, or a read timeout cut short to the time left fired:
        # either way the deadline is what ended it (0.1 s: the timer and the socket race).
        if deadline.expired or deadline.remaining() <= 0.1:
            deadline.expired = True
            deadline.check()
        raise


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    deadline: Deadline,
    max_redirects: int = MAX_REDIRECTS,
    headers: dict[str, str] | None = None,
) -> tuple[requests.Response, list[str]]:
    """Send a request and follow its redirects one hop at a time, each hop checked.

    Args:
        session: from :func:`new_session` (or :func:`guard_session`).
        timeout: ``(connect, read)`` per wait; both are cut to the time the deadline leaves.
        deadline: the total time, already entered (``with Deadline(s) as deadline``).

    Returns:
        ``(response, redirects)``: the final response, its body unread (``stream=True``), and
        the URLs that answered with a redirect, in order.

    Raises:
        AddressRefusedError: a hop's host is not an allowed address.
        DeadlineError: the deadline passed.
        requests.exceptions.InvalidSchema: a redirect to anything but http(s).
        requests.exceptions.TooManyRedirects: more than ``max_redirects`` hops.
        requests.exceptions.RequestException: the other network failures.
    """
    history: list[str] = []
    current = url
    with deadline_scope(deadline):
        for _hop in range(max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme.lower() not in ("http", "https"):
                raise requests.exceptions.InvalidSchema(f"redirected to a non-http(s) address: {parts.scheme}")
            check_host(parts.hostname or "")
            response = session.request(method, current, timeout=deadline.timeout(*timeout), stream=True,
                                       allow_redirects=False, headers=headers)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_CODES or not location:
                return response, history
            response.close()
            history.append(current)
            current = urljoin(current, location.strip())
            if response.status_code == 303 and method not in ("GET", "HEAD"):
                method = "GET"
        raise requests.exceptions.TooManyRedirects(f"more than {max_redirects} redirects")
    raise AssertionError("unreachable")  # pragma: no cover
