"""Reading hand-edited YAML with line numbers, and collecting problems while checking it.

Shared by the loaders of :mod:`mlsd.corpus` (the knowledge base) and :mod:`mlsd.material`
(the practice material), so every data error is located and worded the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import CorpusError, Problem

# Mojibake left by a UTF-8 text decoded as cp1252 (the seed had "Facebookâ€™s").
ENCODING_DAMAGE = re.compile("â€|Ã[\u0080-\u00bf]|Â[\u0080-\u00bf ]|\ufffd")


LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records the line of every mapping, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def display_path(path: Path, data_dir: Path) -> str:
    """A data file's path as messages show it: ``data/<file>`` for the bundled folder."""
    try:
        return str(Path(data_dir.name) / path.relative_to(data_dir))
    except ValueError:
        return str(path)


def read_yaml(path: Path, shown: str) -> Any:
    """Parse one YAML file; every mapping carries its line under ``LINE_KEY``.

    Raises:
        CorpusError: the file is missing, unreadable, not UTF-8 or not valid YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError([Problem(shown, None, None, None, "is missing. Restore it from git or create it (see data/README.md).")]) from None
    except UnicodeDecodeError as exc:
        raise CorpusError([Problem(shown, None, None, None, f"is not valid UTF-8 ({exc.reason} at byte {exc.start}). Save it as UTF-8.")]) from None
    except OSError as exc:
        raise CorpusError([Problem(shown, None, None, None, f"cannot be read ({exc.strerror}). Make it a readable file.")]) from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise CorpusError([Problem(shown, line, None, None, f"is not valid YAML: {what}. Check indentation and quoting there.")]) from None


class Checker:
    """Collects problems while turning raw YAML entries into dataclasses."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str, raw: Any, entry: str | None, fld: str | None, message: str) -> None:
        line = raw.get(LINE_KEY) if isinstance(raw, dict) else None
        self.problems.append(Problem(file, line, entry, fld, message))

    def entries(self, doc: Any, key: str, file: str) -> list[dict]:
        if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
            self.problems.append(Problem(file, None, None, None, f"must hold a top-level list named '{key}:'."))
            return []
        out = []
        for number, raw in enumerate(doc[key], start=1):
            if not isinstance(raw, dict):
                self.problems.append(Problem(file, None, f"entry #{number}", None, "must be a mapping of fields (id: ..., name: ...)."))
                continue
            out.append(raw)
        return out

    def text(self, file: str, raw: dict, entry: str, fld: str, required: bool = True) -> str:
        value = raw.get(fld)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(file, raw, entry, fld, "is empty or missing. Give it a non-empty text.")
            return ""
        if not isinstance(value, str):
            self.add(file, raw, entry, fld, f"must be text, got {type(value).__name__}: {value!r}. Quote it.")
            return str(value)
        self.damage(file, raw, entry, fld, value)
        return " ".join(value.split())

    def id_list(self, file: str, raw: dict, entry: str, fld: str) -> tuple[str, ...]:
        value = raw.get(fld)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(file, raw, entry, fld, f"must be a list of ids, got {value!r}.")
            return ()
        return tuple(value)

    def strings(self, file: str, raw: dict, entry: str, fld: str) -> tuple[str, ...]:
        value = raw.get(fld) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(file, raw, entry, fld, f"must be a list of texts, got {value!r}.")
            return ()
        for v in value:
            self.damage(file, raw, entry, fld, v)
        return tuple(" ".join(v.split()) for v in value)

    def damage(self, file: str, raw: dict, entry: str, fld: str, value: str) -> None:
        if ENCODING_DAMAGE.search(value):
            self.add(file, raw, entry, fld, f"has encoding damage ({value!r}). Retype the broken characters (e.g. 'â€™' is an apostrophe).")
