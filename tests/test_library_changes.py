"""Imports and removals that change the library and the index together, or not at all.

Fast where it can be: the index is built with the HashingEmbedder (``MLSD_EMBEDDER=hashing``),
which the command line picks up too. The crash tests ``kill -9`` a real ``mlsd import`` (and
``mlsd remove``) subprocess at many moments, then check what the next start finds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlsd import journal, paths
from mlsd.cli import cli
from mlsd.corpus import data_hash, load_corpus
from mlsd.embed import HashingEmbedder
from mlsd.errors import LibraryError, NameTakenError, SourceError
from mlsd.index import load_index
from mlsd.library import import_source, import_upload, import_url, list_sources, remove_source

ROOT = Path(__file__).resolve().parent.parent


def write_list(path: Path, rows: int, prefix: str = "study", host: str = "k.example") -> Path:
    lines = ["title,url,company,year,summary"]
    lines += [f"{prefix.title()} {i} on ranking feeds,https://{host}/{prefix}/{i},Co{i % 40},20{10 + i % 15},"
              f"What {prefix} {i} learned about recommendations" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(home: Path) -> dict[str, str]:
    """sha256 of every file of the library (and of the progress database, when there is one)."""
    files = sorted((home / "library").glob("*")) if (home / "library").exists() else []
    found = {f"library/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}
    if (home / "progress.db").exists():
        found["progress.db"] = hashlib.sha256((home / "progress.db").read_bytes()).hexdigest()
    return found


def contents(home: Path) -> dict[str, object]:
    """The library's lists without their import time (which differs between two runs of one import)."""
    return {p.name: {k: v for k, v in json.loads(p.read_bytes()).items() if k != "imported_at"}
            for p in sorted((home / "library").glob("*.json"))}


def assert_consistent(home: Path) -> None:
    """The invariant: no change left pending, and the index is exactly the library's (no rebuild needed)."""
    assert not (home / journal.STAGING).exists() and not (home / journal.JOURNAL).exists()
    corpus = load_corpus(library_dir=home / "library")
    assert corpus.data_hash == data_hash(paths.DATA_DIR, home / "library")
    load_index(list(corpus.items), corpus.data_hash, home / "index", model=HashingEmbedder().name)  # raises if stale


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="mlsd")


# -- the same name for another list ------------------------------------------------------------


def test_a_different_list_under_a_taken_name_is_refused_unless_replaced(pages_home, tmp_path):
    six = write_list(tmp_path / "six.csv", 6, "six")
    (tmp_path / "other").mkdir()
    three = write_list(tmp_path / "other" / "six.csv", 3, "three")
    assert import_source(str(six)).total == 6
    before = snapshot(pages_home)

    with pytest.raises(NameTakenError) as error:
        import_source(str(three))  # another file that happens to have the same name
    assert str(error.value) == (f"a different list is already imported as 'six' (from {six}); replace it "
                                "explicitly, or import under another name")
    assert snapshot(pages_home) == before

    result = run("import", str(three))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: 'six' already holds a different list (from {six}); add --replace to replace it, "
                             "or choose another name with --name\n")
    assert snapshot(pages_home) == before

    result = run("import", str(three), "--replace")
    assert result.exit_code == 0, result.output
    assert [(s.name, len(s.resources), s.origin) for s in list_sources()] == [("six", 3, str(three))]
    assert_consistent(pages_home)


def test_the_same_list_again_is_a_refresh(pages_home, tmp_path, monkeypatch):
    listing = write_list(tmp_path / "mine.csv", 4)
    first = import_source(str(listing))
    ids = [r.id for r in list_sources()[0].resources]
    monkeypatch.chdir(tmp_path)
    again = import_source("mine.csv")  # the same file, by a relative path: same origin
    assert (again.new, again.total) == (0, 4) and first.total == 4
    assert [r.id for r in list_sources()[0].resources] == ids
    uploaded = write_list(tmp_path / "uploaded.csv", 2, "uploaded").read_bytes()
    upload = import_upload(uploaded, "mine.csv", name="up")
    assert (upload.name, upload.origin, upload.total, upload.path is not None) == ("up", "upload:mine.csv", 2, True)
    assert import_upload(uploaded, "mine.csv", name="up").total == 2  # the same file name again: a refresh
    with pytest.raises(NameTakenError):
        import_upload(uploaded, "another.csv", name="up")


def test_same_origin_compares_urls_normalized():
    from mlsd.library import same_origin

    assert same_origin("https://a.example/list.csv", "http://www.a.example/list.csv/")
    assert not same_origin("https://a.example/list.csv", "https://a.example/other.csv")
    assert not same_origin("upload:list.csv", "list.csv")
    assert not same_origin("https://a.example/list.csv", "upload:https://a.example/list.csv")


# -- the web page's doors -----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["/etc/passwd", "tests/fixtures/import/cases.csv", "file:///etc/passwd", "~/x.csv"])
def test_the_url_door_never_reads_a_file(pages_home, source):
    with pytest.raises(SourceError) as error:
        import_url(source)
    assert str(error.value) == "only http and https URLs can be imported"
    assert not (pages_home / "library").exists()


def test_an_upload_is_imported_from_its_bytes(pages_home):
    data = b"title,url\nUploaded study,https://up.example/1\n"
    report = import_upload(data, "C:\\Users\\me\\My List.csv")
    assert (report.name, report.origin, report.total) == ("my-list", "upload:My List.csv", 1)
    assert_consistent(pages_home)
    with pytest.raises(SourceError, match="is larger than 20 MB"):
        import_upload(b"x" * 20_000_001, "huge.csv")
    with pytest.raises(SourceError, match="is not UTF-8 text"):
        import_upload(b"title,url\n\xff\xfe,https://a.example\n", "latin.csv")


# -- a read-only home ------------------------------------------------------------------------------


def test_a_library_that_cannot_be_written_is_a_clear_error(pages_home, tmp_path):
    listing = write_list(tmp_path / "list.csv", 2)
    (pages_home / ".library.lock").mkdir()  # the lock cannot be opened: as in a read-only home
    with pytest.raises(LibraryError) as error:
        import_source(str(listing))
    assert str(error.value).startswith(f"cannot change the library: {pages_home} is not writable (")
    with pytest.raises(LibraryError):
        remove_source("list")


# -- recovery of a change a crash left behind ----------------------------------------------------


def test_recovery_finishes_a_change_the_index_already_holds_and_drops_one_it_does_not(pages_home, tmp_path):
    base = import_source(str(write_list(tmp_path / "base.csv", 3, "base")))
    assert base.total == 3
    before = snapshot(pages_home)
    manifest = json.loads((pages_home / "index" / "manifest.json").read_text())

    # A crash after staging and the journal, before the index: dropped, the library as it was.
    with journal.LibraryChange("new", b'{"not": "used"}') as change:
        change.record("0" * 64)  # ...and the process dies here: the block is left without publishing
    assert journal.pending()
    assert journal.recover() == "dropped"
    assert snapshot(pages_home) == before and not journal.pending()
    assert_consistent(pages_home)

    # A crash after the index recorded the change, before it was published: finished.
    with journal.LibraryChange("base", None) as change:
        corpus = load_corpus(library_dir=change.staging)
        change.record(corpus.data_hash)
        (pages_home / "index" / "manifest.json").write_text(json.dumps({**manifest, "data_sha256": corpus.data_hash}))
    assert journal.recover() == "finished"
    assert not (pages_home / "library" / "base.json").exists() and not journal.pending()


# -- kill -9 at any moment -----------------------------------------------------------------------


def cli_process(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MLSD_HOME": str(home), "MLSD_EMBEDDER": "hashing"}
    return subprocess.Popen([sys.executable, "-m", "mlsd.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def phase(home: Path, template_manifest: bytes) -> str:
    """Where the killed process was, judged from what it left behind (before recovery)."""
    staged, journaled = (home / journal.STAGING).exists(), (home / journal.JOURNAL).exists()
    index_new = (home / "index" / "manifest.json").read_bytes() != template_manifest
    if journaled:
        return "index written, not published" if index_new else "journal written, index not yet"
    if staged:
        return "staging"
    return "finished" if index_new else "before any write"


def kill_at_many_moments(template: Path, tmp_path: Path, args: tuple[str, ...], moments: int) -> Counter:
    """Run ``mlsd ARGS`` on copies of ``template``, ``kill -9`` it after delays spread over its run,
    check the invariant after recovery each time; returns how often each phase was hit."""
    probe_home = tmp_path / "probe"
    shutil.copytree(template, probe_home)
    started = time.monotonic()
    probe = cli_process(probe_home, *args)
    assert probe.wait(timeout=300) == 0, probe.stderr.read().decode() if probe.stderr else ""
    duration = time.monotonic() - started
    old_library = snapshot(template)
    new_library = contents(probe_home)
    assert new_library != contents(template)
    template_manifest = (template / "index" / "manifest.json").read_bytes()

    seen: Counter = Counter()
    for n in range(moments):
        # From before the interpreter is up (a fast machine writes within 0.3 s) to past the end.
        delay = 0.02 + (duration * 1.6 - 0.02) * n / max(moments - 1, 1)
        home = tmp_path / f"run-{n}"
        shutil.copytree(template, home)
        process = cli_process(home, *args)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        seen[phase(home, template_manifest)] += 1

        recovered = subprocess.run([sys.executable, "-m", "mlsd.cli", "sources"], cwd=ROOT, capture_output=True,
                                   env={**os.environ, "MLSD_HOME": str(home), "MLSD_EMBEDDER": "hashing"})
        assert recovered.returncode == 0, recovered.stderr
        # Byte for byte the old library, or the new one (the same lists; only the import time differs).
        assert snapshot(home) == old_library or contents(home) == new_library, delay
        assert_consistent(home)
        shutil.rmtree(home)
    print(f"\n{' '.join(args[:1])}: {moments} kill -9 moments over {duration:.1f} s: {dict(seen)}")
    return seen


@pytest.mark.slow
def test_kill_9_during_an_import_leaves_the_old_or_the_new_library_each_with_its_index(pages_home, tmp_path):
    import_source(str(write_list(tmp_path / "old.csv", 50, "old")))  # a library with a list already in it
    template = tmp_path / "template"
    shutil.copytree(pages_home, template)
    big = write_list(tmp_path / "big.csv", 4000, "big", host="big.example")

    seen = kill_at_many_moments(template, tmp_path, ("import", str(big)), moments=30)

    assert seen["journal written, index not yet"] + seen["index written, not published"] > 0, seen
    assert seen["before any write"] > 0 and seen["finished"] > 0, seen


@pytest.mark.slow
def test_kill_9_during_a_removal_leaves_the_list_or_not_each_with_its_index(pages_home, tmp_path):
    import_source(str(write_list(tmp_path / "old.csv", 50, "old")))
    import_source(str(write_list(tmp_path / "big.csv", 4000, "big", host="big.example")))
    template = tmp_path / "template"
    shutil.copytree(pages_home, template)

    seen = kill_at_many_moments(template, tmp_path, ("remove", "big"), moments=15)

    assert seen["before any write"] > 0 and seen["finished"] > 0, seen


# A kill -9 placed exactly between two steps, by a wrapper around the step (the library is not
# changed for the test: the subprocess patches it, then runs the real command).
KILL_BETWEEN = """
import os, signal, sys
from mlsd import journal
where = sys.argv[1]

def dies_before(function):
    def wrapped(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    return wrapped

if where == "before the journal":
    journal.LibraryChange.record = dies_before(journal.LibraryChange.record)
elif where == "before the index":
    import mlsd.library
    mlsd.library._update_index = dies_before(mlsd.library._update_index)
elif where == "after the index, before publishing":
    journal.LibraryChange.publish = dies_before(journal.LibraryChange.publish)
elif where == "after publishing, before cleaning":
    journal._clean = dies_before(journal._clean)
from mlsd.cli import cli
cli(sys.argv[2:], prog_name="mlsd")
"""
BETWEEN = ["before the journal", "before the index", "after the index, before publishing",
           "after publishing, before cleaning"]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["import", "remove"])
@pytest.mark.parametrize("where", BETWEEN)
def test_kill_9_between_any_two_steps(pages_home, tmp_path, command, where):
    listing = write_list(tmp_path / "listing.csv", 40)
    if command == "remove":
        import_source(str(listing))
    before = snapshot(pages_home)
    args = ["import", str(listing)] if command == "import" else ["remove", "listing"]
    env = {**os.environ, "MLSD_HOME": str(pages_home), "MLSD_EMBEDDER": "hashing"}

    killed = subprocess.run([sys.executable, "-c", KILL_BETWEEN, where, *args], cwd=ROOT, env=env, capture_output=True)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert journal.pending()
    rolled_forward = where.startswith("after")
    assert journal.recover() == ("finished" if rolled_forward else "dropped")
    if rolled_forward:
        assert ("listing.json" in contents(pages_home)) == (command == "import")
    else:
        assert snapshot(pages_home) == before  # byte for byte
    assert_consistent(pages_home)
