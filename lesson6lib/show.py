"""Showing the library's own code on a page: :func:`show_source` renders the source of a
function, class or method as highlighted Python, so a page shows the code the lesson writes
from its one source, the library, never from a copy."""

from __future__ import annotations

import html
import inspect
import textwrap

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

__all__ = ["SourceCode", "show_source"]


class SourceCode:
    """Source text that a notebook displays highlighted (HTML with the same markup and classes
    as the site's own code blocks, which gives it their colours and copy button) and that a
    terminal prints as plain text."""

    def __init__(self, text: str, name: str) -> None:
        self.text, self.name = text, name

    def _repr_html_(self) -> str:
        formatter = HtmlFormatter(cssclass="highlight", wrapcode=True)
        code = highlight(self.text, PythonLexer(), formatter)
        label = html.escape(self.name)
        return f'<div class="l6-source" aria-label="source of {label}">{code}</div>'

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def show_source(obj: object) -> SourceCode:
    """The source of ``obj`` (a function, class, method or property of the library), dedented.
    Display it as a cell's last value."""
    target = obj.fget if isinstance(obj, property) else obj
    try:
        text = inspect.getsource(target)
    except (TypeError, OSError) as err:
        raise TypeError(f"show_source needs a function, class or method, got {obj!r}") from err
    name = getattr(target, "__qualname__", type(target).__name__)
    return SourceCode(textwrap.dedent(text).rstrip() + "\n", name)
