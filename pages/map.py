"""Map: every item placed in 2-D from its embedding (PCA, computed with the index)."""

import pandas as pd
import plotly.express as px
import streamlit as st

from ui.render import TYPE_LABELS, md_escape, md_link, tidy_chart
from ui.state import corpus_or_stop, engine_or_stop

corpus = corpus_or_stop()
engine = engine_or_stop()

st.title("Map of everything")
st.caption("Each point is a topic, flow step, question or case study; nearby points mean similar things. "
           "Drag a box or lasso to list points.")

rows = []
for n, item in enumerate(engine.items):
    x, y = engine.index.projection[n]
    root = corpus.root_topic_name(item.topics[0]) if item.topics else None
    rows.append({"x": float(x), "y": float(y), "id": item.id, "title": item.title, "type": TYPE_LABELS[item.type],
                 "company": item.company or "General", "topic": root or "Flow step", "url": item.url or ""})
frame = pd.DataFrame(rows)

color = st.segmented_control("Color by", ["company", "topic", "type"], default="topic", key="map_color",
                             required=True, format_func=str.capitalize)
fig = px.scatter(frame, x="x", y="y", color=color, symbol="type", hover_name="title",
                 hover_data={"x": False, "y": False, "company": True, "type": True}, custom_data=["id"], height=620)
fig.update_traces(marker=dict(size=11, opacity=0.85))
tidy_chart(fig).update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False), dragmode="lasso")
event = st.plotly_chart(fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"))

points = (event.selection or {}).get("points", []) if event else []
chosen = [p["customdata"][0] for p in points if p.get("customdata")]
if chosen:
    st.subheader(f"{len(chosen)} selected")
    for item_id in chosen:
        item = corpus.item_by_id[item_id]
        title = md_link(item.title, item.url)
        st.markdown(f"- {title} :gray[{md_escape(TYPE_LABELS[item.type])}{' · ' + md_escape(item.company) if item.company else ''}]")
