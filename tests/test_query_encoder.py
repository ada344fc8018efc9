"""The torch-free query path: the ONNX export agrees with sentence-transformers, nothing on the
query path imports torch, and a missing or damaged export is detected, searched around and rebuilt.

The real-model tests use the ``engine`` fixture (an index built with the real model, whose build
wrote the export) and are marked slow by the conftest; the checks of the manifest entry and the
HashingEmbedder's path need no model and stay in the fast tier.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlsd.errors import QueryModelError

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "sentence_transformers")
# The query sets over the bundled corpus (the others need an imported list).
BUNDLED_SETS = ["queries.yaml", "queries_heldout.yaml", "queries_newtopics.yaml", "queries_offtopic.yaml"]
# Runs a module as `python -m` does, then prints which heavy modules the process imported.
HEAVY_PROBE = (
    "import atexit, json, runpy, sys\n"
    f"HEAVY = {HEAVY!r}\n"
    "atexit.register(lambda: print('HEAVY=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))),"
    " file=sys.stderr))\n"
    "module, sys.argv = sys.argv[1], sys.argv[1:]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def queries(names: list[str]) -> list[str]:
    out = []
    for name in names:
        entries = yaml.safe_load((ROOT / "benchmarks" / name).read_text(encoding="utf-8"))["queries"]
        out.extend(str(e["query"]) for e in entries)
    return out


def heavy_modules(stderr: str) -> list[str]:
    line = [part for part in stderr.splitlines() if part.startswith("HEAVY=")]
    assert line, stderr[-2000:]
    return json.loads(line[-1].removeprefix("HEAVY="))


# -- agreement --------------------------------------------------------------------------------------
def test_the_onnx_encoder_gives_the_vectors_of_sentence_transformers(engine, corpus):
    assert engine.query_status == "onnx"
    onnx, st = engine.query_encoder, engine.embedder
    texts = [t for item in corpus.items for t in item.embedded_texts()]
    some = queries(BUNDLED_SETS)[:100]
    assert len(some) == 100
    for group in (texts, some):
        cosines = (onnx.encode(group) * st.encode(group)).sum(axis=1)
        assert cosines.min() >= 0.9999, (cosines.min(), group[int(cosines.argmin())][:80])
    for text in some[:20]:  # one query at a time, as search encodes them
        assert float(onnx.encode_query(text)[0] @ st.encode_query(text)[0]) >= 0.9999


def test_token_vectors_agree_and_leave_out_cls_sep_and_padding(engine):
    onnx, st = engine.query_encoder, engine.embedder
    texts = ["cold start", "how does Netflix pick which picture to show", "a " * 400]
    vectors, tokens = onnx.encode_with_tokens(texts)
    st_vectors, st_tokens = st.encode_with_tokens(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert ((vectors * st_vectors).sum(axis=1) >= 0.9999).all()
    assert [t.shape for t in tokens] == [(2, 384), (8, 384), (254, 384)]  # 256-token window less [CLS], [SEP]
    for mine, theirs in zip(tokens, st_tokens):
        assert mine.dtype == np.float32 and mine.shape == theirs.shape
        assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        assert ((mine * theirs).sum(axis=1) >= 0.9999).all()
    assert np.allclose(vectors, onnx.encode(texts), atol=1e-6)  # the same forward pass as encode


@pytest.mark.parametrize("query_set", BUNDLED_SETS)
def test_both_encoders_give_the_same_top_10(engine, query_set):
    from mlsd.search import SearchEngine

    texts = queries([query_set])
    by_torch = dict(zip(texts, engine.embedder.encode(texts)))  # sentence-transformers, in one batch
    _, token_lists = engine.embedder.encode_with_tokens(texts)  # and their tokens, for the rerank
    tokens_by_torch = dict(zip(texts, token_lists))

    class SentenceTransformersQueries:
        def encode_query(self, text: str) -> np.ndarray:
            return by_torch[text][None, :]

        def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
            return by_torch[texts[0]][None, :], [tokens_by_torch[texts[0]]]

    with_torch = SearchEngine(engine.corpus, engine.index, engine.embedder, SentenceTransformersQueries())  # type: ignore[arg-type]
    for query in texts:
        for mode in ("hybrid", "semantic"):
            ours = [h.id for h in engine.search(query, k=10, mode=mode)]
            theirs = [h.id for h in with_torch.search(query, k=10, mode=mode)]
            assert ours == theirs, (query, mode)


# -- nothing on the query path imports torch -------------------------------------------------------
def test_a_cli_search_imports_no_torch(home):
    run = subprocess.run([sys.executable, "-c", HEAVY_PROBE, "mlsd.cli", "search", "cold start", "--k", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "cold-start" in run.stdout
    assert heavy_modules(run.stderr) == []


APP_SEARCH = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=240)
at.query_params["q"] = "cold start"
at.switch_page("pages/search.py")
at.run()
shown = "\\n".join(str(m.value) for m in at.markdown)
assert not at.exception, at.exception
assert "Recommending to new users or new items" in shown, shown[:2000]  # the cold-start topic's card
print("SHOWN")
"""


def test_the_app_serves_a_search_without_importing_torch(home):
    run = subprocess.run([sys.executable, "-c", HEAVY_PROBE, "runpy_app", str(ROOT / "app.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=400,
                         env={**_env(), "PYTHONPATH": str(_app_module(home))})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "SHOWN" in run.stdout
    assert heavy_modules(run.stderr) == []


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "MLSD_EMBEDDER"}


def _app_module(home: Path) -> Path:
    """A folder holding ``runpy_app.py``: the AppTest script above as a module for the probe."""
    folder = home / "probe"
    folder.mkdir(exist_ok=True)
    (folder / "runpy_app.py").write_text(APP_SEARCH, encoding="utf-8")
    return folder


# -- a missing or damaged export -----------------------------------------------------------------
def _model_folder(home: Path) -> Path:
    entry = json.loads((home / "index" / "manifest.json").read_text(encoding="utf-8"))["query_model"]
    return home / "index" / entry["folder"]


@pytest.mark.parametrize("damage", ["delete the weights", "corrupt the graph", "foreign onnxruntime"])
def test_a_missing_or_damaged_export_falls_back_and_is_rebuilt(home, corpus, embedder, damage):
    from mlsd.search import open_engine

    folder = _model_folder(home)
    if damage == "delete the weights":
        (folder / "model.onnx.data").unlink()
    elif damage == "corrupt the graph":
        data = bytearray((folder / "model.onnx").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / "model.onnx").write_bytes(bytes(data))
    else:  # a manifest entry that does not match what is installed
        manifest = json.loads((home / "index" / "manifest.json").read_text(encoding="utf-8"))
        manifest["query_model"]["onnxruntime"] = "0.0.1"
        (home / "index" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    reasons: list[str] = []
    engine = open_engine(corpus, embedder, on_query_fallback=reasons.append)
    assert engine.index.status == "loaded"  # the index itself is sound: only the export is redone
    assert engine.query_status.startswith("fallback: ") and engine.query_status.endswith("exported again")
    assert len(reasons) == 1 and ("missing" in reasons[0] or "damaged" in reasons[0] or "0.0.1" in reasons[0])
    assert engine.query_encoder is embedder  # sentence-transformers answered
    assert [h.id for h in engine.search("cold start", k=3)][0] == "cold-start"

    again = open_engine(corpus, embedder)  # the next process finds the export whole again
    assert again.query_status == "onnx"
    assert [h.id for h in again.search("cold start", k=3)] == [h.id for h in engine.search("cold start", k=3)]
    assert [p.name for p in (home / "index").iterdir() if p.is_dir()] == [_model_folder(home).name]


# -- the manifest entry, and the HashingEmbedder (no model) --------------------------------------
def test_a_malformed_query_model_entry_is_refused(tmp_path):
    from mlsd.query_encoder import check_entry, verify_files

    good = {"folder": "query-0123456789ab", "files": {n: "0" * 64 for n in ("model.onnx", "model.onnx.data",
                                                                          "tokenizer.json")},
            "model": "sentence-transformers/all-MiniLM-L6-v2", "max_length": 256, "onnxruntime": "1.32.0"}
    assert check_entry(good, tmp_path) == tmp_path / "query-0123456789ab"
    for broken in (None, "x", {**good, "folder": "../etc"}, {**good, "files": {"model.onnx": "0" * 64}},
                   {**good, "model": "other"}, {**good, "max_length": "256"}):
        with pytest.raises(QueryModelError):
            check_entry(broken, tmp_path)
    with pytest.raises(QueryModelError, match="missing"):
        verify_files({**good, "onnxruntime": _installed_onnxruntime()}, tmp_path)


def _installed_onnxruntime() -> str:
    from mlsd.query_encoder import onnxruntime_version

    version = onnxruntime_version()
    assert version is not None
    return version


def test_the_hashing_embedder_has_no_onnx(small_index, tmp_path, monkeypatch):
    from mlsd.corpus import load_corpus
    from mlsd.embed import HashingEmbedder
    from mlsd.search import open_engine

    shutil.copytree(small_index / "index", tmp_path / "index")
    monkeypatch.setenv("MLSD_HOME", str(tmp_path))
    corpus = load_corpus(library_dir=tmp_path / "library")
    engine = open_engine(corpus, HashingEmbedder())
    assert engine.index.manifest.get("query_model") is None
    assert engine.query_status == "no onnx form" and isinstance(engine.query_encoder, HashingEmbedder)
    assert not [p for p in (tmp_path / "index").iterdir() if p.is_dir()]
    vectors, tokens = engine.query_encoder.encode_with_tokens(["cold start problem"])
    assert vectors.shape == (1, 384) and [t.shape for t in tokens] == [(3, 384)]
    assert "cold-start" in [h.id for h in engine.search("cold start", k=3)]
