"""What every HTTP request of the library shares: who we say we are, and how a failure reads.

Fetching a list (:mod:`mlsd.fetch`) and checking links (:mod:`mlsd.links`) both use these, so
an error reads the same wherever it comes from.
"""

from __future__ import annotations

import http
import re

import requests

from .version import __version__

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
