"""Checks of the built site (``nox -s docs`` builds it, then runs these with LESSON6_SITE set):
every page ran and shows its outputs, links and anchors resolve, and a cell that raises fails the
build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT, require

pytestmark = pytest.mark.site
NOTEBOOKS = sorted((ROOT / "docs").glob("*.ipynb"))


class Page(HTMLParser):
    """The ids, links, images and text of one HTML page."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.classes: list[str] = []
        self.text: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            (self.images if tag == "img" else self.links).append(a["src"])
        if tag == "link" and a.get("href"):
            self.links.append(a["href"])
        self.classes.extend((a.get("class") or "").split())

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def site() -> Path:
    raw = os.environ.get("LESSON6_SITE", "")
    require(bool(raw) and (Path(raw) / "index.html").is_file(), "no built site in LESSON6_SITE")
    return Path(raw).resolve()


def page_of(site: Path, notebook: Path) -> Path:
    return site / notebook.stem / "index.html"


def code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_ran_and_shows_its_outputs(site: Path, notebook: Path):
    page = Page(page_of(site, notebook))
    text = "".join(page.text)
    cells = code_cells(notebook)
    prompts = [t.replace("\xa0", " ").strip() for t in page.text]
    prompts = [t for t in prompts if t.startswith("In [")]
    assert prompts == [f"In [{i}]:" for i in range(1, len(cells) + 1)], "cells did not all run"
    assert "Verified with torch" in text, "the page's stamp is missing"
    plots = sum(cell.count("plt.show()") for cell in cells)
    pictures = [src for src in page.images if src.startswith("data:image/png;base64,")]
    assert len(pictures) >= plots, f"{plots} plots drawn, {len(pictures)} shown"
    assert "Traceback (most recent call last)" not in text
    assert (site / notebook.stem / notebook.name).is_file(), "the notebook download is missing"


def test_rossmann_page_reaches_its_targets(site: Path):
    """The CPU preset's validation RMSPE is at most 0.13, and the submission has every row."""
    page = site / "rossmann-training" / "index.html"
    text = "".join(Page(page).text).replace("\xa0", " ")
    score = re.search(r"validation RMSPE (0\.\d+) after", text)
    assert score and float(score.group(1)) <= 0.13, score
    assert "41,088 rows, columns ['Id', 'Sales']" in text
    assert "same Ids as Kaggle's sample: True" in text
    inside = "".join(Page(site / "inside-the-model" / "index.html").text)
    assert "the copy's outputs equal the library's: True" in inside


def test_every_page_of_the_nav_was_built(site: Path):
    assert (site / "index.html").is_file()
    for notebook in NOTEBOOKS:
        assert page_of(site, notebook).is_file(), notebook.name


def _target(site: Path, page: Path, link: str) -> tuple[Path, str] | None:
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or link.startswith(("mailto:", "data:", "javascript:")):
        return None
    path = unquote(parts.path)
    if not path:
        return page, parts.fragment
    base = site if path.startswith("/") else page.parent
    target = (base / path.lstrip("/")).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, parts.fragment


def test_no_broken_internal_links_or_anchors(site: Path):
    pages = sorted(site.rglob("*.html"))
    parsed = {p: Page(p) for p in pages}
    broken = []
    for page, html in parsed.items():
        for link in html.links + html.images:
            found = _target(site, page, link)
            if found is None:
                continue
            target, fragment = found
            where = f"{page.relative_to(site)} -> {link}"
            if not target.is_file() or site not in target.parents:
                broken.append(f"{where} (no such file)")
            elif fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else Page(target).ids
                if fragment not in ids:
                    broken.append(f"{where} (no anchor #{fragment})")
    assert not broken, "\n".join(broken)


def _throwaway_project(tmp_path: Path, notebook_cells: list[str]) -> Path:
    """A copy of the site's machinery (config, hooks, theme, library) with two pages: a home page
    and one notebook made of the given cells."""
    copy = tmp_path / "project"
    copy.mkdir(parents=True)
    for name in ("hooks", "overrides", "jupyter_config", "lesson6lib"):
        shutil.copytree(ROOT / name, copy / name)
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = re.sub(
        r"^nav:\n(?:  - .*\n)+",
        "nav:\n  - Home: index.md\n  - Page: page.ipynb\n",
        config,
        flags=re.M,
    )
    (copy / "mkdocs.yml").write_text(config, encoding="utf-8")
    (copy / "docs").mkdir()
    (copy / "docs" / "index.md").write_text("# Home\n\nA throw-away site.\n", encoding="utf-8")
    shutil.copytree(ROOT / "docs" / "assets", copy / "docs" / "assets")
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Throw-away page"]}]
    cells += [
        {
            "cell_type": "code",
            "metadata": {},
            "source": [src],
            "outputs": [],
            "execution_count": None,
        }
        for src in notebook_cells
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (copy / "docs" / "page.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return copy


def _build(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("JUPYTER_CONFIG_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(project / "site")],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_cell_that_raises_fails_the_build(tmp_path: Path):
    ok = _build(_throwaway_project(tmp_path / "ok", ["print('fine')"]))
    assert ok.returncode == 0, ok.stderr[-3000:]
    bad = _build(
        _throwaway_project(tmp_path / "bad", ["print('before')", "raise RuntimeError('boom-7319')"])
    )
    assert bad.returncode != 0, "the build passed although a cell raised"
    assert "boom-7319" in bad.stdout + bad.stderr
    assert not (tmp_path / "bad" / "project" / "site" / "page" / "index.html").exists()


STAMP_CELL = (
    "import time\nfrom IPython.display import HTML\ntime.sleep(2.6)\n"
    "HTML('<p class=\"l6-stamp\">Verified with torch (a stand-in).</p>')"
)


def test_execution_cache_is_reused_and_follows_the_library(tmp_path: Path):
    """Also: the stamp's run time is measured when the page runs and kept with the cache."""
    project = _throwaway_project(tmp_path, ["print(6 * 7)", STAMP_CELL])
    logs, runtimes = [], []
    for step in ("cold", "warm", "library changed"):
        if step == "library changed":
            with open(project / "lesson6lib" / "__init__.py", "a", encoding="utf-8") as fh:
                fh.write("\n# a change to the library\n")
        done = _build(project)
        assert done.returncode == 0, done.stderr[-3000:]
        logs.append(done.stdout + done.stderr)
        html = (project / "site" / "page" / "index.html").read_text(encoding="utf-8")
        runtimes.append(re.search(r"Ran in (\d+) s at build", html))
    cold, warm, changed = logs
    assert "Cache miss" in cold and "Cache hit" in warm and "Cache miss" in changed
    assert "42" in html
    assert all(runtimes), "a stamp without its run time"
    assert int(runtimes[0][1]) >= 3, "the cold build's run time was not measured"
    assert runtimes[1][1] == runtimes[0][1], "a cached page must keep the time it ran in"


# --- what a reader downloads, searches and sees (hooks/site.py, overrides/, docs/assets/) -------

MAX_PAGE_KB = 250  # a page's HTML, embedded images excluded (DESIGN.md, budgets)
DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+(?:;[\w=.+-]+)*,[A-Za-z0-9+/=%\\\s]*")
NBCONVERT_DEFAULT_ALT = "No description has been provided for this image"
STDERR_MIME = "application/vnd.jupyter.stderr"


def site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "assets" not in p.relative_to(site).parts)


def notebook_pages(site: Path) -> list[Path]:
    return [page_of(site, nb) for nb in NOTEBOOKS]


def soup_of(path: Path):
    """A page parsed with BeautifulSoup (a dependency of nbconvert)."""
    bs4 = pytest.importorskip("bs4")
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_every_page_weighs_at_most_250_kb_without_its_images(site: Path):
    heavy = []
    for page in site_pages(site):
        html = page.read_text(encoding="utf-8")
        size = len(DATA_URI.sub("data:", html).encode("utf-8")) / 1024
        if size > MAX_PAGE_KB:
            heavy.append(f"{page.relative_to(site)}: {size:.0f} KB")
    assert not heavy, f"pages over {MAX_PAGE_KB} KB (embedded images excluded): {heavy}"


def test_notebook_pages_share_one_cached_stylesheet(site: Path):
    """JupyterLab's CSS is one file that every notebook page links, not a copy inlined in each
    page (a data frame's small scoped style may stay)."""
    linked = set()
    for page in notebook_pages(site):
        soup = soup_of(page)
        inline = [len(s.get_text()) for s in soup.find_all("style")]
        assert all(n < 2000 for n in inline), f"{page.parent.name}: inline styles {inline}"
        sheets = [
            link["href"]
            for link in soup.find_all("link", rel="stylesheet")
            if "/jupyter." in link["href"]
        ]
        assert len(sheets) == 1, f"{page.parent.name} links {sheets}"
        target = (page.parent / sheets[0]).resolve()
        assert target.is_file() and target.stat().st_size < 100_000, target
        linked.add(target)
        assert "<clipboard-copy" not in str(soup) and "clipboard-copy-txt" not in str(soup)
    assert len(linked) == 1, f"the pages link different stylesheets: {linked}"


def _has_maths(soup) -> bool:
    if soup.select(".arithmatex"):
        return True
    for block in soup.select(".jp-RenderedMarkdown"):
        for text in block.find_all(string=True):
            if not text.find_parent(("code", "pre", "script")) and re.search(r"\$|\\\(|\\\[", text):
                return True
    return False


def test_katex_loads_only_on_pages_with_maths(site: Path):
    wrong = []
    for page in site_pages(site):
        soup = soup_of(page)
        loads = any("katex" in (s.get("src") or "") for s in soup.find_all("script")) or any(
            "katex" in (link.get("href") or "") for link in soup.find_all("link")
        )
        if loads != _has_maths(soup):
            wrong.append(f"{page.relative_to(site)}: maths {not loads}, KaTeX {loads}")
    assert not wrong, wrong


def _index(site: Path) -> list[dict]:
    return json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]


def test_search_index_is_clean(site: Path):
    """No prompts, no copy-button text, no pilcrows, no code twice, no data frames."""
    docs = _index(site)
    problems = []
    for doc in docs:
        where = doc["location"]
        if "¶" in doc["title"]:
            problems.append(f"{where}: pilcrow in the title {doc['title']!r}")
        text = doc["title"] + " " + doc["text"]
        for junk in ("Copied!", "In [", "In&nbsp;[", "Out[", "\xa0[", "Copy to Clipboard"):
            if junk in text:
                problems.append(f"{where}: {junk!r} in the text")
    for notebook in NOTEBOOKS:
        stem = notebook.stem
        text = " ".join(d["text"] for d in docs if d["location"].split("#")[0].rstrip("/") == stem)
        flat = " ".join(re.sub(r"<[^>]+>", " ", text).split())
        for cell in set(code_cells(notebook)):
            code = " ".join(cell.split())
            if len(code) > 20 and flat.count(code) > code_cells(notebook).count(cell):
                problems.append(f"{stem}: code indexed twice: {code[:60]!r}")
        for table in soup_of(page_of(site, notebook)).select("table.dataframe"):
            cells = " ".join(table.get_text(" ").split())
            if len(cells) > 20 and cells[:60] in flat:
                problems.append(f"{stem}: a data frame is indexed: {cells[:60]!r}")
    assert not problems, "\n".join(problems[:30])


def _png_size(src: str) -> tuple[int, int]:
    import base64
    import struct

    data = base64.b64decode(src.split(",", 1)[1][:64])
    return struct.unpack(">II", data[16:24])


def test_every_figure_has_alt_text_and_is_sharp(site: Path):
    """Alt text from the figure's titles (never nbconvert's placeholder), and a PNG with twice
    the pixels of its displayed size (sharp on high-density screens)."""
    problems = []
    for page in site_pages(site):
        for img in soup_of(page).select(".md-content img"):
            where = f"{page.relative_to(site)} {img.get('src', '')[:40]}"
            alt = " ".join((img.get("alt") or "").split())
            if alt == NBCONVERT_DEFAULT_ALT or len(alt) < 8:
                problems.append(f"{where}: alt {alt!r}")
            src = img.get("src", "")
            if src.startswith("data:image/png;base64,") and img.get("width"):
                pixels, _ = _png_size(src)
                if pixels < 1.5 * float(img["width"]):
                    problems.append(f"{where}: {pixels} px drawn at {img['width']} px")
    assert not problems, "\n".join(problems)


def _machine_paths() -> dict[str, str]:
    """Paths of the machine that built the site, none of which a page may show."""
    found = {"the checkout": str(ROOT.resolve()), "the home folder": str(Path.home())}
    for env in ("LESSON6_DATA", "LESSON6_CACHE"):
        if os.environ.get(env, "").strip():
            found[env] = str(Path(os.environ[env]).expanduser().resolve())
    if not os.environ.get("LESSON6_CACHE", "").strip():
        platformdirs = pytest.importorskip("platformdirs")
        found["the default cache"] = platformdirs.user_cache_dir("lesson6lib")
    # too short to be told apart from other text ("/", "/root" stays in)
    return {k: v.rstrip("/") for k, v in found.items() if len(v.rstrip("/")) >= 4}


def test_no_path_of_the_build_machine_in_the_site(site: Path):
    paths = _machine_paths()
    leaks = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in (".html", ".json", ".ipynb", ".js", ".css", ".xml", ".txt"):
            continue
        text = DATA_URI.sub("data:", path.read_text(encoding="utf-8", errors="replace"))
        for label, value in paths.items():
            for form in {value, value.replace("/", "\\/"), json.dumps(value)[1:-1]}:
                at = text.find(form)
                if at >= 0:
                    context = text[max(0, at - 60) : at + len(form) + 20].replace("\n", " ")
                    leaks.append(f"{path.relative_to(site)}: {label} ({context!r})")
                    break
    assert not leaks, "\n".join(leaks)


# Attributes that make a browser fetch something (an <a href> is a link the reader follows).
FETCHING = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
}
NOT_FETCHED_LINKS = {"canonical", "alternate", "author", "license", "help", "next", "prev"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")
# In a script: a module imported, or a src/href/url()/fetch() given, from another host.
JS_FETCH = re.compile(
    r"""(?:\bimport\s*\(\s*|\bfrom\s*|\bsrc\s*=\s*|\bhref\s*=\s*|\bfetch\(\s*)"""
    r"""['"`]((?:https?:)?//[^'"`)\s]+)|\burl\(\s*['"]?((?:https?:)?//[^'"`)\s]+)"""
)


def _off_host(url: str) -> bool:
    url = url.strip()
    if url.startswith(("data:", "blob:", "#", "about:")):
        return False
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, flags=re.I))


def test_no_asset_comes_from_another_host(site: Path):
    """The site works offline: nothing it loads (script, style, image, font, frame) points at
    another host; plain <a href> links may."""
    found = []
    for page in site_pages(site):
        soup = soup_of(page)
        where = page.relative_to(site)
        for tag in soup.find_all(True):
            attrs = FETCHING.get(tag.name, ())
            if tag.name == "link":
                rel = set(tag.get("rel") or [])
                attrs = () if rel and rel <= NOT_FETCHED_LINKS else ("href",)
            for attr in attrs:
                for url in (tag.get(attr) or "").split(","):
                    if url and _off_host(url.split()[0]):
                        found.append(f"{where}: <{tag.name} {attr}={url.strip()[:80]}>")
            if tag.get("style"):
                found += [
                    f"{where}: style {u}"
                    for u in CSS_URL.findall(tag["style"])
                    if any(_off_host(x) for x in u if x)
                ]
        for style in soup.find_all("style"):
            for match in CSS_URL.findall(style.get_text()):
                url = match[0] or match[1]
                if _off_host(url):
                    found.append(f"{where}: <style> url({url[:80]})")
        for script in soup.find_all("script", src=False):
            found += [
                f"{where}: <script> {''.join(u)[:80]}" for u in JS_FETCH.findall(script.get_text())
            ]
    for sheet in site.rglob("*.css"):
        for match in CSS_URL.findall(sheet.read_text(encoding="utf-8", errors="replace")):
            url = match[0] or match[1]
            if _off_host(url):
                found.append(f"{sheet.relative_to(site)}: url({url[:80]})")
    for script in site.rglob("*.js"):
        text = script.read_text(encoding="utf-8", errors="replace")
        found += [f"{script.relative_to(site)}: {''.join(u)[:80]}" for u in JS_FETCH.findall(text)]
    assert not found, "\n".join(found)


def test_no_cell_writes_to_stderr(site: Path):
    """A warning or a log line on stderr is a page's bug: nothing the reader should see."""
    found = []
    for page in notebook_pages(site):
        for out in soup_of(page).select(f'[data-mime-type="{STDERR_MIME}"]'):
            found.append(f"{page.parent.name}: {' '.join(out.get_text().split())[:160]!r}")
    assert not found, "\n".join(found)


def test_each_stamp_gives_the_pages_run_time(site: Path):
    for page in notebook_pages(site):
        stamps = soup_of(page).select("p.l6-stamp")
        assert len(stamps) == 1, f"{page.parent.name}: {len(stamps)} stamps"
        text = " ".join(stamps[0].get_text().split())
        assert re.search(r"Verified with torch .+ Ran in (\d+ min )?\d+ s at build\.$", text), text


def test_video_links_open_in_a_new_tab(site: Path):
    wrong = []
    for page in site_pages(site):
        for link in soup_of(page).select('a[href^="https://youtu.be/"], a[href*="youtube.com/"]'):
            if link.get("target") != "_blank" or "noopener" not in (link.get("rel") or []):
                wrong.append(f"{page.relative_to(site)}: {link}")
    assert not wrong, "\n".join(wrong[:10])


# --- hooks/site.py's parts, on small inputs ------------------------------------------------------


@pytest.fixture(scope="module")
def site_hook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lesson6_site_hook", ROOT / "hooks" / "site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as MkDocs does; dataclasses need it
    spec.loader.exec_module(module)
    return module


def test_a_figures_description_travels_in_its_png(site_hook, tmp_path: Path):
    import base64

    mpl = pytest.importorskip("matplotlib")
    mpl.use("agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([1, 2])
    fig.savefig(tmp_path / "f.png", metadata={"Description": "Loss: loss against step ✓"})
    src = "data:image/png;base64," + base64.b64encode((tmp_path / "f.png").read_bytes()).decode()
    assert site_hook.png_description(src) == "Loss: loss against step ✓"
    assert site_hook.png_description("data:image/png;base64,AAAA") == ""


def test_the_shared_stylesheet_keeps_only_what_pages_use(site_hook):
    css = (
        ".jupyter-wrapper{--used: red;--unused: blue;--chain: var(--used)}"
        ".jupyter-wrapper .jp-A{color:var(--chain)}"
        ".jupyter-wrapper .jp-B{color:green}"
        "pre{line-height:125%}"
        "@media print{.jupyter-wrapper .jp-B{display:none}}"
        "@keyframes spin{to{transform:rotate(1turn)}}"
        ".jupyter-wrapper .jp-A:not(.jp-B) :not(pre)>code{margin:0}"
    )
    out = site_hook.prune_css([css], {"jupyter-wrapper", "jp-A"})
    assert ".jp-A{color:var(--chain)}" in out and "--used: red" in out and "--chain" in out
    assert "jp-B{" not in out and "--unused" not in out and "@media" not in out
    assert "line-height:125%" not in out and "keyframes" not in out
    assert ".jp-A:not(.jp-B) :not(pre)>code" in out  # a descendant combinator stays one


def test_a_notebooks_html_is_shaped_for_reading(site_hook):
    html = (
        '<script>clipboard</script><style type="text/css">.jupyter-wrapper .jp-A{color:red}'
        '</style><div class="jupyter-wrapper"><div class="jp-Notebook">'
        '<div class="jp-Cell jp-MarkdownCell"><div class="jp-InputArea">'
        '<div class="jp-InputPrompt jp-InputArea-prompt">\n</div>'
        '<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown" data-mime-type="text/markdown">'
        '<h2 id="x">X<a class="anchor-link" href="#x">¶</a></h2><p>See '
        '<a href="https://youtu.be/abc?t=1">00:00:01</a>, $a^2$.</p></div></div></div>'
        '<div class="jp-Cell jp-CodeCell"><div class="jp-InputArea">'
        '<div class="jp-InputPrompt jp-InputArea-prompt">In&nbsp;[1]:</div>'
        '<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor"><div class="CodeMirror">'
        '<div class="zeroclipboard-container"><clipboard-copy for="cell-1"><span class="notice" '
        "hidden>Copied!</span></clipboard-copy></div>"
        '<div class="highlight-ipynb hl-python"><pre><span></span><span class="n">x</span>'
        '</pre></div><div class="clipboard-copy-txt" id="cell-1">x</div></div></div></div>'
        '<div class="jp-OutputArea"><div class="jp-OutputArea-child">'
        '<div class="jp-OutputPrompt jp-OutputArea-prompt">Out[1]:</div>'
        '<div class="jp-RenderedText jp-OutputArea-output" data-mime-type="text/plain">'
        "<pre>1</pre></div></div></div></div>"
        "</div> <!-- jp-Notebook -->\n</div> <!-- jupyter-wrapper -->\n<style>['x']</style>"
    )
    shaped = site_hook.shape_notebook(html)
    out = shaped.html
    assert shaped.css == [".jupyter-wrapper .jp-A{color:red}"] and shaped.math
    assert "<style" not in out and "<script" not in out and "Copied!" not in out
    assert "clipboard-copy-txt" not in out and "zeroclipboard" not in out
    assert '<div class="language-python highlight"><pre><span></span><code><span class="n">x' in out
    assert 'class="headerlink"' in out and "anchor-link" not in out
    assert 'target="_blank"' in out and 'rel="noopener"' in out
    assert out.count("data-search-exclude") == 3  # In [1], Out[1], the output
    stamped = site_hook.stamp_runtime('<p class="l6-stamp">Verified.</p>', 75.4)
    assert stamped.endswith('Verified. <span class="l6-runtime">Ran in 75 s at build.</span></p>')
    assert site_hook.format_seconds(125) == "2 min 5 s"


AUTOREF = re.compile(r'<autoref identifier=\\?"([\w.]+)\\?">')


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_pages_link_the_library_names_they_use_to_the_api_reference(site: Path, notebook: Path):
    wanted = set(AUTOREF.findall(notebook.read_text(encoding="utf-8")))
    html = page_of(site, notebook).read_text(encoding="utf-8")
    hrefs = set(re.findall(r'href="([^"]*api/[^"]*)"', html))
    missing = [n for n in sorted(wanted) if not any(h.endswith(f"#{n}") for h in hrefs)]
    assert not missing, f"{notebook.name}: no link to the API reference for {missing}"
    if notebook.stem != "data":  # the data page names only loaders' modules
        assert wanted, f"{notebook.name} links none of the library names it uses"
