"""The API reference: every public name of ``lesson6lib`` (each module's ``__all__``) has a
docstring, and, once the site is built (LESSON6_SITE), an entry in the API pages that renders.

A class or function needs a docstring of its own (a dataclass's generated signature does not
count). A constant needs an attribute docstring (a string right after its assignment, which
the API reference shows) or a mention in its module's docstring. A re-exported name is checked
where it is defined."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

import lesson6lib
from tests.conftest import require

SKIP = {"lesson6lib.__main__"}  # the command line: documented by its --help, not imported
MODULES = sorted(
    {"lesson6lib"}
    | {m.name for m in pkgutil.walk_packages(lesson6lib.__path__, "lesson6lib.")} - SKIP
)


def _public(module_name: str) -> list[str]:
    return list(getattr(importlib.import_module(module_name), "__all__", []))


PUBLIC = [(m, n) for m in MODULES for n in _public(m)]


@cache
def _tree(module_name: str) -> ast.Module:
    module = importlib.import_module(module_name)
    return ast.parse(inspect.getsource(module))


def _absolute(module_name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = hasattr(importlib.import_module(module_name), "__path__")
    parts = module_name.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _assigned(statement: ast.stmt, name: str) -> bool:
    if isinstance(statement, ast.Assign):
        targets = [
            n for t in statement.targets for n in (t.elts if isinstance(t, ast.Tuple) else [t])
        ]
        return any(isinstance(t, ast.Name) and t.id == name for t in targets)
    if isinstance(statement, ast.AnnAssign):
        return isinstance(statement.target, ast.Name) and statement.target.id == name
    return False


def definition(module_name: str, name: str) -> tuple[str, str | None]:
    """Where ``name`` of ``module_name`` is defined (module, following imports) and its
    docstring there (an attribute docstring for a constant), or None."""
    body = _tree(module_name).body
    for i, statement in enumerate(body):
        if isinstance(statement, ast.ClassDef | ast.FunctionDef) and statement.name == name:
            return module_name, ast.get_docstring(statement)
        if _assigned(statement, name):
            after = body[i + 1] if i + 1 < len(body) else None
            if (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                return module_name, inspect.cleandoc(after.value.value)
            return module_name, None
        if isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if (alias.asname or alias.name) == name:
                    source = _absolute(module_name, statement)
                    full = f"{source}.{alias.name}"
                    if full in MODULES:  # a submodule, re-exported
                        return full, importlib.import_module(full).__doc__
                    return definition(source, alias.name)
    raise AssertionError(f"{module_name}.{name}: in __all__ but not defined or imported there")


def test_every_module_declares_its_public_names():
    missing = [m for m in MODULES if not hasattr(importlib.import_module(m), "__all__")]
    assert not missing, f"modules without __all__: {missing}"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_has_a_docstring(module_name: str):
    assert (importlib.import_module(module_name).__doc__ or "").strip(), module_name


@pytest.mark.parametrize(("module_name", "name"), PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_every_public_name_has_a_docstring(module_name: str, name: str):
    module = importlib.import_module(module_name)
    assert hasattr(module, name), f"{module_name}.__all__ names {name}, which it lacks"
    home, doc = definition(module_name, name)
    if doc and doc.strip():
        return
    obj = getattr(module, name)
    assert not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)), (
        f"{home}.{name} has no docstring"
    )
    mentioned = [
        m
        for m in {home, module_name}
        if re.search(rf"\b{re.escape(name)}\b", importlib.import_module(m).__doc__ or "")
    ]
    assert mentioned, (
        f"{home}.{name} is a public constant with neither an attribute docstring (a string "
        f"right after the assignment) nor a mention in the docstring of {home}"
    )


# --- the built API pages ----------------------------------------------------------------------


class _Api(HTMLParser):
    """The ids and the text of the API pages (the article only, not the navigation)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.arithmatex = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if "arithmatex" in (a.get("class") or "").split():
            self.arithmatex += 1

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def api_pages() -> dict[str, _Api]:
    raw = os.environ.get("LESSON6_SITE", "")
    require(bool(raw) and (Path(raw) / "index.html").is_file(), "no built site in LESSON6_SITE")
    pages = {}
    for path in sorted((Path(raw) / "api").rglob("index.html")):
        parsed = _Api()
        parsed.feed(path.read_text(encoding="utf-8"))
        pages[path.parent.name] = parsed
    assert pages, "the site has no API pages (docs/api/)"
    return pages


def _home(module_name: str, name: str) -> str:
    obj = getattr(importlib.import_module(module_name), name)
    if inspect.ismodule(obj):
        return obj.__name__
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    return f"{definition(module_name, name)[0]}.{name}"


@pytest.mark.site
def test_every_module_has_a_section(api_pages: dict[str, _Api]):
    ids = set().union(*(p.ids for p in api_pages.values()))
    missing = [m for m in MODULES if m not in ids]
    assert not missing, f"modules with no section in docs/api/: {missing}"


@pytest.mark.site
def test_every_public_name_is_in_the_api_pages(api_pages: dict[str, _Api]):
    ids = set().union(*(p.ids for p in api_pages.values()))
    text = " ".join(" ".join(p.text) for p in api_pages.values())
    missing = []
    for module_name, name in PUBLIC:
        if f"{module_name}.{name}" in ids or _home(module_name, name) in ids:
            continue
        obj = getattr(importlib.import_module(module_name), name)
        documented_constant = not (inspect.isclass(obj) or inspect.isroutine(obj))
        if documented_constant and re.search(rf"\b{re.escape(name)}\b", text):
            continue  # a constant described in its module's docstring
        missing.append(f"{module_name}.{name}")
    assert not missing, f"public names with no entry in the API pages: {missing}"


@pytest.mark.site
def test_docstring_markup_is_rendered(api_pages: dict[str, _Api]):
    leftovers = {
        page: sorted(set(re.findall(r":(?:class|func|meth|mod|attr|exc):`?[\w.~]*", text)))
        for page, parsed in api_pages.items()
        if (text := "".join(parsed.text))
    }
    assert not any(leftovers.values()), f"Sphinx roles shown as typed: {leftovers}"
    raw_math = {p: re.findall(r"\$\\\w+", "".join(a.text)) for p, a in api_pages.items()}
    assert not any(raw_math.values()), f"LaTeX shown as typed: {raw_math}"
    # the optimizers' update rules are LaTeX: arithmatex marks them for KaTeX
    assert api_pages["training"].arithmatex >= 10
