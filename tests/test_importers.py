"""The importer's parsers on small lists written for these tests, plus the two real lists."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlsd.errors import SourceError
from mlsd.fetch import read_source
from mlsd.importers import (
    LOOKS_LIKE_HTML,
    NOTHING_RECOGNIZED,
    ImportedItem,
    dedupe,
    detect_format,
    normalize_company,
    parse,
    parse_report,
)
from mlsd.urls import normalize_url

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# -- CSV ------------------------------------------------------------------------------------


def test_csv_in_the_case_studies_format():
    report = parse_report(fixture_text("cases.csv"), origin="cases.csv")

    assert report.format == "csv"
    assert report.items == [
        ImportedItem(
            title="Ranking Recipes for Weeknight Cooks",
            url="https://eng.skillet.example/ranking-recipes",
            company="Skillet",
            year=2023,
            tags=("two-tower", "cold-start", "ranking", "recsys"),
            summary="Skillet ranks recipes with a two-tower model, cutting cold-start misses by 9%.",
            industry="Food delivery",
        ),
        ImportedItem(
            title="Forecasting Bike Dock Demand",
            url="http://www.pedalco.example/blog/dock-demand/?utm_source=news&id=7",
            company="Pedalco",
            year=2021,
            tags=("time-series", "forecasting", "demand"),
            summary="",
            industry=None,
        ),
        ImportedItem(
            title="Query Understanding at Shelfwise",
            url="https://shelfwise.example/query",
            company="Shelfwise",
            year=None,
            tags=("query-rewriting", "llm", "search", "query-understanding"),
            summary="Summary over\ntwo lines, with a comma.",
            industry="E-commerce",
        ),
    ]
    # Lines are physical lines of the file: the quoted two-line summary pushes row x006 to line 8.
    assert report.skipped == [
        "cases.csv, line 4: no title",
        "cases.csv, line 5: 'ftp://files.example/fraud.pdf' is not an http(s) URL",
        "cases.csv, line 8: no URL",
    ]


def test_csv_columns_are_matched_by_other_names_and_dates_give_years():
    items = parse(fixture_text("flexible.csv"))

    assert [(i.title, i.url, i.company, i.year, i.tags, i.summary) for i in items] == [
        (
            "Embedding Search for Spare Parts",
            "https://partsbin.example/embeddings",
            "Partsbin",
            2024,
            ("embeddings", "vision", "search"),
            "Nearest-neighbour search over part photos.",
        ),
        ("Label Noise in Support Tickets", "https://helpdesk.example/label-noise#results", "Helpdesk", 2020, ("nlp",), ""),
    ]


def test_a_csv_with_only_a_header_is_an_empty_list():
    report = parse_report(fixture_text("header_only.csv"))

    assert (report.format, report.items, report.skipped) == ("csv", [], [])


# -- Markdown -------------------------------------------------------------------------------


def test_markdown_list_under_headings():
    report = parse_report(fixture_text("list.md"), origin="list.md")

    assert report.format == "markdown-list"
    assert [(i.title, i.url, i.company, i.year, i.tags, i.summary) for i in report.items] == [
        ("Batching Requests on Small GPUs", "https://infer.example/batching", "Inferco", 2021, ("Serving",), ""),
        ("Shadow Deployments Without Tears", "https://deploy.example/shadow", "Deployly", 2022, ("Serving",), ""),
        ("A Feature Cache in Front of Redis", "https://cachely.example/feature-cache", "Cachely", None, ("Serving",), ""),
        (
            "Drift Alarms That Fire Less Often",
            "https://watch.example/drift",
            "Watchtower",
            2020,
            ("Serving", "Monitoring"),
            "",
        ),
        (
            "Canary metrics we trust",
            "https://metrics.example/canary-1",
            "Gaugeworks",
            2019,
            ("Serving", "Monitoring"),
            "",
        ),
        (
            "Spelling Correction for Short Queries",
            "https://speller.example/short-queries",
            "Speller",
            2018,
            ("Search",),
            "noisy-channel model with a tiny LM",
        ),
    ]
    assert all(i.industry is None for i in report.items)
    assert report.skipped == [
        "list.md, line 7: '#serving' is a link inside the page (table of contents), not an http(s) URL",
        "list.md, line 8: '#search' is a link inside the page (table of contents), not an http(s) URL",
        "list.md, line 21: 'mailto:someone@example.com' is not an http(s) URL",
        "list.md, line 22: no title (expected a line starting with [title](url))",
    ]


def test_markdown_table_with_a_link_column():
    report = parse_report(fixture_text("table.md"), origin="table.md")

    assert report.format == "markdown-table"
    assert report.items == [
        ImportedItem(
            title="Predicting Empty Shelves",
            url="https://tillroll.example/empty-shelves",
            company="Tillroll",
            year=2022,
            tags=(),
            summary="Forecasting shelf gaps from till data",
            industry="Retail",
        ),
        ImportedItem(
            title="Reply-Aware Comment Ranking",
            url="https://social.example/comment-ranking?ref=hn",
            company="Meta",
            year=2021,
            tags=(),
            summary="Ranking comments by predicted replies",
            industry="Social",
        ),
        ImportedItem(
            title="ETA Models for Vans",
            url="https://trackr.example/eta",
            company="Trackr",
            year=None,
            tags=(),
            summary="Arrival times without a year",
            industry="Logistics | Transport",
        ),
    ]
    assert report.skipped == ["table.md, line 7: 'file:///srv/wiki/page' is not an http(s) URL"]


# -- what is not a list ---------------------------------------------------------------------


def test_html_is_refused_with_a_clear_message():
    with pytest.raises(SourceError) as caught:
        parse(fixture_text("page.html"))
    assert str(caught.value) == "looks like HTML, not CSV or Markdown" == LOOKS_LIKE_HTML


@pytest.mark.parametrize("text", ["", "   \n\n", fixture_text("prose.txt"), "a;b\n1;2\n"])
def test_text_without_items_is_refused_with_a_clear_message(text):
    with pytest.raises(SourceError) as caught:
        parse(text)
    assert str(caught.value) == (
        "no recognizable items (expected a CSV with title and url columns, a Markdown list of "
        "[title](url) links, or a Markdown table with a link column)"
    )
    assert str(caught.value) == NOTHING_RECOGNIZED


def test_an_explicit_format_skips_detection_and_unknown_formats_are_refused():
    assert parse(fixture_text("list.md"), format="markdown-table") == []
    assert len(parse(fixture_text("table.md"), format="markdown-table")) == 3
    with pytest.raises(SourceError) as caught:
        parse("x", format="yaml")
    assert str(caught.value) == (
        "unknown format 'yaml': expected one of auto, csv, markdown-list, markdown-table"
    )
    assert detect_format(fixture_text("cases.csv")) == "csv"


# -- URLs, duplicates, companies ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Example.COM/Path/", "https://example.com/Path"),
        ("http://www.example.com/a/?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a#section", "https://example.com/a"),
        (
            "https://example.com/a?utm_source=x&UTM_Medium=y&fbclid=1&gclid=2&mc_cid=3&mc_eid=4&ref=hn&id=9",
            "https://example.com/a?id=9",
        ),
        ("https://example.com:443/", "https://example.com"),
        ("http://example.com:8080/x", "https://example.com:8080/x"),
        ("https://example.com/?source=rss", "https://example.com?source=rss"),
        ("  not a url  ", "not a url"),
    ],
)
def test_normalize_url(url, key):
    assert normalize_url(url) == key


def test_dedupe_by_normalized_url_first_wins():
    items = parse(fixture_text("duplicates.csv"))
    new, duplicates = dedupe(items, known_urls={"http://known.example/article/?a=1&b=2"})

    assert [i.title for i in new] == ["Original Post", "A New One", "Another New One"]
    assert [i.title for i in duplicates] == ["Same Post Over HTTP With Tracking", "Already In The Corpus"]
    assert (len(new), len(duplicates)) == (3, 2)


def test_normalize_company_uses_the_bundled_names(corpus):
    assert normalize_company("Meta", corpus) == "Facebook"
    assert normalize_company("Linkedin", corpus) == "LinkedIn"
    assert normalize_company("  Skillet ", corpus) == "Skillet"
    assert normalize_company("", corpus) is None
    assert normalize_company(None, corpus) is None


# -- the two real lists (read from ../shared/corpora when present, never copied) ------------


@pytest.mark.skipif(not (CORPORA / "case-studies" / "case_studies.csv").exists(), reason="real lists absent")
def test_the_real_case_studies_csv():
    text, origin = read_source(str(CORPORA / "case-studies" / "case_studies.csv"))
    report = parse_report(text, origin=origin)

    assert report.format == "csv"
    assert len(report.items) == 2430
    assert report.skipped == []
    assert sum(1 for i in report.items if i.year is None) == 6  # six rows leave the year empty
    assert all(i.url.startswith(("http://", "https://")) for i in report.items)


@pytest.mark.skipif(not (CORPORA / "applied-ml" / "README.md").exists(), reason="real lists absent")
def test_the_real_applied_ml_readme():
    text, origin = read_source(str(CORPORA / "applied-ml" / "README.md"))
    report = parse_report(text, origin="README.md")

    assert report.format == "markdown-list"
    assert len(report.items) == 543
    # 31 table-of-contents lines (links inside the page) and one pointer line without a title.
    assert len(report.skipped) == 32
    assert sum("table of contents" in reason for reason in report.skipped) == 31
    assert all(item.tags for item in report.items)  # every item sits under a "##" section


# -- hostile lists: linear time, clear errors ---------------------------------------------------

MB = 1_000_000
LINK = "[t](https://a.example/x)"
# Each about 1 MB, each shaped against one of the patterns (quadratic or worse before: a 60 kB
# line of spaces after "- " took 35 s).
ADVERSARIAL = {
    "list item, spaces": ("- " + " " * MB + "\n", "auto"),
    "list item, spaces then text": ("- " + " " * MB + "x\n", "auto"),
    "link then spaces": (f"- {LINK}" + " " * MB + "x\n", "markdown-list"),
    "heading, spaces": ("# a" + " " * MB + "b\n", "markdown-list"),
    "run of [": ("- " + "[" * MB + "\n", "markdown-list"),
    "run of [a": ("- " + "[a" * (MB // 2) + "\n", "markdown-list"),
    "run of [a](x": ("- " + "[a](x" * (MB // 5) + "\n", "markdown-list"),
    "run of (": ("- [a](" + "(" * MB + "\n", "markdown-list"),
    "run of backticks": ("- " + "`" * MB + "\n", "markdown-list"),
    "run of `a": (f"- {LINK} " + "`a" * (MB // 2) + "\n", "markdown-list"),
    "run of |": ("|" * MB + "\n", "auto"),
    "separator, spaces": ("| a | b |\n|---" + " " * MB + "x\n", "markdown-table"),
    "wide header, many rows": ("|" + "a|" * (MB // 4) + "\n|---|\n" + "|[t](https://a.example/)|\n" * 20_000,
                               "markdown-table"),
    "csv, long line of commas": ("title,url\n" + "a," * (MB // 2) + "\n", "csv"),
}


@pytest.mark.parametrize("shape", list(ADVERSARIAL))
def test_a_1_mb_adversarial_list_parses_in_under_a_second(shape):
    text, format = ADVERSARIAL[shape]
    started = time.process_time()  # CPU time: other jobs on the machine do not count
    try:
        parse_report(text, format=format, origin="hostile.md")
    except SourceError:
        pass  # refusing it is fine too: only the time matters here
    assert time.process_time() - started < 1.0, shape


def test_a_csv_cell_over_the_field_limit_is_a_clear_error_and_the_limit_stays():
    import csv

    limit = csv.field_size_limit()
    text = "title,url\nA,https://a.example/1\nB," + "x" * 200_000 + "\nC,https://a.example/3\n"
    with pytest.raises(SourceError) as error:
        parse_report(text, origin="big.csv")
    assert str(error.value) == ("big.csv, line 3: a cell is longer than 131,072 characters, more than any list holds; "
                                "is this the right file?")
    assert csv.field_size_limit() == limit


def test_an_unterminated_quote_is_refused_with_the_line_it_opens_on():
    rows = "".join(f"Row {i},https://r.example/{i},fine\n" for i in range(10))
    text = 'title,url,summary\nA,https://a.example/1,"never closed\n' + rows
    with pytest.raises(SourceError) as error:
        parse_report(text, origin="quote.csv")
    assert str(error.value) == ('quote.csv, line 2: a quote opens here and is never closed, so the 10 lines after it '
                                'would be read as one cell; close the quote (or double it: "") and import again')


def test_rows_swallowed_by_a_stray_quote_are_reported():
    rows = "".join(f"Row {i},https://r.example/{i},fine\n" for i in range(3))
    text = 'title,url,summary\nA,https://a.example/1,"opens here\n' + rows + 'B,https://b.example/2,closes" here\n'
    report = parse_report(text, origin="stray.csv")
    assert [i.title for i in report.items] == ["A"]
    assert report.skipped == ["stray.csv, lines 3-6: 4 line(s) with links were read as part of a quoted cell that "
                              "opens on line 2 (is a closing quote missing there?), not as rows"]


def test_a_quoted_cell_over_two_lines_is_still_fine():
    report = parse_report('title,url,summary\nA,https://a.example/1,"two\nlines"\n', origin="ok.csv")
    assert (len(report.items), report.skipped, report.items[0].summary) == (1, [], "two\nlines")


def test_markdown_shapes_that_were_rewritten_parse_as_before():
    text = ("# Title #\n## Recommendations ##\n\n- [A [b]](https://x.example/y_(z)) `Co` `2020` - what it is\n"
            "  2) [Second](<https://x.example/2> \"t\")\n"
            "\n| Company | Link |\n|:---|---:|\n| Co | [Tab](https://x.example/t) |\n")
    listing = parse_report(text, format="markdown-list")
    assert [(i.title, i.url, i.company, i.year, i.tags, i.summary) for i in listing.items] == [
        ("A [b]", "https://x.example/y_(z)", "Co", 2020, ("Recommendations",), "what it is"),
        ("Second", "https://x.example/2", None, None, ("Recommendations",), ""),
    ]
    table = parse_report(text, format="markdown-table")
    assert [(i.title, i.url, i.company, i.tags) for i in table.items] == [
        ("Tab", "https://x.example/t", "Co", ("Recommendations",))]
