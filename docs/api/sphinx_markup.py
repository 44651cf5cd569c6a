"""A Griffe extension for the API reference: the library's Sphinx-style inline markup, in
Markdown.

The docstrings of ``lesson6lib`` cross-reference with Sphinx roles (``:class:`Learner```,
``:func:`~lesson6lib.optim.layer_groups```, ``:meth:`Preset.check```) and end a paragraph with
``::`` before a literal block. mkdocstrings renders docstrings as Markdown, where both would
show as typed. Before any docstring is parsed, this extension rewrites:

- each role into an autorefs link, ``[`Learner`][lesson6lib.learner.Learner]``, the name
  resolved as Python would from where the docstring sits (its object, then the enclosing class
  and module, imports included); ``~`` shows the last part of the name only, ``!`` never links,
  ``title <target>`` shows the title. A name that points outside ``lesson6lib`` stays code
  without a link; one that resolves nowhere is logged as a warning, which fails a strict build;
- a paragraph's closing ``::`` into ``:`` (the indented block after it is already Markdown's
  code block).

A name a module re-exports (listed in its ``__all__``, defined in another module of the
library) is documented once, where it is defined: the re-exporting module's entry lists it in
an "Also exported here" line of links instead of repeating it.

mkdocstrings loads it through the ``extensions`` option in ``mkdocs.yml``. In a Python session,
``help()`` still shows the docstrings as they are written.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import griffe

log = logging.getLogger("mkdocs.plugins.lesson6.api")

PACKAGE = "lesson6lib"
ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|attr|data|exc|obj):`([^`]+)`")
TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$")
LITERAL_INTRO = re.compile(r"(?<=\S)::[ \t]*\n(?=[ \t]*\n)")


def _target_path(obj: griffe.Object, name: str) -> str | None:
    """The canonical path of ``name`` as seen from ``obj``'s docstring, or None."""
    if name.startswith(PACKAGE + ".") or name == PACKAGE:
        path = name
    else:
        first, _, rest = name.partition(".")
        try:
            path = obj.resolve(first)
        except griffe.NameResolutionError:
            return None
        path = f"{path}.{rest}" if rest else path
    if not (path == PACKAGE or path.startswith(PACKAGE + ".")):
        return path  # outside the library: no page to link to
    try:
        return obj.modules_collection[path].canonical_path
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def rewrite(obj: griffe.Object, text: str) -> str:
    """``text``, a docstring of ``obj``, with its Sphinx roles and ``::`` in Markdown."""

    def role(match: re.Match[str]) -> str:
        kind, body = match.groups()
        titled = TITLED.match(body)
        title, name = titled.groups() if titled else (None, body)
        plain = name.startswith("!")
        name = name.lstrip("!~")
        shown = title or (name.rpartition(".")[2] if body.startswith("~") else name)
        if plain:
            return f"`{shown}`"
        path = _target_path(obj, name)
        if path is None:
            log.warning("%s: cannot resolve :%s:`%s` in its docstring", obj.path, kind, body)
            return f"`{shown}`"
        if not path.startswith(PACKAGE):
            return f"`{shown}`"
        return f"[`{shown}`][{path}]"

    text = ROLE.sub(role, text)
    return LITERAL_INTRO.sub(":\n", text)


def _objects(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _fold_reexports(module: griffe.Module) -> None:
    """Hide the library names ``module`` re-exports and link to them from its docstring."""
    names = []
    for name, member in module.members.items():
        if member.is_alias and member.is_public and member.target_path.startswith(PACKAGE + "."):
            member.public = False
            try:  # an object with no docstring has no entry to link to
                target = member.final_target
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                target = None
            documented = target is not None and (target.is_module or target.has_docstring)
            names.append(f"[`{name}`][{target.path}]" if documented else f"`{name}`")
    if names and module.docstring is not None:
        module.docstring.value += "\n\nAlso exported here: " + ", ".join(names) + "."


class SphinxMarkup(griffe.Extension):
    """Rewrite every docstring of the package once it is loaded (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj, obj.docstring.value)
            if obj.is_module:
                _fold_reexports(obj)
