"""Journeys people made that crashed the app, replayed in a real browser as they made them.

Each test walks like a user (sidebar links, the Home search box, Back and Forward) against a
real `streamlit run` over its own MLSD_HOME, and after every move checks the page holds no
exception and no Python object printed instead of rendered (see ``tests.browser.page_problems``).
"""

from __future__ import annotations

import pytest

from tests.browser import page_problems, settle, shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def loaded(page) -> None:
    """Settled after a page load (a fresh server answers its first page with two runs)."""
    settle(page, quiet=1.0)


def assert_fine(page, after: str) -> None:
    problems = page_problems(page)
    if problems:
        shoot(page, "journey-" + "".join(c if c.isalnum() else "-" for c in after.lower())[:60])
    assert not problems, f"after {after} ({page.url}):\n" + "\n".join(problems)


def sidebar(page, name: str) -> None:
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=name, exact=True).click()
    settle(page)


def search_from_home(page, text: str) -> None:
    box = page.get_by_placeholder("e.g. cold start", exact=False)
    box.fill(text)
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    settle(page)


def result_titles(page) -> list[str]:
    return page.locator("[class*=st-key-hit_] strong").all_inner_texts()


def test_searching_from_home_a_second_time_shows_results(own_server, page):
    page.goto(own_server)
    loaded(page)
    search_from_home(page, "cold start")
    assert_fine(page, "a search from Home")
    assert "Cold start problem" in result_titles(page)

    sidebar(page, "Home")
    assert_fine(page, "Home from the sidebar")
    search_from_home(page, "pagerank")
    assert_fine(page, "a second search from Home")
    assert "Intro to PageRank" in result_titles(page)


def test_a_search_link_keeps_its_query_after_a_visit_to_companies(own_server, page):
    page.goto(f"{own_server}/search?q=cold+start")
    loaded(page)
    assert_fine(page, "opening /search?q=cold+start")
    sidebar(page, "Companies")
    assert_fine(page, "Companies from the sidebar")

    sidebar(page, "Search")
    assert_fine(page, "Search from the sidebar, coming back from Companies")
    assert page.get_by_placeholder("e.g. cold start", exact=False).input_value() == "cold start"
    assert "Cold start problem" in result_titles(page)


def test_back_and_forward_between_a_search_and_companies(own_server, page):
    page.goto(f"{own_server}/search?q=cold+start")
    loaded(page)
    sidebar(page, "Companies")

    page.go_back()
    loaded(page)
    problems = page_problems(page)
    if "q=cold+start" not in page.url and "q=cold%20start" not in page.url:
        problems.append(f"Back lost the query: {page.url}")
    elif "Cold start problem" not in result_titles(page):
        problems.append(f"Back shows no results for the query: {result_titles(page)}")
    if problems:
        shoot(page, "journey-back-to-search")
    assert not problems, "after Back from Companies to the search:\n" + "\n".join(problems)

    page.go_forward()
    loaded(page)
    assert "/companies" in page.url, page.url
    assert_fine(page, "Forward to Companies again")


def test_the_practice_summary_shows_the_notes_and_no_python_objects(own_server, page):
    page.goto(f"{own_server}/practice")
    loaded(page)
    page.get_by_role("button", name="Start the interview").click()
    page.get_by_text("Step 1 of 7: Problem formulation").wait_for()
    settle(page)

    box = page.get_by_label("Notes for Problem formulation", exact=True)
    box.click()
    box.press_sequentially("Goal: more watch time; users are logged in.", delay=10)
    status = box.locator("xpath=following-sibling::div[contains(@class, 'mlsd-status')]")
    status.get_by_text("Saved", exact=True).wait_for()  # sent half a second after the last key
    settle(page)

    page.get_by_role("button", name="Finish", exact=True).click()
    page.get_by_text("Summary: Design a video recommendation system").wait_for()
    settle(page)
    assert "Goal: more watch time; users are logged in." in page.inner_text("body")
    assert_fine(page, "Finish")
