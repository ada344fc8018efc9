"""A catalogue of hostile inputs, each run through the command line as an attacker (or an unlucky
user) would: every one must end in exactly one clear ``Error: ...`` line on stderr, no
traceback, a non-zero exit code, and the library, the index and the progress database
byte-for-byte as they were.

The servers are real (``tests/servers.py``). One listens on 127.0.0.1 for the cases that need
a reachable server (trickling, oversized, gzip bomb: those cases set
``MLSD_ALLOW_PRIVATE_URLS=1``); another on 127.0.0.2 redirects elsewhere. "The first hop is
allowed, the redirect target is not" uses ``MLSD_ALLOW_PRIVATE_URLS=127.0.0.2``: the first
server is allowed by name, its redirect targets (127.0.0.1, 169.254.169.254) are not. Without
the setting, every private address is refused, which is how most cases run.

Run with ``-s`` to see the table of inputs and outcomes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlsd.cli import cli
from mlsd.corpus import load_corpus
from mlsd.library import import_source
from mlsd.progress import ProgressStore
from tests.servers import HostileServer, body, gzip_bomb, redirect, trickle

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
LIST = "title,url\nA study,https://a.example/x\nAnother,https://a.example/y\n"
FLOW_STEPS = ["problem-formulation", "ml-metrics"]


@dataclass(frozen=True)
class Case:
    """One hostile input: the command line's arguments ({local}, {alt}, {tmp} filled in), the
    environment it runs in, files to write first, and a piece of the message expected."""

    name: str
    args: tuple[str, ...]
    says: str
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def backup(**changes) -> bytes:
    session = {"uid": "u1", "question_id": None, "question": "Q", "minutes": 45,
               "started_at": "2026-01-01T00:00:00+00:00", "finished_at": None, "current_step": "ml-metrics",
               "step_entered_at": None, "updated_at": "2026-01-01T00:00:00+00:00", "last_activity": 1.8e9,
               "steps": [{"step_id": "ml-metrics", "note": "n", "seconds": 3.0}]}
    reading = {"key": "r1", "item_id": "r1", "title": "One", "url": None, "read_at": None, "bookmarked": True,
               "note": "", "updated_at": "2026-01-01T00:00:00+00:00"}
    session.update(changes.pop("session", {}))
    reading.update(changes.pop("reading", {}))
    data = {"format": "mlsd-progress", "version": 1, "reading": [reading], "sessions": [session], **changes}
    return json.dumps(data).encode()


ALLOW_ALL = {"MLSD_ALLOW_PRIVATE_URLS": "1"}
ALLOW_ALT = {"MLSD_ALLOW_PRIVATE_URLS": "127.0.0.2"}
PRIVATE = "refused: private address"
CASES = [
    # -- addresses: refused before any connection, in every spelling --------------------------
    Case("loopback", ("import", "http://127.0.0.1:{local_port}/list.csv"), PRIVATE),
    Case("loopback, hex", ("import", "http://0x7f000001:{local_port}/list.csv"), PRIVATE),
    Case("loopback, decimal", ("import", "http://2130706433:{local_port}/list.csv"), PRIVATE),
    Case("loopback, octal", ("import", "http://017700000001:{local_port}/list.csv"), PRIVATE),
    Case("loopback, short", ("import", "http://127.1:{local_port}/list.csv"), PRIVATE),
    Case("loopback, name", ("import", "http://localhost:{local_port}/list.csv"), PRIVATE),
    Case("IPv6 loopback", ("import", "http://[::1]:{local_port}/list.csv"), PRIVATE),
    Case("IPv4-mapped IPv6", ("import", "http://[::ffff:127.0.0.1]:{local_port}/list.csv"), PRIVATE),
    Case("IPv4-compatible IPv6", ("import", "http://[::127.0.0.1]:{local_port}/list.csv"), PRIVATE),
    Case("cloud metadata", ("import", "http://169.254.169.254/latest/meta-data/"), PRIVATE),
    Case("private network", ("import", "http://10.0.0.1/list.csv"), PRIVATE),
    Case("unspecified", ("import", "http://0.0.0.0:{local_port}/list.csv"), PRIVATE),
    Case("redirect to metadata", ("import", "{alt}/to-metadata"), PRIVATE, env=ALLOW_ALT),
    Case("redirect to loopback", ("import", "{alt}/to-loopback"), PRIVATE, env=ALLOW_ALT),
    Case("redirect to loopback, hex", ("import", "{alt}/to-loopback-hex"), PRIVATE, env=ALLOW_ALT),
    Case("redirect to ftp", ("import", "{alt}/to-ftp"), "redirected to a non-http(s) address", env=ALLOW_ALT),
    Case("redirect loop", ("import", "{alt}/loop"), "too many redirects", env=ALLOW_ALT),
    # -- URLs that do not parse --------------------------------------------------------------
    Case("port out of range", ("import", "http://127.0.0.1:99999/x.csv"), "is not a valid URL (Port out of range"),
    Case("unclosed IPv6 bracket", ("import", "http://[zz/x.csv"), "is not a valid URL (Invalid IPv6 URL)"),
    Case("space in host", ("import", "http://exa mple.com/x.csv"), "is not a valid URL"),
    Case("other scheme", ("import", "gopher://example.com/x.csv"), "only http and https URLs can be imported"),
    # -- slow, big and lying servers -----------------------------------------------------------
    Case("trickle, --deadline", ("import", "{local}/trickle", "--deadline", "1"), "gave up after 1 s", env=ALLOW_ALL),
    Case("trickle, MLSD_FETCH_DEADLINE", ("import", "{local}/trickle-kb"), "gave up after 1 s",
         env={**ALLOW_ALL, "MLSD_FETCH_DEADLINE": "1"}),
    Case("trickling headers", ("import", "{local}/trickle-headers", "--deadline", "1"), "gave up after 1 s",
         env=ALLOW_ALL),
    Case("bad deadline setting", ("import", "{local}/list.csv"), "MLSD_FETCH_DEADLINE is 'soon'",
         env={**ALLOW_ALL, "MLSD_FETCH_DEADLINE": "soon"}),
    Case("oversized body", ("import", "{local}/big"), "is larger than 20 MB", env=ALLOW_ALL),
    Case("declared oversized", ("import", "{local}/declared-big"), "is larger than 20 MB", env=ALLOW_ALL),
    Case("gzip bomb", ("import", "{local}/bomb"), "is larger than 20 MB", env=ALLOW_ALL),
    Case("HTML instead of a list", ("import", "{local}/page.html"), "looks like HTML", env=ALLOW_ALL),
    # -- hostile lists ---------------------------------------------------------------------------
    Case("1 MB of spaces after '- '", ("import", "{tmp}/spaces.md"), "no recognizable items",
         files={"spaces.md": b"- " + b" " * MB + b"\n"}),
    Case("1 MB heading of spaces", ("import", "{tmp}/heading.md"), "no recognizable items",
         files={"heading.md": b"# a" + b" " * MB + b"b\n"}),
    Case("1 MB of [ and (", ("import", "{tmp}/brackets.md"), "no recognizable items",
         files={"brackets.md": b"- " + b"[a](" * (MB // 4) + b"\n"}),
    Case("giant CSV cell", ("import", "{tmp}/cell.csv"), "line 3: a cell is longer than 131,072 characters",
         files={"cell.csv": b"title,url\nA,https://a.example/1\nB," + b"x" * 200_000 + b"\n"}),
    Case("unterminated quote", ("import", "{tmp}/quote.csv"), "line 2: a quote opens here and is never closed",
         files={"quote.csv": b'title,url,summary\nA,https://a.example/1,"open\n'
                + b"".join(b"R%d,https://r.example/%d,x\n" % (i, i) for i in range(10))}),
    Case("not UTF-8", ("import", "{tmp}/latin.csv"), "is not UTF-8 text",
         files={"latin.csv": "title,url\nCaf\u00e9,https://a.example\n".encode("latin-1")}),
    Case("a folder", ("import", "{tmp}"), "is a folder, not a file"),
    Case("same name, another list", ("import", "{tmp}/other/six.csv"),
         "'six' already holds a different list (from ", files={"other/six.csv": LIST.encode()}),
    Case("bad name", ("import", "{tmp}/x.csv", "--name", "../../etc/passwd"), "is not a valid name",
         files={"x.csv": LIST.encode()}),
    Case("remove what is not there", ("remove", "nothing-here"), "no imported source named 'nothing-here'"),
    # -- queries ---------------------------------------------------------------------------------
    Case("empty query", ("search", ""), "The query is empty"),
    Case("blank query", ("search", "   "), "The query is empty"),
    Case("empty batch file", ("search", "--batch", "{tmp}/empty.txt"), "holds no queries", files={"empty.txt": b""}),
    Case("blank batch file", ("search", "--batch", "{tmp}/blank.txt"), "holds no queries",
         files={"blank.txt": b"\n   \n\t\n"}),
    # -- progress backups ------------------------------------------------------------------------
    Case("backup, huge integer", ("progress", "import", "{tmp}/b.json"), "a number thousands of digits long",
         files={"b.json": b'{"format": "mlsd-progress", "version": 1, "sessions": [{"minutes": ' + b"9" * 5000 + b"}]}"}),
    Case("backup, 300-digit seconds", ("progress", "import", "{tmp}/b.json"), "field 'seconds'",
         files={"b.json": backup(session={"steps": [{"step_id": "ml-metrics", "note": "", "seconds": 10 ** 300}]})}),
    Case("backup, deep nesting", ("progress", "import", "{tmp}/b.json"), "nested too deeply",
         files={"b.json": b"[" * 100_000 + b"]" * 100_000}),
    Case("backup, negative seconds", ("progress", "import", "{tmp}/b.json"), "field 'seconds' is -1000000000.0",
         files={"b.json": backup(session={"steps": [{"step_id": "ml-metrics", "note": "", "seconds": -1e9}]})}),
    Case("backup, last_activity 1e308", ("progress", "import", "{tmp}/b.json"), "field 'last_activity' is 1e+308",
         files={"b.json": backup(session={"last_activity": 1e308})}),
    Case("backup, unknown step", ("progress", "import", "{tmp}/b.json"), "field 'step_id' is 'shell', not a step",
         files={"b.json": backup(session={"steps": [{"step_id": "shell", "note": "", "seconds": 1}]})}),
    Case("backup, updated_at 9999-zz", ("progress", "import", "{tmp}/b.json"), "'9999-zz', not an ISO 8601 time",
         files={"b.json": backup(reading={"updated_at": "9999-zz"})}),
    Case("backup, updated_at in 9999", ("progress", "import", "{tmp}/b.json"), "out of range",
         files={"b.json": backup(reading={"updated_at": "9999-01-01T00:00:00+00:00"})}),
]


def state(home: Path) -> dict[str, str]:
    """sha256 of every file of the library, the index and the progress database."""
    files = [p for folder in ("library", "index") for p in sorted((home / folder).glob("*")) if p.is_file()]
    files += [home / "progress.db"]
    return {p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def servers():
    big_declared = body(b"x" * 1000, content_type="text/csv", declared_length=30 * MB)
    local_routes = {
        "/list.csv": body(LIST, content_type="text/csv"),
        "/trickle": trickle(b"x", 0.3),
        "/trickle-kb": trickle(b"y" * 1024, 0.2),
        "/trickle-headers": trickle(b"", 0.3, total=1000, in_headers=True),
        "/big": body(b"title,url\n" + b"x" * (21 * MB), content_type="text/csv"),
        "/declared-big": big_declared,
        "/bomb": gzip_bomb(60 * MB),
        "/page.html": body("<!doctype html><html><body>Log in</body></html>", content_type="text/html"),
    }
    with HostileServer(local_routes) as local:
        alt_routes = {
            "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
            "/to-loopback": redirect(f"{local.base}/list.csv"),
            "/to-loopback-hex": redirect(f"http://0x7f000001:{local.port}/list.csv"),
            "/to-ftp": redirect("ftp://files.example/list.csv"),
            "/loop": redirect("/loop"),
        }
        with HostileServer(alt_routes, host="127.0.0.2") as alt:
            yield local, alt


@pytest.fixture(scope="module")
def template_home(small_index, tmp_path_factory):
    """A home with an index, one imported list ('six') and some progress, all as the user left them."""
    home = tmp_path_factory.mktemp("hostile") / "home"
    shutil.copytree(small_index / "index", home / "index")
    six = home.parent / "six.csv"
    six.write_text("title,url\n" + "".join(f"Six {i},https://six.example/{i}\n" for i in range(6)), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSD_HOME", str(home))
        patch.setenv("MLSD_EMBEDDER", "hashing")
        import_source(str(six))
        ProgressStore().set_read(load_corpus().resources[0])
    return home


@pytest.fixture
def hostile_home(template_home, tmp_path, monkeypatch):
    """A fresh copy of the template home, used as MLSD_HOME (with the no-model embedder)."""
    home = tmp_path / "home"
    shutil.copytree(template_home, home)
    monkeypatch.setenv("MLSD_HOME", str(home))
    monkeypatch.setenv("MLSD_EMBEDDER", "hashing")
    return home


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_input_is_one_clear_error_and_changes_nothing(servers, hostile_home, tmp_path, monkeypatch, case):
    local, alt = servers
    for name, data in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    args = [a.format(local=local.base, local_port=local.port, alt=alt.base, tmp=tmp_path) for a in case.args]
    before = state(hostile_home)

    result = CliRunner().invoke(cli, args, prog_name="mlsd")

    lines = result.stderr.splitlines()
    print(f"\n{case.name:<32} exit {result.exit_code}  {result.stderr.strip()[:150]}")
    assert result.exit_code != 0, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert case.says in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), repr(result.exception)
    assert state(hostile_home) == before


# -- the cases a CliRunner cannot show: a read-only home, a crafted manifest --------------------


def as_user_without_root_powers(args: list[str]) -> list[str]:
    """Run as this user, but without the capabilities that let root write to read-only folders."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made read-only for us")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *args]


@pytest.mark.parametrize("args, says", [
    (["import", "{tmp}/list.csv"], "Error: cannot change the library: {home} is not writable (Permission denied)"),
    (["remove", "six"], "Error: cannot change the library: {home} is not writable (Permission denied)"),
], ids=["import", "remove"])
def test_a_read_only_home_is_one_clear_error(hostile_home, tmp_path, args, says):
    (tmp_path / "list.csv").write_text(LIST, encoding="utf-8")
    (hostile_home / ".library.lock").unlink(missing_ok=True)
    before = state(hostile_home)
    subprocess.run(["chmod", "-R", "a-w", str(hostile_home)], check=True)
    try:
        command = [sys.executable, "-m", "mlsd.cli", *(a.format(tmp=tmp_path) for a in args)]
        env = {**os.environ, "MLSD_HOME": str(hostile_home), "MLSD_EMBEDDER": "hashing"}
        run = subprocess.run(as_user_without_root_powers(command), cwd=ROOT, env=env, capture_output=True, text=True)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(hostile_home)], check=True)
    print(f"\nread-only home, {args[0]:<24} exit {run.returncode}  {run.stderr.strip()}")
    assert run.returncode == 1
    assert run.stderr == says.format(home=hostile_home) + "\n"
    assert state(hostile_home) == before


def test_progress_export_works_from_a_read_only_home(hostile_home, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = state(hostile_home)
    subprocess.run(["chmod", "-R", "a-w", str(hostile_home)], check=True)
    try:
        command = [sys.executable, "-m", "mlsd.cli", "progress", "export", str(out / "backup.json")]
        env = {**os.environ, "MLSD_HOME": str(hostile_home)}
        run = subprocess.run(as_user_without_root_powers(command), cwd=ROOT, env=env, capture_output=True, text=True)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(hostile_home)], check=True)
    assert (run.returncode, run.stderr) == (0, ""), run.stderr
    assert run.stdout == f"Exported 1 resource and 0 practice sessions to {out / 'backup.json'}\n"
    assert len(json.loads((out / "backup.json").read_text())["reading"]) == 1
    assert state(hostile_home) == before


@pytest.mark.parametrize("craft", ["empty file name", "items without id", "files of the wrong type"])
def test_a_crafted_manifest_does_not_stop_search(hostile_home, craft):
    path = hostile_home / "index" / "manifest.json"
    manifest = json.loads(path.read_text())
    if craft == "empty file name":
        manifest["files"]["vectors"]["name"] = ""
    elif craft == "items without id":
        items = hostile_home / "index" / manifest["files"]["items"]["name"]
        data = json.dumps([{"text_sha": e["text_sha"]} for e in json.loads(items.read_text())]).encode()
        items.write_bytes(data)
        manifest["files"]["items"]["sha256"] = hashlib.sha256(data).hexdigest()
    else:
        manifest["files"] = {"vectors": 1, "items": [], "projection": None}
    path.write_text(json.dumps(manifest))

    result = CliRunner().invoke(cli, ["search", "cold start", "--k", "3"], prog_name="mlsd")

    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Rebuilding the search index: the ")
    assert "Traceback" not in result.output and " 1. " in result.stdout
    again = CliRunner().invoke(cli, ["search", "cold start", "--k", "3"], prog_name="mlsd")
    assert (again.exit_code, again.stderr) == (0, "")  # rebuilt once, loaded since
