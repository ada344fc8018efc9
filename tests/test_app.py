"""Every page through Streamlit's AppTest: no exception, widgets by key, URL state, errors shown."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = ["pages/home.py", "pages/flow.py", "pages/search.py", "pages/companies.py", "pages/topics.py", "pages/map.py",
         "pages/library.py", "pages/practice.py", "pages/progress.py"]
APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 180  # the first page that needs the engine waits for the model to load


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    if page != "pages/home.py":
        at.switch_page(page)
    return at.run()


def unescape(markdown: str) -> str:
    """Markdown source as the reader sees its characters: backslash escapes and the invisible
    word joiners that keep addresses from turning into links removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def texts(at: AppTest) -> str:
    """All markdown, captions, headers and alerts of the page, as one string (escapes removed)."""
    parts = []
    for kind in ("markdown", "caption", "header", "subheader", "title", "info", "error"):
        parts.extend(unescape(str(e.value)) for e in getattr(at, kind))
    parts.extend(unescape(link.proto.label) for link in at.get("page_link"))
    return "\n".join(parts)


def hit_meta_lines(at: AppTest) -> list[str]:
    """The meta line (type · company · kind · year) of every search result card."""
    lines = []
    for md in at.markdown:
        value = str(md.value)
        if value.startswith(":material/") and "**" in value and ":gray[" in value:
            lines.append(value.split(":gray[", 1)[1])
    return lines


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page, pages_home):
    at = open_page(page)
    assert not at.exception, at.exception
    assert at.title, f"{page} shows no title"


def test_home_lists_flow_topics_and_counts(pages_home, corpus):
    at = open_page("pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Flow steps"] == "7"
    assert metrics["Case studies & resources"] == str(len(corpus.resources))
    assert metrics["Topics"] == str(len(corpus.topics))


def test_a_query_in_the_url_renders_results(pages_home):
    at = open_page("pages/search.py", q="cold start")
    assert at.text_input(key="q").value == "cold start"
    assert "Cold start problem" in texts(at)
    assert "results" in texts(at)


def test_typing_a_query_renders_results(pages_home):
    at = open_page("pages/search.py")
    assert "Type what you are thinking about" in texts(at)
    at.text_input(key="q").input("pagerank").run()
    assert not at.exception
    assert "Intro to PageRank" in texts(at)


def test_company_filter_leaves_only_that_company(pages_home):
    at = open_page("pages/search.py", q="recommendation")
    assert any("Netflix" not in line for line in hit_meta_lines(at)), "the unfiltered results should mix companies"
    at.multiselect(key="company").set_value(["Netflix"]).run()
    lines = hit_meta_lines(at)
    assert lines and all("Netflix" in line for line in lines), lines


def test_no_results_gets_a_helpful_message(pages_home):
    at = open_page("pages/search.py", q="pagerank", mode="keyword", company="Netflix")
    assert not at.exception
    assert any("No results" in str(i.value) for i in at.info)


def test_url_parameters_prefill_widgets(pages_home):
    at = open_page("pages/search.py", q="feed", company="Facebook", mode="keyword", type="resource", topic="ads-and-ranking")
    assert at.text_input(key="q").value == "feed"
    assert at.multiselect(key="company").value == ["Facebook"]
    assert at.multiselect(key="type").value == ["resource"]
    assert at.multiselect(key="topic").value == ["ads-and-ranking"]
    lines = hit_meta_lines(at)
    assert lines and all("Facebook" in line for line in lines)


def test_unknown_url_values_are_ignored_with_a_notice(pages_home):
    at = open_page("pages/search.py", q="cold start", topic="no-such-topic", type="planet")
    assert not at.exception
    notice = " ".join(unescape(str(i.value)) for i in at.info)
    assert "topic=no-such-topic" in notice and "type=planet" in notice
    assert "Cold start problem" in texts(at)


def test_companies_page_filters_the_table(pages_home):
    at = open_page("pages/companies.py", company="Netflix")
    assert at.multiselect(key="company").value == ["Netflix"]
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table["company"]) == {"Netflix"}
    at.multiselect(key="company").set_value(["LinkedIn", "AWS"]).run()
    assert set(at.dataframe[0].value["company"]) == {"LinkedIn", "AWS"}


def test_topic_selection_shows_path_and_related_items(pages_home):
    at = open_page("pages/topics.py")
    at.selectbox(key="topic").set_value("cold-start").run()
    page = texts(at)
    assert "Cold start problem" in page
    assert "Recommendation systems" in page  # its path
    assert "Related case studies" in page
    assert "Recommending items to more than a billion people" in page or "Netflix" in page


def test_topic_in_the_url_selects_it(pages_home):
    at = open_page("pages/topics.py", topic="pagerank")
    assert at.selectbox(key="topic").value == "pagerank"
    assert "Intro to PageRank" in texts(at)


def test_flow_step_in_the_url_selects_it(pages_home):
    at = open_page("pages/flow.py", step="scaling-monitoring")
    page = texts(at)
    assert "7. Scaling, monitoring and updates" in page
    assert "A/B test and deployment" in page and "Control and test groups" in page


def test_a_data_error_is_a_message_not_a_crash(pages_home, tmp_path, monkeypatch):
    import mlsd.paths

    broken = tmp_path / "data"
    shutil.copytree(mlsd.paths.DATA_DIR, broken)
    text = (broken / "resources.yaml").read_text(encoding="utf-8")
    (broken / "resources.yaml").write_text(text.replace("kind: slides", "kind: deck", 1), encoding="utf-8")
    monkeypatch.setattr(mlsd.paths, "DATA_DIR", broken)
    at = open_page("pages/companies.py")
    assert not at.exception
    message = " ".join(unescape(str(e.value)) for e in at.error)
    assert "data/resources.yaml" in message and "field 'kind' is 'deck'" in message


def test_text_from_data_is_escaped_not_rendered():
    from ui.render import md_escape

    hostile = "<script>alert(1)</script> [click](javascript:alert(1)) **bold** $x$ :red[x]"
    escaped = md_escape(hostile)
    for raw in ("<script>", "[click](", "**bold**", "$x$", ":red["):
        assert raw not in escaped
    assert escaped.replace("\\", "") == hostile


def test_links_from_data_cannot_break_out_of_markdown():
    from ui.render import md_link

    link = md_link("Foo [bar]", "https://en.wikipedia.org/wiki/Foo_(bar) x")
    assert link == "[Foo \\[bar\\]](https://en.wikipedia.org/wiki/Foo_%28bar%29%20x)"


def test_dead_links_get_a_badge_and_can_be_hidden(pages_home, corpus):
    from mlsd.linkstore import LinkStatus, LinkStore

    dead = corpus.resource_by_id["google-intro-to-pagerank"].url
    LinkStore().put_many([LinkStatus(dead, "dead", 404, dead, (), "404 Not Found", "2026-11-27T00:00:00+00:00")])
    at = open_page("pages/search.py", q="pagerank")
    page = texts(at)
    assert "Intro to PageRank" in page and "dead link" in page and "web.archive.org" in page
    at.toggle(key="hide_dead").set_value(True).run()
    assert "Intro to PageRank" not in texts(at)
    assert "The algorithm that started Google" in texts(at)

    companies = open_page("pages/companies.py", company="Google")
    table = companies.dataframe[0].value
    row = table[table["url"] == dead].iloc[0]
    assert row["link"] == "dead" and row["archive"].startswith("https://web.archive.org/web/*/")
    assert set(table[table["url"] != dead]["link"]) == {"unchecked"}
    companies.toggle(key="companies_hide_dead").set_value(True).run()
    assert dead not in set(companies.dataframe[0].value["url"])


# -- reading progress and practice (issue 6) -------------------------------------------------------
@pytest.fixture
def progress_home(pages_home):
    """The progress database of the page tests' MLSD_HOME."""
    from mlsd.progress import ProgressStore

    return ProgressStore(pages_home / "progress.db")


def test_marking_a_search_result_read_saves_it_and_unread_only_hides_it(corpus, progress_home):
    at = open_page("pages/search.py", q="pagerank")
    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    at.checkbox(key=f"search_read_{resource.id}").check().run()
    assert not at.exception, at.exception
    assert progress_home.reading(resource).read
    assert "Intro to PageRank" in texts(at)
    at.segmented_control(key="show").set_value("unread").run()
    assert "Intro to PageRank" not in texts(at)
    assert "The algorithm that started Google" in texts(at)
    assert "unread" in at.query_params["show"]


def test_bookmarked_only_search_and_a_note_from_the_topic_view(corpus, progress_home):
    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    progress_home.set_bookmark(resource)
    at = open_page("pages/search.py", q="pagerank", show="bookmarked")
    titles = [line for line in hit_meta_lines(at)]
    assert len(titles) == 1 and "Intro to PageRank" in texts(at), titles

    topic = open_page("pages/topics.py", topic="cold-start")
    related = [k for k in (w.key for w in topic.checkbox) if k.startswith("topics_read_")]
    assert related, "the topic view offers read marks on its related case studies"
    first_id = related[0].removeprefix("topics_read_")
    topic.text_area(key=f"topics_note_{first_id}").input("Read the part on exploration").run()
    assert progress_home.reading(corpus.resource_by_id[first_id]).note == "Read the part on exploration"


def test_companies_table_shows_progress_and_filters_unread(corpus, progress_home):
    netflix = [r for r in corpus.resources if r.company == "netflix"]
    progress_home.set_read(netflix[0])
    progress_home.set_bookmark(netflix[1])
    at = open_page("pages/companies.py", company="Netflix")
    assert not at.exception, at.exception
    assert f"{len(netflix)} resources from Netflix" in texts(at)
    at.segmented_control(key="companies_show").set_value("unread").run()
    assert f"{len(netflix) - 1} resources from Netflix" in texts(at)
    at.segmented_control(key="companies_show").set_value("bookmarked").run()
    assert "1 resources from Netflix" in texts(at)


def test_progress_page_counts_reads_and_suggests_unread_material(corpus, progress_home):
    read = corpus.resource_by_id["google-intro-to-pagerank"]
    progress_home.set_read(read)
    progress_home.set_note(read, "great intro")
    at = open_page("pages/progress.py")
    assert not at.exception, at.exception
    assert at.metric[0].value == f"1 of {len(corpus.resources)}"
    by_company = at.dataframe[0].value
    google = by_company[by_company["name"] == "Google"].iloc[0]
    assert (google["read"], google["resources"]) == (1, sum(r.company == "google" for r in corpus.resources))
    at.selectbox(key="progress_next_for").set_value("pagerank").run()
    page = texts(at)
    assert "great intro" in page  # the Notes tab
    suggested = [k.removeprefix("next_read_") for k in (w.key for w in at.checkbox) if k.startswith("next_read_")]
    assert suggested and read.id not in suggested
    assert "the-algorithm-that-started-google" in suggested or any("pagerank" in s for s in suggested), suggested


def test_practice_page_shows_a_session_with_steps_budgets_and_checklists(corpus, progress_home):
    sid = progress_home.start_session("Design a video recommendation system", 60, corpus.steps[0].id,
                                      "q-video-recommendations")
    progress_home.save_step_note(sid, corpus.steps[0].id, "watch time is the goal")
    progress_home.move_to(sid, corpus.steps[1].id)
    at = open_page("pages/practice.py", session=str(sid))
    assert not at.exception, at.exception
    page = texts(at)
    assert "Step 2 of 7: ML metrics (offline and online)" in page
    assert "Imbalanced data?" in page  # the step's checklist
    labels = [b.label for b in at.button if b.key and b.key.startswith("go_")]
    assert len(labels) == 7 and "of 6:40" in labels[0], labels  # 5 of 45 minutes, scaled to 60
    assert "✓" in labels[0]  # step 1 has notes


def test_practice_page_lists_past_sessions_and_explains_unknown_ones(corpus, progress_home):
    sid = progress_home.start_session("Design a spam filter", 45, corpus.steps[0].id)
    progress_home.finish(sid)
    at = open_page("pages/practice.py")
    assert "Design a spam filter" in texts(at) and "finished" in texts(at)
    at = open_page("pages/practice.py", session="999")
    assert "There is no practice session 999" in texts(at)
    at = open_page("pages/practice.py", session=str(sid))
    assert "Summary: Design a spam filter" in texts(at)


def test_a_damaged_progress_database_is_a_message_and_search_still_works(progress_home):
    progress_home.path.write_bytes(b"this is not a database" * 100)
    at = open_page("pages/search.py", q="pagerank")
    assert not at.exception, at.exception
    assert "Intro to PageRank" in texts(at)
    assert any("damaged" in str(w.value) for w in at.warning)
    practice = open_page("pages/practice.py")
    assert not practice.exception and "cannot be used right now" in texts(practice)


# -- results a user can trust (issue 11) -------------------------------------------------------------
def test_an_off_topic_query_says_nothing_fits_and_marks_results_weak(engine):
    at = open_page("pages/search.py", q="banana bread recipe")
    assert not at.exception
    notice = " ".join(unescape(str(i.value)) for i in at.info)
    assert "Nothing in your library is about “banana bread recipe”" in notice
    badges = [str(m.value) for m in at.markdown if "match]" in str(m.value) or "related]" in str(m.value)]
    assert badges and all("weak match" in b for b in badges), badges
    assert any(link.proto.page.endswith("library") for link in at.get("page_link"))


def test_an_on_topic_query_shows_a_strong_match_and_no_notice(engine):
    at = open_page("pages/search.py", q="cold start")
    assert not any("Nothing in your library" in str(i.value) for i in at.info)
    badges = [str(m.value) for m in at.markdown if "match]" in str(m.value) or "related]" in str(m.value)]
    assert badges[0] == ":green-badge[strong match]"


def test_a_year_range_keeps_undated_items_and_lives_in_the_url(pages_home):
    at = open_page("pages/search.py", q="recommendation", company="Netflix", years="1990-2030")
    assert not at.exception
    assert at.slider(key="years").value == (min(r.year for r in load_bundled().resources if r.year),
                                            max(r.year for r in load_bundled().resources if r.year))
    lines = hit_meta_lines(at)
    assert lines and all("Netflix" in line for line in lines)
    assert any(not re.search(r"(19|20)\d\d", line) for line in lines), "Netflix items without a year are kept"
    at.checkbox(key="undated").check().run()
    assert at.query_params["undated"] in ("hide", ["hide"])
    assert all(re.search(r"(19|20)\d\d", line) for line in hit_meta_lines(at))
    at.slider(key="years").set_value((2015, 2017)).run()
    assert at.query_params["years"] in ("2015-2017", ["2015-2017"])


def load_bundled():
    from mlsd.corpus import load_corpus

    return load_corpus()


def test_topics_steps_and_questions_in_results_open_their_views(pages_home):
    at = open_page("pages/search.py", q="cold start", k="20")
    links = {(link.proto.page, link.proto.label) for link in at.get("page_link")}
    assert any(page.endswith("topics") and "Cold start problem" in label for page, label in links), links
    at = open_page("pages/topics.py", topic="cold-start")
    pages = {link.proto.page for link in at.get("page_link")}
    assert any(p.endswith("practice") for p in pages), "sample questions link to practice"
    assert any(p.endswith("flow") for p in pages), "related flow steps link to the flow"


def test_practice_takes_a_question_from_the_url_and_survives_absurd_session_numbers(progress_home):
    at = open_page("pages/practice.py", question="q-feature-store")
    assert not at.exception
    assert at.selectbox(key="question").value == "q-feature-store"
    at = open_page("pages/practice.py", session="99999999999999999999999")
    assert not at.exception
    assert any("is not a session number" in unescape(str(i.value)) for i in at.info)


def test_a_click_that_cannot_be_saved_is_undone_and_said(corpus, progress_home, monkeypatch):
    """Another program holds the database: the box goes back to unticked and the page says so."""
    import sqlite3

    import mlsd.progress

    monkeypatch.setattr(mlsd.progress, "BUSY_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(mlsd.progress, "BUSY_DEADLINE_SECONDS", 0.5)  # and give up after half a second
    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    progress_home.migrate()
    at = open_page("pages/search.py", q="pagerank")
    holder = sqlite3.connect(progress_home.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        at.checkbox(key=f"search_read_{resource.id}").check().run()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not at.exception
    assert at.checkbox(key=f"search_read_{resource.id}").value is False
    assert any("Your change was not saved" in unescape(str(e.value)) for e in at.error)
    assert progress_home.reading(resource) is None
    at.checkbox(key=f"search_read_{resource.id}").check().run()  # free again: saved
    assert progress_home.reading(resource).read
    assert at.checkbox(key=f"search_read_{resource.id}").value is True


def test_a_saved_click_stays_ticked_while_the_database_cannot_be_read(corpus, progress_home, monkeypatch):
    """A click is saved, then another program locks the file just before the page reads progress
    back: the page shows the last progress read (from before the click) and must not untick the box."""
    import sqlite3

    import mlsd.progress

    monkeypatch.setattr(mlsd.progress, "BUSY_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(mlsd.progress, "BUSY_DEADLINE_SECONDS", 0.5)
    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    progress_home.migrate()
    holder = sqlite3.connect(progress_home.path, isolation_level=None, check_same_thread=False)
    read_all = mlsd.progress.ProgressStore.all_reading

    def lock_then_read(self):  # a real lock, taken by another connection, then the real read
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE reading SET note = note WHERE 0")
        holder.execute("COMMIT")  # in exclusive locking mode the lock stays until the connection closes
        return read_all(self)

    at = open_page("pages/search.py", q="pagerank")
    monkeypatch.setattr(mlsd.progress.ProgressStore, "all_reading", lock_then_read)
    try:
        at.checkbox(key=f"search_bookmark_{resource.id}").check().run()
        assert not at.exception
        assert any("Reading progress is unavailable" in unescape(str(w.value)) for w in at.warning)
        assert at.checkbox(key=f"search_bookmark_{resource.id}").value is True
    finally:
        holder.close()
        monkeypatch.setattr(mlsd.progress.ProgressStore, "all_reading", read_all)
    assert progress_home.reading(resource).bookmarked
    at.run()  # readable again: the page follows the database, which holds the click
    assert at.checkbox(key=f"search_bookmark_{resource.id}").value is True
    assert not at.warning


def test_a_stale_value_echoed_after_another_tabs_click_does_not_undo_it(corpus, progress_home):
    """Another tab bookmarks an item; this page follows the database on its next run. The browser,
    which has not drawn that yet, sends the old value back with the following rerun: that echo must
    not unsave the other tab's click (seen with two tabs). A real untick after that is saved."""
    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    key = f"search_bookmark_{resource.id}"
    at = open_page("pages/search.py", q="pagerank")
    assert at.checkbox(key=key).value is False
    progress_home.set_bookmark(resource)  # the other tab
    at.run()
    assert at.checkbox(key=key).value is True  # followed the database
    at.checkbox(key=key).uncheck().run()  # the echo: the value the browser last drew
    assert progress_home.reading(resource).bookmarked
    assert at.checkbox(key=key).value is True
    at.checkbox(key=key).uncheck().run()  # the user, who now sees it ticked, unticks it
    assert not progress_home.reading(resource).bookmarked
    assert at.checkbox(key=key).value is False


def test_an_echo_after_the_following_run_was_interrupted_before_drawing_the_box_is_not_saved(corpus, progress_home):
    """A rerun can stop the run that moved a box to the database's value before that run drew
    the box: the browser never got the new value and sends its old one with a later rerun, whose
    callback still has the arguments of the older run that drew the box. That is an echo too (the
    remaining lost bookmark of the two-tab contention test, issue #10)."""
    from ui.render import _FOLLOWED, _SHOWN

    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    key = f"search_bookmark_{resource.id}"
    at = open_page("pages/search.py", q="pagerank")
    assert at.checkbox(key=key).value is False
    progress_home.set_bookmark(resource)  # the other tab
    # What the interrupted run left: the box followed the database, and was not drawn.
    at.session_state[key] = True
    at.session_state[_SHOWN] = {**at.session_state[_SHOWN], key: True}
    at.session_state[_FOLLOWED] = {key: (False, True, None, False)}
    at.checkbox(key=key).uncheck().run()  # the browser's old value, with the next rerun
    assert not at.exception, at.exception
    assert progress_home.reading(resource).bookmarked, "the echo undid the other tab's bookmark"
    assert at.checkbox(key=key).value is True
    at.run()  # a quiet run: the box stays as the database says
    assert at.checkbox(key=key).value is True and progress_home.reading(resource).bookmarked
    at.checkbox(key=key).uncheck().run()  # now the user, who sees it ticked, unticks it
    assert not progress_home.reading(resource).bookmarked
    assert at.checkbox(key=key).value is False


def test_an_echo_that_arrives_without_its_callback_is_not_saved_either(corpus, progress_home):
    """The same echo, when Streamlit takes the browser's old value without calling the widget's
    callback (seen in a failing contention run's log): the next run finds the old value in the box
    and must not save it as a change the user made."""
    from ui.render import _FOLLOWED, _SHOWN

    resource = corpus.resource_by_id["google-intro-to-pagerank"]
    key = f"search_bookmark_{resource.id}"
    at = open_page("pages/search.py", q="pagerank")
    progress_home.set_bookmark(resource)  # the other tab
    # The box followed the database (not drawn yet), then the browser's old value came back.
    at.session_state[key] = False
    at.session_state[_SHOWN] = {**at.session_state[_SHOWN], key: True}
    at.session_state[_FOLLOWED] = {key: (False, True, None, False)}
    at.run()
    assert not at.exception, at.exception
    assert progress_home.reading(resource).bookmarked, "the echo undid the other tab's bookmark"
    assert at.checkbox(key=key).value is True
    at.checkbox(key=key).uncheck().run()  # the user, who sees it ticked, unticks it
    assert not progress_home.reading(resource).bookmarked


# -- practice that teaches: hints, sketch, self-score, attempts ---------------------------------------
def feature_store_session(store, corpus, finished: bool = False, now: float | None = None) -> int:
    question = corpus.question_by_id["q-feature-store"]
    sid = store.start_session(question.title, 45, corpus.steps[0].id, question.id, now=now)
    if finished:
        store.finish(sid, now=None if now is None else now + 600)
    return sid


def test_a_hint_is_revealed_on_request_and_recorded(corpus, progress_home):
    question = corpus.question_by_id["q-feature-store"]
    sid = feature_store_session(progress_home, corpus)
    progress_home.move_to(sid, "data-pipeline")
    at = open_page("pages/practice.py", session=str(sid))
    first, second = question.hints_for("data-pipeline")
    assert first not in texts(at) and "**Hints** · 0 of 2 shown" in texts(at)
    assert question.outline[0] not in texts(at)  # the outline waits for the end
    at.button(key="hint_data-pipeline").click().run()
    assert not at.exception, at.exception
    assert progress_home.session(sid).revealed("data-pipeline") == (1,)
    assert first in texts(at) and second not in texts(at)
    assert at.button(key="hint_data-pipeline").label == "Show another hint"
    at.button(key="hint_data-pipeline").click().run()
    assert second in texts(at) and progress_home.session(sid).revealed("data-pipeline") == (1, 2)
    assert not [b for b in at.button if b.key == "hint_data-pipeline"]  # all shown: no more button


def test_own_questions_have_no_hints_and_the_sketch_is_drawn_or_explained(corpus, progress_home):
    sid = progress_home.start_session("Design **bold** <img src=x onerror=alert(1)>", 45, corpus.steps[0].id)
    progress_home.save_sketch(sid, 'client -> <b>api</b> -> "ranker": top 500')
    at = open_page("pages/practice.py", session=str(sid))
    assert not at.exception, at.exception
    assert "Hints ·" not in texts(at)
    assert "Design **bold** <img src=x onerror=alert(1)>" in texts(at)  # shown as text
    charts = at.get("graphviz_chart")
    assert len(charts) == 1 and '[label="<b>api</b>"]' in charts[0].proto.spec
    progress_home.save_sketch(sid, "digraph {\n a -> \n}")
    at = open_page("pages/practice.py", session=str(sid))
    assert not at.exception and not at.get("graphviz_chart")
    assert any("Line 3: expected a component name" in unescape(str(w.value)) for w in at.warning)


def test_the_summary_takes_self_scores_and_shows_them_beside_the_time(corpus, progress_home):
    question = corpus.question_by_id["q-feature-store"]
    sid = feature_store_session(progress_home, corpus, finished=True)
    progress_home.save_step_note(sid, "ml-metrics", "p99 latency and freshness lag")
    progress_home.save_sketch(sid, "client -> api -> online store: features")
    at = open_page("pages/practice.py", session=str(sid))
    assert not at.exception, at.exception
    page = texts(at)
    assert "Summary: Design a feature store for real-time ML" in page
    assert "No self-score yet" in page and "p99 latency and freshness lag" in [t.value for t in at.text]
    assert question.outline[0] in page and question.pitfalls[0] in page and question.follow_ups[0] in page
    assert len(at.get("graphviz_chart")) == 1 and "client -> api -> online store: features" in at.code[0].value
    for criterion, value in (("offline-metric", 2), ("online-metric", 1), ("guardrail-metrics", 0)):
        at.segmented_control(key=f"score_{sid}_ml-metrics_{criterion}").set_value(value).run()
        assert not at.exception, at.exception
    assert progress_home.session(sid).scores == {"ml-metrics/offline-metric": 2, "ml-metrics/online-metric": 1,
                                                 "ml-metrics/guardrail-metrics": 0}
    table = [unescape(str(m.value)) for m in at.markdown if str(m.value).startswith("| Step | Time")][0]
    assert "| 2. ML metrics (offline and online) | 0:00\u00a0/\u00a05:00 | 3/6 (50%) | Adds guardrail metrics |" in table
    score = [m for m in at.metric if m.label == "Self-score (points)"][0]
    assert (score.value, score.proto.delta) == ("3 of 6", "50%")
    at.segmented_control(key=f"score_{sid}_ml-metrics_guardrail-metrics").set_value(None).run()
    assert "ml-metrics/guardrail-metrics" not in progress_home.session(sid).scores


def test_a_second_attempt_shows_the_trend_and_the_start_page_groups_and_suggests(corpus, progress_home):
    first = feature_store_session(progress_home, corpus, finished=True, now=1_800_000_000.0)
    second = feature_store_session(progress_home, corpus, finished=True, now=1_800_010_000.0)
    for sid, value in ((first, 0), (second, 1)):
        for criterion in corpus.rubric.criteria("training"):
            progress_home.set_score(sid, "training", criterion.id, value)
        for criterion in corpus.rubric.criteria("inference"):
            progress_home.set_score(sid, "inference", criterion.id, 2)
    progress_home.start_session("My own question", 30, corpus.steps[0].id)
    at = open_page("pages/practice.py", session=str(second))
    assert "Your attempts at this question" in texts(at)
    trend = [c.proto.spec for c in at.get("plotly_chart") if "Self-score (%)" in c.proto.spec]
    assert len(trend) == 1 and '"x":[1,2]' in trend[0].replace(" ", ""), trend

    at = open_page("pages/practice.py")
    assert not at.exception, at.exception
    page = texts(at)
    assert "Your attempts, by question" in page and "2 attempts" in page and "1 attempt" in page
    assert "Practise your weakest step: 5. Training" in page and "25%" in page
    links = [link.proto for link in at.get("page_link") if link.proto.label == "Practise this question"]
    exercising = [q.id for q in corpus.questions if "training" in q.steps and q.id != "q-feature-store"]
    assert links and exercising[0] in links[0].query_string, links


def test_deleting_a_session_asks_first_and_keeps_everything_else(corpus, progress_home):
    keep = feature_store_session(progress_home, corpus, finished=True)
    drop = feature_store_session(progress_home, corpus, finished=True)
    progress_home.set_score(drop, "training", "realistic-splits", 2)
    progress_home.set_read(corpus.resources[0])
    at = open_page("pages/practice.py")
    assert f"delete_{drop}" in [b.key for b in at.button]  # inside its confirmation popover
    at.button(key=f"delete_{drop}").click().run()
    assert not at.exception, at.exception
    assert [s.id for s in progress_home.sessions()] == [keep]
    assert progress_home.reading(corpus.resources[0]).read
    assert any("The session was deleted" in str(s.value) for s in at.success)
    # From the summary of the session itself: back to the list.
    at = open_page("pages/practice.py", session=str(keep))
    at.button(key="practice_delete").click().run()
    assert not at.exception and progress_home.sessions() == [] and "session" not in at.query_params


def test_a_query_naming_a_company_offers_a_chip_that_sets_the_company_filter(pages_home):
    at = open_page("pages/search.py", q="netflix recommendation", k="20")
    assert at.multiselect(key="company").value == []
    assert any("Netflix" not in line for line in hit_meta_lines(at)), "unfiltered, other companies' items show too"
    chip = at.button(key="only_company_0")
    assert chip.label == "Only Netflix"
    chip.click().run()
    assert not at.exception
    assert at.multiselect(key="company").value == ["Netflix"]
    assert at.query_params["company"] in ("Netflix", ["Netflix"])  # the URL says it: a shareable link
    assert at.query_params["q"] in ("netflix recommendation", ["netflix recommendation"])
    lines = hit_meta_lines(at)
    assert lines and all("Netflix" in line for line in lines), lines
    assert not [b for b in at.button if b.key and b.key.startswith("only_company_")], "the filter holds it: no chip"


def test_a_query_naming_no_company_offers_no_chip(pages_home):
    at = open_page("pages/search.py", q="cold start")
    assert not [b for b in at.button if b.key and b.key.startswith("only_company_")]
