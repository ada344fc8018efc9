"""Topics: browse the tree; a selected topic shows its path, subtopics and related material."""

import plotly.express as px
import streamlit as st

from mlsd.search import Filters
from pages.common import (all_reading, corpus_or_stop, engine_or_stop, md_escape, notice_ignored, progress_store,
                          render_hit_list, seed_from_url, show_progress_error, write_to_url)

corpus = corpus_or_stop()
topic_ids = [t.id for t in corpus.topics]
# Tree order: each root followed by its subtree.
ordered = [tid for root in corpus.children(None) for tid in corpus.subtree(root.id)]

st.title("Topics")
notice_ignored(seed_from_url("topics", {"topic": (topic_ids, False, None)}))

topic_id = st.selectbox(
    "Topic", ordered, key="topic", index=None, placeholder="Pick a topic (type to filter)",
    format_func=lambda tid: "\u2003" * (len(corpus.topic_path(tid)) - 1) + corpus.topic_by_id[tid].name,
)
write_to_url("topics", {"topic": topic_id})

left, right = st.columns([1, 1], gap="large")
with left:
    frame = corpus.topics_frame()
    fig = px.treemap(frame, ids="id", names="name", parents="parent", custom_data=["id", "description"],
                     color="depth", color_continuous_scale="Blues", maxdepth=3)
    fig.update_traces(hovertemplate="<b>%{label}</b><br>%{customdata[1]}<extra></extra>")
    fig.update_layout(margin=dict(t=10, l=0, r=0, b=0), height=560, coloraxis_showscale=False)
    st.plotly_chart(fig, key="topics_tree")

with right:
    if topic_id is None:
        st.info("Pick a topic to see its description, subtopics, and the case studies and flow steps related to it.",
                icon=":material/account_tree:")
        st.stop()
    topic = corpus.topic_by_id[topic_id]
    path = corpus.topic_path(topic_id)
    st.caption(" › ".join(md_escape(p.name) for p in path))
    st.header(topic.name)
    st.markdown(md_escape(topic.description))
    for note in topic.notes:
        st.caption(f"Note: {md_escape(note)}")
    children = corpus.children(topic_id)
    if children:
        st.subheader("Subtopics")
        for child in children:
            st.page_link("pages/topics.py", label=child.name, query_params={"topic": child.id},
                         icon=":material/subdirectory_arrow_right:")
    if topic.parent:
        st.page_link("pages/topics.py", label=f"Up to {corpus.topic_by_id[topic.parent].name}",
                     query_params={"topic": topic.parent}, icon=":material/arrow_upward:")
    engine = engine_or_stop()
    st.subheader("Related case studies")
    store = progress_store()
    show_progress_error()
    render_hit_list(engine.related(topic_id, k=6, filters=Filters(types=["resource"])), store=store,
                    reading=all_reading(store), key="topics")
    st.subheader("Related flow steps")
    render_hit_list(engine.related(topic_id, k=3, filters=Filters(types=["step"])))
    questions = [q for q in corpus.questions if set(q.topics) & set(corpus.subtree(topic_id))]
    if questions:
        st.subheader("Sample questions")
        for q in questions:
            st.markdown(f"- {md_escape(q.title)}")
