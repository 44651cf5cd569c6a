"""MkDocs hooks that make a page's notebook work away from the site.

- The repository's address is configured once, as ``repo_url`` in ``mkdocs.yml`` (from
  ``$LESSON6_REPO_URL``). Each notebook's first code cell names the repository it installs
  ``lesson6lib`` from when it runs on Colab or Kaggle (``REPO_URL = "..."``); this hook puts
  ``repo_url`` there in the rendered page and in the downloadable copy, so a site built from a
  fork points at the fork.
- The downloadable copy that mkdocs-jupyter places next to each page gets absolute links: a
  link to another page (``../rnn-more/``, ``rnn-more.ipynb#anchor``) becomes a link into the
  hosted site (``site_url``), so it still works in a notebook opened outside the site.
- A link written ``repo:PATH`` (e.g. ``[the README](repo:README.md#running-on-a-gpu)``, on any
  page) points at ``PATH`` in the repository, on the site and in the downloadable copy.
- Each notebook page gets the addresses of its "Open in Colab" and "Open in Kaggle" buttons
  (``overrides/partials/actions.html`` shows them), both built from ``repo_url``.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

log = logging.getLogger("mkdocs.hooks.lesson6.notebooks")

BRANCH = "main"  # the branch the Colab and Kaggle buttons open
# The assignment in each notebook's first code cell that names the repository.
REPO_LINE = re.compile(r'^(REPO_URL = ")([^"]*)(")', re.MULTILINE)
# A relative link in Markdown or HTML: another page's folder, or a source .ipynb/.md file.
_TARGET = r"(?!/|#|[a-z][a-z0-9+.-]*:)([\w./-]*?(?:/|\.ipynb|\.md))(#[\w-]*)?"
MD_LINK = re.compile(r"(\]\()" + _TARGET + r"(\))")
HTML_LINK = re.compile(r"""(href=["'])""" + _TARGET + r"""(["'])""")
REPO_LINK = re.compile(r"""(\]\(|href=["'])repo:""")


def github_path(repo_url: str) -> str:
    """``OWNER/REPO`` of a GitHub repository's address; a clear error for anything else."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repo_url or "")
    if not match:
        raise ValueError(f"repo_url must be https://github.com/OWNER/REPO, got {repo_url!r}")
    return f"{match[1]}/{match[2]}"


def colab_url(repo_url: str, src_uri: str, branch: str = BRANCH) -> str:
    """Colab's address for ``docs/<src_uri>`` of the repository."""
    return (
        f"https://colab.research.google.com/github/{github_path(repo_url)}"
        f"/blob/{branch}/docs/{src_uri}"
    )


def kaggle_url(repo_url: str, src_uri: str, branch: str = BRANCH) -> str:
    """Kaggle's "new notebook from" address for the raw ``docs/<src_uri>`` of the repository."""
    raw = f"https://raw.githubusercontent.com/{github_path(repo_url)}/{branch}/docs/{src_uri}"
    return f"https://kaggle.com/kernels/welcome?src={raw}"


def repo_links(text: str, repo_url: str, branch: str = BRANCH) -> str:
    """Every ``repo:PATH`` link of ``text`` (Markdown or HTML) as the file's GitHub address."""
    return REPO_LINK.sub(lambda m: f"{m[1]}{repo_url}/blob/{branch}/", text)


def first_code_cell(nb: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def _source(cell: dict[str, Any]) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def notebook_repo_url(nb: dict[str, Any]) -> str | None:
    """The repository named in the notebook's first code cell, or None if it names none."""
    match = REPO_LINE.search(_source(first_code_cell(nb)))
    return match[2] if match else None


def page_url(link: str, src_uri: str, page_abs: str, site_url: str) -> str:
    """``link`` from the notebook ``src_uri`` (a page at ``page_abs`` under ``site_url``),
    made absolute: a source file (``x.ipynb``, ``x.md``) becomes its page's address."""
    path, _, anchor = link.partition("#")
    if path.endswith((".ipynb", ".md")):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(src_uri), path))
        stem = target.rsplit(".", 1)[0]
        path = "" if stem == "index" else stem.removesuffix("/index") + "/"
        url = urljoin(site_url, path)
    else:
        url = urljoin(urljoin(site_url, page_abs), path)
    return url + (f"#{anchor}" if anchor else "")


def absolute_links(text: str, src_uri: str, page_abs: str, site_url: str) -> str:
    """Every relative page link of a Markdown cell's ``text`` made absolute."""

    def fix(match: re.Match) -> str:
        link = match[2] + (match[3] or "")
        return match[1] + page_url(link, src_uri, page_abs, site_url) + match[4]

    return HTML_LINK.sub(fix, MD_LINK.sub(fix, text))


def portable_copy(
    nb: dict[str, Any], src_uri: str, page_abs: str, site_url: str, repo_url: str
) -> dict[str, Any]:
    """The notebook as a reader downloads it: absolute links, this site's repository."""
    for cell in nb["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            text = repo_links(absolute_links(text, src_uri, page_abs, site_url), repo_url)
        elif cell is first_code_cell(nb):
            text = REPO_LINE.sub(lambda m: m[1] + repo_url + m[3], text, count=1)
        cell["source"] = text.splitlines(keepends=True)
    return nb


def _repo(config: Any) -> str:
    return (config.get("repo_url") or "").rstrip("/")


def _is_notebook(page: Any) -> bool:
    return page.file.src_uri.endswith(".ipynb")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Point ``repo:`` links at the repository; show it in a notebook page's first cell."""
    if not _repo(config):
        return html
    html = repo_links(html, _repo(config))
    if not _is_notebook(page):
        return html
    nb = json.loads(Path(page.file.abs_src_path).read_text(encoding="utf-8"))
    committed = notebook_repo_url(nb)
    if committed and committed != _repo(config):
        html = html.replace(committed, _repo(config))
    return html


def on_page_context(context: dict, page: Any, config: Any, nav: Any) -> dict:
    """The Colab and Kaggle addresses of a notebook page, for the page's action buttons."""
    if _is_notebook(page) and _repo(config):
        page.meta["l6_colab_url"] = colab_url(_repo(config), page.file.src_uri)
        page.meta["l6_kaggle_url"] = kaggle_url(_repo(config), page.file.src_uri)
    return context


def on_post_build(config: Any) -> None:
    """Rewrite the notebook copies mkdocs-jupyter placed next to each page."""
    site_dir = Path(config["site_dir"])
    docs_dir = Path(config["docs_dir"])
    site_url = config.get("site_url") or "/"
    for src in sorted(docs_dir.rglob("*.ipynb")):
        src_uri = src.relative_to(docs_dir).as_posix()
        page_abs = src_uri.removesuffix(".ipynb") + "/"
        copy = site_dir / page_abs / src.name
        if not copy.is_file():
            continue
        nb = json.loads(copy.read_text(encoding="utf-8"))
        nb = portable_copy(nb, src_uri, page_abs, site_url, _repo(config))
        copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        log.debug("made %s portable", copy)
