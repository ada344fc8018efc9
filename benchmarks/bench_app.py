#!/usr/bin/env python
"""What a user waits for in the browser: page loads and the first search.

Starts `streamlit run app.py` on a free port over an MLSD_HOME whose index is already built
(`mlsd build-index`), drives headless Debian Chromium, and reports:

- cold server, first request for the home page (until the page is idle);
- first search typed on the home page after reading it for --read seconds (the model loads
  in the background from the first page served), until the results are shown;
- the same first search with no reading time (a fresh server, the search URL opened first);
- warm loads of every page.

    MLSD_HOME=/tmp/mlsd-bench .venv/bin/mlsd build-index
    MLSD_HOME=/tmp/mlsd-bench .venv/bin/python benchmarks/bench_app.py
    MLSD_HOME=/tmp/mlsd-bench .venv/bin/python benchmarks/bench_app.py --fresh-only 3
                  (only the fresh server at /search?q=cold+start: ONNX vs sentence-transformers)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = ("() => !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSpinner]')"
        " && !document.querySelector('[data-testid=stSkeleton]')")


@contextmanager
def server(**extra_env: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **extra_env})
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    while True:
        try:
            if urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.1)
    try:
        yield url, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=10)


def load(page, url: str, text: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text(text).first.wait_for()
    page.wait_for_function(IDLE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--read", type=float, default=5.0, help="seconds spent reading the home page before searching")
    parser.add_argument("--fresh-only", type=int, default=0, metavar="ROUNDS",
                        help="only the fresh server opened at /search?q=cold+start, ROUNDS interleaved rounds of the "
                             "ONNX query encoder and of sentence-transformers (MLSD_QUERY_ENCODER)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        if args.fresh_only:
            fresh_rounds(page, args.fresh_only)
            browser.close()
            return

        with server() as (url, boot):
            rows.append(("server start (until /_stcore/health answers)", boot))
            rows.append(("cold server: home page", load(page, url, "Where to start")))
            page.wait_for_timeout(args.read * 1000)
            start = time.perf_counter()
            box = page.get_by_placeholder("e.g. cold start", exact=False)
            box.fill("cold start")
            box.press("Enter")
            page.locator(".st-key-hit_1").wait_for()
            page.wait_for_function(IDLE)
            rows.append((f"first search after reading the home page {args.read:.0f} s", time.perf_counter() - start))
            for path, text in [("/", "Where to start"), ("/flow", "Checklist"), ("/search?q=pagerank", "Intro to PageRank"),
                               ("/companies?company=Netflix", "resources from Netflix"),
                               ("/topics?topic=cold-start", "Related case studies"), ("/map", "Map of everything")]:
                load(page, url + path, text)  # warm-up
                rows.append((f"warm page load {path}", load(page, url + path, text)))

        with server() as (url, _):
            rows.append(("fresh server: /search?q=cold+start opened first",
                         load(page, url + "/search?q=cold+start", "Cold start problem")))
        browser.close()

    print("| what | seconds |\n|---|---|")
    for what, seconds in rows:
        print(f"| {what} | {seconds:.2f} |")


def fresh_rounds(page, rounds: int) -> None:
    """A fresh server opened at /search?q=cold+start, with each query encoder, interleaved."""
    encoders = {"onnx": "", "sentence-transformers": "sentence-transformers"}
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for r in range(rounds):
        for name in (list(encoders) if r % 2 == 0 else list(reversed(encoders))):
            with server(MLSD_QUERY_ENCODER=encoders[name]) as (url, _):
                times[name].append(load(page, url + "/search?q=cold+start", "Cold start problem"))
            print(f"round {r + 1} {name}: {times[name][-1]:.2f} s (after /_stcore/health answered)", flush=True)
    print("| query encoder | fresh server, /search?q=cold+start opened first: median s (all) |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {sorted(values)[len(values) // 2]:.2f} ({', '.join(f'{v:.2f}' for v in values)}) |")


if __name__ == "__main__":
    main()
