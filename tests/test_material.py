"""The practice material: rubric.yaml and the questions' hints, pitfalls, follow-ups and outline.

The real data loads as data/README.md describes it; each rule of the spec is broken in a copy
and reported with file, line, entry and field, in the spec's words. None of these texts
reaches the search index.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlsd import CorpusError, load_corpus
from mlsd.corpus import DATA_FILES

DATA = Path(__file__).resolve().parent.parent / "data"
STEPS = "problem-formulation, ml-metrics, mvp-logic, data-pipeline, training, inference, scaling-monitoring"
FEATURE_STORE = "data/questions.yaml, line {line}, question 'q-feature-store'"


@pytest.fixture
def data(tmp_path) -> Path:
    """A copy of data/ named 'data', so messages show 'data/<file>' as for the real folder."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def line_of(path: Path, needle: str) -> int:
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} found on lines {hits} of {path}"
    return hits[0]


def edit(path: Path, start: str, old: str, new: str, end: str = "\n  - ") -> None:
    """Replace the first ``old`` after the line ``start``, within that entry (up to ``end``)."""
    text = path.read_text(encoding="utf-8")
    begin = text.index(start)
    at = text.index(old, begin)
    stop = text.find(end, begin + len(start))
    assert stop == -1 or at < stop, f"{old!r} is not inside the entry starting {start!r}"
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")


def edit_question(data: Path, old: str, new: str, question: str = "q-feature-store") -> int:
    """Edit the question's entry; returns its line (the line every problem of it is reported at)."""
    path = data / "questions.yaml"
    edit(path, f"  - id: {question}\n", old, new)
    return line_of(path, f"- id: {question}")


def problems(data: Path) -> list[str]:
    with pytest.raises(CorpusError) as info:
        load_corpus(data)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------
# the real data
# ---------------------------------------------------------------------------------------------
def test_the_real_practice_material_loads_as_the_spec_counts_it(corpus):
    assert "rubric.yaml" in DATA_FILES
    rubric = corpus.rubric
    assert [e.step for e in rubric.steps] == [s.id for s in corpus.steps]
    assert [len(e.criteria) for e in rubric.steps] == [5, 5, 4, 5, 5, 4, 5]
    label = rubric.criteria("ml-metrics")[3]
    assert (label.id, label.text) == ("label-source", "Explains how labels are obtained and how they are flawed")
    assert label.detail.startswith("Says where ground truth comes from (logged actions")  # folded to one line
    assert len(corpus.questions) == 25
    assert sum(len(hints) for q in corpus.questions for _, hints in q.hints) == 228
    order = [s.id for s in corpus.steps]
    for q in corpus.questions:
        stepped = [step for step, _ in q.hints]
        assert stepped == sorted(stepped, key=order.index), q.id  # the flow's order
        assert 6 <= len(stepped) and set(q.steps) <= set(stepped), q.id
        assert 3 <= len(q.pitfalls) <= 4 and 3 <= len(q.follow_ups) <= 4 and 6 <= len(q.outline) <= 8, q.id
    feature_store = corpus.question_by_id["q-feature-store"]
    assert feature_store.hints_for("data-pipeline")[1].startswith("Training sets use point-in-time joins")
    assert feature_store.hints_for("nonexistent") == ()
    assert feature_store.outline[0] == "Registry: feature definitions, owners, versions, entity keys, freshness targets"


def test_no_practice_text_reaches_the_search_index(corpus):
    practice = {text for q in corpus.questions
                for text in (*q.pitfalls, *q.follow_ups, *q.outline, *(h for _, hints in q.hints for h in hints))}
    practice |= {t for e in corpus.rubric.steps for c in e.criteria for t in (c.text, c.detail)}
    embedded = [text for item in corpus.items for text in item.embedded_texts()]
    leaks = [p for p in practice if any(p in text for text in embedded)]
    assert leaks == []
    for q in corpus.questions:  # a question is embedded from its title and prompt, as before
        item = corpus.item_by_id[q.id]
        assert item.embedded_texts() == (f"{q.title}. {q.prompt.rstrip('. ')}.", q.prompt)


def test_a_single_hint_may_be_written_as_text(data):
    edit_question(data, '      training:\n        - "Generate', '      training: "Generate')
    corpus = load_corpus(data)
    assert len(corpus.question_by_id["q-feature-store"].hints_for("training")) == 1


# ---------------------------------------------------------------------------------------------
# questions.yaml: the spec's examples, broken one by one
# ---------------------------------------------------------------------------------------------
def test_hints_for_too_few_steps_and_not_for_the_questions_own_steps(data):
    # Left: problem-formulation, data-pipeline and inference (the mapping's own __line__ is no step).
    path = data / "questions.yaml"
    for step in ("ml-metrics", "mvp-logic", "training", "scaling-monitoring"):
        text = path.read_text(encoding="utf-8")
        begin = text.index("  - id: q-feature-store\n")
        at = text.index(f"      {step}:\n", begin)
        stop = text.index("\n      ", at + 1)
        while text[stop + 1:].startswith("        - "):  # the step's hint lines
            stop = text.index("\n", stop + 1)
        path.write_text(text[:at] + text[stop + 1:], encoding="utf-8")
    line = line_of(path, "- id: q-feature-store")
    assert problems(data) == [
        f"{FEATURE_STORE.format(line=line)}: field 'hints' covers 3 steps (problem-formulation, data-pipeline, "
        "inference). Give hints for at least 4 of the 7 steps, including every step in 'steps'.",
        f"{FEATURE_STORE.format(line=line)}: field 'hints' lacks 'scaling-monitoring', which is one of the "
        "question's steps. Add hints for it or take it out of 'steps'.",
    ]


@pytest.mark.parametrize("old, new, message", [
    ("      ml-metrics:\n", "      metrics:\n",
     f"field 'hints' has the key 'metrics', which is not a step id. Use one of: {STEPS}."),
    ('      training:\n', '      training:\n        - "One"\n        - "Two"\n        - "Three"\n',
     "field 'hints.training' has 4 hints. Give 1 to 3."),
    ('      training:\n        - "Generate', '      training: []\n      # - "Generate',
     "field 'hints.training' has 0 hints. Give 1 to 3."),
    ('      inference:\n        - "Online store', '      inference:\n        - "' + "x" * 241 + '"\n        - "Online store',
     "field 'hints.inference' item 1 is 241 characters long. Shorten it to at most 240."),
    ('        - "Training sets use', '        - "Reuse feature definitions â€™ everywhere"\n        - "Training sets use',
     "field 'hints.data-pipeline' has encoding damage ('Reuse feature definitions â€™ everywhere'). Retype the broken "
     "characters (e.g. 'â€™' is an apostrophe)."),
    ("    hints:\n", "    hints: none\n    old_hints:\n",
     "field 'hints' must be a mapping of step id to a list of hints, got a str."),
    ('      - "Writing features once', '      - "' + "p" * 231 + '"\n      - "Writing features once',
     "field 'pitfalls' item 2 is 231 characters long. Shorten it to at most 200."),
    ('      - "Writing features once', '      - "Making every feature real time, which multiplies cost for little '
                                      'gain."\n      - "Writing features once',
     "field 'pitfalls' item 4 repeats item 2. Remove one of them."),
    ("    pitfalls:\n", "    pitfalls: []\n    old_pitfalls:\n", "field 'pitfalls' has 0 pitfalls. Give 2 to 4."),
    ('      - "What do models do when the online store is unavailable?"',
     '      - "What do models do when the online store is unavailable"',
     "field 'follow_ups' item 3 does not end with '?'. Write it as the question an interviewer would ask."),
    ('      - "Governance: access control for sensitive features, lineage, deprecation"',
     '      - "Governance: access control for sensitive features, lineage, deprecation."',
     "field 'outline' item 7 ends with a full stop. Write it as a short noun phrase without one."),
    ('      - "Skew control', '      - 42\n      - "Skew control', "field 'outline' item 5 must be text, got a int: 42. Quote it."),
])
def test_a_broken_question_field_is_reported_with_line_entry_and_field(data, old, new, message):
    if old.startswith("    pitfalls:") or old.startswith("    hints:"):
        # The renamed list is an unknown field: reported as well, which the spec also asks.
        name = new.split("\n    ")[1].rstrip(":\n")
        extra = [f"field '{name}' is not a known field. Use one of: id, title, prompt, topics, steps, hints, "
                 "pitfalls, follow_ups, outline."]
    else:
        extra = []
    line = edit_question(data, old, new)
    head = FEATURE_STORE.format(line=line)
    found = problems(data)
    if old.startswith("    hints:"):  # without hints, the question's steps lack them too
        assert found[0].startswith(f"{head}: field 'old_hints' is not a known field")
        assert f"{head}: {message}" in found and len(found) == 2
        return
    assert sorted(found) == sorted([f"{head}: {message}", *(f"{head}: {e}" for e in extra)])


def test_the_too_short_outline_of_the_spec(data):
    line = edit_question(data, '      - "Skew control: shared transformations, logged served features, online/offline '
                               'comparisons"\n      - "Monitoring: freshness lag, null and default rates, distribution '
                               'drift, read latency"\n      - "Governance: access control for sensitive features, '
                               'lineage, deprecation"\n', "")
    assert problems(data) == [f"{FEATURE_STORE.format(line=line)}: field 'outline' has 4 lines. Give 5 to 9."]


def test_a_misspelled_field_is_an_error_not_silently_dropped(data):
    line = edit_question(data, "    follow_ups:\n", "    follow-ups:\n")
    head = FEATURE_STORE.format(line=line)
    assert problems(data) == [
        f"{head}: field 'follow-ups' is not a known field. Use one of: id, title, prompt, topics, steps, hints, "
        "pitfalls, follow_ups, outline.",
        f"{head}: field 'follow_ups' is empty or missing. Give 2 to 4 follow-ups.",
    ]


def test_problems_of_several_questions_and_the_rubric_come_together(data):
    edit_question(data, "    outline:\n", "    outlines:\n", question="q-video-recommendations")
    edit_question(data, "      ml-metrics:\n", "      metric:\n")
    edit(data / "rubric.yaml", "      - id: label-source\n", "        text:", "        txt:", end="\n      - id:")
    found = problems(data)
    assert [p.split(",")[0] for p in found] == ["data/questions.yaml"] * 3 + ["data/rubric.yaml"] * 2, found
    assert any("criterion 'ml-metrics/label-source': field 'txt' is not a known field" in p for p in found)
    assert any("criterion 'ml-metrics/label-source': field 'text' is empty or missing" in p for p in found)


# ---------------------------------------------------------------------------------------------
# rubric.yaml
# ---------------------------------------------------------------------------------------------
def rubric_step_line(data: Path, step: str) -> int:
    return line_of(data / "rubric.yaml", f"  - step: {step}")


def criterion_line(data: Path, criterion: str) -> int:
    return line_of(data / "rubric.yaml", f"      - id: {criterion}")


def cut(path: Path, start: str, end: str) -> None:
    text = path.read_text(encoding="utf-8")
    begin = text.index(start)
    stop = text.index(end, begin + len(start))
    path.write_text(text[:begin] + text[stop:], encoding="utf-8")


def test_a_missing_rubric_is_reported_like_a_missing_flow(data):
    (data / "rubric.yaml").unlink()
    assert problems(data) == ["data/rubric.yaml: is missing. Restore it from git or create it (see data/README.md)."]


def test_a_rubric_without_a_step(data):
    cut(data / "rubric.yaml", "  - step: training\n", "  - step: inference\n")
    assert problems(data) == [
        "data/rubric.yaml: field 'steps' lacks the flow step 'training'. Give every step of flow.yaml one entry, "
        "in the flow's order."]


def test_a_rubric_in_another_order(data):
    path = data / "rubric.yaml"
    text = path.read_text(encoding="utf-8")
    a, b, c = (text.index(f"  - step: {s}\n") for s in ("problem-formulation", "ml-metrics", "mvp-logic"))
    path.write_text(text[:a] + text[b:c] + text[a:b] + text[c:], encoding="utf-8")
    assert problems(data) == [
        "data/rubric.yaml: field 'steps' lists the steps out of the flow's order (ml-metrics, problem-formulation, "
        f"mvp-logic, data-pipeline, training, inference, scaling-monitoring). Put them in the order of flow.yaml: {STEPS}."]


def test_a_rubric_step_twice_or_unknown(data):
    edit(data / "rubric.yaml", "  - step: training\n", "  - step: training", "  - step: inference")
    line = rubric_step_line(data, "scaling-monitoring")
    found = problems(data)
    first_inference = [n for n, t in enumerate((data / "rubric.yaml").read_text().splitlines(), 1)
                       if t == "  - step: inference"]
    assert f"data/rubric.yaml, line {first_inference[1]}, rubric step 'inference': field 'step' 'inference' appears " \
           "twice (also entry #5). Give each flow step one entry." in found
    assert "data/rubric.yaml: field 'steps' lacks the flow step 'training'. Give every step of flow.yaml one entry, " \
           "in the flow's order." in found
    assert line > 0
    edit(data / "rubric.yaml", "  - step: scaling-monitoring\n", "  - step: scaling-monitoring", "  - step: scaling")
    assert (f"data/rubric.yaml, line {line}, rubric step 'scaling': field 'step' is 'scaling', which is not a step "
            f"id. Use one of: {STEPS}.") in problems(data)


def test_a_rubric_step_with_six_criteria(data):
    edit(data / "rubric.yaml", "  - step: ml-metrics\n", "      - id: label-source\n",
         "      - id: sixth\n        text: \"Adds a sixth criterion\"\n        detail: \"Too many.\"\n"
         "      - id: label-source\n")
    assert problems(data) == [f"data/rubric.yaml, line {rubric_step_line(data, 'ml-metrics')}, rubric step "
                              "'ml-metrics': field 'criteria' has 6 criteria. Give 3 to 5."]


def test_a_criterion_with_an_empty_text(data):
    edit(data / "rubric.yaml", "      - id: label-source\n",
         'text: "Explains how labels are obtained and how they are flawed"', 'text: ""', end="\n      - id:")
    assert problems(data) == [f"data/rubric.yaml, line {criterion_line(data, 'label-source')}, criterion "
                              "'ml-metrics/label-source': field 'text' is empty or missing. Give it a non-empty text."]


def test_a_criterion_id_twice_within_a_step_but_not_across_steps(data):
    edit(data / "rubric.yaml", "  - step: ml-metrics\n", "      - id: imbalance-and-calibration\n",
         "      - id: label-source\n")
    lines = [n for n, t in enumerate((data / "rubric.yaml").read_text().splitlines(), 1) if t == "      - id: label-source"]
    assert problems(data) == [f"data/rubric.yaml, line {lines[1]}, criterion 'ml-metrics/label-source': field 'id' "
                              "'label-source' is a duplicate within step 'ml-metrics'. Give each criterion of a step "
                              "its own id."]
    # The same id under another step is fine: criteria are named <step>/<id>.
    edit(data / "rubric.yaml", "  - step: ml-metrics\n", "      - id: label-source\n", "      - id: imbalance-and-calibration\n")
    edit(data / "rubric.yaml", "  - step: training\n", "      - id: realistic-splits\n", "      - id: label-source\n")
    assert [c.id for c in load_corpus(data).rubric.criteria("training")][0] == "label-source"


@pytest.mark.parametrize("old, new, message", [
    ('text: "Adds guardrail metrics"', 'text: "Adds guardrail metrics that ' + "x" * 60 + '"',
     "field 'text' is 88 characters long. Shorten it to at most 80."),
    ('text: "Adds guardrail metrics"', 'text: "Adds guardrail metrics."',
     "field 'text' ends with a full stop. Write it as a checkbox label, without one."),
    ("        detail: >-\n", "        detail: >-\n          " + "d" * 290 + "\n",
     "field 'detail' is 481 characters long. Shorten it to at most 300."),
    ("        detail: >-\n", "        details: >-\n", "field 'details' is not a known field. Use one of: id, text, detail."),
    ("      - id: guardrail-metrics\n", "      - id: Guardrail_Metrics\n",
     "field 'id' is 'Guardrail_Metrics', which is not lowercase kebab-case. Use letters, digits and single dashes, "
     "e.g. 'offline-metric'."),
])
def test_a_broken_criterion_is_reported_with_line_entry_and_field(data, old, new, message):
    edit(data / "rubric.yaml", "      - id: guardrail-metrics\n", old, new, end="\n      - id:")
    cid = "Guardrail_Metrics" if "Guardrail_Metrics" in new else "guardrail-metrics"
    line = criterion_line(data, cid)
    found = problems(data)
    if old.startswith("        detail: >-") and new.startswith("        details"):
        assert found == [f"data/rubric.yaml, line {line}, criterion 'ml-metrics/{cid}': {message}",
                         f"data/rubric.yaml, line {line}, criterion 'ml-metrics/{cid}': field 'detail' is empty or "
                         "missing. Give it a non-empty text."]
        return
    assert found == [f"data/rubric.yaml, line {line}, criterion 'ml-metrics/{cid}': {message}"]


def test_a_rubric_that_is_not_a_list(data):
    (data / "rubric.yaml").write_text("steps: ml-metrics\n", encoding="utf-8")
    assert problems(data) == ["data/rubric.yaml: must hold a top-level list named 'steps:'."]
