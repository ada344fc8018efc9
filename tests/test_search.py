"""Search over the bundled data with the real model and a real index (session `engine`)."""

from __future__ import annotations

import pytest

from mlsd import QueryError
from mlsd.search import MAX_QUERY_CHARS, Filters, Hit

pytestmark = pytest.mark.slow

ALL = 1000  # more than the number of items: "give me everything that passes the filters"


def ids(hits):
    return [h.id for h in hits]


# ---------------------------------------------------------------------------------------------
# meaning-based results
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_new_users_without_history_finds_cold_start(engine, mode):
    assert "cold-start" in ids(engine.search("new users with no history", k=3, mode=mode))


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
def test_pagerank_finds_both_videos(engine, mode):
    top = ids(engine.search("pagerank", k=5, mode=mode))
    assert {"google-intro-to-pagerank", "google-pagerank-algorithm-that-started-google"} <= set(top)


def test_cold_start_hybrid(engine):
    hits = engine.search("cold start", k=3)
    assert "cold-start" in ids(hits)
    best = hits[0]
    assert best.id == "cold-start"
    assert best.score == 1.0  # first in both rankings
    assert best.signals == ["semantic", "keyword"]
    assert best.matched_terms == ["cold", "start"]


def test_cold_start_keyword(engine):
    hits = engine.search("cold start", k=5, mode="keyword")
    assert hits[0].id == "cold-start"
    assert all(h.matched_terms and h.signals == ["keyword"] for h in hits)
    assert all(h.semantic_score is None and h.keyword_score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_paraphrase_without_shared_keyword_finds_ctr(engine):
    query = "estimating the probability someone taps an advertisement"
    hits = engine.search(query, k=5, mode="semantic")
    found = [h for h in hits if h.id in {"ctr-prediction", "facebook-practical-lessons-ctr"}]
    assert found, ids(hits)
    # the Facebook CTR paper shares no word with the query: meaning alone brings it up
    paper = [h for h in hits if h.id == "facebook-practical-lessons-ctr"]
    assert paper and paper[0].matched_terms == []
    assert "facebook-practical-lessons-ctr" not in ids(engine.search(query, k=ALL, mode="keyword"))


def test_semantic_scores_are_cosines_best_first(engine):
    hits = engine.search("ranking the news feed", k=10, mode="semantic")
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert all(h.semantic_score == h.score and h.keyword_score is None for h in hits)


def test_k_limits_the_number_of_hits(engine):
    for k in (1, 4, 17):
        assert len(engine.search("recommendation", k=k)) == k
    assert len(engine.search("recommendation", k=ALL, mode="semantic")) == len(engine.corpus.items)


def test_hit_fields(engine, corpus):
    hits = engine.search("artwork personalization netflix", k=5)
    assert hits[0].id == "netflix-artwork-personalization"
    d = hits[0].to_dict()
    for key in ("id", "type", "title", "url", "company", "score", "signals", "matched_terms"):
        assert key in d
    r = corpus.resource_by_id["netflix-artwork-personalization"]
    assert (d["type"], d["title"], d["url"], d["company"], d["kind"]) == ("resource", r.title, r.url, "Netflix", "slides")
    assert set(d["matched_terms"]) == {"artwork", "personalization", "netflix"}
    assert "keyword" in d["signals"] and "semantic" in d["signals"]
    topic = engine.search("cold start", k=1)[0]
    assert (topic.type, topic.url, topic.company) == ("topic", None, None)


def test_keyword_hits_carry_matched_terms(engine):
    hits = engine.search("recommendations for courses", k=10, mode="keyword")
    assert hits
    for h in hits:
        assert h.matched_terms and set(h.matched_terms) <= {"recommendations", "courses"}
        assert h.signals == ["keyword"]


def test_a_slash_compound_is_one_keyword(engine):
    # "A/B" used to be split into a stop word and a single letter, both dropped
    assert engine.tokenizer.words("A/B testing, I/O and input/output") == ["a/b", "testing", "i/o", "input", "output"]
    hits = engine.search("A/B", k=ALL, mode="keyword")
    assert "ab-testing" in ids(hits) and all(h.matched_terms == ["a/b"] for h in hits)
    assert engine.tokenizer.spans("A/B tests", ["a/b"]) == [(0, 3)]


# ---------------------------------------------------------------------------------------------
# filters
# ---------------------------------------------------------------------------------------------
def test_type_filter(engine, corpus):
    hits = engine.search("recommendation", k=ALL, filters=Filters(types=["resource"]))
    assert hits and {h.type for h in hits} == {"resource"}
    everything = engine.search("recommendation", k=ALL, mode="semantic", filters=Filters(types=["resource"]))
    assert set(ids(everything)) == {r.id for r in corpus.resources}
    two = engine.search("recommendation", k=ALL, mode="semantic", filters=Filters(types=["topic", "step"]))
    assert {h.type for h in two} == {"topic", "step"} and len(two) == len(corpus.topics) + len(corpus.steps)


def test_company_filter(engine, corpus):
    hits = engine.search("recommendation", k=ALL, mode="semantic", filters=Filters(companies=["Netflix"]))
    assert {h.company for h in hits} == {"Netflix"}
    assert set(ids(hits)) == {r.id for r in corpus.resources if r.company == "netflix"}
    hybrid = engine.search("recommendation", k=5, filters=Filters(companies=["netflix"]))
    assert len(hybrid) == 5 and {h.company for h in hybrid} == {"Netflix"}


@pytest.mark.parametrize("alias", ["Meta", "meta", "Instagram", "facebook"])
def test_company_alias(engine, corpus, alias):
    hits = engine.search("news feed", k=ALL, mode="semantic", filters=Filters(companies=[alias]))
    assert {h.company for h in hits} == {"Facebook"}
    assert set(ids(hits)) == {r.id for r in corpus.resources if r.company == "facebook"}


def test_kind_filter(engine, corpus):
    hits = engine.search("ranking", k=ALL, mode="semantic", filters=Filters(kinds=["talk-video"]))
    assert {h.kind for h in hits} == {"talk-video"}
    assert set(ids(hits)) == {r.id for r in corpus.resources if r.kind == "talk-video"}
    by_label = engine.search("ranking", k=ALL, mode="semantic", filters=Filters(kinds=["Talk video"]))
    assert ids(by_label) == ids(hits)


def test_topic_filter_includes_the_subtree(engine, corpus):
    sub = set(corpus.subtree("recommendation-systems"))
    hits = engine.search("users", k=ALL, mode="semantic", filters=Filters(topics=["recommendation-systems"]))
    expected = {i.id for i in corpus.items if sub & set(i.topics)}
    assert set(ids(hits)) == expected
    assert {"cold-start", "matrix-factorization", "facebook-recommending-items-billion-people",
            "q-video-recommendations"} <= expected
    # items tagged only with a subtopic (matrix-factorization) are included
    assert "recommendation-systems" not in corpus.item_by_id["facebook-recommending-items-billion-people"].topics
    assert all(sub & set(corpus.item_by_id[h.id].topics) for h in hits)


def test_step_filter(engine, corpus):
    hits = engine.search("data", k=ALL, mode="semantic", filters=Filters(steps=["training"]))
    expected = {i.id for i in corpus.items if "training" in i.steps}
    assert set(ids(hits)) == expected and "training" in expected
    assert {"step", "resource", "question"} <= {h.type for h in hits}


def test_year_range_keeps_undated_items_unless_asked_to_hide_them(engine, corpus):
    undated = {i.id for i in corpus.items if i.year is None}
    hits = engine.search("feed", k=ALL, mode="semantic", filters=Filters(year_min=2015, year_max=2016))
    in_range = {r.id for r in corpus.resources if r.year is not None and 2015 <= r.year <= 2016}
    assert set(ids(hits)) == in_range | undated
    dated = engine.search("feed", k=ALL, mode="semantic", filters=Filters(year_min=2015, year_max=2016, undated=False))
    assert set(ids(dated)) == in_range
    assert dated and all(h.year is not None and 2015 <= h.year <= 2016 for h in dated)
    later = engine.search("feed", k=ALL, mode="semantic", filters=Filters(year_min=2000, undated=False))
    assert set(ids(later)) == {r.id for r in corpus.resources if r.year is not None}
    assert len(later) < len(corpus.resources)


def test_netflix_with_a_year_range_keeps_netflix_items_without_a_year(engine, corpus):
    netflix = {r.id for r in corpus.resources if r.company == "netflix"}
    hits = engine.search("recommendation", k=ALL, filters=Filters(companies=["Netflix"], year_min=1990, year_max=2030))
    assert set(ids(hits)) == netflix  # every Netflix item, dated or not


def test_filters_combine(engine, corpus):
    f = Filters(types=["resource"], companies=["Facebook"], kinds=["blog-post"], year_max=2017, undated=False)
    expected = {r.id for r in corpus.resources
                if r.company == "facebook" and r.kind == "blog-post" and r.year is not None and r.year <= 2017}
    assert expected == {"facebook-how-news-feed-works", "facebook-recommending-items-billion-people"}
    assert set(ids(engine.search("feed", k=ALL, mode="semantic", filters=f))) == expected
    assert set(ids(engine.search("feed", k=ALL, filters=f))) == expected


def test_keyword_mode_respects_filters(engine):
    hits = engine.search("recommendation", k=ALL, mode="keyword", filters=Filters(companies=["LinkedIn"]))
    assert hits and {h.company for h in hits} == {"LinkedIn"}


@pytest.mark.parametrize("kwargs, message", [
    ({"filters": Filters(companies=["Twitter"])},
     "Unknown company 'Twitter'. Use one of: LinkedIn, Google, AWS, Facebook, Netflix."),
    ({"filters": Filters(kinds=["deck"])},
     "Unknown kind 'deck'. Use one of: blog-post, book, course, paper, repository, slides, talk-video."),
    ({"filters": Filters(types=["article"])},
     "Unknown item type 'article'. Use one of: topic, step, question, resource."),
    ({"filters": Filters(topics=["no-such-topic"])},
     "Unknown topic 'no-such-topic'. Use a topic id, e.g. 'recommendation-systems' (see `mlsd stats`)."),
    ({"filters": Filters(steps=["deploy"])},
     "Unknown flow step 'deploy'. Use one of: problem-formulation, ml-metrics, mvp-logic, data-pipeline, "
     "training, inference, scaling-monitoring."),
    ({"mode": "fuzzy"}, "Unknown mode 'fuzzy'. Use one of: hybrid, semantic, keyword."),
    ({"k": 0}, "k must be a positive whole number, got 0."),
    ({"filters": Filters(year_min="2015")}, "year_min must be a whole year, got '2015'."),
], ids=["company", "kind", "type", "topic", "step", "mode", "k", "year"])
def test_unknown_values_raise_query_error(engine, kwargs, message):
    with pytest.raises(QueryError) as info:
        engine.search("cold start", **kwargs)
    assert str(info.value) == message


def test_bad_filter_is_reported_even_for_an_empty_query(engine):
    with pytest.raises(QueryError, match="^Unknown company 'Twitter'"):
        engine.search("", filters=Filters(companies=["Twitter"]))


# ---------------------------------------------------------------------------------------------
# related items
# ---------------------------------------------------------------------------------------------
def test_related_excludes_the_item_itself(engine, corpus):
    n = len(corpus.items)
    hits = engine.related("cold-start", k=n)
    assert "cold-start" not in ids(hits)
    assert len(hits) == n - 1 and len(set(ids(hits))) == n - 1
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.signals == ["semantic"] and h.matched_terms == [] for h in hits)


def test_related_resources_of_cold_start_are_about_recommendations(engine, corpus):
    sub = set(corpus.subtree("recommendation-systems"))
    hits = engine.related("cold-start", k=5, filters=Filters(types=["resource"]))
    assert len(hits) == 5 and {h.type for h in hits} == {"resource"}
    for h in hits:
        assert sub & set(corpus.resource_by_id[h.id].topics), h.id


def test_related_with_filters(engine):
    hits = engine.related("pagerank", k=3, filters=Filters(types=["resource"]))
    assert set(ids(hits)[:2]) == {"google-intro-to-pagerank", "google-pagerank-algorithm-that-started-google"}
    assert {h.type for h in hits} == {"resource"}
    assert [h.type for h in engine.related("q-video-recommendations", k=4, filters=Filters(types=["question"]))] == \
        ["question"] * 4
    netflix = engine.related("cold-start", k=ALL, filters=Filters(companies=["Netflix"]))
    assert len(netflix) == 7 and {h.company for h in netflix} == {"Netflix"}


def test_related_unknown_id(engine):
    with pytest.raises(QueryError) as info:
        engine.related("no-such-id")
    assert str(info.value) == "Unknown item 'no-such-id'. Use an id shown by `mlsd search ... --json`."
    with pytest.raises(QueryError, match="^Unknown kind 'deck'"):
        engine.related("cold-start", filters=Filters(kinds=["deck"]))


@pytest.mark.parametrize("k", [0, -1])
def test_related_rejects_a_k_below_one_like_search(engine, k):
    with pytest.raises(QueryError, match="^k must be a positive whole number"):
        engine.related("cold-start", k=k)


# ---------------------------------------------------------------------------------------------
# awkward queries never fail
# ---------------------------------------------------------------------------------------------
BAD_QUERIES = {
    "long": "recommendation " * 700,  # > 10,000 characters
    "emoji": "🚀🔥",
    "mixed-scripts": "рекомендации 推荐 recommendation",
    "quotes": "\"cold\" 'start'",
    "sql": "'; DROP TABLE items; --",
    "html": "<script>alert(1)</script>",
    "control": "cold\x00start\t\n",
    "punctuation": "?!...---***",
}


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("name", list(BAD_QUERIES))
def test_awkward_queries_do_not_fail(engine, mode, name):
    query = BAD_QUERIES[name]
    hits = engine.search(query, k=5, mode=mode)
    assert isinstance(hits, list) and len(hits) <= 5
    assert all(isinstance(h, Hit) and h.id in engine.position for h in hits)
    if mode != "keyword":
        assert len(hits) == 5  # the model always has an answer


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
@pytest.mark.parametrize("query", ["", "   ", "\n\t", None])
def test_empty_queries_give_nothing(engine, mode, query):
    assert engine.search(query, mode=mode) == []


def test_long_query_is_cut(engine):
    assert len(BAD_QUERIES["long"]) > 10_000
    long = "cold start " * 2000
    assert ids(engine.search(long, k=5, mode="semantic")) == ids(engine.search(long[:MAX_QUERY_CHARS], k=5, mode="semantic"))


def test_quotes_and_html_are_plain_words(engine):
    assert engine.search("\"cold\" 'start'", k=1)[0].id == "cold-start"
    assert engine.search("<b>cold</b> <i>start</i>", k=1, mode="keyword")[0].id == "cold-start"
    assert engine.search("рекомендации 推荐 recommendation", k=3, mode="keyword")[0].matched_terms == ["recommendation"]


def test_related_material_of_the_flow_steps_is_specific_and_varied(engine, corpus):
    """By embedding alone, the same general resources led six of the seven steps' lists."""
    from collections import Counter

    seen = Counter()
    for step in corpus.steps:
        hits = engine.related(step.id, k=6, filters=Filters(types=["resource"]), curated_first=True)
        filed = [h for h in hits if step.id in corpus.resource_by_id[h.id].steps]
        assert len(filed) == min(6, sum(1 for r in corpus.resources if step.id in r.steps)), step.id
        seen.update(h.id for h in hits)
    assert max(seen.values()) <= 3, seen.most_common(3)
    assert len(seen) >= 25
    plain = Counter(h.id for s in corpus.steps for h in engine.related(s.id, k=6, filters=Filters(types=["resource"])))
    assert max(plain.values()) >= 5  # what the curated ordering is for


# ---------------------------------------------------------------------------------------------
# the late-interaction rerank (mlsd.rerank) and company-aware queries (mlsd.mentions)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def without_rerank(engine):
    """The same engine over the same index, without its token store: hybrid as before the rerank."""
    import copy

    plain = copy.copy(engine)
    plain.index = copy.copy(engine.index)
    plain.index.tokens = None
    return plain


def test_the_rerank_lifts_the_item_whose_words_match_the_query(engine, without_rerank):
    # "A/B testing": the topic of that name sits below "interleaving" by its one vector; its
    # tokens hold the query's tokens verbatim, so MaxSim puts it first among the two
    def position(hits, item_id):
        return ids(hits).index(item_id)

    assert engine.rankings("A/B testing")["keyword_gated"], "the query's words are found: it is reranked"
    before = without_rerank.search("A/B testing", k=10)
    after = engine.search("A/B testing", k=10)
    assert position(before, "interleaving") < position(before, "ab-testing")
    assert position(after, "ab-testing") < position(after, "interleaving")
    assert engine.index.tokens is not None
    positions = [engine.position[i] for i in ("ab-testing", "interleaving")]
    _, tokens = engine.query_encoder.encode_query_tokens("A/B testing")
    maxsim = engine.index.tokens.maxsim(tokens, positions)
    assert maxsim[0] > maxsim[1]
    scores = [h.score for h in after]
    assert scores == sorted(scores, reverse=True) and scores[0] <= 1.0


@pytest.mark.parametrize("query", ["pitting two variants against each other on separate slices of the audience",
                                   "suggestions for someone who just signed up"])
def test_a_paraphrase_whose_words_no_item_holds_is_not_reranked(engine, without_rerank, query):
    # no keyword hit passes the gate: MaxSim, which rewards shared surface words, is left out
    assert engine.rankings(query)["keyword_gated"] == []
    assert [(h.id, h.score) for h in engine.search(query, k=20)] == [
        (h.id, h.score) for h in without_rerank.search(query, k=20)]


@pytest.mark.parametrize("mode", ["semantic", "keyword"])
@pytest.mark.parametrize("query", ["A/B testing", "cold start", "Netflix artwork", "news feed ranking"])
def test_semantic_and_keyword_modes_are_not_reranked_or_boosted(engine, without_rerank, mode, query):
    hits = engine.search(query, k=20, mode=mode)
    assert [(h.id, h.score) for h in hits] == [(h.id, h.score) for h in without_rerank.search(query, k=20, mode=mode)]
    if mode == "semantic":  # plain cosine order, the named company's items not lifted
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_query_naming_a_company_finds_the_company(engine, corpus):
    assert engine.named_companies("Netflix artwork personalization") == ["Netflix"]
    assert engine.named_companies("what does meta do with feeds") == ["Facebook"]  # an alias
    assert engine.named_companies("Amazon's recommendations and LinkedIn's feed") == ["AWS", "LinkedIn"]
    assert engine.named_companies("netflixing all weekend") == []  # whole words only
    assert engine.named_companies("cold start") == []


DELIVERY_LIST = """title,url,company,year,tags,summary
Predicting delivery ETAs for food orders,https://dd.example/eta,DoorDash,2022,eta;prediction,"How we predict the ETA of a food delivery order with gradient boosted trees and real-time signals."
Estimating when the courier arrives,https://dd.example/courier,DoorDash,2021,eta;logistics,"ETA prediction for couriers from store to door at DoorDash."
DeepETA: arrival times for rides,https://uber.example/deepeta,Uber,2022,eta;transformers,"Uber's arrival time estimates for trips with a transformer over road segments."
Surge pricing for rides,https://uber.example/surge,Uber,2020,pricing,"Dynamic prices balance rider demand and driver supply in real time."
"""


@pytest.fixture
def delivery_engine(home, tmp_path, embedder):
    """The bundled data plus a small imported list where DoorDash's ETA posts say "ETA prediction"
    more plainly than Uber's one."""
    from mlsd import import_source, load_corpus
    from mlsd.search import open_engine

    listing = tmp_path / "delivery.csv"
    listing.write_text(DELIVERY_LIST, encoding="utf-8")
    import_source(str(listing), embedder=embedder)
    return open_engine(load_corpus(), embedder)


def test_a_company_named_in_the_query_ranks_its_item_first(delivery_engine):
    import mlsd.search

    engine = delivery_engine
    query = "Uber ETA prediction"
    assert engine.named_companies(query) == ["Uber"]
    # by meaning alone, DoorDash's posts come first: the case the boost is for
    semantic = engine.search(query, k=5, mode="semantic")
    assert semantic[0].company == "DoorDash"
    hybrid = engine.search(query, k=5)
    assert hybrid[0].company == "Uber" and hybrid[0].url == "https://uber.example/deepeta"
    # without the boost the same engine would not: the boost, not something else, decides it
    saved = mlsd.search.COMPANY_BOOST
    try:
        mlsd.search.COMPANY_BOOST = 0.0
        assert engine.search(query, k=5)[0].company == "DoorDash"
    finally:
        mlsd.search.COMPANY_BOOST = saved
    # a filter that leaves the company out leaves nothing to boost
    assert all(h.company == "DoorDash" for h in engine.search(query, k=3, filters=Filters(companies=["DoorDash"])))
