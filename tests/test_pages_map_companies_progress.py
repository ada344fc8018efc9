"""The Map, Companies and Progress pages, and the company model, over an imported list.

The list (``fixtures/pages/companies.csv``, 40 invented rows) spells companies the way real
lists do: ``DoorDash``/``Doordash``, ``eBay``/``Ebay``, ``Meta`` for the bundled Facebook,
``Uber`` beside ``Uber Freight`` and ``Max Planck Institute…`` (which a fuzzy filter matches on
"uber"), a company name that is HTML, and a title that is a spreadsheet formula. It is imported
once with the ``HashingEmbedder`` (no model), so these tests stay in the fast tier.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.test_app import open_page, texts, unescape

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pages" / "companies.csv"
LIST_NAME = "case-variants"
HOSTILE = '<a href="https://evil.example/co">EvilCo</a>'
TITLES = {row["source_url"]: row["title"] for row in csv.DictReader(FIXTURE.open(encoding="utf-8"))}


@pytest.fixture(scope="session")
def imported_library(small_index, tmp_path_factory):
    """A home holding the bundled index plus the fixture list, imported with the HashingEmbedder."""
    from mlsd.embed import HashingEmbedder
    from mlsd.library import import_source

    home = tmp_path_factory.mktemp("pages-imported-home")
    shutil.copytree(small_index / "index", home / "index")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSD_HOME", str(home))
        report = import_source(str(FIXTURE), name=LIST_NAME, embedder=HashingEmbedder())
    assert report.new == 40, report
    return home


@pytest.fixture
def imported_home(imported_library, tmp_path, monkeypatch):
    """A fresh copy of that home, the app set to the HashingEmbedder."""
    folder = tmp_path / "imported-home"
    shutil.copytree(imported_library, folder)
    monkeypatch.setenv("MLSD_HOME", str(folder))
    monkeypatch.setenv("MLSD_EMBEDDER", "hashing")
    return folder


@pytest.fixture
def imported_corpus(imported_home):
    from mlsd.corpus import load_corpus

    return load_corpus()


def shown_titles(editor) -> list[str]:
    """What the Companies table shows in its link column: the display text Streamlit draws."""
    import io

    import pyarrow as pa

    shown = pa.ipc.open_stream(io.BytesIO(editor.proto.arrow_data.styler.display_values)).read_all().to_pandas()
    return shown["url"].tolist()


def plotly_figure(at) -> dict:
    charts = at.get("plotly_chart")
    assert charts, "the page shows no chart"
    return json.loads(charts[0].proto.spec)


# -- 7. companies: one name per company, aliases both ways ---------------------------------------------
def test_case_and_punctuation_variants_are_one_company(imported_corpus):
    corpus = imported_corpus
    names = corpus.company_names
    for one, other in (("DoorDash", "Doordash"), ("eBay", "Ebay"), ("GitHub", "Github"), ("TikTok", "Tiktok"),
                       ("Google DeepMind", "Google Deepmind")):
        assert one in names and other not in names, (one, other)
    assert len({n.casefold() for n in names}) == len(names)
    by_company = corpus.stats()["by_company"]
    assert by_company["DoorDash"] == 5 and by_company["eBay"] == 3 and by_company["GitHub"] == 3
    # The bundled company's name wins, and its imported items join it.
    assert "Meta" not in names and by_company["Facebook"] == 4 + sum(r.company == "facebook" for r in corpus.resources)
    assert corpus.company_name("Doordash") == "DoorDash"
    items = [i for i in corpus.items if i.type == "resource" and i.source == LIST_NAME]
    assert {i.company for i in items if "dash" in (i.company or "").casefold()} == {"DoorDash"}


@pytest.mark.parametrize("typed,expected", [
    ("Meta", "facebook"), ("meta", "facebook"), ("FACEBOOK", "facebook"), ("doordash", "DoorDash"),
    ("Door-Dash", "DoorDash"), ("ebay", "eBay"), ("Uber", "Uber"), ("uber freight", "Uber Freight"),
    ("Nope", None), ("", None),
])
def test_resolve_company_accepts_any_spelling_and_alias(imported_corpus, typed, expected):
    assert imported_corpus.resolve_company(typed) == expected


def test_search_filters_accept_an_alias_and_a_variant(imported_home, imported_corpus):
    from mlsd.embed import HashingEmbedder
    from mlsd.search import Filters, open_engine

    engine = open_engine(imported_corpus, HashingEmbedder())
    meta = engine.search("ranking", k=50, filters=Filters(types=["resource"], companies=["Meta"]))
    assert meta and {h.company for h in meta} == {"Facebook"}
    assert "Reels Ranking With Multi-Task Models" in {h.title for h in meta}
    dash = engine.search("delivery", k=50, filters=Filters(companies=["doordash"]))
    assert len(dash) == 5 and {h.company for h in dash} == {"DoorDash"}


def test_home_counts_every_company(imported_home, imported_corpus):
    at = open_page("pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Companies"] == str(len(imported_corpus.company_names))
    assert int(metrics["Companies"]) > 20


@pytest.mark.parametrize("param,chosen", [("Meta", "Facebook"), ("doordash", "DoorDash"), ("Facebook", "Facebook")])
def test_companies_link_accepts_any_name_of_a_company(imported_home, param, chosen):
    at = open_page("pages/companies.py", company=param)
    assert not at.exception, at.exception
    assert at.multiselect(key="company").value == [chosen]
    assert not at.info, [i.value for i in at.info]  # nothing was ignored
    table = at.dataframe[0].value
    assert set(table["company"]) == {chosen}
    if chosen == "Facebook":
        assert "Reels Ranking With Multi-Task Models" in shown_titles(at.dataframe[0])  # an imported "Meta" row


def test_company_filter_is_a_search_that_finds_aliases_and_never_bulk_selects(imported_home):
    at = open_page("pages/companies.py")
    picker = at.multiselect(key="company")
    proto = picker.proto
    labels = list(proto.options)
    assert proto.filter_mode == 1  # FILTER_MODE_CONTAINS: substring, not the fuzzy subsequence match
    assert proto.select_all == 0  # Enter picks the first match, never "Select all N matches"
    # "meta" typed in the box finds Facebook: its label names the alias.
    facebook = next(label for label in labels if label.startswith("Facebook"))
    assert "Meta" in facebook
    # "uber" (contains) matches only companies with "uber" in the name, Uber first.
    uber = [label for label in labels if "uber" in label.casefold()]
    assert uber[0].startswith("Uber") and not any("Max Planck" in label for label in uber)


def test_an_unknown_company_in_the_link_is_named_with_close_matches(imported_home):
    at = open_page("pages/companies.py", company="Doordsh")
    assert not at.exception
    notice = " ".join(unescape(str(i.value)) for i in at.info)
    assert "company=Doordsh" in notice and "Did you mean: DoorDash" in notice, notice
    assert at.multiselect(key="company").value == []
    notice = " ".join(unescape(str(i.value)) for i in open_page("pages/companies.py", company="Nope").info)
    assert "company=Nope" in notice and "Did you mean" not in notice and "No company goes by that name" in notice


# -- 10. companies table -----------------------------------------------------------------------------
def test_companies_table_links_the_title_shows_the_summary_and_drops_empty_columns(imported_home):
    at = open_page("pages/companies.py", company="DoorDash")
    assert not at.exception, at.exception
    editor = at.dataframe[0]
    table = editor.value
    assert len(table) == 5
    assert "Batched bipartite matching of orders to dashers." in set(table["summary"])
    config = json.loads(editor.proto.columns)
    shown = list(editor.proto.column_order)
    # No "Archive" column when no link is dead; no "Topics" or "Kind" column when nothing has one.
    assert "archive" not in shown and "topics" not in shown and "kind" not in shown, shown
    # The title is the link: the url column is labelled "Title" and shows each row's title, not "open ↗".
    url = config["url"]
    assert url.get("label") == "Title" and url.get("type_config", {}).get("display_text") in (None, "")
    assert shown_titles(editor)[:1] == [table["url"].map(TITLES.get).iloc[0]] and shown_titles(editor)[0]
    assert "title" not in shown and "summary" in shown and shown.index("url") < shown.index("summary")


def test_companies_page_offers_a_card_list_for_phones(imported_home):
    at = open_page("pages/companies.py", company="DoorDash")
    page = texts(at)
    assert "Dasher Assignment With Batched Matching" in page  # a card, not just a grid cell
    assert "Batched bipartite matching of orders to dashers." in page
    keys = [w.key for w in at.checkbox if w.key]
    assert any(k.startswith("companies_card_read_") for k in keys), keys


def test_a_read_mark_from_a_card_is_saved(imported_home, imported_corpus):
    from mlsd.progress import ProgressStore

    at = open_page("pages/companies.py", company="DoorDash")
    first = next(r for r in imported_corpus.resources if r.company == "DoorDash")
    at.checkbox(key=f"companies_card_read_{first.id}").check().run()
    assert not at.exception, at.exception
    assert ProgressStore(imported_home / "progress.db").reading(first).read
    assert at.dataframe[0].value["read"].sum() == 1  # the table shows it too


def test_the_companies_grid_neutralises_formulas_for_its_own_csv_download(imported_home):
    at = open_page("pages/companies.py", company="Sheetly")
    assert not at.exception, at.exception
    buttons = [b for b in at.get("download_button") if "csv" in str(b.proto.label).lower()]
    assert buttons, "the Companies page offers the rows as CSV"
    table = at.dataframe[0].value
    assert table["summary"].tolist() == ["'+cmd|' /C calc'!A0"]  # the grid's toolbar exports these values
    assert shown_titles(at.dataframe[0]) == ['=HYPERLINK("https://evil.example/x","Click me")']  # shown as it is


def test_csv_safe_neutralises_cells_a_spreadsheet_would_run():
    from mlsd.views import csv_safe

    frame = pd.DataFrame({"title": ['=HYPERLINK("x")', "+cmd", "-1+2", "@SUM(A1)", "\tTab", "\rCR", "Plain", None],
                          "year": [2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027]})
    safe = csv_safe(frame)
    assert safe["title"].tolist()[:7] == ["'=HYPERLINK(\"x\")", "'+cmd", "'-1+2", "'@SUM(A1)", "'\tTab", "'\rCR", "Plain"]
    assert pd.isna(safe["title"].iloc[7])
    assert safe["year"].tolist() == frame["year"].tolist()  # numbers untouched
    assert frame["title"].iloc[0] == '=HYPERLINK("x")'  # the input is not changed


# -- 9. the map --------------------------------------------------------------------------------------------
def test_map_colours_by_one_dimension_with_a_short_legend_and_webgl(imported_home):
    at = open_page("pages/map.py")
    assert not at.exception, at.exception
    at.segmented_control(key="color").set_value("company").run()
    figure = plotly_figure(at)
    traces = figure["data"]
    assert all(t["type"] == "scattergl" for t in traces), {t["type"] for t in traces}
    names = [t.get("name") for t in traces if t.get("showlegend", True)]
    assert len(names) <= 14, names
    assert "Other companies" in names
    assert all(t["marker"]["size"] <= 9 for t in traces)


def test_map_topic_colouring_puts_items_without_a_topic_in_one_group(imported_home):
    at = open_page("pages/map.py", color="topic")
    figure = plotly_figure(at)
    names = [t.get("name") for t in figure["data"]]
    assert "No topic yet" in names, names
    assert "Recommendation systems" in names
    no_topic = next(t for t in figure["data"] if t["name"] == "No topic yet")
    assert len(no_topic["x"] if isinstance(no_topic["x"], list) else no_topic["x"]["bdata"]) > 0


def test_map_shows_text_from_lists_as_text_not_html(imported_home):
    at = open_page("pages/map.py", color="company", company=[HOSTILE, "<b>Bold</b> Labs"])
    assert not at.exception, at.exception
    figure = plotly_figure(at)
    text = json.dumps(figure, ensure_ascii=False)
    assert "<a href" not in text and "<b>Bold" not in text and "<i>A summary" not in text
    names = {t["name"] for t in figure["data"]}
    assert names == {'&lt;a href="https://evil.example/co"&gt;EvilCo&lt;/a&gt;', "&lt;b&gt;Bold&lt;/b&gt; Labs"}
    hovers = " ".join(c[1] + c[2] for t in figure["data"] for c in t["customdata"])
    assert "&lt;b&gt;Bold&lt;/b&gt; Labs" in hovers and "<b>Bold" not in hovers


def test_map_filters_like_search(imported_home, imported_corpus):
    at = open_page("pages/map.py", type="resource", company="Meta")
    assert not at.exception, at.exception
    assert at.multiselect(key="company").value == ["Facebook"]
    figure = plotly_figure(at)
    ids = [c[0] for t in figure["data"] for c in t["customdata"]]
    facebook = [r.id for r in imported_corpus.resources if imported_corpus.company_name(r.company) == "Facebook"]
    assert sorted(ids) == sorted(facebook)
    at = open_page("pages/map.py", source=LIST_NAME, color="source")
    ids = [c[0] for t in plotly_figure(at)["data"] for c in t["customdata"]]
    assert len(ids) == 40
    at = open_page("pages/map.py", topic="recommendation-systems", type="topic")
    ids = {c[0] for t in plotly_figure(at)["data"] for c in t["customdata"]}
    assert ids == set(imported_corpus.subtree("recommendation-systems"))


# -- 11. progress ------------------------------------------------------------------------------------------
@pytest.fixture
def store(imported_home):
    from mlsd.progress import ProgressStore

    return ProgressStore(imported_home / "progress.db")


def test_progress_page_survives_a_read_case_study_without_a_company(pages_home, corpus):
    from mlsd.progress import ProgressStore

    general = next(r for r in corpus.resources if r.company is None)
    ProgressStore(pages_home / "progress.db").set_read(general)
    at = open_page("pages/progress.py")
    assert not at.exception, at.exception
    assert general.title in texts(at)


def test_bookmarked_unread_items_do_not_say_read_nan(store, imported_corpus):
    resource = imported_corpus.resource_by_id[next(r.id for r in imported_corpus.resources if r.company == "netflix")]
    store.set_bookmark(resource)
    store.set_note(next(r for r in imported_corpus.resources if r.company == "google"), "noted, not read")
    store.set_read(next(r for r in imported_corpus.resources if r.company == "aws"))  # read_at is text for one row
    at = open_page("pages/progress.py")
    assert not at.exception, at.exception
    page = texts(at)
    assert "read nan" not in page and "read NaT" not in page


def test_progress_shows_the_core_list_apart_from_imported_lists(store, imported_corpus):
    bundled = [r for r in imported_corpus.resources if r.source == "bundled"]
    imported = [r for r in imported_corpus.resources if r.source == LIST_NAME]
    store.set_read(bundled[0])
    store.set_read(bundled[1])
    store.set_read(imported[0])
    at = open_page("pages/progress.py")
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Core case studies read"] == f"2 of {len(bundled)}", metrics
    assert metrics["From your imported lists"] == f"1 of {len(imported)}", metrics
    by_source = next(d.value for d in at.dataframe if "name" in d.value and LIST_NAME in set(d.value["name"]))
    assert by_source.set_index("name").loc[LIST_NAME, "read"] == 1


def test_read_next_suggests_from_what_was_read_last_without_picking_a_topic(store, imported_corpus):
    bundled = [r for r in imported_corpus.resources if r.source == "bundled"]
    store.set_read(bundled[0])
    at = open_page("pages/progress.py")
    suggested = [k.removeprefix("next_read_") for k in (w.key for w in at.checkbox) if k and k.startswith("next_read_")]
    assert suggested and bundled[0].id not in suggested, suggested
    assert bundled[0].title in texts(at)  # "nearest to what you read last: <title>"


def test_read_next_falls_back_to_the_core_list(imported_home, imported_corpus):
    at = open_page("pages/progress.py")
    suggested = [k.removeprefix("next_read_") for k in (w.key for w in at.checkbox) if k and k.startswith("next_read_")]
    bundled = {r.id for r in imported_corpus.resources if r.source == "bundled"}
    assert suggested and set(suggested) <= bundled, suggested


def test_views_never_hand_a_page_nan_for_text(corpus):
    from mlsd.views import reading_frame

    frame = reading_frame(corpus, {})
    for column in ("title", "company", "summary", "source", "read_on", "note"):
        assert not frame[column].isna().any(), column
        assert all(isinstance(v, str) for v in frame[column]), column
