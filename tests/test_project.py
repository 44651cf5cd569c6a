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
