"""Imported items described by their linked pages (``mlsd import --enrich``): real HTTP servers on
loopback addresses, the real parser, the real library, the index built with the HashingEmbedder.

Loopback is a private address, so each test that should reach its server says so on purpose
(``MLSD_ALLOW_PRIVATE_URLS``); the tests of refusal leave it unset.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from mlsd import enrich
from mlsd.enrich import PageError, decode_html, fetch_page, fetch_pages, page_meta
from tests.servers import HostileServer, body, redirect

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
