"""A non-editable install works: the wheel carries the bundled data, and neither the command
line nor the app needs the source checkout.

The wheel is built from this checkout and installed with ``pip install --no-deps --target`` into
a temporary folder that comes first on ``PYTHONPATH``; the dependencies are the test
environment's own. Commands run from a folder outside the checkout, with ``HOME`` pointed at a
temporary folder, so an installed mlsd writes under ``~/.mlsd`` there and never into the project.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("installed")
    wheels, site, home = work / "wheels", work / "site", work / "home"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("mlsd-*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    home.mkdir()
    return {"site": site, "home": home, "work": work}


def environment(installed: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLSD_HOME", "PYTHONPATH")}
    env.update(PYTHONPATH=str(installed["site"]), HOME=str(installed["home"]), MLSD_EMBEDDER="hashing")
    return env


def test_the_wheel_carries_the_data_and_the_cli_runs_outside_the_checkout(installed):
    run = subprocess.run([sys.executable, "-c", "import mlsd, mlsd.paths as p; print(mlsd.__file__, p.DATA_DIR, p.home())"],
                         cwd=installed["work"], env=environment(installed), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    module_file, data_dir, home = run.stdout.split()
    assert module_file.startswith(str(installed["site"])), module_file  # the installed copy, not the checkout
    assert data_dir == str(installed["site"] / "mlsd" / "data")
    assert home == str(installed["home"] / ".mlsd")

    stats = subprocess.run([sys.executable, "-m", "mlsd.cli", "stats", "--json"], cwd=installed["work"],
                           env=environment(installed), capture_output=True, text=True, timeout=120)
    assert stats.returncode == 0, stats.stderr
    totals = json.loads(stats.stdout)["totals"]
    assert totals["steps"] == 7 and totals["resources"] > 0


def test_the_app_starts_from_an_installed_package(installed, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "app.py", app / "app.py")
    for folder in ("pages", "ui", ".streamlit"):
        shutil.copytree(ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "streamlit.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                "--server.headless", "true"], cwd=app, env=environment(installed),
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while True:
            try:
                if urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert process.poll() is None and time.time() < deadline, (tmp_path / "streamlit.log").read_text()
            time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text()


RENDER_PAGES = """
from streamlit.testing.v1 import AppTest
import mlsd
assert mlsd.__file__.startswith({site!r}), mlsd.__file__
home = AppTest.from_file("app.py", default_timeout=120).run()
assert not home.exception, home.exception
print(home.title[0].value)
search = AppTest.from_file("app.py", default_timeout=120)
search.query_params["q"] = "cold start"
search.switch_page("pages/search.py")
search.run()
assert not search.exception, search.exception
print(" ".join(str(m.value) for m in search.markdown))
"""


def test_the_pages_render_from_an_installed_package(installed, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "app.py", app / "app.py")
    for folder in ("pages", "ui", ".streamlit"):
        shutil.copytree(ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = environment(installed)
    env["PYTHONPATH"] = f"{installed['site']}{os.pathsep}{app}"
    run = subprocess.run([sys.executable, "-c", RENDER_PAGES.format(site=str(installed["site"]))], cwd=app, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ML System Design Explorer")
    # Topics are page links now; their summary is the Markdown beside them.
    assert "Recommending to new users or new items" in run.stdout
