"""Imported items filed under the bundled topics and flow steps (mlsd.assign), at import and after.

The fast tests use the HashingEmbedder (two texts are close when they share words), with a real
FAISS index and real imports; the tests marked slow file texts with the real model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mlsd import assign
from mlsd.cli import cli
from mlsd.corpus import load_corpus
from mlsd.library import import_source, remove_source
from mlsd.search import Filters, open_engine
from tests.test_library_changes import assert_consistent

HOSTILE = '<img src=x onerror=alert(1)> **Bold** [click](https://evil.example)'


def unit(*rows: list[float]) -> np.ndarray:
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


# -- the pure function ------------------------------------------------------------------------------


def test_nearest_targets_keeps_those_above_the_floor_nearest_first_and_at_most_so_many():
    targets = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    vectors = unit([0.2, 1, 0.9], [1, 0.05, 0], [-1, -1, -1])
    out = assign.nearest_targets(vectors, targets, ["a", "b", "c"], floor=0.5, most=2)
    assert out == [("b", "c"), ("a",), ()]
    assert assign.nearest_targets(vectors, targets, ["a", "b", "c"], floor=0.5, most=1) == [("b",), ("a",), ()]
    assert assign.nearest_targets(vectors, targets, ["a", "b", "c"], floor=0.99, most=2) == [(), ("a",), ()]


def test_ties_keep_the_order_of_the_targets_so_a_filing_depends_on_the_vectors_alone():
    targets = unit([1, 1, 0], [1, 1, 0], [0, 0, 1])
    vectors = unit([1, 1, 0.1])
    assert assign.nearest_targets(vectors, targets, ["first", "second", "other"], 0.3, 1) == [("first",)]
    assert assign.nearest_targets(np.zeros((0, 3), np.float32), targets, ["a", "b", "c"], 0.3, 1) == []


def test_file_items_files_only_the_items_asked_for_against_topics_and_steps(small_index):
    from mlsd.index import load_index

    corpus = load_corpus(library_dir=small_index / "library")
    index = load_index(list(corpus.items), corpus.data_hash, small_index / "index", model="mlsd/hashing-384")
    items = list(corpus.items)
    # A topic's own vector is nearest to itself (cosine 1) and files under it; a step's likewise.
    filed = assign.file_items(items, index.vectors, ["cold-start", "training", "no-such-item"])
    assert set(filed) == {"cold-start", "training"}
    assert filed["cold-start"].topics[0] == "cold-start" and len(filed["cold-start"].topics) <= assign.MAX_TOPICS
    assert filed["training"].steps == ("training",)
    # Floors above any cosine file nothing.
    nothing = assign.file_items(items, index.vectors, ["cold-start"], topic_floor=1.01, step_floor=1.01)
    assert nothing["cold-start"] == assign.Filing((), ())


# -- at import time, in the library (HashingEmbedder: a text that repeats a topic's words is near it) --


def cold_start_list(path: Path, corpus) -> Path:
    topic = corpus.topic_by_id["cold-start"]
    rows = [
        "title,url,company,year,tags,summary",
        f'"{topic.name}: {HOSTILE}",https://a.example/cold,Acme,2021,newcomers;onboarding,"{topic.description}"',
        'Banana bread recipe,https://b.example/bread,Bakery,2020,baking,"Flour, bananas, an oven at 180 degrees."',
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def filings(home: Path, name: str) -> dict[str, dict]:
    document = json.loads((home / "library" / f"{name}.json").read_text(encoding="utf-8"))
    return {item["title"]: item.get("assigned") for item in document["items"]}


def test_an_import_files_its_items_and_the_index_holds_the_filed_list(pages_home, tmp_path, corpus):
    listing = cold_start_list(tmp_path / "newcomers.csv", corpus)
    import_source(str(listing))

    stored = filings(pages_home, "newcomers")
    cold = stored[f"Cold start problem: {HOSTILE}"]
    assert cold["topics"][0] == "cold-start" and len(cold["topics"]) <= 2
    assert stored["Banana bread recipe"] == {"topics": [], "steps": []}  # filed, near nothing
    assert_consistent(pages_home)  # the index was built from the filed list: no rebuild needed

    mine = load_corpus()
    resource = next(r for r in mine.resources if r.source == "newcomers" and r.topics)
    assert (resource.assigned, resource.filed, resource.tags) == (True, "automatically", ("newcomers", "onboarding"))
    assert next(r for r in mine.resources if r.source == "bundled").filed == "curated"
    engine = open_engine(mine)
    assert engine.index.status == "loaded"
    # A topic filter (here the root of cold start's branch) finds the imported item.
    root = mine.topic_path("cold-start")[0].id
    hits = engine.search("problem", k=50, mode="keyword", filters=Filters(topics=[root], types=["resource"]))
    assert resource.id in [h.id for h in hits]
    # The map colours it by its topic's root, and the unfiled one stays in the honest "no topic" group.
    from mlsd.views import NO_TOPIC, map_frame

    frame = map_frame(engine).set_index("id")
    bread = next(r for r in mine.resources if r.source == "newcomers" and not r.topics)
    assert (frame.at[resource.id, "topic"], frame.at[bread.id, "topic"]) == (mine.topic_path("cold-start")[0].name, NO_TOPIC)


def test_a_reimport_files_the_same_way_and_a_removal_takes_the_items_off_their_topics(pages_home, tmp_path, corpus):
    listing = cold_start_list(tmp_path / "newcomers.csv", corpus)
    import_source(str(listing))
    first = filings(pages_home, "newcomers")
    import_source(str(listing))  # the same list again: a refresh
    assert filings(pages_home, "newcomers") == first
    assert_consistent(pages_home)

    remove_source("newcomers")
    after = load_corpus()
    assert not [r for r in after.resources if r.source != "bundled"]
    assert_consistent(pages_home)
    import_source(str(listing))
    assert filings(pages_home, "newcomers") == first


def test_assign_topics_files_a_list_imported_without_filing_and_then_changes_nothing(pages_home, tmp_path, corpus):
    listing = cold_start_list(tmp_path / "older.csv", corpus)
    import_source(str(listing), update_index=False)  # as a list imported before filing existed
    assert set(map(str, filings(pages_home, "older").values())) == {"None"}
    assert load_corpus().resource_by_id  # it loads, unfiled
    assert {r.filed for r in load_corpus().resources if r.source == "older"} == {"not yet"}

    result = CliRunner().invoke(cli, ["assign-topics"], prog_name="mlsd")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"older: 1 of 2 items under a topic, [0-2] under a flow step \(filed again\)\n", result.output)
    assert filings(pages_home, "older")[f"Cold start problem: {HOSTILE}"]["topics"][0] == "cold-start"
    assert_consistent(pages_home)

    again = CliRunner().invoke(cli, ["assign-topics", "--json"], prog_name="mlsd")
    assert again.exit_code == 0, again.output
    (report,) = json.loads(again.output)
    assert (report["name"], report["items"], report["with_topic"], report["changed"]) == ("older", 2, 1, False)


def test_a_filing_that_names_a_topic_the_data_no_longer_has_is_dropped_on_load(pages_home, tmp_path, corpus):
    listing = cold_start_list(tmp_path / "newcomers.csv", corpus)
    import_source(str(listing))
    path = pages_home / "library" / "newcomers.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["items"][0]["assigned"] = {"topics": ["a-topic-since-removed", "cold-start"], "steps": ["gone"]}
    path.write_text(json.dumps(document), encoding="utf-8")
    resource = load_corpus().resource_by_id[document["items"][0]["id"]]
    assert (resource.topics, resource.steps, resource.assigned) == (("cold-start",), (), True)


@pytest.mark.parametrize("filing", [["cold-start"], {"topics": "cold-start"}, {"topics": ["Cold Start"]},
                                    {"topics": [], "kinds": []}])
def test_a_malformed_filing_names_the_file_item_and_field(pages_home, tmp_path, corpus, filing):
    from mlsd.errors import CorpusError

    import_source(str(cold_start_list(tmp_path / "newcomers.csv", corpus)))
    path = pages_home / "library" / "newcomers.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["items"][1]["assigned"] = filing
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CorpusError) as error:
        load_corpus()
    message = str(error.value)
    assert "library/newcomers.json" in message and "assigned" in message and "mlsd assign-topics" in message


# -- with the real model ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_real_model_files_texts_by_meaning_and_leaves_off_topic_ones_unfiled(engine, embedder):
    from mlsd.index import embed_items
    from mlsd.model import Item

    texts = {
        "new users": ("Recommending to people who just signed up and have no history yet", "cold-start"),
        "bread": ("Banana bread recipe with walnuts", None),
        "tyre": ("How to change a bike tyre", None),
    }
    fake = [Item(key, "resource", title, None, None, None, None, "", "", (), ()) for key, (title, _) in texts.items()]
    vectors = np.vstack([engine.index.vectors, embed_items(fake, embedder)])
    filed = assign.file_items([*engine.items, *fake], vectors, list(texts))
    assert "cold-start" in filed["new users"].topics
    assert filed["bread"].topics == () and filed["tyre"].topics == ()


# -- the pages ----------------------------------------------------------------------------------------


def test_the_topic_page_lists_imported_items_filed_under_it_as_text(pages_home, tmp_path, corpus):
    from tests.test_app import open_page, texts
    from ui.render import md_escape

    import_source(str(cold_start_list(tmp_path / "newcomers.csv", corpus)))
    title = f"Cold start problem: {HOSTILE}"

    at = open_page("pages/topics.py", topic="cold-start")
    assert not at.exception, at.exception
    shown = texts(at)
    assert "From your imported lists" in [str(s.value) for s in at.subheader]
    assert "1 case study from the lists you imported, filed automatically under Cold start problem" in shown
    # Listed twice: among the related case studies (by meaning), and in the section, last.
    entry = [str(m.value) for m in at.markdown if "a.example/cold" in str(m.value)][-1]
    # The title is the link's text, escaped: no image, no bold, no second link; the tags show as text.
    assert entry.startswith(f":material/article: [{md_escape(title)}](https://a.example/cold)")
    assert md_escape("tags: newcomers, onboarding") in entry and "from newcomers" in entry
    assert "Banana bread" not in shown  # filed under nothing

    root = corpus.topic_path("cold-start")[0].id  # a parent topic shows what its subtopics hold
    assert title in texts(open_page("pages/topics.py", topic=root))
    other = next(t.id for t in corpus.children(None) if t.id != root)
    assert "From your imported lists" not in [str(s.value) for s in open_page("pages/topics.py", topic=other).subheader]


def test_a_topic_page_shows_many_imported_items_a_few_at_a_time(pages_home, tmp_path, corpus):
    from tests.test_app import open_page

    topic = corpus.topic_by_id["cold-start"]
    rows = ["title,url,year,summary"] + [f'"{topic.name} {n}",https://many.example/{n},{2000 + n},"{topic.description}"'
                                         for n in range(23)]
    (tmp_path / "many.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_source(str(tmp_path / "many.csv"))

    def filed(at) -> list[str]:  # the section's entries (the related case studies' start "Case study ·")
        return [str(m.value) for m in at.markdown if "many.example" in str(m.value) and ":gray[Case study" not in str(m.value)]

    at = open_page("pages/topics.py", topic="cold-start")
    listed = filed(at)
    assert len(listed) == 10 and "Cold start problem 22" in listed[0]  # the newest first
    at.button(key="topics_imported_cold-start_more").click().run()
    assert len(filed(at)) == 20
    assert at.button(key="topics_imported_cold-start_more").label == "Show 3 more of 3"


def test_the_flow_page_lists_imported_items_filed_under_a_step(pages_home, tmp_path, corpus):
    from tests.test_app import open_page

    step = corpus.step_by_id["training"]
    summary = step.description + " " + " ".join(text for _, text in step.checklist_lines())
    (tmp_path / "steps.csv").write_text(f'title,url,summary\n"{step.name}",https://s.example/1,"{summary}"\n',
                                        encoding="utf-8")
    import_source(str(tmp_path / "steps.csv"))
    assert load_corpus().imported_under_step("training")

    at = open_page("pages/flow.py", step="training")
    assert not at.exception, at.exception
    assert "From your imported lists" in [str(s.value) for s in at.subheader]
    assert any("s.example/1" in str(m.value) and ":gray[from steps]" in str(m.value) for m in at.markdown)
    other = open_page("pages/flow.py", step="problem-formulation")
    assert "From your imported lists" not in [str(s.value) for s in other.subheader]


def test_companies_and_search_show_the_lists_tags_as_text(pages_home, tmp_path, corpus):
    from tests.test_app import open_page

    import_source(str(cold_start_list(tmp_path / "newcomers.csv", corpus)))
    at = open_page("pages/companies.py", company="Acme")
    assert not at.exception, at.exception
    (editor,) = at.get("arrow_data_frame") or at.get("data_editor") or [None]
    assert editor is not None
    columns = json.loads(editor.proto.columns)
    assert "tags" in columns and columns["tags"]["label"] == "Tags"

    at = open_page("pages/search.py", q="banana bread", mode="keyword")
    assert not at.exception, at.exception
    assert "Tags: baking" in [str(c.value) for c in at.caption]


@pytest.mark.slow
@pytest.mark.browser
def test_in_a_browser_a_topic_page_shows_an_imported_item_after_an_import(pages_home, tmp_path, corpus, page):
    from tests.browser import page_problems, serve, settle, shoot

    import_source(str(cold_start_list(tmp_path / "newcomers.csv", corpus)))
    server = serve(pages_home, MLSD_EMBEDDER="hashing")
    url = next(server)
    try:
        page.goto(f"{url}/topics?topic=cold-start")
        page.get_by_role("heading", name="From your imported lists").wait_for()
        settle(page, quiet=1.0)
        # The hostile title is the text of the item's one link (its address broken by an invisible joiner).
        titles = [t.replace("\u2060", "") for t in page.locator("a[href='https://a.example/cold']").all_inner_texts()]
        assert titles and set(titles) == {f"Cold start problem: {HOSTILE}"}, titles
        assert page.locator("img[src=x]").count() == 0 and page.locator("a[href*='evil.example']").count() == 0
        assert page.locator("strong", has_text="Bold").count() == 0
        assert page.get_by_text("tags: newcomers, onboarding").count() == 1
        assert page_problems(page) == []
        shoot(page, "topic-imported-items")
        # Streamlit scrolls inside its own container: bring the section into view for a second shot.
        page.get_by_role("heading", name="From your imported lists").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shoot(page, "topic-imported-items-section")
    finally:
        next(server, None)
