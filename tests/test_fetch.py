"""fetch_text and read_source against a real HTTP server on 127.0.0.1 (port 0). No mocks."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

import mlsd
from mlsd.errors import SourceError
from mlsd.fetch import FetchResult, fetch_text, read_source
from mlsd.importers import parse, parse_report
from mlsd.web import user_agent

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
CONTENT_TYPES = {".csv": "text/csv; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".html": "text/html"}
BIG = 50_000  # bytes sent by the oversized routes; the tests cap at 10_000


class ListServer(ThreadingHTTPServer):
    """Serves the fixtures and a few misbehaving routes, counting the requests each path gets."""

    daemon_threads = True
    block_on_close = False  # the slow route's thread must not hold up teardown

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: dict[str, int] = {}
        self.user_agents: list[str] = []
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early (timeouts, size cap) is expected here


class Handler(BaseHTTPRequestHandler):
    server: ListServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        with self.server.lock:
            hits = self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
            self.server.user_agents.append(self.headers.get("User-Agent", ""))
        path = self.path
        if path.startswith("/fixtures/"):
            file = FIXTURES / path.removeprefix("/fixtures/")
            if file.is_file():
                return self.answer(200, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "text/plain"))
        elif path == "/flaky.csv":  # fails once, then answers
            if hits == 1:
                return self.answer(500, b"try again", "text/plain")
            return self.answer(200, (FIXTURES / "cases.csv").read_bytes(), "text/csv")
        elif path == "/down":
            return self.answer(500, b"down for good", "text/plain")
        elif path == "/slow":
            time.sleep(2)
            return self.answer(200, b"too late", "text/plain")
        elif path == "/moved-permanently":
            return self.redirect(301, "/moved-temporarily")
        elif path == "/moved-temporarily":
            return self.redirect(302, "/fixtures/list.md")
        elif path == "/to-ftp":
            return self.redirect(302, "ftp://files.example/list.csv")
        elif path == "/big-with-length":
            # Declares far more than it sends: only the Content-Length check can refuse it
            # with the size message (reading the body would end in a broken transfer instead).
            return self.stream(5_000, declared_length=1_000_000_000)
        elif path == "/big-without-length":
            return self.stream(BIG, declared_length=None)
        elif path == "/utf8-without-charset":
            return self.answer(200, "title,url\nCaf\u00e9 \u2019s menu,https://cafe.example/\n".encode(), "text/plain")
        elif path == "/latin1":
            return self.answer(200, "title,url\nCaf\u00e9,https://cafe.example/\n".encode("latin-1"), "text/csv; charset=ISO-8859-1")
        return self.answer(404, b"no such list", "text/plain")

    def answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def stream(self, size: int, declared_length: int | None) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        if declared_length is not None:
            self.send_header("Content-Length", str(declared_length))
        self.end_headers()
        chunk = b"x" * 1000
        for _ in range(size // len(chunk)):
            self.wfile.write(chunk)


@pytest.fixture
def list_server(monkeypatch):
    # The server is on 127.0.0.1, which the library refuses unless told otherwise.
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")
    httpd = ListServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- answers that work ----------------------------------------------------------------------


def test_fetch_a_csv_and_parse_it(list_server):
    url = f"{list_server.base}/fixtures/cases.csv"
    result = fetch_text(url)

    assert isinstance(result, FetchResult)
    assert (result.url, result.final_url, result.status, result.content_type, result.redirects) == (
        url,
        url,
        200,
        "text/csv",
        [],
    )
    assert result.text == (FIXTURES / "cases.csv").read_text(encoding="utf-8")
    assert len(parse(result.text)) == 3
    assert list_server.user_agents == [f"mlsd/{mlsd.__version__} (+ML System Design Explorer)"] == [user_agent()]


def test_fetch_a_markdown_list_and_a_markdown_table(list_server):
    listing = parse_report(fetch_text(f"{list_server.base}/fixtures/list.md").text)
    table = parse_report(fetch_text(f"{list_server.base}/fixtures/table.md").text)

    assert (listing.format, len(listing.items), len(listing.skipped)) == ("markdown-list", 6, 4)
    assert (table.format, len(table.items), len(table.skipped)) == ("markdown-table", 3, 1)


def test_redirect_chain_is_followed_and_recorded(list_server):
    result = fetch_text(f"{list_server.base}/moved-permanently")

    assert result.final_url == f"{list_server.base}/fixtures/list.md"
    assert result.redirects == [f"{list_server.base}/moved-permanently", f"{list_server.base}/moved-temporarily"]
    assert result.status == 200
    assert len(parse(result.text)) == 6


def test_utf8_without_a_charset_is_not_read_as_latin1(list_server):
    assert "Caf\u00e9 \u2019s menu" in fetch_text(f"{list_server.base}/utf8-without-charset").text
    assert "Caf\u00e9" in fetch_text(f"{list_server.base}/latin1").text


def test_a_500_that_recovers_on_the_second_try(list_server):
    result = fetch_text(f"{list_server.base}/flaky.csv", attempts=3, backoff=0.01)

    assert result.status == 200
    assert len(parse(result.text)) == 3
    assert list_server.hits["/flaky.csv"] == 2


def test_a_caller_session_is_used_and_left_open(list_server):
    with requests.Session() as session:
        first = fetch_text(f"{list_server.base}/fixtures/table.md", session=session)
        second = fetch_text(f"{list_server.base}/fixtures/list.md", session=session)
    assert (first.status, second.status) == (200, 200)


# -- answers that fail ----------------------------------------------------------------------


def test_404_is_not_retried(list_server):
    url = f"{list_server.base}/nothing-here.csv"
    with pytest.raises(SourceError) as caught:
        fetch_text(url, attempts=3, backoff=0.01)

    assert str(caught.value) == f"404 Not Found for {url}"
    assert list_server.hits["/nothing-here.csv"] == 1


def test_a_500_that_never_recovers_gives_up_after_the_attempts(list_server):
    url = f"{list_server.base}/down"
    with pytest.raises(SourceError) as caught:
        fetch_text(url, attempts=3, backoff=0.01)

    assert str(caught.value) == f"500 Internal Server Error for {url} (tried 3 times)"
    assert list_server.hits["/down"] == 3


def test_a_slow_answer_times_out(list_server):
    url = f"{list_server.base}/slow"
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        fetch_text(url, timeout=(1, 0.5), attempts=3, backoff=0.01)

    assert str(caught.value) == f"timed out after 0.5 s fetching {url}"
    assert time.monotonic() - started < 1.5
    assert list_server.hits["/slow"] == 1  # a read timeout is not retried: the server is up, only slow


@pytest.mark.parametrize("route", ["/big-with-length", "/big-without-length"])
def test_an_oversized_body_is_refused(list_server, route):
    url = f"{list_server.base}{route}"
    with pytest.raises(SourceError) as caught:
        fetch_text(url, max_bytes=10_000)

    assert str(caught.value) == f"{url} is larger than 10 kB"


def test_the_default_cap_is_named_in_megabytes():
    # Only the message: a 20 MB body would make a slow test.
    from mlsd.fetch import _size

    assert _size(20_000_000) == "20 MB"


def test_a_server_that_is_not_there(list_server):
    url = f"http://127.0.0.1:{free_port()}/list.csv"
    with pytest.raises(SourceError) as caught:
        fetch_text(url, attempts=2, backoff=0.01)

    assert str(caught.value) == f"could not connect to {url}: Connection refused (tried 2 times)"


def test_a_redirect_to_ftp_is_refused(list_server):
    url = f"{list_server.base}/to-ftp"
    with pytest.raises(SourceError) as caught:
        fetch_text(url)

    assert str(caught.value) == f"{url} redirected to a non-http(s) address; only http and https URLs can be imported"


@pytest.mark.parametrize("url", ["ftp://files.example/list.csv", "file:///etc/passwd", "example.com/list.csv", ""])
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(SourceError) as caught:
        fetch_text(url)

    assert str(caught.value) == "only http and https URLs can be imported"


def test_html_instead_of_csv(list_server):
    result = fetch_text(f"{list_server.base}/fixtures/page.html")

    assert result.content_type == "text/html"
    with pytest.raises(SourceError) as caught:
        parse(result.text)
    assert str(caught.value) == "looks like HTML, not CSV or Markdown"


# -- read_source: a URL or a file -----------------------------------------------------------


def test_read_source_from_a_url(list_server):
    text, origin = read_source(f"{list_server.base}/moved-temporarily")

    assert origin == f"{list_server.base}/fixtures/list.md"
    assert text == (FIXTURES / "list.md").read_text(encoding="utf-8")


def test_read_source_from_a_local_file():
    path = FIXTURES / "table.md"
    text, origin = read_source(str(path))

    assert (text, origin) == (path.read_text(encoding="utf-8"), str(path))
    assert len(parse(text, origin=origin)) == 3


def test_read_source_refuses_other_schemes():
    with pytest.raises(SourceError) as caught:
        read_source("ftp://files.example/list.csv")
    assert str(caught.value) == "only http and https URLs can be imported"


def test_read_source_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(SourceError) as caught:
        read_source(str(missing))
    assert str(caught.value) == f"no such file: {missing}"


def test_read_source_folder(tmp_path):
    with pytest.raises(SourceError) as caught:
        read_source(str(tmp_path))
    assert str(caught.value) == f"{tmp_path} is a folder, not a file"


def test_read_source_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("title,url\nCaf\u00e9,https://cafe.example/\n".encode("latin-1"))
    with pytest.raises(SourceError) as caught:
        read_source(str(path))
    assert str(caught.value) == (
        f"{path} is not UTF-8 text (invalid byte at position 13); save it as UTF-8 and try again"
    )


def test_read_source_strips_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "duplicates.csv").read_bytes())
    text, _ = read_source(str(path))
    assert text.startswith("title,url")
    assert len(parse(text)) == 5
