"""A seeded random walk through the app in a real browser, as a restless person would use it.

Each step picks, with fixed weights, one action among what the page currently shows: a sidebar
link, Back, Forward, reload, a hand-edited URL with hostile query parameters, typing (sometimes
hostile text, sometimes Enter, sometimes a reload right after), a button, a checkbox or toggle,
an option of a segmented control, radio, pills or select box, a tab, an expander, a slider, a
click on a chart or a table, a double-click. After every action the walker waits until the
script run is over (bounded: a page that never settles is a failure) and checks:

- no exception box (``stException``) on the page;
- no leaked object repr in the page's text (Streamlit "magic" writing a bare expression);
- no ``Traceback`` in the server's log (and the server still running).

The walk is deterministic for a seed: ``random.Random(seed)`` makes every choice, elements are
named by their widget key or their label and rank on the page, and the log records each
concrete action, so a failure can be replayed exactly from its seed (or from the saved log with
``--replay``).

Long walks (a server of their own over a temporary MLSD_HOME, index built once and cached in
``build/walk-index``)::

    .venv/bin/python -m tests.walk --seed 123 --steps 500 [--viewport phone]
    .venv/bin/python -m tests.walk --seeds 1-10 --steps 100 --viewport both --keep-going
    .venv/bin/python -m tests.walk --replay screenshots/walk-123-41.json
    make walk SEED=123 STEPS=500 VIEWPORT=phone

Nothing the walker does reaches the network: it never clicks "Check links" or a preset's
Import, types only dead local URLs (``http://127.0.0.1:1/...``) into the Library's import box,
runs the server with a dead proxy and the browser with every host but 127.0.0.1 unresolvable.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from tests.browser import DESKTOP, JS_BUSY, JS_CHECK, LEAKS, PHONE, ROOT, SHOTS, StreamlitServer, launch_chromium

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# The browser resolves no host but the app's own: a stray link never leaves the machine.
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"]
# The server reaches no host either (an import or a link check that slipped through fails fast).
OFFLINE_ENV = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

PAGES = ["Home", "Design flow", "Search", "Companies", "Topics", "Map", "Practice", "Progress", "Library"]

# How often each kind of action is chosen, among the kinds the page offers at that moment.
WEIGHTS = {
    "nav": 12, "link": 5, "back": 5, "forward": 3, "reload": 3, "goto": 7, "type": 14, "button": 14,
    "segment": 6, "checkbox": 6, "radio": 4, "select": 8, "tab": 3, "expander": 3, "slider": 2,
    "chart": 2, "grid": 3, "dblclick": 3, "escape": 1, "sidebar": 1,
}

# Actions that leave the page: less likely in a page's first DWELL actions.
LEAVING = ("nav", "link", "back", "forward", "goto")
DWELL = 3

# -- what gets typed ----------------------------------------------------------------------------
WORDS = ["cold start", "pagerank", "predicting ad clicks", "how does Netflix pick which picture to show",
         "feature store", "two tower retrieval", "fraud detection", "search ranking", "embeddings", "feed"]
HOSTILE = [
    "[x](https://phish.example/)", "<b>bold</b>", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "", "   ", "💥🔥 émoji ünïcode 漢字", "\u202eevil right-to-left", "' OR 1=1; DROP TABLE reading; --",
    "{{7*7}} ${7*7} %s %(x)s {0}", "$x^2$ :red[red] **bold** _it_", "a" * 3000, "\\", "***", "`code`",
    "# heading", "NEAR(cold start)", '"unclosed quote', "cold AND OR NOT", "*", "a\u0000b", "line one\nline two",
    "..", "../../etc/passwd", "None", "NaN", "-1", "99999999999999999999999", "cold start " * 60,
]
NUMBERS = ["15", "45", "120", "121", "14", "0", "-5", "30.5", "1e9", "99999999999999999999999", "", "abc"]
# The Library's import box fetches what it is given: only dead local addresses and missing files.
LIBRARY_URLS = ["http://127.0.0.1:1/x.csv", "http://127.0.0.1:1/list.md", "", "   ", "no-such-file.csv",
                "[x](http://127.0.0.1:1/)"]
NOTES_BOXES = ("mlsd-notes",)

# -- hand-edited URLs -----------------------------------------------------------------------------
FIXED_URLS = [
    "/search?q=cold+start&show=zzz&mode=&k=7", "/search?q=&show=", "/search?q=pagerank&show=bookmarked",
    "/search?q=cold+start", "/search?q=%5Bx%5D(https%3A%2F%2Fphish.example%2F)", "/search?q=%3Cb%3Ebold%3C%2Fb%3E",
    "/search?q=feed&company=Nope&company=Facebook&mode=keyword&k=99999999999999999999",
    "/search?type=zzz&kind=&step=nope&topic=cold-start&topic=cold-start", "/search?q=" + "a" * 2000,
    "/practice?session=99999999999999999999999", "/practice?session=", "/practice?session=-1",
    "/practice?session=1", "/practice?session=abc", "/practice?session=1&session=2",
    "/topics?topic=nope", "/topics?topic=", "/topics?topic=cold-start", "/topics?topic=%3Cb%3Ebold%3C%2Fb%3E",
    "/flow?step=", "/flow?step=training", "/flow?step=zzz&step=training",
    "/companies?company=Nope", "/companies?company=Netflix&company=Netflix",
    "/companies?company=%5Bx%5D(https%3A%2F%2Fphish.example%2F)", "/map", "/progress", "/library", "/",
    "/nope", "/?q=cold+start",
]
URL_PARAMS = {
    "": ["q"], "search": ["q", "mode", "k", "company", "type", "kind", "step", "topic", "show", "use_years"],
    "practice": ["session"], "topics": ["topic"], "flow": ["step"], "companies": ["company", "companies_show"],
    "map": ["map_color"], "progress": [], "library": ["library_url"],
}
GOOD_VALUES = {
    "q": ["cold start", "pagerank", "feed"], "mode": ["hybrid", "semantic", "keyword"], "k": ["5", "10", "20", "50"],
    "company": ["Netflix", "Google", "Facebook", "LinkedIn", "AWS"], "type": ["topic", "step", "question", "resource"],
    "kind": ["paper", "blog-post", "talk-video"], "step": ["training", "problem-formulation", "inference"],
    "topic": ["cold-start", "recommendation-systems", "nlp"], "show": ["all", "unread", "bookmarked"],
    "session": ["1", "2", "3"],
}
BAD_VALUES = ["", "zzz", "Nope", "99999999999999999999999", "-1", "0", "[x](https://phish.example/)", "<b>bold</b>",
              "%", "%25", "a" * 500, "💥", "None", "null", "1e308", " ", "true"]


# -- JavaScript run in the page -------------------------------------------------------------------
_JS_HELPERS = r"""
const deepAll = (sel, root = document) => {
  const out = Array.from(root.querySelectorAll(sel));
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) out.push(...deepAll(sel, el.shadowRoot));
  return out;
};
const closestDeep = (el, sel) => {
  while (el) {
    const hit = el.closest(sel);
    if (hit) return hit;
    const root = el.getRootNode();
    el = root && root.host ? root.host : null;
  }
  return null;
};
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().slice(0, 80);
const textOf = (el) => {
  if (!el) return '';
  const copy = el.cloneNode(true);
  copy.querySelectorAll('[data-testid=stIconMaterial], [data-testid=stTooltipIcon], svg').forEach(n => n.remove());
  return norm(copy.textContent);
};
const visible = (el) => {
  const r = el.getBoundingClientRect();
  if (r.width < 2 || r.height < 2) return false;
  if (r.right <= 1 || r.left >= innerWidth - 1) return false;  // off to the side: a closed sidebar
  // Also false inside a closed expander (a closed <details> keeps its content's boxes), and
  // behind a modal dialog (the page under it is inert).
  if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}) || closestDeep(el, '[inert]')) return false;
  // Not under something else (a phone's open sidebar covers most of the page).
  const x = r.left + r.width / 2, y = r.top + Math.min(r.height / 2, 10);
  const side = document.querySelector('[data-testid=stSidebar]');
  if (side && side.getAttribute('data-collapsed') !== 'true' && !side.contains(el) && innerWidth < 800) {
    const s = side.getBoundingClientRect();  // on a phone the open sidebar lies over the page
    if (x >= s.left && x <= s.right) return false;
  }
  if (y < 0 || y >= innerHeight) return true;  // off screen: scrolled to when used
  let top = document.elementFromPoint(x, y);
  while (top && top.shadowRoot && top.shadowRoot.elementFromPoint(x, y) && top.shadowRoot.elementFromPoint(x, y) !== top)
    top = top.shadowRoot.elementFromPoint(x, y);
  return !top || el.contains(top) || top.contains(el) || closestDeep(top, '[data-testid=stHeader]') !== null;
};
const keyOf = (el) => {
  const box = closestDeep(el, '[class*="st-key-"]');
  if (!box) return '';
  const k = Array.from(box.classList).find(c => c.startsWith('st-key-'));
  return k ? k.slice(7) : '';
};
const WIDGETS = ['stTextInput', 'stTextArea', 'stNumberInput', 'stSelectbox', 'stMultiSelect', 'stSlider',
                 'stCheckbox', 'stRadio', 'stDateInput', 'stButtonGroup'].map(t => `[data-testid=${t}]`).join(',');
const widgetLabel = (el) => {
  const box = closestDeep(el, WIDGETS);
  const lab = box && box.querySelector('[data-testid=stWidgetLabel]');
  return textOf(lab) || norm(el.getAttribute('aria-label')) || norm(el.getAttribute('placeholder')) || textOf(el);
};
const inside = (el, testids) => testids.some(t => closestDeep(el, `[data-testid=${t}]`));
// (A text box's clear button shows only while the box has focus: clicking it is a race.)
const NOT_BUTTONS = ['stTextInput', 'stHeader', 'stToolbar', 'stSidebarHeader', 'stButtonGroup', 'stSelectbox', 'stMultiSelect',
                     'stTooltipHoverTarget', 'stFileUploader', 'stDownloadButton', 'stDataFrame', 'stPlotlyChart',
                     'stException', 'stElementToolbar', 'stExpandSidebarButton', 'stSidebarCollapseButton',
                     'stSidebarNav'];
// Buttons that would reach the network.
const NETWORK_KEYS = (k) => k === 'check_links' || k.startsWith('preset_');
const KINDS = {
  link: () => deepAll('[data-testid=stMain] [data-testid=stPageLink] a, [data-testid=stSidebarUserContent] [data-testid=stPageLink] a')
    .map(el => [el, textOf(el)]),
  // (Plotly's notices fade out by themselves: their close button is a race too.)
  button: () => deepAll('button').filter(el => !el.disabled && !inside(el, NOT_BUTTONS) && !NETWORK_KEYS(keyOf(el))
                                          && !el.closest('.plotly-notifier'))
    .map(el => [el, textOf(el) || norm(el.getAttribute('aria-label'))]),
  nav: () => deepAll('[data-testid=stSidebarNav] a').map(el => [el, textOf(el)]),
  segment: () => deepAll('[data-testid=stButtonGroup] button')
    .filter(el => !el.disabled && textOf(el) && !inside(el, ['stTooltipHoverTarget']))
    .map(el => [el, widgetLabel(el) + ' = ' + textOf(el)]),
  checkbox: () => deepAll('[data-testid=stCheckbox] label').map(el => [el, textOf(el)]),
  radio: () => deepAll('[data-testid=stRadio] [role=radiogroup] label').map(el => [el, widgetLabel(el) + ' = ' + textOf(el)]),
  select: () => deepAll('[data-testid=stSelectbox], [data-testid=stMultiSelect]').map(el => [el, widgetLabel(el)]),
  type: () => deepAll('input[type=text], input[type=number], input[type=search], input:not([type]), textarea')
    .filter(el => !el.disabled && !el.readOnly && !inside(el, ['stSelectbox', 'stMultiSelect', 'stDataFrame', 'stFileUploader']))
    .map(el => [el, widgetLabel(el)]),
  tab: () => deepAll('[data-testid=stTabs] [role=tab]').map(el => [el, textOf(el)]),
  expander: () => deepAll('[data-testid=stExpander] summary').map(el => [el, textOf(el)]),
  slider: () => deepAll('[data-testid=stSlider] [role=slider]').map(el => [el, widgetLabel(el)]),
  chart: () => deepAll('[data-testid=stPlotlyChart]').map(el => [el, 'chart']),
  grid: () => deepAll('[data-testid=stDataFrame]').map(el => [el, 'table']),
};
const isPrimary = (el) => /primary/i.test(el.getAttribute('data-testid') || '') || el.getAttribute('kind') === 'primary';
// Each candidate is named by its widget key when that is unique, else by key, label and rank.
const candidates = (kind) => {
  // The sidebar's page links count even while a phone's sidebar is closed (the walker opens it).
  const raw = KINDS[kind]().filter(([el]) => kind === 'nav' || visible(el)).map(([el, label]) => ({el, key: keyOf(el), label}));
  const byKey = {}, byBoth = {};
  for (const c of raw) byKey[c.key] = (byKey[c.key] || 0) + 1;
  return raw.map(c => {
    if (c.key && byKey[c.key] === 1) return {el: c.el, id: {key: c.key}, label: c.label, primary: isPrimary(c.el)};
    const both = c.key + '\u0001' + c.label;
    const nth = byBoth[both] = (byBoth[both] === undefined ? 0 : byBoth[both] + 1);
    return {el: c.el, id: {key: c.key, label: c.label, nth}, label: c.label, primary: isPrimary(c.el)};
  });
};
"""

JS_COLLECT = "() => {" + _JS_HELPERS + r"""
  const out = {};
  for (const kind of Object.keys(KINDS).filter(k => k !== 'nav'))
    out[kind] = candidates(kind).map(c => ({id: c.id, label: c.label, primary: c.primary, number: c.el.type === 'number'}));
  const side = document.querySelector('[data-testid=stSidebar]');
  return {kinds: out, sidebarOpen: !!side && side.getAttribute('data-collapsed') !== 'true',
          dialog: !!Array.from(document.querySelectorAll('[role=dialog]')).find(visible)};
}"""

JS_MARK = "([kind, id, token]) => {" + _JS_HELPERS + r"""
  const want = JSON.stringify(id);
  const hit = candidates(kind).find(c => JSON.stringify(c.id) === want);
  if (!hit) return null;
  hit.el.setAttribute('data-walk-target', token);
  return hit.label;
}"""

# -- the walk --------------------------------------------------------------------------------------
@dataclass
class Failure:
    """One thing the walk found wrong, with what is needed to replay it."""

    seed: int | None
    viewport: str
    step: int
    reason: str
    detail: str
    url: str
    log: list[str]
    records: list[dict]
    screenshot: Path | None = None
    replay_file: Path | None = None
    start: str = "/"
    returning: bool = False

    @property
    def signature(self) -> str:
        """What makes two failures the same bug: the reason and where it was raised."""
        place = ""
        own = self.detail.split("\n\nThe server's log:")[0]  # an exception box's own trace first
        for line in reversed(own.splitlines()):
            # A plain traceback's `File "x.py", line 3`, or rich's `/path/x.py:3 in f`.
            m = re.search(r'File "([^"]+)", line (\d+)', line) or re.search(r"(/[^\s:]+\.py):(\d+) in ", line)
            if m and "site-packages" not in m.group(1):
                place = f"{Path(m.group(1)).name}:{m.group(2)}"
                break
        first = self.detail.strip().splitlines()[0] if self.detail.strip() else ""
        page = urlsplit(self.url).path or "/"
        if self.reason == "exception":
            return f"exception {first} at {place}"
        if self.reason == "leaked object":
            return f"leaked {first.split(' in the page text')[0]} on {page}"
        if self.reason == "server traceback":
            last = [line for line in self.detail.strip().splitlines() if line.strip()][-1:]
            return f"server traceback {last[0] if last else ''} at {place}"
        return f"{self.reason} on {page}"

    def report(self) -> str:
        command = "" if self.seed is None else (
            f".venv/bin/python -m tests.walk --seed {self.seed} --steps {self.step} --viewport {self.viewport}"
            + (f" --start '{self.start}'" if self.start != "/" else "") + (" --returning" if self.returning else ""))
        lines = [f"Walk failure: {self.reason} at step {self.step} (seed {self.seed}, {self.viewport}) on {self.url}",
                 self.detail.rstrip(), ""]
        if command:
            lines.append(f"Replay the walk up to this step: {command}")
        if self.replay_file:
            lines.append(f"Replay these exact actions: .venv/bin/python -m tests.walk --replay {self.replay_file}")
        if self.screenshot:
            lines.append(f"Screenshot: {self.screenshot}")
        lines.append("Action log:")
        lines += [f"  {line}" for line in self.log]
        return "\n".join(lines)


@dataclass
class WalkResult:
    seed: int | None
    viewport: str
    actions: int = 0
    skipped: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def report(self) -> str:
        head = (f"seed {self.seed} ({self.viewport}): {self.actions} actions ({self.skipped} skipped) "
                f"in {self.seconds:.0f} s, {len(self.failures)} failure(s)")
        return "\n\n".join([head, *(f.report() for f in self.failures)])


class Skip(Exception):
    """The action could not be done (its element went away, a dropdown closed): not a failure."""


class Walker:
    """Walks one browser tab over a running server.

    Args:
        browser: a Playwright browser (see ``launch_chromium``).
        server: the ``StreamlitServer`` (its log is checked after every action).
        seed: seeds every random choice; ``None`` only for replays.
        viewport: "desktop" or "phone".
        idle_timeout: seconds a script run may take before the walk calls it a hang.
        keep_going: after a failure, note it and go on in a fresh browser session (bug hunts);
            otherwise the walk stops at the first failure.
        echo: called with each log line as it happens (``print`` for the command line).
    """

    def __init__(self, browser, server: StreamlitServer, seed: int | None, viewport: str = "desktop",
                 idle_timeout: float = 90, keep_going: bool = False, shots: Path = SHOTS, echo=None,
                 start: str = "/", returning: bool = False) -> None:
        self.browser = browser
        self.server = server
        self.base = server.url
        self.seed = seed
        self.viewport = viewport
        self.rng = random.Random(seed)
        self.idle_timeout = idle_timeout
        self.keep_going = keep_going
        self.shots = shots
        self.echo = echo or (lambda line: None)
        self.start = start
        self.returning = returning  # the home holds a returning user's history (for replay commands)
        self.context = None
        self.page = None
        self.log: list[str] = []
        self.records: list[dict] = []
        self.page_errors: list[str] = []
        self.log_seen = 0
        self.token = 0
        self.tried: set[tuple[str, str, str]] = set()  # (page path, kind, element) already used
        self.path, self.dwell = "", 0  # the page's path, and how many actions it has had

    # -- browser session ------------------------------------------------------------------
    def open_session(self, path: str = "/") -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.browser.new_context(viewport=VIEWPORTS[self.viewport])
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.goto(self.base + path, wait_until="domcontentloaded", timeout=30_000)

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None

    # -- waiting ------------------------------------------------------------------------------------
    def evaluate(self, script: str, arg=None):
        """``page.evaluate``, retried while the page is between two documents."""
        from playwright.sync_api import Error

        for attempt in range(20):
            try:
                return self.page.evaluate(script, arg)
            except Error as exc:
                if attempt == 19 or not re.search(r"context was destroyed|navigat|Target page", str(exc)):
                    raise
                self.page.wait_for_timeout(250)

    def settle(self, quiet: float = 0.45) -> str:
        """Wait until the script run is over and the page stays idle for ``quiet`` seconds.

        Returns:
            "" when idle, else what the page was still doing when ``idle_timeout`` ran out.
        """
        self.page.wait_for_timeout(200)
        deadline = time.monotonic() + self.idle_timeout
        needed = max(1, round(quiet / 0.15))
        idle, busy = 0, "not checked"
        while idle < needed:
            if time.monotonic() > deadline:
                return busy
            busy = self.evaluate(JS_BUSY)
            idle = 0 if busy else idle + 1
            self.page.wait_for_timeout(150)
        return ""

    def check(self) -> list[tuple[str, str]]:
        """Everything wrong right now, as (reason, detail) pairs."""
        problems = []
        if not self.server.alive():
            problems.append(("server died", self.server.log_text()[-3000:]))
        state = self.evaluate(JS_CHECK)
        log = self.server.log_text()
        new, self.log_seen = plain(log[self.log_seen:]), len(log)
        server_trace = new[new.find("Traceback"):][:4000] if "Traceback" in new else ""
        for exc in state["exceptions"]:
            detail = "\n".join([exc["message"], *exc["trace"]])
            if server_trace:
                detail += "\n\nThe server's log:\n" + server_trace
            problems.append(("exception", detail))
        if server_trace and not state["exceptions"]:
            problems.append(("server traceback", server_trace))
        if not state["exceptions"]:
            text = state["text"]
            for marker in LEAKS:
                at = text.find(marker)
                if at >= 0:
                    problems.append(("leaked object", f"{marker!r} in the page text: …{text[max(0, at - 150):at + 250]}…"))
                    break
        if self.page_errors:
            problems.append(("browser error", "\n".join(self.page_errors)))
            self.page_errors = []
        return problems

    # -- choosing ---------------------------------------------------------------------------------
    def choose(self) -> dict:
        """The next action, picked among what the page offers."""
        state = self.evaluate(JS_COLLECT)
        kinds = {k: v for k, v in state["kinds"].items() if v}
        path = urlsplit(self.page.url).path
        if path != self.path:
            self.path, self.dwell = path, 0
        self.dwell += 1
        def fresh(kind: str, c: dict) -> bool:
            return (path, kind, json.dumps(c["id"], sort_keys=True)) not in self.tried
        offered = dict(WEIGHTS)
        # Like a person, try what has not been tried yet, and use a page a little before leaving it.
        for kind, found in kinds.items():
            if kind in offered and any(fresh(kind, c) for c in found):
                offered[kind] *= 2
        if self.dwell <= DWELL:
            for kind in LEAVING:
                offered[kind] *= 0.3
        for kind in ("link", "button", "segment", "checkbox", "radio", "select", "type", "tab", "expander",
                     "slider", "chart", "grid"):
            if kind not in kinds:
                offered.pop(kind)
        if not any(k in kinds for k in ("link", "button", "segment", "checkbox", "tab", "expander")):
            offered.pop("dblclick")
        if state["dialog"]:  # a modal: only what it holds, Escape, or the browser's own buttons
            offered["escape"] = 30
            for kind in ("nav", "type", "dblclick"):
                offered.pop(kind, None)
        names = sorted(offered)
        kind = self.rng.choices(names, weights=[offered[n] for n in names])[0]
        rng = self.rng
        if kind == "nav":
            return {"do": "nav", "page": rng.choice(PAGES)}
        if kind in ("back", "forward", "reload", "escape", "sidebar"):
            return {"do": kind}
        if kind == "goto":
            return {"do": "goto", "path": self.random_url()}
        if kind == "dblclick":
            target_kind = rng.choice([k for k in ("link", "button", "segment", "checkbox", "tab", "expander") if k in kinds])
            pick = rng.choice(kinds[target_kind])
            return {"do": "dblclick", "kind": target_kind, "id": pick["id"], "label": pick["label"]}
        # A person goes for the highlighted button, and for what they have not tried, more often.
        pick = rng.choices(kinds[kind], weights=[(3 if c.get("primary") else 1) * (4 if fresh(kind, c) else 1)
                                                 for c in kinds[kind]])[0]
        self.tried.add((path, kind, json.dumps(pick["id"], sort_keys=True)))
        record = {"do": kind, "id": pick["id"], "label": pick["label"]}
        if kind == "type":
            record.update(self.random_typing(pick))
        elif kind == "select":
            record["how"] = rng.choices(["option", "clear", "filter"], weights=[8, 1, 1])[0]
            record["pick"] = rng.random()
            if record["how"] == "filter":
                record["text"] = rng.choice(WORDS + HOSTILE[:12])
        elif kind == "slider":
            record["keys"] = [rng.choice(["ArrowRight", "ArrowLeft", "Home", "End", "PageUp", "PageDown"])
                              for _ in range(rng.randint(1, 3))]
        elif kind in ("chart", "grid"):
            record["at"] = [round(rng.uniform(0.05, 0.95), 3), round(rng.uniform(0.05, 0.95), 3)]
            if kind == "grid":
                record["how"] = rng.choices(["click", "edit"], weights=[1, 1])[0]
                record["text"] = rng.choice(["x", "my note", "<b>bold</b>", "[x](https://phish.example/)", ""])
        return record

    def random_typing(self, pick: dict) -> dict:
        rng, key, label = self.rng, pick["id"].get("key", ""), pick["label"]
        if key.startswith("library") or "url" in label.lower():  # never a real address: see LIBRARY_URLS
            text = rng.choice(LIBRARY_URLS)
        elif pick.get("number"):
            text = rng.choice(NUMBERS)
        else:
            text = rng.choice(WORDS) if rng.random() < 0.5 else rng.choice(HOSTILE)
        then = rng.choices(["enter", "none", "reload", "tab", "ctrl+enter"], weights=[5, 2, 2, 2, 1])[0]
        how = "fill" if len(text) > 60 or rng.random() < 0.6 else "keys"
        return {"text": text, "how": how, "then": then}

    def random_url(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return rng.choice(FIXED_URLS)
        page = rng.choice(sorted(URL_PARAMS))
        params = []
        for _ in range(rng.randint(0, 3)):
            if not URL_PARAMS[page]:
                break
            name = rng.choice(URL_PARAMS[page])
            good = GOOD_VALUES.get(name)
            value = rng.choice(good) if good and rng.random() < 0.5 else rng.choice(BAD_VALUES)
            params.append((name, value))
        query = urlencode(params, quote_via=quote) if rng.random() < 0.8 else "&".join(f"{n}={v}" for n, v in params)
        return f"/{page}" + (f"?{query}" if query else "")

    # -- doing -------------------------------------------------------------------------------------
    def target(self, kind: str, ident: dict):
        """A locator for the element named ``ident`` among the page's candidates of ``kind``."""
        self.token += 1
        token = f"w{self.token}"
        if self.evaluate(JS_MARK, [kind, ident, token]) is None:
            raise Skip(f"no {kind} {ident} on the page any more")
        return self.page.locator(f'[data-walk-target="{token}"]')

    def do(self, record: dict) -> str:
        """Perform one action; returns a note for the log (what it actually did)."""
        page, do = self.page, record["do"]
        if do == "nav":
            side = page.locator("[data-testid=stSidebar]")
            if side.get_attribute("data-collapsed") == "true":  # a phone: open the sidebar first
                page.locator("[data-testid=stExpandSidebarButton]").click(timeout=3_000)
                page.wait_for_timeout(400)
            self.target("nav", {"key": "", "label": record["page"], "nth": 0}).click(timeout=3_000)
            return ""
        if do in ("back", "forward"):
            (page.go_back if do == "back" else page.go_forward)(wait_until="commit", timeout=15_000)
            if not page.url.startswith(self.base):  # the history began outside the app (about:blank)
                from playwright.sync_api import Error as PlaywrightError

                try:
                    page.wait_for_timeout(300)
                    (page.go_forward if do == "back" else page.go_back)(wait_until="commit", timeout=15_000)
                except PlaywrightError:
                    pass  # Chromium may detach the page on its way to about:blank
                if not page.url.startswith(self.base):
                    page.goto(self.base + self.start, wait_until="domcontentloaded", timeout=30_000)
                    return "(left the app's history: opened the first page again)"
                return "(left the app's history: went straight back)"
            return ""
        if do == "reload":
            page.reload(wait_until="domcontentloaded", timeout=30_000)
            return ""
        if do == "goto":
            page.goto(self.base + record["path"], wait_until="domcontentloaded", timeout=30_000)
            return ""
        if do == "escape":
            page.keyboard.press("Escape")
            return ""
        if do == "sidebar":
            if page.locator("[data-testid=stSidebar]").get_attribute("data-collapsed") == "true":
                page.locator("[data-testid=stExpandSidebarButton]").click(timeout=3_000)
                return "(opened)"
            page.locator("[data-testid=stSidebarHeader]").hover(timeout=3_000)  # shown on hover only
            page.locator("[data-testid=stSidebarCollapseButton] button").click(timeout=3_000)
            return "(closed)"
        if do == "dblclick":
            self.target(record["kind"], record["id"]).dblclick(timeout=3_000)
            return ""
        element = self.target(do, record["id"])
        if do in ("link", "button", "segment", "checkbox", "radio", "tab", "expander"):
            element.click(timeout=3_000)
            return ""
        if do == "type":
            return self.type_into(element, record)
        if do == "select":
            return self.select(element, record)
        if do == "slider":
            element.focus(timeout=3_000)
            for key in record["keys"]:
                page.keyboard.press(key)
            return ""
        if do == "chart":
            box = element.bounding_box()
            if not box:
                raise Skip("the chart has no size")
            element.click(position={"x": box["width"] * record["at"][0], "y": box["height"] * record["at"][1]},
                          timeout=3_000)
            return ""
        if do == "grid":
            box = element.bounding_box()
            if not box:
                raise Skip("the table has no size")
            at = {"x": box["width"] * record["at"][0], "y": min(box["height"] * record["at"][1], 400)}
            if record["how"] == "click":
                element.click(position=at, timeout=3_000)
            else:
                element.dblclick(position=at, timeout=3_000)
                page.wait_for_timeout(300)
                page.keyboard.type(record["text"])
                page.keyboard.press("Enter")
                page.wait_for_timeout(200)
                page.keyboard.press("Escape")
            return ""
        raise ValueError(f"unknown action {do!r}")

    def type_into(self, element, record: dict) -> str:
        page, text = self.page, record["text"]
        element.click(timeout=3_000)
        if record["how"] == "fill":
            element.fill(text, timeout=3_000)
        else:
            element.fill("", timeout=3_000)
            element.press_sequentially(text, delay=10, timeout=10_000)
        notes = element.evaluate("el => el.classList.contains('mlsd-notes')")
        then = record["then"]
        if then == "enter":
            element.press("Enter", timeout=3_000)
        elif then == "ctrl+enter":
            element.press("Control+Enter", timeout=3_000)
        elif then == "tab":
            element.press("Tab", timeout=3_000)
        elif then == "reload":
            page.reload(wait_until="domcontentloaded", timeout=30_000)
        if notes and then != "reload":
            page.wait_for_timeout(700)  # the notes box saves half a second after the last key
        return ""

    def select(self, element, record: dict) -> str:
        page = self.page
        if record["how"] == "clear":
            clear = element.locator("[aria-label='Clear all'], [aria-label='Clear value'], [aria-label^='Remove ']")
            if clear.count() == 0:
                raise Skip("nothing to clear")
            clear.first.click(timeout=3_000)
            return "(cleared)"
        element.click(timeout=3_000)
        options = page.locator("[role=listbox] [role=option]")
        try:
            options.first.wait_for(timeout=3_000)
        except Exception as exc:
            page.keyboard.press("Escape")
            raise Skip("the dropdown did not open") from exc
        if record["how"] == "filter":
            page.keyboard.type(record["text"], delay=5)
            page.wait_for_timeout(200)
            page.keyboard.press("Enter")
            page.wait_for_timeout(100)
            page.keyboard.press("Escape")
            return ""
        texts = options.all_inner_texts()
        if not texts:
            page.keyboard.press("Escape")
            raise Skip("the dropdown is empty")
        if "option" in record:
            choice = record["option"]
            if choice not in texts:
                page.keyboard.press("Escape")
                raise Skip(f"no option {choice!r}")
            n = texts.index(choice)
        else:
            n = min(int(record["pick"] * len(texts)), len(texts) - 1)
            record["option"] = texts[n]
        options.nth(n).click(timeout=3_000)
        page.wait_for_timeout(100)
        if page.locator("[role=listbox]").count():  # a multiselect stays open
            page.keyboard.press("Escape")
        return f"-> {texts[n]!r}"

    # -- the loop ----------------------------------------------------------------------------------
    @staticmethod
    def describe(record: dict) -> str:
        do = record["do"]
        if do == "nav":
            return f"sidebar: {record['page']}"
        if do == "goto":
            path = record["path"] if len(record["path"]) <= 120 else record["path"][:117] + "..."
            return f"open {path}"
        if do in ("back", "forward", "reload", "escape", "fresh", "sidebar"):
            return {"back": "browser Back", "forward": "browser Forward", "reload": "reload", "sidebar": "toggle the sidebar",
                    "escape": "press Escape", "fresh": f"new browser session, open {record.get('path', '/')}"}[do]
        ident = record["id"]
        name = f"{record['label']!r}" + (f" [key {ident['key']}]" if ident.get("key") else "") + (
            f" #{ident['nth'] + 1}" if ident.get("nth") else "")
        if do == "type":
            text = record["text"] if len(record["text"]) <= 60 else record["text"][:40] + f"…({len(record['text'])} chars)"
            return f"type {text!r} into {name} ({record['how']}, then {record['then']})"
        if do == "select":
            extra = {"clear": " (clear it)", "filter": f" (type {record.get('text', '')!r} to filter, Enter)"}.get(record["how"], "")
            return f"select in {name}{extra}"
        if do == "slider":
            return f"slider {name}: {' '.join(record['keys'])}"
        if do in ("chart", "grid"):
            how = "" if do == "chart" else (" (click)" if record["how"] == "click" else f" (double-click, type {record['text']!r}, Enter)")
            return f"{do} {name} at {record['at']}{how}"
        if do == "dblclick":
            return f"double-click {record['kind']} {name}"
        return f"{do} {name}"

    def run(self, steps: int, replay: list[dict] | None = None) -> WalkResult:
        """Walk ``steps`` actions (or the actions of ``replay``); stop at the first failure unless keep_going."""
        result = WalkResult(self.seed, self.viewport, log=self.log)
        started = time.monotonic()
        self.log_seen = len(self.server.log_text())
        total = len(replay) if replay is not None else steps
        first = replay[0] if replay and replay[0]["do"] == "fresh" else {"do": "fresh", "path": self.start}
        failures = self.step(0, first, result)
        steps_left = replay[1:] if replay and replay[0]["do"] == "fresh" else replay
        for step in range(1, total + 1):
            if failures and (not self.keep_going or not self.server.alive()):
                break
            if failures:  # keep going: a new browser session, as a new visitor would start
                failures = self.step(step, {"do": "fresh", "path": self.start}, result)
                continue
            if steps_left is not None:
                if not steps_left:
                    break
                record = dict(steps_left.pop(0))
            else:
                record = self.choose()
            failures = self.step(step, record, result)
        if not (failures and not self.keep_going):
            # What the server logs after the last action (a background thread, a late rerun).
            self.page.wait_for_timeout(500)
            log = self.server.log_text()
            if "Traceback" in log[self.log_seen:]:
                tail = plain(log[self.log_seen:])
                result.failures.append(self.fail(total, "server traceback", tail[tail.find("Traceback"):][:4000]))
        result.seconds = time.monotonic() - started
        return result

    def step(self, step: int, record: dict, result: WalkResult) -> list[Failure]:
        """Do one action, wait for the page to settle, check it; returns the failures found."""
        from playwright.sync_api import Error as PlaywrightError

        record.pop("step", None)
        began = time.monotonic()
        note = ""
        try:
            if record["do"] == "fresh":
                self.start = record.get("path", "/")  # a replay's first page
                self.open_session(self.start)
            else:
                note = self.do(record)
        except Skip as exc:
            result.skipped += 1
            note = f"(skipped: {exc})"
        except PlaywrightError as exc:
            if "crash" in str(exc).lower() or "closed" in str(exc).lower():
                raise
            # The element went away, was covered, or stopped moving too late: not the app's fault.
            result.skipped += 1
            note = f"(skipped: {why_not(exc)})"
            try:
                self.page.keyboard.press("Escape")
            except PlaywrightError:
                pass
        acted = time.monotonic() - began
        self.records.append({"step": step, **record})
        if record["do"] != "fresh":
            result.actions += 1
        # A page load may bring a second run half a second after the first (a fresh server's
        # first page does; so may the query-parameter sync after Back): wait longer for those.
        loads = record["do"] in ("fresh", "goto", "reload", "back", "forward") or record.get("then") == "reload"
        busy = self.settle(quiet=1.0 if loads else 0.45)
        settled = time.monotonic() - began - acted
        try:
            where = self.page.url[len(self.base):] or "/"
        except PlaywrightError:
            where = "?"
        line = (f"{step:4d}. {self.describe(record)}{' ' + note if note else ''}   [{where}]"
                f"  ({acted:.1f}+{settled:.1f} s)")
        self.log.append(line)
        self.echo(line)
        problems = [("hang", f"the page did not settle within {self.idle_timeout:.0f} s: {busy}")] if busy else []
        problems += self.check()
        failures = [self.fail(step, reason, detail) for reason, detail in problems]
        result.failures += failures
        return failures

    def fail(self, step: int, reason: str, detail: str) -> Failure:
        self.shots.mkdir(parents=True, exist_ok=True)
        suffix = "" if self.viewport == "desktop" else f"-{self.viewport}"
        name = f"walk-{self.seed if self.seed is not None else 'replay'}-{step}{suffix}"
        shot = self.shots / f"{name}.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True, timeout=15_000)
        except Exception:
            shot = None
        replay = self.shots / f"{name}.json"
        replay.write_text(json.dumps({"seed": self.seed, "viewport": self.viewport, "returning": self.returning,
                                      "actions": self.records},
                                     indent=1, ensure_ascii=False), encoding="utf-8")
        failure = Failure(self.seed, self.viewport, step, reason, detail, self.page.url, list(self.log),
                          list(self.records), shot, replay, self.start, self.returning)
        self.echo(f"      !! {failure.signature}" + ("  (going on in a new browser session)" if self.keep_going else ""))
        return failure


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(text: str) -> str:
    """Server log text without its colours (Streamlit logs tracebacks with rich)."""
    return ANSI.sub("", text)


def why_not(exc: Exception) -> str:
    """The telling line of a Playwright error (what kept it from acting), short."""
    lines = [line.strip(" -") for line in str(exc).splitlines() if line.strip()]
    telling = [line for line in lines if re.search(
        r"intercepts pointer|not visible|not stable|detached|not enabled|inert|outside of the viewport|not attached", line)]
    return "; ".join(dict.fromkeys([lines[0][:80], *(t[:160] for t in telling[-1:])])) if lines else str(exc)


def walk(browser, server: StreamlitServer, seed: int | None, steps: int, viewport: str = "desktop",
         replay: list[dict] | None = None, **options) -> WalkResult:
    """One walk over a running server; see ``Walker``."""
    walker = Walker(browser, server, seed, viewport, **options)
    try:
        result = walker.run(steps, replay)
    finally:
        walker.close()
    return result


# -- the command line ------------------------------------------------------------------------------
def prepare_home(home: Path, cache: Path = ROOT / "build" / "walk-index") -> Path:
    """A fresh MLSD_HOME holding a current index of the bundled data (built once into ``cache``)."""
    import os

    os.environ["MLSD_HOME"] = str(home)  # the corpus of an empty home: bundled data only
    from mlsd import load_corpus
    from mlsd.index import IndexStaleError, load_index

    corpus = load_corpus()
    try:
        load_index(list(corpus.items), corpus.data_hash, cache)
    except IndexStaleError as exc:
        print(f"building the index in {cache} ({exc})…", flush=True)
        from mlsd.embed import Embedder
        from mlsd.search import open_engine

        open_engine(corpus, Embedder(), folder=cache)
    shutil.copytree(cache, home / "index")
    return home


def add_history(home: Path, corpus=None) -> Path:
    """Give ``home`` a returning user's progress, by a fixed rule (the same every time).

    Every 5th case study read, every 7th bookmarked, every 11th with a note; a finished mock
    interview with notes on two steps, and a paused one. A fresh home never shows the pages
    as a returning user sees them: past sessions to reopen, lists of what was read, filters
    that keep or drop read items.
    """
    from mlsd.progress import ProgressStore

    if corpus is None:
        from mlsd import load_corpus

        corpus = load_corpus()
    store = ProgressStore(Path(home) / "progress.db")
    store.migrate()
    for n, resource in enumerate(corpus.resources):
        if n % 5 == 0:
            store.set_read(resource)
        if n % 7 == 3:
            store.set_bookmark(resource)
        if n % 11 == 5:
            store.set_note(resource, "Worth rereading before the interview.")
    steps, questions = [s.id for s in corpus.steps], corpus.questions
    t = time.time() - 3 * 3600
    done = store.start_session(questions[0].title, 45, steps[0], questions[0].id, now=t)
    store.save_step_note(done, steps[0], "Goal: more watch time; users are logged in.", now=t + 200)
    store.move_to(done, steps[1], now=t + 300)
    store.save_step_note(done, steps[1], "Offline: recall@50 and nDCG; online: watch time per user.", now=t + 500)
    store.finish(done, now=t + 900)
    paused = store.start_session(questions[1].title, 30, steps[0], questions[1].id, now=t + 3600)
    store.pause(paused, now=t + 3700)
    return Path(home)


def seeds_of(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        if "-" in part.strip()[1:]:
            a, b = part.split("-", 1)
            out += range(int(a), int(b) + 1)
        elif part.strip():
            out.append(int(part))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.walk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, help="one seed (default: a random one, printed)")
    parser.add_argument("--seeds", help="several seeds, e.g. 1-10 or 3,7,12 (one fresh server each)")
    parser.add_argument("--steps", type=int, default=200, help="actions per walk (default 200)")
    parser.add_argument("--viewport", choices=["desktop", "phone", "both"], default="desktop")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a failure, go on in a fresh browser session and list every distinct failure")
    parser.add_argument("--replay", type=Path, help="replay the actions saved with a failure (screenshots/walk-*.json)")
    parser.add_argument("--returning", action="store_true",
                        help="walk as a returning user: the home holds read marks, notes and past practice sessions")
    parser.add_argument("--start", default="/", help="the page the walk opens first (default /), e.g. /practice")
    parser.add_argument("--idle-timeout", type=float, default=90, help="seconds a script run may take (default 90)")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    args = parser.parse_args(argv)
    # Stopped with kill: still stop the server and the browser on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from playwright.sync_api import sync_playwright

    replay = None
    if args.replay:
        saved = json.loads(args.replay.read_text(encoding="utf-8"))
        replay, runs = saved["actions"], [(saved.get("seed"), saved.get("viewport", "desktop"))]
        args.returning = args.returning or saved.get("returning", False)
    else:
        seeds = seeds_of(args.seeds) if args.seeds else [args.seed if args.seed is not None else random.randrange(10**6)]
        viewports = ["desktop", "phone"] if args.viewport == "both" else [args.viewport]
        runs = [(seed, viewport) for seed in seeds for viewport in viewports]

    results: list[WalkResult] = []
    with sync_playwright() as p:
        browser = launch_chromium(p, OFFLINE_ARGS)
        try:
            for seed, viewport in runs:
                with tempfile.TemporaryDirectory(prefix="mlsd-walk-") as folder:
                    home = prepare_home(Path(folder) / "home")
                    if args.returning:
                        add_history(home)
                    with StreamlitServer(home, env=OFFLINE_ENV) as server:
                        print(f"== walk: seed {seed}, {viewport}, {len(replay) if replay else args.steps} actions"
                              f"{', returning user' if args.returning else ''}, from {args.start}, "
                              f"server {server.url}, MLSD_HOME {home}", flush=True)
                        echo = None if args.quiet else (lambda line: print(line, flush=True))
                        result = walk(browser, server, seed, args.steps, viewport, replay=replay,
                                      idle_timeout=args.idle_timeout, keep_going=args.keep_going, echo=echo,
                                      start=args.start, returning=args.returning)
                    log = server.log_text()  # the whole log, shutdown included
                    if "Traceback" in log and not any(f.reason in ("exception", "server traceback")
                                                      for f in result.failures):
                        log = plain(log)
                        result.failures.append(Failure(seed, viewport, result.actions, "server traceback",
                                                       log[log.find("Traceback"):][:4000], server.url, result.log, []))
                results.append(result)
                print(result.report(), flush=True)
        finally:
            browser.close()

    print("\n== summary")
    distinct: dict[str, Failure] = {}
    for result in results:
        print(f"seed {result.seed} ({result.viewport}): {result.actions} actions, {len(result.failures)} failure(s), "
              f"{result.seconds:.0f} s")
        for failure in result.failures:
            distinct.setdefault(failure.signature, failure)
    print(f"{sum(r.actions for r in results)} actions run, {len(distinct)} distinct failure(s)")
    for signature, failure in distinct.items():
        print(f"- {signature}: first at seed {failure.seed} ({failure.viewport}) step {failure.step}, "
              f"replay {failure.replay_file}")
    return 1 if distinct else 0


if __name__ == "__main__":
    sys.exit(main())
