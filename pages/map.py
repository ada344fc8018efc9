"""Map: every item placed in 2-D from its embedding (PCA, computed with the index).

Coloured by one dimension the user picks, filtered like search, and a click on a point opens it.
Everything from data reaches Plotly HTML-escaped (``html_text``): Plotly renders <a> and <b>.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from mlsd.model import ITEM_TYPES, Corpus
from mlsd.views import (
    MAP_COLOURS,
    NONE_GROUPS,
    OTHER_GROUPS,
    TYPE_NAMES,
    company_counts,
    company_label,
    filter_map,
    html_text,
    map_frame,
    map_groups,
)
from ui.render import md_escape, md_link, page_summary_caption, reading_controls, tidy_chart
from ui.state import corpus_or_stop, engine_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url

# Named groups in the legend, the rest "Other ...": a dozen companies or lists; every root topic
# (the tree has about a dozen, and "Other topics" would hide one).
TOP_GROUPS = {"topic": None, "company": 10, "kind": 10, "source": 10}
PALETTE = px.colors.qualitative.Bold + px.colors.qualitative.Pastel
OTHER_GREY, NONE_GREY = "#9aa0a6", "#c9ccd1"  # "Other ..." and "No topic yet" / "No company": there, never loud
OPEN_IN_APP = {"topic": ("pages/topics.py", "topic"), "step": ("pages/flow.py", "step")}
LISTED = 50  # points listed under the map for a box or lasso selection


def company_param(corpus: Corpus):
    """Parse a company from the URL under any of its names ("Meta" gives Facebook)."""
    def parse(text: str) -> str:
        resolved = corpus.resolve_company(text)
        if resolved is None:
            raise ValueError(text)
        return corpus.company_name(resolved) or text
    return parse


def controls(corpus: Corpus, frame: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """Colour and filters, kept in the URL; returns the colouring and the rows that pass."""
    counts = company_counts(corpus)
    companies = [c for c in counts if c in set(frame["company"])]
    sources = ["bundled"] + sorted({s for s in frame["source_id"] if s != "bundled"})
    roots = [t.id for t in corpus.children(None)]
    topics = [tid for root in roots for tid in corpus.subtree(root)]
    specs = {
        "color": UrlParam(list(MAP_COLOURS), default="topic"),
        "type": UrlParam(ITEM_TYPES, multi=True, default=[]),
        "company": UrlParam(companies, multi=True, default=[], parse=company_param(corpus)),
        "source": UrlParam(sources, multi=True, default=[]),
        "topic": UrlParam(topics, multi=True, default=[]),
    }
    notice_ignored(sync_from_url("map", specs))
    color = st.segmented_control("Colour by", list(MAP_COLOURS), key="color", required=True,
                                 format_func=MAP_COLOURS.get) or "topic"
    with st.expander("Filters", expanded=False):
        c1, c2 = st.columns(2)
        types = c1.multiselect("Type", ITEM_TYPES, key="type", format_func=TYPE_NAMES.get)
        chosen = c2.multiselect("Company", companies, key="company", filter_mode="contains", select_all=False,
                                format_func=lambda c: company_label(corpus, c, counts),
                                placeholder="Type a company, or another name it goes by (e.g. Meta)")
        c1, c2 = st.columns(2)
        picked_sources = c1.multiselect("Source", sources, key="source",
                                        format_func=lambda s: "Core list (bundled)" if s == "bundled" else s)
        picked_topics = c2.multiselect("Topic (with its subtopics)", topics, key="topic", filter_mode="contains",
                                       format_func=lambda t: " > ".join(p.name for p in corpus.topic_path(t)))
    write_to_url("map", specs, {"color": color, "type": types, "company": chosen, "source": picked_sources,
                                "topic": picked_topics})
    return color, filter_map(frame, corpus, types, chosen, picked_sources, picked_topics)


def padded(values: pd.Series) -> list[float]:
    """An axis range with a margin, so points at the edge are drawn whole (WebGL does not pad)."""
    low, high = float(values.min()), float(values.max())
    margin = 0.04 * ((high - low) or 1.0)
    return [low - margin, high + margin]


def figure(shown: pd.DataFrame, color: str):
    """A WebGL scatter, one trace per group, the grey groups drawn first (underneath)."""
    groups, order = map_groups(shown, color, TOP_GROUPS[color])
    names = [html_text(g) for g in order]
    greys = {html_text(g): OTHER_GREY if g in OTHER_GROUPS else NONE_GREY for g in order
             if g in OTHER_GROUPS or g in NONE_GROUPS}
    colours = {name: greys.get(name, PALETTE[n % len(PALETTE)]) for n, name in enumerate(names)}
    meta = [" · ".join(html_text(p) for p in (TYPE_NAMES[t], c, k if k not in (TYPE_NAMES[t], "Unclassified") else "", s)
                       if p)
            for t, c, k, s in zip(shown["type"], shown["company"], shown["kind"], shown["source"])]
    plot = shown.assign(group=groups.map(html_text), title_html=shown["title"].map(html_text), meta_html=meta)
    size, opacity = (9, 0.9) if len(plot) <= 300 else (7, 0.8) if len(plot) <= 1500 else (5, 0.65)
    fig = px.scatter(plot, x="x", y="y", color="group", category_orders={"group": names},
                     color_discrete_map=colours, custom_data=["id", "title_html", "meta_html"], render_mode="webgl",
                     height=640)
    fig.update_traces(marker=dict(size=size, opacity=opacity),
                      hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[2]}<extra></extra>")
    for rank, trace in enumerate(fig.data):
        trace.legendrank = rank
        if trace.name not in greys and len(plot) > 300:
            trace.marker.size = size + 2  # in a crowd, the coloured groups stand out of the grey ones
            trace.marker.opacity = 0.9
    # Grey groups underneath, so a blob of 2,400 items without a topic never hides the rest.
    fig.data = tuple(sorted(fig.data, key=lambda t: t.name not in greys))
    # No dragmode of our own: Streamlit then pans on drag and selects on click, so a click opens
    # a point (with the box or lasso tool picked, Streamlit turns click-selection off).
    tidy_chart(fig).update_layout(xaxis=dict(visible=False, range=padded(plot["x"])),
                                  yaxis=dict(visible=False, range=padded(plot["y"])),
                                  legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, itemsizing="constant"))
    return fig


def open_point(corpus: Corpus, item_id: str) -> None:
    """A click on one point: a topic or a step opens in its page; a case study or question opens here."""
    item = corpus.item_by_id[item_id]
    if item.type in OPEN_IN_APP and st.session_state.get("_map_opened") != item_id:
        st.session_state["_map_opened"] = item_id
        page, param = OPEN_IN_APP[item.type]
        st.switch_page(page, query_params={param: item.id})
    store, reading = reading_state()
    with st.container(border=True, key="map_opened"):
        st.markdown(f"**{md_link(item.title, item.url)}**  \n:gray[{md_escape(TYPE_NAMES[item.type])}"
                    f"{' · ' + md_escape(item.company) if item.company else ''}"
                    f"{' · from ' + md_escape(item.source) if item.source != 'bundled' else ''}]")
        if item.summary:
            st.markdown(md_escape(item.summary))
            page_summary_caption(corpus.resource_by_id.get(item.id))
        if item.url:
            st.link_button("Open the case study", item.url, icon=":material/open_in_new:", type="primary")
        for topic_id in item.topics:
            if topic_id in corpus.topic_by_id:
                st.page_link("pages/topics.py", label=corpus.topic_by_id[topic_id].name,
                             query_params={"topic": topic_id}, icon=":material/account_tree:")
        for step_id in item.steps:
            if step_id in corpus.step_by_id:
                step = corpus.step_by_id[step_id]
                st.page_link("pages/flow.py", label=f"{step.number}. {step.name}", query_params={"step": step_id},
                             icon=":material/route:")
        if item.type == "resource":
            reading_controls(store, item, reading, "map")


def main() -> None:
    corpus = corpus_or_stop()
    engine = engine_or_stop()
    st.title("Map of everything")
    st.caption("Each point is a topic, flow step, question or case study; nearby points mean similar things. "
               "Click a point to open it; to list many, pick the box or lasso tool above the map.")
    frame = map_frame(engine)
    color, shown = controls(corpus, frame)
    if shown.empty:
        st.info("Nothing matches these filters.", icon=":material/filter_alt_off:")
        return
    st.caption(f"{len(shown):,} of {len(frame):,} points" if len(shown) < len(frame) else f"{len(shown):,} points")
    event = st.plotly_chart(figure(shown, color), key="map_chart", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    selection = (event.selection or {}) if event else {}
    points = selection.get("points", [])
    chosen = list(dict.fromkeys(p["customdata"][0] for p in points if p.get("customdata")))
    if len(chosen) == 1 and not selection.get("box") and not selection.get("lasso"):
        open_point(corpus, chosen[0])
        return
    st.session_state.pop("_map_opened", None)  # the next click on that point opens it again
    if chosen:
        st.subheader(f"{len(chosen)} selected")
        items = [corpus.item_by_id[i] for i in chosen[:LISTED]]
        for item in items:
            meta = " · ".join(p for p in (TYPE_NAMES[item.type], item.company or "") if p)
            st.markdown(f"- {md_link(item.title, item.url)} :gray[{md_escape(meta)}]")
        if len(chosen) > LISTED:
            st.caption(f"and {len(chosen) - LISTED} more: narrow the selection or the filters.")


main()
