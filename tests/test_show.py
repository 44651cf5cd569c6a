"""show_source: the library's code on a page, highlighted, from its one source."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from lesson6lib.optim import Adam
from lesson6lib.rnn import CharLoop
from lesson6lib.show import show_source


def test_source_is_the_librarys_own_text_highlighted():
    shown = show_source(CharLoop.forward)
    assert str(shown) == textwrap.dedent(inspect.getsource(CharLoop.forward)).rstrip() + "\n"
    html = shown._repr_html_()
    assert '<div class="highlight">' in html and "<code>" in html
    assert '<span class="k">def</span>' in html and "CharLoop.forward" in html


def test_classes_properties_and_bad_input():
    assert str(show_source(Adam)).startswith("class Adam(")
    with pytest.raises(TypeError, match="needs a function, class or method"):
        show_source(3)
