"""Cached state shared by the pages: the corpus, the search engine, the progress store.

The only place that wraps the library's loaders in ``st.cache_resource``. Cache keys include
the data hash (bundled data and imported lists), so an edit or an import never meets a stale
cached corpus or engine. Cached resources are shared by every session of the server: the
corpus is frozen, the engine and the store are thread-safe.
"""

from __future__ import annotations

import threading
import time

import streamlit as st

from mlsd import journal, paths
from mlsd.corpus import data_hash, load_corpus
from mlsd.embed import TextEmbedder, default_embedder
from mlsd.errors import MlsdError, ProgressError
from mlsd.model import Corpus
from mlsd.progress import ProgressStore, Reading
from mlsd.search import SearchEngine, open_engine

from .render import READING_STALE, RUN_NUMBER, md_escape, md_text, show_progress_error

_LAST_READING = "_last_reading"  # session key: the last progress read without error


def _run_through_app_navigation() -> None:
    """Make sure this page runs under app.py's navigation, not Streamlit's pages/ fallback.

    Until app.py has called ``st.navigation`` once, Streamlit serves a server's first request
    for ``/search`` by running ``pages/search.py`` alone, with a sidebar listing every file of
    ``pages/``. Switching that fallback off and rerunning sends the request through app.py,
    which routes it by its ``url_path``. (Tested by the browser test that opens ``/search``
    as a fresh server's first request.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the fallback
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def _data_key() -> str:
    """Hash of the bundled data and the imported lists: an import or removal gives a new key."""
    journal.recover()  # settle a crashed import first, so the key hashes the library the corpus will hold
    return data_hash(paths.DATA_DIR, paths.library_dir())


@st.cache_resource(show_spinner=False)
def _corpus(hash_key: str) -> Corpus:
    return load_corpus()


def corpus_or_stop() -> Corpus:
    """The validated corpus, or an error message on the page (the rest of the app still works)."""
    _run_through_app_navigation()
    try:
        return _corpus(_data_key())
    except MlsdError as exc:
        st.error("The data (bundled or imported) has a problem, so this page cannot be shown.\n\n" + md_text(str(exc)),
                 icon=":material/error:")
        st.stop()


class EngineLoader:
    """Loads the index and the model in a background thread, once per server."""

    def __init__(self, corpus: Corpus, embedder: TextEmbedder) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.engine: SearchEngine | None = None
        self.error: Exception | None = None
        self.ready = threading.Event()
        self.model_ready = threading.Event()
        self.started = time.perf_counter()
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, name="mlsd-engine-loader", daemon=True)

    def start(self) -> EngineLoader:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.engine = open_engine(self.corpus, self.embedder)
            self.ready.set()
            self.engine.query_encoder.load()  # the ONNX encoder is ready; a fallback loads its model now
        except Exception as exc:  # shown on the page that needs the engine
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - self.started
            self.ready.set()
            self.model_ready.set()


@st.cache_resource(show_spinner=False)
def _engine_loader(hash_key: str, embedder_name: str) -> EngineLoader:
    return EngineLoader(_corpus(hash_key), shared_embedder()).start()


@st.cache_resource(show_spinner=False)
def _embedder(name: str) -> TextEmbedder:
    return default_embedder()


def shared_embedder() -> TextEmbedder:
    """One model per server, shared by every engine (a new import makes a new engine, not a new model)."""
    return _embedder(default_embedder().name)


def _loader() -> EngineLoader:
    """The server's loader for the current data and embedder (started on first use)."""
    return _engine_loader(_data_key(), shared_embedder().name)


def start_engine_loading() -> None:
    """Start loading the search engine in the background (cheap after the first call)."""
    try:
        _loader()
    except MlsdError:
        pass  # the page itself reports a data error


def engine_or_stop(need_model: bool = False) -> SearchEngine:
    """The search engine; waits (with a spinner) while it loads; an error message if it failed."""
    loader = _loader()
    event = loader.model_ready if need_model else loader.ready
    if not event.is_set():
        label = "Loading the search model (first search after start-up)…" if need_model else "Loading the search index…"
        with st.spinner(label, show_time=True):
            event.wait()
    if loader.error is not None or loader.engine is None:
        st.error(
            f"Search is unavailable: {md_escape(str(loader.error))}. The other pages still work. "
            "Try `mlsd build-index --force` in a terminal, then reload.",
            icon=":material/error:",
        )
        st.stop()
    return loader.engine


# -- reading progress ---------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _progress_store(path: str) -> ProgressStore:
    return ProgressStore(path)


def progress_store() -> ProgressStore | None:
    """The user's progress database, or None with a warning when it cannot be used.

    A locked, read-only or damaged database disables only the progress features: the page
    goes on without them.
    """
    store = _progress_store(str(paths.progress_path()))
    try:
        store.migrate()  # cheap when current; detects a damaged file
        return store
    except ProgressError as exc:
        st.warning(f"Reading progress is unavailable: {md_escape(str(exc))}", icon=":material/warning:")
        return None


def reading_state() -> tuple[ProgressStore | None, dict[str, Reading]]:
    """The progress store and every resource's progress, for a page that shows reading controls.

    Shows the error of a change that could not be saved on the previous run, and a warning
    (with an empty progress) when the database cannot be read.
    """
    st.session_state[RUN_NUMBER] = st.session_state.get(RUN_NUMBER, 0) + 1
    store = progress_store()
    show_progress_error()
    if store is None:
        return None, {}
    try:
        reading = store.all_reading()
    except ProgressError as exc:
        # Busy for longer than the store waits (a backup being restored): show the last progress
        # read. An empty one would untick every box, and a click meanwhile would then save the
        # unticked state of boxes the user never touched (a lost bookmark, seen in a test).
        st.warning(f"Reading progress is unavailable: {md_escape(str(exc))}", icon=":material/warning:")
        st.session_state[READING_STALE] = True  # the reading controls keep what they show
        return store, st.session_state.get(_LAST_READING, {})
    st.session_state[READING_STALE] = False
    st.session_state[_LAST_READING] = reading
    return store, reading
