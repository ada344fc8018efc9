"""Validate the practice material: ``rubric.yaml`` and the practice fields of ``questions.yaml``.

The rules are those of ``data/README.md`` ("Practice material"): counts and lengths of the
hints, pitfalls, follow-ups and outline of every question, and a rubric with one entry per
flow step and 3 to 5 criteria each. Problems are collected on the loader's
:class:`~mlsd.checker.Checker`, located like every other data error (file, line of the
mapping, entry, field), so they are all reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .checker import LINE_KEY, Checker
from .errors import Problem
from .model import ID_PATTERN, Criterion, Rubric, RubricStep

QUESTION_FIELDS = ("id", "title", "prompt", "topics", "steps", "hints", "pitfalls", "follow_ups", "outline")
RUBRIC_STEP_FIELDS = ("step", "criteria")
CRITERION_FIELDS = ("id", "text", "detail")

MIN_HINTED_STEPS = 4
HINTS_PER_STEP = (1, 3)
HINT_MAX_CHARS = 240
PITFALLS = (2, 4)
FOLLOW_UPS = (2, 4)
OUTLINE_LINES = (5, 9)
MATERIAL_MAX_CHARS = 200  # a pitfall, a follow-up or an outline line
CRITERIA_PER_STEP = (3, 5)
CRITERION_TEXT_MAX_CHARS = 80
CRITERION_DETAIL_MAX_CHARS = 300

# An extra rule for one item of a list: returns a message, or None when the item is fine.
ItemRule = Callable[[str], "str | None"]


def _kind(value: Any) -> str:
    return "mapping" if isinstance(value, dict) else type(value).__name__


def unknown_fields(check: Checker, file: str, raw: dict, label: str, known: Sequence[str]) -> None:
    """Report every key of an entry that is not one of ``known`` (most likely a misspelling)."""
    for key in raw:
        if key != LINE_KEY and key not in known:
            check.add(file, raw, label, str(key), f"is not a known field. Use one of: {', '.join(known)}.")


def _texts(check: Checker, file: str, raw: dict, label: str, fld: str, value: Any, bounds: tuple[int, int],
           max_chars: int, noun: str, rule: ItemRule | None = None) -> tuple[str, ...]:
    """A list of texts (a single text counts as a list of one), checked item by item and counted."""
    low, high = bounds
    if value is None:
        check.add(file, raw, label, fld, f"is empty or missing. Give {low} to {high} {noun}.")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        check.add(file, raw, label, fld, f"must be a list of texts, got a {_kind(value)}. Write one '- \"...\"' line per item.")
        return ()
    out: list[str] = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, str):
            shown = "" if isinstance(item, dict) else f": {item!r}"
            check.add(file, raw, label, fld, f"item {number} must be text, got a {_kind(item)}{shown}. Quote it.")
            continue
        text = " ".join(item.split())
        if not text:
            check.add(file, raw, label, fld, f"item {number} is empty. Give it a text or remove it.")
            continue
        check.damage(file, raw, label, fld, item)
        if len(text) > max_chars:
            check.add(file, raw, label, fld, f"item {number} is {len(text)} characters long. Shorten it to at most {max_chars}.")
        if text in out:
            check.add(file, raw, label, fld, f"item {number} repeats item {out.index(text) + 1}. Remove one of them.")
        elif rule is not None and (problem := rule(text)):
            check.add(file, raw, label, fld, f"item {number} {problem}")
        out.append(text)
    if not low <= len(value) <= high:
        check.add(file, raw, label, fld, f"has {len(value)} {noun}. Give {low} to {high}.")
    return tuple(out)


def _asks(text: str) -> str | None:
    return None if text.endswith("?") else "does not end with '?'. Write it as the question an interviewer would ask."


def _no_full_stop(text: str) -> str | None:
    if text.endswith(".") and not text.endswith("..."):
        return "ends with a full stop. Write it as a short noun phrase without one."
    return None


def question_material(check: Checker, file: str, raw: dict, label: str, step_ids: Sequence[str],
                      question_steps: Sequence[str]) -> dict[str, Any]:
    """The checked practice fields of one question, as keyword arguments for ``Question``.

    Args:
        step_ids: the flow's step ids, in order (hints are returned in that order).
        question_steps: the question's own ``steps``: each must have hints.
    """
    unknown_fields(check, file, raw, label, QUESTION_FIELDS)
    return {
        "hints": _hints(check, file, raw, label, step_ids, question_steps),
        "pitfalls": _texts(check, file, raw, label, "pitfalls", raw.get("pitfalls"), PITFALLS, MATERIAL_MAX_CHARS,
                           "pitfalls"),
        "follow_ups": _texts(check, file, raw, label, "follow_ups", raw.get("follow_ups"), FOLLOW_UPS,
                             MATERIAL_MAX_CHARS, "follow-ups", _asks),
        "outline": _texts(check, file, raw, label, "outline", raw.get("outline"), OUTLINE_LINES, MATERIAL_MAX_CHARS,
                          "lines", _no_full_stop),
    }


def _hints(check: Checker, file: str, raw: dict, label: str, step_ids: Sequence[str],
           question_steps: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    value = raw.get("hints")
    least = min(MIN_HINTED_STEPS, len(step_ids))  # a cut-down flow (tests) has fewer steps
    need = f"at least {least} of the {len(step_ids)} steps"
    if value is None:
        check.add(file, raw, label, "hints", f"is missing. Give hints for {need} (step id: a list of 1 to 3 hints).")
        return ()
    if not isinstance(value, dict):
        check.add(file, raw, label, "hints", f"must be a mapping of step id to a list of hints, got a {_kind(value)}.")
        return ()
    by_step: dict[str, tuple[str, ...]] = {}
    for key, hints in value.items():
        if key == LINE_KEY:  # the line loader's own key, added to this mapping too
            continue
        if key not in step_ids:
            check.add(file, raw, label, "hints", f"has the key '{key}', which is not a step id. Use one of: {', '.join(step_ids)}.")
            continue
        by_step[key] = _texts(check, file, raw, label, f"hints.{key}", hints, HINTS_PER_STEP, HINT_MAX_CHARS, "hints")
    if len(by_step) < least:
        covered = ", ".join(s for s in step_ids if s in by_step) or "none"
        check.add(file, raw, label, "hints", f"covers {len(by_step)} steps ({covered}). Give hints for {need}, "
                                             "including every step in 'steps'.")
    for step in question_steps:
        if step in step_ids and step not in by_step:
            check.add(file, raw, label, "hints", f"lacks '{step}', which is one of the question's steps. "
                                                 "Add hints for it or take it out of 'steps'.")
    return tuple((s, by_step[s]) for s in step_ids if s in by_step)


def load_rubric(check: Checker, file: str, doc: Any, step_ids: Sequence[str]) -> Rubric:
    """The checked rubric: one entry per flow step, in the flow's order, with 3 to 5 criteria each."""
    entries: list[RubricStep] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(check.entries(doc, "steps", file), start=1):
        step = raw.get("step")
        label = f"rubric step '{step}'" if isinstance(step, str) and step.strip() else f"entry #{number}"
        unknown_fields(check, file, raw, label, RUBRIC_STEP_FIELDS)
        if not isinstance(step, str) or not step.strip():
            check.add(file, raw, label, "step", f"is empty or missing. Give the id of a flow step: {', '.join(step_ids)}.")
            step = ""
        elif step not in step_ids:
            check.add(file, raw, label, "step", f"is '{step}', which is not a step id. Use one of: {', '.join(step_ids)}.")
        elif step in seen:
            check.add(file, raw, label, "step", f"'{step}' appears twice (also entry #{seen[step]}). "
                                                "Give each flow step one entry.")
        else:
            seen[step] = number
        entries.append(RubricStep(step, _criteria(check, file, raw, label, step)))
    if isinstance(doc, dict) and isinstance(doc.get("steps"), list):
        for step in step_ids:
            if step not in seen:
                check.problems.append(Problem(file, None, None, "steps", f"lacks the flow step '{step}'. "
                                              "Give every step of flow.yaml one entry, in the flow's order."))
        order = [s for s in seen if s in step_ids]
        if order != [s for s in step_ids if s in seen]:
            check.problems.append(Problem(file, None, None, "steps", f"lists the steps out of the flow's order "
                                          f"({', '.join(order)}). Put them in the order of flow.yaml: "
                                          f"{', '.join(step_ids)}."))
    return Rubric(tuple(e for e in entries if e.step in step_ids))


def _criteria(check: Checker, file: str, raw_step: dict, step_label: str, step: str) -> tuple[Criterion, ...]:
    value = raw_step.get("criteria")
    low, high = CRITERIA_PER_STEP
    if not isinstance(value, list):
        got = "is missing" if value is None else f"must be a list of criteria, got a {_kind(value)}"
        check.add(file, raw_step, step_label, "criteria", f"{got}. Give {low} to {high} criteria (id, text, detail).")
        return ()
    if not low <= len(value) <= high:
        check.add(file, raw_step, step_label, "criteria", f"has {len(value)} criteria. Give {low} to {high}.")
    criteria: list[Criterion] = []
    ids: set[str] = set()
    for number, raw in enumerate(value, start=1):
        if not isinstance(raw, dict):
            check.add(file, raw_step, step_label, "criteria", f"item {number} must be a mapping of id, text and detail.")
            continue
        value = raw.get("id")
        cid = value.strip() if isinstance(value, str) else ""
        label = f"criterion '{step}/{cid}'" if cid else f"criterion '{step}/#{number}'"
        unknown_fields(check, file, raw, label, CRITERION_FIELDS)
        if not cid:
            check.add(file, raw, label, "id", "is empty or missing. Give the criterion a kebab-case id, unique "
                                              "within its step, e.g. 'offline-metric'.")
        elif not ID_PATTERN.match(cid):
            check.add(file, raw, label, "id", f"is '{cid}', which is not lowercase kebab-case. "
                                              "Use letters, digits and single dashes, e.g. 'offline-metric'.")
        elif cid in ids:
            check.add(file, raw, label, "id", f"'{cid}' is a duplicate within step '{step}'. "
                                              "Give each criterion of a step its own id.")
        ids.add(cid)
        text = check.text(file, raw, label, "text")
        if len(text) > CRITERION_TEXT_MAX_CHARS:
            check.add(file, raw, label, "text", f"is {len(text)} characters long. "
                                                f"Shorten it to at most {CRITERION_TEXT_MAX_CHARS}.")
        if text.endswith("."):
            check.add(file, raw, label, "text", "ends with a full stop. Write it as a checkbox label, without one.")
        detail = check.text(file, raw, label, "detail")
        if len(detail) > CRITERION_DETAIL_MAX_CHARS:
            check.add(file, raw, label, "detail", f"is {len(detail)} characters long. "
                                                  f"Shorten it to at most {CRITERION_DETAIL_MAX_CHARS}.")
        criteria.append(Criterion(cid, text, detail))
    return tuple(criteria)
