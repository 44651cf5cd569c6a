"""The project's own rules: clean notebooks, pages that start the same way, the home page's
timeline, and a README whose test command is the one CI runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "docs").glob("*.ipynb"))
TIMESTAMP = re.compile(r"\[(\d\d):(\d\d):(\d\d)\]\(https://youtu\.be/sHcLkfRrgoQ\?t=(\d+)\)")


def test_there_are_pages():
    assert NOTEBOOKS, "docs/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


CODE_WIDTH = 88  # a code cell's lines fit the page's code block without a scroll bar


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_in_88_characters(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    long = [
        f"{path.name}: cell {i} (code cell {n}), line {j}: {len(line)} characters: {line!r}"
        for n, (i, cell) in enumerate(
            ((i, c) for i, c in enumerate(cells) if c["cell_type"] == "code"), start=1
        )
        for j, line in enumerate("".join(cell["source"]).splitlines(), start=1)
        if len(line) > CODE_WIDTH
    ]
    if long:
        pytest.fail(f"code lines longer than {CODE_WIDTH} characters:\n" + "\n".join(long))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_page_opens_with_title_and_stamp(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first_md = next(c for c in cells if c["cell_type"] == "markdown")
    assert "".join(first_md["source"]).startswith("# "), "a page opens with its # title"
    first_code = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert "setup_page(" in first_code, "a page's first code cell calls setup_page()"


def _timestamps(text: str) -> list[tuple[str, int, int]]:
    return [
        (f"{h}:{m}:{s}", int(h) * 3600 + int(m) * 60 + int(s), int(t))
        for h, m, s, t in TIMESTAMP.findall(text)
    ]


@pytest.mark.parametrize("path", [ROOT / "docs" / "index.md", *NOTEBOOKS], ids=lambda p: p.name)
def test_every_timestamp_links_to_its_second(path: Path):
    text = path.read_text(encoding="utf-8")
    for shown, seconds, linked in _timestamps(text):
        assert seconds == linked, f"{path.name}: {shown} links to t={linked}, not t={seconds}"


def test_home_lists_the_whole_timeline_in_order():
    stamps = _timestamps((ROOT / "docs" / "index.md").read_text(encoding="utf-8"))
    shown = [s for s, _, _ in stamps]
    expected = (
        "00:00:10 00:02:10 00:12:10 00:16:10 00:18:30 00:24:15 00:41:02 00:47:10 00:53:20 "
        "00:59:55 01:02:55 01:07:05 01:09:15 01:12:05 01:23:25 01:36:05 01:48:45 01:57:55 "
        "02:05:55 02:09:15"
    ).split()
    assert shown == expected


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"^(python3 -m venv .*nox -s ci)$", ci, re.MULTILINE)
    assert command, ".ci/run does not run the README's test command"
    assert command.group(1) in readme


def test_torch_pin_cannot_pull_a_cuda_build():
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==2\.13\.0$", pins, re.MULTILINE)
    for path in (ROOT / ".ci" / "run", ROOT / "noxfile.py", ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"pip install[^\n]*\btorch\b(?!==2\.13\.0)", text), path.name


# --- the library's layout (DESIGN section 2) -----------------------------------------------------

LIBRARY = ROOT / "lesson6lib"
MODULES = sorted(p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts)
MODEL_MODULES = ("collab", "rnn", "entity")


def _imports(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # imports only a type checker sees are not run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("lesson6lib")}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIBRARY)))
def test_no_module_is_over_300_lines(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 300, f"{path.name} has {lines} lines; split it by topic"


@pytest.mark.parametrize("name", MODEL_MODULES)
def test_models_do_not_import_the_training_loop(name: str):
    imports = _imports(LIBRARY / f"{name}.py")
    loop = {"lesson6lib.learner", "lesson6lib.callbacks", "lesson6lib.experiments"}
    assert not any(m.startswith(tuple(loop)) for m in imports), imports


def test_the_library_has_no_import_cycle():
    known = {_module_name(p): p for p in MODULES}
    graph = {}
    for name, path in known.items():
        deps = set()
        for m in _imports(path):
            while m and m not in known:
                m = m.rpartition(".")[0]
            if m and m != name and m != "lesson6lib":
                deps.add(m)
        graph[name] = deps
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, dep]))
            if dep not in state:
                visit(dep, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
