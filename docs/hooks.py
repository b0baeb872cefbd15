"""mkdocs hooks (``hooks:`` in mkdocs.yml): the pages made from the code at build time.

- ``reference/cli.md`` from the argparse parser (``rnnkit.cli.main.build_parser``);
- ``reference/config.md`` from the config dataclasses;
- ``reference/benchmarks.md``: ``benchmarks/RESULTS.md``;
- ``experiments.md``: ``experiments/README.md`` and its figures.

and two clean-ups of the rendered docstrings: their Sphinx roles (``:class:`~a.B```) show as
the code span alone (``B``'s path), not as a literal ``:class:`` before it; and their
``.. math::`` blocks (the cells' and models' equations) become display maths for MathJax
(``aligned`` when the lines align on ``&=``), not a paragraph of raw TeX.

They are added to the build as generated files (nothing is written into ``docs/``), so
``mkdocs serve`` does not rebuild in a loop and the pages can never go stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_reference as gen  # noqa: E402


def on_files(files, config):
    pages = {
        "reference/cli.md": gen.cli_markdown(),
        "reference/config.md": gen.config_markdown(),
        "reference/benchmarks.md": gen.include_markdown(
            "benchmarks/RESULTS.md",
            "Every table names the command that made it; `python benchmarks/NAME.py` reruns it."),
        "experiments.md": gen.include_markdown(
            "experiments/README.md",
            "The tutorials show the same effects at toy size; these are the full runs."),
    }
    for path, text in pages.items():
        files.append(File.generated(config, path, content=text))
    for png in sorted((gen.ROOT / "experiments" / "figures").glob("*.png")):
        files.append(File.generated(config, f"figures/{png.name}", content=png.read_bytes()))
    return files


_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj|math):(<code[^>]*>)~?")


_MATH = re.compile(r"<p>\.\. math::\s*(.*?)\s*</p>", re.S)


def _display_math(match: re.Match) -> str:
    body = match.group(1)
    if "&amp;" in body:  # rows aligned on &=, separated by \\
        body = rf"\begin{{aligned}}{body}\end{{aligned}}"
    return f'<div class="arithmatex">\\[{body}\\]</div>'


def on_page_content(html, page, config, files):
    return _MATH.sub(_display_math, _ROLE.sub(r"\1", html))
