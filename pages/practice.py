"""Practice: a timed mock interview over the seven flow steps that teaches as well as times.

While practising: notes saved as you type, hints for the current step on request (sample
questions have them; revealing one is recorded) and a design sketch drawn as you type. After
finishing: time against budget, a self-score against the rubric of each step with the criteria
missed, the question's outline, pitfalls and follow-ups, and the trend over your attempts.

The session lives in the progress database and its id in the URL (``/practice?session=3``), so
a reload, a second tab or a later visit finds the same clock, notes, sketch and scores.
"""

import time

import streamlit as st

from mlsd.errors import MlsdError, ProgressError
from mlsd.practice import (
    SCORE_LABELS,
    attempts_by_question,
    question_key,
    session_score,
    step_budgets,
    step_scores,
    weakest_step,
)
from mlsd.progress import NOTE_MAX_CHARS
from mlsd.search import Filters
from mlsd.sketch import SKETCH_MAX_CHARS
from mlsd.views import mmss, points, session_markdown
from ui.practice import answer_material, attempts_chart, draw_sketch, score_table, time_chart, when
from ui.render import guarded_save, md_escape, render_hit_list
from ui.state import corpus_or_stop, engine_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url
from ui.widgets import autosave_notes, countdown

OWN = "__own__"
IDLE_SECONDS = 15 * 60  # a session left this long without a note or a step change was abandoned
SKETCH_HELP = ("One chain of components per line, e.g. `client -> api -> ranker`; `: label` after the last "
               "component labels the last arrow (`api -> ranker: top 500`); a line alone is a component. "
               "Or write Graphviz DOT, starting with `digraph {`.")

corpus = corpus_or_stop()
steps = corpus.steps
step_ids = [s.id for s in steps]
question_by_id = {q.id: q for q in corpus.questions}
rubric = corpus.rubric

st.title("Practice")
store, reading = reading_state()
if store is None:
    st.info("Practice sessions are kept in the progress database, which cannot be used right now (see above). "
            "The other pages still work.", icon=":material/info:")
    st.stop()
if st.session_state.pop("_practice_deleted", False):
    st.success("The session was deleted. Your other sessions and your reading progress are unchanged.",
               icon=":material/delete:")


def checklist_markdown(step) -> str:
    return "\n".join("  " * depth + f"- {md_escape(text)}" for depth, text in step.checklist_lines())


def delete_session(sid: int) -> None:
    """Delete one session (a widget callback); leave its page if it was open."""
    guarded_save(store.delete_session, sid)
    if st.query_params.get("session") == str(sid):
        del st.query_params["session"]
    st.session_state["_practice_deleted"] = True


def delete_button(sid: int, key: str) -> None:
    """Delete, behind a confirmation: the popover says what goes and what stays."""
    with st.popover("Delete", icon=":material/delete:", key=f"{key}_popover"):
        st.markdown("Delete this session? Its notes, sketch, hints and self-score go. "
                    "Your other sessions and your reading progress stay.")
        st.button("Delete this session", key=key, type="primary", icon=":material/delete_forever:",
                  on_click=delete_session, args=(sid,))


# -- no session chosen: start one, or reopen a past one ------------------------------------------------
def suggestion(past) -> None:
    """Practise your weakest step: the step scored lowest, and a question that exercises it."""
    found = weakest_step(past, rubric, corpus.questions)
    if found is None:
        if any(s.finished for s in past):
            st.caption("Score yourself at the end of a session, and this page suggests which step to practise next.")
        return
    step, question = corpus.step_by_id[found.step_id], question_by_id[found.question_id]
    tried = "not practised yet" if not found.attempts else f"practised {found.attempts}×"
    with st.container(border=True, key="weakest_step"):
        st.markdown(f"**Practise your weakest step: {step.number}. {md_escape(step.name)}** · your average "
                    f"self-score there is {found.share:.0%} over {found.sessions} session(s).  \n"
                    f"A question that exercises it: {md_escape(question.title)} :gray[({tried})]")
        st.page_link("pages/practice.py", label="Practise this question", query_params={"question": question.id},
                     icon=":material/timer:")


def past_sessions(past) -> None:
    """Sessions grouped by question, newest group first, with the trend over attempts."""
    st.subheader("Your attempts, by question")
    if not past:
        st.caption("None yet. Your sessions are listed here, grouped by question, and you can reopen any of them.")
        return
    for n, group in enumerate(attempts_by_question(past, rubric)):
        count = len(group.attempts)
        with st.container(border=True, key=f"group_{n}"):
            latest = group.latest.score
            scored = f" · latest self-score {latest.share:.0%}" if latest.share is not None else ""
            st.markdown(f"**{md_escape(group.title)}**  \n:gray[{count} attempt{'s' if count > 1 else ''}{scored}]")
            if count > 1:
                with st.expander("Self-score and time over the attempts"):
                    attempts_chart(group, f"group_chart_{n}")
            for attempt in reversed(group.attempts):
                sess = attempt.session
                status = "finished" if sess.finished else ("in progress" if sess.running else "paused")
                score = f" · {points(attempt.score)}" if attempt.score.scored else ""
                c1, c2, c3 = st.columns([5, 1, 1], vertical_alignment="center")
                c1.markdown(f"Attempt {attempt.number}  \n:gray[{when(sess.started_at)} · {status} · "
                            f"{mmss(attempt.seconds)} of {sess.minutes}:00{md_escape(score)}]")
                c2.page_link("pages/practice.py", label="Open", query_params={"session": str(sess.id)},
                             icon=":material/open_in_new:")
                with c3:
                    delete_button(sess.id, f"delete_{sess.id}")


def start_view() -> None:
    st.markdown("Rehearse the interview against the clock: pick a question, then work through the seven steps, "
                "writing what you would say and sketching the design. Sample questions have hints for each step. "
                "When you finish, score yourself against what a strong answer covers, and see the question's "
                "outline, its pitfalls and the follow-ups an interviewer would ask.")
    try:
        past = store.sessions()
    except ProgressError as exc:
        st.error(md_escape(str(exc)), icon=":material/error:")
        past = []
    suggestion(past)
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
                st.error(md_escape(str(exc)), icon=":material/error:")
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
    past_sessions(past)


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


# -- the finished session: time and self-score per step, the answer's outline, attempts -----------------
def save_score(sid: int, step_id: str, criterion_id: str, key: str) -> None:
    guarded_save(store.set_score, sid, step_id, criterion_id, st.session_state.get(key))


def rubric_check(sess, scores, budgets, now) -> None:
    """Each step's notes beside its rubric: the user scores every criterion 0-2."""
    st.subheader("Check your notes against the rubric")
    st.caption("For each step, how well did your notes cover what a strong answer covers? "
               "Scores are saved as you choose them; hover over a criterion for what a good answer looks like.")
    question = question_by_id.get(sess.question_id or "")
    for step in steps:
        score = scores.get(step.id)
        scored = f" · {points(score)}" if score and score.scored else ""
        label = f"{step.number}. {md_escape(step.name)} · {mmss(sess.spent(step.id, now))} of " \
                f"{mmss(budgets[step.id])}{md_escape(scored)}"
        with st.expander(label, expanded=True):
            notes, criteria = st.columns([1, 1], gap="medium")
            with notes:
                note = sess.note(step.id).strip()
                if note:
                    st.text(note)
                else:
                    st.caption("No notes.")
                hints = question.hints_for(step.id) if question else ()
                revealed = [hints[n - 1] for n in sess.revealed(step.id) if n <= len(hints)]
                if revealed:
                    st.caption(md_escape("Hints you revealed: " + " · ".join(revealed)))
            with criteria:
                for criterion in rubric.criteria(step.id):
                    key = f"score_{sess.id}_{step.id}_{criterion.id}"
                    st.segmented_control(md_escape(criterion.text), [0, 1, 2], key=key,
                                         default=sess.score(step.id, criterion.id),
                                         format_func=lambda v: SCORE_LABELS[v], help=md_escape(criterion.detail),
                                         on_change=save_score, args=(sess.id, step.id, criterion.id, key))


def summary_view(sess) -> None:
    budgets = step_budgets(steps, sess.minutes)
    now = time.time()
    used = sess.elapsed(now)
    over = [s for s in steps if sess.spent(s.id, now) > budgets[s.id] + 1]
    scores, total = step_scores(sess, rubric), session_score(sess, rubric)
    question = question_by_id.get(sess.question_id or "")
    st.subheader(f"Summary: {md_escape(sess.question)}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Time used", f"{mmss(used)} of {sess.minutes}:00",
              help="Over time" if used > sess.minutes * 60 else "Within the interview's length")
    c2.metric("Self-score (points)", f"{total.points} of {total.possible}" if total.scored else "not yet",
              delta=f"{total.share:.0%}" if total.share is not None else None, delta_color="off", delta_arrow="off",
              help=f"{total.scored} of {total.criteria} criteria of the rubric scored (0 missed, 1 partly, 2 covered)")
    c3.metric("Steps over budget", len(over))
    c4.metric("Hints revealed", sess.hints_revealed)
    markdown = session_markdown(sess, steps, now, rubric=rubric, question=question)
    b1, b2, b3, b4 = st.columns(4, vertical_alignment="center")
    b1.download_button("Export as Markdown", markdown.encode("utf-8"), file_name=f"mock-interview-{sess.id}.md",
                       mime="text/markdown", icon=":material/download:", key="practice_export", width="stretch")
    b2.button("Continue this session", key="practice_continue", on_click=guarded_save, args=(store.resume, sess.id),
              icon=":material/play_arrow:", width="stretch")
    b3.page_link("pages/practice.py", label="Start another", icon=":material/add:", query_params={})
    with b4:
        delete_button(sess.id, "practice_delete")

    score_table(sess, steps, scores, budgets, now, "score_table")
    if not total.scored:
        st.caption("No self-score yet: check your notes against the rubric at the end of this page.")
    time_chart(sess, steps, budgets, now, "practice_summary_chart")

    try:
        everything = store.sessions()
    except ProgressError as exc:
        st.warning(f"Your other attempts cannot be read: {md_escape(str(exc))}", icon=":material/warning:")
        everything = [sess]
    group = next((g for g in attempts_by_question(everything, rubric, now) if g.key == question_key(sess)), None)
    if group is not None and len(group.attempts) > 1:
        st.subheader("Your attempts at this question")
        attempts_chart(group, "attempts_chart")

    if sess.sketch.strip():
        st.subheader("Design sketch")
        drawing, source = st.columns([1, 1], gap="large")
        with drawing:
            draw_sketch(sess.sketch, "summary_sketch")
        with source:
            st.code(sess.sketch, language=None)
    if question is not None:
        answer_material(question)
    rubric_check(sess, scores, budgets, now)


# -- a session in progress ---------------------------------------------------------------------------
def hints_section(sess, step) -> None:
    """The current step's hints, revealed one at a time on request (each reveal is recorded)."""
    question = question_by_id.get(sess.question_id or "")
    hints = question.hints_for(step.id) if question else ()
    if not hints:
        return
    shown = [n for n in sess.revealed(step.id) if n <= len(hints)]
    st.markdown(f"**Hints** · {len(shown)} of {len(hints)} shown")
    with st.container(key=f"hints_{step.id}"):
        for n in shown:
            st.markdown(f":material/lightbulb: {md_escape(hints[n - 1])}")
    hidden = [n for n in range(1, len(hints) + 1) if n not in shown]
    if hidden:
        st.button("Show another hint" if shown else "Show a hint", key=f"hint_{step.id}", icon=":material/lightbulb:",
                  on_click=guarded_save, args=(store.reveal_hint, sess.id, step.id, hidden[0]),
                  help="Try the step first: a hint you reveal is recorded with the session.")


def sketch_section(sess) -> None:
    st.markdown("**Design sketch** · one for the whole session, drawn and saved as you type")
    box, drawing = st.columns([1, 1], gap="medium")
    with box:
        autosave_notes(f"sketch_{sess.id}", sess.sketch, lambda text: guarded_save(store.save_sketch, sess.id, text),
                       label="Design sketch", rows=7, max_chars=SKETCH_MAX_CHARS, monospace=True,
                       placeholder="client -> api -> ranker: top 500\napi -> feature store\nranker -> logging")
        st.caption(SKETCH_HELP)
    with drawing:
        draw_sketch(sess.sketch, "sketch_diagram")


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
        hints_section(sess, step)

        def save(text: str, step_id: str = current) -> None:
            guarded_save(store.save_step_note, sess.id, step_id, text)

        st.markdown("**Your notes** · saved as you type")
        autosave_notes(f"notes_{sess.id}_{current}", sess.note(current), save, label=f"Notes for {step.name}",
                       placeholder="What you would say at this step: assumptions, choices, trade-offs…",
                       max_chars=NOTE_MAX_CHARS)
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
        sketch_section(sess)

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
