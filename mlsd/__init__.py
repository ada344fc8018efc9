"""mlsd: the ML System Design Explorer's library (no streamlit here).

The public API, re-exported from the modules that own it. The re-exports are resolved on first
use, so ``import mlsd.cli`` (and ``mlsd stats``) never pays for the HTTP client, FAISS or the
model unless a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

_EXPORTS = {
    "Corpus": "model", "Item": "model",
    "load_corpus": "corpus",
    "CorpusError": "errors", "IndexStaleError": "errors", "LibraryError": "errors", "MlsdError": "errors",
    "ModelMissingError": "errors", "ProgressError": "errors", "QueryError": "errors", "SearchIndexError": "errors",
    "SourceError": "errors",
    "ImportReport": "library", "import_source": "library", "list_sources": "library", "remove_source": "library",
    "ProgressStore": "progress", "resource_key": "progress",
}

__all__ = [
    "Corpus", "CorpusError", "ImportReport", "IndexStaleError", "Item", "LibraryError", "MlsdError",
    "ModelMissingError", "ProgressError", "ProgressStore", "QueryError", "SearchIndexError", "SourceError",
    "__version__", "import_source", "list_sources", "load_corpus", "remove_source", "resource_key",
]

if TYPE_CHECKING:
    from .corpus import load_corpus
    from .errors import (
        CorpusError,
        IndexStaleError,
        LibraryError,
        MlsdError,
        ModelMissingError,
        ProgressError,
        QueryError,
        SearchIndexError,
        SourceError,
    )
    from .library import ImportReport, import_source, list_sources, remove_source
    from .model import Corpus, Item
    from .progress import ProgressStore, resource_key


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlsd' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
