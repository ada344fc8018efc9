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
