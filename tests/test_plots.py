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
