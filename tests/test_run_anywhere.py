"""A page's notebook works away from the site: its first cell installs lesson6lib on Colab and
Kaggle only, the downloadable copy links back to the hosted site, the Colab and Kaggle buttons
point at the repository named once in mkdocs.yml, and the Pages workflow passes both addresses."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

DOCS = ROOT / "docs"
NOTEBOOKS = sorted(DOCS.glob("*.ipynb"))
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
DEFAULT_REPO = re.search(r'^repo_url: !ENV \[LESSON6_REPO_URL, "([^"]+)"\]$', MKDOCS, re.M)


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location(
        "lesson6_nb_hook", ROOT / "hooks" / "notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _first_cell(path: Path) -> str:
    cell = next(c for c in _nb(path)["cells"] if c["cell_type"] == "code")
    return "".join(cell["source"])


# --- the repository, configured once ----------------------------------------------------------


def test_repo_url_comes_from_the_environment():
    assert DEFAULT_REPO, "mkdocs.yml's repo_url must be !ENV [LESSON6_REPO_URL, default]"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", DEFAULT_REPO[1])
    assert re.search(r"^edit_uri: blob/main/docs/$", MKDOCS, re.M)
    assert re.search(r"^    - content\.action\.view$", MKDOCS, re.M)
    assert re.search(r"^  - hooks/notebooks\.py$", MKDOCS, re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_names_the_configured_repository(path, hook):
    source = _first_cell(path)
    assert "setup_page(" in source
    assert hook.notebook_repo_url(_nb(path)) == DEFAULT_REPO[1], (
        "the first cell's REPO_URL must be mkdocs.yml's default repo_url (the hook puts the "
        "configured one into the site and the download)"
    )
    assert source.count("https://") == 1, "the repository is named once in the cell"
    assert "pip install -c constraints.txt -e ." in source, "the cell says how to install"


def test_workflow_passes_site_and_repository_and_runs_nox_docs():
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8")
    assert re.search(
        r"^\s+LESSON6_SITE_URL: https://\$\{\{ github\.repository_owner \}\}\.github\.io/",
        workflow,
        re.M,
    )
    assert re.search(
        r"^\s+LESSON6_REPO_URL: https://github\.com/\$\{\{ github\.repository \}\}$", workflow, re.M
    )
    assert re.search(r"^\s+\.venv/bin/nox -s docs$", workflow, re.M)


def test_action_buttons_have_labels():
    actions = (ROOT / "overrides" / "partials" / "actions.html").read_text(encoding="utf-8")
    for needle in ("page.nb_url", "l6_colab_url", "l6_kaggle_url", "content.action.view"):
        assert needle in actions
    assert actions.count("aria-label=") == 4 and actions.count("title=") == 4


# --- URL shapes ----------------------------------------------------------------------------------


def test_colab_and_kaggle_urls(hook):
    repo = "https://github.com/someone/lesson6"
    assert hook.colab_url(repo, "sgd.ipynb") == (
        "https://colab.research.google.com/github/someone/lesson6/blob/main/docs/sgd.ipynb"
    )
    assert hook.kaggle_url(repo + "/", "rnn-more.ipynb") == (
        "https://kaggle.com/kernels/welcome?src="
        "https://raw.githubusercontent.com/someone/lesson6/main/docs/rnn-more.ipynb"
    )
    assert hook.github_path(repo + ".git") == "someone/lesson6"
    for bad in ("https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a", ""):
        with pytest.raises(ValueError, match="repo_url"):
            hook.github_path(bad)


@pytest.mark.parametrize(
    "link, expected",
    [
        ("../rnn-more/", "https://me.github.io/lesson6/rnn-more/"),
        ("../rossmann/#closed-days", "https://me.github.io/lesson6/rossmann/#closed-days"),
        ("collab.ipynb#pca", "https://me.github.io/lesson6/collab/#pca"),
        ("index.md", "https://me.github.io/lesson6/"),
        ("./", "https://me.github.io/lesson6/sgd/"),
    ],
)
def test_page_links_become_site_links(hook, link, expected):
    site = "https://me.github.io/lesson6/"
    assert hook.page_url(link, "sgd.ipynb", "sgd/", site) == expected


def test_portable_copy(hook):
    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "source": ["See [next](../rnn-more/) and [v](https://x.org/a/)"],
            },
            {
                "cell_type": "markdown",
                "source": ['<a href="../data/">data</a>, [r](repo:README.md#x)'],
            },
            {"cell_type": "code", "source": ['REPO_URL = "https://github.com/a/b"\n', "x = 1\n"]},
            {"cell_type": "code", "source": ["y = m[k](z)[0](../data/)\n"]},
        ]
    }
    out = hook.portable_copy(nb, "sgd.ipynb", "sgd/", "https://s.io/l6/", "https://github.com/o/r")
    text = ["".join(c["source"]) for c in out["cells"]]
    assert text[0] == "See [next](https://s.io/l6/rnn-more/) and [v](https://x.org/a/)"
    assert text[1] == (
        '<a href="https://s.io/l6/data/">data</a>, [r](https://github.com/o/r/blob/main/README.md#x)'
    )
    assert text[2] == 'REPO_URL = "https://github.com/o/r"\nx = 1\n'
    assert text[3] == "y = m[k](z)[0](../data/)\n", "code cells other than the first are left alone"


# --- the first cell: installs on Colab and Kaggle only -----------------------------------------

# Runs a first cell with subprocess and sockets replaced by recorders, then prints what it did.
PROBE = textwrap.dedent(
    """
    import json, socket, subprocess, sys, types
    calls = []
    def record(*args, **kwargs):
        calls.append([str(a) for a in args[0]] if args and isinstance(args[0], list) else args)
        return subprocess.CompletedProcess(args, 0)
    subprocess.run = subprocess.Popen = subprocess.check_call = record
    def no_network(*args, **kwargs):
        raise AssertionError("the first cell opened a network connection")
    socket.socket.connect = no_network
    socket.create_connection = no_network
    if sys.argv[2] == "colab":
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    exec(compile(open(sys.argv[1]).read(), "first_cell", "exec"), {"__name__": "__main__"})
    print(json.dumps(calls))
    """
)


def _probe(tmp_path: Path, code: str, where: str, **env: str) -> list:
    (tmp_path / "cell.py").write_text(code, encoding="utf-8")
    (tmp_path / "probe.py").write_text(PROBE, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k != "KAGGLE_KERNEL_RUN_TYPE"}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py"), str(tmp_path / "cell.py"), where],
        capture_output=True,
        text=True,
        env=clean | env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_installs_nothing_here(path, tmp_path):
    assert _probe(tmp_path, _first_cell(path), "here") == []


@pytest.mark.parametrize(
    "where, env", [("colab", {}), ("kaggle", {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"})]
)
def test_first_cell_installs_from_the_repository_on_colab_and_kaggle(where, env, tmp_path):
    calls = _probe(tmp_path, _first_cell(DOCS / "sgd.ipynb"), where, **env)
    assert calls == [
        [sys.executable, "-m", "pip", "install", "-q", f"lesson6lib @ git+{DEFAULT_REPO[1]}"]
    ]


# --- a downloaded notebook runs on its own -------------------------------------------------------


def test_downloaded_notebook_runs_outside_the_checkout(hook, tmp_path, real_data_root):
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    require(jupyter is not None, "jupyter is not installed next to this Python")
    nb = hook.portable_copy(
        _nb(DOCS / "sgd.ipynb"), "sgd.ipynb", "sgd/", "https://me.github.io/l6/", DEFAULT_REPO[1]
    )
    copy = tmp_path / "sgd.ipynb"
    copy.write_text(json.dumps(nb), encoding="utf-8")
    assert "](../" not in copy.read_text(encoding="utf-8")
    env = os.environ | {"LESSON6_DATA": str(real_data_root), "LESSON6_OFFLINE": "1"}
    env.pop("KAGGLE_KERNEL_RUN_TYPE", None)
    done = subprocess.run(
        [jupyter, "nbconvert", "--to", "notebook", "--execute", "--output", "ran.ipynb", str(copy)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ran = _nb(tmp_path / "ran.ipynb")
    code = [c for c in ran["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), "every cell ran"
    assert not any(o.get("output_type") == "error" for c in code for o in c["outputs"])
