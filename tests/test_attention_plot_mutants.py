"""The attention plot's fonts and warnings (rnnkit/tasks/attention_plot.py), with the drawing
replaced by a stand-in that warns what matplotlib would: which fonts it is given, which
warnings come back and where they point, and how many missing characters are shown
(found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import linecache
import warnings

import pytest

from rnnkit.tasks import attention_plot

plt = pytest.importorskip("matplotlib.pyplot")


def _glyph(char: str) -> str:  # matplotlib's warning for a character its fonts lack
    return f"Glyph {ord(char)} (\\N{{CJK}}) missing from font(s) DejaVu Sans."


def _stand_in(messages, seen=None):
    """A _draw that records the font family it is given and warns ``messages`` (text, or
    (text, category)), each twice from the same line."""
    def draw(plt, source, target, weights, path):
        if seen is not None:
            seen.append(list(plt.rcParams["font.family"]))
        for _ in range(2):
            for m in messages:
                text, category = m if isinstance(m, tuple) else (m, UserWarning)
                warnings.warn(text, category, stacklevel=1)
        return path
    return draw


def test_the_users_family_comes_first_then_the_installed_fallbacks_in_their_order(
        monkeypatch):
    seen = []
    monkeypatch.setattr(attention_plot, "_draw", _stand_in([], seen))
    monkeypatch.setattr(attention_plot, "FALLBACK_FONTS",
                        ("No Such Font", "DejaVu Serif", "DejaVu Sans Mono"))
    with plt.rc_context({"font.family": ["monospace", "serif"]}):
        assert attention_plot.plot_attention(["a"], ["b"], [[1.0]], "p.png") == "p.png"
        assert plt.rcParams["font.family"] == ["monospace", "serif"]  # (restored)
    assert seen == [["monospace", "serif", "DejaVu Serif", "DejaVu Sans Mono"]]


@pytest.mark.parametrize("count, shown", [(20, "ABCDEFGHIJKLMNOPQRST"),
                                          (21, "ABCDEFGHIJKLMNOPQRST...")])
def test_missing_characters_are_counted_once_and_the_first_20_shown(monkeypatch, count,
                                                                    shown):
    chars = "ABCDEFGHIJKLMNOPQRSTU"[:count]
    monkeypatch.setattr(attention_plot, "_draw", _stand_in([_glyph(c) for c in chars[::-1]]))
    with pytest.warns(UserWarning) as caught:
        attention_plot.plot_attention(["a"], ["b"], [[1.0]], "p.png")
    assert [str(w.message) for w in caught] == [
        f"the plot's fonts lack {count} character(s) of the tokens, drawn as boxes: "
        f"{shown!r}; install a font that has them where matplotlib finds it (Noto Sans CJK "
        "for Chinese and Japanese)"]
    assert _at_the_callers_line(caught[0])


def test_other_warnings_come_back_each_with_its_category_at_the_callers_line(monkeypatch):
    monkeypatch.setattr(attention_plot, "_draw", _stand_in(
        [("tight_layout not applied", UserWarning), _glyph("X"),
         ("an old keyword", DeprecationWarning)]))
    with pytest.warns(Warning) as caught:
        attention_plot.plot_attention(["a"], ["b"], [[1.0]], "p.png")
    assert [(str(w.message), w.category) for w in caught] == [
        ("tight_layout not applied", UserWarning), ("an old keyword", DeprecationWarning),
        ("tight_layout not applied", UserWarning), ("an old keyword", DeprecationWarning),
        ("the plot's fonts lack 1 character(s) of the tokens, drawn as boxes: 'X'; install a "
         "font that has them where matplotlib finds it (Noto Sans CJK for Chinese and "
         "Japanese)", UserWarning)]
    assert all(_at_the_callers_line(w) for w in caught)


def test_matplotlibs_warnings_are_caught_even_where_warnings_are_errors(monkeypatch):
    # (python -W error: the glyph warnings must not stop the drawing; the summary is raised)
    drawn = []
    fake = _stand_in([_glyph("Y")])
    monkeypatch.setattr(attention_plot, "_draw", lambda *a: drawn.append(fake(*a)) or a[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match=r"^the plot's fonts lack 1 character\(s\)"):
            attention_plot.plot_attention(["a"], ["b"], [[1.0]], "p.png")
    assert drawn == ["p.png"]


def _at_the_callers_line(warning) -> bool:
    """stacklevel 2: this file's line that called plot_attention; under mutmut, whose
    trampoline (two frames) stands between, the inner frame's line that calls it."""
    function = attention_plot.plot_attention
    if not function.__code__.co_filename.endswith("trampoline.py"):
        return warning.filename == __file__ and "plot_attention(" in linecache.getline(
            warning.filename, warning.lineno)
    return (warning.filename == function.__code__.co_filename
            and "func(*call_args" in linecache.getline(warning.filename, warning.lineno))
