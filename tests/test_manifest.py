"""A crafted index manifest (or items file) is a stale index: rebuilt, never a crash.

Fast: the index is the small one built with the HashingEmbedder (no model).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlsd.corpus import load_corpus
from mlsd.embed import HashingEmbedder
from mlsd.errors import IndexStaleError
from mlsd.index import load_index, open_index


@pytest.fixture
def folder(small_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(small_index / "index", target)
    return target


@pytest.fixture(scope="module")
def corpus(small_index):
    return load_corpus(library_dir=small_index / "library")


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def set_items_file(folder: Path, change) -> None:
    """Rewrite the items file and keep its sha256 in the manifest, so only its content is wrong."""
    import hashlib

    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    items_path = folder / manifest["files"]["items"]["name"]
    data = json.dumps(change(json.loads(items_path.read_text()))).encode()
    items_path.write_bytes(data)
    manifest["files"]["items"]["sha256"] = hashlib.sha256(data).hexdigest()
    path.write_text(json.dumps(manifest))


def _file(role, key, value):
    def change(m):
        m["files"][role][key] = value
    return change


CRAFTED = {
    "empty vectors name": (lambda f: edit_manifest(f, _file("vectors", "name", "")),
                           "the manifest's entry for 'vectors' is malformed"),
    "dot name": (lambda f: edit_manifest(f, _file("items", "name", ".")),
                 "the manifest names a file outside the index folder: '.'"),
    "the manifest itself": (lambda f: edit_manifest(f, _file("items", "name", "manifest.json")),
                            "the manifest's entry for 'items' is malformed"),
    "name is a number": (lambda f: edit_manifest(f, _file("vectors", "name", 7)),
                         "the manifest's entry for 'vectors' is malformed"),
    "sha is a list": (lambda f: edit_manifest(f, _file("projection", "sha256", [1])),
                      "the manifest's entry for 'projection' is malformed"),
    "files is a list": (lambda f: edit_manifest(f, lambda m: m.update(files=[1, 2, 3])),
                        "the manifest does not list the index files"),
    "file is a folder": (lambda f: (f / "vectors-000000000000.faiss").mkdir() or edit_manifest(
        f, _file("vectors", "name", "vectors-000000000000.faiss")), "the index file vectors-000000000000.faiss is missing"),
    "item_count is text": (lambda f: edit_manifest(f, lambda m: m.update(item_count="127")),
                           "the index and its manifest disagree on the number of items"),
    "model is a dict": (lambda f: edit_manifest(f, lambda m: m.update(model={"a": 1})),
                        "the manifest's model is {'a': 1}, expected 'mlsd/hashing-384'"),
    "deeply nested": (lambda f: (f / "manifest.json").write_text("[" * 100_000 + "]" * 100_000), None),
    "items without id": (lambda f: set_items_file(f, lambda items: [{"text_sha": e["text_sha"]} for e in items]),
                         "does not list items as {id, text_sha}"),
    "items not a list": (lambda f: set_items_file(f, lambda items: {"a": 1}), "does not list items as {id, text_sha}"),
    "text_sha a number": (lambda f: set_items_file(f, lambda items: [{**e, "text_sha": 1} for e in items]),
                          "does not list items as {id, text_sha}"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_crafted_manifest_is_stale_and_search_rebuilds_it(folder, corpus, case):
    craft, message = CRAFTED[case]
    craft(folder)
    embedder = HashingEmbedder()
    with pytest.raises(IndexStaleError) as error:
        load_index(list(corpus.items), corpus.data_hash, folder, model=embedder.name)
    if message:
        assert message in str(error.value)

    index = open_index(list(corpus.items), corpus.data_hash, embedder, folder)  # what a search does

    assert index.status.startswith("rebuilt: ")
    again = load_index(list(corpus.items), corpus.data_hash, folder, model=embedder.name)
    assert again.ids == [item.id for item in corpus.items]
