"""Plot helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # tests draw off screen; the pages keep the notebook backend

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import animation  # noqa: E402

from lesson6lib.plots import animation_html, apply_style  # noqa: E402


def test_animation_html_needs_no_network():
    apply_style()
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    anim = animation.FuncAnimation(fig, lambda i: line.set_ydata([0, i]) or (line,), frames=3)
    html = animation_html(anim)
    plt.close(fig)
    assert "http://" not in html and "https://" not in html
    assert 'class="fa' not in html and "&#x25B6;" in html
    assert html.count("data:image/png;base64") == 3


def test_every_diagram_draws_in_the_lesson_colours():
    from matplotlib import patches

    from lesson6lib.plots import ARROW_COLOURS, DIAGRAMS, draw_diagram

    for name in DIAGRAMS:
        ax = draw_diagram(name)
        shapes = {type(p).__name__ for p in ax.patches}
        assert {"Rectangle", "Circle"} <= shapes or name == "one hidden layer"
        assert any(isinstance(p, patches.RegularPolygon) for p in ax.patches), name
        plt.close(ax.figure)
    ax = draw_diagram("rnn loop")
    colours = {
        a.arrow_patch.get_edgecolor()[:3]
        for a in ax.texts
        if hasattr(a, "arrow_patch") and a.arrow_patch
    }
    assert len(colours) >= 2
    plt.close(ax.figure)
    assert set(ARROW_COLOURS) == {"green", "orange", "blue", "black"}


def test_unknown_diagram():
    import pytest

    from lesson6lib.plots import draw_diagram

    with pytest.raises(ValueError, match="diagram must be one of"):
        draw_diagram("transformer")


def test_animation_gets_its_alt_text():
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    anim = animation.FuncAnimation(fig, lambda i: (line,), frames=2)
    html = animation_html(anim, alt='a line "moving"')
    plt.close(fig)
    assert '<img alt="a line &quot;moving&quot;" id="_anim_img' in html
