"""Every page in a real browser with hostile values in it (issue #10.2): an imported list whose
titles, companies and summaries carry Markdown links, images, HTML and spreadsheet formulas,
hostile URL parameters on every page, and notes and a practice question written the same way.

What must hold on every page: no traceback; no link, image or frame that points at one of the
hostile hosts; no request leaves for them (a tracker image that loads is a request); no text from
the data turns bold; and the CSV a user downloads has no cell a spreadsheet would run.

The server runs with the HashingEmbedder over its own MLSD_HOME: what is checked here is what the
page shows and fetches, not what the model understands.
"""

from __future__ import annotations

import csv
import io
import shutil
from urllib.parse import quote, urlsplit

import pytest

from tests.browser import PHONE, page_problems, serve, settle, shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BAD_HOSTS = ("phish.example", "tracker.example", "evil.example")
LINK = "[Click to re-login](https://phish.example/login)"
IMAGE = "![t](https://tracker.example/p.png)"
HTML_LINK = '<a href="https://evil.example/co">EvilCo</a>'
HTML_IMAGE = '<img src="https://tracker.example/i.png">'
FORMULA = '=HYPERLINK("https://phish.example/x","Open")'

# One column each for what a list supplies; every item's own URL is a plain, valid one.
ROWS = [
    {"title": f"Sign in again {LINK} {IMAGE}", "company": HTML_LINK, "summary": f"Cold start for new users {HTML_IMAGE}"},
    {"title": FORMULA, "company": "<b>Bold</b> Labs", "summary": "**Loud** ranking for search <script>alert(1)</script>"},
    {"title": "+cmd|' /C calc'!A0", "company": "@Acme", "summary": f"Feature store with drift alerts {LINK}"},
    {"title": "<i>Italic</i> two tower retrieval", "company": "Netflix", "summary": f"Candidate generation {IMAGE}"},
]
NOTE = f"My note {LINK} {HTML_IMAGE} **not bold**"
QUESTION = f"Design {LINK} {IMAGE} <b>feeds</b>"

# (path and query, what the page is) — hostile values in the URL of every page.
VISITS = [
    "/",
    f"/search?q={quote(LINK + ' ' + IMAGE)}&show=bookmarked",
    f"/search?q={quote('sign in again')}",
    f"/search?q={quote('cold start')}&company={quote(HTML_LINK)}",
    f"/companies?company={quote('[x](https://phish.example/)')}",
    f"/companies?company={quote(HTML_LINK)}&company={quote('<b>Bold</b> Labs')}",
    f"/topics?topic={quote('<script>alert(1)</script>')}",
    "/topics?topic=cold-start",
    f"/flow?step={quote(LINK)}",
    "/map?color=company",
    f"/map?color={quote(HTML_LINK)}&company={quote(HTML_LINK)}",
    f"/practice?question={quote('[x](https://phish.example/)')}",
    "/practice",
    "/progress",
    "/library",
]

JS_HOSTILE = r"""(bad) => {
  const found = [];
  const docs = [document, ...Array.from(document.querySelectorAll('iframe'))
    .map(f => { try { return f.contentDocument; } catch (e) { return null; } }).filter(Boolean)];
  for (const doc of docs) {
    for (const el of doc.querySelectorAll('[href], [src], [srcset], [action], [data], [poster]')) {
      for (const attr of ['href', 'src', 'srcset', 'action', 'data', 'poster']) {
        const value = el.getAttribute(attr) || '';
        if (bad.some(h => value.includes(h))) found.push(`${el.tagName} ${attr}=${value.slice(0, 80)}`);
      }
    }
    for (const el of doc.querySelectorAll('b, strong, i, em')) {
      const text = el.textContent || '';
      if (/^(Bold|Loud|not bold|Italic|feeds)$/.test(text.trim())) found.push(`${el.tagName} made "${text}" bold`);
    }
    if (doc.querySelector('script:not([src])') && Array.from(doc.querySelectorAll('script'))
        .some(s => (s.textContent || '').includes('alert(1)'))) found.push('an injected script element');
  }
  return found;
}"""


@pytest.fixture
def hostile_server(small_index, tmp_path):
    """A home with the bundled index, the hostile list imported, a hostile note and practice question."""
    from mlsd.corpus import load_corpus
    from mlsd.embed import HashingEmbedder
    from mlsd.library import import_source
    from mlsd.progress import ProgressStore

    home = tmp_path / "home"
    shutil.copytree(small_index / "index", home / "index")
    listing = tmp_path / "hostile.csv"
    with listing.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["title", "url", "company", "year", "summary"])
        writer.writeheader()
        for n, row in enumerate(ROWS, start=1):
            writer.writerow({**row, "url": f"https://list.example/case-{n}", "year": 2020 + n})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLSD_HOME", str(home))
        report = import_source(str(listing), name="hostile-list", embedder=HashingEmbedder())  # names are slugs
        assert report.new == len(ROWS), report
        corpus = load_corpus()
    store = ProgressStore(home / "progress.db")
    store.migrate()
    imported = [r for r in corpus.resources if r.url and "list.example" in r.url]
    assert len(imported) == len(ROWS)
    for resource in imported:
        store.set_read(resource)
        store.set_bookmark(resource)
        store.set_note(resource, NOTE)
    steps = [s.id for s in corpus.steps]
    session = store.start_session(QUESTION, 45, steps[0])
    store.save_step_note(session, steps[0], NOTE)
    store.finish(session)
    yield from serve(home, MLSD_EMBEDDER="hashing")


def check(page, where: str) -> list[str]:
    problems = [f"{where}: {p}" for p in page.evaluate(JS_HOSTILE, list(BAD_HOSTS))]
    return problems + [f"{where}: {p}" for p in page_problems(page)]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_page_shows_hostile_values_as_text(hostile_server, browser, viewport):
    size = {"desktop": {"width": 1400, "height": 1000}, "phone": PHONE}[viewport]
    context = browser.new_context(viewport=size, accept_downloads=True)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    try:
        for n, visit in enumerate(VISITS):
            page.goto(hostile_server + visit)
            settle(page, quiet=1.0)
            problems += check(page, visit)
            if viewport == "desktop" or n % 4 == 0:
                shoot(page, f"hostile-{viewport}-{n:02d}-{urlsplit(visit).path.strip('/') or 'home'}")
        # The practice summary of the finished session holds the question and the note.
        page.goto(f"{hostile_server}/practice?session=1")
        settle(page, quiet=1.0)
        problems += check(page, "/practice?session=1")
        shoot(page, f"hostile-{viewport}-practice-summary")
        assert "re-login" in page.inner_text("body"), "the hostile question should be shown, as text"

        # The CSV a user downloads: no cell a spreadsheet would run as a formula.
        page.goto(f"{hostile_server}/companies")
        settle(page, quiet=1.0)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download these rows (CSV)").click()
        rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
        cells = [cell for row in rows[1:] for cell in row]
        assert any("HYPERLINK" in cell for cell in cells), "the formula title should be in the export, quoted"
        risky = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not risky, risky
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    sent = [url for url in requested if any(host in urlsplit(url).netloc for host in BAD_HOSTS)]
    assert not sent, sent
