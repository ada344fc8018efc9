"""Companies: pick companies, see their resources in a sortable table, and the corpus by company."""

from __future__ import annotations

import difflib
import hashlib

import pandas as pd
import plotly.express as px
import streamlit as st

from mlsd.linkstore import LinkStore, archive_url
from mlsd.model import Corpus
from mlsd.progress import ProgressStore
from mlsd.views import reading_frame
from ui.render import SHOW_CHOICES, md_escape, save_reading, tidy_chart
from ui.state import corpus_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url

COLUMNS = ["read", "bookmarked", "note", "title", "company", "kind", "year", "topics", "source", "url", "link", "archive"]
EDITABLE = {"read": "read", "bookmarked": "bookmark", "note": "note"}


def pick_companies(corpus: Corpus) -> list[str]:
    names = list(corpus.company_names)
    specs = {"company": UrlParam(names, multi=True, default=[])}
    ignored = sync_from_url("companies", specs)
    if ignored:
        wanted = [pair.split("=", 1)[1] for pair in ignored]
        close = [m for w in wanted for m in difflib.get_close_matches(w, names, n=3, cutoff=0.6)]
        notice_ignored(ignored, known=("Did you mean: " + ", ".join(md_escape(c) for c in dict.fromkeys(close)) + "?")
                       if close else "")
    chosen = st.multiselect("Companies", names, key="company",
                            placeholder="All companies: pick one or more to narrow the table")
    write_to_url("companies", specs, {"company": chosen})
    return chosen


def resource_table(corpus: Corpus, frame: pd.DataFrame, chosen: list[str], store: ProgressStore | None) -> None:
    """The chosen companies' resources, with Read / ★ / note columns saved as they are edited."""
    shown = frame[frame["company"].isin(chosen)] if chosen else frame
    links = LinkStore()
    shown = shown.assign(link=[links.status_of(u) for u in shown["url"]])
    shown = shown.assign(archive=[archive_url(u) if s == "dead" else None for u, s in zip(shown["url"], shown["link"])])
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    show = c1.segmented_control("Show", list(SHOW_CHOICES), key="companies_show", format_func=SHOW_CHOICES.get,
                                default="all", required=True,
                                help="Your reading progress: tick Read or Bookmark in the table")
    if show == "unread":
        shown = shown[~shown["read"]]
    elif show == "bookmarked":
        shown = shown[shown["bookmarked"]]
    if c2.toggle("Hide dead links", key="companies_hide_dead", help="Links found dead (404/410) by the last link check"):
        shown = shown[shown["link"] != "dead"]
    shown = shown.assign(year=shown["year"].astype("string").fillna(""))  # blank, not "None", when unknown
    label = ", ".join(chosen) if chosen else "all companies"
    st.caption(f"{len(shown)} resources from {md_escape(label)}")
    for name in chosen:
        company = corpus.company_by_id.get(corpus.resolve_company(name) or "")
        if company is not None and company.notes:
            st.caption(f"{md_escape(company.name)} also mentions, without a link: "
                       + "; ".join(md_escape(n) for n in company.notes))

    shown = shown.reset_index(drop=True)
    by_id = corpus.resource_by_id
    # The editor's key follows the rows and their saved state: after a change is saved (or a
    # filter hides a row) the table starts fresh, so a remembered edit never lands on another row.
    state = hashlib.sha1(repr(shown[["id", "read", "bookmarked", "note"]].values.tolist()).encode()).hexdigest()[:12]
    table_key = f"companies_table_{state}"

    def save_table_edits() -> None:
        """Write the ticked boxes and typed notes of the table to the progress database."""
        assert store is not None
        for row, changes in st.session_state[table_key].get("edited_rows", {}).items():
            resource = by_id[shown.at[int(row), "id"]]
            for column, value in changes.items():
                if column in EDITABLE:
                    save_reading(store, resource, EDITABLE[column], value)

    st.data_editor(
        shown[COLUMNS],
        key=table_key, hide_index=True, width="stretch",
        disabled=[c for c in COLUMNS if c not in EDITABLE or store is None],
        on_change=save_table_edits if store is not None else None,
        column_config={
            "read": st.column_config.CheckboxColumn("Read", width="small", help="Tick what you have read"),
            "bookmarked": st.column_config.CheckboxColumn("★", width="small", help="Bookmark to read later"),
            "note": st.column_config.TextColumn("Your note", width="medium", max_chars=2000),
            "title": st.column_config.TextColumn("Title", width="large"),
            "company": st.column_config.TextColumn("Company"),
            "kind": st.column_config.TextColumn("Kind"),
            "year": st.column_config.TextColumn("Year", width="small"),
            "topics": st.column_config.TextColumn("Topics", width="medium"),
            "source": st.column_config.TextColumn("Source", width="small",
                                                  help="bundled, or the imported list it came from"),
            "url": st.column_config.LinkColumn("Link", display_text="open ↗", width="small"),
            "link": st.column_config.TextColumn("Status", width="small",
                                                help="alive, redirected, dead, unknown or unchecked (mlsd check-links)"),
            "archive": st.column_config.LinkColumn("Archive", display_text="archived copy", width="small"),
        },
    )


def corpus_chart(corpus: Corpus, frame: pd.DataFrame) -> None:
    st.subheader("The whole corpus")
    by = st.segmented_control("Break down by", ["Topic", "Kind"], default="Topic", key="companies_by", required=True)
    if by == "Kind":
        counts = frame.groupby(["company", "kind"]).size().reset_index(name="resources")
        color = "kind"
    else:
        exploded = frame.explode("topic_ids")
        exploded["root topic"] = exploded["topic_ids"].map(corpus.root_topic_name)
        counts = (exploded.drop_duplicates(["id", "root topic"]).groupby(["company", "root topic"]).size()
                  .reset_index(name="resources"))
        color = "root topic"
    fig = tidy_chart(px.bar(counts, x="company", y="resources", color=color), height=420)
    fig.update_layout(xaxis_title=None)
    st.plotly_chart(fig, key="companies_chart")


def main() -> None:
    corpus = corpus_or_stop()
    store, reading = reading_state()
    frame = reading_frame(corpus, reading)
    frame["company"] = frame["company"].fillna("General")
    frame["kind"] = frame["kind"].fillna("Unclassified")  # imported lists do not say the kind
    st.title("Company case studies")
    chosen = pick_companies(corpus)
    resource_table(corpus, frame, chosen, store)
    corpus_chart(corpus, frame)


main()
