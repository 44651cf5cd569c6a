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
    text = "".join(Page(site / "rossmann" / "index.html").text).replace("\xa0", " ")
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


def test_execution_cache_is_reused_and_follows_the_library(tmp_path: Path):
    project = _throwaway_project(tmp_path, ["print(6 * 7)"])
    logs = []
    for step in ("cold", "warm", "library changed"):
        if step == "library changed":
            with open(project / "lesson6lib" / "__init__.py", "a", encoding="utf-8") as fh:
                fh.write("\n# a change to the library\n")
        done = _build(project)
        assert done.returncode == 0, done.stderr[-3000:]
        logs.append(done.stdout + done.stderr)
    cold, warm, changed = logs
    assert "Cache miss" in cold and "Cache hit" in warm and "Cache miss" in changed
    assert "42" in (project / "site" / "page" / "index.html").read_text(encoding="utf-8")
