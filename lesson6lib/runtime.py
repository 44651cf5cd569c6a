"""Seeding, device choice and the "verified with" stamp that every page shows.

One place decides how a run is made reproducible: :func:`seed_everything`. Pages call
:func:`setup_page` once, at the top, which seeds, fixes the CPU thread count and returns the stamp.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import random
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PageInfo", "get_device", "seed_everything", "setup_page", "verified_stamp"]

DEVICE_ENV = "LESSON6_DEVICE"
THREADS_ENV = "LESSON6_THREADS"
_MAX_SEED = 2**32 - 1


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    With the same seed, the same code and the same thread count, CPU runs give the same numbers
    bit for bit. On a GPU, cuDNN is also told to pick deterministic kernels.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**32 - 1], got {seed}")
    random.seed(int(seed))
    np.random.seed(int(seed))  # noqa: NPY002 (seed the global one too)
    torch.manual_seed(int(seed))
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def get_device(name: str | torch.device | None = None) -> torch.device:
    """The device to run on: CPU unless asked otherwise.

    ``name`` is ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` (a GPU if there is one) or a
    ``torch.device``. ``None`` reads ``$LESSON6_DEVICE`` and falls back to ``"cpu"``. Asking for
    a GPU that is not there is an error, never a silent fall back to the CPU.
    """
    if name is None:
        name = os.environ.get(DEVICE_ENV, "cpu")
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise TypeError(f"device must be a str or torch.device, got {type(name).__name__}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}") from err
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for, but torch sees no CUDA GPU here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} was asked for, but only {torch.cuda.device_count()} GPU(s) exist"
            )
    return device


def _device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "CPU"


def verified_stamp(device: torch.device | str = "cpu", when: _dt.date | None = None) -> str:
    """One line saying which torch, Python and device produced a page's numbers, and when."""
    device = torch.device(device)
    when = when or _dt.date.today()
    return (
        f"Verified with torch {torch.__version__} on {_device_label(device)}, "
        f"Python {platform.python_version()}, on {when.isoformat()}."
    )


@dataclass(frozen=True)
class PageInfo:
    """What :func:`setup_page` set up; shows as the page's stamp in a notebook."""

    seed: int
    device: torch.device
    threads: int
    stamp: str

    def _repr_html_(self) -> str:
        return f'<p class="l6-stamp">{self.stamp}</p>'

    def _repr_markdown_(self) -> str:
        return f"*{self.stamp}*"

    def __repr__(self) -> str:
        return self.stamp


def setup_page(
    seed: int = 0, device: str | torch.device | None = None, threads: int | None = None
) -> PageInfo:
    """Seed, choose the device, fix torch's CPU thread count and set the plot style.

    ``threads`` defaults to ``$LESSON6_THREADS`` or 1: a fixed count keeps CPU results identical
    from run to run (float sums depend on how work is split), and the site build shares 2 cores.

    In a notebook (matplotlib's inline backend), figures are also shown as PNGs with twice their
    pixel density (sharp on high-density screens), and each PNG carries a description of its
    figure in its ``Description`` text field, made of the figure's title and each panel's title
    and axis labels (e.g. "Loss by epoch: loss against epoch"). The site uses it as the image's
    alt text, so give every figure a title or labelled axes.
    """
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "1")
        try:
            threads = int(raw)
        except ValueError as err:
            raise ValueError(f"${THREADS_ENV} must be a positive integer, got {raw!r}") from err
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    from lesson6lib.plots import apply_style  # matplotlib is only loaded where pages plot

    torch.set_num_threads(threads)
    seed_everything(seed)
    apply_style()
    dev = get_device(device)

    import matplotlib as mpl

    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # no IPython, so no notebook to show figures in
        shell = None
    try:  # the backend's name, without resolving it
        backend = str(mpl.get_backend(auto_select=False)).lower()
    except TypeError:  # matplotlib < 3.10
        backend = str(mpl.rcParams._get("backend")).lower()
    if shell is not None and backend.endswith(("inline", "backend_inline")):
        # Importing the backend sets up its formatters now, once, so that a later
        # `import matplotlib.pyplot` cannot replace the one set below.
        import re

        import matplotlib_inline.backend_inline  # noqa: F401
        from IPython.core.pylabtools import retina_figure
        from matplotlib.figure import Figure

        def plain(text: str) -> str:  # no mathtext markup: "$\\eta$ (log)" reads "eta (log)"
            text = re.sub(r"\\([A-Za-z]+)", r"\1", text.replace("$", ""))
            return " ".join(text.replace("{", "").replace("}", "").split())

        def describe(fig: Figure) -> str:
            panels = []
            for ax in (ax for ax in fig.axes if ax.get_visible()):
                title = plain(" ".join(ax.get_title(loc) for loc in ("left", "center", "right")))
                x, y = plain(ax.get_xlabel()), plain(ax.get_ylabel())
                axes = f"{y} against {x}" if x and y else (y or (x and f"plotted by {x}"))
                if title or axes:
                    panels.append(f"{title}: {axes}" if title and axes else title or axes)
            head = plain(fig.get_suptitle() if hasattr(fig, "get_suptitle") else "")
            body = "; ".join(dict.fromkeys(panels))  # panels alike are said once
            if not (head and body):
                return f"{head or body}." if head or body else ""
            return f"{head}: {body}." if len(panels) == 1 else f"{head}. Panels: {body}."

        def png(fig: Figure):
            text = describe(fig)
            return retina_figure(fig, base64=True, metadata={"Description": text} if text else {})

        shell.display_formatter.formatters["image/png"].for_type(Figure, png)
    return PageInfo(seed=seed, device=dev, threads=threads, stamp=verified_stamp(dev))
