"""Packaging: every import declared, extras by use, a plain install that trains in a terminal,
and missing extras named in the error."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit import _optional
from rnnkit._optional import MissingExtraError, require

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PYPROJECT["optional-dependencies"]
NOT_RUNTIME = ("all", "dev", "docs")  # extras that `all` leaves out
DISTRIBUTION = {"PIL": "pillow", "sklearn": "scikit-learn", "tomli_w": "tomli-w"}  # import -> pip


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _extra(name: str) -> set[str]:
    """The distributions an extra installs, its references to other rnnkit extras expanded."""
    out: set[str] = set()
    for req in EXTRAS[name]:
        if _name(req) == "rnnkit":
            for other in re.search(r"\[(.*)\]", req).group(1).split(","):
                out |= _extra(other.strip())
        else:
            out.add(_name(req))
    return out


def _imports() -> dict[str, list[str]]:
    """Top-level module -> the rnnkit files importing it (absolute imports and
    ``require("module")`` calls)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "rnnkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names = [node.args[0].value]  # an optional import: require("module", extra)
            for name in names:
                found.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
    return found


def test_every_import_in_rnnkit_is_declared():
    declared = {_name(r) for r in PYPROJECT["dependencies"]}
    declared |= set().union(*(_extra(e) for e in EXTRAS if e not in NOT_RUNTIME))
    undeclared = {}
    for module, files in _imports().items():
        if module in sys.stdlib_module_names or module == "rnnkit":
            continue
        if DISTRIBUTION.get(module, module).lower().replace("_", "-") not in declared:
            undeclared[module] = sorted(set(files))
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"


def test_all_is_every_runtime_extra_and_optional_modules_name_theirs():
    runtime = [e for e in EXTRAS if e not in NOT_RUNTIME]
    assert set(runtime) >= {"text", "audio", "music", "vision", "plots", "native", "export",
                            "tune", "tensorboard", "bench"}
    assert _extra("all") == set().union(*(_extra(e) for e in runtime))
    assert {"pytest", "ruff", "hypothesis"} <= _extra("dev")
    assert "torch" not in _extra("all") and "torch>=2.4" in PYPROJECT["dependencies"]
    for module, extra in _optional.EXTRAS.items():  # the extra a MissingExtraError names
        assert DISTRIBUTION.get(module, module).lower() in _extra(extra), (module, extra)


def test_version_is_written_once():
    import rnnkit

    assert "version" in PYPROJECT["dynamic"] and "version" not in PYPROJECT
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", rnnkit.__version__)


def test_require_names_the_extra():
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[audio\]'") as e:
        require("rnnkit_no_such_module.signal", "audio")
    assert isinstance(e.value, ImportError) and "rnnkit_no_such_module" in str(e.value)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[all\]'"):
        require("rnnkit_no_such_module")  # not in the map: the extra with everything
    assert require("json").dumps([1]) == "[1]"


def test_progress_bar_falls_back_to_lines_without_rich(monkeypatch, capsys):
    """A plain install has no rich: ``progress = "on"`` (a terminal) prints plain lines."""
    from _tiny import TinyTagger, tiny_data

    from rnnkit.training import Progress, TrainConfig, Trainer

    for name in ("rich", "rich.console", "rich.progress"):
        monkeypatch.setitem(sys.modules, name, None)  # import rich -> ImportError
    cfg = TrainConfig(steps=4, eval_every=2, batch_size=8, progress="on")
    Trainer(TinyTagger(), cfg, tiny_data(16), tiny_data(8, seed=1),
            callbacks=[Progress(bar=True)]).fit()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[:2] for line in lines] == [["step", "2/4"], ["step", "4/4"]]


# -- a fresh virtual environment: pip install . (no extras) ---------------------------------

def _readme_torch_line() -> str:
    """The README's first install line for PyTorch (the CPU build)."""
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return next(line for line in block.splitlines() if line.startswith("pip install torch"))


def _run(cmd: str, env: dict, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory):
    """A fresh venv with torch (as the README installs it) and ``pip install .``, no extras.
    One to three minutes (torch's wheel comes from this machine's disk)."""
    if shutil.which("script") is None:
        pytest.skip("needs util-linux `script` for a pseudo-terminal")
    tmp = tmp_path_factory.mktemp("venv")
    venv = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "RNNKIT_DATA")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
               PYTHONNOUSERSITE="1", PIP_NO_COMPILE="1")  # no .pyc of torch's 1e4 files
    torch = _run(_readme_torch_line(), env, tmp)
    if torch.returncode:
        shutil.rmtree(venv)
        pytest.skip(f"torch could not be installed here: {torch.stderr[-500:]}")
    # a copy of the source, so the build writes nothing into the working tree
    src = tmp / "src"
    shutil.copytree(ROOT / "rnnkit", src / "rnnkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    install = _run(f"pip install -q '{src}'", env, tmp)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    yield venv, env, tmp
    shutil.rmtree(venv, ignore_errors=True)


@pytest.mark.slow
def test_plain_install_has_no_extras(plain_venv):
    venv, env, tmp = plain_venv
    for module in ("rich", "matplotlib", "scipy", "librosa", "tensorboard"):
        found = _run(f"python -c 'import {module}'", env, tmp)
        assert found.returncode != 0, f"{module} came with a plain install"
    version = _run("python -c 'import importlib.metadata as m, rnnkit; "
                   "print(m.version(\"rnnkit\"), rnnkit.__version__)'", env, tmp)
    installed, written = version.stdout.split()
    assert installed == written


@pytest.mark.slow
def test_plain_install_trains_adding_in_a_terminal(plain_venv):
    venv, env, tmp = plain_venv
    sets = " ".join(f"--set {s}" for s in (
        "task.sequence_length=10", "task.train_size=64", "task.val_size=16",
        "task.test_size=16", "model.hidden_size=4", "train.steps=4", "train.batch_size=16",
        "train.eval_every=2", "train.warmup_steps=0", "diagnostics.every=2"))
    cmd = f"rnnkit train {ROOT / 'examples' / 'adding.toml'} {sets} --run-dir run"
    # stdin, stdout and stderr on a pseudo-terminal, as in a user's shell
    out = _run(f"script -qec {_quote(cmd)} /dev/null", env, tmp, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "step 4/4" in text  # the plain progress lines stand in for the bar
    assert "pip install 'rnnkit[plots]'" in text  # the diagnostics plots: one-line note
    run = tmp / "run"
    assert (run / "metrics.jsonl").exists() and (run / "report.md").exists()
    assert (run / "checkpoints" / "best" / "model.safetensors").exists()


@pytest.mark.slow
def test_plain_install_names_the_missing_extra(plain_venv):
    venv, env, tmp = plain_venv
    out = _run("python -c \"from rnnkit._optional import require; require('librosa')\"", env,
               tmp)
    assert out.returncode != 0 and "pip install 'rnnkit[audio]'" in out.stderr, out.stderr
    assert "MissingExtraError" in out.stderr
    if not (tmp / "run").exists():
        pytest.skip("needs the run of test_plain_install_trains_adding_in_a_terminal")
    out = _run("rnnkit diagnose run", env, tmp)  # plots asked for: the error names the extra
    assert out.returncode != 0 and "pip install 'rnnkit[plots]'" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
