"""The late-interaction rerank's token store: int8 round trip, offsets, MaxSim, and its files in
the index (listed in the manifest, memory-mapped, damage detected and rebuilt, reused by text hash).

The store is plain numpy, tested on random unit vectors against a float32 computation; the index
tests build with the HashingEmbedder (fast tier). What the real model's tokens do to rankings is
tested in tests/test_search.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mlsd import load_corpus
from mlsd.embed import DIMENSION, HashingEmbedder
from mlsd.errors import IndexStaleError
from mlsd.index import FORMAT_VERSION, MANIFEST, build_index, file_sha256, load_index, open_index
from mlsd.rerank import MAX_TOKENS, TokenStore, join, late_order, quantize, split
from mlsd.search import fuse, rerank


def unit_rows(rng: np.random.Generator, n: int, dim: int = DIMENSION) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def exact_maxsim(query: np.ndarray, item: np.ndarray) -> float:
    if len(query) == 0 or len(item) == 0:
        return 0.0
    return float((query @ item.T).max(axis=1).mean())


@pytest.fixture
def lists():
    rng = np.random.default_rng(7)
    return [unit_rows(rng, n) for n in (5, 0, 1, 80, 12)]  # an empty item, one over the cap


def test_quantized_tokens_keep_their_cosines(lists):
    store = quantize(lists)
    assert store.tokens.dtype == np.int8 and store.scales.dtype == np.float16 and store.offsets.dtype == np.int64
    assert store.check(len(lists), DIMENSION) is None
    for n, original in enumerate(lists):
        restored = store.item_tokens(n)
        kept = original[:MAX_TOKENS]
        assert restored.shape == kept.shape
        if len(kept):
            cosines = (restored * kept).sum(axis=1) / np.linalg.norm(restored, axis=1)
            assert cosines.min() > 0.999
            np.testing.assert_allclose(restored, kept, atol=0.01)


def test_offsets_cap_each_item_at_max_tokens(lists):
    store = quantize(lists)
    assert store.offsets.tolist() == [0, 5, 5, 6, 6 + MAX_TOKENS, 6 + MAX_TOKENS + 12]
    assert len(store.tokens) == store.offsets[-1] and store.item_count == len(lists)


def test_split_then_join_gives_the_same_store(lists):
    store = quantize(lists)
    again = join(split(store), DIMENSION)
    for name in ("tokens", "scales", "offsets"):
        np.testing.assert_array_equal(getattr(again, name), getattr(store, name))
    empty = join([], DIMENSION)
    assert empty.tokens.shape == (0, DIMENSION) and empty.offsets.tolist() == [0]


def test_maxsim_is_the_mean_of_the_best_cosines(lists):
    rng = np.random.default_rng(11)
    store = quantize(lists)
    query = unit_rows(rng, 6)
    positions = [4, 1, 0, 3, 2]
    scores = store.maxsim(query, positions)
    expected = [exact_maxsim(query, lists[p][:MAX_TOKENS]) for p in positions]
    np.testing.assert_allclose(scores, expected, atol=0.01)
    assert scores[1] == 0.0  # the item without tokens
    assert store.maxsim(np.zeros((0, DIMENSION), np.float32), positions).tolist() == [0.0] * 5


def test_an_item_holding_the_query_tokens_scores_highest():
    rng = np.random.default_rng(3)
    query = unit_rows(rng, 4)
    items = [unit_rows(rng, 10) for _ in range(5)]
    items[3] = np.vstack([unit_rows(rng, 6), query[:3]])  # three of the four query tokens, verbatim
    store = quantize(items)
    assert late_order(store, query, [0, 1, 2, 3, 4])[0] == 3
    assert store.maxsim(query, [3])[0] > 0.74


@pytest.mark.parametrize("check, arrays, message", [
    ("tokens", lambda s: (s.tokens.astype(np.float32), s.scales, s.offsets), "not int8"),
    ("scales", lambda s: (s.tokens, s.scales[:-1], s.offsets), "scales do not match"),
    ("offsets", lambda s: (s.tokens, s.scales, s.offsets[:-1]), "offsets do not match"),
    ("order", lambda s: (s.tokens, s.scales, s.offsets[::-1].copy()), "not ascending"),
])
def test_a_store_that_does_not_fit_its_items_is_named(lists, check, arrays, message):
    store = TokenStore(*arrays(quantize(lists)))
    assert message in (store.check(len(lists), DIMENSION) or "")


def test_rerank_fuses_the_head_by_rank_and_keeps_the_tail_after_it():
    ranked = [(n, 1.0 - n / 10) for n in range(6)]
    late = [2, 1, 0]  # the late order reverses the head of three
    out = rerank(ranked, late)
    # 0 and 2 tie (1/61 + 1/63), the hybrid order breaks it; 1 (2/62) is just below them
    assert [i for i, _ in out[:3]] == [i for i, _ in fuse([0, 1, 2], late)] == [0, 2, 1]
    assert [i for i, _ in out[3:]] == [3, 4, 5]
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)
    assert rerank(ranked, []) == ranked


# ---------------------------------------------------------------------------------------------
# the token files in the index
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rerank-index") / "index"
    corpus = load_corpus(library_dir=folder.parent / "library")
    index = build_index(list(corpus.items), corpus.data_hash, HashingEmbedder(), folder)
    return corpus, folder, index


@pytest.fixture
def work(built, tmp_path):
    corpus, folder, _ = built
    copy = tmp_path / "index"
    shutil.copytree(folder, copy)
    return corpus, copy


def manifest_of(folder):
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def test_the_token_files_are_listed_with_their_sha256_and_memory_mapped(work):
    corpus, folder = work
    manifest = manifest_of(folder)
    assert manifest["format_version"] == FORMAT_VERSION == 3 and manifest["max_tokens_per_item"] == MAX_TOKENS
    for role in ("tokens", "token_scales", "token_offsets"):
        entry = manifest["files"][role]
        assert entry["name"] == f"{role}-{entry['sha256'][:12]}.npy"
        assert file_sha256(folder / entry["name"]) == entry["sha256"]
    loaded = load_index(list(corpus.items), corpus.data_hash, folder, model=HashingEmbedder.name)
    assert loaded.tokens is not None and isinstance(loaded.tokens.tokens, np.memmap)
    assert loaded.tokens.item_count == len(corpus.items)
    # each item's tokens are those of its full text, as the embedder gives them
    _, expected = HashingEmbedder().encode_with_tokens([corpus.items[0].embedding_text()])
    np.testing.assert_allclose(loaded.tokens.item_tokens(0), expected[0][:MAX_TOKENS], atol=0.01)


@pytest.mark.parametrize("damage", ["flipped-bytes", "truncated", "deleted"])
def test_a_damaged_token_file_is_detected_and_rebuilt(work, built, damage):
    corpus, folder = work
    name = manifest_of(folder)["files"]["tokens"]["name"]
    path = folder / name
    raw = bytearray(path.read_bytes())
    if damage == "flipped-bytes":
        raw[len(raw) // 2] ^= 0x55
        path.write_bytes(bytes(raw))
    elif damage == "truncated":
        path.write_bytes(bytes(raw[:200]))
    else:
        path.unlink()
    with pytest.raises(IndexStaleError, match="tokens-"):
        load_index(list(corpus.items), corpus.data_hash, folder, model=HashingEmbedder.name)
    rebuilt = open_index(list(corpus.items), corpus.data_hash, HashingEmbedder(), folder)
    assert rebuilt.status.startswith("rebuilt: the index file tokens-")
    # nothing was reused from the damaged store: every item encoded again, same tokens as before
    assert rebuilt.manifest["encoded"] == len(corpus.items)
    assert rebuilt.tokens is not None
    np.testing.assert_array_equal(np.asarray(rebuilt.tokens.tokens), np.asarray(built[2].tokens.tokens))


def test_a_manifest_listing_only_some_token_files_is_stale(work):
    corpus, folder = work
    manifest = manifest_of(folder)
    del manifest["files"]["token_scales"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexStaleError, match="only some of the token files"):
        load_index(list(corpus.items), corpus.data_hash, folder, model=HashingEmbedder.name)


def test_a_format_2_index_is_stale_and_its_vectors_are_not_reused(work):
    corpus, folder = work
    manifest = manifest_of(folder)
    manifest["format_version"] = 2
    for role in ("tokens", "token_scales", "token_offsets"):
        del manifest["files"][role]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexStaleError, match="format_version is 2, expected 3"):
        load_index(list(corpus.items), corpus.data_hash, folder, model=HashingEmbedder.name)
    rebuilt = open_index(list(corpus.items), corpus.data_hash, HashingEmbedder(), folder)
    assert rebuilt.manifest["encoded"] == len(corpus.items) and rebuilt.tokens is not None


def test_unchanged_items_keep_their_tokens_on_rebuild(work, built):
    corpus, folder = work
    items = list(corpus.items)
    changed = items[:-1]  # one item gone: the others' vectors and tokens are reused, none encoded
    rebuilt = build_index(changed, "other-data", HashingEmbedder(), folder)
    assert (rebuilt.manifest["encoded"], rebuilt.manifest["reused"]) == (0, len(changed))
    original = built[2].tokens
    assert rebuilt.tokens is not None and original is not None
    for n in (0, 5, len(changed) - 1):
        np.testing.assert_array_equal(rebuilt.tokens.item_tokens(n), original.item_tokens(n))
