"""Companies: pick companies, see their resources in a sortable table, and the corpus by company."""

import plotly.express as px
import streamlit as st

from mlsd.links import LinkStore, archive_url
from pages.common import corpus_or_stop, md_escape

corpus = corpus_or_stop()
frame = corpus.resources_frame()
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
if st.toggle("Hide dead links", key="companies_hide_dead", help="Links found dead (404/410) by the last link check"):
    shown = shown[shown["link"] != "dead"]
shown = shown.assign(year=shown["year"].astype("string").fillna(""))  # blank, not "None", when unknown
label = ", ".join(chosen) if chosen else "all companies"
st.caption(f"{len(shown)} resources from {md_escape(label)}")
for name in chosen:
    company = corpus.company_by_id.get(corpus.resolve_company(name) or "")
    if company is not None and company.notes:
        st.caption(f"{md_escape(company.name)} also mentions, without a link: " + "; ".join(md_escape(n) for n in company.notes))

st.dataframe(
    shown[["title", "company", "kind", "year", "topics", "source", "url", "link", "archive"]],
    key="companies_table", hide_index=True, width="stretch",
    column_config={
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
