"""Real-browser journeys: headless Debian Chromium (Playwright) against a real `streamlit run`.

Screenshots of every page land in `screenshots/` (ignored by git) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import ROOT, SHOTS, serve, shoot, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(engine, mlsd_home):
    """`streamlit run app.py` on a free port, over the session's MLSD_HOME (index already built)."""
    yield from serve(mlsd_home)


def result_titles(page) -> list[str]:
    return page.locator("[class*=st-key-hit_] strong").all_inner_texts()


def test_typing_cold_start_and_enter_shows_the_topic_and_recommendation_case_studies(server, page):
    # The server's very first request is for a page, not the home: it must still get the
    # app's navigation, not Streamlit's listing of pages/ files.
    # (Streamlit first runs pages/search.py alone; the app reruns it through app.py within a second.)
    page.goto(f"{server}/search")
    page.locator("[data-testid=stSidebarNav]").get_by_text("Design flow").wait_for(timeout=20_000)
    wait_idle(page)
    nav = page.locator("[data-testid=stSidebarNav]").inner_text()
    assert "Design flow" in nav and "common" not in nav, nav
    box = page.get_by_placeholder("e.g. cold start", exact=False)
    box.fill("cold start")
    box.press("Enter")
    page.get_by_text("Cold start problem").first.wait_for()
    wait_idle(page)
    titles = result_titles(page)
    assert titles[0] == "Cold start problem", titles
    # The top hit is a topic: its related case studies are shown open, and they are about recommendation.
    related = page.locator(".st-key-hit_1 [data-testid=stExpanderDetails]").inner_text()
    assert "Recommend" in related or "recommend" in related, related
    assert "q=cold+start" in page.url or "q=cold%20start" in page.url  # the query lives in the URL
    shoot(page, "search-cold-start")


def test_home_search_box_takes_the_user_to_search(server, page):
    page.goto(server)
    wait_idle(page)
    shoot(page, "home")
    box = page.get_by_placeholder("e.g. cold start", exact=False)
    box.fill("predicting ad clicks")
    box.press("Enter")
    page.wait_for_url("**/search?q=predicting*")
    page.get_by_text("CTR prediction").first.wait_for()


def test_companies_link_lists_only_netflix(server, page, corpus):
    page.goto(f"{server}/companies?company=Netflix")
    wait_idle(page)
    page.locator("[data-testid=stDataFrame] [role=gridcell]").first.wait_for(state="attached")
    cells = page.locator("[data-testid=stDataFrame] [role=gridcell]").all_inner_texts()
    # The Title column draws each title as its link; its cells for assistive technology hold the link.
    netflix = [r.url for r in corpus.resources if r.company == "netflix"]
    others = [r.url for r in corpus.resources if r.company != "netflix"]
    assert all(url in cells for url in netflix)
    assert not any(url in cells for url in others)
    assert f"{len(netflix)} resources from Netflix" in page.inner_text("body")
    shoot(page, "companies-netflix")


def test_search_link_shows_results_without_typing(server, page):
    page.goto(f"{server}/search?q=pagerank")
    page.get_by_text("Intro to PageRank").first.wait_for()
    wait_idle(page)
    titles = result_titles(page)
    assert {"Intro to PageRank", "The algorithm that started Google"} <= set(titles[:5]), titles
    shoot(page, "search-pagerank")


def test_a_folded_related_list_is_built_when_opened_and_survives_back_and_forward(server, page):
    # Folded lists are not sent with the results (a fresh server's first search sent ~600
    # elements); opening one reruns the page, which fills it.
    page.goto(f"{server}/search?q=pagerank")
    page.get_by_text("Intro to PageRank").first.wait_for()
    wait_idle(page)
    second = page.locator(".st-key-hit_2")
    assert second.locator("[data-testid=stExpanderDetails] a").count() == 0  # folded, so not built
    second.get_by_text("Related case studies").click()
    second.locator("[data-testid=stExpanderDetails] a").first.wait_for()
    wait_idle(page)
    titles = second.locator("[data-testid=stExpanderDetails] a").all_inner_texts()
    assert titles, "the opened list shows case studies"
    # Folding it again and opening another card's list works too; then Back and Forward.
    second.get_by_text("Related case studies").click()
    wait_idle(page)
    page.locator(".st-key-hit_3").get_by_text("Related case studies").click()
    page.locator(".st-key-hit_3 [data-testid=stExpanderDetails] a").first.wait_for()
    wait_idle(page)
    page.goto(f"{server}/search?q=cold+start")
    page.get_by_text("Cold start problem").first.wait_for()
    page.go_back()
    page.get_by_text("Intro to PageRank").first.wait_for()
    wait_idle(page)
    page.go_forward()
    page.get_by_text("Cold start problem").first.wait_for()
    wait_idle(page)
    assert page.locator("[data-testid=stException]").count() == 0
    assert "Recommend" in page.locator(".st-key-hit_1 [data-testid=stExpanderDetails]").inner_text().title()
    shoot(page, "search-related-opened")


@pytest.mark.parametrize("path,name,expected", [
    ("/flow?step=training", "flow", "5. Training"),
    ("/topics?topic=cold-start", "topics", "Related case studies"),
    ("/map", "map", "Map of everything"),
    ("/search?q=feed&company=Facebook&mode=keyword", "search-feed-facebook", "Filters: company: Facebook"),
])
def test_every_page_renders_in_the_browser(server, page, path, name, expected):
    page.goto(server + path)
    page.get_by_text(expected).first.wait_for()
    wait_idle(page)
    assert "Traceback" not in page.inner_text("body")
    shoot(page, name)


@pytest.fixture
def list_server():
    """A real HTTP server on 127.0.0.1 serving the import fixtures."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(ROOT / "tests" / "fixtures" / "import"))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_library_page_imports_a_list_and_search_finds_it(own_server, list_server, page):
    page.goto(f"{own_server}/library")
    page.get_by_text("Known public lists").first.wait_for()
    box = page.get_by_placeholder("https://…/case_studies.csv")
    box.fill(f"{list_server}/missing.csv")
    box.press("Enter")
    wait_idle(page)
    page.locator(".st-key-import_list button").click()
    page.get_by_text("Import failed, nothing was changed: 404").first.wait_for()
    wait_idle(page)
    box.fill(f"{list_server}/cases.csv")
    box.press("Enter")
    wait_idle(page)
    page.locator(".st-key-import_list button").click()
    page.get_by_text("new items into 'cases'").first.wait_for(timeout=120_000)
    wait_idle(page)
    shoot(page, "library")
    page.goto(f"{own_server}/search?q=ranking+recipes+for+weeknight+cooks")
    page.get_by_text("Ranking Recipes for Weeknight Cooks").first.wait_for()
    assert "from cases" in page.inner_text("body")


def notes_box(page, step: str):
    """The notes box of one step (while the page switches steps, the old box lingers a moment)."""
    return page.get_by_label(f"Notes for {step}", exact=True)


def type_notes(page, step: str, text: str) -> None:
    """Type like a person, then wait for the autosave (half a second after the last key) to land."""
    box = notes_box(page, step)
    box.click()
    box.press_sequentially(text, delay=15)
    status = box.locator("xpath=following-sibling::div[contains(@class, 'mlsd-status')]")
    status.get_by_text("Saved", exact=True).wait_for()  # sent: the rerun that saves it follows
    page.wait_for_timeout(300)
    wait_idle(page)


def test_practice_session_keeps_notes_of_two_steps_across_a_reload(own_server, page):
    page.goto(f"{own_server}/practice")
    page.get_by_text("Suggested time per step").wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Start the interview").click()
    page.get_by_text("Step 1 of 7: Problem formulation").wait_for()
    wait_idle(page)
    assert "session=" in page.url
    clock = page.locator(".mlsd-clock .big")
    first = clock.inner_text()
    assert first.endswith("left"), first
    page.wait_for_timeout(2_100)
    assert clock.inner_text() != first, "the countdown ticks in the browser"

    type_notes(page, "Problem formulation", "Goal: more watch time; users are logged in.")
    page.get_by_role("button", name="ML metrics (offline and online) →").click()
    page.get_by_text("Step 2 of 7: ML metrics").wait_for()
    wait_idle(page)
    assert notes_box(page, "ML metrics (offline and online)").input_value() == ""
    type_notes(page, "ML metrics (offline and online)", "Offline: recall@50 and nDCG; online: watch time per user.")
    # No blur, no button: reload right after typing.
    page.reload()
    page.get_by_text("Step 2 of 7: ML metrics").wait_for()
    wait_idle(page)
    assert notes_box(page, "ML metrics (offline and online)").input_value() == \
        "Offline: recall@50 and nDCG; online: watch time per user."
    page.get_by_role("button", name="1. Problem formulation").click()
    page.get_by_text("Step 1 of 7: Problem formulation").wait_for()
    wait_idle(page)
    assert notes_box(page, "Problem formulation").input_value() == "Goal: more watch time; users are logged in."
    shoot(page, "practice-session")

    page.get_by_role("button", name="Finish", exact=True).click()
    page.get_by_text("Summary: Design a video recommendation system").wait_for()
    wait_idle(page)
    body = page.inner_text("body")
    assert "Goal: more watch time" in body and "Offline: recall@50" in body
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as Markdown").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith("# Mock interview: Design a video recommendation system")
    assert "| 1. Problem formulation |" in markdown and "Offline: recall@50" in markdown
    shoot(page, "practice-summary")

    page.goto(f"{own_server}/practice")
    page.get_by_text("Your attempts, by question").wait_for()
    wait_idle(page)
    assert "finished" in page.inner_text("body")


def test_marking_a_case_study_read_from_search_shows_it_under_read(own_server, page):
    page.goto(f"{own_server}/search?q=pagerank")
    page.get_by_text("Intro to PageRank").first.wait_for()
    wait_idle(page)
    page.locator(".st-key-search_read_google-intro-to-pagerank label").click()
    wait_idle(page)
    title = "Intro to PageRank"
    page.goto(f"{own_server}/progress")
    page.get_by_text("Case studies read").wait_for()
    wait_idle(page)
    assert "1 of 50" in page.inner_text("body")
    page.get_by_role("tab", name="Read (1)").click()
    page.wait_for_timeout(300)
    tabs = page.locator("[data-testid=stTabs]").inner_text()
    assert title in tabs and "Nothing read yet" not in tabs, tabs
    shoot(page, "progress")


# -- practice that teaches: hints, a sketch, self-scores, attempts ---------------------------------------
def wait_for_rerun(page, locator) -> None:
    """Wait for an element the next rerun draws, then for the run to end (wait_idle alone can
    return before a slow rerun has started)."""
    locator.first.wait_for()
    wait_idle(page)


def session_id(page) -> str:
    return page.url.split("session=")[1].split("&")[0]


def start_feature_store_session(page, server: str) -> str:
    page.goto(f"{server}/practice?question=q-feature-store")
    page.get_by_text("Suggested time per step").wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Start the interview").click()
    wait_for_rerun(page, page.get_by_text("Step 1 of 7: Problem formulation"))
    return session_id(page)


def score_step(page, sid: str, step: str, criteria: dict[str, str]) -> None:
    """Give each criterion of a step its score ("Missed", "Partly" or "Covered")."""
    for criterion, label in criteria.items():
        # .first: while a rerun moves elements, Streamlit briefly keeps the old copy beside the new.
        control = page.locator(f".st-key-score_{sid}_{step}_{criterion}").first
        control.get_by_role("radio", name=label, exact=True).click()
        control.locator("[role=radio][aria-checked=true]").get_by_text(label, exact=True).first.wait_for()
        wait_idle(page)


def test_practice_teaches_hints_sketch_self_score_and_attempts(own_server, page, corpus):
    question = corpus.question_by_id["q-feature-store"]
    # No internet: anything but the app's own server is refused, so the diagram must draw offline.
    outside: list[str] = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(own_server)
               else (outside.append(route.request.url), route.abort()))
    sid = start_feature_store_session(page, own_server)

    # A hint, on request; it stays revealed.
    first_hint = question.hints_for("problem-formulation")[0]
    assert first_hint not in page.inner_text("body")
    # .first: a button with a tooltip is drawn twice (one copy only measures the label).
    page.locator(".st-key-hint_problem-formulation button").first.click()
    wait_for_rerun(page, page.locator(".st-key-hints_problem-formulation").get_by_text(first_hint[:40]))
    type_notes(page, "Problem formulation", "Users: feature authors and serving teams; p99 read under 10 ms.")

    # A sketch in the line syntax, drawn as the user types (no internet needed).
    sketch = page.get_by_label("Design sketch", exact=True)
    sketch.click()
    sketch.press_sequentially("client -> api -> ranker: top 500", delay=10)
    sketch.press("Enter")
    sketch.press_sequentially("api -> feature store", delay=10)
    diagram = page.locator(".st-key-sketch_diagram svg")
    diagram.get_by_text("feature store").first.wait_for()
    wait_idle(page)
    assert diagram.get_by_text("top 500").count() == 1
    shoot(page, "practice-hint-and-sketch")

    # Finish, then score against the rubric: the summary shows the score beside the time.
    page.get_by_role("button", name="Finish", exact=True).click()
    wait_for_rerun(page, page.get_by_text("Summary: Design a feature store for real-time ML"))
    assert question.outline[0] in page.inner_text("body")  # the outline, only now
    assert page.locator(".st-key-summary_sketch svg").get_by_text("feature store").count() == 1
    score_step(page, sid, "problem-formulation", {"business-goal": "Covered", "scale-and-constraints": "Covered",
                                                   "ml-task-framing": "Partly", "ml-or-not": "Missed",
                                                   "risks-and-requirements": "Missed"})
    table = page.locator(".st-key-score_table")
    table.get_by_text("5/10 (50%)").first.wait_for()
    wait_idle(page)
    missed = table.inner_text()
    assert "Justifies ML over rules and weighs impact against cost" in missed
    assert "Raises error costs, privacy, fairness and abuse early" in missed
    assert "5 of 10" in page.locator("[data-testid=stMetric]").all_inner_texts()[1]
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as Markdown").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Users: feature authors and serving teams" in markdown
    assert "```text\nclient -> api -> ranker: top 500\napi -> feature store\n```" in markdown
    assert "- Self-score: 5 of 10 points (50%)" in markdown and "- Missed: Justifies ML over rules" in markdown
    assert f"Hints revealed:\n- {first_hint}" in markdown
    shoot(page, "practice-summary-scored")
    table.screenshot(path=str(SHOTS / "practice-summary-score-table.png"))
    page.locator(".st-key-summary_sketch").screenshot(path=str(SHOTS / "practice-summary-sketch.png"))

    # A second attempt at the same question: the trend of score and time over attempts.
    second = start_feature_store_session(page, own_server)
    assert second != sid
    page.get_by_role("button", name="Finish", exact=True).click()
    wait_for_rerun(page, page.get_by_text("Summary: Design a feature store for real-time ML"))
    score_step(page, second, "problem-formulation", {"business-goal": "Covered", "scale-and-constraints": "Covered",
                                                      "ml-task-framing": "Covered", "ml-or-not": "Partly",
                                                      "risks-and-requirements": "Missed"})
    chart = page.locator(".st-key-attempts_chart")
    chart.locator(".js-plotly-plot").first.wait_for()
    wait_idle(page)
    assert "Your attempts at this question" in page.inner_text("body")
    chart.scroll_into_view_if_needed()
    chart.screenshot(path=str(SHOTS / "practice-attempts-chart.png"))
    shoot(page, "practice-summary-second-attempt")

    # All sessions: grouped by question, with the weakest step to practise next.
    page.goto(f"{own_server}/practice")
    page.get_by_text("Your attempts, by question").wait_for()
    wait_idle(page)
    body = page.inner_text("body")
    assert "2 attempts" in body and "Practise your weakest step" in body
    shoot(page, "practice-start-with-attempts")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{own_server}/practice?session={second}")
    page.locator(".st-key-attempts_chart .js-plotly-plot").first.wait_for()
    wait_idle(page, sidebar=False)
    shoot(page, "practice-summary-phone")
    page.locator(".st-key-score_table").screenshot(path=str(SHOTS / "practice-summary-score-table-phone.png"))
    page.locator(".st-key-attempts_chart").screenshot(path=str(SHOTS / "practice-attempts-chart-phone.png"))
    assert "Traceback" not in page.inner_text("body") and not page.locator("[data-testid=stException]").count()
    # Only the tab's icon is asked of the internet: Streamlit fetches app.py's page_icon
    # (:material/hub:) from Google Fonts; offline the tab just has no icon.
    assert [url for url in outside if "/materialsymbolsrounded/hub/" not in url] == [], outside
