"""The app side's one helper module: cached loaders over the library, and small renderers.

The library never imports streamlit; this module is the only place that wraps its loaders in
``st.cache_resource``. Cache keys include the data hash, so edited data never meets a stale
cached corpus or engine.
"""

from __future__ import annotations

import re
import threading
import time

import streamlit as st

from mlsd import paths
from mlsd.corpus import Corpus, data_hash, load_corpus
from mlsd.embed import Embedder
from mlsd.errors import MlsdError
from mlsd.search import Filters, Hit, SearchEngine, open_engine

TYPE_LABELS = {"topic": "Topic", "step": "Flow step", "question": "Question", "resource": "Case study"}
TYPE_ICONS = {"topic": ":material/account_tree:", "step": ":material/route:", "question": ":material/help:",
              "resource": ":material/article:"}


def _run_through_app_navigation() -> None:
    """Make sure this page runs under app.py's navigation, not Streamlit's pages/ fallback.

    Until app.py has called ``st.navigation`` once, Streamlit serves a server's first request
    for ``/search`` by running ``pages/search.py`` alone, with a sidebar listing every file of
    ``pages/`` ("app", "common", ...). Switching that fallback off and rerunning sends the
    request through app.py, which routes it by its ``url_path``.
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
        st.error(f"The data (bundled or imported) has a problem, so this page cannot be shown.\n\n{exc}", icon=":material/error:")
        st.stop()


class EngineLoader:
    """Loads the index and the model in a background thread, once per server."""

    def __init__(self, corpus: Corpus, embedder: Embedder) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.engine: SearchEngine | None = None
        self.error: Exception | None = None
        self.ready = threading.Event()
        self.model_ready = threading.Event()
        self.started = time.perf_counter()
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, name="mlsd-engine-loader", daemon=True)

    def start(self) -> "EngineLoader":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.engine = open_engine(self.corpus, self.embedder)
            self.ready.set()
            self.engine.embedder.load()  # so the first search does not wait for the model
        except Exception as exc:  # shown on the page that needs the engine
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - self.started
            self.ready.set()
            self.model_ready.set()


@st.cache_resource(show_spinner=False)
def _engine_loader(hash_key: str) -> EngineLoader:
    return EngineLoader(_corpus(hash_key), shared_embedder()).start()


@st.cache_resource(show_spinner=False)
def shared_embedder() -> Embedder:
    """One model per server, shared by every engine (a new import makes a new engine, not a new model)."""
    return Embedder()


def start_engine_loading() -> None:
    """Start loading the search engine in the background (cheap after the first call)."""
    try:
        _engine_loader(_data_key())
    except MlsdError:
        pass  # the page itself reports a data error


def engine_or_stop(need_model: bool = False) -> SearchEngine:
    """The search engine; waits (with a spinner) while it loads; an error message if it failed."""
    loader = _engine_loader(_data_key())
    event = loader.model_ready if need_model else loader.ready
    if not event.is_set():
        label = "Loading the search model (first search after start-up)…" if need_model else "Loading the search index…"
        with st.spinner(label, show_time=True):
            event.wait()
    if loader.error is not None or loader.engine is None:
        st.error(
            f"Search is unavailable: {loader.error}. The other pages still work. "
            "Try `mlsd build-index --force` in a terminal, then reload.",
            icon=":material/error:",
        )
        st.stop()
    return loader.engine


# -- rendering helpers ------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")


def md_escape(text: str | None) -> str:
    """Escape text from data so markdown renders it literally (no links, no HTML, no math)."""
    return _MD_SPECIAL.sub(r"\\\1", text or "")


def highlight(text: str, spans: list[tuple[int, int]]) -> str:
    """Markdown of text with the given character spans highlighted, everything else escaped."""
    out, last = [], 0
    for start, end in spans:
        out.append(md_escape(text[last:start]))
        out.append(f":orange-background[{md_escape(text[start:end])}]")
        last = end
    out.append(md_escape(text[last:]))
    return "".join(out)


def md_link(text: str, url: str | None) -> str:
    """A markdown link with escaped text; characters that would end the link are encoded."""
    if not url:
        return md_escape(text)
    safe = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")
    return f"[{md_escape(text)}]({safe})"


def title_markdown(hit: Hit) -> str:
    return md_link(hit.title, hit.url)


def meta_line(hit: Hit) -> str:
    parts = [TYPE_LABELS.get(hit.type, hit.type)]
    if hit.company:
        parts.append(hit.company)
    if hit.kind:
        parts.append(hit.kind.replace("-", " "))
    if hit.year:
        parts.append(str(hit.year))
    if hit.source and hit.source != "bundled":
        parts.append(f"from {hit.source}")
    return " · ".join(parts)


BADGES = {"alive": ":green-badge[alive]", "redirected": ":orange-badge[redirected]", "dead": ":red-badge[dead link]",
          "unknown": ":gray-badge[link unknown]"}


def link_badge(url: str | None, status: str) -> str:
    """Markdown badge for a link's last check; dead links get an archived-copy link."""
    if not url or status not in BADGES:
        return ""
    badge = BADGES[status]
    if status == "dead":
        from mlsd.links import archive_url

        badge += " " + md_link("archived copy", archive_url(url))
    return badge


def render_hit_list(hits: list[Hit], empty: str = "Nothing related found.", links=None, store=None,
                    reading: dict | None = None, key: str = "list") -> None:
    """A compact list of hits: linked title, meta line, and the link's last check.

    Args:
        links: the page's ``LinkStore``, so a page listing many hits reads the file once.
        store, reading: the progress store and ``all_reading()``; when given, each case study
            gets read / bookmark / note controls (widget keys start with ``key``).
    """
    if not hits:
        st.caption(empty)
        return
    if links is None:
        from mlsd.links import LinkStore

        links = LinkStore()
    for hit in hits:
        badge = link_badge(hit.url, links.status_of(hit.url)) if hit.url else ""
        line = f"{TYPE_ICONS.get(hit.type, '')} {title_markdown(hit)}  \n:gray[{md_escape(meta_line(hit))}] {badge}"
        if store is not None and hit.type == "resource":
            text, controls = st.columns([3, 2], vertical_alignment="center")
            text.markdown(line)
            with controls:
                reading_controls(store, hit, reading or {}, key)
        else:
            st.markdown(line)


def resource_filters() -> Filters:
    return Filters(types=["resource"])


# -- page state in the URL ----------------------------------------------------------------------
# Widgets whose options are shown as labels (topic names, step names) are synced by hand, so the
# URL carries stable ids (`/topics?topic=cold-start`); plain ones use `bind="query-params"`.
def seed_from_url(page: str, specs: dict[str, tuple[list, bool, object]]) -> list[str]:
    """Set widget state from the URL when the URL changed since this page last wrote it.

    Args:
        page: the page's name (each page remembers what it last wrote).
        specs: widget key -> (allowed values, multi-select?, default).

    Returns:
        The ``key=value`` pairs of the URL that were not allowed and were ignored.
    """
    last = st.session_state.setdefault("_url_last", {}).get(page)
    current = {key: st.query_params.get_all(key) for key in specs}
    ignored: list[str] = []
    if current == last:
        return ignored
    for key, (allowed, multi, default) in specs.items():
        values = current[key]
        good = [v for v in dict.fromkeys(values) if v in allowed]
        ignored += [f"{key}={v}" for v in values if v and v not in allowed]
        if multi:
            st.session_state[key] = good
        else:
            st.session_state[key] = good[0] if good else default
    return ignored


def write_to_url(page: str, values: dict[str, object]) -> None:
    """Put the current widget values into the URL (empty values are removed)."""
    for key, value in values.items():
        if value in (None, "", []) :
            if key in st.query_params:
                del st.query_params[key]
        else:
            st.query_params[key] = value if isinstance(value, list) else str(value)
    st.session_state.setdefault("_url_last", {})[page] = {key: st.query_params.get_all(key) for key in values}


def notice_ignored(ignored: list[str]) -> None:
    if ignored:
        st.info(f"Ignored unknown value(s) in the link: {', '.join(ignored)}.", icon=":material/info:")


# -- reading progress -------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _progress_store(path: str):
    from mlsd.progress import ProgressStore

    return ProgressStore(path)


def progress_store():
    """The user's progress database, or None with a warning when it cannot be used.

    A locked, read-only or damaged database disables only the progress features: the page
    goes on without them.
    """
    from mlsd.progress import ProgressError

    store = _progress_store(str(paths.progress_path()))
    try:
        store.migrate()  # cheap when current; detects a damaged file
        return store
    except ProgressError as exc:
        st.warning(f"Reading progress is unavailable: {exc}", icon=":material/warning:")
        return None


def all_reading(store) -> dict:
    """Every resource's progress (empty, with a warning, when the database fails)."""
    from mlsd.progress import ProgressError

    if store is None:
        return {}
    try:
        return store.all_reading()
    except ProgressError as exc:
        st.warning(f"Reading progress is unavailable: {exc}", icon=":material/warning:")
        return {}


def guarded_save(action, *args) -> None:
    """Run one progress write (from a widget callback); a failure is shown on the rerun by
    ``show_progress_error``, and nothing else on the page breaks."""
    from mlsd.progress import ProgressError

    try:
        action(*args)
    except ProgressError as exc:
        st.session_state["_progress_error"] = str(exc)


def save_reading(store, item, what: str, value) -> None:
    """Save one reading change: ``what`` is "read", "bookmark" or "note"."""
    if what == "read":
        guarded_save(store.set_read, item, bool(value))
    elif what == "bookmark":
        guarded_save(store.set_bookmark, item, bool(value))
    else:
        guarded_save(store.set_note, item, value or "")


def _save_widget(store, item, what: str, key: str) -> None:
    save_reading(store, item, what, st.session_state.get(key))


def show_progress_error() -> None:
    error = st.session_state.pop("_progress_error", None)
    if error:
        st.error(f"Your change was not saved: {error}", icon=":material/error:")


SHOW_CHOICES = {"all": "All", "unread": "Unread only", "bookmarked": "Bookmarked"}


def reading_controls(store, item, reading: dict, key: str) -> None:
    """Read / bookmark / note controls for one resource (an Item, Resource or Hit).

    Args:
        key: unique per place on the page (e.g. ``"search"``); widget keys add the item id, so
            a widget never shows another resource's state after the results change.
    """
    from mlsd.progress import resource_key

    if store is None or getattr(item, "type", "resource") != "resource":
        return
    state = reading.get(resource_key(item))
    row = st.container(horizontal=True, gap="medium", vertical_alignment="center", key=f"{key}_controls_{item.id}")
    read_key, mark_key, note_key = (f"{key}_{what}_{item.id}" for what in ("read", "bookmark", "note"))
    row.checkbox("Read", value=bool(state and state.read), key=read_key, width="content",
                 on_change=_save_widget, args=(store, item, "read", read_key))
    row.checkbox("Bookmark", value=bool(state and state.bookmarked), key=mark_key, width="content",
                 on_change=_save_widget, args=(store, item, "bookmark", mark_key))
    note = state.note if state else ""
    with row.popover("Note ✎" if note else "Add note", width="content"):
        st.text_area("Your note on this resource", value=note, key=note_key, max_chars=2000, height=100,
                     on_change=_save_widget, args=(store, item, "note", note_key),
                     help="Saved when you leave the box or press Ctrl+Enter")
    if note:
        st.caption(f"Your note: {md_escape(note)}")
