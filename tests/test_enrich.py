"""Imported items described by their linked pages (``mlsd import --enrich``): real HTTP servers on
loopback addresses, the real parser, the real library, the index built with the HashingEmbedder.

Loopback is a private address, so each test that should reach its server says so on purpose
(``MLSD_ALLOW_PRIVATE_URLS``); the tests of refusal leave it unset.
"""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from mlsd import enrich
from mlsd.cli import cli
from mlsd.corpus import load_corpus
from mlsd.embed import HashingEmbedder
from mlsd.enrich import PageError, decode_html, fetch_page, fetch_pages, page_meta
from mlsd.errors import CorpusError
from mlsd.index import item_text_hash, load_index
from mlsd.library import Enrich, import_source, list_sources
from mlsd.search import open_engine
from tests.servers import HostileServer, body, redirect
from tests.test_app import unescape

ROOT = Path(__file__).resolve().parent.parent
HTML = "text/html; charset=utf-8"

FULL = """<!doctype html><html><head>
<title>Plain title | Acme Tech Blog</title>
<meta name="description" content="How Acme ranks its zeppelin feeds with two towers.">
<meta property="og:title" content="Zeppelin feeds at Acme">
<meta property="og:description" content="The OpenGraph words, used only without a meta description.">
</head><body><p>Body text is never read.</p></body></html>"""


def page(html: str | bytes, content_type: str = HTML, status: int = 200):
    return body(html, status=status, content_type=content_type)


@pytest.fixture
def allow_loopback(monkeypatch):
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")


# -- what is read from a page ------------------------------------------------------------------


def test_title_description_and_opengraph_fields(allow_loopback):
    only_og = '<head><meta property="og:description" content="Only the OpenGraph one."><title>T</title></head>'
    only_twitter = '<head><meta name="twitter:description" content="Only the Twitter one."></head>'
    with HostileServer({"/full": page(FULL), "/og": page(only_og), "/twitter": page(only_twitter)}) as server:
        info = fetch_page(f"{server.base}/full")
        assert (info.title, info.description) == ("Zeppelin feeds at Acme", "How Acme ranks its zeppelin feeds with two towers.")
        assert info.final_url == f"{server.base}/full"
        assert (fetch_page(f"{server.base}/og").title, fetch_page(f"{server.base}/og").description) == (
            "T", "Only the OpenGraph one.")
        assert fetch_page(f"{server.base}/twitter").description == "Only the Twitter one."


def test_entities_whitespace_and_control_characters_become_plain_text():
    html = ("<head><title>\n  Caf&eacute; &amp;\tRanking \u202e\x07  </title>"
            "<META NAME='Description' CONTENT='Tom &amp; Jerry&#39;s   &lt;b&gt;feed&lt;/b&gt;\n\n ranking\u200b&#x2014;done'>")
    title, description = page_meta(html)
    assert title == "Café & Ranking"
    assert description == "Tom & Jerry's <b>feed</b> ranking—done"  # the markup of an entity is text, not a tag


def test_a_long_description_is_cut_at_a_word():
    title, description = page_meta(f'<meta name="description" content="{"word " * 400}">')
    assert len(description) <= enrich.DESCRIPTION_CHARS and description.endswith("word…")


def test_hostile_html_stays_text():
    html = ('<head><title>Real <script>alert(1)</script>title</title>'
            '<meta name="description" content="**bold** [a link](https://evil.example) <img src=x onerror=alert(1)> $x$">'
            '<style>title{}</style></head>')
    title, description = page_meta(html)
    assert title == "Real title"  # the script's text is not title text
    assert description == "**bold** [a link](https://evil.example) <img src=x onerror=alert(1)> $x$"


@pytest.mark.parametrize("shape", ["<a " * 80_000, "<" * 250_000, '<a b=">' * 35_000, "<!--" + "x" * 250_000,
                                   '<meta content="' + "x" * 250_000, "<title>" + "&#" * 120_000,
                                   '<meta name="x" content="y">' * 9_000])
def test_hostile_shapes_parse_in_linear_time(shape):
    # Fed at once, html.parser takes minutes on 240 kB of "<a <a <a": it is fed in pieces instead.
    started = time.perf_counter()
    page_meta(shape)
    assert time.perf_counter() - started < 5


# -- what is fetched, and what is not --------------------------------------------------------


def test_a_page_that_is_not_html_is_not_read(allow_loopback):
    with HostileServer({"/paper.pdf": page(b"%PDF-1.7 <title>x</title>", content_type="application/pdf"),
                        "/none": page(FULL, content_type="")}) as server:
        with pytest.raises(PageError) as error:
            fetch_page(f"{server.base}/paper.pdf")
        assert (error.value.reason, str(error.value)) == ("not HTML", "the page is application/pdf, not HTML")
        with pytest.raises(PageError) as error:
            fetch_page(f"{server.base}/none")
        assert error.value.reason == "not HTML"


def test_xhtml_is_read(allow_loopback):
    with HostileServer({"/x": page(FULL, content_type="application/xhtml+xml")}) as server:
        assert fetch_page(f"{server.base}/x").title == "Zeppelin feeds at Acme"


def endless_html(head: bytes, sent: list[int], total: int = 60_000_000):
    """A page whose head never ends: ``head`` then megabytes of filler; counts the bytes it got out."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", HTML)
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        try:
            handler.wfile.write(head)
            sent.append(len(head))
            chunk = b"<p>filler</p>" * 5000
            while sum(sent) < total:
                handler.wfile.write(chunk)
                sent.append(len(chunk))
        except OSError:
            pass  # the client hung up: what the test wants
    return route


def test_an_oversized_page_is_read_no_further_than_the_cap(allow_loopback):
    late, early = [], []
    routes = {"/late": endless_html(b"<html><head><title>T</title>" + b"<!-- x -->" * 40_000
                                    + b'<meta name="description" content="too far down">', late),
              "/early": endless_html(b'<html><head><meta name="description" content="early enough">', early)}
    with HostileServer(routes) as server:
        started = time.perf_counter()
        with pytest.raises(PageError) as error:
            fetch_page(f"{server.base}/late")
        assert (error.value.reason, str(error.value)) == ("too large", "no description in the first 256 kB of the page")
        assert fetch_page(f"{server.base}/early").description == "early enough"
        assert time.perf_counter() - started < 10
        time.sleep(0.3)  # the server notices the hang-up
    # What left the server is the cap plus what the sockets' buffers held, never the 60 MB.
    assert sum(late) < 20_000_000 and sum(early) < 20_000_000


def test_the_page_stops_being_read_at_the_end_of_its_head(allow_loopback):
    sent: list[int] = []
    with HostileServer({"/p": endless_html(FULL.split("<body>")[0].encode(), sent, total=200_000_000)}) as server:
        info = fetch_page(f"{server.base}/p", max_bytes=100_000_000)
    assert info.description.startswith("How Acme ranks")


def slow(seconds: float):
    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        try:
            page(FULL)(handler)
        except OSError:
            pass
    return route


def test_a_slow_server_times_out(allow_loopback):
    with HostileServer({"/slow": slow(3)}) as server:
        started = time.perf_counter()
        with pytest.raises(PageError) as error:
            fetch_page(f"{server.base}/slow", timeout=(1, 0.5))
        assert error.value.reason == "timeout"
        assert time.perf_counter() - started < 2


def test_the_total_deadline_stops_the_rest(allow_loopback):
    with HostileServer({f"/{i}": slow(5) for i in range(6)}) as server:
        urls = [f"{server.base}/{i}" for i in range(6)]
        started = time.perf_counter()
        results = fetch_pages(urls, per_host=1, timeout=(5, 30), page_deadline=30, deadline=1.5)
        took = time.perf_counter() - started
        assert took < 3.5
        assert [r.reason for r in results.values()] == ["out of time"] * 6
        assert len(server.hits) == 1  # one host, one at a time: the others were never asked


def test_a_private_address_is_refused_without_the_setting(monkeypatch):
    monkeypatch.delenv("MLSD_ALLOW_PRIVATE_URLS", raising=False)
    with HostileServer({"/full": page(FULL)}) as server:
        result = fetch_pages([f"{server.base}/full"])[f"{server.base}/full"]
        assert (result.info, result.reason, result.message) == (None, "refused: private address", "refused: private address")
        assert server.hits == []


def test_a_redirect_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "127.0.0.2")  # the first hop's server, and nothing else
    with HostileServer({"/full": page(FULL)}) as target, \
            HostileServer({"/go": redirect(f"{target.base}/full")}, host="127.0.0.2") as first:
        with pytest.raises(PageError) as error:
            fetch_page(f"{first.base}/go")
        assert error.value.reason == "refused: private address"
        assert first.hits == ["/go"] and target.hits == []


def test_a_redirect_is_followed(allow_loopback):
    with HostileServer({"/full": page(FULL), "/old": redirect("/full", 301)}) as server:
        info = fetch_page(f"{server.base}/old")
        assert (info.url, info.final_url) == (f"{server.base}/old", f"{server.base}/full")


def test_http_errors_and_pages_without_a_description(allow_loopback):
    with HostileServer({"/gone": page("<title>Gone</title>", status=410),
                        "/bare": page("<html><head><title>Only a title</title></head></html>")}) as server:
        results = fetch_pages([f"{server.base}/missing", f"{server.base}/gone", f"{server.base}/bare"])
    assert [(r.reason, r.message) for r in results.values()] == [
        ("HTTP error", "404 Not Found"), ("HTTP error", "410 Gone"), ("no description", "the page gives no description")]


def test_an_invalid_url_is_never_fetched():
    for url in ("ftp://a.example/x", "http://[zz/x", "http://a.example:0/x"):
        with pytest.raises(PageError) as error:
            fetch_page(url)
        assert error.value.reason == "invalid URL"


def test_charsets_from_the_header_from_a_meta_tag_or_utf8_with_replacement(allow_loopback):
    latin = '<head><meta name="description" content="Café crème, naïve ranking"></head>'.encode("latin-1")
    meta_charset = ('<head><meta charset="windows-1252"><meta name="description" content="“Smart” quotes – café">'
                    '</head>').encode("cp1252")
    equiv = ('<head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
             '<meta name="description" content="Über ranking"></head>').encode("latin-1")
    with HostileServer({"/latin": page(latin, content_type="text/html; charset=ISO-8859-1"),
                        "/meta": page(meta_charset, content_type="text/html"),
                        "/equiv": page(equiv, content_type="text/html"),
                        "/broken": page(b'<meta name="description" content="bad \xff byte">', content_type="text/html"),
                        "/bogus": page(b'<meta name="description" content="plain">', content_type="text/html; charset=base64"),
                        }) as server:
        got = {name: fetch_page(f"{server.base}/{name}").description for name in ("latin", "meta", "equiv", "broken", "bogus")}
    assert got == {"latin": "Café crème, naïve ranking", "meta": "“Smart” quotes – café", "equiv": "Über ranking",
                   "broken": "bad \ufffd byte", "bogus": "plain"}
    assert decode_html(b"\xef\xbb\xbfcaf\xc3\xa9", "text/html; charset=latin-1") == "café"  # a BOM wins


# -- the import -----------------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="mlsd")  # .stdout, .stderr, and .output with both


def list_csv(base: str) -> str:
    return ("title,url,summary\n"
            f"Feeds at Acme,{base}/pages/full,\n"
            f"Own words,{base}/pages/own,The list's own summary about ranking.\n"
            f"A paper,{base}/pages/paper.pdf,\n"
            f"Gone,{base}/pages/gone,\n")


@pytest.fixture
def list_server(pages_home, allow_loopback):
    routes = {"/pages/full": page(FULL), "/pages/own": page(FULL),
              "/pages/paper.pdf": page(b"%PDF", content_type="application/pdf")}
    with HostileServer(routes) as server:
        server.routes["/list.csv"] = body(list_csv(server.base), content_type="text/csv")
        yield server


def page_hits(server: HostileServer) -> list[str]:
    return [h for h in server.hits if h.startswith("/pages/")]


def imported(name: str = "list"):
    return {r.title: r for r in load_corpus().resources if r.source == name}


def test_cli_import_with_enrich_describes_new_items_and_makes_them_findable(list_server, pages_home):
    url = f"{list_server.base}/list.csv"
    assert run("import", url).exit_code == 0  # titles only, first
    before = imported()
    assert before["Feeds at Acme"].summary == "" and not before["Feeds at Acme"].summary_from_page
    corpus = load_corpus()
    item = corpus.item_by_id[before["Feeds at Acme"].id]
    hash_before = item_text_hash(item)
    engine = open_engine(corpus, HashingEmbedder())
    assert "Feeds at Acme" not in {h.title for h in engine.search("zeppelin", mode="keyword")}
    assert page_hits(list_server) == []

    result = run("import", url, "--enrich")  # the same list again, now asking the pages
    assert result.exit_code == 0, result.output
    assert "Descriptions taken from 1 of 3 linked pages; 2 failed: 1 not HTML, 1 HTTP error\n" in result.output
    assert f"  not enriched: {list_server.base}/pages/paper.pdf: the page is application/pdf, not HTML\n" in  result.stderr
    assert sorted(page_hits(list_server)) == ["/pages/full", "/pages/gone", "/pages/paper.pdf"]  # never /pages/own

    after = imported()
    acme = after["Feeds at Acme"]
    assert (acme.summary, acme.summary_from, acme.page_title) == (
        "How Acme ranks its zeppelin feeds with two towers.", "page", "Zeppelin feeds at Acme")
    assert (after["Own words"].summary, after["Own words"].summary_from) == ("The list's own summary about ranking.", None)
    assert after["Gone"].summary == "" and after["A paper"].summary == ""
    stored = json.loads((pages_home / "library" / "list.json").read_text())
    by_title = {i["title"]: i for i in stored["items"]}
    assert by_title["Feeds at Acme"]["summary_from"] == "page"
    assert "summary_from" not in by_title["Own words"] and "summary_from" not in by_title["Gone"]

    corpus = load_corpus()
    assert item_text_hash(corpus.item_by_id[acme.id]) != hash_before
    load_index(list(corpus.items), corpus.data_hash, pages_home / "index", model=HashingEmbedder().name)  # current
    engine = open_engine(corpus, HashingEmbedder())
    assert engine.search("zeppelin", mode="keyword")[0].title == "Feeds at Acme"


def test_reimporting_does_not_fetch_described_pages_again(list_server):
    url = f"{list_server.base}/list.csv"
    first = import_source(url, enrich=Enrich(), embedder=HashingEmbedder())
    assert first.enrichment is not None
    assert (first.enrichment.asked, first.enrichment.enriched, first.enrichment.failures) == (
        3, 1, {"not HTML": 1, "HTTP error": 1})
    assert page_hits(list_server).count("/pages/full") == 1

    again = import_source(url, enrich=Enrich(), embedder=HashingEmbedder())
    assert again.enrichment is not None
    assert (again.enrichment.asked, again.enrichment.enriched, again.enrichment.reused) == (2, 0, 1)
    assert again.enrichment.summary() == ("Descriptions taken from 0 of 2 linked pages (1 kept from the previous import, "
                                          "not fetched again); 2 failed: 1 not HTML, 1 HTTP error")
    assert page_hits(list_server).count("/pages/full") == 1  # the failures are asked again, the described page not

    import_source(url, embedder=HashingEmbedder())  # without --enrich: the description stays
    assert imported()["Feeds at Acme"].summary_from_page
    assert page_hits(list_server).count("/pages/full") == 1


def test_a_failed_enrichment_never_fails_the_import(pages_home, monkeypatch):
    monkeypatch.delenv("MLSD_ALLOW_PRIVATE_URLS", raising=False)
    listing = pages_home.parent / "list.csv"
    listing.write_text("title,url\nSomewhere,http://127.0.0.1:9/nothing\n", encoding="utf-8")
    report = import_source(str(listing), enrich=Enrich(deadline=5), embedder=HashingEmbedder())
    assert (report.new, report.enrichment.failures if report.enrichment else None) == (1, {"refused: private address": 1})
    assert imported()["Somewhere"].summary == ""


def test_an_interrupted_enrichment_writes_nothing(list_server, pages_home):
    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_source(f"{list_server.base}/list.csv", enrich=Enrich(progress=interrupt), embedder=HashingEmbedder())
    assert not (pages_home / "library").exists() or list((pages_home / "library").iterdir()) == []


def test_enrich_deadline_needs_enrich(pages_home):
    result = run("import", "x.csv", "--enrich-deadline", "5")
    assert result.exit_code == 2 and "--enrich-deadline is only used with --enrich" in  result.stderr


# -- the library file -------------------------------------------------------------------------------


def write_library(home: Path, item: dict) -> Path:
    (home / "library").mkdir(parents=True, exist_ok=True)
    path = home / "library" / "mine.json"
    path.write_text(json.dumps({
        "format_version": 1, "name": "mine", "origin": "x.csv", "format": "csv", "imported_at": "2026-01-01",
        "items": [{"id": "imp-mine-0000000000", "title": "A", "url": "https://a.example/x", **item}]}))
    return path


def test_older_files_without_the_fields_load(tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_HOME", str(tmp_path))
    write_library(tmp_path, {"summary": "From the list."})
    [source] = list_sources()
    resource = source.resources[0]
    assert (resource.summary, resource.summary_from, resource.page_title, resource.summary_from_page) == (
        "From the list.", None, None, False)


@pytest.mark.parametrize("fields,message", [
    ({"summary": "S", "summary_from": "web"},
     "field 'summary_from' is 'web', but the only value it takes is \"page\" (the summary was taken from the linked "
     "page). Remove the field if the list gave the summary."),
    ({"summary": "", "summary_from": "page"},
     "field 'summary_from' is \"page\", but the item has no summary. Remove the field, or import the list again "
     "with --enrich."),
    ({"summary": "S", "summary_from": "page", "page_title": 5},
     "field 'page_title' must be text (the linked page's title), got 5."),
])
def test_a_malformed_field_names_file_item_and_field(tmp_path, monkeypatch, fields, message):
    monkeypatch.setenv("MLSD_HOME", str(tmp_path))
    write_library(tmp_path, fields)
    with pytest.raises(CorpusError) as error:
        load_corpus()
    assert str(error.value) == f"library/mine.json, item 'imp-mine-0000000000': {message}"


# -- the pages ------------------------------------------------------------------------------------


HOSTILE = ('<head><title>Evil <script>alert(1)</script>page</title>'
           '<meta name="description" content="zeppelin **bold** [a link](https://evil.example) '
           '<img src=x onerror=alert(1)> https://evil.example/x"></head>')


def test_search_marks_a_page_description_and_shows_it_as_text(pages_home, allow_loopback):
    with HostileServer({"/p": page(HOSTILE)}) as server:
        server.routes["/list.csv"] = body(f"title,url\nHostile page,{server.base}/p\n", content_type="text/csv")
        import_source(f"{server.base}/list.csv", enrich=Enrich(), embedder=HashingEmbedder())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["q"] = "zeppelin"
    at.query_params["mode"] = "keyword"
    at.switch_page("pages/search.py")
    at = at.run()
    assert not at.exception, at.exception
    captions = [unescape(str(c.value)) for c in at.caption]
    assert ":material/language: Description taken from the linked page, titled “Evil page”" in captions
    sources = [str(m.value) for m in at.markdown]
    [summary] = [s for s in sources if "bold" in s]
    text = summary.replace(":orange-background[zeppelin]", "zeppelin")  # the matched word, highlighted
    assert not re.search(r"(?<!\\)[<>*\[\]()]", text)  # every character Markdown or HTML would act on is escaped
    assert "https://" not in text  # and the address is broken, so it never becomes a link
    assert unescape(text) == (
        "zeppelin **bold** [a link](https://evil.example) <img src=x onerror=alert(1)> https://evil.example/x")


def test_library_page_offers_enrichment_off_by_default_and_reports_it(pages_home, allow_loopback):
    with HostileServer({"/pages/full": page(FULL)}) as server:
        server.routes["/list.csv"] = body(f"title,url\nFeeds at Acme,{server.base}/pages/full\n"
                                          f"Gone,{server.base}/pages/gone\n", content_type="text/csv")
        at = AppTest.from_file(str(ROOT / "pages" / "library.py"), default_timeout=120).run()
        assert at.checkbox(key="library_enrich").value is False
        at.text_input(key="library_url").set_value(f"{server.base}/list.csv")
        at.checkbox(key="library_enrich").check()
        at.button(key="import_list").click()
        at = at.run()
    assert not at.exception, at.exception
    assert [unescape(str(i.value)) for i in at.info] == [
        "Descriptions taken from 1 of 2 linked pages; 1 failed: 1 HTTP error."]
    assert any("1 described by their pages" in unescape(str(m.value)) for m in at.markdown)
    assert imported()["Feeds at Acme"].summary_from_page


def test_library_page_does_not_fetch_pages_unless_asked(pages_home, allow_loopback):
    with HostileServer({"/pages/full": page(FULL)}) as server:
        server.routes["/list.csv"] = body(f"title,url\nFeeds at Acme,{server.base}/pages/full\n", content_type="text/csv")
        at = AppTest.from_file(str(ROOT / "pages" / "library.py"), default_timeout=120).run()
        at.text_input(key="library_url").set_value(f"{server.base}/list.csv")
        at.button(key="import_list").click()
        at = at.run()
        assert not at.exception and not at.info
        assert page_hits(server) == []


def test_companies_marks_a_page_description_in_the_table_and_the_cards(pages_home, allow_loopback):
    with HostileServer({"/pages/full": page(FULL)}) as server:
        server.routes["/list.csv"] = body(f"title,url,company\nFeeds at Acme,{server.base}/pages/full,Acme\n"
                                          f"Other Acme post,{server.base}/pages/gone,Acme\n", content_type="text/csv")
        import_source(f"{server.base}/list.csv", enrich=Enrich(), embedder=HashingEmbedder())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["company"] = "Acme"
    at.switch_page("pages/companies.py")
    at = at.run()
    assert not at.exception, at.exception
    editor = at.dataframe[0]
    assert "summary_from" in list(editor.proto.column_order)
    rows = editor.value.set_index("summary")["summary_from"].to_dict()
    assert rows == {"How Acme ranks its zeppelin feeds with two towers.": "page", "": ""}
    captions = [unescape(str(c.value)) for c in at.caption]
    assert ":material/language: Description taken from the linked page, titled “Zeppelin feeds at Acme”" in captions
