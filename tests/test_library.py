"""Importing curated lists into the library: a real HTTP server, the real model, a real index.

Each test gets its own MLSD_HOME, seeded with a copy of the session's index so that only the
imported items are encoded (the index reuses vectors by text hash).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlsd import paths
from mlsd.cli import cli
from mlsd.corpus import load_corpus
from mlsd.errors import CorpusError, SourceError
from mlsd.library import LibraryError, import_source, item_id, list_sources, remove_source, source_name
from mlsd.search import Filters, open_engine
from mlsd.urls import normalize_url
from mlsd.views import resources_frame

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
CORPORA = HERE.parents[1] / "shared" / "corpora"
BUNDLED_URL = "https://github.com/chiphuyen/machine-learning-systems-design"  # in data/resources.yaml


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        file = self.server.root / self.path.lstrip("/")
        if ".." in self.path or not file.is_file():
            body = b"not here"
            self.send_response(404)
        else:
            body = file.read_bytes()
            self.send_response(200)
        self.send_header("Content-Type", "text/html" if file.suffix == ".html" else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(root: Path) -> ThreadingHTTPServer:
    """A real HTTP server on 127.0.0.1 (port 0: any free port) serving the files under root."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.root = root
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def base_url():
    server = serve(FIXTURES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSD_ALLOW_PRIVATE_URLS", "1")  # the server is on 127.0.0.1, refused by default
        yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def manifest(home: Path) -> dict:
    return json.loads((home / "index" / "manifest.json").read_bytes())


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file of the library and the index manifest, by path, as bytes."""
    files = {p.relative_to(home).as_posix(): p.read_bytes() for p in (home / "library").rglob("*") if p.is_file()}
    files["index/manifest.json"] = (home / "index" / "manifest.json").read_bytes()
    return files


# -- import ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_import_a_csv_by_url(home, base_url, embedder):
    report = import_source(f"{base_url}/library/studies.csv", embedder=embedder)

    assert (report.name, report.format, report.origin) == ("studies", "csv", f"{base_url}/library/studies.csv")
    assert (report.new, report.duplicates, report.total) == (3, 1, 3)  # the bundled repository is a duplicate
    assert report.skipped == [f"{base_url}/library/studies.csv, line 5: no title"]
    assert report.encoded == 3  # only the new items: the bundled vectors were reused
    assert manifest(home)["encoded"] == 3

    stored = json.loads((home / "library" / "studies.json").read_text(encoding="utf-8"))
    assert {k: stored[k] for k in ("format_version", "name", "origin", "format")} == {
        "format_version": 1, "name": "studies", "origin": f"{base_url}/library/studies.csv", "format": "csv"}
    first = stored["items"][0]
    assert first == {
        "id": "imp-studies-" + __import__("hashlib").sha256(b"https://pinboard.example/graph-walks").hexdigest()[:10],
        "title": "Pinning Boards With Graph Walks",
        "url": "https://pinboard.example/graph-walks",
        "normalized_url": "https://pinboard.example/graph-walks",
        "company": "Pinterest",
        "year": 2022,
        "tags": ["recsys", "graph"],
        "summary": "Random walks over a board graph pick related pins for a home feed.",
        "assigned": {"topics": [], "steps": []},  # filed, but near no topic or step enough
    }
    assert stored["items"][1]["company"] == "Facebook"  # "Meta" is an alias of a bundled company
    # Filed by meaning at import: a forecasting study under forecasting, from the index's vectors.
    assert stored["items"][1]["assigned"]["topics"][0] == "forecasting"

    corpus = load_corpus()
    resource = corpus.resource_by_id[first["id"]]
    assert (resource.source, resource.kind, resource.topics, resource.tags) == ("studies", None, (), ("recsys", "graph"))
    forecast = corpus.resource_by_id[stored["items"][1]["id"]]
    assert (forecast.filed, "forecasting" in forecast.topics) == ("automatically", True)
    assert forecast in corpus.imported_under_topic("forecasting")
    engine = open_engine(corpus, embedder)
    assert engine.index.status == "loaded"  # import_source already brought the index up to date
    hits = engine.search("sorting lettuce crates by how ripe they are", k=3)
    assert hits[0].title == "Sorting Lettuce Crates by Ripeness"
    assert hits[0].source == "studies"
    # A company that only an imported list names can be filtered on, in any case.
    pinterest = engine.search("graph walks", k=5, filters=Filters(companies=["pinterest"]))
    assert [h.title for h in pinterest] == ["Pinning Boards With Graph Walks"]
    assert corpus.resolve_company("Pinterest") == "Pinterest" and corpus.company_name("Pinterest") == "Pinterest"
    assert "Pinterest" in corpus.company_names
    frame = resources_frame(corpus)
    assert frame.loc[frame["id"] == first["id"], "kind"].isna().all()
    assert corpus.stats()["by_kind"]["unclassified"] == 3


@pytest.mark.slow
def test_markdown_list_from_a_file_dedupes_against_an_earlier_import(home, base_url, embedder):
    import_source(f"{base_url}/library/studies.csv", embedder=embedder)
    report = import_source(str(FIXTURES / "library" / "reading.md"), embedder=embedder)

    assert (report.name, report.format) == ("reading", "markdown-list")
    assert (report.new, report.duplicates, len(report.skipped)) == (2, 1, 1)  # the graph walks link, tracked
    assert report.encoded == 2 and manifest(home)["encoded"] == 2  # only the two new items
    assert [s.name for s in list_sources()] == ["reading", "studies"]
    assert [len(s.resources) for s in list_sources()] == [2, 3]
    hits = open_engine(load_corpus(), embedder).search("ferry delays and tides", k=1)
    assert (hits[0].title, hits[0].source) == ("Ferry Timetables Learned From Tides", "reading")


@pytest.mark.slow
def test_importing_again_under_the_same_name_refreshes_and_keeps_ids(home, base_url, embedder):
    first = import_source(f"{base_url}/library/studies.csv", embedder=embedder)
    ids = [i["id"] for i in json.loads(first.path.read_text())["items"]]
    again = import_source(f"{base_url}/library/studies.csv", embedder=embedder)

    assert (again.new, again.duplicates, again.total) == (0, 4, 3)
    assert [i["id"] for i in json.loads(again.path.read_text())["items"]] == ids
    assert again.encoded == 0


@pytest.mark.slow
def test_remove_a_source_drops_its_items_from_search(home, base_url, embedder):
    import_source(f"{base_url}/library/studies.csv", embedder=embedder)
    assert remove_source("studies", embedder=embedder) == 3

    assert list_sources() == []
    assert not (home / "library" / "studies.json").exists()
    assert manifest(home)["encoded"] == 0  # nothing to encode after a removal
    engine = open_engine(load_corpus(), embedder)
    assert engine.index.status == "loaded"
    assert all(h.source == "bundled" for h in engine.search("Sorting Lettuce Crates by Ripeness", k=20))
    with pytest.raises(LibraryError, match="^no imported source named 'studies'; no lists have been imported yet$"):
        remove_source("studies", embedder=embedder)


@pytest.mark.slow
@pytest.mark.parametrize("path, message", [
    ("missing.csv", "404 Not Found for {url}"),
    ("library/page.html", "{url}: looks like HTML, not CSV or Markdown"),
    ("import/header_only.csv", "{url} holds no items to import"),
])
def test_a_failed_import_changes_nothing(home, base_url, embedder, path, message):
    import_source(f"{base_url}/library/studies.csv", embedder=embedder)
    before = snapshot(home)
    url = f"{base_url}/{path}"

    with pytest.raises(SourceError) as error:
        import_source(url, format="csv" if path.endswith(".html") else "auto", embedder=embedder)

    assert message.format(url=url) in str(error.value)
    assert snapshot(home) == before


@pytest.mark.slow
def test_a_failed_index_update_puts_the_library_back(home, base_url, embedder):
    before = snapshot(home)

    def interrupted(done, total):
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the new items were encoded

    with pytest.raises(KeyboardInterrupt):
        import_source(f"{base_url}/library/studies.csv", embedder=embedder, progress=interrupted)
    assert snapshot(home) == before
    assert list_sources() == []


def test_a_malformed_library_file_names_file_item_and_field(tmp_path, monkeypatch):
    home = tmp_path
    monkeypatch.setenv("MLSD_HOME", str(home))
    (home / "library").mkdir()
    (home / "library" / "broken.json").write_text(json.dumps({
        "format_version": 1, "name": "broken", "origin": "x.csv", "format": "csv", "imported_at": "2026-01-01",
        "items": [{"id": "imp-broken-0000000000", "title": "A", "url": "ftp://a.example/x", "year": "2020"}],
    }))
    with pytest.raises(CorpusError) as error:
        load_corpus()
    assert str(error.value) == (
        "2 problems in the data files:\n"
        "- library/broken.json, item 'imp-broken-0000000000': field 'url' is 'ftp://a.example/x', which is not an http(s) URL.\n"
        "- library/broken.json, item 'imp-broken-0000000000': field 'year' is '2020', which is out of range. "
        "Use a year from 1990 to 2027, or null."
    )
    assert remove_source("broken", update_index=False) == 1  # a broken file can still be removed


def test_years_the_corpus_would_refuse_are_dropped_and_all_duplicates_write_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MLSD_HOME", str(tmp_path / "home"))
    listing = tmp_path / "old.csv"
    listing.write_text("title,url,year\nA 1986 classic,https://old.example/a,1986\nA 2099 one,https://old.example/b,2099\n"
                       f"Bundled,{BUNDLED_URL},2019\n")
    report = import_source(str(listing), update_index=False)
    assert (report.new, report.duplicates) == (2, 1)
    assert [r.year for r in load_corpus().resources if r.source == "old"] == [None, None]

    again = tmp_path / "again.csv"
    again.write_text(f"title,url\nBundled,{BUNDLED_URL}\n")
    report = import_source(str(again), update_index=False)
    assert (report.new, report.duplicates, report.path) == (0, 1, None)
    assert [s.name for s in list_sources()] == ["old"]


def test_names_and_ids():
    assert source_name("https://raw.githubusercontent.com/eugeneyan/applied-ml/master/README.md") == "applied-ml"
    assert source_name("https://example.com/lists/Case_Studies.csv") == "case-studies"
    assert source_name("notes/reading.md") == "reading"
    assert item_id("x", normalize_url("http://www.a.example/p/")) == item_id("x", normalize_url("https://a.example/p"))
    with pytest.raises(LibraryError, match="'Bad Name' is not a valid name"):
        import_source("whatever.csv", name="Bad Name")


# -- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_home(home, monkeypatch, embedder):
    """The CLI builds its own Embedder: hand it the session's loaded model instead."""
    import mlsd.embed

    monkeypatch.setattr(mlsd.embed, "Embedder", lambda: embedder)
    return home


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="mlsd")


@pytest.mark.slow
def test_cli_import_sources_remove(cli_home, base_url):
    url = f"{base_url}/library/studies.csv"
    result = run("import", url)
    assert result.exit_code == 0, result.output
    assert f"Imported 3 new items from {url} into 'studies' (1 duplicates, 1 skipped)\n" in result.output
    assert "Embedding" in result.output  # the progress bar (stderr is mixed into output here)

    result = run("sources")
    imported_at = list_sources()[0].imported_at
    assert result.exit_code == 0
    assert result.output.startswith(
        "NAME     ITEMS  IMPORTED AT                ORIGIN\n"
        f"studies      3  {imported_at:<25}  {url}\n\n"
        "Known public lists (import one with: mlsd import NAME):\n"
        "  applied-ml: "
    )
    assert "https://raw.githubusercontent.com/eren23/awesome-ml-system-design-case-studies/main/data/case_studies.csv" in result.output

    data = json.loads(run("sources", "--json").output)
    assert data["sources"] == [{"name": "studies", "items": 3, "origin": url, "format": "csv", "imported_at": imported_at}]
    assert [p["name"] for p in data["known_lists"]] == ["applied-ml", "ml-system-design-case-studies"]

    result = run("import", url, "--name", "copy")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Imported 0 new items from {url} into 'copy' (4 duplicates, 1 skipped)\n"
        "Nothing was written: every item is already in the library.\n")
    assert [s.name for s in list_sources()] == ["studies"]

    result = run("remove", "studies")
    assert (result.exit_code, result.output) == (0, "Removed 'studies' (3 items)\n")
    assert run("sources").output.startswith("No lists imported yet.\n")


@pytest.mark.slow
def test_cli_errors_are_one_line(cli_home, base_url):
    result = run("remove", "nothing")
    assert (result.exit_code, result.output) == (1, "Error: no imported source named 'nothing'; no lists have been imported yet\n")
    result = run("import", f"{base_url}/missing.csv")
    assert (result.exit_code, result.output) == (1, f"Error: 404 Not Found for {base_url}/missing.csv\n")
    result = run("import", "no/such/list.csv")
    assert (result.exit_code, result.output) == (1, "Error: no such file: no/such/list.csv\n")
    result = run("import", "x.csv", "--name", "Not Kebab")
    assert (result.exit_code, result.output) == (
        1, "Error: 'Not Kebab' is not a valid name: use lowercase letters, digits and single dashes, e.g. 'applied-ml'\n")
    assert not (cli_home / "library").exists()


# -- the real list (only where the shared corpora are present) --------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not (CORPORA / "case-studies").is_dir(), reason="the shared corpora are not on this machine")
def test_import_the_real_case_studies_csv(home, embedder, tmp_path):
    found = sorted((CORPORA / "case-studies").rglob("case_studies.csv"))
    if not found:
        pytest.skip("case_studies.csv is not in the shared corpora")
    shutil.copy(found[0], tmp_path / "case_studies.csv")
    readme = CORPORA / "applied-ml" / "README.md"
    if readme.is_file():
        shutil.copy(readme, tmp_path / "applied-ml.md")
    server = serve(tmp_path)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        started = time.perf_counter()
        report = import_source(f"{base}/case_studies.csv", name="case-studies", embedder=embedder)
        seconds = time.perf_counter() - started
        second = import_source(f"{base}/applied-ml.md", name="applied-ml", embedder=embedder) if readme.is_file() else None
    finally:
        server.shutdown()
        server.server_close()
    print(f"\nimported {report.new} new items ({report.duplicates} duplicates, {len(report.skipped)} skipped, "
          f"{report.encoded} encoded) in {seconds:.1f} s")
    assert report.new + report.duplicates + len(report.skipped) >= 2400
    assert report.new > 2000 and report.encoded == report.new

    from mlsd.corpus import load_corpus
    from mlsd.search import Filters, open_engine

    engine = open_engine(load_corpus(), embedder)
    assert engine.index.status == "loaded"  # the imports left the index current
    hits = engine.search("how uber predicts arrival times", k=5, filters=Filters(types=["resource"]))
    assert any(h.source in ("case-studies", "applied-ml") and "Uber" in (h.company or "") for h in hits), hits
    if second is not None:
        assert second.new + second.duplicates > 500 and second.format == "markdown-list"


# -- the pages with an imported list ------------------------------------------------------------


@pytest.mark.slow
def test_pages_show_imported_items(home, base_url, embedder):
    from tests.test_app import PAGES, open_page

    import_source(f"{base_url}/library/studies.csv", embedder=embedder)
    for page in PAGES:  # imported resources have no kind and no topics: no page may trip on that
        at = open_page(page)
        assert not at.exception, (page, at.exception)

    at = open_page("pages/companies.py", company="Pinterest")
    assert at.multiselect(key="company").value == ["Pinterest"]
    table = at.dataframe[0].value
    # The title is shown as the text of the link column (see pages/companies.py).
    assert list(table["url"]) == ["https://pinboard.example/graph-walks"]
    assert "kind" not in table.columns  # a list says no kind: the column that would be blank is hidden

    at = open_page("pages/search.py", q="lettuce crates ripeness", company="Greengrocer")
    assert not at.exception, at.exception
    assert "Sorting Lettuce Crates by Ripeness" in "\n".join(str(m.value) for m in at.markdown)


@pytest.mark.slow
def test_two_imports_at_once_take_turns_and_leave_a_current_index(home, base_url, embedder):
    import threading

    reports, errors = {}, []

    def run(source: str) -> None:
        try:
            reports[source] = import_source(source, embedder=embedder)
        except Exception as exc:  # reported below, with the source
            errors.append((source, exc))

    sources = [f"{base_url}/library/studies.csv", str(FIXTURES / "library" / "reading.md")]
    threads = [threading.Thread(target=run, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors, errors
    # Whichever ran second saw the other's items, so the link both lists hold is stored once
    # (without the lock both would dedupe against the bundled data alone: 6 items, one twice).
    assert sum(r.new for r in reports.values()) == 5
    urls = [r.url for s in list_sources() for r in s.resources]
    assert len(urls) == len(set(urls)) == 5
    assert [s.name for s in list_sources()] == ["reading", "studies"]
    assert open_engine(load_corpus(), embedder).index.status == "loaded"  # the index matches the data: no rebuild


def test_an_import_while_the_library_is_locked_is_a_clear_error(home, monkeypatch):
    from mlsd import library
    from mlsd.files import exclusive_lock

    monkeypatch.setattr(library, "LOCK_TIMEOUT_SECONDS", 0.2)
    before = snapshot(home)
    with exclusive_lock(paths.library_lock_path(), timeout=1):
        with pytest.raises(LibraryError, match="^another import or removal is running in this library; "
                                               "try again when it has finished$"):
            import_source(str(FIXTURES / "library" / "reading.md"))
        with pytest.raises(LibraryError, match="^another import or removal is running"):
            remove_source("reading")
    assert snapshot(home) == before
