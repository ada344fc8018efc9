"""Where link check results are kept: :class:`LinkStatus` per URL in one JSON file.

Results live in a :class:`LinkStore`, a JSON file written atomically, so a later run can
recheck only the links whose result is older than a given number of days, and every page can
show a link's last known state without asking the network. Checking is :mod:`mlsd.links`' job.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .errors import LinkCheckError, LinkStoreError
from .files import atomic_write_bytes

STATUSES = ("alive", "redirected", "dead", "unknown")
ARCHIVE_PREFIX = "https://web.archive.org/web/*/"


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




def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # written by hand without an offset: read it as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment
