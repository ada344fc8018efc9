"""Words as keyword search sees them: lowercase, no stop words, Snowball-stemmed.

BM25 (mlsd.search), the keyword gate, match strength and the highlighting of matched words all
use the same ``Tokenizer``, so a word counts the same everywhere.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import Stemmer

# A letter/letter compound ("A/B", "I/O") is one word: split, both halves are dropped (a stop
# word, single letters), so "A/B testing" searched "testing" alone.
_TOKEN = re.compile(r"\b[^\W\d_]/[^\W\d_]\b|\w+", re.UNICODE)
# bm25s's English list (``bm25s.stopwords.STOPWORDS_EN``, copied: importing bm25s pulls in scipy,
# a third of a cold search; a test checks the copy) is short (no "you", "can", "from", "each"...):
# function words like these made BM25 match documents on words that carry no meaning.
BM25S_STOPWORDS = frozenset("""
    a an and are as at be but by for if in into is it no not of on or such that the their then there
    these they this to was will with
""".split())
_STOPWORDS = BM25S_STOPWORDS | frozenset("""
    a about above after again against all also am an any anyone anything are around as at be
    because been before being below between both but by can could did do does doing down during
    each else ever every few for from further get gets getting had has have having he her here
    hers him his how i if in into is it its itself just me might more most must my myself no nor
    not now of off on once one only or other our ours out over own per s same she should so some
    someone something than that the their them then there these they this those through to too
    under until up upon us very via was we were what when where whether which while who whom
    whose why will with within without would yet you your yours
""".split())


class Tokenizer:
    """Lowercase word tokens without stop words, Snowball-stemmed (thread-safe)."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()

    def words(self, text: str) -> list[str]:
        return [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1 or w.isdigit()]

    def stems(self, words: Sequence[str]) -> list[str]:
        with self._lock:
            return self._stemmer.stemWords(list(words))

    def __call__(self, text: str) -> list[str]:
        return self.stems(self.words(text))

    def spans(self, text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
        """Character spans of the words in text that share a stem with one of the terms.

        Used to highlight why a keyword hit matched ("recommendations" for "recommendation").
        """
        wanted = set(self.stems([t.lower() for t in terms]))
        if not wanted:
            return []
        found = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
        stems = self.stems([w for _, _, w in found])
        return [(start, end) for (start, end, _), stem in zip(found, stems) if stem in wanted]
