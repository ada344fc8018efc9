"""mlsd: the ML System Design Explorer's library (no streamlit here)."""

__version__ = "0.1.0"

from .corpus import Corpus, Item, load_corpus  # noqa: E402
from .errors import CorpusError, MlsdError, ModelMissingError, QueryError, SearchIndexError  # noqa: E402
from .fetch import SourceError  # noqa: E402
from .library import ImportReport, LibraryError, import_source, list_sources, remove_source  # noqa: E402
from .progress import ProgressError, ProgressStore, resource_key  # noqa: E402

__all__ = [
    "__version__",
    "Corpus",
    "CorpusError",
    "ImportReport",
    "Item",
    "LibraryError",
    "MlsdError",
    "ModelMissingError",
    "ProgressError",
    "ProgressStore",
    "QueryError",
    "SearchIndexError",
    "SourceError",
    "import_source",
    "list_sources",
    "load_corpus",
    "remove_source",
    "resource_key",
]
