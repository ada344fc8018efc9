"""The Library page's import box, through Streamlit's AppTest: web addresses only, never a path on
the server, private addresses refused, and a confirmation before a list is replaced."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mlsd.library import list_sources
from tests.servers import HostileServer, body
from tests.test_app import unescape

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "library.py")


def open_page(page: str = PAGE) -> AppTest:
    # The page alone, not through app.py: under st.navigation AppTest drops button clicks.
    return AppTest.from_file(page, default_timeout=120).run()

FIRST = "title,url\nFirst one,https://first.example/1\nFirst two,https://first.example/2\n"
SECOND = "title,url\nSecond one,https://second.example/1\nSecond two,https://second.example/2\nThird,https://second.example/3\n"


def import_from_box(at, url: str, name: str = ""):
    at.text_input(key="library_url").set_value(url)
    at.text_input(key="library_name").set_value(name)
    at.button(key="import_list").click()
    return at.run()


def shown(at) -> str:
    """The alerts as the reader sees them (error texts are Markdown-escaped on the page)."""
    return "\n".join(unescape(str(e.value)) for kind in ("error", "warning", "success", "info") for e in getattr(at, kind))


@pytest.mark.parametrize("source", ["/etc/passwd", "file:///etc/passwd", "../../../../etc/passwd", "~/.ssh/id_rsa",
                                    "tests/fixtures/import/cases.csv"])
def test_the_url_box_refuses_anything_but_a_web_address(pages_home, source):
    at = import_from_box(open_page(), source)
    assert not at.exception
    assert [str(e.value) for e in at.error] == ["Give an http:// or https:// address, or upload the file."]
    assert "no such file" not in shown(at) and "root:" not in shown(at)
    assert not (pages_home / "library").exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/first.csv", "http://0x7f000001:{port}/first.csv",
                                 "http://[::ffff:127.0.0.1]:{port}/first.csv", "http://169.254.169.254/latest/"])
def test_private_addresses_are_refused_without_saying_more(pages_home, url):
    with HostileServer({"/first.csv": body(FIRST)}) as server:
        at = import_from_box(open_page(), url.format(port=server.port))
        assert server.hits == []
    assert [unescape(str(e.value)) for e in at.error] == [
        f"Import failed, nothing was changed: {url.format(port=server.port)}: refused: private address"]


def test_replacing_a_different_list_asks_first(pages_home, monkeypatch):
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")  # the lists are served from 127.0.0.1
    with HostileServer({"/first.csv": body(FIRST), "/second.csv": body(SECOND)}) as server:
        at = import_from_box(open_page(), f"{server.base}/first.csv", "mine")
        assert "Imported 2 new items into 'mine'" in shown(at)

        at = import_from_box(at, f"{server.base}/second.csv", "mine")
        assert not at.exception
        assert [len(s.resources) for s in list_sources()] == [2]  # not replaced yet
        question = unescape(str(at.warning[0].value))
        assert question == (f"'mine' already holds a different list (from {server.base}/first.csv). Replace it with "
                            f"{server.base}/second.csv? Its items leave the library and search.")

        at.button(key="library_cancel").click()
        at = at.run()
        assert not at.warning and [len(s.resources) for s in list_sources()] == [2]

        at = import_from_box(at, f"{server.base}/second.csv", "mine")
        at.button(key="library_replace").click()
        at = at.run()
        assert not at.exception
        assert "Imported 3 new items into 'mine'" in shown(at)
        assert [(s.name, len(s.resources), s.origin) for s in list_sources()] == [("mine", 3, f"{server.base}/second.csv")]

        at = import_from_box(at, f"{server.base}/second.csv", "mine")  # the same list again: a refresh, no question
        assert not at.warning and "Nothing was written" not in shown(at)
