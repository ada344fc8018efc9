"""Seeded random walks through the app in a real browser (the walker is ``tests/walk.py``).

A few short walks with fixed seeds, each over a server of its own and its own MLSD_HOME (a copy
of the session's built index), so what one walk writes (practice sessions, read marks) never
meets another. A failure names the seed, the step and the whole action log; replay it with
``.venv/bin/python -m tests.walk --seed SEED --steps STEP [--viewport phone]``. Longer walks
with any seed: ``make walk SEED=123 STEPS=500``.
"""

from __future__ import annotations

import pytest

from tests.browser import StreamlitServer, copy_index, launch_chromium
from tests.walk import OFFLINE_ARGS, OFFLINE_ENV, add_history, plain, walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (seed, viewport, actions, first page, returning user?): about three minutes in all on the
# project's 2-core machine (measured: see the README). A returning user's home holds read marks, notes and past practice
# sessions (see ``tests.walk.add_history``): a fresh home never shows those pages.
WALKS = [
    (1, "desktop", 20, "/", False),
    (5, "desktop", 20, "/search?q=cold+start", False),
    (7, "desktop", 20, "/practice", True),
    (4, "phone", 15, "/", False),
]


@pytest.fixture(scope="module")
def offline_browser():
    """Headless Chromium that resolves no host but 127.0.0.1: a stray link never leaves the machine."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p, OFFLINE_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("seed,viewport,steps,start,returning",
                         [pytest.param(*w, id=f"seed{w[0]}-{w[1]}{'-returning' if w[4] else ''}") for w in WALKS])
def test_a_random_walk_meets_no_crash(offline_browser, engine, corpus, mlsd_home, tmp_path,
                                      seed, viewport, steps, start, returning):
    home = copy_index(mlsd_home, tmp_path / "home")  # its own MLSD_HOME: writes stay in this walk
    if returning:
        add_history(home, corpus)
    server = StreamlitServer(home, env=OFFLINE_ENV).start()
    try:
        result = walk(offline_browser, server, seed, steps, viewport, start=start, returning=returning)
    finally:
        server.stop()
    assert not result.failures, result.report()
    assert result.actions == steps, result.report()
    log = plain(server.log_text())
    assert "Traceback" not in log, (f"the server logged a traceback during the walk (seed {seed}, {viewport}):\n"
                                    f"{log[log.find('Traceback'):][:3000]}\n\nAction log:\n" + "\n".join(result.log))
