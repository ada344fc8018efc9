"""Design flow: the seven steps, each with its checklist and the material most related to it."""

import plotly.graph_objects as go
import streamlit as st

from mlsd.search import Filters
from ui.render import md_escape, render_filed, render_hit_list
from ui.state import corpus_or_stop, engine_or_stop
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url

corpus = corpus_or_stop()
steps = list(corpus.steps)
step_ids = [s.id for s in steps]

st.title("The ML system design flow")
st.page_link("pages/practice.py", label="Practise the flow against the clock", icon=":material/timer:")
URL_PARAMS = {"step": UrlParam(step_ids, default=step_ids[0])}
notice_ignored(sync_from_url("flow", URL_PARAMS))
st.markdown(md_escape(corpus.guide.get("flow_intro", "")))

# A clickable picture of the flow: one marker per step, left to right.
fig = go.Figure(
    go.Scatter(
        x=[s.number for s in steps], y=[0] * len(steps), mode="markers+text",
        marker=dict(size=46, color=[f"rgba(31, 119, 180, {0.45 + 0.08 * i})" for i in range(len(steps))],
                    line=dict(width=2, color="white")),
        text=[str(s.number) for s in steps], textfont=dict(color="white", size=18),
        customdata=step_ids, hovertext=[s.name for s in steps], hoverinfo="text",
    )
)
for s in steps:
    fig.add_annotation(x=s.number, y=-0.55, text=s.name.replace(" (", "<br>("), showarrow=False, font=dict(size=12))
fig.add_shape(type="line", x0=1, x1=len(steps), y0=0, y1=0, line=dict(color="#c8d3df", width=3), layer="below")
fig.update_layout(height=190, margin=dict(l=30, r=30, t=10, b=10), showlegend=False, dragmode=False,
                  xaxis=dict(visible=False, range=[0.5, len(steps) + 0.5]), yaxis=dict(visible=False, range=[-1, 0.5]))
chart = st.plotly_chart(fig, key="flow_chart", on_select="rerun", selection_mode="points",
                        config={"displayModeBar": False})

# A click on the chart selects that step (only when the click is new, so the picker still works).
points = (chart.selection or {}).get("points", []) if chart else []
clicked = points[0].get("customdata") if points else None
if clicked in step_ids and clicked != st.session_state.get("flow_last_click"):
    st.session_state["step"] = clicked
st.session_state["flow_last_click"] = clicked

step_id = st.segmented_control(
    "Step", step_ids, key="step", required=True,
    format_func=lambda sid: f"{corpus.step_by_id[sid].number}. {corpus.step_by_id[sid].name}",
    label_visibility="collapsed",
)
step = corpus.step_by_id[step_id if step_id in corpus.step_by_id else step_ids[0]]
write_to_url("flow", URL_PARAMS, {"step": step.id})

left, right = st.columns([3, 2], gap="large")
with left:
    st.header(f"{step.number}. {md_escape(step.name)}")
    st.markdown(md_escape(step.description))
    st.subheader("Checklist")
    lines = [f"{'    ' * depth}- {md_escape(text)}" for depth, text in step.checklist_lines()]
    st.markdown("\n".join(lines))
    questions = [q for q in corpus.questions if step.id in q.steps]
    if questions:
        st.subheader("Sample questions that exercise this step")
        for q in questions:
            st.page_link("pages/practice.py", label=f"**{md_escape(q.title)}**", query_params={"question": q.id},
                         icon=":material/timer:", help="Practise this question against the clock")
            st.caption(md_escape(q.prompt))
with right:
    engine = engine_or_stop()
    st.subheader("Case studies")
    render_hit_list(engine.related(step.id, k=6, filters=Filters(types=["resource"]), curated_first=True))
    st.subheader("Topics")
    render_hit_list(engine.related(step.id, k=5, filters=Filters(types=["topic"])))
    render_filed(corpus.imported_under_step(step.id), "this step", corpus.company_name, key=f"flow_imported_{step.id}")
