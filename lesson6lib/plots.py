"""Plot helpers the pages share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import matplotlib as mpl
import numpy as np

__all__ = [
    "ARROW_COLOURS",
    "DIAGRAMS",
    "PALETTE",
    "PCA",
    "animation_html",
    "apply_style",
    "contour_paths",
    "draw_diagram",
    "label_points",
    "pca",
]

# Colour-blind-safe (Okabe & Ito), readable on the white figure background in both site themes.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""The colours of every plot, in order: Okabe & Ito's palette, safe for colour-blind readers."""


def apply_style() -> None:
    """Figures that read in light and dark mode: an opaque white background (so a plot keeps its
    contrast on the dark theme), a light grid, the shared palette and a legible size."""
    mpl.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "figure.dpi": 110,
            "figure.figsize": (7.5, 3.6),
            "axes.grid": True,
            "grid.color": "#dddddd",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "font.size": 10,
        }
    )


@dataclass(frozen=True)
class PCA:
    """Principal components of a set of vectors: ``coords`` (rows, k), each row's place on each
    component; ``components`` (k, dims); ``explained`` the share of the variance each explains."""

    coords: np.ndarray
    components: np.ndarray
    explained: np.ndarray


def pca(vectors, n_components: int = 2) -> PCA:
    """PCA of the rows of ``vectors`` (an array or frame, rows = the things to place, e.g. one
    embedding per movie) by SVD of the centred matrix. Signs follow scikit-learn's rule (each
    component's largest loading is positive), so the same data gives the same picture."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or not 1 <= n_components <= min(x.shape):
        raise ValueError(
            f"need a 2-D array and 1 <= n_components <= {min(x.shape)}, got "
            f"shape {x.shape} and n_components={n_components}"
        )
    centred = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    u, vt = u * signs, vt * signs[:, None]
    variance = s**2
    k = n_components
    return PCA(u[:, :k] * s[:k], vt[:k], variance[:k] / variance.sum())


# Where a label may go, in points from its point: beside it, then further up or down.
_SPOTS = [(4 * sx, r * sy) for r in (3, 12, 21, 30) for sy in (1, -1) for sx in (1, -1)]
_LEADER = {"arrowstyle": "-", "color": "#999999", "lw": 0.6}


def label_points(ax, points, labels, fontsize: float | None = None, **scatter) -> list:
    """A scatter of 2-D ``points``, each labelled: greedily, a label takes the first of 16 spots
    around its point (beside it, then further up or down with a leader line) whose box overlaps
    no earlier label and no point, else the one that overlaps least (by area, in display space:
    set the axes' limits or margins first). Returns the labels (matplotlib annotations)."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    points = np.asarray(points, dtype=float)
    ax.scatter(points[:, 0], points[:, 1], **({"color": PALETTE[0]} | scatter))
    ax.autoscale_view()
    renderer = ax.figure.canvas.get_renderer()
    taken = [Bbox.from_bounds(x - 2, y - 2, 4, 4) for x, y in ax.transData.transform(points)]
    placed = []
    for label, xy in zip(labels, points, strict=True):
        tried = []
        for dx, dy in _SPOTS:
            text = ax.annotate(
                str(label), xy, (dx, dy), textcoords="offset points", fontsize=fontsize,
                ha="left" if dx > 0 else "right", va="bottom" if dy > 0 else "top",
                arrowprops=dict(_LEADER, relpos=(dx < 0, dy < 0)) if abs(dy) > 3 else None,
            )  # fmt: skip
            text.update_positions(renderer)  # place it, then measure the text without its leader
            box = Text.get_window_extent(text, renderer)
            cuts = (Bbox.intersection(box, other) for other in taken)
            tried.append((sum(c.width * c.height for c in cuts if c is not None), text, box))
            if tried[-1][0] == 0:
                break
        best = min(tried, key=lambda t: t[0])
        for _, text, _ in tried:
            if text is not best[1]:
                text.remove()
        taken.append(best[2])
        placed.append(best[1])
    return placed


def contour_paths(ax, x, y, values, paths: dict, levels: int = 15) -> None:
    """Contour lines of ``values`` (``values[j, i]`` at ``x[i]``, ``y[j]``; all positive), spaced
    evenly in log scale, and each of ``paths`` (legend label -> (steps, 2) array of points)
    drawn over them, with a dot where it starts and one where it ends."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(y), len(x)) or not (values > 0).all():
        raise ValueError(f"values must be positive, shape {(len(y), len(x))}; got {values.shape}")
    steps = np.geomspace(values.min(), values.max(), levels)
    ax.contour(x, y, values, levels=steps, colors="#bbbbbb", linewidths=0.8)
    for (label, path), colour in zip(paths.items(), PALETTE[1:], strict=False):
        ax.plot(*np.asarray(path).T, "o-", color=colour, label=label, markevery=[0, -1])
    ax.legend()


# matplotlib's player draws its buttons with Font Awesome from a CDN; these glyphs need nothing.
_PLAYER_GLYPHS = {
    "fa fa-minus": "&minus;",
    "fa fa-plus": "+",
    "fa fa-fast-backward": "&#x21E4;",
    "fa fa-step-backward": "&#x25C1;",
    "fa fa-play fa-flip-horizontal": "&#x25C0;",
    "fa fa-pause": "&#x2225;",
    "fa fa-play": "&#x25B6;",
    "fa fa-step-forward": "&#x25B7;",
    "fa fa-fast-forward": "&#x21E5;",
}
_FONT_AWESOME = re.compile(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">\s*')
_ICON = re.compile(r'<i class="(fa [^"]+)"></i>')


def animation_html(anim, default_mode: str = "once", alt: str = "") -> str:
    """An animation as self-contained HTML and JavaScript (frames embedded as PNG), that plays
    offline: matplotlib's ``to_jshtml`` without its Font Awesome stylesheet from a CDN, with
    plain Unicode glyphs on the buttons instead, and ``alt`` as the frame's text alternative."""
    html = anim.to_jshtml(default_mode=default_mode)
    html = _FONT_AWESOME.sub("", html)
    unknown = {m for m in _ICON.findall(html) if m not in _PLAYER_GLYPHS}
    if unknown:
        raise RuntimeError(f"matplotlib's player uses icons this helper does not know: {unknown}")
    if alt:
        tag = '<img id="_anim_img'
        if tag not in html:
            raise RuntimeError("matplotlib's player has no frame image to describe")
        html = html.replace(tag, f'<img alt="{escape(alt, quote=True)}" id="_anim_img', 1)
    return _ICON.sub(lambda m: _PLAYER_GLYPHS[m.group(1)], html)


# --- the lesson's diagram notation --------------------------------------------------------------
# rectangle = input, circle = hidden activations, triangle = output, arrow = a layer; arrows of one
# colour share one weight matrix: green input -> hidden, orange hidden -> hidden, blue hidden ->
# output.

ARROW_COLOURS = {"green": "#009E73", "orange": "#E69F00", "blue": "#0072B2", "black": "#333333"}
"""The diagrams' arrow colours: green input to hidden, orange hidden to hidden, blue hidden to
output; arrows of one colour share one weight matrix."""

# The three-character diagrams share their inputs, hidden nodes and the arrows between them.
_K = (1, 2, 3)
_CHARS = {f"c{k}": ("input", 2 * k - 2, 0, f"char {k}") for k in _K}
_HIDDEN = {f"h{k}": ("hidden", 2 * k - 2, 1.6, "" if k else "h = 0") for k in (0, *_K)}
_CHAIN = [
    *((f"c{k}", f"h{k}", "green", "") for k in _K),
    *((f"h{k - 1}", f"h{k}", "orange", "") for k in _K),  # from the zero state h0
]
# name -> (nodes: {id: (shape, x, y, label)}, edges: [(from, to, colour, label)], repeated box)
_DIAGRAMS: dict[str, tuple[dict, list, tuple | None]] = {
    "one hidden layer": (
        {
            "x": ("input", 0, 0, "input\nbatch × n_in"),
            "h": ("hidden", 2.2, 0, "hidden\nbatch × n_hidden"),
            "y": ("output", 4.4, 0, "output\nbatch × n_classes"),
        },
        [
            ("x", "h", "black", "matrix product\n+ ReLU"),
            ("h", "y", "black", "matrix product\n+ softmax"),
        ],
        None,
    ),
    "cnn with one dense layer": (
        {
            "x": ("input", 0, 0, "image\nchannels × H × W"),
            "c": ("hidden", 2.2, 0, "filters ×\nH/2 × W/2"),
            "h": ("hidden", 4.4, 0, "n_hidden"),
            "y": ("output", 6.6, 0, "classes"),
        },
        [
            ("x", "c", "black", "stride-2 conv\n+ ReLU"),
            ("c", "h", "black", "flatten, dense\n+ ReLU"),
            ("h", "y", "black", "dense\n+ softmax"),
        ],
        None,
    ),
    "three characters": (
        {**_CHARS, **_HIDDEN, "y": ("output", 6, 1.6, "char 4")},
        [*_CHAIN, ("h3", "y", "blue", "")],
        None,
    ),
    "rnn loop": (
        {
            "c": ("input", 0, 0, "char n"),
            "h": ("hidden", 0, 1.6, ""),
            "y": ("output", 2.4, 1.6, "char n+1"),
        },
        [("c", "h", "green", ""), ("h", "h", "orange", ""), ("h", "y", "blue", "")],
        (-0.75, -0.55, 1.5, 3.2, "repeat for each character"),
    ),
    "multi-output": (
        {**_CHARS, **_HIDDEN, **{f"y{k}": ("output", 2 * k - 2, 3.2, f"char {k + 1}") for k in _K}},
        [*_CHAIN, *((f"h{k}", f"y{k}", "blue", "") for k in _K)],
        None,
    ),
}
DIAGRAMS = tuple(_DIAGRAMS)
"""The names :func:`draw_diagram` draws, e.g. ``"three characters"`` and ``"rnn loop"``."""


def _shape(ax, kind: str, x: float, y: float):
    from matplotlib import patches

    style = {"facecolor": "white", "edgecolor": "#333333", "lw": 1.6, "zorder": 3}
    if kind == "input":
        return ax.add_patch(patches.Rectangle((x - 0.45, y - 0.28), 0.9, 0.56, **style))
    if kind == "hidden":
        return ax.add_patch(patches.Circle((x, y), 0.36, **style))
    return ax.add_patch(patches.RegularPolygon((x, y), 3, radius=0.45, **style))


def draw_diagram(name: str, ax=None):
    """Draw one of the lesson's diagrams (see :data:`DIAGRAMS`) in its notation."""
    import matplotlib.pyplot as plt
    from matplotlib import patches

    if name not in _DIAGRAMS:
        raise ValueError(f"diagram must be one of {list(DIAGRAMS)}, got {name!r}")
    nodes, edges, box = _DIAGRAMS[name]
    xs = [x for _, x, _, _ in nodes.values()]
    ys = [y for _, _, y, _ in nodes.values()]
    if ax is None:
        width, height = max(xs) - min(xs) + 2.2, max(ys) - min(ys) + 1.8
        ax = plt.subplots(figsize=(0.95 * width, 0.95 * height))[1]
    for shape, x, y, label in nodes.values():
        _shape(ax, shape, x, y)
        if label:
            below = shape == "input" or (shape != "output" and len(nodes) <= 4)
            y_text, va = (y - 0.62, "top") if below else (y + 0.6, "bottom")
            ax.text(x, y_text, label, ha="center", va=va, fontsize=9)
    for src, dst, colour, label in edges:
        (_, x0, y0, _), (_, x1, y1, _) = nodes[src], nodes[dst]
        arrow = {
            "arrowstyle": "-|>",
            "color": ARROW_COLOURS[colour],
            "lw": 2.2,
            "mutation_scale": 16,
        }
        if src == dst:  # a loop: the hidden state feeds itself
            ends = (x0 + 0.3, y0 + 0.25), (x0 - 0.3, y0 + 0.25)
            ax.add_patch(
                patches.FancyArrowPatch(*ends, connectionstyle="arc3,rad=1.6", **arrow, zorder=2)
            )
            continue
        arrow |= {"shrinkA": 17, "shrinkB": 19}
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2, arrowprops=arrow)
        if label:
            ax.text(
                (x0 + x1) / 2, (y0 + y1) / 2 + 0.12, label, ha="center", va="bottom", fontsize=8
            )
    if box is not None:
        bx, by, bw, bh, text = box
        ax.add_patch(patches.Rectangle((bx, by), bw, bh, fill=False, ls=":", lw=1.4, ec="#666666"))
        ax.text(
            bx + bw / 2, by + bh + 0.05, text, ha="center", va="bottom", fontsize=8, color="#444444"
        )
    top = max(ys) + 1.0 if box is None else max(max(ys) + 1.0, box[1] + box[3] + 0.45)
    ax.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    ax.set_ylim(min(ys) - 1.1, top)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(name, fontsize=10)
    return ax
