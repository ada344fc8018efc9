"""Shared fixtures: the real model, the real corpus, a real index in a temporary MLSD_HOME.

Tests that use the real model (``embedder``, ``engine`` and the fixtures built on them) are
marked ``slow`` automatically; page and plumbing tests use ``pages_home``, an index built with
the small ``HashingEmbedder``, and stay in the fast tier (``make check``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Fixtures that load the real model or build on an index made with it.
REAL_MODEL_FIXTURES = frozenset({"embedder", "engine", "home", "server", "own_server"})


def pytest_collection_modifyitems(items):
    for item in items:
        if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def small_index(tmp_path_factory):
    """An index of the bundled data built with the HashingEmbedder (no model), in its own home."""
    from mlsd.corpus import load_corpus
    from mlsd.embed import HashingEmbedder
    from mlsd.index import build_index

    home = tmp_path_factory.mktemp("mlsd-small-home")
    corpus = load_corpus(library_dir=home / "library")
    build_index(list(corpus.items), corpus.data_hash, HashingEmbedder(), home / "index")
    return home


@pytest.fixture
def pages_home(small_index, tmp_path, monkeypatch):
    """A fresh MLSD_HOME with a copy of the small index, and the app set to the HashingEmbedder.

    For page tests that check what a page shows and saves, not what the model understands.
    """
    import shutil

    folder = tmp_path / "pages-home"
    shutil.copytree(small_index / "index", folder / "index")
    monkeypatch.setenv("MLSD_HOME", str(folder))
    monkeypatch.setenv("MLSD_EMBEDDER", "hashing")
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

    # The journeys' list servers listen on 127.0.0.1, which the app refuses unless told otherwise.
    yield from serve(copy_index(mlsd_home, tmp_path / "home"), MLSD_ALLOW_PRIVATE_URLS="1")
