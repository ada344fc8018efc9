"""No lost click under contention (issue #10): two tabs tick Bookmark on search results while
`mlsd progress import` rewrites the progress database in a loop. Every box a tab shows ticked
must be saved, and every click must show: before the fix 3-4 of 14 clicks were lost this way
(the write met a locked database and the page showed the box ticked anyway).

The server runs with the HashingEmbedder over its own MLSD_HOME.

What lost clicks after that fix (issue #10): a box that moved to the database's value (another
tab, or the same tab's other copy of the item, changed it) while the browser had not drawn that
yet; the browser sent the old value back, and it was saved. Guarded since (``ui.render``: an old
value sent back is not saved until a run has drawn the box). With the Search page's folded
related lists built eagerly (many copies of each item), the code before the guard lost a click
in 5 of 6 runs at load 6-8; with the guard, none in the runs since (see the closing note of
issue #10). The test stays out of CI, which it would slow by a minute and which a rare flake of
a busy machine would block: ``make contention`` repeats it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from urllib.parse import quote

import pytest

from tests.browser import DESKTOP, ROOT, page_problems, serve, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("MLSD_CONTENTION"),
                                 reason="known defect of issue #10: run `make contention`")]

ROUNDS = 8  # clicks per tab, at most
KEY = "st-key-search_bookmark_"


@pytest.fixture
def busy_home(small_index, tmp_path):
    """A home whose progress database an `mlsd progress import` loop keeps rewriting."""
    from mlsd.corpus import load_corpus
    from mlsd.progress import ProgressStore

    home = tmp_path / "home"
    shutil.copytree(small_index / "index", home / "index")
    env = {**os.environ, "MLSD_HOME": str(home), "MLSD_EMBEDDER": "hashing"}
    # A backup holding one unrelated bookmark, made in its own home and imported over and over.
    other = tmp_path / "other"
    other.mkdir()
    store = ProgressStore(other / "progress.db")
    store.migrate()
    store.set_bookmark(load_corpus().resources[-1])
    backup = tmp_path / "backup.json"
    subprocess.run([sys.executable, "-m", "mlsd.cli", "progress", "export", str(backup)], cwd=ROOT, check=True,
                   capture_output=True, env={**env, "MLSD_HOME": str(other)})
    errors = open(tmp_path / "import-errors.log", "w")
    loop = subprocess.Popen(["bash", "-c", f'while true; do "{sys.executable}" -m mlsd.cli progress import "{backup}" '
                                           ">/dev/null; done"], cwd=ROOT, env=env, stderr=errors)
    try:
        yield home
    finally:
        loop.terminate()
        loop.wait(timeout=30)
        errors.close()


@pytest.fixture
def busy_server(busy_home):
    yield from serve(busy_home, MLSD_EMBEDDER="hashing")


def ticked(page) -> set[str]:
    shown = set()
    for box in page.locator(f"[class*={KEY}]").all():
        key = next(c for c in (box.get_attribute("class") or "").split() if c.startswith(KEY))
        if box.locator("input").is_checked():
            shown.add(key[len(KEY):])
    return shown


def test_two_tabs_ticking_while_a_backup_is_imported_lose_no_click(busy_home, busy_server, browser):
    contexts = [browser.new_context(viewport=DESKTOP) for _ in range(2)]
    try:
        tabs = [context.new_page() for context in contexts]
        for tab, query in zip(tabs, ("recommendation", "ranking"), strict=True):
            tab.set_default_timeout(90_000)
            tab.goto(f"{busy_server}/search?q={quote(query)}&k=20")
        for tab in tabs:
            tab.locator(".st-key-hit_1").wait_for()
            settle(tab, quiet=1.0)
        # Only items one tab shows: a box both tabs show is one bookmark, and a second click on it
        # (ticked by the first, as the other tab then shows it) rightly takes the bookmark off.
        keys = [[key[len(KEY):] for box in tab.locator(f"[class*={KEY}]").all()
                 for key in (box.get_attribute("class") or "").split() if key.startswith(KEY)] for tab in tabs]
        own = [[k for k in keys[t] if k not in keys[1 - t]] for t in range(2)]
        rounds = min(len(own[0]), len(own[1]), ROUNDS)
        assert rounds >= 5, own
        clicked: list[tuple[int, str]] = []
        alerts: list[str] = []  # for the failure message: what the page said meanwhile
        after: dict[tuple[int, str], bool] = {}  # ticked 150 ms after its click?
        for n in range(rounds):
            for t, tab in enumerate(tabs):
                tab.locator(f".{KEY}{own[t][n]} label").click()
                clicked.append((t, own[t][n]))
                tab.wait_for_timeout(150)
                after[(t, own[t][n])] = tab.locator(f".{KEY}{own[t][n]} input").is_checked()
                alerts += [f"tab {t} after clicking {own[t][n]}: {a}" for a in
                           tab.locator("[data-testid=stAlert]").all_inner_texts()]
        for tab in tabs:
            settle(tab, quiet=2.0)
        problems = [p for tab in tabs for p in page_problems(tab)]
        shown = [ticked(tab) for tab in tabs]
    finally:
        for context in contexts:
            context.close()
    assert not problems, problems
    lost = [(t, item) for t, item in clicked if item not in shown[t]]
    with sqlite3.connect(busy_home / "progress.db") as db:
        saved = {row[0] for row in db.execute("SELECT item_id FROM reading WHERE bookmarked = 1")}
    # What a tab shows ticked is saved, and no click went missing on the way.
    assert shown[0] | shown[1] <= saved, (sorted((shown[0] | shown[1]) - saved), alerts)
    rows = {row[0]: row[1:] for row in db_rows(busy_home)}
    assert not lost, [(t, item, f"click {clicked.index((t, item)) + 1} of {len(clicked)}",
                       f"ticked 150 ms after: {after.get((t, item))}", f"in the database: {rows.get(item)}")
                      for t, item in lost] + alerts


def db_rows(home) -> list[tuple]:
    with sqlite3.connect(home / "progress.db") as db:
        return list(db.execute("SELECT item_id, bookmarked, updated_at FROM reading"))
