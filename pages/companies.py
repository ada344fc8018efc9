"""Companies: find companies by any name, read their case studies in a table (wide screens) or as
cards (phones), with Read / ★ / note saved as you go, and see the corpus by company."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from mlsd.linkstore import LinkStore, archive_url
from mlsd.model import Corpus
from mlsd.progress import ProgressStore, Reading
from mlsd.views import NO_COMPANY, NO_TOPIC, company_counts, company_label, csv_safe, html_text, reading_frame
from ui.render import (
    PAGE_SUMMARY,
    SHOW_CHOICES,
    link_badge,
    md_escape,
    md_link,
    page_summary_caption,
    reading_controls,
    save_reading,
    tidy_chart,
)
from ui.state import corpus_or_stop, reading_state
from ui.urlstate import UrlParam, notice_ignored, sync_from_url, write_to_url

# Table columns, in order; those that hold nothing for the rows shown are left out.
COLUMNS = ["read", "bookmarked", "url", "company", "year", "summary", "summary_from", "note", "kind", "topics", "tags",
           "source", "link", "archive"]
OPTIONAL = ("year", "summary_from", "kind", "topics", "tags", "source", "link", "archive")
EDITABLE = {"read": "read", "bookmarked": "bookmark", "note": "note"}
EXPORT = ["title", "url", "company", "year", "kind", "topics", "tags", "source", "summary", "summary_from", "read",
          "bookmarked", "note", "link"]
STYLED_CELLS = 200_000  # under pandas' styler.render.max_elements (262,144), or the table would fail
CARDS = 20  # cards per "show more" on a phone
TOP_CHART = 20  # companies in the corpus chart
# Below 640 px the table gives way to cards (Streamlit's own breakpoint for stacking columns).
NARROW_CSS = """<style>
@media (max-width: 640px) { .st-key-companies_wide { display: none; } }
@media (min-width: 641px) { .st-key-companies_narrow { display: none; } }
</style>"""


def pick_companies(corpus: Corpus, counts: dict[str, int]) -> list[str]:
    """The company filter: a search over names and aliases, most case studies first, in the URL."""
    names = list(counts)

    def parse(text: str) -> str:
        resolved = corpus.resolve_company(text)
        if resolved is None:
            raise ValueError(text)
        return corpus.company_name(resolved) or text

    specs = {"company": UrlParam(names, multi=True, default=[], parse=parse)}
    ignored = sync_from_url("companies", specs)
    if ignored:
        close = [c for pair in ignored for c in corpus.closest_companies(pair.split("=", 1)[1])]
        notice_ignored(ignored, known=("Did you mean: " + ", ".join(md_escape(c) for c in dict.fromkeys(close)) + "?")
                       if close else "No company goes by that name: type part of one in the Companies box.")
    # "contains", not the default fuzzy match: "uber" must not match "Max Planck Institute for
    # Biochemistry". No "select all": Enter picks the first match (the company with most case studies).
    chosen = st.multiselect("Companies", names, key="company", format_func=lambda c: company_label(corpus, c, counts),
                            filter_mode="contains", select_all=False, placeholder="All companies: type to find one",
                            help="Finds a company by any part of its name or another name it goes by (Meta finds "
                                 "Facebook). Spellings that differ only in case or punctuation are one company.")
    write_to_url("companies", specs, {"company": chosen})
    return chosen


def filtered(frame: pd.DataFrame, chosen: list[str]) -> pd.DataFrame:
    """The chosen companies' rows, after the Show and Hide-dead-links controls, with link status."""
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
    shown = shown.assign(year=shown["year"].astype("string").fillna(""),  # blank, not "None", when unknown
                         kind=shown["kind"].fillna(""))  # imported lists do not say the kind
    return shown.reset_index(drop=True)


def visible_columns(shown: pd.DataFrame) -> list[str]:
    """The table's columns without those that say nothing for these rows (all blank, or all 'unchecked')."""
    def empty(column: str) -> bool:
        values = shown[column]
        if column == "link":
            return bool((values == "unchecked").all())
        if column == "source":
            return values.nunique() <= 1  # one source: the caption names it
        return bool(values.isna().all() or (values.astype("string").fillna("") == "").all())
    return [c for c in COLUMNS if c not in OPTIONAL or not empty(c)]


def resource_table(corpus: Corpus, shown: pd.DataFrame, store: ProgressStore | None) -> None:
    """The rows as a table with Read / ★ / note columns saved as they are edited (wide screens)."""
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

    columns = visible_columns(shown)
    # The grid can download itself as CSV: text from lists is neutralised there too (not the
    # user's own notes, which are edited in place).
    table = csv_safe(shown[columns], [c for c in columns if c not in EDITABLE])
    link = st.column_config.LinkColumn("Title", width="large", pinned=True, help="Opens the case study in a new tab")
    if table.size <= STYLED_CELLS:
        # The link column shows each row's title (Streamlit shows a Styler's text in a read-only
        # link column), so the title is the link and never scrolls away from it.
        titles = dict(zip(shown["url"], shown["title"]))
        data: Any = table.style.format({"url": lambda url: titles.get(url, url)}, na_rep="")
    else:  # past what pandas' Styler renders: the title as text, the link an icon beside it
        table = csv_safe(shown[["title", *columns]], ["title", *(c for c in columns if c not in EDITABLE)])
        columns.insert(columns.index("url"), "title")
        data = table
        link = st.column_config.LinkColumn("Link", display_text=":material/open_in_new:", width=40, pinned=True)
    st.data_editor(
        data,
        key=table_key, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 640),
        column_order=columns,
        disabled=[c for c in table.columns if c not in EDITABLE or store is None],
        on_change=save_table_edits if store is not None else None,
        column_config={
            "read": st.column_config.CheckboxColumn("Read", width=64, pinned=True, help="Tick what you have read"),
            "bookmarked": st.column_config.CheckboxColumn("★", width=48, pinned=True, help="Bookmark to read later"),
            "title": st.column_config.TextColumn("Title", width="large", pinned=True),
            "url": link,
            "company": st.column_config.TextColumn("Company", width="small"),
            "year": st.column_config.TextColumn("Year", width=55),
            "summary": st.column_config.TextColumn("Summary", width="large"),
            "summary_from": st.column_config.TextColumn(
                "Summary from", width="small",
                help=f"page: {PAGE_SUMMARY.lower()} (the list gave none; mlsd import --enrich)"),
            "note": st.column_config.TextColumn("Your note", width="medium", max_chars=2000),
            "kind": st.column_config.TextColumn("Kind", width="small"),
            "topics": st.column_config.TextColumn("Topics", width="medium",
                                                  help="Curated for the core list; filed automatically for imported lists"),
            "tags": st.column_config.TextColumn("Tags", width="medium", help="The imported list's own categories and tags"),
            "source": st.column_config.TextColumn("Source", width="small",
                                                  help="bundled, or the imported list it came from"),
            "link": st.column_config.TextColumn("Status", width="small",
                                                help="alive, redirected, dead, unknown or unchecked (mlsd check-links)"),
            "archive": st.column_config.LinkColumn("Archive", display_text="archived copy", width="small"),
        },
    )


def resource_cards(corpus: Corpus, shown: pd.DataFrame, store: ProgressStore | None,
                   reading: dict[str, Reading]) -> None:
    """The same rows as cards, for phones: title link, company and year, summary, Read / Bookmark / note."""
    limit = st.session_state.get("companies_cards_limit", CARDS)
    for row in shown.head(limit).itertuples():
        resource = corpus.resource_by_id[row.id]
        with st.container(border=True, key=f"companies_card_{row.id}"):
            meta = " · ".join(p for p in (row.company, row.year, row.kind, row.tags) if p)
            st.markdown(f"**{md_link(row.title, row.url)}**  \n:gray[{md_escape(meta)}] {link_badge(row.url, row.link)}")
            if row.summary:
                st.caption(md_escape(row.summary))
                page_summary_caption(resource)
            reading_controls(store, resource, reading, "companies_card")
    if len(shown) > limit:
        if st.button(f"Show {min(CARDS, len(shown) - limit)} more of {len(shown) - limit}", key="companies_cards_more"):
            st.session_state["companies_cards_limit"] = limit + CARDS
            st.rerun()


def corpus_chart(corpus: Corpus, frame: pd.DataFrame) -> None:
    st.subheader("The whole corpus")
    by = st.segmented_control("Break down by", ["Topic", "Kind"], default="Topic", key="companies_by", required=True)
    companies = frame.loc[frame["company"] != NO_COMPANY, "company"].nunique()
    top = list(frame["company"].value_counts().index[:TOP_CHART])
    frame = frame[frame["company"].isin(top)]
    if by == "Kind":
        counts = frame.groupby(["company", "kind"]).size().reset_index(name="resources")
        color = "kind"
    else:
        exploded = frame.explode("topic_ids")
        exploded["root topic"] = exploded["topic_ids"].map(corpus.root_topic_name).fillna(NO_TOPIC)
        counts = (exploded.drop_duplicates(["id", "root topic"]).groupby(["company", "root topic"]).size()
                  .reset_index(name="resources"))
        color = "root topic"
    # Plotly renders <a> and <b> in labels: names from lists are escaped.
    counts = counts.assign(company=counts["company"].map(html_text), **{color: counts[color].map(html_text)})
    quiet = {NO_TOPIC: "#c9ccd1", "Unclassified": "#c9ccd1"}  # what lists do not say: there, never loud
    fig = tidy_chart(px.bar(counts, x="company", y="resources", color=color, color_discrete_map=quiet,
                            category_orders={"company": [html_text(c) for c in top]}), height=420)
    fig.update_layout(xaxis_title=None)
    st.plotly_chart(fig, key="companies_chart")
    if companies > TOP_CHART:
        st.caption(f"The {TOP_CHART} companies with the most case studies, of {companies:,}.")


def main() -> None:
    corpus = corpus_or_stop()
    store, reading = reading_state()
    frame = reading_frame(corpus, reading)
    st.title("Company case studies")
    st.html(NARROW_CSS)
    chosen = pick_companies(corpus, company_counts(corpus))
    shown = filtered(frame, chosen)
    label = ", ".join(chosen) if chosen else "all companies"
    sources = sorted(set(shown["source"]))
    origin = f" ({'core list' if sources == ['bundled'] else 'from ' + sources[0]})" if len(sources) == 1 else ""
    st.caption(f"{len(shown)} resources from {md_escape(label)}{md_escape(origin)}")
    for name in chosen:
        company = corpus.company_by_id.get(corpus.resolve_company(name) or "")
        if company is not None and company.notes:
            st.caption(f"{md_escape(company.name)} also mentions, without a link: "
                       + "; ".join(md_escape(n) for n in company.notes))
    with st.container(key="companies_wide"):
        resource_table(corpus, shown, store)
    with st.container(key="companies_narrow"):
        resource_cards(corpus, shown, store, reading)
    st.download_button("Download these rows (CSV)", csv_safe(shown[EXPORT]).to_csv(index=False).encode("utf-8"),
                       file_name="mlsd-case-studies.csv", mime="text/csv", icon=":material/download:",
                       key="companies_csv", help="Cells that a spreadsheet would run as formulas are quoted")
    corpus_chart(corpus, frame.assign(kind=frame["kind"].fillna("Unclassified")))


main()
