"""The cold search path (issue 14): BM25 without bm25s, the flat scan without FAISS, the export's
sha256 checked once and then trusted while its files are untouched. Each gives the answers of
what it replaces; a damaged file is still caught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlsd.errors import IndexStaleError, QueryModelError

ROOT = Path(__file__).resolve().parent.parent
QUERY_SETS = ["queries.yaml", "queries_heldout.yaml", "queries_newtopics.yaml", "queries_offtopic.yaml"]
# Prints, at exit, which of these modules a `python -m mlsd.cli ...` run imported.
PROBE = (
    "import atexit, json, runpy, sys\n"
    "NAMES = ('faiss', 'scipy', 'bm25s', 'tqdm', 'torch')\n"
    "atexit.register(lambda: print('LOADED=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(NAMES))),"
    " file=sys.stderr))\n"
    "sys.argv = ['mlsd'] + sys.argv[1:]\n"
    "runpy.run_module('mlsd.cli', run_name='__main__', alter_sys=True)\n"
)


def benchmark_queries() -> list[str]:
    import yaml

    return [str(e["query"]) for name in QUERY_SETS
            for e in yaml.safe_load((ROOT / "benchmarks" / name).read_text(encoding="utf-8"))["queries"]]


def loaded_modules(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("LOADED=")]
    assert lines, stderr[-2000:]
    return json.loads(lines[-1].removeprefix("LOADED="))


# -- BM25 ------------------------------------------------------------------------------------------
def test_bm25_gives_the_scores_of_bm25s_bit_for_bit(corpus):
    import bm25s

    from mlsd.bm25 import BM25
    from mlsd.tokens import Tokenizer

    tokenizer = Tokenizer()
    documents = [tokenizer(item.embedding_text()) for item in corpus.items]
    documents += [[], ["cold", "cold", "cold"], documents[0][:3]]  # an empty one, repeats, a near-copy
    reference = bm25s.BM25()
    reference.index([d or [""] for d in documents], show_progress=False)
    ours = BM25(documents)
    queries = [tokenizer(q) for q in benchmark_queries()] + [d[:6] for d in documents[::5]]
    queries += [["cold", "cold", "start"], ["zzzunknown"], ["zzzunknown", "cold"]]
    compared = 0
    for query in (q for q in queries if q):
        expected = reference.get_scores(query)
        got = ours.get_scores(query)
        assert got.dtype == expected.dtype == np.float32
        assert np.array_equal(got, expected), (query, np.abs(got - expected).max())
        compared += 1
    assert compared > 200


def test_the_stop_words_copied_from_bm25s_are_its_own():
    from bm25s.stopwords import STOPWORDS_EN

    from mlsd.tokens import BM25S_STOPWORDS

    assert BM25S_STOPWORDS == frozenset(STOPWORDS_EN)


# -- the flat scan in numpy --------------------------------------------------------------------------
def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_numpy_scan_answers_as_faiss_ties_masks_and_all():
    import faiss

    from mlsd import flat

    rng = np.random.default_rng(14)
    vectors = _unit(rng.standard_normal((300, 384)))
    vectors[[40, 41, 200, 299]] = vectors[7]  # exact ties, as two items with the same text give
    index = faiss.IndexFlatIP(384)
    index.add(vectors)
    queries = [vectors[7:8] + 0.02 * rng.standard_normal((1, 384)).astype(np.float32) for _ in range(10)]
    queries += [_unit(rng.standard_normal((1, 384))) for _ in range(10)]
    for n, query in enumerate(queries):
        for k in (1, 3, 5, 50, 300, 500):
            mask = None if n % 2 else rng.random(300) < 0.3
            if mask is not None:
                mask[[7, 41, 299]] = True
                selector = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
                scores, ids = index.search(query, min(k, int(mask.sum())), params=faiss.SearchParameters(sel=selector))
            else:
                scores, ids = index.search(query, min(k, 300))
            ours = flat.search(vectors, query, k, mask)
            assert [i for i, _ in ours] == ids[0].tolist(), (n, k)
            np.testing.assert_allclose([s for _, s in ours], scores[0], atol=1e-6)
    assert flat.search(vectors, queries[0], 5, np.zeros(300, dtype=bool)) == []


def test_flat_vectors_are_read_from_the_faiss_file_and_anything_else_is_stale(tmp_path):
    import faiss

    from mlsd import flat

    vectors = _unit(np.random.default_rng(1).standard_normal((20, 384)))
    index = faiss.IndexFlatIP(384)
    index.add(vectors)
    data = faiss.serialize_index(index).tobytes()
    path = tmp_path / "vectors-000000000000.faiss"
    path.write_bytes(data)
    assert np.array_equal(flat.read_flat_vectors(path, 384), vectors)
    hnsw = faiss.IndexHNSWFlat(384, 8, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(vectors)
    l2 = faiss.IndexFlatL2(384)
    l2.add(vectors)
    for broken in (data[:-4], data + b"\0", data[:30], b"", faiss.serialize_index(hnsw).tobytes(),
                   faiss.serialize_index(l2).tobytes()):
        path.write_bytes(broken)
        with pytest.raises(IndexStaleError):
            flat.read_flat_vectors(path, 384)
    path.write_bytes(data)
    with pytest.raises(IndexStaleError):
        flat.read_flat_vectors(path, 768)


def test_a_loaded_flat_index_needs_no_faiss_and_answers_as_the_built_one(small_index):
    from mlsd.corpus import load_corpus
    from mlsd.index import load_index

    corpus = load_corpus(library_dir=small_index / "library")
    run = subprocess.run([sys.executable, "-c", (
        "import sys; from mlsd.corpus import load_corpus; from mlsd.index import load_index\n"
        f"c = load_corpus(library_dir={str(small_index / 'library')!r})\n"
        f"i = load_index(list(c.items), c.data_hash, {str(small_index / 'index')!r}, model='mlsd/hashing-384')\n"
        "print(i.faiss_index is None, 'faiss' in sys.modules)")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["True", "False"]
    loaded = load_index(list(corpus.items), corpus.data_hash, small_index / "index", model="mlsd/hashing-384")
    import faiss

    files = json.loads((small_index / "index" / "manifest.json").read_text(encoding="utf-8"))["files"]
    reference = faiss.read_index(str(small_index / "index" / files["vectors"]["name"]))
    assert np.array_equal(loaded.vectors, reference.reconstruct_n(0, reference.ntotal))
    for position in range(0, len(loaded.ids), 7):
        query = loaded.vector(position)
        _, ids = reference.search(query, 20)
        assert [i for i, _ in loaded.search(query, 20)] == ids[0].tolist()


def test_a_damaged_flat_index_file_is_rebuilt(pages_home):
    from mlsd.corpus import load_corpus
    from mlsd.embed import HashingEmbedder
    from mlsd.search import open_engine

    manifest = json.loads((pages_home / "index" / "manifest.json").read_text(encoding="utf-8"))
    path = pages_home / "index" / manifest["files"]["vectors"]["name"]
    data = bytearray(path.read_bytes())
    data[0:4] = b"IxF2"  # another metric: the sha256 no longer matches either
    path.write_bytes(bytes(data))
    engine = open_engine(load_corpus(library_dir=pages_home / "library"), HashingEmbedder())
    assert engine.index.status.startswith("rebuilt: ") and "corrupted" in engine.index.status
    assert "cold-start" in [h.id for h in engine.search("cold start", k=3)]


# -- the export's sha256, stamped ----------------------------------------------------------------------
def _stamped(path: Path, data: bytes, monkeypatch) -> str:
    """Write a file, hash it and let its check stamp it (as if checked seconds after the write)."""
    import hashlib

    from mlsd import stamps

    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    later = time.time_ns() + 10**10
    monkeypatch.setattr(stamps.time, "time_ns", lambda: later)
    assert stamps.sha256_matches(path, sha)
    monkeypatch.undo()
    assert path.name in json.loads((path.parent / stamps.STAMPS).read_text(encoding="utf-8"))
    return sha


def test_a_file_changed_after_its_stamp_is_hashed_again_and_found_damaged(tmp_path, monkeypatch):
    from mlsd import stamps

    path = tmp_path / "model.onnx.data"
    sha = _stamped(path, b"weights" * 1000, monkeypatch)
    def unread(_path: Path) -> str:
        raise AssertionError("an unchanged, stamped file was read")

    monkeypatch.setattr(stamps, "file_sha256", unread)
    assert stamps.sha256_matches(path, sha)  # unchanged: trusted without reading it
    monkeypatch.undo()
    before = path.stat()
    time.sleep(0.05)  # another clock tick than the stamped write
    with open(path, "r+b") as handle:  # same size, one byte flipped, the mtime put back
        handle.seek(3)
        handle.write(b"X")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert not stamps.sha256_matches(path, sha)  # the ctime moved: hashed, and damaged


def test_a_replaced_file_or_a_malformed_stamp_file_means_a_full_hash(tmp_path, monkeypatch):
    from mlsd import stamps

    path = tmp_path / "model.onnx"
    sha = _stamped(path, b"graph" * 100, monkeypatch)
    other = tmp_path / "other"
    other.write_bytes(b"grapH" * 100)  # same size, another inode
    os.replace(other, path)
    assert not stamps.sha256_matches(path, sha)
    sha = _stamped(path, b"graph" * 100, monkeypatch)
    for garbage in ("{", "[]", json.dumps({path.name: "x"})):
        (tmp_path / stamps.STAMPS).write_text(garbage, encoding="utf-8")
        assert stamps.sha256_matches(path, sha)
        assert not stamps.sha256_matches(path, "0" * 64)
    with pytest.raises(FileNotFoundError):
        stamps.sha256_matches(tmp_path / "missing", sha)


def test_a_file_just_written_is_not_stamped(tmp_path):
    from mlsd import stamps

    path = tmp_path / "tokenizer.json"
    path.write_bytes(b"{}")
    import hashlib

    assert stamps.sha256_matches(path, hashlib.sha256(b"{}").hexdigest())
    assert not (tmp_path / stamps.STAMPS).exists()  # racy: written within SETTLE_SECONDS


def test_the_query_model_check_catches_damage_after_a_stamped_check(tmp_path, monkeypatch):
    import hashlib

    from mlsd import stamps
    from mlsd.query_encoder import FILES, onnxruntime_version, verify_files

    folder = tmp_path / "query-0123456789ab"
    folder.mkdir()
    contents = {name: name.encode() * 50 for name in FILES}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    entry = {"folder": folder.name, "files": {n: hashlib.sha256(d).hexdigest() for n, d in contents.items()},
             "model": "sentence-transformers/all-MiniLM-L6-v2", "max_length": 256, "onnxruntime": onnxruntime_version()}
    later = time.time_ns() + 10**10
    monkeypatch.setattr(stamps.time, "time_ns", lambda: later)
    assert verify_files(entry, tmp_path) == folder
    assert set(json.loads((folder / stamps.STAMPS).read_text(encoding="utf-8"))) == set(FILES)
    monkeypatch.setattr(stamps, "file_sha256", lambda _path: "not read")
    assert verify_files(entry, tmp_path) == folder  # from the stamps, no file read
    monkeypatch.undo()
    time.sleep(0.05)
    (folder / "model.onnx").write_bytes(b"X" + contents["model.onnx"][1:])
    with pytest.raises(QueryModelError, match="model.onnx is damaged"):
        verify_files(entry, tmp_path)
    (folder / "model.onnx").unlink()
    with pytest.raises(QueryModelError, match="missing"):
        verify_files(entry, tmp_path)


# -- what a cold search imports -------------------------------------------------------------------------
def test_a_cli_search_imports_neither_faiss_nor_scipy(pages_home):
    run = subprocess.run([sys.executable, "-c", PROBE, "search", "cold start", "--k", "3"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "cold-start" in run.stdout
    assert loaded_modules(run.stderr) == []


def test_a_cli_search_with_the_real_model_imports_neither_faiss_nor_scipy(home):
    env = {k: v for k, v in os.environ.items() if k != "MLSD_EMBEDDER"}
    run = subprocess.run([sys.executable, "-c", PROBE, "search", "cold start", "--k", "3"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "cold-start" in run.stdout
    assert loaded_modules(run.stderr) == []


def test_the_numpy_scan_gives_faiss_top_k_on_the_bundled_index(engine):
    """The bundled index, real vectors: every benchmark query's and every item's nearest 50,
    unfiltered and filtered, the same as FAISS's flat scan over the same file."""
    import faiss

    index = engine.index
    reference = faiss.read_index(str(index.folder / index.manifest["files"]["vectors"]["name"]))
    assert isinstance(reference, faiss.IndexFlatIP)
    queries = [engine.query_encoder.encode_query(q) for q in benchmark_queries()]
    queries += [index.vector(p) for p in range(len(index.ids))]
    resources = np.array([item.type == "resource" for item in engine.items])
    selector = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(np.packbits(resources, bitorder="little")))
    for query in queries:
        _, ids = reference.search(query, 50)
        assert [i for i, _ in index.search(query, 50)] == ids[0].tolist()
        _, ids = reference.search(query, 20, params=selector)
        assert [i for i, _ in index.search(query, 20, resources)] == ids[0].tolist()


def test_an_encoder_opened_for_few_queries_gives_the_same_answers(engine):
    """``mlsd search "..."`` opens the ONNX session without weight prepacking (cheaper to open):
    other kernels, the same vectors to float noise, the same top 10 for every benchmark query."""
    from mlsd.query_encoder import open_query_encoder
    from mlsd.search import SearchEngine

    few = open_query_encoder(engine.index.manifest["query_model"], engine.index.folder, prepack=False)
    other = SearchEngine(engine.corpus, engine.index, engine.embedder, few, "onnx")
    queries = benchmark_queries()
    cosines = (few.encode(queries) * engine.query_encoder.encode(queries)).sum(axis=1)
    assert cosines.min() >= 0.99999
    for query in queries:
        assert [h.id for h in other.search(query, k=10)] == [h.id for h in engine.search(query, k=10)], query


# -- the search page without pandas ------------------------------------------------------------------
def test_the_search_export_is_the_csv_pandas_wrote():
    import pandas as pd

    from mlsd.views import csv_bytes, csv_safe

    rows = [{"id": "a", "title": "=HYPERLINK(\"http://x\")", "url": None, "score": 0.7123, "year": 2019, "ok": True,
             "summary": "line\nbreak, \"quoted\""},
            {"id": "b", "title": "-1", "url": "@x", "score": 1.0, "year": 2020, "ok": False, "summary": "\tx"}]
    assert csv_bytes(rows) == csv_safe(pd.DataFrame(rows)).to_csv(index=False).encode("utf-8")
    assert csv_bytes([]) == b"\n"


APP_SEARCH = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=240)
at.query_params["q"] = "cold start"
at.switch_page("pages/search.py")
at.run()
assert not at.exception, at.exception
shown = "\\n".join(str(m.value) for m in at.markdown)
assert "Recommending to new users or new items" in shown, shown[:3000]
print("PANDAS=" + str("pandas" in sys.modules))
"""


def test_the_search_page_answers_without_importing_pandas(pages_home):
    run = subprocess.run([sys.executable, "-c", APP_SEARCH, str(ROOT / "app.py")], cwd=ROOT, capture_output=True,
                         text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "PANDAS=False" in run.stdout
