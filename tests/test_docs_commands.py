"""The shell commands and TOML snippets the documentation shows follow the code.

tests/test_docs.py runs the pages' Python blocks; this file checks, in seconds and without
training, what a reader types from the pages (README.md and docs/: the how-to guides, quick
start, installation, tutorials, concepts):

- every ``rnnkit VERB ...`` (in ```bash blocks, in inline code, and in ``# rnnkit ...``
  comments of Python blocks, where a page says what the shell equivalent is) names a real
  verb and only that verb's own flags; a command with its arguments given parses with the
  real parser (a required option left out, a value not of the option's type or choices,
  fails); ``--set KEY=VALUE`` names a config key, and on an ``examples/`` config loads;
- the bash blocks of a page, read in order, do not train two runs into one directory, a
  ``# ... runs/NAME/`` comment names the directory the command writes, and a ``runs/NAME``
  a command reads is one the page trains;
- every ```toml block loads as a config (with its page's example config where it has no
  ``[task] name``), data paths pointed at empty files;
- every ``examples/...`` file named exists.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                *(page for part in ("how-to", "tutorials", "concepts")
                  for page in (ROOT / "docs" / part).glob("*.md"))])
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
SPAN = re.compile(r"`(rnnkit [^`]+)`")
EXAMPLE_FILE = re.compile(r"\bexamples/[\w./-]+\.(?:toml|py|csv|tsv)\b")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.[a-z]+)?$")  # RUN, FILE, N, CONFIG.toml


@dataclass
class Command:
    page: Path
    where: str  # "bash", "span" or "comment"
    line: int
    args: list[str]  # after ``rnnkit``
    comment: str = ""
    block: int = -1  # which fenced block of the page

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: rnnkit {' '.join(self.args)}"


def _parser() -> argparse.ArgumentParser:
    from rnnkit.cli.main import build_parser

    return build_parser()


def _verbs(parser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _tokens(text: str) -> tuple[list[str], str]:
    """A shell line's words (comment cut off, ``[optional]`` brackets and ``...`` dropped,
    ``A | --b`` alternatives joined, a real pipe or ``&&`` ending it) and its comment."""
    text = re.sub(r"(?<=\s)\.\.\.(?=[\s\]]|$)", _ellipsis, text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True  # a '#' outside quotes ends the words ...
    words = list(lexer)
    comment = text.split(" #", 1)[1] if " #" in text else ""  # ... and starts the comment
    out: list[str] = []
    for k, word in enumerate(words):
        if word in ("&&", ";", "||"):
            break
        if word == "|":
            if k + 1 < len(words) and words[k + 1].startswith("--"):
                continue  # `--input FILE | --text "..."`: one of the two
            break
        word = word.strip("[]")
        if word:
            out.append(word)
    return out, comment


def _ellipsis(m: re.Match) -> str:
    """A bare ``...`` dropped (``[--set a=1 ...]``: more of the same), kept as an option's
    value left to the reader (``--set ...``); a quoted ``"..."`` is a value too."""
    before = m.string[:m.start()].split()
    return "..." if before and before[-1].startswith("-") else ""


def _rnnkit_args(words: list[str]) -> list[str] | None:
    """The words after ``rnnkit`` (or ``-m rnnkit.cli.main``), or None for another program."""
    for k, word in enumerate(words):
        if word == "rnnkit" and all("=" in w for w in words[:k]):  # FOO=bar rnnkit ...
            return words[k + 1:]
        if word == "rnnkit.cli.main" and k and words[k - 1] == "-m":
            return words[k + 1:]
    return None


def commands(page: Path) -> list[Command]:
    text = page.read_text(encoding="utf-8")
    found: list[Command] = []
    prose = text
    for block, m in enumerate(FENCE.finditer(text)):
        prose = prose.replace(m.group(0), "\n" * m.group(0).count("\n"))
        first = text.count("\n", 0, m.start(2)) + 1
        lines = m.group(2).replace("\\\n", " ").splitlines()
        for k, line in enumerate(lines):
            if m.group(1) in ("bash", "sh", "shell", "console"):
                words, comment = _tokens(line.removeprefix("$ "))
                args = _rnnkit_args(words)
                if args is not None:
                    found.append(Command(page, "bash", first + k, args, comment, block))
            elif m.group(1) in ("python", "py") and "# rnnkit " in line:
                words, comment = _tokens(line[line.index("# rnnkit ") + 2:])
                found.append(Command(page, "comment", first + k, words[1:], comment))
    for m in SPAN.finditer(prose):
        words, _ = _tokens(" ".join(m.group(1).split()))
        found.append(Command(page, "span", prose.count("\n", 0, m.start()) + 1, words[1:]))
    return found


ALL = [c for page in PAGES for c in commands(page)]


def test_commands_are_found():
    readme = [c for c in ALL if c.page.name == "README.md" and c.where == "bash"]
    assert len(readme) >= 15 and any(c.args[:1] == ["bench"] for c in readme)
    assert any(c.args[:2] == ["train", "examples/adding.toml"] for c in readme
               if "rnnkit.cli.main" not in c.args)
    words, comment = _tokens('rnnkit predict RUN --input FILE | --text "a b"  # one of them')
    assert words == ["rnnkit", "predict", "RUN", "--input", "FILE", "--text", "a b"]
    assert comment.strip() == "one of them"
    assert _tokens("rnnkit tune X.toml [--set a=1 ...] | head -2")[0] == [
        "rnnkit", "tune", "X.toml", "--set", "a=1"]
    assert _rnnkit_args(_tokens("torchrun -m rnnkit.cli.main train a.toml")[0]) == [
        "train", "a.toml"]
    assert _rnnkit_args(_tokens('python -c "import rnnkit"')[0]) is None


# --- the keys a config may name -------------------------------------------------------------

def known_key(key: str) -> bool:
    """Whether ``section.key`` (or a top-level key) is a config key of some task."""
    from rnnkit.tasks import TASKS
    from rnnkit.training import config as C

    parts = key.split(".")
    if len(parts) == 1:  # name, seed: not the sections
        return key in {f.name for f in fields(C.RunConfig) if f.default_factory is MISSING}
    if len(parts) != 2:
        return False
    section, name = parts
    if section == "task":
        return any(name in {f.name for f in fields(t.config_class)} for t in TASKS.values())
    if section == "model":
        return name in {f.name for f in fields(C.ModelConfig)} or any(
            name in t.model_keys() for t in TASKS.values())
    classes = {"train": C.TrainConfig, "diagnostics": C.DiagnosticsConfig,
               "logging": C.LoggingConfig}
    return section in classes and name in {f.name for f in fields(classes[section])}


def test_known_key_knows_the_config():
    assert known_key("train.steps") and known_key("task.pretrain_epochs")
    assert known_key("model.tie_embeddings") and known_key("name")
    assert not known_key("train.stepz") and not known_key("task.nosuch")
    assert not known_key("trian.steps") and not known_key("model")


def _placeholders_filled(sub: argparse.ArgumentParser, args: list[str]) -> list[str]:
    """``args`` with a placeholder value (``N``) of a typed option made ``1``."""
    out = list(args)
    for k, word in enumerate(args[:-1]):
        action = sub._option_string_actions.get(word)
        if action is not None and action.type in (int, float) and PLACEHOLDER.match(args[k + 1]):
            out[k + 1] = "1"
    return out


def _positionals(sub: argparse.ArgumentParser, args: list[str]) -> list[str]:
    """The words not taken by an option (or as an option's value)."""
    out, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif word.startswith("-"):
            action = sub._option_string_actions.get(word.split("=")[0])
            skip = action is not None and action.nargs != 0 and "=" not in word
        else:
            out.append(word)
    return out


def _overrides(args: list[str]) -> list[str]:
    return [args[k + 1] for k, word in enumerate(args[:-1]) if word == "--set"]


@pytest.mark.parametrize("command", ALL, ids=str)
def test_command_names_a_real_verb_and_its_flags(command, tmp_path, monkeypatch):
    parser = _parser()
    verbs = _verbs(parser)
    args = command.args
    if args[:1] in (["--version"], ["--help"], ["-h"]):
        return
    assert args and args[0] in verbs, f"{command}: no such command (have {sorted(verbs)})"
    sub = verbs[args[0]]
    for word in args[1:]:
        if word.startswith("-") and word != "-":
            assert word.split("=")[0] in sub._option_string_actions, \
                f"{command}: rnnkit {args[0]} has no option {word}"
    for override in _overrides(args):
        key = override.split("=")[0]
        assert override == "..." or "=" in override and known_key(key), \
            f"{command}: --set {key}: no such config key"
    if not _positionals(sub, args[1:]):
        return  # a mention (`rnnkit evaluate`, `rnnkit predict --input`), not a whole command
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parsed = parser.parse_args(_placeholders_filled(sub, args))
    except SystemExit:
        pytest.fail(f"{command}: the parser refuses it: {errors.getvalue().strip()}")
    config = getattr(parsed, "config", None)
    if args[0] in ("train", "tune") and config and (ROOT / config).is_file() \
            and config.startswith("examples/"):
        monkeypatch.chdir(tmp_path)
        _load(ROOT / config, [_filled(o, tmp_path) for o in _overrides(args)], command)


def _filled(override: str, tmp_path: Path) -> str:
    """``task.data=PATH``: the placeholder made an existing folder."""
    key, value = override.split("=", 1)
    return f"{key}={tmp_path}" if PLACEHOLDER.match(value) else override


def _load(path: Path, overrides: list[str], what) -> None:
    from rnnkit.tasks import load_config
    from rnnkit.training import ConfigError

    try:
        load_config(path, overrides)
    except ConfigError as e:
        pytest.fail(f"{what}: {e}")


SET_SPAN = re.compile(r"`--set ([^`=\s]+)=[^`]*`")


def test_every_set_in_prose_names_a_config_key():
    """``--set task.min_freq=5`` in a sentence (on an example config the sentence names)."""
    unknown = [f"{page.relative_to(ROOT)}: --set {key}" for page in PAGES
               for key in SET_SPAN.findall(page.read_text(encoding="utf-8"))
               if not known_key(key)]
    assert not unknown, "no such config key:\n" + "\n".join(unknown)
    assert SET_SPAN.findall("on `--set task.ensemble=5` or") == ["task.ensemble"]


# --- a page's commands in order ------------------------------------------------------------

def _run_written(command: Command) -> str | None:
    """The run directory a bash ``train``/``tune`` command writes, where the page shows
    enough to know it."""
    args = command.args
    sub = _verbs(_parser())[args[0]]
    given = _positionals(sub, args[1:])
    if not given or not (ROOT / given[0]).is_file() or "--resume" in args:
        return None
    name = tomllib.loads((ROOT / given[0]).read_text(encoding="utf-8")).get("name", "run")
    for override in _overrides(args):
        if override.startswith("name="):
            name = override.split("=", 1)[1]
    if args[0] == "tune":
        name = args[args.index("--name") + 1] if "--name" in args else f"{name}-tune"
    if "--run-dir" in args:
        return args[args.index("--run-dir") + 1].rstrip("/")
    return f"runs/{name}"


def _runs_named_in(page: Path) -> set[str]:
    """The runs a page's Python blocks train: each TOML text's top-level ``name``."""
    text = page.read_text(encoding="utf-8")
    return {f"runs/{m}" for m in re.findall(r'^name = "([^"]+)"', text, re.M)}


@pytest.mark.parametrize("page", [p for p in PAGES if any(
    c.page == p and c.where == "bash" for c in ALL)], ids=lambda p: p.name)
def test_bash_blocks_in_order_write_and_read_the_runs_they_name(page):
    """Within one block (what a reader pastes) no two lines train into one directory; a
    run read is one trained above it on the page, or by the page's Python."""
    written: set[str] = set()
    in_block: dict[int, set[str]] = {}
    known = _runs_named_in(page)
    catalogues = {c.block for c in ALL if c.page == page and c.where == "bash"
                  and any(PLACEHOLDER.match(w) for w in c.args)}  # `rnnkit predict RUN ...`
    verbs = _verbs(_parser())
    for command in (c for c in ALL if c.page == page and c.where == "bash"):
        args = command.args
        if args[:1] not in ([v] for v in verbs):  # rnnkit --version
            continue
        if args[:1] in (["train"], ["tune"]):
            run = _run_written(command)
            if run is None:
                continue
            assert run not in in_block.setdefault(command.block, set()) \
                or "--overwrite" in args or command.block in catalogues, \
                f"{command}: {run} already holds the run an earlier line trained: this " \
                "stops with an error (give --set name=NEW, --run-dir or --overwrite)"
            named = re.findall(r"\bruns/[\w.-]+", command.comment)
            assert all(n == run for n in named), \
                f"{command}: the comment says {named[0]}, the command writes {run}"
            written.add(run)
            in_block[command.block].add(run)
            if args[0] == "tune":
                known.add(f"{run}-best")  # what training its best.toml writes
        else:
            sub = verbs[args[0]]
            target = next(iter(_positionals(sub, args[1:])), "")
            if target.startswith("runs/"):
                run = "/".join(target.rstrip("/").split("/")[:2])
                assert run in written | known, \
                    f"{command}: reads {run}, which nothing on the page trains " \
                    f"(it trains {sorted(written | known)})"


# --- TOML snippets -------------------------------------------------------------------------

def _toml_blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(2)) + 1, m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) == "toml"]


def _example_of(page: Path) -> Path | None:
    """The page's example config: the first ``examples/NAME.toml`` it names."""
    m = re.search(r"examples/[\w-]+\.toml", page.read_text(encoding="utf-8"))
    return ROOT / m.group(0) if m else None


TOML = [(page, line, block) for page in PAGES for line, block in _toml_blocks(page)]


@pytest.mark.parametrize("page,line,block", TOML,
                         ids=[f"{p.name}:{n}" for p, n, _ in TOML])
def test_toml_block_loads_as_a_config(page, line, block, tmp_path, monkeypatch):
    import tomli_w

    from rnnkit.tasks import TASKS

    where = f"{page.relative_to(ROOT)}:{line}"
    snippet = tomllib.loads(block)
    monkeypatch.chdir(tmp_path)
    task = snippet.get("task", {})
    if "name" not in task:  # a few keys to add to the page's example config
        example = _example_of(page)
        assert example is not None and example.is_file(), \
            f"{where}: a snippet without [task] name, and no example config on the page"
        overrides = [f"{section}.{key}={tomli_w.dumps({'v': value})[4:].strip()}"
                     for section, table in snippet.items() for key, value in table.items()]
        _load(example, overrides, where)
        return
    assert task["name"] in TASKS, f"{where}: no task {task['name']!r}"
    for f in fields(TASKS[task["name"]].config_class):  # data paths: empty files here
        value = task.get(f.name)
        if f.metadata.get("path") and isinstance(value, str) and value:
            path = tmp_path / value
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir() if not path.suffix else path.touch()
    (tmp_path / "config.toml").write_text(block, encoding="utf-8")
    _load(tmp_path / "config.toml", [], where)


def test_toml_blocks_are_found():
    assert any(p.name == "translation.md" for p, _, _ in TOML)
    assert any(p.name == "README.md" for p, _, _ in TOML)


# --- files named ---------------------------------------------------------------------------

def test_every_example_file_named_exists():
    missing = [f"{page.relative_to(ROOT)}: {name}" for page in PAGES
               for name in set(EXAMPLE_FILE.findall(page.read_text(encoding="utf-8")))
               if not (ROOT / name).is_file() and "/data/speech/" not in name]
    assert not missing, "\n".join(missing)
