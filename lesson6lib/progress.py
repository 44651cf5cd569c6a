"""The training loop's progress line: one tqdm bar per epoch, closed with the epoch's losses.

Inside a Jupyter kernel the bar writes into one display output that is updated in place, so an
executed notebook (and so a page of the site) keeps only the final line of each epoch; elsewhere
it writes to stdout as tqdm does.
"""

from __future__ import annotations

import sys

from tqdm.std import tqdm

__all__ = ["progress_bar"]


class _NotebookLine:
    """A file for tqdm inside a Jupyter kernel: its latest line is shown in one output that is
    updated in place."""

    def __init__(self) -> None:
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip("\n")
        if line.strip():
            self._handle.update(self._pretty(line))

    def flush(self) -> None:
        pass


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar(total: int | None, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar of ``total`` batches, labelled ``desc``; a disabled bar prints nothing."""
    out = _NotebookLine() if enabled and _in_notebook() else sys.stdout
    return tqdm(
        total=total,
        desc=desc,
        disable=not enabled,
        file=out,
        bar_format="{desc} {bar:16} {n}/{total} {elapsed}{postfix}",
        mininterval=0.5,
        ascii=False,
    )
