"""Progress: what you have read by company and topic, what to read next, bookmarks, notes, backup."""

import json

import streamlit as st

from mlsd import paths
from mlsd.backup import export_data, import_data
from mlsd.errors import ProgressError
from mlsd.progress import ProgressStore
from mlsd.views import csv_safe, progress_by, read_next, reading_frame, suggest_next
from ui.render import md_escape, md_link, render_hit_list
from ui.state import corpus_or_stop, engine_or_stop, reading_state

corpus = corpus_or_stop()
st.title("Reading progress")
store, reading = reading_state()
if store is None:
    # Only a damaged file can be fixed from here; a locked or read-only one needs the user.
    st.markdown("If the file is damaged, move it aside to start a new one. Nothing is deleted: the old file "
                "stays next to it with `.damaged-<date>` added to its name.")
    if st.button("Move the damaged file aside", key="progress_quarantine", icon=":material/healing:"):
        moved = ProgressStore(paths.progress_path()).quarantine()
        st.success(f"Moved to {md_escape(str(moved))}. Reload the page." if moved else "There was no file to move.")
    st.stop()

restored = st.session_state.pop("_restored_message", None)
if restored:
    st.success(md_escape(restored), icon=":material/check_circle:")
frame = reading_frame(corpus, reading)
topic_names = {t.id: t.name for t in corpus.topics}
core, imported = frame[frame["source"] == "bundled"], frame[frame["source"] != "bundled"]
done = int(frame["read"].sum())
has_note = frame["note"].str.len() > 0
# The core list apart from imported lists: "3 of 50" is a start, "3 of 2,476" a wall.
metrics = st.columns(4 if len(imported) else 3)
metrics[0].metric("Core case studies read", f"{int(core['read'].sum())} of {len(core)}",
                  help="The case studies that come with mlsd")
if len(imported):
    metrics[1].metric("From your imported lists", f"{int(imported['read'].sum())} of {len(imported):,}",
                      help="Case studies from the lists you imported on the Library page")
metrics[-2].metric("Bookmarked", int(frame["bookmarked"].sum()))
metrics[-1].metric("With your notes", int(has_note.sum()))
if not done:
    st.caption("Tick **Read** on a case study in Search, Companies or Topics, or in the lists below; "
               "your progress shows here.")

# Filled last: it needs the search index, and a failure there must not hide the rest of the page.
next_box = st.container()

share = st.column_config.ProgressColumn("Progress", format="percent", min_value=0.0, max_value=1.0, width="small")
config = {"name": st.column_config.TextColumn("Name", width="medium"), "resources": "Case studies",
          "read": "Read", "share": share}
if len(imported):
    st.subheader("By list")
    st.dataframe(csv_safe(progress_by(frame, "source")), key="progress_by_source", hide_index=True, width="stretch",
                 column_config=config)
left, right = st.columns(2, gap="large")
with left:
    st.subheader("By company")
    st.dataframe(csv_safe(progress_by(frame, "company")), key="progress_by_company", hide_index=True, width="stretch",
                 column_config=config, height=280)
with right:
    st.subheader("By topic")
    st.dataframe(csv_safe(progress_by(frame, "topic", topic_names)), key="progress_by_topic", hide_index=True, width="stretch",
                 column_config=config, height=280)
    untopiced = int((frame["topic_ids"].map(len) == 0).sum())
    if untopiced:
        st.caption(f"{untopiced:,} imported case studies have no topic yet, so they count by company and list only.")

tab_bookmarked, tab_read, tab_notes = st.tabs([f"Bookmarked ({int(frame['bookmarked'].sum())})", f"Read ({done})",
                                               f"Notes ({int(has_note.sum())})"])
for tab, rows, empty in ((tab_bookmarked, frame[frame["bookmarked"]], "No bookmarks yet."),
                         (tab_read, frame[frame["read"]].sort_values("read_at", ascending=False), "Nothing read yet."),
                         (tab_notes, frame[has_note], "No notes yet.")):
    with tab:
        if rows.empty:
            st.caption(empty)
        for row in rows.itertuples():
            line = f"{md_link(row.title, row.url)}  \n:gray[{md_escape(row.company)}"
            if row.read_on:
                line += f" · read {md_escape(row.read_on)}"
            line += "]"
            if row.note:
                line += f"  \n{md_escape(row.note)}"
            st.markdown(line)

st.subheader("Back up and restore")
st.caption(f"Everything lives in {md_escape(str(store.path))}. The same backup works with `mlsd progress export` / `import`.")
b1, b2 = st.columns(2)
try:
    backup = json.dumps(export_data(store), indent=2, ensure_ascii=False).encode("utf-8")
    b1.download_button("Download a backup (JSON)", backup, file_name="mlsd-progress.json", mime="application/json",
                       icon=":material/download:", key="progress_backup")
except ProgressError as exc:
    b1.error(str(exc), icon=":material/error:")
upload = b2.file_uploader("Restore from a backup", type=["json"], key="progress_restore",
                          help="Merged into your progress: newer entries win, nothing is deleted")
if upload is not None and st.session_state.get("_restored") != upload.file_id:
    try:
        counts = import_data(store, json.loads(upload.getvalue().decode("utf-8")), origin=upload.name)
    except (ProgressError, ValueError) as exc:
        b2.error(f"Not restored: {md_escape(str(exc))}", icon=":material/error:")
    else:
        st.session_state["_restored"] = upload.file_id
        st.session_state["_restored_message"] = (f"Restored from {upload.name}: {counts['reading']} case studies and "
                                                 f"{counts['sessions']} practice sessions were new or newer.")
        st.rerun()

with next_box:
    st.subheader("What to read next")
    choices = [corpus.topic_by_id[tid] for root in corpus.children(None) for tid in corpus.subtree(root.id)]
    options = [t.id for t in choices] + [q.id for q in corpus.questions]
    labels = {**{t.id: " > ".join(p.name for p in corpus.topic_path(t.id)) for t in choices},
              **{q.id: f"Question: {q.title}" for q in corpus.questions}}
    target = st.selectbox("For a topic or a sample question", options, index=None, key="progress_next_for",
                          format_func=labels.get, placeholder="Or pick a topic or a question")
    engine = engine_or_stop()
    if target:
        hits = read_next(engine, reading, target, k=6)
    else:
        hits, based_on = suggest_next(engine, reading, k=6)
        if based_on:
            st.caption("Nearest unread case studies to what you read last: "
                       + "; ".join(md_escape(r.title) for r in based_on))
        else:
            st.caption("From the core list, in its order: a good place to start.")
    render_hit_list(hits, empty="You have read everything related to it.", store=store, reading=reading, key="next")
