"""Every typed error of the library, in one place. Only the CLI and the pages turn them into messages.

Each module raises the class named for its concern; callers catch ``MlsdError`` for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


class MlsdError(Exception):
    """Base class for every error the library raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file, located precisely enough to fix it.

    Attributes:
        file: path of the file, as shown to the user (e.g. ``data/resources.yaml``).
        line: 1-based line of the entry, or None when unknown.
        entry: what the entry is, e.g. ``resource 'netflix-artwork'`` or ``entry #3``.
        field: the field at fault, or None for the entry as a whole.
        message: what is wrong, and how to fix it.
    """

    file: str
    line: int | None
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.entry:
            where.append(self.entry)
        head = ", ".join(where)
        if self.field:
            return f"{head}: field '{self.field}' {self.message}"
        return f"{head}: {self.message}"


class CorpusError(MlsdError):
    """The data files are malformed. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = f"{len(self.problems)} problems in the data files:\n" + "\n".join(
                f"- {p}" for p in self.problems
            )
        super().__init__(text)


class ModelMissingError(MlsdError):
    """The packaged embedding model is not installed."""


class QueryModelError(ModelMissingError):
    """The query encoder exported to ONNX is missing, damaged, or cannot run here.

    Search then encodes queries with sentence-transformers (the build-time model) and exports
    the ONNX model again; the message says what was found wrong.
    """


class SearchIndexError(MlsdError):
    """The search index could not be read or built."""


class QueryError(MlsdError):
    """A search request is invalid (unknown filter value, unknown mode, unknown item)."""


class IndexStaleError(SearchIndexError):
    """The index on disk is missing, corrupted, or built from other data or another model."""


class SourceError(MlsdError):
    """A list could not be fetched, read or recognized. The message says why, for a user."""


class LibraryError(MlsdError):
    """A library operation was asked for something that cannot be done (bad or unknown name)."""


class ProgressError(MlsdError):
    """The progress database cannot be used (locked, read-only, corrupt, newer) or a request is invalid."""


class SketchError(MlsdError):
    """A design sketch cannot be read or is too large to draw. The message names the line."""


class LinkStoreError(MlsdError):
    """The link store could not be written."""


class LinkCheckError(MlsdError):
    """A link check was asked for with invalid settings (e.g. a concurrency below 1)."""


class AddressRefusedError(MlsdError):
    """A URL (or a redirect) leads to an address the library does not connect to (loopback, private ...)."""


class PageError(MlsdError):
    """A linked page could not give its title and description (:mod:`mlsd.enrich`).

    An import never fails for it: the item keeps no summary, and the failure is counted by its
    ``reason``.

    Attributes:
        reason: the kind of failure, one of :data:`mlsd.enrich.REASONS` (``"timeout"``,
            ``"not HTML"`` ...), for counting.
    """

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


class DeadlineError(MlsdError):
    """A fetch or a link check ran out of its total time."""


class SettingError(MlsdError):
    """A setting (an environment variable or an option) has a value that cannot be used."""


class NameTakenError(LibraryError):
    """An import would replace a different list already imported under the same name.

    Attributes:
        name: the name asked for.
        existing_origin: where the list already under that name came from.
    """

    def __init__(self, name: str, existing_origin: str):
        self.name = name
        self.existing_origin = existing_origin
        super().__init__(
            f"a different list is already imported as '{name}' (from {existing_origin}); "
            "replace it explicitly, or import under another name"
        )


class LockTimeout(OSError):
    """Another process (or thread) held a file lock for longer than we were willing to wait."""
