"""Rendering shared by the pages: text from data or users shown as text, hit lists, badges.

Everything a list, a URL or a user supplies goes through :func:`md_escape` (or :func:`md_link`
for a URL we checked) before it reaches ``st.markdown``, so it can never become a link, an
image, HTML or math.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from mlsd.errors import ProgressError
from mlsd.linkstore import LinkStore, archive_url
from mlsd.model import Resource
from mlsd.progress import ProgressStore, Reading, ResourceLike, resource_key
from mlsd.search import Hit

TYPE_LABELS = {"topic": "Topic", "step": "Flow step", "question": "Question", "resource": "Case study"}
TYPE_ICONS = {"topic": ":material/account_tree:", "step": ":material/route:", "question": ":material/help:",
              "resource": ":material/article:"}
SHOW_CHOICES = {"all": "All", "unread": "Unread only", "bookmarked": "Bookmarked"}
CHART_MARGIN = dict(t=10, l=10, r=10, b=10)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")
# GitHub-flavoured Markdown links bare addresses after parsing, escapes or not ("https://…",
# "www.…", "name@host"): an invisible word joiner inside each breaks the pattern, not the text.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md_escape(text: str | None) -> str:
    """Escape text from data so markdown renders it literally (no links, no HTML, no math)."""
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, text or ""))


def md_text(text: str | None) -> str:
    """Escaped text whose line breaks stay line breaks (an error listing several problems)."""
    return "  \n".join(md_escape(line) for line in (text or "").splitlines())


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


def tidy_chart(fig: Any, height: int | None = None) -> Any:
    """The app's chart layout: small margins, no legend title; returns the figure."""
    fig.update_layout(margin=CHART_MARGIN, legend_title=None)
    if height is not None:
        fig.update_layout(height=height)
    return fig


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
        badge += " " + md_link("archived copy", archive_url(url))
    return badge


# Where a topic, a flow step or a sample question is shown in the app (a resource links out).
VIEWS = {"topic": ("pages/topics.py", "topic"), "step": ("pages/flow.py", "step"),
         "question": ("pages/practice.py", "question")}


def item_title(hit: Hit, links: LinkStore, bold: bool = True) -> None:
    """A result's title and meta line: a resource links to its page (with its link check), a
    topic, step or question opens its view in the app (a question: "practise this question")."""
    meta = f":gray[{md_escape(meta_line(hit))}]"
    if hit.type in VIEWS:
        page, param = VIEWS[hit.type]
        title = md_escape(hit.title)
        st.page_link(page, label=f"**{title}**" if bold else title, query_params={param: hit.id},
                     icon=TYPE_ICONS.get(hit.type), help="Practise this question" if hit.type == "question" else None)
        st.markdown(meta)
        return
    badge = link_badge(hit.url, links.status_of(hit.url)) if hit.url else ""
    title = md_link(hit.title, hit.url)
    st.markdown(f"{TYPE_ICONS.get(hit.type, '')} {f'**{title}**' if bold else title}  \n{meta} {badge}")


def render_hit_list(hits: list[Hit], empty: str = "Nothing related found.", links: LinkStore | None = None,
                    store: ProgressStore | None = None, reading: dict[str, Reading] | None = None,
                    key: str = "list") -> None:
    """A compact list of hits: linked title, meta line, and the link's last check.

    Args:
        links: the page's ``LinkStore``, so a page listing many hits reads the file once.
        store, reading: the progress store and every resource's progress (``reading_state()``);
            when a store is given, each case study gets read / bookmark / note controls
            (widget keys start with ``key``).
    """
    if not hits:
        st.caption(empty)
        return
    links = links if links is not None else LinkStore()
    for hit in hits:
        with_reading_controls(lambda hit=hit: item_title(hit, links, bold=False), hit,
                              store if hit.type == "resource" else None, reading, key)


def with_reading_controls(draw: Callable[[], None], item: Any, store: ProgressStore | None,
                          reading: dict[str, Reading] | None, key: str) -> None:
    """``draw`` an item's title and meta, with its read / bookmark / note controls beside it when
    there is a progress store."""
    if store is None:
        draw()
        return
    text, controls = st.columns([3, 2], vertical_alignment="center")
    with text:
        draw()
    with controls:
        reading_controls(store, item, reading or {}, key)


FILED_SHOWN = 10  # imported items per "show more" under a topic or a step


def resource_meta(resource: Resource, company: str | None) -> str:
    """A resource's meta line as plain text: company · year · from its list · tags (escape it to show it)."""
    parts = [p for p in (company, str(resource.year) if resource.year else None) if p]
    if resource.source != "bundled":
        parts.append(f"from {resource.source}")
    if resource.tags:
        parts.append("tags: " + ", ".join(resource.tags))
    return " · ".join(parts)


PAGE_SUMMARY = "Description taken from the linked page"


def page_summary_caption(resource: Resource | None) -> None:
    """Say so under a summary the list did not give but the linked page did (``mlsd import --enrich``):
    the page's own words, maybe its marketing, not the list author's. Nothing for other summaries."""
    if resource is None or not resource.summary_from_page:
        return
    title = f", titled “{md_escape(resource.page_title)}”" if resource.page_title else ""
    st.caption(f":material/language: {PAGE_SUMMARY}{title}")


def render_filed(resources: list[Resource], where: str, company_name: Callable[[str | None], str | None], key: str,
                 store: ProgressStore | None = None, reading: dict[str, Reading] | None = None) -> None:
    """The section of imported case studies filed automatically under a topic or step (nothing
    when there are none): a heading, what they are, the first few, then "show more".

    Args:
        where: what they are filed under, as Markdown ("this step", an escaped topic name).
        company_name: the corpus's ``company_name`` (display names for the meta line).
        key: unique per place on the page; the number shown is kept under it per session.
    """
    if not resources:
        return
    st.subheader("From your imported lists")
    st.caption(f"{len(resources)} case {'study' if len(resources) == 1 else 'studies'} from the lists you imported, "
               f"filed automatically under {where} by what they are about (not curated)")
    limit = st.session_state.get(f"{key}_limit", FILED_SHOWN)
    links = LinkStore()
    for resource in resources[:limit]:
        badge = link_badge(resource.url, links.status_of(resource.url))
        meta = resource_meta(resource, company_name(resource.company))
        with_reading_controls(lambda resource=resource, meta=meta, badge=badge: st.markdown(
            f"{TYPE_ICONS['resource']} {md_link(resource.title, resource.url)}  \n:gray[{md_escape(meta)}] {badge}"),
            resource, store, reading, key)
    if len(resources) > limit:
        more = min(FILED_SHOWN, len(resources) - limit)
        st.button(f"Show {more} more of {len(resources) - limit}", key=f"{key}_more", on_click=_show_more,
                  args=(f"{key}_limit", limit + FILED_SHOWN))


def _show_more(limit_key: str, limit: int) -> None:
    st.session_state[limit_key] = limit


ERROR_SHOWN_FOR_SECONDS = 30  # a failed save stays on the page this long, whatever reruns follow


def guarded_save(action: Callable[..., Any], *args: Any) -> bool:
    """Run one progress write (from a widget callback); True when it was saved.

    A failure (the store has already retried a busy database) is kept for ``show_progress_error``
    to show on every run of the next half minute, so quick clicks that rerun the page cannot hide
    it; nothing else on the page breaks.
    """
    try:
        action(*args)
    except ProgressError as exc:
        st.session_state["_progress_error"] = (str(exc), time.monotonic())
        return False
    return True


def save_reading(store: ProgressStore, item: ResourceLike, what: str, value: Any) -> bool:
    """Save one reading change: ``what`` is "read", "bookmark" or "note"; True when saved."""
    if what == "read":
        return guarded_save(store.set_read, item, bool(value))
    if what == "bookmark":
        return guarded_save(store.set_bookmark, item, bool(value))
    return guarded_save(store.set_note, item, value or "")


def show_progress_error() -> None:
    """Show the last failed save, for ``ERROR_SHOWN_FOR_SECONDS`` after it failed."""
    error = st.session_state.get("_progress_error")
    if not error:
        return
    message, when = error
    if time.monotonic() - when > ERROR_SHOWN_FOR_SECONDS:
        del st.session_state["_progress_error"]
        return
    st.error(f"Your change was not saved: {md_escape(message)}", icon=":material/error:")


def _save_widget(store: ProgressStore, item: Any, what: str, key: str, saved: Any) -> None:
    """Save a read / bookmark / note widget's new value; if it cannot be saved, the widget goes
    back to the saved value, so what the page shows is always what is stored."""
    if _echoed(key, st.session_state.get(key), st.session_state.get(RUN_NUMBER)):
        _set_back(key)
        return
    if save_reading(store, item, what, st.session_state.get(key)):
        st.session_state.setdefault(_SHOWN, {})[key] = st.session_state.get(key)
        st.session_state.get(_FOLLOWED, {}).pop(key, None)
    else:
        st.session_state[key] = saved


def _echoed(key: str, value: Any, last_run: Any) -> bool:
    """Whether ``value`` is the browser sending back what a widget showed before a run moved it
    to the database's value (another tab, or another copy of the item on this page, changed it),
    rather than the user's change. Saving such an echo undid the other tab's click (seen in the
    contention test). The browser may not have the new value for one run after a run drew the
    widget (``last_run``: the run before this one), or for as long as no run drew it: a rerun can
    stop the run that followed the database before it reached the widget. Streamlit then calls
    the widget's callback, or (seen in a failing run's log) does not, and the next run finds the
    old value in the widget: both paths ask here.
    """
    followed = st.session_state.get(_FOLLOWED, {}).get(key)
    return bool(followed) and followed[0] == value and followed[2] in (None, last_run)


def _set_back(key: str) -> None:
    """Give an echoed widget back the value it followed, and guard it again until a run draws it:
    the browser sent the old value once more, two runs after a first echo, in a failing run's log.
    Once drawn, the next change is the user's: someone who sees the box ticked again and unticks
    it means it."""
    old, new, _run, _again = st.session_state[_FOLLOWED][key]
    st.session_state[key] = new
    st.session_state[_FOLLOWED][key] = (old, new, None, True)


_SHOWN = "_reading_widgets_shown"  # widget key -> the stored value it was last drawn with
# widget key -> (its value before it followed the database, the value it followed to, the run
# that drew it since or None, whether it was set back after an echo)
_FOLLOWED = "_reading_widgets_followed"
RUN_NUMBER = "_reading_run"  # session key: counts the runs that drew reading controls
READING_STALE = "_reading_stale"  # session key: True when this run shows the last progress read, not the database


def _sync_widget(store: ProgressStore, item: Any, what: str, key: str, stored: Any) -> Any:
    """Make a reading widget agree with the database before it is drawn; returns the stored value.

    The widget's callback saves a change as it happens. Streamlit can skip a callback when quick
    clicks rerun a busy page (seen with two tabs while a backup was being restored): the widget
    then holds a change nobody saved. And a resource shown in two places, or two tabs, has one
    widget per place that only knows its own clicks. So, on every run: a widget that differs from
    what it was last drawn with holds the user's change: save it (or undo it if it cannot be
    saved); a widget the user did not touch follows the database.
    """
    shown = st.session_state.setdefault(_SHOWN, {})
    if st.session_state.get(READING_STALE) and key in st.session_state and key in shown:
        # The database could not be read this run, so ``stored`` is the last progress read, from
        # before this session's latest saves: following it would untick a box whose click was
        # just saved. Keep what the page shows; only a change nobody saved yet is saved now.
        current = st.session_state[key]
        if current != shown[key] and _echoed(key, current, st.session_state.get(RUN_NUMBER, 0) - 1):
            _set_back(key)
            current = st.session_state[key]
        if current != shown[key] and not save_reading(store, item, what, current):
            st.session_state[key] = current = shown[key]
        shown[key] = current
        return current
    if key in st.session_state and key in shown:
        current = st.session_state[key]
        if current != shown[key] and _echoed(key, current, st.session_state.get(RUN_NUMBER, 0) - 1):
            _set_back(key)  # an echo whose callback Streamlit skipped
            current = st.session_state[key]
        if current != shown[key] and current != stored:
            if save_reading(store, item, what, current):
                stored = current
            else:
                st.session_state[key] = stored
        elif current != stored:
            st.session_state[key] = stored
            st.session_state.setdefault(_FOLLOWED, {})[key] = (current, stored, None, False)  # not drawn yet
    else:
        st.session_state[key] = stored
        st.session_state.get(_FOLLOWED, {}).pop(key, None)  # a fresh widget: the browser has no old value
    shown[key] = stored
    return stored


def _drawn(key: str) -> None:
    """Note the run that sent a widget which followed the database to the browser (see _save_widget)."""
    followed = st.session_state.get(_FOLLOWED, {})
    if key in followed and followed[key][2] is None:
        if followed[key][3]:
            del followed[key]  # set back after an echo, and now drawn: the guard is done
        else:
            followed[key] = (*followed[key][:2], st.session_state.get(RUN_NUMBER), False)


def reading_controls(store: ProgressStore | None, item: Any, reading: dict[str, Reading], key: str) -> None:
    """Read / bookmark / note controls for one resource (an Item, Resource or Hit).

    Args:
        key: unique per place on the page (e.g. ``"search"``); widget keys add the item id, so
            a widget never shows another resource's state after the results change.
    """
    if store is None or getattr(item, "type", "resource") != "resource":
        return
    state = reading.get(resource_key(item))
    row = st.container(horizontal=True, gap="medium", vertical_alignment="center", key=f"{key}_controls_{item.id}")
    read_key, mark_key, note_key = (f"{key}_{what}_{item.id}" for what in ("read", "bookmark", "note"))
    read = _sync_widget(store, item, "read", read_key, bool(state and state.read))
    marked = _sync_widget(store, item, "bookmark", mark_key, bool(state and state.bookmarked))
    note = _sync_widget(store, item, "note", note_key, state.note if state else "")
    row.checkbox("Read", key=read_key, width="content",
                 on_change=_save_widget, args=(store, item, "read", read_key, read))
    _drawn(read_key)
    row.checkbox("Bookmark", key=mark_key, width="content",
                 on_change=_save_widget, args=(store, item, "bookmark", mark_key, marked))
    _drawn(mark_key)
    with row.popover("Note ✎" if note else "Add note", width="content"):
        st.text_area("Your note on this resource", key=note_key, max_chars=2000, height=100,
                     on_change=_save_widget, args=(store, item, "note", note_key, note),
                     help="Saved when you leave the box or press Ctrl+Enter")
    _drawn(note_key)
    if note:
        st.caption(f"Your note: {md_escape(note)}")
