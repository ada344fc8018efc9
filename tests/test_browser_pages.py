"""Real-browser journeys on the Companies, Map and Progress pages, over an imported list.

The server runs on a copy of the fixture home of ``test_pages_map_companies_progress`` (the
bundled data plus 40 invented case studies, indexed with the ``HashingEmbedder``): what these
journeys check is clicking, typing, layout and escaping, not what the model understands.
Screenshots land in ``screenshots/`` for a person to look at.
"""

from __future__ import annotations

import csv
import shutil
from urllib.parse import quote

import pytest

import tests.test_pages_map_companies_progress as fixtures
from tests.browser import serve, shoot, wait_idle
from tests.test_pages_map_companies_progress import HOSTILE, LIST_NAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The fixtures this module shares with those two (a fixture is found by its name in the module).
imported_library = fixtures.imported_library


@pytest.fixture
def imported_server(imported_library, tmp_path):
    """`streamlit run` over a fresh copy of the imported home, with the HashingEmbedder."""
    home = tmp_path / "home"
    shutil.copytree(imported_library, home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSD_EMBEDDER", "hashing")
        yield from serve(home)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def visit(page, url: str, title: str) -> None:
    """Open a page and wait until its script has run through the app (the title is drawn).

    A fresh server's first request runs the page outside app.py's navigation for a moment.
    """
    page.goto(url)
    page.get_by_role("heading", name=title).first.wait_for()
    settle(page)


def settle(page) -> None:
    """Like ``wait_idle``, for a phone too (its sidebar is collapsed)."""
    page.wait_for_selector("h1")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSpinner]')"
        " && !document.querySelector('[data-testid=stSkeleton]')"
    )
    page.wait_for_timeout(800)


def chosen_companies(page) -> list[str]:
    """The companies the filter holds, as its tags read (the label's line left out)."""
    lines = page.locator(".st-key-company").inner_text().splitlines()
    return [line.strip() for line in lines[1:] if line.strip()]


def test_typing_uber_and_enter_selects_only_uber(imported_server, page):
    visit(page, f"{imported_server}/companies", "Company case studies")
    box = page.locator(".st-key-company input")
    box.fill("uber")
    page.wait_for_timeout(300)
    offered = page.locator("[role=option]").all_inner_texts()
    assert offered and all("uber" in o.casefold() for o in offered), offered
    assert not any("Max Planck" in o for o in offered), offered
    box.press("Enter")
    wait_idle(page)
    chosen = chosen_companies(page)
    assert len(chosen) == 1 and chosen[0].startswith("Uber ("), chosen
    assert "company=Uber" in page.url
    body = page.inner_text("body")
    assert "4 resources from Uber" in body, body[:500]


def test_typing_meta_finds_facebook_and_the_title_is_the_link(imported_server, page):
    visit(page, f"{imported_server}/companies", "Company case studies")
    box = page.locator(".st-key-company input")
    box.fill("meta")
    page.wait_for_timeout(300)
    offered = page.locator("[role=option]").all_inner_texts()
    assert offered[0].startswith("Facebook") and "Meta" in offered[0], offered
    box.press("Enter")
    wait_idle(page)
    assert "company=Facebook" in page.url
    grid = page.locator(".st-key-companies_wide [data-testid=stDataFrame]")
    grid.locator("[role=gridcell]").first.wait_for(state="attached")
    cells = grid.locator("[role=gridcell]").all_inner_texts()
    # The grid draws on a canvas (the link column draws each title, see the screenshot); its
    # cells for assistive technology hold the links themselves, and there is no title column.
    links = [c for c in cells if c.startswith("https://")]
    assert links and all(c.startswith(("https://", "false", "true")) or c in ("Facebook", "") or len(c) > 40
                         or c.isdigit() for c in cells), cells
    headers = grid.locator("[role=columnheader]").all_inner_texts()
    assert "Archive" not in " ".join(headers) and "Summary" in " ".join(headers), headers
    assert page.locator(".st-key-companies_narrow").is_hidden()
    shoot(page, "companies-facebook-desktop")


def test_companies_on_a_phone_are_cards_with_links_and_read_marks(imported_server, phone):
    visit(phone, f"{imported_server}/companies?company=DoorDash", "Company case studies")
    assert phone.locator(".st-key-companies_wide").is_hidden()
    cards = phone.locator(".st-key-companies_narrow")
    assert cards.is_visible()
    link = cards.get_by_role("link", name="Dasher Assignment With Batched Matching")
    assert link.get_attribute("href") == "https://eng.doordash.example/dasher-assignment"
    box = link.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # on screen, no sideways scrolling
    card = cards.locator("[class*=st-key-companies_card_imp-]").first
    card.locator("label").filter(has_text="Read").click()
    settle(phone)
    shoot(phone, "companies-doordash-phone")
    visit(phone, f"{imported_server}/progress", "Reading progress")
    assert "1 of 40" in phone.inner_text("body")


def chart_drawn(page) -> None:
    """Wait until Plotly has drawn the map (it loads after the page's script has run)."""
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullLayout?.xaxis?.l2p")
    page.wait_for_timeout(500)


def test_the_csv_download_cannot_run_formulas_in_a_spreadsheet(imported_server, page):
    visit(page, f"{imported_server}/companies?company=Sheetly", "Company case studies")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download these rows (CSV)").click()
    rows = list(csv.DictReader(open(download.value.path(), encoding="utf-8")))
    assert len(rows) == 1
    assert rows[0]["title"] == "'=HYPERLINK(\"https://evil.example/x\",\"Click me\")"
    assert rows[0]["summary"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["url"] == "https://sheetly.example/formula"


def point_position(page, item_id: str) -> tuple[float, float]:
    """Where a point of the map is on the screen, from Plotly's own axes."""
    chart_drawn(page)
    return page.evaluate(
        """(id) => {
            const plot = document.querySelector('.js-plotly-plot');
            const layout = plot._fullLayout;
            for (const trace of plot._fullData) {
                const n = trace.customdata.findIndex(c => c[0] === id);
                if (n >= 0) {
                    const box = plot.querySelector('.nsewdrag').getBoundingClientRect();
                    return [box.left + layout.xaxis.l2p(trace.x[n]), box.top + layout.yaxis.l2p(trace.y[n])];
                }
            }
            return null;
        }""",
        item_id,
    )


def test_clicking_a_topic_on_the_map_opens_the_topic(imported_server, page):
    visit(page, f"{imported_server}/map?type=topic", "Map of everything")
    x, y = point_position(page, "cold-start")
    page.mouse.click(x, y)
    page.wait_for_url("**/topics?topic=cold-start")
    page.get_by_text("Cold start problem").first.wait_for()


def test_clicking_a_case_study_on_the_map_opens_it_and_the_legend_is_text(imported_server, page):
    companies = "&".join(f"company={quote(c)}" for c in (HOSTILE, "<b>Bold</b> Labs", "Uber"))
    visit(page, f"{imported_server}/map?color=company&source={LIST_NAME}&{companies}", "Map of everything")
    chart_drawn(page)
    legend = page.locator(".js-plotly-plot .legend").text_content()
    assert HOSTILE in legend and "<b>Bold</b> Labs" in legend, legend  # shown as the characters they are
    assert page.locator(".js-plotly-plot .legend a").count() == 0
    assert page.locator(".js-plotly-plot .legend b").count() == 0
    shoot(page, "map-imported-by-company")
    item = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                         ".flatMap(t => t.customdata).find(c => c[1] === 'Michelangelo Feature Store')[0]")
    x, y = point_position(page, item)
    page.mouse.click(x, y)
    opened = page.locator(".st-key-map_opened")
    opened.wait_for()
    wait_idle(page)
    assert "Michelangelo Feature Store" in opened.inner_text()
    assert opened.get_by_role("link", name="Open the case study").get_attribute("href") == \
        "https://eng.uber.example/michelangelo"
    shoot(page, "map-opened-case-study")


def test_map_by_topic_on_a_phone(imported_server, phone):
    visit(phone, f"{imported_server}/map?color=topic", "Map of everything")
    chart_drawn(phone)
    legend = phone.locator(".js-plotly-plot .legend").text_content()
    assert "No topic yet" in legend and "Recommendation systems" in legend
    shoot(phone, "map-by-topic-phone")


def test_progress_with_an_imported_list(imported_server, page):
    visit(page, f"{imported_server}/progress", "Reading progress")
    page.get_by_text("From the core list").wait_for()  # the suggestions come last: they need the index
    settle(page)
    body = page.inner_text("body")
    assert "Core case studies read" in body and "From your imported lists" in body
    assert "From the core list" in body  # read next with nothing read yet
    assert "nan" not in body.split("What to read next")[0]
    shoot(page, "progress-imported")
