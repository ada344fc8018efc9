"""What the Practice page draws from a session: charts, the sketch, the score table, a strong answer.

Rendering only: the page reads widgets and the store, these helpers show what it hands them.
Every text from the data or the user goes through ``md_escape``; a sketch is drawn from the
DOT that :mod:`mlsd.sketch` writes, never from the text as typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from mlsd.errors import SketchError
from mlsd.model import Question, Step
from mlsd.practice import PracticeSession, QuestionAttempts, Score
from mlsd.sketch import parse_sketch
from mlsd.views import html_text, mmss

from .render import CHART_MARGIN, md_escape

SPENT, BUDGET, OVER = "#1a73e8", "#c9d6ea", "#d93025"


def when(iso: str | None) -> str:
    """An ISO time as local "YYYY-MM-DD HH:MM" (the text itself when it is not a time)."""
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def time_chart(sess: PracticeSession, steps: Sequence[Step], budgets: dict[str, float], now: float, key: str) -> None:
    """Minutes spent on each step against its budget (red when over)."""
    names = [html_text(f"{s.number}. {s.name}") for s in steps]  # Plotly would render tags in labels
    over = {s.id for s in steps if sess.spent(s.id, now) > budgets[s.id] + 1}
    fig = go.Figure([
        go.Bar(name="Budget", x=names, y=[budgets[s.id] / 60 for s in steps], marker_color=BUDGET),
        go.Bar(name="Spent", x=names, y=[sess.spent(s.id, now) / 60 for s in steps],
               marker_color=[OVER if s.id in over else SPENT for s in steps]),
    ])
    fig.update_layout(barmode="group", height=340, margin=CHART_MARGIN, yaxis_title="minutes",
                      legend=dict(orientation="h", y=1.08))
    st.plotly_chart(fig, key=key)


def attempts_chart(group: QuestionAttempts, key: str) -> None:
    """Self-score (line, right axis) and time used (bars, left axis) over the attempts at one question."""
    numbers = [a.number for a in group.attempts]
    dates = [when(a.session.started_at) for a in group.attempts]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=numbers, y=[a.seconds / 60 for a in group.attempts], name="Time used (min)",
                         marker_color=BUDGET, customdata=dates,
                         hovertemplate="Attempt %{x} · %{customdata}<br>%{y:.1f} min<extra></extra>"), secondary_y=False)
    shares = [a.score.share * 100 if a.score.share is not None else None for a in group.attempts]
    fig.add_trace(go.Scatter(x=numbers, y=shares, name="Self-score (%)", mode="lines+markers+text", connectgaps=True,
                             text=[f"{v:.0f}%" if v is not None else "" for v in shares], textposition="top center",
                             line=dict(color=SPENT, width=3), marker=dict(size=9), customdata=dates,
                             hovertemplate="Attempt %{x} · %{customdata}<br>%{y:.0f}%<extra></extra>"), secondary_y=True)
    fig.update_xaxes(title_text="attempt", dtick=1)
    fig.update_yaxes(title_text="minutes", secondary_y=False)
    fig.update_yaxes(title_text="self-score %", range=[-3, 115], tickvals=[0, 25, 50, 75, 100], showgrid=False,
                     secondary_y=True)
    fig.update_layout(height=320, margin=CHART_MARGIN, legend=dict(orientation="h", y=1.15), bargap=0.5)
    with st.container(key=key):
        st.plotly_chart(fig, key=f"{key}_plot")


def draw_sketch(text: str, key: str) -> None:
    """The sketch as a diagram, or what is wrong with it (never a traceback)."""
    try:
        sketch = parse_sketch(text)
    except SketchError as exc:
        st.warning(md_escape(str(exc)), icon=":material/warning:")
        return
    if sketch.syntax == "empty":
        st.caption("Your diagram appears here as you type.")
        return
    with st.container(key=key):
        st.graphviz_chart(sketch.dot, width="stretch")
    if sketch.ignored:
        st.caption(md_escape(f"Not drawn (a sketch shows text only, no links, images or files): "
                             f"{', '.join(sketch.ignored)}."))


def score_table(sess: PracticeSession, steps: Sequence[Step], scores: dict[str, Score], budgets: dict[str, float],
                now: float, key: str) -> None:
    """Per step: time against budget, self-score, and the criteria missed."""
    rows = ["| Step | Time / budget | Self-score | Missed |", "|---|---|---|---|"]
    for step in steps:
        spent, score = sess.spent(step.id, now), scores.get(step.id)
        flag = " ⚠" if spent > budgets[step.id] + 1 else ""
        shown = f"{score.points}/{score.possible} ({score.share:.0%})" if score and score.share is not None else "–"
        missed = "; ".join(md_escape(c.text) for c in score.missed) if score else ""
        rows.append(f"| {step.number}. {md_escape(step.name)} | {mmss(spent)}\u00a0/\u00a0{mmss(budgets[step.id])}{flag} | "
                    f"{md_escape(shown)} | {missed or '–'} |")
    with st.container(key=key):
        st.markdown("\n".join(rows))


def answer_material(question: Question) -> None:
    """The question's outline of a good design, its pitfalls and follow-ups (for after finishing)."""
    st.subheader("A strong answer to this question")
    st.markdown("**Outline**\n\n" + "\n".join(f"- {md_escape(line)}" for line in question.outline))
    pitfalls, follow_ups = st.columns(2, gap="large")
    pitfalls.markdown("**Common pitfalls**\n\n" + "\n".join(f"- {md_escape(p)}" for p in question.pitfalls))
    follow_ups.markdown("**Follow-ups an interviewer would ask**\n\n"
                        + "\n".join(f"- {md_escape(f)}" for f in question.follow_ups))
