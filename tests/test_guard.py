"""What the library refuses to fetch, and how long it waits: real servers on loopback addresses.

Private addresses are refused unless ``MLSD_ALLOW_PRIVATE_URLS`` says otherwise; nothing here
sets it for more than one test. "The first hop is allowed, the redirect target is not" is
tested with the setting's list form: ``MLSD_ALLOW_PRIVATE_URLS=127.0.0.2`` allows a server on
the loopback address 127.0.0.2 (which Linux answers without setup) and nothing else, so its
redirect to 127.0.0.1, or to 169.254.169.254, must be refused at the second hop.
"""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest

from mlsd.addresses import is_allowed, is_public, parse_address
from mlsd.errors import SettingError, SourceError
from mlsd.fetch import fetch_text, read_url
from mlsd.links import check_links, check_one
from tests.servers import HostileServer, body, gzip_bomb, redirect, trickle

LIST = "title,url\nA study,https://a.example/x\n"
REFUSED = "refused: private address"


def closed_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# -- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["127.0.0.1", "127.1", "0x7f000001", "2130706433", "017700000001", "0177.0.0.1",
                                  "[::1]", "::ffff:127.0.0.1", "[::ffff:7f00:1]", "::127.0.0.1", "0.0.0.0", "0",
                                  "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                                  "224.0.0.1", "240.0.0.1", "255.255.255.255", "fe80::1", "fc00::1", "ff02::1",
                                  "2002:7f00:1::", "64:ff9b::a9fe:a9fe", "::"])
def test_private_and_special_addresses_in_every_spelling_are_not_public(text):
    address = parse_address(text)
    assert address is not None, text
    assert not is_public(address), (text, address)
    assert not is_allowed(address)


@pytest.mark.parametrize("text", ["8.8.8.8", "1.1.1.1", "::ffff:8.8.8.8", "2606:4700:4700::1111", "134744072"])
def test_public_addresses_are_public(text):
    assert is_public(parse_address(text))


def test_the_setting_allows_all_or_only_what_it_lists(monkeypatch):
    loopback, other = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.2")
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")
    assert is_allowed(loopback) and is_allowed(other)
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "127.0.0.2, 10.0.0.0/8")
    assert is_allowed(other) and is_allowed(ipaddress.ip_address("10.9.9.9"))
    assert not is_allowed(loopback) and not is_allowed(ipaddress.ip_address("169.254.169.254"))
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.2"))  # the same address, wrapped
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "oops, 0")
    assert not is_allowed(loopback)  # a typo opens nothing


# -- fetches refused ------------------------------------------------------------------------


@pytest.fixture
def list_server():
    with HostileServer({"/list.csv": body(LIST)}) as server:
        yield server


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "2130706433", "017700000001", "127.1", "localhost",
                                  "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"])
def test_loopback_in_any_spelling_is_refused_without_a_request(list_server, host):
    url = f"http://{host}:{list_server.port}/list.csv"
    with pytest.raises(SourceError) as error:
        fetch_text(url)
    assert str(error.value) == f"{url}: {REFUSED}"
    assert list_server.hits == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://10.0.0.1/x",
                                 "https://192.168.0.1/x", "http://0.0.0.0/x", "http://[fe80::1%25eth0]/x"])
def test_private_link_local_and_unspecified_are_refused(url):
    started = time.monotonic()
    with pytest.raises(SourceError) as error:
        fetch_text(url)
    assert str(error.value) == f"{url}: {REFUSED}"
    assert time.monotonic() - started < 1  # refused before any connection attempt


def test_an_open_and_a_closed_private_port_read_the_same(list_server):
    # Whether something listens there must not leak through the message.
    messages = set()
    for port in (list_server.port, closed_port()):
        with pytest.raises(SourceError) as error:
            fetch_text(f"http://127.0.0.1:{port}/list.csv")
        messages.add(str(error.value).replace(str(port), "PORT"))
    assert messages == {f"http://127.0.0.1:PORT/list.csv: {REFUSED}"}


def test_the_setting_lets_the_tests_local_server_through(list_server, monkeypatch):
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")
    assert fetch_text(f"{list_server.base}/list.csv").text == LIST


@pytest.fixture
def second_hop(monkeypatch):
    """A server on 127.0.0.2 (allowed) whose routes redirect to refused addresses; a target on 127.0.0.1."""
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "127.0.0.2")
    with HostileServer({"/list.csv": body(LIST)}) as target:
        routes = {
            "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
            "/to-loopback": redirect(f"{target.base}/list.csv"),
            "/to-loopback-hex": redirect(f"http://0x7f000001:{target.port}/list.csv"),
            "/to-mapped": redirect(f"http://[::ffff:127.0.0.1]:{target.port}/list.csv"),
            "/hop": redirect("/to-loopback", status=301),
            "/fine": redirect("/list.csv"),
            "/list.csv": body(LIST),
        }
        with HostileServer(routes, host="127.0.0.2") as first:
            yield first, target


@pytest.mark.parametrize("route", ["/to-metadata", "/to-loopback", "/to-loopback-hex", "/to-mapped", "/hop"])
def test_a_redirect_to_a_refused_address_is_refused_at_that_hop(second_hop, route):
    first, target = second_hop
    url = f"{first.base}{route}"
    with pytest.raises(SourceError) as error:
        fetch_text(url)
    assert str(error.value) == f"{url}: {REFUSED}"
    assert target.hits == []  # never reached


def test_a_redirect_within_allowed_addresses_is_followed(second_hop):
    first, _ = second_hop
    result = fetch_text(f"{first.base}/fine")
    assert (result.text, result.final_url, result.redirects) == (LIST, f"{first.base}/list.csv", [f"{first.base}/fine"])


def test_proxies_from_the_environment_are_not_used(second_hop, monkeypatch):
    # A proxy would connect on our behalf, out of reach of the address check: it is ignored.
    first, target = second_hop
    monkeypatch.setenv("HTTP_PROXY", first.base)
    monkeypatch.setenv("http_proxy", first.base)
    with pytest.raises(SourceError) as error:
        fetch_text(f"{target.base}/list.csv")
    assert str(error.value).endswith(REFUSED)
    assert first.hits == [] and target.hits == []


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(second_hop, monkeypatch):
    # DNS rebinding: a name that answers an allowed address to the check and a refused one to
    # the connection. The library resolves once per connection and connects to what it checked.
    first, target = second_hop
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])
    calls = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        calls.append(host)
        return real(next(answers), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    result = fetch_text(f"http://rebind.test:{first.port}/list.csv")
    assert result.text == LIST and len(calls) == 1
    assert first.hits == ["/list.csv"] and target.hits == []


def test_the_page_door_never_reads_a_file():
    for source in ("/etc/passwd", "file:///etc/passwd", "../../etc/passwd", "~/.ssh/id_rsa"):
        with pytest.raises(SourceError) as error:
            read_url(source)
        assert str(error.value) == "only http and https URLs can be imported", source


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:99999/x.csv", "'http://127.0.0.1:99999/x.csv' is not a valid URL (Port out of range 0-65535)"),
    ("http://[zz/x.csv", "'http://[zz/x.csv' is not a valid URL (Invalid IPv6 URL)"),
    ("http://exa mple.com/x.csv", "'http://exa mple.com/x.csv' is not a valid URL (bad host or port)"),
])
def test_invalid_urls_are_clear_errors(url, message):
    with pytest.raises(SourceError) as error:
        fetch_text(url)
    assert str(error.value) == message


# -- the total deadline -----------------------------------------------------------------------


@pytest.fixture
def slow_server(monkeypatch):
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")
    routes = {
        "/byte-every-0.3s": trickle(b"x", 0.3),
        "/kb-every-0.2s": trickle(b"y" * 1024, 0.2),
        "/headers-trickle": trickle(b"", 0.3, total=1000, in_headers=True),
        "/bomb": gzip_bomb(50_000_000),
        "/moved": redirect("/byte-every-0.3s"),
    }
    with HostileServer(routes) as server:
        yield server


@pytest.mark.parametrize("route", ["/byte-every-0.3s", "/kb-every-0.2s", "/headers-trickle", "/moved"])
def test_a_trickling_server_is_given_up_on_at_the_deadline(slow_server, route):
    url = f"{slow_server.base}{route}"
    started = time.monotonic()
    with pytest.raises(SourceError) as error:
        fetch_text(url, deadline=1.5)
    took = time.monotonic() - started
    assert str(error.value) == (f"{url}: gave up after 1.5 s (the time allowed for one fetch: "
                                "MLSD_FETCH_DEADLINE or --deadline)")
    assert 1.4 < took < 3, took


def test_the_deadline_comes_from_the_environment(slow_server, monkeypatch):
    monkeypatch.setenv("MLSD_FETCH_DEADLINE", "1")
    started = time.monotonic()
    with pytest.raises(SourceError, match="gave up after 1 s"):
        fetch_text(f"{slow_server.base}/byte-every-0.3s")
    assert time.monotonic() - started < 2.5
    monkeypatch.setenv("MLSD_FETCH_DEADLINE", "soon")
    with pytest.raises(SettingError) as error:
        fetch_text(f"{slow_server.base}/byte-every-0.3s")
    assert str(error.value) == "MLSD_FETCH_DEADLINE is 'soon': give a positive number of seconds, e.g. 60"


def test_a_gzip_bomb_stops_at_the_size_cap(slow_server):
    url = f"{slow_server.base}/bomb"
    with pytest.raises(SourceError) as error:
        fetch_text(url, max_bytes=1_000_000)
    assert str(error.value) == f"{url} is larger than 1 MB"


def test_a_link_check_has_a_deadline_per_link_and_refuses_private_addresses(slow_server, monkeypatch):
    trickling = f"{slow_server.base}/headers-trickle"  # a check reads no body: the headers must trickle
    started = time.monotonic()
    status = check_one(trickling, deadline=1)
    assert time.monotonic() - started < 2.5
    assert (status.status, status.reason) == ("unknown", "gave up after 1 s (the time allowed for one link)")

    monkeypatch.delenv("MLSD_ALLOW_PRIVATE_URLS")
    statuses = check_links([trickling, "http://169.254.169.254/", f"http://0x7f000001:{slow_server.port}/x"],
                           store=None)
    assert [(s.status, s.reason) for s in statuses] == [("unknown", REFUSED)] * 3
    assert slow_server.hits == ["/headers-trickle"]  # only the first check, made while allowed


def test_a_link_redirecting_to_a_private_address_is_refused(second_hop):
    first, target = second_hop
    status = check_one(f"{first.base}/to-loopback")
    assert (status.status, status.reason) == ("unknown", REFUSED)
    assert target.hits == []
