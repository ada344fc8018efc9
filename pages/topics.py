"""Topics: browse the tree; a selected topic shows its path, subtopics and related material."""

import plotly.express as px
import streamlit as st

from mlsd.search import Filters
from mlsd.views import topics_frame
from ui.render import md_escape, render_filed, render_hit_list, tidy_chart
from ui.state import corpus_or_stop, engine_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url

corpus = corpus_or_stop()
topic_ids = [t.id for t in corpus.topics]
# Tree order: each root followed by its subtree.
ordered = [tid for root in corpus.children(None) for tid in corpus.subtree(root.id)]

st.title("Topics")
URL_PARAMS = {"topic": UrlParam(topic_ids, default=None)}
notice_ignored(sync_from_url("topics", URL_PARAMS))

topic_id = st.selectbox(
    "Topic", ordered, key="topic", index=None, placeholder="Pick a topic (type to filter)",
    format_func=lambda tid: "\u2003" * (len(corpus.topic_path(tid)) - 1) + corpus.topic_by_id[tid].name,
)
write_to_url("topics", URL_PARAMS, {"topic": topic_id})

left, right = st.columns([1, 1], gap="large")
with left:
    frame = topics_frame(corpus)
    fig = px.treemap(frame, ids="id", names="name", parents="parent", custom_data=["id", "description"],
                     color="depth", color_continuous_scale="Blues", maxdepth=3)
    fig.update_traces(hovertemplate="<b>%{label}</b><br>%{customdata[1]}<extra></extra>")
    tidy_chart(fig, height=560).update_layout(coloraxis_showscale=False)
    event = st.plotly_chart(fig, key="topics_tree", on_select="rerun", selection_mode="points")
    # A click on a segment selects that topic (only a new click, so the picker still works).
    points = (event.selection or {}).get("points", []) if event else []
    clicked = points[0].get("id") or (points[0].get("customdata") or [None])[0] if points else None
    if clicked in corpus.topic_by_id and clicked != st.session_state.get("topics_last_click"):
        st.session_state["topics_last_click"] = clicked
        st.query_params["topic"] = clicked
        st.rerun()
    st.session_state["topics_last_click"] = clicked

with right:
    if topic_id is None:
        st.info("Pick a topic to see its description, subtopics, and the case studies and flow steps related to it.",
                icon=":material/account_tree:")
        st.stop()
    topic = corpus.topic_by_id[topic_id]
    path = corpus.topic_path(topic_id)
    st.caption(" › ".join(md_escape(p.name) for p in path))
    st.header(md_escape(topic.name))
    st.markdown(md_escape(topic.description))
    for note in topic.notes:
        st.caption(f"Note: {md_escape(note)}")
    children = corpus.children(topic_id)
    if children:
        st.subheader("Subtopics")
        for child in children:
            st.page_link("pages/topics.py", label=md_escape(child.name), query_params={"topic": child.id},
                         icon=":material/subdirectory_arrow_right:")
    if topic.parent:
        st.page_link("pages/topics.py", label=f"Up to {md_escape(corpus.topic_by_id[topic.parent].name)}",
                     query_params={"topic": topic.parent}, icon=":material/arrow_upward:")
    engine = engine_or_stop()
    st.subheader("Related case studies")
    store, reading = reading_state()
    render_hit_list(engine.related(topic_id, k=6, filters=Filters(types=["resource"]), curated_first=True), store=store,
                    reading=reading, key="topics")
    render_filed(corpus.imported_under_topic(topic_id), f"{md_escape(topic.name)}{' or its subtopics' if children else ''}",
                 corpus.company_name, key=f"topics_imported_{topic_id}", store=store, reading=reading)
    st.subheader("Related flow steps")
    render_hit_list(engine.related(topic_id, k=3, filters=Filters(types=["step"])))
    questions = [q for q in corpus.questions if set(q.topics) & set(corpus.subtree(topic_id))]
    if questions:
        st.subheader("Sample questions")
        for q in questions:
            st.page_link("pages/practice.py", label=md_escape(q.title), query_params={"question": q.id},
                         icon=":material/timer:", help="Practise this question against the clock")
