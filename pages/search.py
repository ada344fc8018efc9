"""Search: hybrid/semantic/keyword search with filters; the state lives in the URL."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mlsd.errors import QueryError
from mlsd.linkstore import LinkStore
from mlsd.model import ITEM_TYPES, KIND_LABELS, MODES, Corpus
from mlsd.progress import ProgressStore, Reading
from mlsd.search import Filters, Hit, SearchEngine
from mlsd.views import company_counts, company_label, csv_bytes, read_ids
from ui.render import (
    SHOW_CHOICES,
    TYPE_LABELS,
    highlight,
    item_title,
    md_escape,
    page_summary_caption,
    reading_controls,
    render_hit_list,
)
from ui.state import corpus_or_stop, engine_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url

K_CHOICES = [5, 10, 20, 50]
EXAMPLES = ("cold start", "how does Netflix pick which picture to show", "estimating the probability someone taps an ad",
            "pagerank")


@dataclass
class Request:
    """What the user asked for: the query and everything in "Mode and filters"."""

    query: str
    mode: str
    k: int
    filters: Filters
    show: str
    hide_dead: bool
    active: list[str]  # the filters in words, for the caption


def url_params(corpus: Corpus) -> dict[str, UrlParam]:
    return {
        "q": UrlParam(default=""),
        "mode": UrlParam(MODES, default="hybrid"),
        "k": UrlParam(K_CHOICES, default=10, parse=int),
        "type": UrlParam(ITEM_TYPES, multi=True, default=[]),
        "company": UrlParam(corpus.company_names, multi=True, default=[], parse=lambda t: canonical_company(corpus, t)),
        "kind": UrlParam(list(KIND_LABELS), multi=True, default=[]),
        "step": UrlParam([s.id for s in corpus.steps], multi=True, default=[]),
        "topic": UrlParam([t.id for t in corpus.topics], multi=True, default=[]),
        "show": UrlParam(list(SHOW_CHOICES), default="all"),
        "years": UrlParam(None, default=year_bounds(corpus), parse=lambda t: parse_years(t, year_bounds(corpus)),
                          format=lambda v: f"{v[0]}-{v[1]}"),
        "undated": UrlParam([True, False], default=False, parse=parse_hide, format=lambda v: "hide"),
    }


def canonical_company(corpus: Corpus, text: str) -> str:
    """A company as the URL may name it (any spelling or alias) -> its display name."""
    resolved = corpus.resolve_company(text)
    if resolved is None:
        raise ValueError(text)
    return corpus.company_name(resolved) or text


def year_bounds(corpus: Corpus) -> tuple[int, int]:
    years = [r.year for r in corpus.resources if r.year]
    return (min(years), max(years)) if years else (1990, 1990)


def parse_hide(text: str) -> bool:
    if text != "hide":
        raise ValueError(text)
    return True


def parse_years(text: str, bounds: tuple[int, int]) -> tuple[int, int]:
    """A year range as the URL carries it, ``2015-2020``, kept within the library's years."""
    low, _, high = text.partition("-")
    if not (low.strip().isdigit() and high.strip().isdigit() and int(low) <= int(high)):
        raise ValueError(text)
    return max(bounds[0], min(int(low), bounds[1])), min(bounds[1], max(int(high), bounds[0]))


def request_form(corpus: Corpus) -> Request:
    """The search box and the "Mode and filters" panel, in sync with the URL."""
    specs = url_params(corpus)
    notice_ignored(sync_from_url("search", specs))
    query = st.text_input("Search", key="q", label_visibility="collapsed", icon=":material/search:",
                          placeholder="e.g. cold start · how does Netflix pick which picture to show")
    with st.expander("Mode and filters", expanded=False):
        c1, c2, c3 = st.columns(3)
        mode = c1.segmented_control("Mode", MODES, key="mode", required=True,
                                    help="hybrid fuses meaning and keywords; semantic finds paraphrases; "
                                         "keyword matches words") or "hybrid"
        k = c2.selectbox("Results", K_CHOICES, key="k") or 10
        types = c3.multiselect("Type", ITEM_TYPES, key="type", format_func=TYPE_LABELS.get)
        c1, c2, c3 = st.columns(3)
        counts = company_counts(corpus)
        companies = c1.multiselect("Company", corpus.company_names, key="company", filter_mode="contains",
                                   select_all=False, format_func=lambda c: company_label(corpus, c, counts),
                                   help="Any part of a company's name, or another name it goes by (Meta finds Facebook)")
        kinds = c2.multiselect("Kind", list(KIND_LABELS), key="kind", format_func=KIND_LABELS.get)
        steps = c3.multiselect("Flow step", [s.id for s in corpus.steps], key="step",
                               format_func=lambda s: f"{corpus.step_by_id[s].number}. {corpus.step_by_id[s].name}")
        c1, c2 = st.columns([2, 1])
        topics = c1.multiselect("Topic (with its subtopics)", [t.id for t in corpus.topics], key="topic",
                                format_func=lambda t: " > ".join(p.name for p in corpus.topic_path(t)))
        year_range, hide_undated = year_filter(corpus, c2)
        c1, c2 = st.columns([2, 1])
        show = c1.segmented_control("Case studies", list(SHOW_CHOICES), key="show", format_func=SHOW_CHOICES.get,
                                    required=True,
                                    help="Your reading progress: hide what you have read, or show only bookmarks")
        show = show if show in SHOW_CHOICES else "all"
        hide_dead = c2.toggle("Hide dead links", key="hide_dead",
                              help="Links found dead (404/410) by the last link check")
    write_to_url("search", specs, {"q": query.strip(), "mode": mode, "k": k, "type": types, "company": companies,
                                   "kind": kinds, "step": steps, "topic": topics, "show": show,
                                   "years": year_range or year_bounds(corpus), "undated": hide_undated})
    active = [f"{len(v)} {name}" if len(v) > 1 else f"{name}: {TYPE_LABELS.get(v[0], v[0]) if name == 'type' else v[0]}"
              for name, v in (("type", types), ("company", companies), ("kind", kinds), ("step", steps),
                              ("topic", topics)) if v]
    if year_range:
        active.append(f"years {year_range[0]}–{year_range[1]}" + (", dated items only" if hide_undated else ""))
    if show != "all":
        active.append(SHOW_CHOICES[show].lower())
    filters = Filters(types=types, companies=companies, kinds=kinds, topics=topics, steps=steps,
                      year_min=year_range[0] if year_range else None, year_max=year_range[1] if year_range else None,
                      undated=not hide_undated)
    return Request(query, mode, int(k), filters, show, hide_dead, active)


def year_filter(corpus: Corpus, column: DeltaGenerator) -> tuple[tuple[int, int] | None, bool]:
    """The year range (None when it spans every year, i.e. no filter) and whether to hide items
    without a year. Undated items (topics, steps, questions, undated case studies) stay unless
    the user hides them."""
    bounds = year_bounds(corpus)
    if bounds[0] == bounds[1]:
        return None, False
    low, high = column.slider("Years", *bounds, key="years")
    hide = column.checkbox("Hide items without a year", key="undated",
                           help="Topics, flow steps, questions and case studies with no known year")
    full = (low, high) == bounds
    return (None if full and not hide else (low, high)), hide


def examples() -> None:
    st.markdown("Type what you are thinking about, in your own words. Try:")
    for example in EXAMPLES:
        st.page_link("pages/search.py", label=example, query_params={"q": example}, icon=":material/arrow_forward:")


def hit_card(n: int, hit: Hit, engine: SearchEngine, request: Request, links: LinkStore, store: ProgressStore | None,
             reading: dict[str, Reading]) -> None:
    """One result: title, meta line, score, summary with the matched words, why, related case studies."""
    with st.container(border=True, key=f"hit_{n}"):
        head = st.columns([6, 1])
        with head[0]:
            item_title(hit, links)
        head[1].markdown(MATCH_BADGES.get(hit.match or "", ""),
                         help=f"Match strength {hit.strength:.2f}: how likely this is what you asked for, from "
                              "its meaning and the words it shares with your query" if hit.strength is not None else None)
        summary = hit.summary if len(hit.summary) <= 400 else hit.summary[:400].rsplit(" ", 1)[0] + "…"
        st.markdown(highlight(summary, engine.tokenizer.spans(summary, hit.matched_terms)))
        resource = engine.corpus.resource_by_id.get(hit.id)
        page_summary_caption(resource)
        if resource is not None and resource.tags:
            st.caption("Tags: " + md_escape(", ".join(resource.tags)))
        if hit.matched_terms:
            why = "matched " + ", ".join(f":orange-background[{md_escape(t)}]" for t in hit.matched_terms)
            if "semantic" in hit.signals:
                why += " · and by meaning"
        else:
            why = "semantic: found by meaning, no word in common"
        st.caption(f"Why: {why}")
        reading_controls(store, hit, reading, "search")
        # The best match being a topic ("cold start") means the user wants the case studies
        # about it: show them open, the others folded. A folded list is built only when opened
        # (the expander reruns the page): ten lists with their reading controls were half of
        # the ~600 elements a fresh server's first search sent to the browser.
        related_box = st.expander("Related case studies", key=f"related_open_{hit.id}", on_change="rerun",
                                  expanded=n == 1 and hit.type == "topic" and hit.match != "weak")
        if related_box.open:
            with related_box:
                related = engine.related(hit.id, k=5, filters=Filters(types=["resource"],
                                                                      exclude_ids=request.filters.exclude_ids,
                                                                      only_ids=request.filters.only_ids),
                                         curated_first=True)
                render_hit_list(related, links=links, store=store, reading=reading, key=f"related{n}")


MATCH_BADGES = {"strong": ":green-badge[strong match]", "fair": ":blue-badge[related]",
                "weak": ":gray-badge[weak match]"}


def only_company(name: str) -> None:
    """The chip's action: the company filter becomes this company (then the URL says so)."""
    st.session_state["company"] = [name]


def company_chips(engine: SearchEngine, request: Request) -> None:
    """One-click "Only <company>" for each company the query names that the filter does not hold
    yet ("Uber ETA prediction" offers "Only Uber"); hybrid search already ranks it first."""
    named = [c for c in engine.named_companies(request.query) if c not in request.filters.companies]
    if not named:
        return
    with st.container(horizontal=True, key="company_chips"):
        for n, name in enumerate(named[:3]):
            st.button(f"Only {md_escape(name)}", key=f"only_company_{n}", icon=":material/filter_alt:",
                      type="tertiary", on_click=only_company, args=(name,),
                      help=f"Show only {md_escape(name)}'s items (the Company filter)")


def results(corpus: Corpus, request: Request) -> None:
    store, reading = reading_state()
    links = LinkStore()
    filters = request.filters
    excluded = read_ids(corpus, reading) if request.show == "unread" else []
    if request.hide_dead:
        excluded += [r.id for r in corpus.resources if links.status_of(r.url) == "dead"]
    filters.exclude_ids = excluded
    filters.only_ids = read_ids(corpus, reading, bookmarked=True) if request.show == "bookmarked" else None
    engine = engine_or_stop(need_model=request.mode != "keyword")
    try:
        hits = engine.search(request.query, k=request.k, mode=request.mode, filters=filters)
    except QueryError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        return
    if not hits:
        scope = "" if filters.is_empty() else " with these filters"
        st.info(f"No results for “{md_escape(request.query.strip())}”{scope}. Try fewer filters, other words, or the "
                "semantic mode, which finds items by meaning even when no word matches.", icon=":material/search_off:")
        return
    if hits[0].match == "weak":
        st.info(f"Nothing in your library is about “{md_escape(request.query.strip())}”. The closest items are "
                "below, marked as weak matches. To search more material, import a curated list of case studies.",
                icon=":material/search_off:")
        st.page_link("pages/library.py", label="Import a list on the Library page", icon=":material/library_add:")
    company_chips(engine, request)
    top = st.columns([4, 1], vertical_alignment="center")
    strong = sum(1 for h in hits if h.match == "strong")
    top[0].caption(f"{len(hits)} results · {request.mode} search · {strong} strong "
                   f"{'match' if strong == 1 else 'matches'}")
    # Written without pandas: importing it took seconds of a fresh server's first search.
    data = csv_bytes([{**h.to_dict(), "matched_terms": " ".join(h.matched_terms), "signals": " ".join(h.signals)}
                      for h in hits])
    top[1].download_button("Export CSV", data, file_name="mlsd-search.csv",
                           mime="text/csv", icon=":material/download:", key="export_csv", width="stretch")
    for n, hit in enumerate(hits, start=1):
        hit_card(n, hit, engine, request, links, store, reading)


def main() -> None:
    corpus = corpus_or_stop()
    st.title("Search")
    request = request_form(corpus)
    if request.active or request.mode != "hybrid":
        st.caption(f"Mode: {request.mode}" + (" · Filters: " + md_escape(" · ".join(request.active))
                                              if request.active else ""))
    if not request.query.strip():
        examples()
    else:
        results(corpus, request)


main()
