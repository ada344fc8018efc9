"""The corpus loader on the real data, and its error reports on deliberately broken copies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from mlsd import CorpusError, load_corpus
from mlsd.model import KINDS, ChecklistItem
from mlsd.views import resources_frame

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "ml-system-design.md"
NEXT_YEAR = dt.date.today().year + 1


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def all_strings(value):
    """Every string inside a corpus object (dataclasses, tuples, lists, dicts)."""
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from all_strings(getattr(value, f.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from all_strings(k)
            yield from all_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from all_strings(v)


def data_copy(tmp_path: Path) -> Path:
    """A copy of data/ named 'data', so messages show 'data/<file>' as for the real folder."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def line_of(path: Path, needle: str) -> int:
    """1-based number of the only line of the file containing needle."""
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} found on lines {hits} of {path}"
    return hits[0]


def edit_entry(path: Path, entry_id: str, old: str, new: str) -> None:
    """Replace the first `old` after the line `- id: <entry_id>` (the entry's own field)."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"- id: {entry_id}\n")
    at = text.index(old, start)
    next_entry = text.find("\n  - id: ", start + 1)
    assert next_entry == -1 or at < next_entry, f"{old!r} is not a field of {entry_id}"
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")


def load_error(data_dir: Path) -> CorpusError:
    with pytest.raises(CorpusError) as info:
        load_corpus(data_dir)
    return info.value


def single_problem(data_dir: Path) -> tuple[CorpusError, object]:
    err = load_error(data_dir)
    assert len(err.problems) == 1, str(err)
    return err, err.problems[0]


# ---------------------------------------------------------------------------------------------
# the real data
# ---------------------------------------------------------------------------------------------
def test_every_seed_link_is_exactly_one_resource(corpus):
    if not SEED.exists():
        pytest.skip(f"the seed {SEED} is absent")
    text = SEED.read_text(encoding="utf-8")
    urls = re.findall(r"https?://[^\s)\"'<>\]]+", text)
    figure = [u for u in urls if u.endswith("components.png")]
    links = [u for u in urls if not u.endswith("components.png")]
    assert len(figure) == 1 and corpus.guide["components_figure"] == figure[0]
    assert len(links) == 50
    counts = Counter(r.url for r in corpus.resources)
    assert {u: counts[u] for u in links if counts[u] != 1} == {}
    # and nothing that is not in the seed
    assert set(counts) == set(links)


def _norm(text: str) -> str:
    return text.casefold().replace("-", " ")


SEED_TOPICS = [
    ("collaborative filtering",),
    ("cold start problem",),
    ("matrix factorization",),
    ("content based filtering",),
    ("word2vec",),
    ("glove",),
    ("elmo",),
    ("bert",),
    ("viterbi algorithm and beam search",),
    ("ctc algorithm",),
    ("mfcc",),
    ("out of vocabulary",),
    ("seq2seq", "nmt"),
    ("ctr prediction",),
    ("ranking algorithms",),
    ("pagerank",),
    ("autocomplete",),
    ("image classification",),
    ("object tracking",),
    ("alexnet", "vgg", "resnet"),
    ("dataset size",),
]


@pytest.mark.parametrize("parts", SEED_TOPICS, ids=["/".join(p) for p in SEED_TOPICS])
def test_seed_topic_is_present(corpus, parts):
    names = [_norm(t.name) for t in corpus.topics]
    assert any(all(p in name for p in parts) for name in names), f"no topic name contains {parts}"


def test_flow_has_seven_steps_in_order(corpus):
    assert [s.number for s in corpus.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert [s.name for s in corpus.steps] == [
        "Problem formulation",
        "ML metrics (offline and online)",
        "MVP logic (high-level design)",
        "Data pipeline",
        "Training",
        "Inference (online)",
        "Scaling, monitoring and updates",
    ]


def test_ab_test_checklist_item_keeps_its_three_children(corpus):
    step = corpus.step_by_id["scaling-monitoring"]
    ab = [item for item in step.checklist if item.text == "A/B test and deployment"]
    assert ab == [
        ChecklistItem(
            "A/B test and deployment",
            (
                ChecklistItem("How to A/B test?"),
                ChecklistItem("What portion of users?"),
                ChecklistItem("Control and test groups"),
            ),
        )
    ]
    lines = step.checklist_lines()
    at = lines.index((0, "A/B test and deployment"))
    assert lines[at + 1 : at + 4] == [(1, "How to A/B test?"), (1, "What portion of users?"), (1, "Control and test groups")]


def test_no_encoding_damage_anywhere(corpus):
    texts = list(all_strings(corpus)) + list(all_strings(corpus.items))
    assert len(texts) > 500
    assert [t for t in texts if "â€" in t] == []
    for path in sorted(DATA.glob("*.yaml")):
        assert "â€" not in path.read_text(encoding="utf-8"), path.name


def test_tao_title_has_a_clean_apostrophe(corpus):
    tao = [r for r in corpus.resources if r.title.startswith("TAO")]
    assert len(tao) == 2
    assert all("Facebook's" in r.title for r in tao)


def test_questions_reference_known_topics_and_steps(corpus):
    assert len(corpus.questions) >= 10
    for q in corpus.questions:
        assert q.title and q.prompt
        assert q.topics and set(q.topics) <= corpus.topic_by_id.keys(), q.id
        assert q.steps and set(q.steps) <= corpus.step_by_id.keys(), q.id


UNLINKED = ["XNLT for A/B testing", "ML pipelines with TFX and KubeFlow", "TFX production components",
            "Ad CTR prediction", "Social graph search"]


@pytest.mark.parametrize("phrase", UNLINKED)
def test_unlinked_seed_items_are_notes_not_resources(corpus, phrase):
    notes = [n for c in corpus.companies for n in c.notes] + [n for t in corpus.topics for n in t.notes]
    assert any(phrase.casefold() in n.casefold() for n in notes), phrase
    assert all(r.title.casefold() != phrase.casefold() for r in corpus.resources)
    assert all(phrase.casefold() not in r.title.casefold() for r in corpus.resources)


def test_unlinked_seed_items_sit_with_their_company(corpus):
    notes = {c.id: c.notes for c in corpus.companies}
    assert notes["linkedin"] == ("XNLT for A/B testing",)
    assert notes["google"] == ("ML pipelines with TFX and KubeFlow", "TFX production components")
    assert notes["facebook"] == ("Ad CTR prediction", "Social graph search")
    assert any("kubeflow" in n.casefold() for n in notes["google"])


def test_subtree_and_topic_path(corpus):
    assert corpus.subtree("collaborative-filtering") == [
        "collaborative-filtering", "user-based-cf", "item-based-cf", "cold-start", "matrix-factorization",
    ]
    assert corpus.subtree("cold-start") == ["cold-start"]
    rec = corpus.subtree("recommendation-systems")
    assert rec[0] == "recommendation-systems" and "cold-start" in rec and len(rec) == len(set(rec)) == 9
    assert [t.name for t in corpus.topic_path("cold-start")] == [
        "Recommendation systems", "Collaborative filtering (CF)", "Cold start problem",
    ]
    assert [t.id for t in corpus.topic_path("nlp")] == ["nlp"]
    # every topic's subtree together covers the tree exactly once
    roots = [t.id for t in corpus.children(None)]
    covered = [i for r in roots for i in corpus.subtree(r)]
    assert sorted(covered) == sorted(t.id for t in corpus.topics)


@pytest.mark.parametrize("name, expected", [
    ("Meta", "facebook"), ("meta", "facebook"), ("  Instagram ", "facebook"), ("Facebook", "facebook"),
    ("netflix", "netflix"), ("Amazon Web Services", "aws"), ("LINKEDIN", "linkedin"), ("Twitter", None), ("", None),
])
def test_resolve_company(corpus, name, expected):
    assert corpus.resolve_company(name) == expected


def test_resources_frame(corpus):
    frame = resources_frame(corpus)
    assert list(frame.columns) == ["id", "title", "url", "company", "company_id", "kind", "year", "summary", "summary_from",
                                   "topics", "topic_ids", "steps", "source", "tags"]
    assert len(frame) == len(corpus.resources) == 50
    assert str(frame["year"].dtype) == "Int64"
    row = frame.set_index("id").loc["facebook-practical-lessons-ctr"]
    assert (row["company"], row["company_id"], row["kind"], row["year"]) == ("Facebook", "facebook", "Paper", 2014)
    assert frame["id"].is_unique


def test_stats_totals(corpus):
    totals = corpus.stats()["totals"]
    assert totals == {"steps": 7, "topics": len(corpus.topics), "companies": 5, "resources": 50,
                      "questions": len(corpus.questions), "company_notes": 5}


def test_items_cover_everything_once(corpus):
    ids = [i.id for i in corpus.items]
    assert len(ids) == len(set(ids)) == len(corpus.topics) + 7 + len(corpus.questions) + 50
    assert {r.kind for r in corpus.resources} <= set(KINDS)


# ---------------------------------------------------------------------------------------------
# broken copies: the exact message, with file, line, entry and field
# ---------------------------------------------------------------------------------------------
def test_unchanged_copy_loads_with_the_same_hash(tmp_path, corpus):
    copy = load_corpus(data_copy(tmp_path))
    assert copy.data_hash == corpus.data_hash
    assert [r.id for r in copy.resources] == [r.id for r in corpus.resources]


def test_missing_id(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    edit_entry(path, "system-design-primer", "- id: system-design-primer\n    title:", "- title:")
    line = line_of(path, '- title: "System design primer"')
    err, p = single_problem(data)
    assert (p.file, p.line, p.entry, p.field) == ("data/resources.yaml", line, "resource #5", "id")
    assert str(err) == (f"data/resources.yaml, line {line}, resource #5: field 'id' is missing. "
                        "Give every entry a unique kebab-case id such as 'cold-start'.")


def test_duplicate_id_in_the_same_file(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: system-design-primer")
    edit_entry(path, "system-design-primer", "system-design-primer", "grokking-the-system-design-interview")
    err, p = single_problem(data)
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'grokking-the-system-design-interview': field 'id' "
        "'grokking-the-system-design-interview' is a duplicate: it is already used in data/resources.yaml. "
        "Ids must be unique across all data files."
    )


def test_duplicate_id_across_files(tmp_path):
    data = data_copy(tmp_path)
    path = data / "questions.yaml"
    line = line_of(path, "- id: q-video-recommendations")
    edit_entry(path, "q-video-recommendations", "q-video-recommendations", "cold-start")
    err, p = single_problem(data)
    assert (p.file, p.line, p.entry, p.field) == ("data/questions.yaml", line, "question 'cold-start'", "id")
    assert str(err) == (
        f"data/questions.yaml, line {line}, question 'cold-start': field 'id' 'cold-start' is a duplicate: "
        "it is already used in data/topics.yaml. Ids must be unique across all data files."
    )


def test_id_that_is_not_kebab_case(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: system-design-primer")
    edit_entry(path, "system-design-primer", "system-design-primer", "System_Design")
    err, p = single_problem(data)
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'System_Design': field 'id' is 'System_Design', which is not "
        "lowercase kebab-case. Use letters, digits and single dashes, e.g. 'cold-start'."
    )


def test_unknown_parent_topic(tmp_path):
    data = data_copy(tmp_path)
    path = data / "topics.yaml"
    line = line_of(path, "- id: cold-start")
    edit_entry(path, "cold-start", "parent: collaborative-filtering", "parent: no-such-topic")
    err, p = single_problem(data)
    assert str(err) == (
        f"data/topics.yaml, line {line}, topic 'cold-start': field 'parent' is 'no-such-topic', which is not a "
        "topic id. Use an id from topics.yaml or null for a root."
    )


def test_resource_names_an_unknown_topic(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: full-stack-deep-learning")
    edit_entry(path, "full-stack-deep-learning", "topics: [ml-systems-in-production]",
               "topics: [ml-systems-in-production, no-such-topic]")
    err, p = single_problem(data)
    assert (p.file, p.line, p.entry, p.field) == ("data/resources.yaml", line, "resource 'full-stack-deep-learning'", "topics")
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'full-stack-deep-learning': field 'topics' names "
        "'no-such-topic', which is not a topic id. Use an id from topics (topics.yaml)."
    )


def test_question_names_an_unknown_step(tmp_path):
    data = data_copy(tmp_path)
    path = data / "questions.yaml"
    line = line_of(path, "- id: q-video-recommendations")
    edit_entry(path, "q-video-recommendations", "steps: [problem-formulation,", "steps: [deploy, problem-formulation,")
    err, p = single_problem(data)
    assert str(err) == (
        f"data/questions.yaml, line {line}, question 'q-video-recommendations': field 'steps' names 'deploy', "
        "which is not a step id. Use an id from steps (flow.yaml)."
    )


def test_resource_without_topics(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: full-stack-deep-learning")
    edit_entry(path, "full-stack-deep-learning", "topics: [ml-systems-in-production]", "topics: []")
    err, p = single_problem(data)
    assert str(err) == (f"data/resources.yaml, line {line}, resource 'full-stack-deep-learning': "
                        "field 'topics' is empty. Give at least one topic id.")


@pytest.mark.parametrize("url", ["ftp://example.com/file.pdf", "javascript:alert(1)", "https://", "www.example.com/page",
                                 "https://example.com/a b"])
def test_non_http_url(tmp_path, url):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: full-stack-deep-learning")
    edit_entry(path, "full-stack-deep-learning", 'url: "https://fall2019.fullstackdeeplearning.com/"', f'url: "{url}"')
    err, p = single_problem(data)
    assert (p.line, p.entry, p.field) == (line, "resource 'full-stack-deep-learning'", "url")
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'full-stack-deep-learning': field 'url' is '{url}', which is "
        "not an http(s) URL. Give a full address starting with https://."
    )


def test_duplicate_url(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: system-design-primer")
    edit_entry(path, "system-design-primer", 'url: "https://github.com/donnemartin/system-design-primer"',
               'url: "https://fall2019.fullstackdeeplearning.com/"')
    err, p = single_problem(data)
    assert str(err) == (f"data/resources.yaml, line {line}, resource 'system-design-primer': field 'url' duplicates "
                        "the url of resource 'full-stack-deep-learning'. Keep one entry per link.")


def test_unknown_company(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: full-stack-deep-learning")
    edit_entry(path, "full-stack-deep-learning", "company: null", "company: twitter")
    err, p = single_problem(data)
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'full-stack-deep-learning': field 'company' is 'twitter', "
        "which is not a known company. Use one of: aws, facebook, google, linkedin, netflix, or null."
    )


def test_unknown_kind(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: netflix-artwork-personalization")
    edit_entry(path, "netflix-artwork-personalization", "kind: slides", "kind: deck")
    err, p = single_problem(data)
    # the very message data/README.md shows
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'netflix-artwork-personalization': field 'kind' is 'deck', "
        "which is not a known kind. Use one of: blog-post, book, course, paper, repository, slides, talk-video."
    )


@pytest.mark.parametrize("year", [1800, 3000, 1989, NEXT_YEAR + 1])
def test_year_out_of_range(tmp_path, year):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: full-stack-deep-learning")
    edit_entry(path, "full-stack-deep-learning", "year: 2019", f"year: {year}")
    err, p = single_problem(data)
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'full-stack-deep-learning': field 'year' is {year}, which is "
        f"out of range. Use a year from 1990 to {NEXT_YEAR}, or leave it out."
    )


@pytest.mark.parametrize("year", [1990, NEXT_YEAR])
def test_year_at_the_bounds_is_accepted(tmp_path, year):
    data = data_copy(tmp_path)
    edit_entry(data / "resources.yaml", "full-stack-deep-learning", "year: 2019", f"year: {year}")
    assert load_corpus(data).resource_by_id["full-stack-deep-learning"].year == year


@pytest.mark.parametrize("title", ['""', '"   "', "null"])
def test_empty_title(tmp_path, title):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: full-stack-deep-learning")
    edit_entry(path, "full-stack-deep-learning", 'title: "Full Stack Deep Learning course"', f"title: {title}")
    err, p = single_problem(data)
    assert str(err) == (f"data/resources.yaml, line {line}, resource 'full-stack-deep-learning': "
                        "field 'title' is empty or missing. Give it a non-empty text.")


def test_invalid_yaml_names_the_line(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    edit_entry(path, "full-stack-deep-learning", "kind: course\n", "kind: course: extra\n")
    line = line_of(path, "kind: course: extra")
    err, p = single_problem(data)
    assert (p.file, p.line, p.entry, p.field) == ("data/resources.yaml", line, None, None)
    assert str(err) == (f"data/resources.yaml, line {line}: is not valid YAML: mapping values are not allowed here. "
                        "Check indentation and quoting there.")


def test_missing_file(tmp_path):
    data = data_copy(tmp_path)
    (data / "questions.yaml").unlink()
    err, p = single_problem(data)
    assert str(err) == "data/questions.yaml: is missing. Restore it from git or create it (see data/README.md)."


def test_encoding_damage_in_a_title(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    line = line_of(path, "- id: facebook-tao-talk")
    damaged = "TAO: Facebookâ€™s Distributed Data Store for the Social Graph"
    edit_entry(path, "facebook-tao-talk", "TAO: Facebook's Distributed Data Store for the Social Graph", damaged)
    err, p = single_problem(data)
    assert (p.line, p.entry, p.field) == (line, "resource 'facebook-tao-talk'", "title")
    assert str(err) == (
        f"data/resources.yaml, line {line}, resource 'facebook-tao-talk': field 'title' has encoding damage "
        f"({damaged!r}). Retype the broken characters (e.g. 'â€™' is an apostrophe)."
    )


def test_file_that_is_not_utf8(tmp_path):
    data = data_copy(tmp_path)
    path = data / "resources.yaml"
    raw = path.read_bytes()
    at = raw.index(b"Full Stack Deep Learning course")
    path.write_bytes(raw[:at] + b"\xe9" + raw[at:])  # a latin-1 byte inside UTF-8 text
    err, p = single_problem(data)
    assert str(err) == (f"data/resources.yaml: is not valid UTF-8 (invalid continuation byte at byte {at}). "
                        "Save it as UTF-8.")


def test_self_parent_is_a_cycle(tmp_path):
    data = data_copy(tmp_path)
    path = data / "topics.yaml"
    line = line_of(path, "- id: matrix-factorization")
    edit_entry(path, "matrix-factorization", "parent: collaborative-filtering", "parent: matrix-factorization")
    err, p = single_problem(data)
    assert str(err) == (f"data/topics.yaml, line {line}, topic 'matrix-factorization': field 'parent' makes a cycle "
                        "in the tree. Point it at an ancestor that leads to a root.")


def test_parent_cycle_is_reported_for_its_members(tmp_path):
    data = data_copy(tmp_path)
    path = data / "topics.yaml"
    edit_entry(path, "collaborative-filtering", "parent: recommendation-systems", "parent: cold-start")
    err = load_error(data)
    reported = {p.entry: p for p in err.problems}
    for topic in ("collaborative-filtering", "cold-start"):
        p = reported[f"topic '{topic}'"]
        assert (p.file, p.line, p.field) == ("data/topics.yaml", line_of(path, f"- id: {topic}"), "parent")
        assert p.message == "makes a cycle in the tree. Point it at an ancestor that leads to a root."


def test_parent_cycle_blames_only_the_topics_in_the_cycle(tmp_path):
    data = data_copy(tmp_path)
    edit_entry(data / "topics.yaml", "collaborative-filtering", "parent: recommendation-systems", "parent: cold-start")
    err = load_error(data)
    assert sorted(p.entry for p in err.problems) == ["topic 'cold-start'", "topic 'collaborative-filtering'"]


def test_steps_must_be_numbered_in_order(tmp_path):
    data = data_copy(tmp_path)
    path = data / "flow.yaml"
    edit_entry(path, "ml-metrics", "number: 2", "number: 3")
    edit_entry(path, "mvp-logic", "number: 3", "number: 2")
    err, p = single_problem(data)
    assert str(err) == ("data/flow.yaml: field 'number' must run 1, 2, 3, ... in file order; "
                        "found 1, 3, 2, 4, 5, 6, 7. Renumber the steps.")


def test_several_problems_are_reported_together(tmp_path):
    data = data_copy(tmp_path)
    topics, resources = data / "topics.yaml", data / "resources.yaml"
    edit_entry(topics, "cold-start", "parent: collaborative-filtering", "parent: no-such-topic")
    edit_entry(resources, "netflix-artwork-personalization", "kind: slides", "kind: deck")
    edit_entry(resources, "full-stack-deep-learning", "year: 2019", "year: 3000")
    err = load_error(data)
    assert [(p.file, p.entry, p.field) for p in err.problems] == [
        ("data/topics.yaml", "topic 'cold-start'", "parent"),
        ("data/resources.yaml", "resource 'full-stack-deep-learning'", "year"),
        ("data/resources.yaml", "resource 'netflix-artwork-personalization'", "kind"),
    ]
    text = str(err)
    assert text.startswith("3 problems in the data files:\n- data/topics.yaml, line ")
    assert text.count("\n- ") == 3
    assert f"- data/resources.yaml, line {line_of(resources, '- id: full-stack-deep-learning')}, " \
           "resource 'full-stack-deep-learning': field 'year' is 3000" in text


def test_read_problems_of_several_files_are_reported_together(tmp_path):
    data = data_copy(tmp_path)
    (data / "questions.yaml").unlink()
    edit_entry(data / "resources.yaml", "full-stack-deep-learning", "kind: course\n", "kind: course: extra\n")
    err = load_error(data)
    assert [p.file for p in err.problems] == ["data/resources.yaml", "data/questions.yaml"]
    assert str(err).startswith("2 problems in the data files:\n- data/resources.yaml, line ")


@pytest.mark.parametrize("file, entry, old, new, field", [
    ("flow.yaml", "scaling-monitoring", '"What portion of users?"', '"Whatâ€™s the portion of users?"', "checklist"),
    ("companies.yaml", "facebook", '"Social graph search"', '"Facebookâ€™s social graph search"', "notes"),
], ids=["checklist", "company-note"])
def test_encoding_damage_outside_text_fields_is_reported(tmp_path, file, entry, old, new, field):
    data = data_copy(tmp_path)
    edit_entry(data / file, entry, old, new)
    err = load_error(data)
    assert [(p.file, p.field) for p in err.problems] == [(f"data/{file}", field)]
    assert "has encoding damage" in str(err)
