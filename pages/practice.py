"""Practice: a timed mock interview over the seven flow steps, with notes saved as you type.

The session lives in the progress database and its id in the URL (``/practice?session=3``), so
a reload, a second tab or a later visit finds the same clock and notes.
"""

import datetime as dt
import time

import plotly.graph_objects as go
import streamlit as st

from mlsd.errors import MlsdError, ProgressError
from mlsd.practice import step_budgets
from mlsd.search import Filters
from mlsd.views import mmss, session_markdown
from ui.render import CHART_MARGIN, guarded_save, md_escape, render_hit_list
from ui.state import corpus_or_stop, engine_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url
from ui.widgets import autosave_notes, countdown

OWN = "__own__"
IDLE_SECONDS = 15 * 60  # a session left this long without a note or a step change was abandoned

corpus = corpus_or_stop()
steps = corpus.steps
step_ids = [s.id for s in steps]
question_by_id = {q.id: q for q in corpus.questions}

st.title("Practice")
store, reading = reading_state()
if store is None:
    st.info("Practice sessions are kept in the progress database, which cannot be used right now (see above). "
            "The other pages still work.", icon=":material/info:")
    st.stop()


def when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def checklist_markdown(step) -> str:
    return "\n".join("  " * depth + f"- {md_escape(text)}" for depth, text in step.checklist_lines())


# -- no session chosen: start one, or reopen a past one ------------------------------------------------
def start_view() -> None:
    st.markdown("Rehearse the interview against the clock: pick a question, then work through the seven steps, "
                "writing what you would say. Notes are saved as you type; the time spent on each step is "
                "compared with its budget when you finish.")
    options = [q.id for q in corpus.questions] + [OWN]
    specs = {"question": UrlParam(options, default=options[0])}  # /practice?question=q-feature-store
    notice_ignored(sync_from_url("practice", specs))
    left, right = st.columns([3, 2], gap="large")
    with left:
        choice = st.selectbox("Question", options, key="question",
                              format_func=lambda q: "Your own question…" if q == OWN else question_by_id[q].title)
        write_to_url("practice", specs, {"question": choice})
        if choice == OWN:
            text = st.text_area("Your question", key="practice_own", max_chars=2000,
                                placeholder="e.g. Design a system that recommends jobs to people on a professional network")
        else:
            text = question_by_id[choice].title
            st.caption(md_escape(question_by_id[choice].prompt))
        minutes = st.number_input("Interview length (minutes)", min_value=15, max_value=120, value=45, step=5,
                                  key="practice_minutes")
        if st.button("Start the interview", type="primary", key="practice_start", icon=":material/timer:"):
            try:
                sid = store.start_session(text, int(minutes), steps[0].id, None if choice == OWN else choice)
            except ProgressError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                st.session_state.setdefault("_practice_opened", set()).add(sid)
                if "question" in st.query_params:
                    del st.query_params["question"]
                st.query_params["session"] = str(sid)
                st.rerun()
    with right:
        budgets = step_budgets(steps, int(minutes))
        st.markdown("**Suggested time per step**")
        st.markdown("\n".join(f"{s.number}. {md_escape(s.name)}: {mmss(budgets[s.id])}" for s in steps))

    st.subheader("Past sessions")
    try:
        past = store.sessions()
    except ProgressError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not past:
        st.caption("None yet. Your sessions are listed here, and you can reopen any of them.")
        return
    for sess in past:
        with st.container(border=True, key=f"past_{sess.id}"):
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            status = "finished" if sess.finished else ("in progress" if sess.running else "paused")
            c1.markdown(f"**{md_escape(sess.question)}**  \n:gray[{when(sess.started_at)} · {status} · "
                        f"{mmss(sess.elapsed())} of {sess.minutes}:00]")
            c2.page_link("pages/practice.py", label="Open", query_params={"session": str(sess.id)},
                         icon=":material/open_in_new:")


def load_session(sid: int):
    """The session; the first time this browser session opens it, a long-abandoned clock is stopped."""
    opened = st.session_state.setdefault("_practice_opened", set())
    if sid in opened:
        return store.session(sid)
    before = store.session(sid)
    sess = store.reopen(sid, idle_after=IDLE_SECONDS)
    opened.add(sid)
    if before.running and not sess.running:
        st.info("This session had been left for a while, so its clock was stopped at your last note or step "
                "change. Press Resume to go on.", icon=":material/pause_circle:")
    return sess


# -- the finished session: time per step against budget, notes, export ---------------------------------
def summary_view(sess) -> None:
    budgets = step_budgets(steps, sess.minutes)
    now = time.time()
    used = sess.elapsed(now)
    over = [s for s in steps if sess.spent(s.id, now) > budgets[s.id] + 1]
    st.subheader(f"Summary: {md_escape(sess.question)}")
    c1, c2, c3 = st.columns(3)
    c1.metric("Time used", f"{mmss(used)} of {sess.minutes}:00",
              help="Over time" if used > sess.minutes * 60 else "Within the interview's length")
    c2.metric("Steps over budget", len(over))
    c3.metric("Steps with notes", sum(1 for s in steps if sess.note(s.id).strip()))
    names = [f"{s.number}. {s.name}" for s in steps]
    fig = go.Figure([
        go.Bar(name="Budget", x=names, y=[budgets[s.id] / 60 for s in steps], marker_color="#c9d6ea"),
        go.Bar(name="Spent", x=names, y=[sess.spent(s.id, now) / 60 for s in steps],
               marker_color=["#d93025" if s in over else "#1a73e8" for s in steps]),
    ])
    fig.update_layout(barmode="group", height=380, margin=CHART_MARGIN, yaxis_title="minutes",
                      legend=dict(orientation="h", y=1.08))
    st.plotly_chart(fig, key="practice_summary_chart")
    markdown = session_markdown(sess, steps, now)
    b1, b2, b3 = st.columns(3)
    b1.download_button("Export as Markdown", markdown.encode("utf-8"), file_name=f"mock-interview-{sess.id}.md",
                       mime="text/markdown", icon=":material/download:", key="practice_export", width="stretch")
    b2.button("Continue this session", key="practice_continue", on_click=guarded_save, args=(store.resume, sess.id),
              icon=":material/play_arrow:", width="stretch")
    b3.page_link("pages/practice.py", label="Start another", icon=":material/add:", query_params={})
    st.subheader("Your notes")
    for step in steps:
        spent, budget = sess.spent(step.id, now), budgets[step.id]
        with st.expander(f"{step.number}. {md_escape(step.name)} · {mmss(spent)} of {mmss(budget)}", expanded=True):
            note = sess.note(step.id).strip()
            if note:
                st.text(note)
            else:
                st.caption("No notes.")


# -- a session in progress ---------------------------------------------------------------------------
def session_view(sess) -> None:
    budgets = step_budgets(steps, sess.minutes)
    now = time.time()
    current = sess.current_step if sess.current_step in step_ids else steps[0].id
    step = corpus.step_by_id[current]
    position = step_ids.index(current)

    head = st.columns([3, 1, 1, 1], vertical_alignment="center")
    with head[0]:
        st.markdown(f"**{md_escape(sess.question)}**")
        if sess.question_id in question_by_id:
            st.caption(md_escape(question_by_id[sess.question_id].prompt))
    with head[1]:
        countdown(sess.minutes * 60 - sess.elapsed(now), sess.running, f"{step.number}. {step.name}",
                  sess.spent(current, now), budgets[current], key=f"clock_{sess.id}")
    if sess.running:
        head[2].button("Pause", key="practice_pause", on_click=guarded_save, args=(store.pause, sess.id),
                       icon=":material/pause:", width="stretch")
    else:
        head[2].button("Resume", key="practice_resume", on_click=guarded_save, args=(store.resume, sess.id),
                       icon=":material/play_arrow:", width="stretch", type="primary")
    head[3].button("Finish", key="practice_finish", on_click=guarded_save, args=(store.finish, sess.id),
                   icon=":material/flag:", width="stretch")

    nav, main = st.columns([1, 2.4], gap="large")
    with nav:
        st.markdown("**The seven steps**")
        for s in steps:
            spent, budget = sess.spent(s.id, now), budgets[s.id]
            flag = " ⚠" if spent > budget else (" ✓" if sess.note(s.id).strip() else "")
            st.button(f"{s.number}. {md_escape(s.name)}  \n{mmss(spent)} of {mmss(budget)}{flag}", key=f"go_{s.id}",
                      width="stretch", type="primary" if s.id == current else "secondary",
                      on_click=guarded_save, args=(store.move_to, sess.id, s.id))
        st.caption("⚠ over its time budget · ✓ has notes")
    with main:
        st.subheader(f"Step {step.number} of {len(steps)}: {md_escape(step.name)}")
        st.markdown(md_escape(step.description))
        st.markdown("**Checklist**")
        st.markdown(checklist_markdown(step))

        def save(text: str, step_id: str = current) -> None:
            guarded_save(store.save_step_note, sess.id, step_id, text)

        st.markdown("**Your notes** · saved as you type")
        autosave_notes(f"notes_{sess.id}_{current}", sess.note(current), save, label=f"Notes for {step.name}",
                       placeholder="What you would say at this step: assumptions, choices, trade-offs…")
        p, n = st.columns(2)
        if position > 0:
            p.button(f"← {steps[position - 1].name}", key="practice_prev", width="stretch",
                     on_click=guarded_save, args=(store.move_to, sess.id, step_ids[position - 1]))
        if position < len(steps) - 1:
            n.button(f"{steps[position + 1].name} →", key="practice_next", width="stretch", type="primary",
                     on_click=guarded_save, args=(store.move_to, sess.id, step_ids[position + 1]))
        else:
            n.button("Finish the interview", key="practice_finish_last", width="stretch", type="primary",
                     on_click=guarded_save, args=(store.finish, sess.id), icon=":material/flag:")

        # Last on the page: the model may still be loading, and the notes must not wait for it.
        st.markdown("**Related to this question and step**")
        engine = engine_or_stop(need_model=True)
        # The step first: with the question alone every step showed the same material.
        query = f"{step.name}: {step.description} {sess.question}"
        try:
            topics = engine.search(query, k=3, filters=Filters(types=["topic"]))
            cases = engine.search(query, k=4, filters=Filters(types=["resource"]))
        except MlsdError as exc:
            st.warning(f"Related material is unavailable: {md_escape(str(exc))}", icon=":material/warning:")
            return
        t, c = st.columns(2)
        with t:
            st.caption("Topics")
            render_hit_list(topics)
        with c:
            st.caption("Case studies")
            render_hit_list(cases, store=store, reading=reading, key="practice")


param = st.query_params.get("session")
if not param:
    start_view()
    st.stop()
MAX_SESSION_ID = 2**63 - 1  # SQLite's largest integer
try:
    if not (param.isdigit() and 0 < int(param) <= MAX_SESSION_ID):
        raise ValueError(param)
    session = load_session(int(param))
except (ValueError, ProgressError) as exc:
    detail = str(exc) if isinstance(exc, ProgressError) else f"“{param[:40]}” is not a session number."
    st.info(f"{md_escape(detail)} Start a new session or open a past one below.", icon=":material/info:")
    del st.query_params["session"]
    start_view()
    st.stop()

back = st.columns([1, 5])
back[0].page_link("pages/practice.py", label="All sessions", icon=":material/arrow_back:", query_params={})
if session.finished:
    summary_view(session)
else:
    session_view(session)
