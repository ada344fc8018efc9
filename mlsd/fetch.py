"""Fetch a curated list over HTTP(S), or read it from a file or an upload, with bounded time and size.

Only http and https are allowed, and only to public addresses (:mod:`mlsd.addresses`; every
redirect hop is checked). A fetch has connect and read timeouts and a total deadline, retries a
few times with exponential backoff when the server fails (5xx) or cannot be reached (never on
4xx: asking again will not make a missing page appear), streams the body and stops reading once
it passes a byte cap. Every failure is a :class:`SourceError` with a message fit for a user.

A file path is for the command line only (the user owns that machine); the web page hands
over what was uploaded, as bytes (:func:`read_upload`), and never a path on the server.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import web
from .errors import AddressRefusedError, DeadlineError, SourceError
from .urls import is_web_url

ONLY_WEB_URLS = "only http and https URLs can be imported"
CHUNK_BYTES = 64 * 1024

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)

@dataclass(frozen=True)
class FetchResult:
    """The answer to a fetch.

    Attributes:
        url: the URL asked for.
        final_url: the URL that answered, after redirects.
        status: the final HTTP status (2xx).
        content_type: the media type without parameters, e.g. ``text/csv``; ``""`` if none.
        text: the decoded body.
        redirects: the URLs that answered with a redirect, in order (empty when none).
    """

    url: str
    final_url: str
    status: int
    content_type: str
    text: str
    redirects: list[str] = field(default_factory=list)


def fetch_text(
    url: str,
    *,
    timeout: tuple[float, float] = (5, 20),
    max_bytes: int = 20_000_000,
    attempts: int = 3,
    backoff: float = 0.5,
    session: requests.Session | None = None,
    deadline: float | None = None,
) -> FetchResult:
    """Download a text document over http(s), from a public address, within a total time.

    Args:
        url: an http or https URL.
        timeout: ``(connect, read)`` timeouts in seconds; the read timeout bounds each wait for
            data, ``deadline`` the whole fetch.
        max_bytes: the largest body accepted (after decompression). A larger one is refused,
            from its Content-Length when the server sends one, else as soon as the bytes read
            pass the cap.
        attempts: how many attempts in all (at least one) when the server answers 5xx or cannot
            be reached. 4xx answers and read timeouts are not retried.
        backoff: seconds to wait before the second attempt, doubled before each next one.
        session: a ``requests.Session`` to reuse (it is guarded: see :func:`mlsd.web.guard_session`);
            a fresh one is used (and closed) otherwise.
        deadline: seconds the whole fetch may take, retries and redirects included;
            ``MLSD_FETCH_DEADLINE`` or 60 s by default.

    Returns:
        A :class:`FetchResult`.

    Raises:
        SourceError: the URL is not a valid http(s) URL, leads (maybe after a redirect) to a
            private address, the server answered an error, the connection failed or timed
            out, the deadline passed, or the body is larger than ``max_bytes``.
        SettingError: the deadline is not a positive number.
    """
    web.check_url(url)
    if not is_web_url(url):
        raise SourceError(ONLY_WEB_URLS)
    seconds = web.deadline_seconds(deadline)
    own_session = session is None
    session = web.new_session() if session is None else web.guard_session(session)
    attempts = max(1, attempts)
    try:
        with web.Deadline(seconds) as clock:
            for attempt in range(1, attempts + 1):
                last = attempt == attempts
                try:
                    response, redirects = web.request(session, "GET", url, timeout=timeout, deadline=clock,
                                                      headers={"Accept-Encoding": "gzip, deflate"})
                except AddressRefusedError as exc:
                    raise SourceError(f"{url}: {exc}") from None
                except DeadlineError as exc:
                    raise SourceError(f"{url}: {exc}") from None
                except requests.exceptions.ConnectTimeout:
                    if last:
                        raise SourceError(_timed_out(timeout[0], url, attempts)) from None
                except requests.exceptions.ReadTimeout:
                    raise SourceError(_timed_out(timeout[1], url)) from None
                except requests.exceptions.InvalidSchema:
                    raise SourceError(f"{url} redirected to a non-http(s) address; {ONLY_WEB_URLS}") from None
                except requests.exceptions.TooManyRedirects:
                    raise SourceError(f"too many redirects fetching {url}") from None
                except requests.exceptions.ConnectionError as error:
                    if last:
                        raise SourceError(
                            f"could not connect to {url}: {web.reason(error)}{_tries(attempts)}"
                        ) from None
                except requests.exceptions.RequestException as error:
                    raise SourceError(f"could not fetch {url}: {web.reason(error)}") from None
                else:
                    with response:
                        if response.status_code >= 500 and not last:
                            pass  # retry below
                        elif response.status_code >= 400:
                            tries = _tries(attempts) if response.status_code >= 500 else ""
                            raise SourceError(f"{web.status_line(response)} for {url}{tries}")
                        else:
                            return _result(url, response, redirects, timeout, max_bytes, clock)
                pause = backoff * 2 ** (attempt - 1)
                if pause >= clock.remaining():
                    raise SourceError(f"{url}: gave up after {seconds:g} s (the time allowed for one fetch: "
                                      f"{web.DEADLINE_ENV} or --deadline){_tries(attempt)}")
                time.sleep(pause)
    finally:
        if own_session:
            session.close()
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def read_source(source: str, **fetch_options) -> tuple[str, str]:
    """The text of a list given as an http(s) URL or a local file path (the command line's way).

    Args:
        source: ``https://...`` or a path such as ``lists/case_studies.csv``.
        **fetch_options: passed to :func:`fetch_text` for a URL (``timeout``, ``max_bytes`` ...).

    Returns:
        ``(text, origin)``: origin is the final URL after redirects, or the file's path.

    Raises:
        SourceError: the fetch failed, the scheme is not http(s), the file is missing, is a
            folder, or is not UTF-8 text.
    """
    source = source.strip()
    if _SCHEME.match(source):
        result = fetch_text(source, **fetch_options)
        return result.text, result.final_url
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"no such file: {source}")
    if path.is_dir():
        raise SourceError(f"{source} is a folder, not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"could not read {source}: {error.strerror or error}") from None
    return _utf8(data, source), str(path)


def read_url(url: str, **fetch_options) -> tuple[str, str]:
    """The text of a list at an http(s) URL, and its final URL: never a file, whatever ``url`` holds.

    Raises:
        SourceError: ``url`` is not an http(s) URL, or the fetch failed.
    """
    url = url.strip()
    if not is_web_url(url):
        raise SourceError(ONLY_WEB_URLS)
    result = fetch_text(url, **fetch_options)
    return result.text, result.final_url


def read_upload(data: bytes, filename: str, max_bytes: int = 20_000_000) -> tuple[str, str]:
    """The text of an uploaded list, and the origin it is recorded under (``upload:<file name>``).

    Args:
        data: the uploaded bytes.
        filename: the name the browser gave; only its last part is kept.
        max_bytes: the largest upload accepted, as for a fetch.

    Raises:
        SourceError: the upload is too large or not UTF-8 text.
    """
    shown = _upload_name(filename)
    if len(data) > max_bytes:
        raise SourceError(f"{shown} is larger than {_size(max_bytes)}")
    return _utf8(data, shown), f"upload:{shown}"


def _upload_name(filename: str) -> str:
    name = re.split(r"[\\/]", filename or "")[-1].strip()
    name = "".join(c for c in name if c.isprintable())[:120]
    return name or "upload"


def _utf8(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{shown} is not UTF-8 text (invalid byte at position {error.start}); "
            "save it as UTF-8 and try again"
        ) from None


# -- helpers --------------------------------------------------------------------------------


def _result(
    url: str, response: requests.Response, redirects: list[str], timeout: tuple[float, float], max_bytes: int,
    clock: web.Deadline,
) -> FetchResult:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes and not response.headers.get("Content-Encoding"):
        raise SourceError(f"{url} is larger than {_size(max_bytes)}")
    body = bytearray()
    try:
        with web.deadline_scope(clock):
            # Decoded chunks: a compressed body is capped on what it expands to (urllib3
            # decompresses at most a chunk at a time), so a gzip bomb stops at the cap too.
            for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
                body += chunk
                if len(body) > max_bytes:
                    raise SourceError(f"{url} is larger than {_size(max_bytes)}")
    except DeadlineError as exc:
        raise SourceError(f"{url}: {exc}") from None
    except requests.exceptions.ConnectionError as error:
        # requests reports a read timeout during iter_content as a ConnectionError.
        if "timed out" in str(error).lower():
            raise SourceError(_timed_out(timeout[1], url)) from None
        raise SourceError(f"the connection to {url} broke while reading: {web.reason(error)}") from None
    except requests.exceptions.RequestException as error:
        raise SourceError(f"could not read the answer from {url}: {web.reason(error)}") from None
    content_type = response.headers.get("Content-Type", "")
    return FetchResult(
        url=url,
        final_url=response.url,
        status=response.status_code,
        content_type=content_type.split(";", 1)[0].strip().lower(),
        text=_decode(bytes(body), content_type),
        redirects=redirects,
    )


def _decode(body: bytes, content_type: str) -> str:
    """Decode with the charset the server declared, else UTF-8; bad bytes become U+FFFD.

    requests' own guess (ISO-8859-1 for any text/* without a charset) would garble the UTF-8
    that curated lists are written in, so only an explicit charset is trusted.
    """
    match = _CHARSET.search(content_type)
    encoding = match.group(1) if match else "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    return text.lstrip("\ufeff")


def _timed_out(seconds: float, url: str, attempts: int = 1) -> str:
    return f"timed out after {seconds:g} s fetching {url}{_tries(attempts)}"


def _tries(attempts: int) -> str:
    return f" (tried {attempts} times)" if attempts > 1 else ""


def _size(n: int) -> str:
    """Bytes in decimal units, as people read them: 20 MB, 10 kB, 512 bytes."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"

