"""mlsd: the ML System Design Explorer's library (no streamlit here)."""

__version__ = "0.1.0"

from .corpus import Corpus, Item, load_corpus  # noqa: E402
from .errors import CorpusError, MlsdError, ModelMissingError, QueryError, SearchIndexError  # noqa: E402

__all__ = [
    "__version__",
    "Corpus",
    "CorpusError",
    "Item",
    "MlsdError",
    "ModelMissingError",
    "QueryError",
    "SearchIndexError",
    "load_corpus",
]
