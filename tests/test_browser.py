"""The built site in a real browser: Debian's chromium, driven by Playwright, against the site
served on 127.0.0.1. Every page loads without console errors or failed requests, its images
render, search finds a word from a page, and the dark-mode toggle works.

Set LESSON6_SCREENSHOTS to a folder to also save a full-page screenshot of every page, in the
light and the dark theme.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require

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


def open_page(browser, url: str, scheme: str = "light"):
    """Open ``url``; return the page and the problems it reported while loading."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    problems: list[str] = []
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
    shots = os.environ.get("LESSON6_SCREENSHOTS")
    if shots:
        name = path.strip("/").replace("/", "_") or "home"
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{shots}/{name}-light.png", full_page=True)
        dark, _ = open_page(browser, base_url + path, scheme="dark")
        dark.screenshot(path=f"{shots}/{name}-dark.png", full_page=True)
        dark.context.close()
    page.context.close()


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
