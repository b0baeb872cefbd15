"""The attention of a translation as a heat map: source tokens across, target tokens down
(the ``plots`` extra)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from .._optional import pyplot

# fonts for the scripts matplotlib's own (DejaVu Sans) lacks, used where installed: each
# character is drawn in the first font of the list that has it
FALLBACK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Source Han Sans", "IPAexGothic",
                  "WenQuanYi Zen Hei", "Hiragino Sans", "PingFang SC", "Microsoft YaHei",
                  "Noto Sans Thai", "Noto Sans Devanagari", "Noto Sans Arabic",
                  "Noto Sans Hebrew", "Arial Unicode MS")
_MISSING = re.compile(r"^Glyph (\d+) .*missing from font")


def plot_attention(source: list[str], target: list[str], weights: list[list[float]],
                   path: str | Path) -> Path:
    """Heat map of attention weights: source words across, target words down."""
    plt = pyplot()
    with plt.rc_context({"font.family": _families(plt)}), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = _draw(plt, source, target, weights, path)
    missing = sorted({chr(int(m[1])) for w in caught if (m := _MISSING.match(str(w.message)))})
    for w in caught:
        if not _MISSING.match(str(w.message)):
            warnings.warn(w.message, w.category, stacklevel=2)
    if missing:
        shown = "".join(missing[:20]) + ("..." if len(missing) > 20 else "")
        warnings.warn(f"the plot's fonts lack {len(missing)} character(s) of the tokens, drawn "
                      f"as boxes: {shown!r}; install a font that has them where matplotlib "
                      "finds it (Noto Sans CJK for Chinese and Japanese)", stacklevel=2)
    return path


def _families(plt) -> list[str]:
    """The user's font family, then the fallback fonts that are installed."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [*plt.rcParams["font.family"], *(f for f in FALLBACK_FONTS if f in installed)]


def _draw(plt, source: list[str], target: list[str], weights: list[list[float]],
          path: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(1 + 0.5 * max(len(source), 2), 1 + 0.4 * max(len(target), 2)))
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), source, rotation=45, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
