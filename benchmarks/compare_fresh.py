#!/usr/bin/env python
"""A fresh app server opened directly at /search?q=cold+start: this checkout against another
revision's code, interleaved round by round in headless Chromium, so both see the same load.

    git worktree add --detach /tmp/base <revision>          # the other revision's code
    MLSD_HOME=/tmp/base-home PYTHONPATH=/tmp/base .venv/bin/python -m mlsd.cli build-index
    MLSD_HOME=/tmp/this-home .venv/bin/mlsd build-index
    .venv/bin/python benchmarks/compare_fresh.py --base /tmp/base --base-home /tmp/base-home \\
        --home /tmp/this-home --rounds 6

Each round starts `streamlit run app.py` from each folder (this venv), waits for
``/_stcore/health``, then opens the search URL and times, from health: the first result's
title shown ("Cold start problem"), and the page idle (no running indicator, spinner or
skeleton). It also counts the element containers the page drew. Medians over rounds are
printed per variant; the first round also pays for a cold page cache.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
IDLE = ("() => !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSpinner]')"
        " && !document.querySelector('[data-testid=stSkeleton]')")


def fresh_search(page, folder: Path, home: Path) -> tuple[float, float, int]:
    """(first result shown, page idle) in seconds after health answers, and the elements drawn."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLSD_HOME": str(home), "PYTHONPATH": str(folder)}
    env.pop("MLSD_EMBEDDER", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.05)
        started = time.perf_counter()
        page.goto(url + "/search?q=cold+start")
        page.get_by_text("Cold start problem").first.wait_for(timeout=120_000)
        shown = time.perf_counter() - started
        page.wait_for_function(IDLE, polling=50, timeout=120_000)
        idle = time.perf_counter() - started
        elements = page.evaluate("() => document.querySelectorAll('[data-testid=stElementContainer]').length")
        return shown, idle, elements
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other revision's source folder")
    parser.add_argument("--base-home", type=Path, required=True, help="MLSD_HOME with an index built by it")
    parser.add_argument("--home", type=Path, required=True, help="MLSD_HOME with an index built by this checkout")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    variants = {"base": (args.base.resolve(), args.base_home), "this": (ROOT, args.home)}
    rows: dict[str, list[tuple[float, float, int]]] = {name: [] for name in variants}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for r in range(args.rounds):
            for name in list(variants) if r % 2 == 0 else list(reversed(variants)):
                rows[name].append(fresh_search(page, *variants[name]))
                shown, idle, elements = rows[name][-1]
                print(f"round {r + 1} {name}: first result {shown:.2f} s, idle {idle:.2f} s, {elements} elements, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        browser.close()
    print("| variant | first result shown, median s (all) | page idle, median s | elements |\n|---|---|---|---|")
    for name, values in rows.items():
        shown = [v[0] for v in values]
        idle = [v[1] for v in values]
        print(f"| {name} | {statistics.median(shown):.2f} ({', '.join(f'{v:.2f}' for v in shown)}) | "
              f"{statistics.median(idle):.2f} | {values[-1][2]} |")


if __name__ == "__main__":
    main()
