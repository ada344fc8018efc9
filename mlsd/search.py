"""Semantic, keyword and hybrid search over every item, and related items.

- Semantic: the query's embedding against the FAISS index (cosine on unit vectors).
- Keyword: BM25 (``mlsd.bm25``: the scores of the ``bm25s`` library without importing it) over
  the same text that is embedded, with English stop words removed and Snowball stemming, so
  "recommendations" matches "recommendation".
- Hybrid (default): reciprocal rank fusion, ``sum(1 / (60 + rank))`` over the semantic
  ranking and a *gated* keyword ranking. RRF is used rather than mixing raw scores because
  cosine (0..1) and BM25 (unbounded, corpus-dependent) live on different scales; ranks do
  not, and RRF needs no tuning per corpus. The gate: a keyword hit takes part in the fusion
  only when it contains at least two thirds of the query's distinct content words. Plain RRF
  let a document that shares one incidental word with a long paraphrase ("start" in
  "The algorithm that started Google" for "cold start") rank beside the real answers, and
  pulled hybrid far below semantic on paraphrases (nDCG@10 0.25 vs 0.74 in
  benchmarks/eval_search.py); gated, hybrid is at least as good as the better of the two
  on every query style. A query that no word matches is answered by semantics alone.
  When a keyword hit passed the gate, the fused top 50 is then reranked by late interaction
  (MiniLM's token vectors, MaxSim, fused with the hybrid rank by the same RRF: :mod:`mlsd.rerank`;
  on paraphrases it promoted look-alikes, so they are left as they were), and a query that names a
  company of the library (:mod:`mlsd.mentions`) brings that company's nearest items into the
  candidates and boosts them by ``COMPANY_BOOST``: "Uber ETA prediction" ranked a DoorDash
  post above Uber's own. Semantic and keyword modes are each one signal, unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import numpy as np

from .bm25 import BM25
from .embed import TextEmbedder, default_embedder
from .errors import QueryError
from .index import LoadedIndex, open_index
from .mentions import mentions
from .model import ITEM_TYPES, KIND_LABELS, KINDS, MODES, Corpus, Item
from .rerank import DEPTH, late_order, query_tokens
from .strength import level, strength
from .tokens import Tokenizer

RRF_K = 60
KEYWORD_GATE = 2 / 3  # share of the query's distinct content words a keyword hit must contain
T = TypeVar("T", bound=Hashable)
MAX_QUERY_CHARS = 1000  # longer queries are cut: the model reads 256 tokens anyway
RERANK_NEEDS_WORDS = True  # rerank only queries whose words the gated keyword ranking found
COMPANY_BOOST = 0.10  # hybrid score x (1 + this) for the items of a company the query names
COMPANY_POOL = 10  # a named company's nearest items added to the semantic candidates

@dataclass
class Filters:
    """Restrict results. Every field is optional; values are checked against the corpus.

    Attributes:
        types: item types (topic, step, question, resource).
        companies: company ids, names or aliases ("Facebook", "Meta", "netflix").
        kinds: resource kinds (talk-video, or its label "Talk video").
        topics: topic ids; an item matches when it belongs to the topic or its subtree.
        steps: flow step ids; an item matches when it relates to one of them.
        year_min, year_max: inclusive year range for items that have a year.
        undated: keep items without a year (topics, steps, questions, undated case studies)
            when a year range is given; False leaves them out.
        exclude_ids: item ids to leave out (e.g. resources already read).
        only_ids: when not None, only these item ids (e.g. bookmarked resources); unknown
            ids are ignored, since they may name resources of a removed list.
    """

    types: Sequence[str] = ()
    companies: Sequence[str] = ()
    kinds: Sequence[str] = ()
    topics: Sequence[str] = ()
    steps: Sequence[str] = ()
    year_min: int | None = None
    year_max: int | None = None
    undated: bool = True
    exclude_ids: Sequence[str] = ()
    only_ids: Sequence[str] | None = None

    def is_empty(self) -> bool:
        return not (self.types or self.companies or self.kinds or self.topics or self.steps or self.exclude_ids) and (
            self.year_min is None and self.year_max is None and self.only_ids is None
        )


@dataclass
class Hit:
    """One search result, with what is needed to show it and to explain why it matched."""

    id: str
    type: str
    title: str
    url: str | None
    company: str | None
    kind: str | None
    year: int | None
    summary: str
    path: str
    score: float  # the ranking score (rank fusion in hybrid, cosine in semantic, BM25 in keyword)
    semantic_score: float | None = None
    keyword_score: float | None = None
    matched_terms: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    source: str = "bundled"
    strength: float | None = None  # match strength 0..1 (mlsd.strength); None for related items
    match: str | None = None  # "strong", "fair" or "weak"

    def to_dict(self) -> dict:
        return asdict(self)


def rerank(ranked: Sequence[tuple[T, float]], late: Sequence[T]) -> list[tuple[T, float]]:
    """Fuse a ranking's head with another order of that head (the late-interaction rerank's,
    :mod:`mlsd.rerank`) by the same equal-weight RRF as :func:`fuse`; the rest keep their order
    after it, scored by their rank alone (so below every fused one)."""
    if not late:
        return list(ranked)
    depth = len(late)
    best = 2.0 / (RRF_K + 1)
    tail = [(i, (1.0 / (RRF_K + rank)) / best) for rank, (i, _) in enumerate(ranked[depth:], start=depth + 1)]
    return fuse([i for i, _ in ranked[:depth]], late) + tail


def boost(ranked: Sequence[tuple[int, float]], chosen: np.ndarray, factor: float) -> list[tuple[int, float]]:
    """Scores of the chosen positions times ``1 + factor``, re-sorted (ties keep their order)."""
    boosted = [(i, s * (1.0 + factor) if chosen[i] else s) for i, s in ranked]
    return sorted(boosted, key=lambda p: -p[1])


def fuse(semantic: Sequence[T], keyword: Sequence[T], k: int = RRF_K) -> list[tuple[T, float]]:
    """Reciprocal rank fusion of two rankings (best first): ``sum(1 / (k + rank))`` per id.

    Scores are scaled so that an id first in both rankings scores 1.0; ties keep the semantic
    order (an id missing from the semantic ranking comes after those in it).

    Returns:
        ``(id, score)`` pairs, best first.
    """
    fused: dict[T, float] = {}
    for ranking in (semantic, keyword):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    sem_rank = {item: rank for rank, item in enumerate(semantic)}
    best = 2.0 / (k + 1)
    return sorted(((i, s / best) for i, s in fused.items()), key=lambda p: (-p[1], sem_rank.get(p[0], len(sem_rank))))


class SearchEngine:
    """Search and related items over a corpus and its checked index. Safe to share across threads."""

    def __init__(self, corpus: Corpus, index: LoadedIndex, embedder: TextEmbedder,
                 query_encoder: TextEmbedder | None = None, query_status: str = "") -> None:
        self.corpus = corpus
        self.index = index
        self.embedder = embedder  # the build-time model (encodes items)
        # What encodes queries: the ONNX export (mlsd.query_path) or the embedder itself.
        self.query_encoder = query_encoder or embedder
        self.query_status = query_status
        self.items: list[Item] = [corpus.item_by_id[i] for i in index.ids]
        self.position = {item.id: n for n, item in enumerate(self.items)}
        self.tokenizer = Tokenizer()
        tokens = [self.tokenizer(item.embedding_text()) for item in self.items]
        self._doc_stems = [set(t) for t in tokens]
        self._title_stems = [set(self.tokenizer(item.title)) for item in self.items]
        document_frequency: dict[str, int] = {}
        for stems in self._doc_stems:
            for stem in stems:
                document_frequency[stem] = document_frequency.get(stem, 0) + 1
        self._document_frequency = document_frequency
        self._bm25 = BM25(tokens)
        # Columns for vectorized filtering.
        self._types = np.array([i.type for i in self.items])
        self._companies = np.array([i.company or "" for i in self.items], dtype=object)
        self._kinds = np.array([i.kind or "" for i in self.items], dtype=object)
        self._years = np.array([i.year if i.year is not None else np.nan for i in self.items], dtype=float)
        self._containing: dict[str, np.ndarray] = {}  # stem -> items whose text has it (company mentions)
        self._by_topic: dict[str, list[int]] = {}
        self._by_step: dict[str, list[int]] = {}
        for n, item in enumerate(self.items):
            for t in item.topics:
                self._by_topic.setdefault(t, []).append(n)
            for s in item.steps:
                self._by_step.setdefault(s, []).append(n)

    # -- filters -----------------------------------------------------------------------------
    def check_filters(self, filters: Filters | None) -> Filters | None:
        """Validate and normalize filter values; raise QueryError naming the bad value."""
        if filters is None or filters.is_empty():
            return None
        corpus = self.corpus
        types = []
        for t in filters.types:
            if t not in ITEM_TYPES:
                raise QueryError(f"Unknown item type '{t}'. Use one of: {', '.join(ITEM_TYPES)}.")
            types.append(t)
        companies = []
        for c in filters.companies:
            cid = corpus.resolve_company(c)
            if cid is None:
                known = ", ".join(corpus.company_names)
                raise QueryError(f"Unknown company '{c}'. Use one of: {known}.")
            companies.append(corpus.company_name(cid) or cid)
        kinds = []
        labels = {label.casefold(): kind for kind, label in KIND_LABELS.items()}
        for k in filters.kinds:
            kind = k if k in KINDS else labels.get(str(k).casefold())
            if kind is None:
                raise QueryError(f"Unknown kind '{k}'. Use one of: {', '.join(KINDS)}.")
            kinds.append(kind)
        for t in filters.topics:
            if t not in corpus.topic_by_id:
                raise QueryError(f"Unknown topic '{t}'. Use a topic id, e.g. '{corpus.topics[0].id}' (see `mlsd stats`).")
        for s in filters.steps:
            if s not in corpus.step_by_id:
                raise QueryError(f"Unknown flow step '{s}'. Use one of: {', '.join(corpus.step_by_id)}.")
        for name in ("year_min", "year_max"):
            value = getattr(filters, name)
            if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)):
                raise QueryError(f"{name} must be a whole year, got {value!r}.")
        return Filters(types, companies, kinds, list(filters.topics), list(filters.steps), filters.year_min, filters.year_max,
                       filters.undated, list(filters.exclude_ids),
                       None if filters.only_ids is None else list(filters.only_ids))

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        mask = np.ones(len(self.items), dtype=bool)
        if filters.types:
            mask &= np.isin(self._types, list(filters.types))
        if filters.companies:
            mask &= np.isin(self._companies, list(filters.companies))
        if filters.kinds:
            mask &= np.isin(self._kinds, list(filters.kinds))
        if filters.topics:
            wanted = np.zeros(len(self.items), dtype=bool)
            for topic in filters.topics:
                for t in self.corpus.subtree(topic):
                    wanted[self._by_topic.get(t, [])] = True
            mask &= wanted
        if filters.steps:
            wanted = np.zeros(len(self.items), dtype=bool)
            for step in filters.steps:
                wanted[self._by_step.get(step, [])] = True
            mask &= wanted
        if filters.year_min is not None or filters.year_max is not None:
            low = -np.inf if filters.year_min is None else filters.year_min
            high = np.inf if filters.year_max is None else filters.year_max
            in_range = (self._years >= low) & (self._years <= high)  # NaN compares False
            mask &= in_range | np.isnan(self._years) if filters.undated else in_range
        if filters.exclude_ids:
            mask[[self.position[i] for i in filters.exclude_ids if i in self.position]] = False
        if filters.only_ids is not None:
            wanted = np.zeros(len(self.items), dtype=bool)
            wanted[[self.position[i] for i in filters.only_ids if i in self.position]] = True
            mask &= wanted
        return mask

    # -- the two rankings -------------------------------------------------------------------------
    def _semantic(self, vector: np.ndarray, pool: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        return self.index.search(vector, pool, mask)

    def _gate(self, keyword: list[tuple[int, float]], stems: list[str]) -> list[tuple[int, float]]:
        """The keyword hits that contain at least ``KEYWORD_GATE`` of the query's distinct stems."""
        wanted = set(stems)
        return [(i, s) for i, s in keyword if len(wanted & self._doc_stems[i]) >= KEYWORD_GATE * len(wanted)]

    def rankings(self, query: str, pool: int = 50, filters: Filters | None = None) -> dict[str, list[tuple[str, float]]]:
        """The raw rankings hybrid search fuses, as plain ``(item id, score)`` lists, best first.

        For evaluating fusions outside the engine (``benchmarks/eval_search.py``): ``semantic``
        (cosine), ``keyword`` (BM25, ungated) and ``keyword_gated`` (what hybrid fuses).
        """
        mask = self._mask(self.check_filters(filters))
        stems = self.tokenizer(query)
        semantic = self._semantic(self.query_encoder.encode_query(query), pool, mask)
        keyword = self._keyword(stems, pool, mask)
        ids = self.index.ids
        return {
            "semantic": [(ids[i], s) for i, s in semantic],
            "keyword": [(ids[i], s) for i, s in keyword],
            "keyword_gated": [(ids[i], s) for i, s in self._gate(keyword, stems)],
        }

    def _keyword(self, stems: list[str], pool: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        if not stems:
            return []
        scores = self._bm25.get_scores(stems)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if len(positive) == 0:
            return []
        if len(positive) > pool:
            positive = positive[np.argpartition(-scores[positive], pool - 1)[:pool]]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return [(int(i), float(scores[i])) for i in order]

    # -- public API ---------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | None = None) -> list[Hit]:
        """Search every item.

        Args:
            query: free text; empty or whitespace gives no results.
            k: number of hits wanted.
            mode: ``hybrid`` (default), ``semantic`` or ``keyword``.
            filters: optional restrictions (see ``Filters``).

        Returns:
            Up to k hits, best first.

        Raises:
            QueryError: unknown mode or filter value.
        """
        if mode not in MODES:
            raise QueryError(f"Unknown mode '{mode}'. Use one of: {', '.join(MODES)}.")
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise QueryError(f"k must be a positive whole number, got {k!r}.")
        filters = self.check_filters(filters)
        query = (query or "")[:MAX_QUERY_CHARS]
        if not query.strip():
            return []
        mask = self._mask(filters)
        pool = max(50, 3 * k)
        words = self.tokenizer.words(query)
        stems = self.tokenizer.stems(words)
        semantic: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        token_vectors: np.ndarray | None = None
        query_vector: np.ndarray | None = None
        if mode == "hybrid" and self.index.tokens is not None:
            query_vector, token_vectors = query_tokens(self.query_encoder, query)  # one forward pass
        elif mode in ("hybrid", "semantic"):
            query_vector = self.query_encoder.encode_query(query)
        named = self._company_mask(query, mask) if mode == "hybrid" else None
        if query_vector is not None:
            semantic = self._semantic(query_vector, pool, mask)
            if named is not None:
                semantic = self._with_company_candidates(semantic, query_vector, named)
        best_cosine = semantic[0][1] if semantic else None
        if mode in ("hybrid", "keyword"):
            keyword = self._keyword(stems, pool, mask)
        if mode == "hybrid":
            keyword = self._gate(keyword, stems)

        sem_rank = {i: r for r, (i, _) in enumerate(semantic, start=1)}
        kw_rank = {i: r for r, (i, _) in enumerate(keyword, start=1)}
        sem_score = dict(semantic)
        kw_score = dict(keyword)
        if mode == "semantic":
            ranked = semantic
        elif mode == "keyword":
            ranked = keyword
        else:
            ranked = fuse([i for i, _ in semantic], [i for i, _ in keyword])
            # Only when the query's words are found (a keyword hit passed the gate): MaxSim of
            # MiniLM's token vectors rewards shared surface words, which a paraphrase's answers
            # lack by definition, and on the bundled paraphrases it promoted look-alikes instead.
            if token_vectors is not None and self.index.tokens is not None and (keyword or not RERANK_NEEDS_WORDS):
                ranked = rerank(ranked, late_order(self.index.tokens, token_vectors, [i for i, _ in ranked[:DEPTH]]))
            if named is not None:
                ranked = boost(ranked, named, COMPANY_BOOST)
        hits = []
        for i, score in ranked[:k]:
            matched = self._matched_terms(i, words, stems)
            signals = []
            if i in sem_rank and mode != "keyword":
                signals.append("semantic")
            if i in kw_rank and matched:
                signals.append("keyword")
            hit = self._hit(i, score, sem_score.get(i), kw_score.get(i), matched, signals)
            hit.strength = round(strength(*self._features(i, query_vector, stems, best_cosine)), 4)
            hit.match = level(hit.strength)
            hits.append(hit)
        return hits

    # -- companies the query names ----------------------------------------------------------------
    def named_companies(self, query: str) -> list[str]:
        """The companies of the library the query names ("Uber ETA prediction" -> ["Uber"]).

        A name that is also a common word of the library ("Target", "Segment", "Machine
        Learning" are imported companies) counts only when the items that contain its words are
        at least as often that company's as anyone else's.
        """
        found = []
        for mention in mentions(self.corpus, (query or "")[:MAX_QUERY_CHARS]):
            own = self._companies == mention.company
            count = int(own.sum())
            if count == 0:
                continue
            containing = np.ones(len(self.items), dtype=bool)
            for stem in set(self.tokenizer(mention.spelling)):
                containing &= self._items_containing(stem)
            if int((containing & ~own).sum()) <= count:
                found.append(mention.company)
        return found

    def _items_containing(self, stem: str) -> np.ndarray:
        cached = self._containing.get(stem)
        if cached is not None:
            return cached
        found = np.fromiter((stem in d for d in self._doc_stems), dtype=bool, count=len(self._doc_stems))
        self._containing[stem] = found
        return found

    def _company_mask(self, query: str, mask: np.ndarray | None) -> np.ndarray | None:
        """The items (within the filter) of the companies the query names; None when it names none."""
        names = self.named_companies(query)
        if not names:
            return None
        own = np.isin(self._companies, names)
        if mask is not None:
            own &= mask
        return own if own.any() else None

    def _with_company_candidates(self, semantic: list[tuple[int, float]], query_vector: np.ndarray,
                                 own: np.ndarray) -> list[tuple[int, float]]:
        """The semantic ranking with the named companies' nearest items added, in cosine order:
        the company's answer may lie beyond the first 50 of a large library."""
        extra = self.index.search(query_vector, COMPANY_POOL, own)
        merged = dict(semantic)
        merged.update(extra)
        return sorted(merged.items(), key=lambda p: -p[1])

    def _features(self, position: int, query_vector: np.ndarray | None, stems: list[str],
                  best_cosine: float | None) -> tuple[float | None, float, float, float | None]:
        """(cosine, IDF-weighted coverage, title coverage, gap to the best cosine) of one item for a
        query (see mlsd.strength); the cosine and the gap are None without a query vector."""
        cosine = None if query_vector is None else float(self.index.vectors[position] @ query_vector[0])
        gap = None if cosine is None or best_cosine is None else min(0.0, cosine - best_cosine)
        wanted = set(stems)
        if not wanted:
            return cosine, 0.0, 0.0, gap
        total = len(self.items)
        idf = {s: math.log((total - self._document_frequency.get(s, 0) + 0.5) / (self._document_frequency.get(s, 0) + 0.5) + 1)
               for s in wanted}
        doc = self._doc_stems[position]
        coverage = sum(v for s, v in idf.items() if s in doc) / sum(idf.values())
        title_coverage = len(wanted & self._title_stems[position]) / len(wanted)
        return cosine, coverage, title_coverage, gap

    def match_features(self, query: str, item_ids: Sequence[str],
                       semantic: bool = True) -> list[tuple[float | None, float, float, float | None]]:
        """The match-strength features of items for an unfiltered query, for calibration
        (``benchmarks/calibrate_strength.py``)."""
        stems = self.tokenizer(query)
        query_vector = self.query_encoder.encode_query(query) if semantic else None
        best = self.index.search(query_vector, 1)[0][1] if query_vector is not None and self.items else None
        return [self._features(self.position[i], query_vector, stems, best) for i in item_ids]

    def related(self, item_id: str, k: int = 10, filters: Filters | None = None, curated_first: bool = False) -> list[Hit]:
        """The k items nearest to an item by embedding, the item itself left out.

        Args:
            curated_first: for a flow step or a topic, first the items the data files it under
                (a resource's ``steps``, or ``topics`` in the topic's subtree), nearest first,
                then the nearest others. By embedding alone, the same few general resources
                (a company's blog home page, a course) came first for six of the seven steps.

        Raises:
            QueryError: the item id is unknown, or a filter value is.
        """
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise QueryError(f"k must be a positive whole number, got {k!r}.")
        if item_id not in self.position:
            raise QueryError(f"Unknown item '{item_id}'. Use an id shown by `mlsd search ... --json`.")
        filters = self.check_filters(filters)
        mask = self._mask(filters)
        position = self.position[item_id]
        if mask is None:
            mask = np.ones(len(self.items), dtype=bool)
        mask = mask.copy()
        mask[position] = False
        vector = self.index.vector(position)
        nearest = self.index.search(vector, k, mask)
        anchor = self.items[position]
        if curated_first and anchor.type in ("step", "topic"):
            filed = np.zeros(len(self.items), dtype=bool)
            if anchor.type == "step":
                filed[self._by_step.get(anchor.id, [])] = True
            else:
                for topic in self.corpus.subtree(anchor.id):
                    filed[self._by_topic.get(topic, [])] = True
            curated = self.index.search(vector, k, mask & filed) if (mask & filed).any() else []
            taken = {i for i, _ in curated}
            nearest = curated + [(i, s) for i, s in nearest if i not in taken]
        return [self._hit(i, s, s, None, [], ["semantic"]) for i, s in nearest[:k]]

    def _matched_terms(self, position: int, words: list[str], stems: list[str]) -> list[str]:
        doc = self._doc_stems[position]
        out = []
        for word, stem in zip(words, stems):
            if stem in doc and word not in out:
                out.append(word)
        return out

    def _hit(self, position: int, score: float, semantic: float | None, keyword: float | None,
             matched: list[str], signals: list[str]) -> Hit:
        item = self.items[position]
        return Hit(
            id=item.id, type=item.type, title=item.title, url=item.url, company=item.company, kind=item.kind,
            year=item.year, summary=item.summary, path=item.path, score=round(float(score), 4),
            semantic_score=None if semantic is None else round(float(semantic), 4),
            keyword_score=None if keyword is None else round(float(keyword), 4),
            matched_terms=matched, signals=signals, source=item.source,
        )


def open_engine(
    corpus: Corpus,
    embedder: TextEmbedder | None = None,
    folder=None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    on_rebuild: Callable[[str], None] | None = None,
    on_query_fallback: Callable[[str], None] | None = None,
    few_queries: bool = False,
) -> SearchEngine:
    """A search engine over the corpus, its index loaded, or rebuilt when missing or stale
    (see :func:`mlsd.index.open_index`; the reason is in ``engine.index.status``).

    Queries are encoded by the ONNX export beside the index when it checks, else by the
    embedder, and the export is made again (:mod:`mlsd.query_path`; ``engine.query_status``
    says which, ``on_query_fallback`` is told why before the fallback). ``few_queries``: the
    engine answers a query or two, so the encoder is made cheap to open (mlsd.query_path)."""
    from .query_path import open_query_path

    embedder = embedder or default_embedder()
    index = open_index(list(corpus.items), corpus.data_hash, embedder, folder, force=force, progress=progress,
                       on_rebuild=on_rebuild)
    query_encoder, status = open_query_path(index, embedder, on_query_fallback, few_queries=few_queries)
    return SearchEngine(corpus, index, embedder, query_encoder, status)
