"""Library: import curated lists (URL, upload, presets), see and remove them, check links."""

import pandas as pd
import streamlit as st

from mlsd.errors import MlsdError, NameTakenError
from mlsd.library import PRESETS, Enrich, import_upload, import_url, list_sources, remove_source
from mlsd.links import check_links
from mlsd.linkstore import STATUSES, LinkStore
from mlsd.urls import is_web_url
from ui.render import md_escape, md_text
from ui.state import corpus_or_stop, shared_embedder

corpus = corpus_or_stop()
st.title("Library")
st.caption("The bundled knowledge base plus the curated lists you import. Imports are kept under "
           "MLSD_HOME (the project's `library/` folder by default), never in `data/`.")

CONFIRM = "library_confirm"  # an import waiting for the user to confirm replacing a list


def run_import(request: dict, replace: bool = False) -> None:
    """Import a URL, preset or upload with a progress bar; any failure is a message and leaves the library as it was.

    A different list under a taken name is not replaced at once: the request waits in the
    session for the user to confirm (below the import box).
    """
    shown = request.get("filename") or request["source"]
    bar = st.progress(0.0, text=f"Reading {shown}…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Embedding new items: {done} of {total}")

    def page_progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Asking the linked pages for their descriptions: {done} of {total}")

    enrich = Enrich(progress=page_progress) if request.get("enrich") else None
    options = dict(name=request.get("name") or None, progress=progress, embedder=shared_embedder(), replace=replace,
                   enrich=enrich)
    try:
        if request["kind"] == "upload":
            report = import_upload(request["data"], request["filename"], **options)
        else:  # a URL or a preset's name; never a path on this machine
            report = import_url(request["source"], **options)
    except NameTakenError as exc:
        bar.empty()
        st.session_state[CONFIRM] = {**request, "existing": exc.existing_origin, "taken": exc.name}
        st.rerun()  # show the question (a preset's button sits below where it is asked)
    except MlsdError as exc:
        bar.empty()
        st.error(f"Import failed, nothing was changed: {md_escape(str(exc))}", icon=":material/error:")
        return
    bar.empty()
    if report.path is None:
        st.info(f"Nothing was written: every item of {md_escape(report.origin)} is already in the library.")
    else:
        st.success(f"Imported {report.new} new items into '{md_escape(report.name)}' "
                   f"({report.duplicates} duplicates, {len(report.skipped)} skipped).", icon=":material/check:")
    if report.enrichment is not None:
        st.info(md_escape(report.enrichment.summary() + "."), icon=":material/language:")
        if report.enrichment.examples:
            with st.expander(f"{report.enrichment.failed} links without a description"):
                st.text("\n".join(report.enrichment.examples))  # text: URLs and messages from the pages' servers
    if report.skipped:
        with st.expander(f"{len(report.skipped)} skipped rows"):
            st.text("\n".join(report.skipped[:200]))


st.subheader("Import a list")
with st.container(border=True):
    url = st.text_input("URL of a list: a CSV of case studies, a Markdown list or a Markdown table", key="library_url",
                        placeholder="https://…/case_studies.csv")
    upload = st.file_uploader("…or a file", type=["csv", "md", "markdown", "txt"], key="library_upload")
    name = st.text_input("Name (optional, kebab-case)", key="library_name")
    enrich = st.checkbox("Fetch each new link's page description", key="library_enrich", value=False,
                         help="For lists that give titles only: each new link without a summary is asked for the "
                              "description its page gives (first 256 kB, at most 2 requests at a time per site, "
                              "2 minutes in all). It is searched and shown as taken from the page. A page that "
                              "fails leaves its item without a summary; the import goes on.")
    clicked = st.button("Import", key="import_list", icon=":material/download:")
    if clicked:
        st.session_state.pop(CONFIRM, None)
        if upload is not None:
            run_import({"kind": "upload", "data": upload.getvalue(), "filename": upload.name, "name": name.strip(),
                        "enrich": enrich})
        elif is_web_url(url.strip()):
            run_import({"kind": "url", "source": url.strip(), "name": name.strip(), "enrich": enrich})
        elif url.strip():
            # Only web addresses: a path would be read on the machine that runs the app, not yours.
            st.error("Give an http:// or https:// address, or upload the file.", icon=":material/error:")
        else:
            st.warning("Give a URL or choose a file.")
    waiting = st.session_state.get(CONFIRM)
    if waiting is not None:
        with st.container(border=True, key="library_confirm_box"):
            st.warning(f"'{md_escape(waiting['taken'])}' already holds a different list (from "
                       f"{md_escape(waiting['existing'])}). Replace it with "
                       f"{md_escape(waiting.get('filename') or waiting['source'])}? Its items leave the library and "
                       "search.", icon=":material/warning:")
            yes, no = st.columns(2)
            if yes.button(f"Replace '{waiting['taken']}'", key="library_replace", icon=":material/swap_horiz:"):
                st.session_state.pop(CONFIRM, None)
                run_import(waiting, replace=True)
            if no.button("Cancel", key="library_cancel"):
                st.session_state.pop(CONFIRM, None)
                st.rerun()

st.subheader("Known public lists")
for preset in PRESETS.values():
    cols = st.columns([5, 1], vertical_alignment="center")
    cols[0].markdown(f"**{md_escape(preset.name)}**: {md_escape(preset.description)} ({md_escape(preset.license)})  \n"
                     f":gray[{md_escape(preset.url)}]")
    if cols[1].button("Import", key=f"preset_{preset.name}", icon=":material/download:"):
        st.session_state.pop(CONFIRM, None)
        run_import({"kind": "url", "source": preset.name, "enrich": st.session_state.get("library_enrich", False)})

st.subheader("Imported lists")
try:
    sources = list_sources()
except MlsdError as exc:
    st.error(md_text(str(exc)), icon=":material/error:")
    sources = []
if not sources:
    st.caption("None yet: import a list above. Imported items appear in search, companies and related results.")
for source in sources:
    cols = st.columns([5, 1], vertical_alignment="center")
    from_pages = sum(1 for r in source.resources if r.summary_from_page)
    described = f" ({from_pages} described by their pages)" if from_pages else ""
    cols[0].markdown(f"**{md_escape(source.name)}**: {len(source.resources)} items{described}, imported "
                     f"{md_escape(source.imported_at)}  \n:gray[{md_escape(source.origin)}]")
    if cols[1].button("Remove", key=f"remove_{source.name}", icon=":material/delete:"):
        try:
            remove_source(source.name, embedder=shared_embedder())
        except MlsdError as exc:
            st.error(md_text(str(exc)), icon=":material/error:")
        else:
            st.rerun()

st.subheader("Link health")
store = LinkStore()
urls = [r.url for r in corpus.resources]
counts = pd.Series([store.status_of(u) for u in urls]).value_counts()
st.caption(" · ".join(f"{counts.get(s, 0)} {s}" for s in (*STATUSES, "unchecked")))
older = st.number_input("Recheck links checked more than this many days ago", min_value=0, value=7, key="links_days")
if st.button("Check links", key="check_links", icon=":material/link:"):
    bar = st.progress(0.0, text="Checking links…")
    done = [0]

    def on_result(n: int, total: int, status) -> None:
        done[0] += 1
        bar.progress(min(done[0] / max(len(urls), 1), 1.0), text=f"Checked {done[0]} of {len(urls)}")

    try:
        results = check_links(urls, store=store, older_than_days=int(older), progress=on_result)
    except MlsdError as exc:
        st.error(md_text(str(exc)), icon=":material/error:")
    else:
        bar.empty()
        st.success(f"Checked {len(results)} links.")
        st.rerun()
