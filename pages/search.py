"""Search: hybrid/semantic/keyword search with filters; the state lives in the URL."""

import pandas as pd
import streamlit as st

from mlsd.corpus import ITEM_TYPES, KIND_LABELS
from mlsd.errors import QueryError
from mlsd.links import LinkStore
from mlsd.search import MODES, Filters
from mlsd.progress import read_ids
from pages.common import (SHOW_CHOICES, TYPE_ICONS, TYPE_LABELS, all_reading, corpus_or_stop, engine_or_stop, highlight,
                          link_badge, md_escape, meta_line, notice_ignored, progress_store, reading_controls,
                          render_hit_list, seed_from_url, show_progress_error, title_markdown, write_to_url)

corpus = corpus_or_stop()
company_names = list(corpus.company_names)
topic_ids = [t.id for t in corpus.topics]
step_ids = [s.id for s in corpus.steps]
K_CHOICES = [5, 10, 20, 50]


def unknown_bound_values() -> list[str]:
    """Bound widgets drop values they do not know; tell the user instead of dropping silently."""
    allowed = {"mode": MODES, "company": company_names, "k": [str(k) for k in K_CHOICES]}
    return [f"{name}={value}" for name, values in allowed.items()
            for value in st.query_params.get_all(name) if value and value not in values]


st.title("Search")
ignored = unknown_bound_values() + seed_from_url("search", {
    "type": (list(ITEM_TYPES), True, []), "kind": (list(KIND_LABELS), True, []),
    "step": (step_ids, True, []), "topic": (topic_ids, True, []), "show": (list(SHOW_CHOICES), False, "all"),
})
notice_ignored(ignored)

query = st.text_input(
    "Search", key="q", bind="query-params", placeholder="e.g. cold start · how does Netflix pick which picture to show",
    label_visibility="collapsed", icon=":material/search:",
)
with st.expander("Mode and filters", expanded=False):
    c1, c2, c3 = st.columns(3)
    mode = c1.segmented_control("Mode", MODES, key="mode", bind="query-params", default="hybrid", required=True,
                                help="hybrid fuses meaning and keywords; semantic finds paraphrases; keyword matches words")
    k = c2.selectbox("Results", K_CHOICES, index=1, key="k", bind="query-params")
    types = c3.multiselect("Type", ITEM_TYPES, key="type", format_func=lambda t: TYPE_LABELS[t])
    c1, c2, c3 = st.columns(3)
    companies = c1.multiselect("Company", company_names, key="company", bind="query-params")
    kinds = c2.multiselect("Kind", list(KIND_LABELS), key="kind", format_func=KIND_LABELS.get)
    steps = c3.multiselect("Flow step", step_ids, key="step",
                           format_func=lambda s: f"{corpus.step_by_id[s].number}. {corpus.step_by_id[s].name}")
    c1, c2 = st.columns([2, 1])
    topics = c1.multiselect("Topic (with its subtopics)", topic_ids, key="topic",
                            format_func=lambda t: " > ".join(p.name for p in corpus.topic_path(t)))
    years_known = sorted(r.year for r in corpus.resources if r.year)
    year_range = None
    if years_known and c2.toggle("Filter by year", key="use_years"):
        year_range = c2.slider("Years", years_known[0], years_known[-1], (years_known[0], years_known[-1]), key="years")
    c1, c2 = st.columns([2, 1])
    show = c1.segmented_control("Case studies", list(SHOW_CHOICES), key="show", format_func=SHOW_CHOICES.get,
                                required=True, help="Your reading progress: hide what you have read, or show only bookmarks")
    hide_dead = c2.toggle("Hide dead links", key="hide_dead", help="Links found dead (404/410) by the last link check")

write_to_url("search", {"type": types, "kind": kinds, "step": steps, "topic": topics,
                        "show": None if show == "all" else show})
active = [f"{len(v)} {name}" if len(v) > 1 else f"{name}: {TYPE_LABELS.get(v[0], v[0]) if name == 'type' else v[0]}"
          for name, v in (("type", types), ("company", companies), ("kind", kinds), ("step", steps), ("topic", topics)) if v]
if year_range:
    active.append(f"years {year_range[0]}–{year_range[1]}")
if show != "all":
    active.append(SHOW_CHOICES[show].lower())
if active or mode != "hybrid":
    st.caption(f"Mode: {mode}" + (" · Filters: " + md_escape(" · ".join(active)) if active else ""))

if not query or not query.strip():
    st.markdown("Type what you are thinking about, in your own words. Try:")
    for example in ("cold start", "how does Netflix pick which picture to show",
                    "estimating the probability someone taps an ad", "pagerank"):
        st.page_link("pages/search.py", label=example, query_params={"q": example}, icon=":material/arrow_forward:")
    st.stop()

store = progress_store()
reading = all_reading(store)
show_progress_error()
filters = Filters(types=types, companies=companies, kinds=kinds, topics=topics, steps=steps,
                  year_min=year_range[0] if year_range else None, year_max=year_range[1] if year_range else None,
                  exclude_ids=read_ids(corpus, reading) if show == "unread" else (),
                  only_ids=read_ids(corpus, reading, bookmarked=True) if show == "bookmarked" else None)
engine = engine_or_stop(need_model=mode != "keyword")
try:
    hits = engine.search(query, k=int(k), mode=mode, filters=filters)
except QueryError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

links = LinkStore()
if hide_dead:
    hits = [h for h in hits if not (h.url and links.status_of(h.url) == "dead")]

if not hits:
    active = "" if filters.is_empty() else " with these filters"
    st.info(
        f"No results for “{query.strip()}”{active}. Try fewer filters, other words, or the semantic mode, "
        "which finds items by meaning even when no word matches.",
        icon=":material/search_off:",
    )
    st.stop()

top = st.columns([4, 1], vertical_alignment="center")
top[0].caption(f"{len(hits)} results · {mode} search")
frame = pd.DataFrame([{**h.to_dict(), "matched_terms": " ".join(h.matched_terms), "signals": " ".join(h.signals)}
                      for h in hits])
top[1].download_button("Export CSV", frame.to_csv(index=False).encode("utf-8"), file_name="mlsd-search.csv",
                       mime="text/csv", icon=":material/download:", key="export_csv", width="stretch")

for n, hit in enumerate(hits, start=1):
    with st.container(border=True, key=f"hit_{n}"):
        head = st.columns([6, 1])
        badge = link_badge(hit.url, links.status_of(hit.url)) if hit.url else ""
        head[0].markdown(f"{TYPE_ICONS.get(hit.type, '')} **{title_markdown(hit)}**  \n:gray[{md_escape(meta_line(hit))}] {badge}")
        head[1].markdown(f":gray[score {hit.score:.3f}]")
        summary = hit.summary if len(hit.summary) <= 400 else hit.summary[:400].rsplit(" ", 1)[0] + "…"
        st.markdown(highlight(summary, engine.tokenizer.spans(summary, hit.matched_terms)))
        if hit.matched_terms:
            why = "matched " + ", ".join(f":orange-background[{md_escape(t)}]" for t in hit.matched_terms)
            if "semantic" in hit.signals:
                why += " · and by meaning"
        else:
            why = "semantic: found by meaning, no word in common"
        st.caption(f"Why: {why}")
        reading_controls(store, hit, reading, "search")
        # The best match being a topic ("cold start") means the user wants the case studies
        # about it: show them open, the others folded.
        with st.expander("Related case studies", expanded=n == 1 and hit.type == "topic"):
            related = engine.related(hit.id, k=5, filters=Filters(types=["resource"], exclude_ids=filters.exclude_ids,
                                                                  only_ids=filters.only_ids))
            if hide_dead:
                related = [r for r in related if links.status_of(r.url) != "dead"]
            render_hit_list(related, links=links, store=store, reading=reading, key=f"related{n}")
