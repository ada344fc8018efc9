"""Home: what this is, a search box, counts, the topic tree at a glance, where to start."""

import plotly.express as px
import streamlit as st

from mlsd.views import topics_frame
from ui.render import md_escape, md_link, tidy_chart
from ui.state import corpus_or_stop

corpus = corpus_or_stop()
guide = corpus.guide

st.title("ML System Design Explorer")
st.markdown(
    "Prepare for the ML system design interview and learn how real companies built their ML systems: "
    "walk the **design flow**, browse the **topic tree**, read **company case studies**, search all "
    "of it by meaning, and **practise** a timed mock interview while your reading progress is kept."
)

with st.form("home_search", border=False):
    cols = st.columns([5, 1], vertical_alignment="bottom")
    query = cols[0].text_input(
        "Search topics, flow steps and case studies",
        key="home_q",
        placeholder="e.g. cold start, how does Netflix pick artwork, predicting ad clicks",
    )
    submitted = cols[1].form_submit_button("Search", icon=":material/search:", width="stretch")
if submitted and query.strip():
    st.switch_page("pages/search.py", query_params={"q": query.strip()})

stats = corpus.stats()["totals"]
cols = st.columns(5)
cols[0].metric("Flow steps", stats["steps"])
cols[1].metric("Topics", stats["topics"])
cols[2].metric("Case studies & resources", stats["resources"])
cols[3].metric("Companies", stats["companies"])
cols[4].metric("Sample questions", stats["questions"])

left, right = st.columns([3, 2])
with left:
    st.subheader("The topic tree")
    frame = topics_frame(corpus)
    fig = px.sunburst(
        frame, ids="id", names="name", parents="parent", hover_data={"description": True},
        color="depth", color_continuous_scale="Blues",
    )
    fig.update_traces(hovertemplate="<b>%{label}</b><br>%{customdata[0]}<extra></extra>")
    tidy_chart(fig, height=520).update_layout(coloraxis_showscale=False)
    event = st.plotly_chart(fig, key="home_sunburst", on_select="rerun", selection_mode="points")
    points = (event.selection or {}).get("points", []) if event else []
    clicked = points[0].get("id") if points else None
    if clicked in corpus.topic_by_id:  # a click on a segment opens that topic
        st.switch_page("pages/topics.py", query_params={"topic": clicked})
with right:
    st.subheader("Where to start")
    st.markdown(
        "An ML system design interview follows a flow. Start with the seven steps, their checklists and "
        "the material that matters for each:"
    )
    for step in corpus.steps:
        st.page_link("pages/flow.py", label=f"{step.number}. {md_escape(step.name)}", query_params={"step": step.id})
    st.markdown(" ")
    st.page_link("pages/companies.py", label="Company case studies", icon=":material/domain:")
    st.page_link("pages/topics.py", label="Browse the topic tree", icon=":material/account_tree:")
    st.page_link("pages/practice.py", label="Practise a timed mock interview", icon=":material/timer:")
    st.page_link("pages/progress.py", label="Your reading progress", icon=":material/task_alt:")

with st.expander("About the interview (from the original guide)"):
    st.markdown(f"**{md_escape(guide.get('title', ''))}**")
    st.markdown(md_escape(guide.get("intro", "")))
    for note in guide.get("notes", []):
        st.markdown(f"- {md_escape(note)}")
    if guide.get("components_figure"):
        st.markdown(
            f"{md_escape(guide.get('components_figure_caption', 'Components of a production ML system'))}: "
            + md_link("figure", guide["components_figure"])
        )
