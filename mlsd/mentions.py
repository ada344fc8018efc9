"""The companies a query names ("Uber ETA prediction" names Uber), for company-aware search.

A query that names a company of the library most likely wants that company's material: "Uber
ETA prediction" ranked a DoorDash post on delivery ETAs above Uber's own, because by meaning
both are about ETAs and the company's name is one word among several. Hybrid search boosts the
named company's items (:mod:`mlsd.search`), and the Search page offers to filter on it.

A company counts as named when a run of up to four consecutive words of the query spells, case
and punctuation ignored (:func:`mlsd.model.company_key`), one of the corpus's company names or
aliases ("Meta" and "FB" name Facebook) or an imported company's name. Only whole words count
("Uberization" names no company), and keys shorter than three characters are ignored, so a
stray "ai" or "x" names nothing. Some imported companies are called by common words ("Target",
"Segment", even "Machine Learning"): the engine keeps a mention only when the words mostly mean
the company in the library (:meth:`mlsd.search.SearchEngine.named_companies`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Corpus, company_key

MAX_WORDS = 4  # the longest company name in words ("Royal Bank of Canada")
MIN_KEY_CHARS = 3
_WORD = re.compile(r"[\w][\w.&'’+-]*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$|[.'’+-]+$")


@dataclass(frozen=True)
class Mention:
    """A company named in a query: its display name and the words that named it."""

    company: str  # as ``Corpus.company_names`` shows it ("Facebook")
    spelling: str  # as the query wrote it ("meta")


def mentions(corpus: Corpus, query: str) -> list[Mention]:
    """The companies the query names, in the order they appear, each once.

    Args:
        corpus: the knowledge base with its imported lists (companies and their spellings).
        query: the search text.

    Returns:
        One :class:`Mention` per company, e.g. ``[Mention("Uber", "uber")]``.
    """
    words = [_POSSESSIVE.sub("", w) for w in _WORD.findall(query or "")]  # "Uber's" names Uber
    found: list[Mention] = []
    known = set(corpus.company_names)
    start = 0
    while start < len(words):
        step = 1
        # Longest run first: "Royal Bank of Canada" before "Royal".
        for length in range(min(MAX_WORDS, len(words) - start), 0, -1):
            spelling = " ".join(words[start:start + length])
            if len(company_key(spelling)) < MIN_KEY_CHARS:
                continue
            resolved = corpus.resolve_company(spelling)
            name = corpus.company_name(resolved) if resolved is not None else None
            if name is not None and name in known:
                if all(m.company != name for m in found):
                    found.append(Mention(name, spelling))
                step = length
                break
        start += step
    return found
