"""Every page through Streamlit's AppTest: no exception, widgets by key, URL state, errors shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = ["pages/home.py", "pages/flow.py", "pages/search.py", "pages/companies.py", "pages/topics.py", "pages/map.py",
         "pages/library.py"]
APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 180  # the first page that needs the engine waits for the model to load


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    if page != "pages/home.py":
        at.switch_page(page)
    return at.run()


def texts(at: AppTest) -> str:
    """All markdown, captions, headers and alerts of the page, as one string."""
    parts = []
    for kind in ("markdown", "caption", "header", "subheader", "title", "info", "error"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)


def hit_meta_lines(at: AppTest) -> list[str]:
    """The meta line (type · company · kind · year) of every search result card."""
    lines = []
    for md in at.markdown:
        value = str(md.value)
        if value.startswith(":material/") and "**" in value and ":gray[" in value:
            lines.append(value.split(":gray[", 1)[1])
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page, engine):
    at = open_page(page)
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"


@pytest.mark.slow
def test_home_lists_flow_topics_and_counts(engine, corpus):
    at = open_page("pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Flow steps"] == "7"
    assert metrics["Case studies & resources"] == str(len(corpus.resources))
    assert metrics["Topics"] == str(len(corpus.topics))


@pytest.mark.slow
def test_a_query_in_the_url_renders_results(engine):
    at = open_page("pages/search.py", q="cold start")
    assert at.text_input(key="q").value == "cold start"
    assert "Cold start problem" in texts(at)
    assert "results" in texts(at)


@pytest.mark.slow
def test_typing_a_query_renders_results(engine):
    at = open_page("pages/search.py")
    assert "Type what you are thinking about" in texts(at)
    at.text_input(key="q").input("pagerank").run()
    assert not at.exception
    assert "Intro to PageRank" in texts(at)


@pytest.mark.slow
def test_company_filter_leaves_only_that_company(engine):
    at = open_page("pages/search.py", q="recommendation")
    assert any("Netflix" not in line for line in hit_meta_lines(at)), "the unfiltered results should mix companies"
    at.multiselect(key="company").set_value(["Netflix"]).run()
    lines = hit_meta_lines(at)
    assert lines and all("Netflix" in line for line in lines), lines


@pytest.mark.slow
def test_no_results_gets_a_helpful_message(engine):
    at = open_page("pages/search.py", q="pagerank", mode="keyword", company="Netflix")
    assert not at.exception
    assert any("No results" in str(i.value) for i in at.info)


@pytest.mark.slow
def test_url_parameters_prefill_widgets(engine):
    at = open_page("pages/search.py", q="feed", company="Facebook", mode="keyword", type="resource", topic="ads-and-ranking")
    assert at.text_input(key="q").value == "feed"
    assert at.multiselect(key="company").value == ["Facebook"]
    assert at.multiselect(key="type").value == ["resource"]
    assert at.multiselect(key="topic").value == ["ads-and-ranking"]
    lines = hit_meta_lines(at)
    assert lines and all("Facebook" in line for line in lines)


@pytest.mark.slow
def test_unknown_url_values_are_ignored_with_a_notice(engine):
    at = open_page("pages/search.py", q="cold start", topic="no-such-topic", type="planet")
    assert not at.exception
    notice = " ".join(str(i.value) for i in at.info)
    assert "topic=no-such-topic" in notice and "type=planet" in notice
    assert "Cold start problem" in texts(at)


@pytest.mark.slow
def test_companies_page_filters_the_table(engine):
    at = open_page("pages/companies.py", company="Netflix")
    assert at.multiselect(key="company").value == ["Netflix"]
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table["company"]) == {"Netflix"}
    at.multiselect(key="company").set_value(["LinkedIn", "AWS"]).run()
    assert set(at.dataframe[0].value["company"]) == {"LinkedIn", "AWS"}


@pytest.mark.slow
def test_topic_selection_shows_path_and_related_items(engine):
    at = open_page("pages/topics.py")
    at.selectbox(key="topic").set_value("cold-start").run()
    page = texts(at)
    assert "Cold start problem" in page
    assert "Recommendation systems" in page  # its path
    assert "Related case studies" in page
    assert "Recommending items to more than a billion people" in page or "Netflix" in page


@pytest.mark.slow
def test_topic_in_the_url_selects_it(engine):
    at = open_page("pages/topics.py", topic="pagerank")
    assert at.selectbox(key="topic").value == "pagerank"
    assert "Intro to PageRank" in texts(at)


@pytest.mark.slow
def test_flow_step_in_the_url_selects_it(engine):
    at = open_page("pages/flow.py", step="scaling-monitoring")
    page = texts(at)
    assert "7. Scaling, monitoring and updates" in page
    assert "A/B test and deployment" in page and "Control and test groups" in page


@pytest.mark.slow
def test_a_data_error_is_a_message_not_a_crash(engine, tmp_path, monkeypatch):
    import mlsd.paths

    broken = tmp_path / "data"
    shutil.copytree(mlsd.paths.DATA_DIR, broken)
    text = (broken / "resources.yaml").read_text(encoding="utf-8")
    (broken / "resources.yaml").write_text(text.replace("kind: slides", "kind: deck", 1), encoding="utf-8")
    monkeypatch.setattr(mlsd.paths, "DATA_DIR", broken)
    at = open_page("pages/companies.py")
    assert not at.exception
    message = " ".join(str(e.value) for e in at.error)
    assert "data/resources.yaml" in message and "field 'kind' is 'deck'" in message


def test_text_from_data_is_escaped_not_rendered():
    from pages.common import md_escape

    hostile = "<script>alert(1)</script> [click](javascript:alert(1)) **bold** $x$ :red[x]"
    escaped = md_escape(hostile)
    for raw in ("<script>", "[click](", "**bold**", "$x$", ":red["):
        assert raw not in escaped
    assert escaped.replace("\\", "") == hostile


def test_links_from_data_cannot_break_out_of_markdown():
    from pages.common import md_link

    link = md_link("Foo [bar]", "https://en.wikipedia.org/wiki/Foo_(bar) x")
    assert link == "[Foo \\[bar\\]](https://en.wikipedia.org/wiki/Foo_%28bar%29%20x)"


def test_library_never_imports_streamlit():
    import subprocess
    import sys

    code = "import mlsd, mlsd.search, mlsd.index, mlsd.cli, sys; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_dead_links_get_a_badge_and_can_be_hidden(engine, corpus, tmp_path, monkeypatch):
    from mlsd.links import LinkStatus, LinkStore

    monkeypatch.setenv("MLSD_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    dead = corpus.resource_by_id["google-intro-to-pagerank"].url
    LinkStore().put_many([LinkStatus(dead, "dead", 404, dead, (), "404 Not Found", "2026-11-27T00:00:00+00:00")])
    at = open_page("pages/search.py", q="pagerank")
    page = texts(at)
    assert "Intro to PageRank" in page and "dead link" in page and "web.archive.org" in page
    at.toggle(key="hide_dead").set_value(True).run()
    assert "Intro to PageRank" not in texts(at)
    assert "The algorithm that started Google" in texts(at)

    companies = open_page("pages/companies.py", company="Google")
    table = companies.dataframe[0].value
    row = table[table["url"] == dead].iloc[0]
    assert row["link"] == "dead" and row["archive"].startswith("https://web.archive.org/web/*/")
    assert set(table[table["url"] != dead]["link"]) == {"unchecked"}
    companies.toggle(key="companies_hide_dead").set_value(True).run()
    assert dead not in set(companies.dataframe[0].value["url"])
