"""URLs as the library compares them: is it a web address, and what is its comparison key.

Standard library only, so that anything (a read mark, a progress key) can use it without
pulling in an HTTP client.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref"})


def is_web_url(url: str | None) -> bool:
    """True for an absolute http or https URL with a host."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def normalize_url(url: str) -> str:
    """The comparison key of a URL: two addresses of the same page give the same key.

    Lowercases scheme and host, treats http and https alike, drops ``www.``, the default port,
    the fragment, a trailing slash and tracking parameters (``utm_*``, ``fbclid``, ``gclid``,
    ``mc_cid``, ``mc_eid``, ``ref``), and sorts the remaining query parameters.

    Args:
        url: any URL; a string that is not an http(s) URL comes back stripped, unchanged.

    Returns:
        The key, e.g. ``https://example.com/a?b=1&c=2``.
    """
    url = url.strip()
    if not is_web_url(url):
        return url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    try:
        port = parts.port if parts.port not in (None, 80, 443) else None
    except ValueError:  # a port out of range ("http://h:99999/"): keep the netloc as written
        return urlunsplit(("https", parts.netloc.lower(), parts.path.rstrip("/"), parts.query, ""))
    netloc = f"{host}:{port}" if port else host
    path = parts.path.rstrip("/")
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMS
    )
    # One scheme for both: the same page is often linked as http in old lists, https in new.
    return urlunsplit(("https", netloc, path, urlencode(query), ""))
