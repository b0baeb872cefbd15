"""Markdown for the generated reference pages, made from the code itself (never hand-copied):

- :func:`cli_markdown`: every ``rnnkit`` subcommand from the argparse parser that
  ``rnnkit.cli.main.build_parser`` builds (usage, arguments, defaults, choices, example);
- :func:`config_markdown`: every config key from the dataclasses of
  :mod:`rnnkit.training.config` and each task's ``config_class`` (type, default, allowed
  range or choices from the ``number(...)``/``choice(...)`` metadata, and the comment the
  source writes beside or above the field);
- :func:`include_markdown`: a repository markdown file (benchmarks/RESULTS.md, the
  experiments' README) as a page.

``docs/hooks.py`` calls these while mkdocs builds; ``python docs/gen_reference.py cli`` prints
one to stdout.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import sys
import textwrap
import tokenize
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cell(text) -> str:
    """A value made safe for one markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- the CLI -------------------------------------------------------------------------------

def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """name -> subparser, in the order the parser registers them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices.items())
    return {}


def _argument_row(action: argparse.Action, formatter) -> str | None:
    if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
        return None
    if action.option_strings:
        name = ", ".join(f"`{s}`" for s in action.option_strings)
        if action.nargs != 0:
            name += f" `{action.metavar or action.dest.upper()}`"
    else:
        name = f"`{action.metavar or action.dest}`"
        if action.nargs in ("?", "*"):
            name += " (optional)"
    default = action.default
    shown = ("" if default in (None, argparse.SUPPRESS, False, []) or not action.option_strings
             else f"`{default}`")
    choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
    help_text = formatter._expand_help(action) if action.help else ""
    if isinstance(action, argparse._AppendAction):
        help_text += " (repeatable)" if "repeatable" not in help_text else ""
    return f"| {name} | {_cell(help_text)} | {shown} | {choices} |"


def cli_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The CLI reference page: one section per subcommand."""
    if parser is None:
        from rnnkit.cli.main import build_parser

        parser = build_parser()
    commands = subcommands(parser)
    out = ["# CLI reference", "",
           "Generated from the argparse definitions in `rnnkit/cli/` (each subcommand's module "
           "registers its arguments) every time the site is built. "
           "`rnnkit COMMAND --help` prints the same.", "",
           "```text", parser.format_usage().strip(), "```", "",
           "| command | what it does |", "|---|---|"]
    helps = {a.dest: a.help for p in parser._actions
             if isinstance(p, argparse._SubParsersAction) for a in p._choices_actions}
    out += [f"| [`{n}`](#rnnkit-{n}) | {_cell((helps.get(n) or '').replace('%%', '%'))} |"
            for n in commands]
    for name, sub in commands.items():
        out += ["", f"## rnnkit {name} {{#rnnkit-{name}}}", "", sub.description or "", "",
                "```text", sub.format_usage().strip(), "```", ""]
        rows = [r for a in sub._actions if (r := _argument_row(a, sub._get_formatter()))]
        if rows:
            out += ["| argument | meaning | default | choices |", "|---|---|---|---|", *rows]
        if sub.epilog:
            example = textwrap.dedent(sub.epilog.split(":", 1)[-1].strip("\n"))
            out += ["", "Example:", "", "```bash", textwrap.dedent(example).strip(), "```"]
    return "\n".join(out) + "\n"


# --- the config ----------------------------------------------------------------------------

def field_comments(cls: type) -> dict[str, str]:
    """Field name -> the comment beside its line in the class source, with any comment lines
    just above it (the source's own explanation of the key)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, k = [], node.lineno - 1
            while k >= 1 and lines[k - 1].strip().startswith("#"):
                above.insert(0, comments.get(k, ""))
                k -= 1
            text = " ".join(above + [comments.get(node.lineno, "")]).strip()
            if text:
                out[node.target.id] = text
    return out


def _comments_of(cls: type) -> dict[str, str]:
    out: dict[str, str] = {}
    for base in reversed(cls.__mro__):  # a subclass's comment wins
        if dataclasses.is_dataclass(base):
            out.update(field_comments(base))
    return out


def _type_name(tp) -> str:
    if isinstance(tp, str):
        return tp
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _allowed(f: dataclasses.Field) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return ", ".join(f"`{c}`" for c in dict.fromkeys(meta["choices"]))
    lo, hi = meta.get("min"), meta.get("max")
    if "min" in meta or "max" in meta:
        if lo is not None and hi is not None:
            return f"{lo} ≤ x ≤ {hi}"
        if lo is not None:
            return f"≥ {lo}"
        if hi is not None:
            return f"≤ {hi}"
        return "any number"
    if meta.get("path"):
        return "a path (relative to the config file)"
    return ""


def _fmt_default(value) -> str:
    if dataclasses.is_dataclass(value):
        return "(table)"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def config_table(cls: type, section: str, skip: tuple[str, ...] = ()) -> list[str]:
    """One row per field of the dataclass ``cls``: key, type, default, allowed, meaning."""
    hints = typing.get_type_hints(cls)
    comments = _comments_of(cls)
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name in skip or dataclasses.is_dataclass(hints.get(f.name)):
            continue
        key = f"{section}.{f.name}" if section else f.name
        rows.append(f"| `{key}` | `{_cell(_type_name(hints.get(f.name, f.type)))}` | "
                    f"{_cell(_fmt_default(_default(f)))} | {_cell(_allowed(f))} | "
                    f"{_cell(comments.get(f.name, ''))} |")
    return rows


def _doc(cls: type) -> str:
    doc = inspect.cleandoc(cls.__doc__ or "")
    return "" if doc.startswith(f"{cls.__name__}(") else doc  # dataclass's generated one


def config_markdown() -> str:
    """The config reference page: the run's tables, then ``[task]`` for every task."""
    from rnnkit.tasks import TASKS
    from rnnkit.training import config as C

    out = ["# Config reference", "",
           "Generated from the config dataclasses (`rnnkit/training/config.py` and each task's "
           "`config_class` in `rnnkit.tasks.TASKS`) every time the site is built: every key, "
           "its type, its default, the allowed values (the `choice(...)` and `number(...)` "
           "limits that `rnnkit train` checks) and the comment the source gives it.", "",
           "A config is a TOML file; `rnnkit train CONFIG.toml --set train.lr=3e-4` overrides "
           "one key, and the run directory's `config.toml` holds every key with its value.", ""]
    sections = [("Top level", C.RunConfig, ""), ("[model]", C.ModelConfig, "model"),
                ("[train]", C.TrainConfig, "train"),
                ("[diagnostics]", C.DiagnosticsConfig, "diagnostics"),
                ("[logging]", C.LoggingConfig, "logging")]
    for title, cls, section in sections:
        out += [f"## {title}", "", _doc(cls), ""]
        out += config_table(cls, section, skip=("options",))
        if cls is C.ModelConfig:
            out += ["", "Any other `[model]` key is passed to the task's model as a keyword "
                    "(e.g. `embedding_dim`, `pooling`, `attention`): see the model classes in "
                    "the [models API](api/models.md)."]
        out.append("")
    from rnnkit.tasks.tuning.space import TuneSettings

    out += ["## [tune]", "", "Read only by `rnnkit tune` (`rnnkit train` ignores the table). "
            "Besides the settings below, every other key names a config key and its search "
            "space: a list is a choice (`\"model.hidden_size\" = [32, 64, 128]`), a table a "
            "range (`\"train.lr\" = {low = 1e-4, high = 1e-2, log = true}`, ints for an int "
            "range, `step` optional). See `examples/adding-tune.toml`.", "",
            _doc(TuneSettings), ""]
    out += config_table(TuneSettings, "tune")
    out += ["", "## [task]", "", "The keys depend on `task.name`:", ""]
    out += [f"- [`{n}`](#task-{n})" for n in TASKS]
    for name, task in TASKS.items():
        cls = task.config_class
        out += ["", f"### task.name = \"{name}\" {{#task-{name}}}", "",
                f"`{cls.__module__}.{cls.__name__}`. {_doc(cls)}".strip(), ""]
        out += config_table(cls, "task")
    return "\n".join(out) + "\n"


# --- included files --------------------------------------------------------------------------

def include_markdown(path: str, intro: str = "") -> str:
    """A repository markdown file as a page, with a line that says where it comes from."""
    text = (ROOT / path).read_text(encoding="utf-8")
    head, _, rest = text.partition("\n")
    note = f"*This page is `{path}` from the repository, included when the site is built.*"
    return "\n".join([head, "", note, "", intro, rest]) + "\n"


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "cli"
    sys.stdout.write(cli_markdown() if which == "cli" else config_markdown())
