"""The Library page in a real browser: an upload is imported from its bytes, replacing a list asks
first, and a hostile upload neither freezes the server nor reads anything on it.

The server runs with the no-model HashingEmbedder over its own MLSD_HOME, so these journeys
do not wait for the real model; the browser fixtures come from conftest.py.
"""

from __future__ import annotations

import shutil
import threading
import time
from urllib.request import urlopen

import pytest

from mlsd.library import list_sources
from tests.browser import serve, shoot, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def hashing_server(small_index, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(small_index / "index", home / "index")
    monkeypatch.setenv("MLSD_HOME", str(home))  # so this test reads the library the server writes
    monkeypatch.setenv("MLSD_EMBEDDER", "hashing")
    yield from serve(home, MLSD_EMBEDDER="hashing")


def upload_and_import(page, path) -> None:
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.wait_for_timeout(1000)
    page.locator(".st-key-import_list button").click()


def test_an_upload_is_imported_and_replacing_it_asks_first(hashing_server, page, tmp_path):
    (tmp_path / "reading.csv").write_text("title,url\nUploaded one,https://up.example/1\nUploaded two,https://up.example/2\n")
    (tmp_path / "other.csv").write_text("title,url\nAnother,https://another.example/1\n")
    page.goto(f"{hashing_server}/library")
    page.get_by_text("Known public lists").first.wait_for()

    upload_and_import(page, tmp_path / "reading.csv")
    page.get_by_text("Imported 2 new items into 'reading'").first.wait_for()
    wait_idle(page)
    assert [(s.name, s.origin) for s in list_sources()] == [("reading", "upload:reading.csv")]

    name = page.get_by_label("Name (optional, kebab-case)")
    name.fill("reading")
    name.press("Enter")
    wait_idle(page)
    upload_and_import(page, tmp_path / "other.csv")  # another file, under the taken name
    page.get_by_text("already holds a different list").first.wait_for()
    wait_idle(page)
    shoot(page, "library-replace-question")
    assert [len(s.resources) for s in list_sources()] == [2]  # nothing replaced while the question is open
    page.locator(".st-key-library_replace button").click()
    page.get_by_text("Imported 1 new items into 'reading'").first.wait_for()
    wait_idle(page)
    assert [(s.name, len(s.resources), s.origin) for s in list_sources()] == [("reading", 1, "upload:other.csv")]


def test_a_hostile_upload_does_not_freeze_the_server(hashing_server, page, tmp_path):
    hostile = tmp_path / "hostile.md"
    hostile.write_text("- " + " " * 1_000_000 + "\n" + "# a" + " " * 1_000_000 + "b\n")
    page.goto(f"{hashing_server}/library")
    page.get_by_text("Known public lists").first.wait_for()
    wait_idle(page)
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            urlopen(f"{hashing_server}/_stcore/health", timeout=120).read()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.perf_counter()
    upload_and_import(page, hostile)
    page.get_by_text("no recognizable items").first.wait_for(timeout=30_000)
    took = time.perf_counter() - started
    stop.set()
    poller.join(timeout=30)
    print(f"\nhostile 2 MB upload answered in {took:.1f} s; health max {max(latencies) * 1000:.0f} ms "
          f"over {len(latencies)} requests")
    assert took < 15
    assert max(latencies) < 5  # was 55 s for a 60 kB file: the whole server froze


def test_a_path_in_the_url_box_is_refused_without_reading_it(hashing_server, page):
    page.goto(f"{hashing_server}/library")
    box = page.get_by_placeholder("https://…/case_studies.csv")
    box.fill("/etc/passwd")
    box.press("Enter")
    wait_idle(page)
    page.locator(".st-key-import_list button").click()
    page.get_by_text("Give an http:// or https:// address, or upload the file.").first.wait_for()
    body = page.inner_text("body")
    assert "root:" not in body and "no such file" not in body
