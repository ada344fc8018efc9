"""Link health against a real HTTP server on 127.0.0.1 (port 0), and the store on disk. No mocks."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlsd.errors import LinkCheckError, LinkStoreError, MlsdError
from mlsd.links import check_links
from mlsd.linkstore import LinkStatus, LinkStore, archive_url
from mlsd.web import user_agent


class LinkServer(ThreadingHTTPServer):
    """Answers with every status a link check must tell apart, counting what it is asked."""

    daemon_threads = True
    block_on_close = False  # the slow route's thread must not hold up teardown

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.user_agents: set[str] = set()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout test) is expected here


class Handler(BaseHTTPRequestHandler):
    server: LinkServer

    def log_message(self, format, *args):
        pass

    def do_HEAD(self):
        self.route("HEAD")

    def do_GET(self):
        self.route("GET")

    def route(self, method: str) -> None:
        with self.server.lock:
            self.server.requests.append((method, self.path))
            self.server.user_agents.add(self.headers.get("User-Agent", ""))
        path = self.path
        simple = {"/ok": 200, "/gone-404": 404, "/gone-410": 410, "/forbidden": 403, "/busy": 429, "/broken": 500}
        if path in simple:
            return self.answer(simple[path], method)
        if path == "/no-head":
            return self.answer(405 if method == "HEAD" else 200, method)
        if path == "/moved-permanently":
            return self.redirect(301, "/moved-temporarily")
        if path == "/moved-temporarily":
            return self.redirect(302, "/ok")
        if path in ("/rate-limited-once", "/rate-limited-long"):
            with self.server.lock:
                first = sum(1 for _, p in self.server.requests if p == path) == 1
            if path == "/rate-limited-long" or first:
                self.send_response(429)
                self.send_header("Retry-After", "1" if path == "/rate-limited-once" else "3600")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.answer(200, method)
        if path == "/slow":
            time.sleep(2)
            return self.answer(200, method)
        if path.startswith("/count/"):
            with self.server.lock:
                self.server.in_flight += 1
                self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
            time.sleep(0.05)
            with self.server.lock:
                self.server.in_flight -= 1
            return self.answer(200, method)
        return self.answer(404, method)

    def answer(self, status: int, method: str) -> None:
        body = b"x" * 100_000  # large enough that reading it by mistake would show
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method == "GET":
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the checker hangs up without reading, as it should

    def redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def link_server(monkeypatch):
    # The server is on 127.0.0.1, which the library refuses unless told otherwise.
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")
    httpd = LinkServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def store(tmp_path):
    return LinkStore(tmp_path / "links.json")


def check_one_url(url: str, store: LinkStore, **options) -> LinkStatus:
    [status] = check_links([url], store=store, **options)
    return status


# -- classification -------------------------------------------------------------------------


def test_alive(link_server, store):
    url = f"{link_server.base}/ok"
    status = check_one_url(url, store)

    assert (status.url, status.status, status.http_status, status.final_url, status.redirects, status.reason) == (
        url, "alive", 200, url, (), "200 OK"
    )
    assert link_server.requests == [("HEAD", "/ok")]  # HEAD was enough: no GET
    assert link_server.user_agents == {user_agent()}
    checked = datetime.fromisoformat(status.checked_at)
    assert checked.tzinfo is not None and checked.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - checked) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("route", "http_status", "reason"),
    [("/gone-404", 404, "404 Not Found"), ("/gone-410", 410, "410 Gone")],
)
def test_dead(link_server, store, route, http_status, reason):
    status = check_one_url(f"{link_server.base}{route}", store)

    assert (status.status, status.http_status, status.reason) == ("dead", http_status, reason)
    assert archive_url(status.url) == f"https://web.archive.org/web/*/{link_server.base}{route}"


@pytest.mark.parametrize(
    ("route", "http_status", "reason"),
    [
        ("/forbidden", 403, "403 Forbidden: the site may refuse automated checks; open it in a browser (GET; HEAD refused with 403)"),
        ("/busy", 429, "429 Too Many Requests: the site is rate limiting; try again later"),
        ("/broken", 500, "500 Internal Server Error: the server failed; try again later"),
    ],
)
def test_walls_and_server_errors_are_unknown_not_dead(link_server, store, route, http_status, reason):
    status = check_one_url(f"{link_server.base}{route}", store)

    assert (status.status, status.http_status, status.reason) == ("unknown", http_status, reason)


def test_a_403_to_head_is_asked_again_with_get(link_server, store):
    check_one_url(f"{link_server.base}/forbidden", store)

    assert link_server.requests == [("HEAD", "/forbidden"), ("GET", "/forbidden")]


def test_head_refused_falls_back_to_get(link_server, store):
    url = f"{link_server.base}/no-head"
    status = check_one_url(url, store)

    assert (status.status, status.http_status, status.final_url, status.reason) == (
        "alive", 200, url, "200 OK (GET; HEAD refused with 405)"
    )
    assert link_server.requests == [("HEAD", "/no-head"), ("GET", "/no-head")]


def test_redirect_chain_is_followed_and_recorded(link_server, store):
    url = f"{link_server.base}/moved-permanently"
    status = check_one_url(url, store)

    assert status.status == "redirected"
    assert status.http_status == 200
    assert status.final_url == f"{link_server.base}/ok"
    assert status.redirects == (url, f"{link_server.base}/moved-temporarily")
    assert status.reason == "200 OK after 2 redirects"


def test_a_slow_server_times_out_as_unknown(link_server, store):
    started = time.monotonic()
    status = check_one_url(f"{link_server.base}/slow", store, timeout=(1, 0.5))

    assert (status.status, status.http_status, status.reason) == (
        "unknown", None, "timed out after 0.5 s waiting for an answer"
    )
    assert time.monotonic() - started < 1.5


def test_a_server_that_is_not_there_is_unknown(store, monkeypatch):
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")
    with socketless_port() as port:
        status = check_one_url(f"http://127.0.0.1:{port}/ok", store, timeout=(1, 1))

    assert (status.status, status.http_status, status.reason) == ("unknown", None, "could not connect: Connection refused")


@pytest.mark.parametrize("url", ["ftp://files.example/paper.pdf", "mailto:someone@example.com", "example.com/page"])
def test_only_http_and_https_are_checked(store, url):
    status = check_one_url(url, store)

    assert (status.status, status.http_status, status.final_url, status.reason) == (
        "unknown", None, url, "not an http(s) URL"
    )


def test_many_urls_come_back_in_order_once_each(link_server, store):
    urls = [f"{link_server.base}/ok", f"{link_server.base}/gone-404", "ftp://x.example/", f"{link_server.base}/ok"]
    seen = []
    results = check_links(urls, store=store, progress=lambda done, total, s: seen.append((done, total, s.url)))

    assert [(r.url, r.status) for r in results] == [
        (urls[0], "alive"), (urls[1], "dead"), (urls[2], "unknown")
    ]
    assert sorted(done for done, _, _ in seen) == [1, 2, 3]
    assert {total for _, total, _ in seen} == {3}
    assert link_server.requests.count(("HEAD", "/ok")) == 1


# -- politeness -----------------------------------------------------------------------------


def test_no_more_than_per_host_requests_in_flight(link_server, store):
    urls = [f"{link_server.base}/count/{i}" for i in range(20)]
    results = check_links(urls, store=store, concurrency=8, per_host=2)

    assert [r.status for r in results] == ["alive"] * 20
    assert 1 <= link_server.max_in_flight <= 2


def test_invalid_settings_are_refused(store):
    with pytest.raises(LinkCheckError) as caught:
        check_links(["https://example.com/"], store=store, per_host=0)
    assert str(caught.value) == "concurrency and per_host must be at least 1, got 8 and 0"
    assert isinstance(caught.value, MlsdError)

    with pytest.raises(LinkCheckError) as caught:
        check_links(["https://example.com/"], store=None, older_than_days=7)
    assert str(caught.value) == "older_than_days needs a store to know when links were checked"


# -- the store ------------------------------------------------------------------------------


def test_store_round_trip(link_server, tmp_path):
    path = tmp_path / "links.json"
    urls = [f"{link_server.base}/ok", f"{link_server.base}/gone-410", f"{link_server.base}/moved-permanently", "ftp://x.example/"]
    results = check_links(urls, store=LinkStore(path))

    reopened = LinkStore(path)  # as after a restart
    assert [reopened.get(url) for url in urls] == results
    assert [reopened.status_of(url) for url in urls] == ["alive", "dead", "redirected", "unknown"]
    assert reopened.status_of(f"{link_server.base}/never-asked") == "unchecked"
    assert reopened.get(f"{link_server.base}/never-asked") is None
    assert reopened.recovered_from is None
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    assert [p.name for p in tmp_path.iterdir()] == ["links.json"]  # no temporary file left behind


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", ""])
def test_a_corrupt_store_starts_empty_and_keeps_a_copy(link_server, tmp_path, content):
    path = tmp_path / "links.json"
    path.write_text(content, encoding="utf-8")

    store = LinkStore(path)
    assert len(store) == 0
    assert store.recovered_from == tmp_path / "links.json.corrupt"
    assert store.recovered_from.read_text(encoding="utf-8") == content

    check_links([f"{link_server.base}/ok"], store=store)
    assert LinkStore(path).status_of(f"{link_server.base}/ok") == "alive"


def test_a_store_with_one_bad_entry_keeps_the_good_ones(tmp_path):
    good = LinkStatus("https://a.example/", "dead", 404, "https://a.example/", (), "404 Not Found", "2026-01-02T03:04:05+00:00")
    path = tmp_path / "links.json"
    path.write_text(json.dumps({good.url: good.to_dict(), "https://b.example/": {"status": "alive"}}), encoding="utf-8")

    store = LinkStore(path)
    assert store.all() == [good]
    assert store.recovered_from is not None and "https://b.example/" in store.recovered_from.read_text(encoding="utf-8")


def test_a_store_that_cannot_be_written_raises_a_typed_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    store = LinkStore(blocker / "links.json")  # its folder is a file: loading still works

    with pytest.raises(LinkStoreError) as caught:
        store.put_many([LinkStatus("https://a.example/", "alive", 200, "https://a.example/", (), "200 OK", "2026-01-02T03:04:05+00:00")])
    assert str(caught.value).startswith(f"could not write {blocker / 'links.json'}: ")


def test_default_store_lives_under_mlsd_home(mlsd_home):
    assert LinkStore().path == mlsd_home / "links.json"


# -- rechecking only what is stale ----------------------------------------------------------


def test_older_than_days_rechecks_only_stale_links(link_server, store):
    urls = [f"{link_server.base}/ok", f"{link_server.base}/gone-404", f"{link_server.base}/moved-permanently"]
    first = check_links(urls, store=store, older_than_days=7)
    asked = len(link_server.requests)
    assert asked > 0

    second = check_links(urls, store=store, older_than_days=7)
    assert len(link_server.requests) == asked  # nothing asked again
    assert second == first

    third = check_links(urls, store=store, older_than_days=0)
    assert len(link_server.requests) == 2 * asked  # everything asked again
    assert [s.status for s in third] == ["alive", "dead", "redirected"]


def test_due_picks_unchecked_and_old_results(tmp_path):
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    fresh = LinkStatus("https://fresh.example/", "alive", 200, "https://fresh.example/", (), "200 OK", (now - timedelta(days=2)).isoformat())
    old = LinkStatus("https://old.example/", "alive", 200, "https://old.example/", (), "200 OK", (now - timedelta(days=30)).isoformat())
    store = LinkStore(tmp_path / "links.json")
    store.put_many([fresh, old])

    urls = [fresh.url, old.url, "https://new.example/", fresh.url]
    assert store.due(urls, 7, now=now) == [old.url, "https://new.example/"]
    assert store.due(urls, 0, now=now) == [fresh.url, old.url, "https://new.example/"]
    with pytest.raises(LinkCheckError):
        store.due(urls, -1, now=now)


# -- helpers --------------------------------------------------------------------------------


class socketless_port:
    """A port on 127.0.0.1 that nothing listens on, for as long as the block runs."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))  # bound but not listening: connections are refused
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_a_429_with_a_short_retry_after_is_asked_again_after_waiting(link_server, store):
    started = time.monotonic()
    status = check_one_url(f"{link_server.base}/rate-limited-once", store)

    assert (status.status, status.http_status) == ("alive", 200)
    assert link_server.requests == [("HEAD", "/rate-limited-once"), ("HEAD", "/rate-limited-once")]
    assert time.monotonic() - started >= 1.0  # it waited as told


def test_a_429_asking_for_an_hour_is_not_waited_for(link_server, store):
    started = time.monotonic()
    status = check_one_url(f"{link_server.base}/rate-limited-long", store)

    assert (status.status, status.http_status) == ("unknown", 429)
    assert link_server.requests == [("HEAD", "/rate-limited-long")]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("header", "expected"), [
    ("3", 3.0), (" 12 ", 12.0), ("soon", None), ("", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
])
def test_retry_after_values(header, expected):
    from mlsd.links import _retry_after

    assert _retry_after(header) == expected
