"""Plot helpers the pages share."""

from __future__ import annotations

import re

import matplotlib as mpl

__all__ = ["PALETTE", "animation_html", "apply_style"]

# Colour-blind-safe (Okabe & Ito), readable on the white figure background in both site themes.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


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


def animation_html(anim, default_mode: str = "once") -> str:
    """An animation as self-contained HTML and JavaScript (frames embedded as PNG), that plays
    offline: matplotlib's ``to_jshtml`` without its Font Awesome stylesheet from a CDN, with
    plain Unicode glyphs on the buttons instead."""
    html = anim.to_jshtml(default_mode=default_mode)
    html = _FONT_AWESOME.sub("", html)
    unknown = {m for m in _ICON.findall(html) if m not in _PLAYER_GLYPHS}
    if unknown:
        raise RuntimeError(f"matplotlib's player uses icons this helper does not know: {unknown}")
    return _ICON.sub(lambda m: _PLAYER_GLYPHS[m.group(1)], html)
