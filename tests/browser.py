"""Browser test tooling shared by the browser tests and the random walker (`tests/walk.py`).

A real `streamlit run app.py` over a given MLSD_HOME, Debian's headless Chromium through
Playwright (Playwright's own browser download does not work here), and waits for a script run
to be over.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` on a free port over ``home`` (its MLSD_HOME); the log is kept in ``home``.

    Args:
        home: the MLSD_HOME the server reads and writes.
        env: extra environment variables for the server.
    """

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / f"streamlit-{self.port}.log"
        self.env = {**os.environ, "MLSD_HOME": str(self.home), **(env or {})}
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 90) -> StreamlitServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while True:
            try:
                if urlopen(f"{self.url}/_stcore/health", timeout=2).read() == b"ok":
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start: see {self.log_path}")
            time.sleep(0.3)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        if self._log is not None and not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(mlsd_home, **extra_env: str):
    """A fixture body: yields the URL of a server over ``mlsd_home`` (with ``extra_env`` set); its log
    must hold no traceback."""
    server = StreamlitServer(Path(mlsd_home), env=extra_env).start()
    try:
        yield server.url
    finally:
        server.stop()
    text = server.log_text()
    assert "Traceback" not in text, f"the server logged a traceback:\n{text[-3000:]}"


def copy_index(built_home: Path, home: Path) -> Path:
    """A fresh MLSD_HOME at ``home`` holding a copy of the index built in ``built_home``."""
    shutil.copytree(Path(built_home) / "index", Path(home) / "index")
    return Path(home)


def launch_chromium(playwright, extra_args: list[str] | tuple[str, ...] = ()):
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Debian's chromium is not installed: run `make setup-test` (scripts/setup.sh --test).")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args])


def wait_idle(page, timeout: float | None = None, sidebar: bool = True) -> None:
    """Wait until the script run is over: no running indicator, no spinner, no skeleton.

    Args:
        timeout: seconds; by default the page's default timeout.
        sidebar: False on a phone-sized page, whose sidebar (and its nav) is collapsed.
    """
    ms = None if timeout is None else timeout * 1000
    if sidebar:
        page.wait_for_selector("[data-testid=stSidebarNav]", timeout=ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSpinner]')"
        " && !document.querySelector('[data-testid=stSkeleton]')",
        timeout=ms,
    )
    page.wait_for_timeout(800)  # charts finish drawing


# -- settling and checking a page (the random walker and the journeys) ---------------------------------
# Text that is never legitimately on a page: a Python object printed instead of rendered.
LEAKS = ("DeltaGenerator(", " object at 0x", "<function ", "Traceback")
# Streamlit's own state marks on the app root (what its e2e tests wait on), then what a person sees:
# the running indicator, spinners, skeletons, elements greyed out while a rerun replaces them.
JS_BUSY = r"""() => {
  if (document.readyState !== 'complete') return 'document loading';
  const app = document.querySelector('[data-testid=stApp]');
  if (!app) return 'no app yet';
  const connection = app.getAttribute('data-test-connection-state');
  if (connection && connection !== 'CONNECTED') return `connection ${connection}`;
  const script = app.getAttribute('data-test-script-state');
  if (script && script !== 'notRunning') return `script ${script}`;
  if (!document.querySelector('[data-testid=stSidebarNav]')) return 'no navigation yet';
  if (document.querySelector('[data-testid=stStatusWidget]')) return 'running indicator';
  if (document.querySelector('[data-testid=stSpinner]')) return 'spinner';
  if (document.querySelector('[data-testid=stSkeleton]')) return 'skeleton';
  if (document.querySelector('[data-stale=true]')) return 'stale elements (rerun in progress)';
  return '';
}"""

JS_CHECK = r"""() => {
  const app = document.querySelector('[data-testid=stApp]');
  const exceptions = Array.from(document.querySelectorAll('[data-testid=stException]')).map(e => {
    const message = e.querySelector('[data-testid=stExceptionMessage]');
    const rows = Array.from(e.querySelectorAll('[data-testid=stExceptionTraceRow]')).map(r => r.textContent.trim());
    return {message: (message ? message.textContent : e.textContent).trim(), trace: rows};
  });
  return {text: app ? app.textContent : document.body.textContent, exceptions};
}"""



def settle(page, timeout: float = 60, quiet: float = 0.45) -> None:
    """Wait until the script run is over and the page has stayed idle for ``quiet`` seconds.

    Unlike ``wait_idle`` this works on a phone too (its sidebar is closed) and waits on
    Streamlit's own script state, which turns "running" before any indicator shows. After
    loading a page, pass a longer ``quiet``: a fresh server answers its first page with two
    runs about half a second apart (see ``ui.state`` and app.py).

    Raises:
        TimeoutError: the page was still busy after ``timeout`` seconds (a hang), with what it was doing.
    """
    page.wait_for_timeout(200)
    deadline = time.monotonic() + timeout
    needed = max(1, round(quiet / 0.15))
    idle, state = 0, "not checked"
    while idle < needed:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page did not settle within {timeout:.0f} s: {state}")
        state = page.evaluate(JS_BUSY)
        idle = 0 if state else idle + 1
        page.wait_for_timeout(150)


def page_problems(page) -> list[str]:
    """What is wrong on the page now: exception boxes, object reprs leaked into its text."""
    state = page.evaluate(JS_CHECK)
    problems = ["exception on the page: " + "\n".join([e["message"], *e["trace"]]) for e in state["exceptions"]]
    for marker in LEAKS if not problems else ():  # an exception box shows a traceback of its own
        at = state["text"].find(marker)
        if at >= 0:
            problems.append(f"{marker!r} in the page text: …{state['text'][max(0, at - 150):at + 250]}…")
    return problems


def shoot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
