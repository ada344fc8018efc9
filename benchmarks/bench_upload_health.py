"""Does the server stay responsive while the Library page parses a big upload?

Starts `streamlit run app.py` (MLSD_EMBEDDER=hashing, a temporary MLSD_HOME with an index built
by it), uploads a file through headless Chromium on the Library page, clicks Import, and asks
`/_stcore/health` every 0.1 s until the page shows the outcome. Prints how long the import took
and the health endpoint's latency (median, p95, max) meanwhile.

    .venv/bin/python benchmarks/bench_upload_health.py --shape spaces --size 60000
    .venv/bin/python benchmarks/bench_upload_health.py --shape csv --size 5000000

``--project DIR`` runs another checkout's app and library (e.g. an export of an older commit:
``git archive COMMIT | tar -x -C /tmp/old``), with this project's virtualenv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def make_upload(shape: str, size: int, folder: Path) -> Path:
    if shape == "spaces":  # the case: "- " and a long run of spaces
        path, text = folder / "spaces.md", "- " + " " * size + "\n"
    elif shape == "heading":
        path, text = folder / "heading.md", "# a" + " " * size + "b\n"
    elif shape == "csv":  # a big, well-formed list
        rows, line = ["title,url,company,year,summary"], 0
        while sum(len(r) + 1 for r in rows) < size:
            rows.append(f"Study {line} on ranking,https://big.example/{line},Co{line % 40},2020,What study {line} found")
            line += 1
        path, text = folder / "big.csv", "\n".join(rows) + "\n"
    else:
        raise SystemExit(f"unknown shape {shape}")
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="spaces", choices=["spaces", "heading", "csv"])
    parser.add_argument("--size", type=int, default=60_000, help="characters of the upload")
    parser.add_argument("--project", type=Path, default=ROOT, help="the checkout whose app and library run")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    project = args.project.resolve()
    work = Path(tempfile.mkdtemp(prefix="mlsd-health-"))
    env = {**os.environ, "MLSD_HOME": str(work / "home"), "MLSD_EMBEDDER": "hashing", "PYTHONPATH": str(project)}
    subprocess.run([sys.executable, "-m", "mlsd.cli", "build-index"], cwd=project, env=env, check=True,
                   capture_output=True)
    upload = make_upload(args.shape, args.size, work)
    port = free_port()
    log = open(work / "streamlit.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(project / "app.py"), "--server.port",
                               str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                              cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                urlopen(f"{base}/_stcore/health", timeout=600).read()
            except OSError:
                pass
            latencies.append(time.perf_counter() - started)
            time.sleep(0.1)

    try:
        for _ in range(300):
            try:
                if urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            page.set_default_timeout(args.timeout * 1000)
            page.goto(f"{base}/library")
            page.get_by_text("Known public lists").first.wait_for()
            page.locator("input[type=file]").first.set_input_files(str(upload))
            page.wait_for_timeout(1500)
            poller = threading.Thread(target=poll, daemon=True)
            started = time.perf_counter()
            poller.start()
            page.locator(".st-key-import_list button").click()
            outcome = page.locator("[data-testid=stAlert]").first
            outcome.wait_for()
            took = time.perf_counter() - started
            text = outcome.inner_text().strip().replace("\n", " ")
            stop.set()
            poller.join(timeout=600)
            browser.close()
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=20)
        log.close()
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")
    print(f"project {project}, upload {upload.name} ({upload.stat().st_size:,} bytes, {args.shape})")
    print(f"import answered in {took:.1f} s: {text[:160]}")
    print("latencies (ms):", [round(x * 1000) for x in latencies])
    print(f"health: {len(latencies)} requests, median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
