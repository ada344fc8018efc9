"""`mlsd check-links` end to end against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

import mlsd.paths
from mlsd.cli import cli


class Handler(BaseHTTPRequestHandler):
    hits = 0

    def do_HEAD(self):  # noqa: N802 - http.server's naming
        type(self).hits += 1
        self.send_response(200 if self.path.startswith("/ok") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_data(tmp_path, monkeypatch):
    """The bundled data with every resource URL pointing at a local server: 5 alive, the rest gone."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    data = tmp_path / "data"
    shutil.copytree(mlsd.paths.DATA_DIR, data)
    text = (data / "resources.yaml").read_text(encoding="utf-8")
    counter = iter(range(10_000))

    def local(match):
        n = next(counter)
        return f"url: {base}/{'ok' if n < 5 else 'gone'}/{n}"

    (data / "resources.yaml").write_text(re.sub(r"url: \S+", local, text), encoding="utf-8")
    monkeypatch.setattr(mlsd.paths, "DATA_DIR", data)
    monkeypatch.setenv("MLSD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")  # the server is on 127.0.0.1
    Handler.hits = 0
    yield tmp_path / "home"
    server.shutdown()


def test_check_links_reports_dead_links_with_archive_links_and_remembers(local_data):
    runner = CliRunner()
    result = runner.invoke(cli, ["check-links"])
    assert result.exit_code == 0, result.output
    assert "Checked 50 links: 5 alive, 45 dead" in result.output
    assert "archive: https://web.archive.org/web/*/http://127.0.0.1" in result.output
    assert Handler.hits == 50
    stored = json.loads((local_data / "links.json").read_text(encoding="utf-8"))
    assert len(stored) == 50

    again = runner.invoke(cli, ["check-links", "--older-than", "7", "--json"])
    assert again.exit_code == 0, again.output
    assert Handler.hits == 50  # nothing was older than a week: no new request
    statuses = [r["status"] for r in json.loads(again.output.strip().splitlines()[-1])]
    assert statuses.count("alive") == 5 and statuses.count("dead") == 45


def test_check_links_unknown_source_is_a_clean_error(local_data):
    result = CliRunner().invoke(cli, ["check-links", "--source", "nope"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: No resources from source 'nope'. Known sources: bundled.")
    assert Handler.hits == 0
