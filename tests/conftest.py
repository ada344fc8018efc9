"""Shared fixtures: the real model, the real corpus, a real index in a temporary MLSD_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def mlsd_home(tmp_path_factory) -> Path:
    """Everything the program writes during the tests goes here, never into the project."""
    home = tmp_path_factory.mktemp("mlsd-home")
    old = os.environ.get("MLSD_HOME")
    os.environ["MLSD_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MLSD_HOME", None)
    else:
        os.environ["MLSD_HOME"] = old


@pytest.fixture(scope="session")
def corpus():
    from mlsd import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    from mlsd.embed import Embedder

    return Embedder().load()


@pytest.fixture(scope="session")
def engine(corpus, embedder, mlsd_home):
    """A search engine over the bundled data, its index built in the session's MLSD_HOME."""
    from mlsd.search import open_engine

    return open_engine(corpus, embedder)


@pytest.fixture
def home(tmp_path, monkeypatch, engine, mlsd_home):
    """A fresh MLSD_HOME with a copy of the session's (bundled-only) index, for tests that write."""
    import shutil

    folder = tmp_path / "home"
    shutil.copytree(mlsd_home / "index", folder / "index")
    monkeypatch.setenv("MLSD_HOME", str(folder))
    return folder


# -- real-browser fixtures (the tooling itself lives in tests/browser.py) -------------------------
@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, launch_chromium

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make setup-test` (scripts/setup.sh --test).")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh desktop-size tab (its own cookies and Streamlit session)."""
    from tests.browser import DESKTOP

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


@pytest.fixture
def own_server(engine, mlsd_home, tmp_path):
    """A server over its own MLSD_HOME (a copy of the built index), for journeys that write."""
    from tests.browser import copy_index, serve

    yield from serve(copy_index(mlsd_home, tmp_path / "home"))
