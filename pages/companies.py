"""Companies: pick companies, see their resources in a sortable table, and the corpus by company."""

import hashlib

import plotly.express as px
import streamlit as st

from mlsd.links import LinkStore, archive_url
from mlsd.progress import reading_frame
from pages.common import (SHOW_CHOICES, all_reading, corpus_or_stop, md_escape, progress_store, save_reading,
                          show_progress_error)

corpus = corpus_or_stop()
store = progress_store()
frame = reading_frame(corpus, all_reading(store))
frame["company"] = frame["company"].fillna("General")
frame["kind"] = frame["kind"].fillna("Unclassified")  # imported lists do not say the kind
names = list(corpus.company_names)  # bundled companies, then those only imported lists name

st.title("Company case studies")
unknown = [v for v in st.query_params.get_all("company") if v and v not in names]
if unknown:
    st.info(f"Ignored unknown company in the link: {', '.join(unknown)}. Known: {', '.join(names)}.",
            icon=":material/info:")

chosen = st.multiselect("Companies", names, key="company", bind="query-params",
                        placeholder="All companies: pick one or more to narrow the table")
shown = frame[frame["company"].isin(chosen)] if chosen else frame
links = LinkStore()
shown = shown.assign(link=[links.status_of(u) for u in shown["url"]])
shown = shown.assign(archive=[archive_url(u) if s == "dead" else None for u, s in zip(shown["url"], shown["link"])])
c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
show = c1.segmented_control("Show", list(SHOW_CHOICES), key="companies_show", format_func=SHOW_CHOICES.get,
                            default="all", required=True, help="Your reading progress: tick Read or Bookmark in the table")
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
        st.caption(f"{md_escape(company.name)} also mentions, without a link: " + "; ".join(md_escape(n) for n in company.notes))

COLUMNS = ["read", "bookmarked", "note", "title", "company", "kind", "year", "topics", "source", "url", "link", "archive"]
EDITABLE = {"read": "read", "bookmarked": "bookmark", "note": "note"}
shown = shown.reset_index(drop=True)
by_id = corpus.resource_by_id
# The editor's key follows the rows and their saved state: after a change is saved (or a filter
# hides a row) the table starts fresh, so a remembered edit never lands on another row.
state = hashlib.sha1(repr(shown[["id", "read", "bookmarked", "note"]].values.tolist()).encode()).hexdigest()[:12]
table_key = f"companies_table_{state}"


def save_table_edits() -> None:
    """Write the ticked boxes and typed notes of the table to the progress database."""
    for row, changes in st.session_state[table_key].get("edited_rows", {}).items():
        resource = by_id[shown.at[int(row), "id"]]
        for column, value in changes.items():
            if column in EDITABLE:
                save_reading(store, resource, EDITABLE[column], value)


show_progress_error()
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
        "source": st.column_config.TextColumn("Source", width="small", help="bundled, or the imported list it came from"),
        "url": st.column_config.LinkColumn("Link", display_text="open ↗", width="small"),
        "link": st.column_config.TextColumn("Status", width="small",
                                            help="alive, redirected, dead, unknown or unchecked (mlsd check-links)"),
        "archive": st.column_config.LinkColumn("Archive", display_text="archived copy", width="small"),
    },
)

st.subheader("The whole corpus")
by = st.segmented_control("Break down by", ["Topic", "Kind"], default="Topic", key="companies_by", required=True)
if by == "Kind":
    counts = frame.groupby(["company", "kind"]).size().reset_index(name="resources")
    color = "kind"
else:
    roots = {t.id: corpus.topic_path(t.id)[0].name for t in corpus.topics}
    exploded = frame.explode("topic_ids")
    exploded["root topic"] = exploded["topic_ids"].map(roots)
    counts = exploded.drop_duplicates(["id", "root topic"]).groupby(["company", "root topic"]).size().reset_index(name="resources")
    color = "root topic"
fig = px.bar(counts, x="company", y="resources", color=color, height=420)
fig.update_layout(margin=dict(t=10, l=10, r=10, b=10), xaxis_title=None, legend_title=None)
st.plotly_chart(fig, key="companies_chart")
