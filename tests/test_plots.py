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


def _text_boxes(ax, texts):
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    for t in texts:
        t.update_positions(renderer)
    return [Text.get_window_extent(t, renderer) for t in texts]


def test_label_points_keeps_crowded_labels_apart():
    import numpy as np

    from lesson6lib.plots import label_points

    rng = np.random.default_rng(0)
    points = rng.normal(size=(12, 2)) * 0.05  # a tight cluster: default labels would collide
    labels = [f"a long movie title {k}" for k in range(12)]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.set(xlim=(-1, 1), ylim=(-1, 1))
    texts = label_points(ax, points, labels, fontsize=8)
    assert [t.get_text() for t in texts] == labels
    assert len(ax.texts) == len(labels)  # the spots it tried and rejected are gone
    boxes = _text_boxes(ax, texts)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert (
                not a.overlaps(b) or a.intersection(a, b).width * a.intersection(a, b).height == 0
            )
    plt.close(fig)


def test_label_points_puts_a_lone_label_beside_its_point():
    from lesson6lib.plots import label_points

    fig, ax = plt.subplots()
    (text,) = label_points(ax, [[0.0, 0.0], [1.0, 1.0]][:1], ["only"], zorder=3)
    assert text.xyann == (4, 3) and text.arrow_patch is None  # beside it, no leader line
    assert ax.collections[0].get_zorder() == 3  # scatter keywords reach the scatter
    plt.close(fig)


def test_contour_paths_draws_levels_and_paths():
    import numpy as np
    import pytest

    from lesson6lib.plots import contour_paths

    x, y = np.linspace(-1, 1, 30), np.linspace(-2, 2, 40)
    values = 0.1 + x[None, :] ** 2 + 10 * y[:, None] ** 2
    fig, ax = plt.subplots()
    contour_paths(ax, x, y, values, {"a path": [[1, 2], [0.5, 1], [0, 0]]}, levels=8)
    (line,) = ax.lines
    assert line.get_label() == "a path" and line.get_xydata().tolist()[0] == [1, 2]
    assert line.get_markevery() == [0, -1]  # a dot at each end
    assert ax.get_legend() is not None and len(ax.collections) >= 1
    with pytest.raises(ValueError, match=r"values must be positive, shape \(40, 30\)"):
        contour_paths(ax, x, y, values.T, {})
    with pytest.raises(ValueError, match="values must be positive"):
        contour_paths(ax, x, y, values - 1, {})
    plt.close(fig)
