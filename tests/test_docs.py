"""The documentation site (docs/, mkdocs.yml): the tutorial and how-to pages run, the site
builds with ``mkdocs build --strict``, and the reference names everything public.

Each page's fenced ```` ```python ```` blocks are run in order, in one fresh namespace per
page, in a temporary directory (blocks fenced ```` ```py ```` are shown, never run). The
pages assert what they show (a gradient check passes, a model beats a baseline). Images a
page embeds from ``img/`` must be written by its own code; ``RNNKIT_DOCS_IMAGES=1`` copies
them into ``docs/<section>/img/`` (commit them: the site is built without running pages).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RUNNABLE = sorted([*DOCS.glob("tutorials/*.md"), *DOCS.glob("how-to/*.md")])
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\((img/[^)\s]+)\)")

sys.path.insert(0, str(DOCS))
import gen_reference  # noqa: E402


def python_blocks(text: str) -> list[str]:
    return [m.group(1) for m in FENCE.finditer(text)]


def test_python_blocks_are_found_in_order():
    text = "a\n```python\nx = 1\n```\n```py\nnot run\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x\n"]


@pytest.mark.parametrize("page", [p for p in RUNNABLE if python_blocks(p.read_text())],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_page_runs(page, tmp_path, monkeypatch):
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("the pages draw figures: pip install 'rnnkit[plots]'")
    text = page.read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    import matplotlib

    matplotlib.use("Agg")
    namespace = {"__name__": f"docs_{page.stem}"}
    start = time.process_time()  # CPU time: the shared machine's load does not count
    for k, block in enumerate(python_blocks(text)):
        code = compile(block, f"{page.relative_to(ROOT)} [block {k + 1}]", "exec")
        try:
            exec(code, namespace)
        except ImportError as e:  # an extra the page needs is not installed
            pytest.skip(f"{page.name}: {e}")
    seconds = time.process_time() - start
    assert seconds < 60, f"{page.name} took {seconds:.0f} CPU s: keep pages tiny"
    for image in IMAGE.findall(text):
        made = tmp_path / Path(image).name
        assert made.is_file() and made.stat().st_size > 1000, \
            f"{page.name} embeds {image} but its code did not write {made.name}"
        if os.environ.get("RNNKIT_DOCS_IMAGES") == "1":
            shutil.copyfile(made, page.parent / image)


def test_every_embedded_image_is_committed():
    for page in DOCS.rglob("*.md"):
        for image in IMAGE.findall(page.read_text(encoding="utf-8")):
            assert (page.parent / image).is_file(), f"{page.name}: {image} missing"


# --- the reference -------------------------------------------------------------------------

def _built_site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("mkdocs") is None or \
            importlib.util.find_spec("mkdocstrings_handlers") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return _built_site(tmp_path_factory)


def test_mkdocs_build_strict(site):
    for page in ("index.html", "tutorials/elman/index.html", "reference/cli/index.html",
                 "reference/config/index.html", "reference/api/layers/index.html",
                 "reference/benchmarks/index.html"):
        assert (site / page).is_file(), page


def test_docstring_equations_render_as_display_maths(site):
    """The cells' ``.. math::`` blocks reach MathJax as display maths, not raw TeX."""
    import rnnkit.cells

    html = (site / "reference/api/cells/index.html").read_text(encoding="utf-8")
    assert ".. math::" not in html
    blocks = re.findall(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', html, re.S)
    expected = sum(".. math::" in (c.__doc__ or "") for c in vars(rnnkit.cells).values()
                   if isinstance(c, type))
    assert expected and len(blocks) >= expected
    assert any(r"\begin{aligned}" in b and r"\sigma" in b for b in blocks)


def _ids(html_file: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', html_file.read_text(encoding="utf-8")))


def test_every_public_name_has_an_api_entry(site):
    import rnnkit

    ids = _ids(site / "reference/api/rnnkit/index.html")
    missing = [n for n in rnnkit.__all__ if f"rnnkit.{n}" not in ids]
    assert not missing, f"not in the API reference: {missing}"


def test_every_package_name_has_an_api_entry(site):
    """Each API page documents every name its package exports."""
    import importlib

    pages = {"cells": "cells", "layers": "layers", "kernels": "kernels", "models": "models",
             "training": "training", "diagnostics": "diagnostics",
             "reference": "reference", "export": "export"}
    every = set().union(*(_ids(f) for f in (site / "reference/api").rglob("index.html")))
    for package, page in pages.items():
        ids = _ids(site / f"reference/api/{page}/index.html")
        names = importlib.import_module(f"rnnkit.{package}").__all__
        missing = [n for n in names if not (  # on the package's page, or where it is defined
            f"rnnkit.{package}.{n}" in ids
            or any(re.fullmatch(rf"rnnkit\.{package}\.\w+\.{n}", i) for i in ids)
            or f"{_home(package, n)}.{n}" in every)]
        assert not missing, f"rnnkit.{package}: not in the API reference: {missing}"
    tasks = _ids(site / "reference/api/tasks/index.html")
    assert {"rnnkit.load", "rnnkit.tasks.predictor.Predictor",
            "rnnkit.tasks.predictor.Stream"} <= tasks


def _home(package: str, name: str) -> str:
    """The public package an object re-exported by ``rnnkit.<package>`` comes from."""
    import importlib

    obj = getattr(importlib.import_module(f"rnnkit.{package}"), name)
    module = getattr(obj, "__module__", "") or ""
    return ".".join(module.split(".")[:2])


def _parser() -> argparse.ArgumentParser:
    from rnnkit.cli.main import build_parser

    return build_parser()


def test_every_cli_command_is_in_the_reference(site):
    html = (site / "reference/cli/index.html").read_text(encoding="utf-8")
    commands = gen_reference.subcommands(_parser())
    assert len(commands) >= 12
    for name, sub in commands.items():
        assert f'id="rnnkit-{name}"' in html, name
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings:  # in the table, not only the usage line
                assert f"<code>{option}</code>" in html, f"rnnkit {name} {option}"


def test_cli_markdown_follows_the_parser():
    """The generated page follows the parser, not a copy: a command or option added to the
    parser appears, with its help, default and choices."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    extra = sub.add_parser("frobnicate", help="Frobnicate a run.", description="Frobnicate.")
    extra.add_argument("--knob", type=int, default=7, choices=[7, 8], help="how far")
    extra.add_argument("--dry", action="store_true", help="say, do not do")
    text = gen_reference.cli_markdown(parser)
    assert "[`frobnicate`](#rnnkit-frobnicate) | Frobnicate a run." in text
    assert "## rnnkit frobnicate {#rnnkit-frobnicate}" in text
    assert "| `--knob` `KNOB` | how far | `7` | `7`, `8` |" in text
    assert "| `--dry` | say, do not do |  |  |" in text


def test_config_reference_has_every_key_with_its_limits():
    import dataclasses

    from rnnkit.tasks import TASKS
    from rnnkit.training import config as C

    text = gen_reference.config_markdown()
    from rnnkit.tasks.tuning.space import TuneSettings

    for section, cls in (("model", C.ModelConfig), ("train", C.TrainConfig),
                         ("diagnostics", C.DiagnosticsConfig), ("logging", C.LoggingConfig),
                         ("tune", TuneSettings)):
        for f in dataclasses.fields(cls):
            if f.name != "options":
                assert f"| `{section}.{f.name}` |" in text, f"{section}.{f.name}"
    for name, task in TASKS.items():
        assert f'task.name = "{name}"' in text
        for f in dataclasses.fields(task.config_class):
            assert f"| `task.{f.name}` |" in text, f"{name}: task.{f.name}"
    row = next(line for line in text.splitlines() if line.startswith("| `train.momentum` |"))
    assert "| `float` | `0.0` | 0.0 ≤ x ≤ 1.0 | sgd, rmsprop |" in row
    row = next(line for line in text.splitlines() if line.startswith("| `train.optimizer` |"))
    assert "`sgd`, `adam`, `adamw`, `rmsprop`" in row


def test_field_comments_read_from_the_source():
    import dataclasses

    @dataclasses.dataclass
    class Example:
        # the first line of an explanation
        # and its second
        a: int = 1  # beside a
        b: str = "x"
        c: float = 0.5  # beside c

    assert gen_reference.field_comments(Example) == {
        "a": "the first line of an explanation and its second beside a", "c": "beside c"}


def test_pages_render_in_headless_chromium(site, tmp_path):
    import render_check

    if render_check.chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    problems = render_check.main(site, tmp_path)
    assert not problems, "\n".join(problems)


def test_readme_library_block_runs(tmp_path, monkeypatch):
    """README's "Use as a library" block (the drop-in LSTM on a padded batch) runs as
    written: every name it uses is defined in it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use as a library", 1)[1]
    block = python_blocks(section)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme_library"}
    exec(compile(block, "README.md [Use as a library]", "exec"), namespace)
    assert namespace["out"].shape[-1] == namespace["lstm"].hidden_size
