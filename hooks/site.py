"""MkDocs hooks that shape the executed pages for reading, on any screen, and for search.

mkdocs-jupyter turns each notebook into a block of HTML that carries its own copy of JupyterLab's
stylesheets (about 600 KB), scripts for its copy button, MathJax and Mermaid, a hidden copy of
every code cell, and the In/Out prompts. This hook (listed after the others in ``mkdocs.yml``)
rewrites that HTML once per build, also when the page comes from the execution cache:

- The page's ``<style>`` blocks move into one shared stylesheet,
  ``assets/stylesheets/jupyter.<hash>.css``, stripped of every rule whose classes no page uses;
  ``overrides/main.html`` links it from notebook pages. Its scripts are dropped (one of them
  would import Mermaid from a CDN).
- Code cells become the theme's own code blocks (``div.highlight > pre > code``), so they get
  the theme's colours in both schemes and its copy button; the hidden copy of each cell goes.
- The In/Out prompts stay in the HTML (hidden by ``extra.css``) but out of the search index, as
  do outputs other than Markdown; headings' anchors become the theme's permalinks, so search
  titles carry no pilcrow.
- Each plot gets its alt text from the PNG's ``Description`` field, which
  :func:`lesson6lib.runtime.setup_page` has written from the figure's titles and axis labels.
- KaTeX is loaded only on pages with maths (``page.meta["l6_math"]``).
- Links to the lesson's video open in a new tab.
- The page's stamp ("Verified with torch ...") says how long the notebook ran at build. A page
  read from the execution cache keeps the time measured when it ran: the time is stored next
  to the cached page, keyed by a hash of the page's HTML.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tinycss2
from bs4 import BeautifulSoup

log = logging.getLogger("mkdocs.hooks.lesson6.site")

CSS_DIR = "assets/stylesheets"
WRAPPER_START = '<div class="jupyter-wrapper">'
WRAPPER_END = "<!-- jupyter-wrapper -->"
VIDEO_LINK = re.compile(r"^https://(youtu\.be|(www\.)?youtube\.com)/")
# Inline and display maths as the pages write it (KaTeX's auto-render looks for the same).
MATH = re.compile(r"\$|\\\(|\\\[")
RUNTIME_SUFFIX = ".l6-seconds"  # not ".json": mkdocs-jupyter evicts unknown *.json files


# --- plots: alt text from the PNG ------------------------------------------------------------


def png_text(data: bytes) -> dict[str, str]:
    """The text fields (tEXt, zTXt, iTXt chunks) of a PNG image, by keyword."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return {}
    fields: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        try:
            if kind == b"tEXt":
                key, _, value = body.partition(b"\0")
                fields[key.decode("latin-1")] = value.decode("latin-1")
            elif kind == b"zTXt":
                key, _, value = body.partition(b"\0")
                fields[key.decode("latin-1")] = zlib.decompress(value[1:]).decode("latin-1")
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                compressed, rest = rest[0], rest[2:]
                _language, _, rest = rest.partition(b"\0")
                _translated, _, value = rest.partition(b"\0")
                value = zlib.decompress(value) if compressed else value
                fields[key.decode("latin-1")] = value.decode("utf-8")
            elif kind == b"IEND":
                break
        except (zlib.error, UnicodeDecodeError, IndexError):
            continue
    return fields


def png_description(src: str) -> str:
    """The ``Description`` written into a ``data:image/png;base64,...`` image, or ``""``."""
    prefix = "data:image/png;base64,"
    if not src.startswith(prefix):
        return ""
    try:
        data = base64.b64decode(src[len(prefix) :], validate=False)
    except (binascii.Error, ValueError):
        return ""
    return " ".join(png_text(data).get("Description", "").split())


# --- the notebook's HTML ---------------------------------------------------------------------


@dataclass
class Shaped:
    """A notebook page's HTML after :func:`shape_notebook`, and what was taken out of it."""

    html: str
    css: list[str] = field(default_factory=list)
    math: bool = False
    figures: int = 0
    described: int = 0


def _mark_video_links(soup: BeautifulSoup) -> None:
    for link in soup.find_all("a", href=VIDEO_LINK):
        link["target"] = "_blank"
        link["rel"] = "noopener"


def _has_math(soup: BeautifulSoup) -> bool:
    """Whether the Markdown of the page (prose, not code) holds maths for KaTeX."""
    for block in soup.select(".jp-RenderedMarkdown"):
        text = "".join(
            s for s in block.find_all(string=True) if not s.find_parent(("code", "pre", "script"))
        )
        if MATH.search(text):
            return True
    return False


def _code_cell_as_code_block(soup: BeautifulSoup, editor: Any) -> None:
    """``div.jp-InputArea-editor`` (mkdocs-jupyter's copy button, the highlighted code and a
    hidden copy of it) becomes ``div.highlight > pre > code``, as in the theme's own code
    blocks, which gives the cell the theme's colours and copy button."""
    block = editor.select_one("div.highlight-ipynb")
    if block is None:
        return
    language = next(
        (c[3:] for c in block.get("class", []) if c.startswith("hl-") and len(c) > 3), "python"
    )
    pre = block.find("pre")
    code = soup.new_tag("code")
    for child in list(pre.contents):
        if child.name == "span" and not child.contents and not child.attrs:
            continue  # pygments' empty first span stays outside, as in the theme's blocks
        code.append(child.extract())
    pre.append(code)
    block["class"] = [f"language-{language}", "highlight"]
    editor.replace_with(block.extract())


def shape_notebook(html: str) -> Shaped:
    """Rewrite one notebook page's HTML as mkdocs-jupyter rendered it (see the module's
    docstring). Returns the new HTML and the stylesheets that were inline."""
    start = html.find(WRAPPER_START)
    end = html.find(WRAPPER_END, start)
    if start < 0 or end < 0:
        raise ValueError("not a notebook page rendered by mkdocs-jupyter (no jupyter-wrapper)")
    head = html[:start]
    # The head holds the page's stylesheets and scripts (copy button, MathJax, Mermaid); after
    # the wrapper, mkdocs-jupyter appends the highlighting rules again, as a Python list's repr.
    css = re.findall(r"<style[^>]*>(.*?)</style>", head, flags=re.S)
    soup = BeautifulSoup(html[start : end + len(WRAPPER_END)], "html.parser")

    for editor in soup.select("div.jp-InputArea-editor"):
        _code_cell_as_code_block(soup, editor)
    for empty in soup.select("div.jp-Collapser"):
        empty.decompose()
    for prompt in soup.select("div.jp-InputPrompt, div.jp-OutputPrompt"):
        if prompt.get_text(strip=True):
            prompt["data-search-exclude"] = ""
            prompt["aria-hidden"] = "true"
        else:
            prompt.decompose()
    # Outputs are not what a reader searches for: logs, tables, plots. Markdown outputs are prose.
    for output in soup.select("div.jp-OutputArea-output"):
        if output.get("data-mime-type") != "text/markdown":
            output["data-search-exclude"] = ""
    for anchor in soup.select("a.anchor-link"):
        anchor["class"] = ["headerlink"]
        anchor["title"] = "Permanent link"

    figures = described = 0
    for img in soup.select("div.jp-RenderedImage img"):
        figures += 1
        description = png_description(img.get("src", ""))
        if description:
            img["alt"] = description
            described += 1
    # matplotlib's animation player (to_jshtml) has a frame slider without a label
    for slider in soup.select('input.anim-slider[type="range"]:not([aria-label])'):
        slider["aria-label"] = "Frame of the animation"
    _mark_video_links(soup)
    return Shaped(str(soup), css, _has_math(soup), figures, described)


def shape_markdown(html: str) -> tuple[str, bool]:
    """A Markdown page's HTML: links to the video open in a new tab. Also whether it has maths
    (pymdownx.arithmatex marks each formula)."""
    if "youtu" in html:
        soup = BeautifulSoup(html, "html.parser")
        _mark_video_links(soup)
        html = str(soup)
    return html, 'class="arithmatex"' in html


# --- the shared stylesheet -------------------------------------------------------------------

_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
_NOT = re.compile(r":not\((?:[^()]|\([^()]*\))*\)")
_VAR = re.compile(r"var\(\s*(--[\w-]+)")


def used_classes(html: str) -> set[str]:
    """Every class name in the ``class`` attributes of ``html``."""
    names: set[str] = set()
    for value in re.findall(r"""\bclass=(?:"([^"]*)"|'([^']*)')""", html):
        names.update((value[0] or value[1]).split())
    return names


def _split_selectors(prelude: str) -> list[str]:
    """A selector list split at its top-level commas."""
    parts, depth, current = [], 0, []
    for char in prelude:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _selector_used(selector: str, classes: set[str]) -> bool:
    """Whether a selector can match: every class it requires is used. Classes inside
    ``:not()`` are not required; a selector without classes (``pre``, ``table``) is global,
    which a notebook's stylesheet should not be, so it is dropped."""
    required = _CLASS.findall(_NOT.sub("", selector))
    return bool(required) and all(name in classes for name in required)


def _minify(text: str) -> str:
    # only around braces and semicolons: a space before ":" or "." can be a descendant combinator
    return re.sub(r"\s*([{};])\s*", r"\1", re.sub(r"\s+", " ", text)).strip()


def _prune_rules(rules: list[Any], classes: set[str]) -> list[str]:
    kept: list[str] = []
    for rule in rules:
        if rule.type == "qualified-rule":
            prelude = " ".join(tinycss2.serialize(rule.prelude).split())
            selectors = [s for s in _split_selectors(prelude) if _selector_used(s, classes)]
            if selectors:
                body = tinycss2.serialize(rule.content)
                kept.append(",".join(selectors) + "{" + body.strip() + "}")
        elif rule.type == "at-rule" and rule.at_keyword.lower() in ("media", "supports"):
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            body = _prune_rules(inner, classes)
            if body:
                prelude = " ".join(tinycss2.serialize(rule.prelude).split())
                kept.append(f"@{rule.at_keyword} {prelude}{{{''.join(body)}}}")
        elif rule.type == "at-rule" and rule.at_keyword.lower().endswith("keyframes"):
            kept.append(tinycss2.serialize([rule]))  # dropped below unless an animation uses it
        # @charset, @import (never wanted: it would fetch), @font-face, @page: dropped
    return kept


def _drop_unused_keyframes(rules: list[str]) -> list[str]:
    text = "".join(r for r in rules if not r.lstrip().startswith("@"))
    kept = []
    for rule in rules:
        match = re.match(r"\s*@[\w-]*keyframes\s+([\w-]+)", rule)
        if match is None or re.search(rf"animation[\w-]*:[^;}}]*\b{match[1]}\b", text):
            kept.append(rule)
    return kept


def _drop_unused_variables(css: str) -> str:
    """Remove custom properties (``--jp-...: value``) that nothing reads, directly or through
    other properties, and rules left empty."""
    value = r"(?:[^;{}()]|\((?:[^()]|\([^()]*\))*\))*"
    declared = re.compile(rf"(?<=[{{;])(--[\w-]+):\s*({value})(?:;|(?=}}))")
    values: dict[str, list[str]] = {}
    for name, value in declared.findall(css):
        values.setdefault(name, []).append(value)
    plain = declared.sub("", css)
    needed: set[str] = set()
    todo = set(_VAR.findall(plain))
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for value in values.get(name, []):
            todo.update(_VAR.findall(value))

    def keep(match: re.Match[str]) -> str:
        return match[0] if match[1] in needed else ""

    css = declared.sub(keep, css)
    css = re.sub(r";\s*}", "}", css)
    previous = None
    while previous != css:  # rules, then @media blocks, left empty
        previous = css
        css = re.sub(r"(^|[{}])[^{}@]+\{\s*\}", r"\1", css)
        css = re.sub(r"(^|[{}])@[^{}]+\{\s*\}", r"\1", css)
    return css


def prune_css(sources: list[str], classes: set[str]) -> str:
    """One stylesheet from ``sources`` holding only the rules whose classes are all in
    ``classes``, the keyframes they animate with and the custom properties they read."""
    rules: list[str] = []
    seen: set[str] = set()
    for source in sources:
        parsed = tinycss2.parse_stylesheet(source, skip_comments=True, skip_whitespace=True)
        for rule in _prune_rules(parsed, classes):
            if rule not in seen:
                seen.add(rule)
                rules.append(rule)
    rules = _drop_unused_keyframes(rules)
    return _drop_unused_variables(_minify("\n".join(rules))) + "\n"


# --- run time at build -----------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def stamp_runtime(html: str, seconds: float) -> str:
    """Append "Ran in N s at build." to the page's stamp (``p.l6-stamp``), if it has one."""
    note = f' <span class="l6-runtime">Ran in {format_seconds(seconds)} at build.</span>'
    return re.sub(r'(<p class="l6-stamp">.*?)(</p>)', rf"\g<1>{note}\g<2>", html, count=1)


def _content_key(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()[:32]


class _State:
    """What this build has learnt so far (MkDocs loads the hook afresh for each build)."""

    def __init__(self) -> None:
        self.css_sources: list[str] = []
        self.classes: set[str] = set()
        self.runtimes: dict[str, float] = {}  # src_uri -> seconds
        self.used_runtime_files: set[Path] = set()
        self.cache_dirs: set[Path] = set()
        self.stylesheet: tuple[str, str] | None = None  # (path in the site, text)


_state = _State()


def _is_notebook(page: Any) -> bool:
    return page.file.src_uri.endswith(".ipynb")


def _cache_dir(config: Any) -> Path | None:
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None or not plugin.config.get("cache"):
        return None
    return Path(plugin.config["cache_dir"])


def _time_render(page: Any, config: Any) -> None:
    """Wrap the page's render (mkdocs-jupyter's, which executes or reads the cache) to learn
    how long the notebook ran: measured now if it ran, else as stored when it did."""
    render = page.render
    cache = _cache_dir(config)

    def timed(config: Any, files: Any) -> None:
        before = set(cache.glob("*.json")) if cache and cache.is_dir() else set()
        started = time.perf_counter()
        render(config, files)
        seconds = time.perf_counter() - started
        executed = cache is None or bool(set(cache.glob("*.json")) - before)
        if cache is None:
            _state.runtimes[page.file.src_uri] = seconds
            return
        record = cache / (_content_key(page.content) + RUNTIME_SUFFIX)
        _state.used_runtime_files.add(record)
        _state.cache_dirs.add(cache)
        if executed:
            record.write_text(f"{seconds:.3f}\n", encoding="utf-8")
            _state.runtimes[page.file.src_uri] = seconds
        elif record.is_file():
            _state.runtimes[page.file.src_uri] = float(record.read_text(encoding="utf-8"))
        else:
            log.warning(
                "%s came from the execution cache without its run time; the stamp will not "
                "show one until the page runs again",
                page.file.src_uri,
            )

    page.render = timed


# --- the hooks -------------------------------------------------------------------------------


def on_pre_build(config: Any) -> None:
    global _state
    _state = _State()


def on_pre_page(page: Any, config: Any, files: Any) -> Any:
    if _is_notebook(page) and getattr(page, "render", None) is not None:
        _time_render(page, config)
    return page


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    if _is_notebook(page) and WRAPPER_START in html:
        shaped = shape_notebook(html)
        html = shaped.html
        seconds = _state.runtimes.get(page.file.src_uri)
        if seconds is not None:
            html = stamp_runtime(html, seconds)
        for css in shaped.css:
            if css not in _state.css_sources:
                _state.css_sources.append(css)
        _state.classes |= used_classes(html)
        page.meta["l6_notebook"] = True
        page.meta["l6_math"] = shaped.math
        if shaped.described < shaped.figures:
            log.info(
                "%s: %d of %d figures have no description (give them a title or axis labels)",
                page.file.src_uri,
                shaped.figures - shaped.described,
                shaped.figures,
            )
    else:
        html, math = shape_markdown(html)
        page.meta["l6_math"] = math
    return html


def on_env(env: Any, config: Any, files: Any) -> Any:
    """Every page's content is known now: write the shared notebook stylesheet's name where
    ``overrides/main.html`` finds it."""
    if _state.css_sources:
        text = prune_css(_state.css_sources, _state.classes)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        _state.stylesheet = (f"{CSS_DIR}/jupyter.{digest}.css", text)
        env.globals["l6_jupyter_css"] = _state.stylesheet[0]
    return env


def on_post_build(config: Any) -> None:
    if _state.stylesheet:
        path, text = _state.stylesheet
        target = Path(config.site_dir) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for cache in _state.cache_dirs:  # run times of pages that are no longer cached
        for record in cache.glob("*" + RUNTIME_SUFFIX):
            if record not in _state.used_runtime_files:
                record.unlink(missing_ok=True)
