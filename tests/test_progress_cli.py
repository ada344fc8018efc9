"""`mlsd progress export` and `mlsd progress import` through click's CliRunner.

Each test points MLSD_HOME at its own folders, so the CLI opens the same default database
(``$MLSD_HOME/progress.db``) a user's would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlsd.backup import EXPORT_FORMAT, EXPORT_VERSION, export_data
from mlsd.cli import cli
from mlsd.progress import ProgressStore

T0 = 1_800_000_000.0


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="mlsd")


def use_home(monkeypatch, folder: Path) -> Path:
    monkeypatch.setenv("MLSD_HOME", str(folder))
    return folder


def without_export_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "exported_at"}


def test_export_then_import_into_another_home(tmp_path, monkeypatch, corpus):
    use_home(monkeypatch, tmp_path / "desktop")
    desktop = ProgressStore()
    desktop.set_read(corpus.resources[0])
    desktop.set_note(corpus.resources[1], "compare with the two-tower model")
    sid = desktop.start_session("Design a video recommender", 45, "problem-formulation", now=T0)
    desktop.finish(sid, now=T0 + 600)
    backup = tmp_path / "backup.json"

    result = run("progress", "export", str(backup))
    assert (result.exit_code, result.output) == (0, f"Exported 2 resources and 1 practice session to {backup}\n")
    data = json.loads(backup.read_text(encoding="utf-8"))
    assert (data["format"], data["version"]) == (EXPORT_FORMAT, EXPORT_VERSION)

    use_home(monkeypatch, tmp_path / "laptop")
    result = run("progress", "import", str(backup))
    assert (result.exit_code, result.output) == (0, f"Imported 2 resources and 1 practice session from {backup}\n")
    laptop = ProgressStore()
    assert laptop.path == tmp_path / "laptop" / "progress.db"
    assert without_export_time(export_data(laptop)) == without_export_time(export_data(desktop))

    result = run("progress", "import", str(backup))  # again: everything is already there
    assert (result.exit_code, result.output) == (0, f"Imported 0 resources and 0 practice sessions from {backup}\n")


def test_export_of_an_empty_store(tmp_path, monkeypatch):
    home = use_home(monkeypatch, tmp_path / "home")
    backup = tmp_path / "empty.json"
    result = run("progress", "export", str(backup))
    assert (result.exit_code, result.output) == (0, f"Exported 0 resources and 0 practice sessions to {backup}\n")
    data = json.loads(backup.read_text(encoding="utf-8"))
    assert {k: data[k] for k in ("format", "version", "reading", "sessions")} == {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "reading": [], "sessions": []}
    assert (home / "progress.db").is_file()  # created on first use

    # An empty backup imports too, and adds nothing.
    result = run("progress", "import", str(backup))
    assert (result.exit_code, result.output) == (0, f"Imported 0 resources and 0 practice sessions from {backup}\n")


@pytest.mark.parametrize("content, message", [
    ("not json at all", "{f} is not valid JSON (Expecting value: line 1 column 1 (char 0)); "
                        "expected an `mlsd progress export` file."),
    ('{"format": "something-else"}', '{f} is not an mlsd progress export (its "format" should be "mlsd-progress").'),
    ('{"format": "mlsd-progress", "version": 1, "reading": [{"key": "a"}]}',
     "{f}, reading entry #1: field 'item_id' is missing."),
])
def test_importing_a_bad_file_is_a_one_line_error(tmp_path, monkeypatch, corpus, content, message):
    use_home(monkeypatch, tmp_path / "home")
    ProgressStore().set_read(corpus.resources[0])
    before = without_export_time(export_data(ProgressStore()))
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")

    result = run("progress", "import", str(bad))

    assert (result.exit_code, result.output) == (1, "Error: " + message.format(f=bad) + "\n")
    assert without_export_time(export_data(ProgressStore())) == before


def test_importing_a_missing_file_is_refused_by_click(tmp_path, monkeypatch):
    use_home(monkeypatch, tmp_path / "home")
    result = run("progress", "import", str(tmp_path / "nowhere.json"))
    assert result.exit_code == 2
    assert f"Error: Invalid value for 'FILE': File '{tmp_path / 'nowhere.json'}' does not exist." in result.output
    assert not (tmp_path / "home" / "progress.db").exists()


def test_exporting_into_a_missing_folder_is_a_one_line_error(tmp_path, monkeypatch):
    use_home(monkeypatch, tmp_path / "home")
    target = tmp_path / "no-such-folder" / "backup.json"
    result = run("progress", "export", str(target))
    assert (result.exit_code, result.output) == (1, f"Error: Cannot write {target}: No such file or directory.\n")


def test_a_damaged_database_is_a_one_line_error(tmp_path, monkeypatch):
    home = use_home(monkeypatch, tmp_path / "home")
    home.mkdir()
    (home / "progress.db").write_bytes(b"garbage, not SQLite" * 50)
    result = run("progress", "export", str(tmp_path / "backup.json"))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: The progress database {home / 'progress.db'} is damaged (file is not a database). Your reading and "
        "practice notes cannot be read from it. Move it aside to start a new one (the Progress page has a button, "
        "or rename the file).\n")
    assert not (tmp_path / "backup.json").exists()


def test_progress_help_ends_with_an_example():
    result = run("progress", "--help")
    assert result.exit_code == 0
    assert "Example: mlsd progress export ~/mlsd-progress.json" in result.output
    assert "export" in result.output and "import" in result.output
