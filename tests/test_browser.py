"""The built site in a real browser: Debian's chromium, driven by Playwright, against the site
served on 127.0.0.1. Every page loads without console errors or failed requests, its images
render, search finds a word from a page, and the dark-mode toggle works.

Also, on every page: code that fits (a line of 88 characters needs no scrolling at 1280 px, and
the copy button covers no code), outputs that keep each line whole, plots and tables that fit a
phone (390 px), and no serious or critical accessibility violation (axe-core, vendored in
tests/vendor) in either theme.

Set LESSON6_SCREENSHOTS to a folder to also save full-page screenshots of every page, 1280 and
390 px wide, in the light and the dark theme.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, require

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    raw = os.environ.get("LESSON6_SITE", "")
    require(bool(raw) and (Path(raw) / "index.html").is_file(), "no built site in LESSON6_SITE")
    handler = functools.partial(_Quiet, directory=raw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


def site_pages() -> list[str]:
    raw = os.environ.get("LESSON6_SITE", "")
    if not raw:
        return ["/"]
    site = Path(raw)
    pages = sorted(p.parent.relative_to(site).as_posix() for p in site.rglob("index.html"))
    return ["/" if p == "." else f"/{p}/" for p in pages if not p.startswith("assets")]


def open_page(browser, url: str, scheme: str = "light", width: int = 1280):
    """Open ``url`` in a window ``width`` px wide; return the page and the problems it reported
    while loading (console errors, failed requests, requests to another host)."""
    height = 900 if width > 600 else 844
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    page = context.new_page()
    problems: list[str] = []
    host = urlsplit(url).netloc
    page.on(
        "request",
        lambda r: (
            problems.append(f"request to another host: {r.url[:100]}")
            if urlsplit(r.url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(r.url).netloc != host
            else None
        ),
    )
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, problems


@pytest.mark.parametrize("path", site_pages())
def test_page_loads_clean_and_images_render(browser, base_url, path):
    page, problems = open_page(browser, base_url + path)
    assert not problems, "\n".join(problems)
    broken = page.eval_on_selector_all(
        "img",
        "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.src.slice(0, 80))",
    )
    assert not broken, f"images that did not render: {broken}"
    assert page.title()
    unrendered = page.eval_on_selector_all(
        ".md-content .arithmatex", "els => els.filter(e => !e.querySelector('.katex')).length"
    )
    assert unrendered == 0, "math left unrendered"
    dollars = page.eval_on_selector_all(
        ".jp-RenderedMarkdown",
        """els => els.filter(e => {
            const c = e.cloneNode(true);
            c.querySelectorAll('code, pre, .katex').forEach(x => x.remove());
            return c.textContent.includes('$');
        }).length""",
    )
    assert dollars == 0, "notebook math left unrendered ($ in the text)"
    page.context.close()
    shots = os.environ.get("LESSON6_SCREENSHOTS")
    if shots:
        name = path.strip("/").replace("/", "_") or "home"
        Path(shots).mkdir(parents=True, exist_ok=True)
        for width in (1280, 390):
            for scheme in ("light", "dark"):
                shot, _ = open_page(browser, base_url + path, scheme=scheme, width=width)
                shot.screenshot(path=f"{shots}/{name}-{width}-{scheme}.png", full_page=True)
                shot.context.close()


def test_search_finds_a_word_from_a_page(browser, base_url):
    page, problems = open_page(browser, base_url + "/")
    page.click("input.md-search__input")
    page.keyboard.type("Zimmern")
    # the data page names the translator of the Nietzsche text; results refresh as each letter
    # arrives, so wait until every result shows the whole word highlighted
    page.wait_for_function(
        """() => {
            const items = [...document.querySelectorAll('.md-search-result__item')];
            const whole = it => [...it.querySelectorAll('mark')]
                .some(m => m.textContent.toLowerCase().startsWith('zimmern'));
            return items.length > 0 && items.every(whole)
                && items.some(it => it.querySelector('a').href.includes('/data/'));
        }""",
        timeout=15_000,
    )
    assert not problems, "\n".join(problems)
    page.context.close()


def test_dark_mode_toggles(browser, base_url):
    page, _ = open_page(browser, base_url + "/")

    def scheme() -> str:
        return page.get_attribute("body", "data-md-color-scheme") or ""

    def background() -> str:
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    assert scheme() == "default"
    light = background()
    page.click("form[data-md-component='palette'] label:visible")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    assert background() != light
    page.click("form[data-md-component='palette'] label:visible")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'default'")
    page.context.close()


# --- layout and accessibility -----------------------------------------------------------------

CODE_COLUMN = 88  # characters a code line may have (DESIGN.md); they fit without scrolling
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
NOTEBOOK_PAGES = [p for p in site_pages() if (ROOT / "docs" / f"{p.strip('/')}.ipynb").is_file()]


def _code_blocks(page) -> list[dict]:
    page.wait_for_function(
        "document.querySelectorAll('.md-content pre > code').length === 0 "
        "|| document.querySelector('.md-content .md-code__nav') !== null"
    )
    return page.eval_on_selector_all(
        ".md-content pre > code",
        """codes => codes.map(c => ({
            longest: Math.max(...c.textContent.replace(/\\n$/, '').split('\\n').map(l => l.length)),
            scroll: c.scrollWidth, client: c.clientWidth,
            start: c.textContent.slice(0, 50)}))""",
    )


@pytest.mark.parametrize("path", site_pages())
def test_code_of_88_characters_fits_at_1280_px(browser, base_url, path):
    page, _ = open_page(browser, base_url + path)
    cut = [
        f"{b['longest']} chars, {b['scroll']} > {b['client']} px: {b['start']!r}"
        for b in _code_blocks(page)
        if b["longest"] <= CODE_COLUMN and b["scroll"] > b["client"]
    ]
    assert not cut, "code cut off:\n" + "\n".join(cut)
    page.context.close()


def test_a_code_column_holds_88_characters_at_1280_px(browser, base_url):
    """A line of exactly 88 characters, in a code cell of a notebook page, needs no scrolling."""
    require(bool(NOTEBOOK_PAGES), "no notebook page in the site")
    page, _ = open_page(browser, base_url + NOTEBOOK_PAGES[0])
    _code_blocks(page)
    fits = page.evaluate(
        """n => {
            const code_ = '.jupyter-wrapper .jp-CodeCell .highlight';
            const cell = document.querySelector(code_).closest('.jp-Notebook > *');
            const copy = cell.cloneNode(true);  // a new cell after the first code cell
            cell.after(copy);
            const code = copy.querySelector('.jp-CodeCell .highlight code');
            code.textContent = 'x'.repeat(n - 1) + 'W';
            return [code.scrollWidth, code.clientWidth];
        }""",
        CODE_COLUMN,
    )
    assert fits[0] <= fits[1], (
        f"{CODE_COLUMN} characters need {fits[0]} px, the column has {fits[1]}"
    )
    page.context.close()


COVERED_TEXT = """() => {
    const hits = [];
    for (const pre of document.querySelectorAll('.md-content pre')) {
        const nav = pre.querySelector('.md-code__nav');
        const code = pre.querySelector('code');
        if (!nav || !code) continue;
        const box = nav.getBoundingClientRect();
        const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (!node.textContent.trim()) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            for (const r of range.getClientRects()) {
                if (r.width && r.right > box.left + 1 && r.left < box.right - 1
                        && r.bottom > box.top + 1 && r.top < box.bottom - 1) {
                    hits.push(node.textContent.slice(0, 40));
                }
            }
        }
    }
    return hits;
}"""


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", NOTEBOOK_PAGES or ["/"])
def test_the_copy_button_covers_no_code(browser, base_url, path, width):
    page, _ = open_page(browser, base_url + path, width=width)
    _code_blocks(page)
    covered = page.evaluate(COVERED_TEXT)
    assert not covered, f"code under the copy button: {covered[:10]}"
    page.context.close()


@pytest.mark.parametrize("path", NOTEBOOK_PAGES or ["/"])
def test_outputs_keep_each_line_whole(browser, base_url, path):
    """No output line wraps (so no number is split): a wide output scrolls in its own box."""
    page, _ = open_page(browser, base_url + path)
    wrapped = page.eval_on_selector_all(
        ".jupyter-wrapper .jp-OutputArea-output pre",
        """pres => pres.filter(p => {
            const s = getComputedStyle(p);
            const lines = p.textContent.replace(/\\n+$/, '').split('\\n').length;
            const tops = new Set();  // the lines as drawn: one top per line box
            const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                const range = document.createRange();
                range.selectNodeContents(n);
                for (const r of range.getClientRects()) if (r.width) tops.add(Math.round(r.top));
            }
            return s.whiteSpace !== 'pre' || s.wordBreak === 'break-all' || tops.size > lines;
        }).map(p => p.textContent.slice(0, 60))""",
    )
    assert not wrapped, f"outputs whose lines wrap: {wrapped}"
    page.context.close()


@pytest.mark.parametrize("path", site_pages())
def test_plots_and_tables_fit_a_phone(browser, base_url, path):
    """At 390 px: every plot takes (nearly) the content's full width; every table either fits
    or scrolls inside its own box, which stays inside the screen; nothing else sticks out."""
    page, _ = open_page(browser, base_url + path, width=390)
    narrow = page.eval_on_selector_all(
        ".jupyter-wrapper .jp-RenderedImage img, .jupyter-wrapper .animation img",
        """imgs => imgs.map(i => [i.getBoundingClientRect().width,
                                 i.closest('.jupyter-wrapper').clientWidth])
                       .filter(([w, content]) => w < 0.9 * content)""",
    )
    assert not narrow, f"plots narrower than 90% of the content (px, content px): {narrow}"
    cut = page.eval_on_selector_all(
        ".md-content table",
        """tables => tables.filter(t => {
            const right = innerWidth + 1;
            if (t.getBoundingClientRect().right <= right) return false;
            for (let e = t.parentElement; e; e = e.parentElement) {
                const o = getComputedStyle(e).overflowX;
                if (o === 'auto' || o === 'scroll') return e.getBoundingClientRect().right > right;
            }
            return true;
        }).map(t => t.textContent.trim().slice(0, 60))""",
    )
    assert not cut, f"tables cut at 390 px: {cut}"
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, f"the page is {wide} px wide at 390 px: something sticks out"
    page.context.close()


def test_a_tap_shows_a_plot_at_its_own_size_on_a_phone(browser, base_url):
    require(bool(NOTEBOOK_PAGES), "no notebook page in the site")
    for path in NOTEBOOK_PAGES:
        page, _ = open_page(browser, base_url + path, width=390)
        img = page.query_selector(".jupyter-wrapper .jp-RenderedImage img")
        if img is None:
            page.context.close()
            continue
        fitted = img.bounding_box()["width"]
        img.click()
        own = float(img.get_attribute("width") or 0)
        assert img.bounding_box()["width"] == pytest.approx(own, abs=1), (fitted, own)
        img.click()
        assert img.bounding_box()["width"] == pytest.approx(fitted, abs=1)
        page.context.close()
        return
    pytest.fail("no page has a plot")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", site_pages())
def test_no_serious_accessibility_violations(browser, base_url, path, scheme):
    """axe-core (tests/vendor/axe-core) finds nothing serious or critical."""
    require(AXE.is_file(), f"{AXE} is missing")
    page, _ = open_page(browser, base_url + path, scheme=scheme)
    expected = "slate" if scheme == "dark" else "default"
    assert page.get_attribute("body", "data-md-color-scheme") == expected
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 4)
                    .map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    assert not violations, "\n".join(violations)
    page.context.close()
