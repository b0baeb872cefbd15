"""The ``rnnkit`` command: registers one module per subcommand, nothing else."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings

from .. import __version__

# one module per subcommand, imported by build_parser: they import torch, which takes the
# first second or so of every command (a Ctrl-C then is main's to handle, see main)
COMMANDS = ("train", "evaluate", "predict", "generate", "forecast", "detect", "translate",
            "transcribe", "caption", "export", "diagnose", "bench", "tune")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent neural networks on sequential data.",
        epilog="example: rnnkit train examples/adding.toml && rnnkit evaluate runs/adding-lstm",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f".{name}", __package__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``rnnkit`` console script. Importing this module loads nothing heavy, so that a
    Ctrl-C while the commands and torch load is one line and exit status 130 here, as it is
    during a command, not a traceback."""
    try:
        parser = build_parser()
    except KeyboardInterrupt:
        print(f"rnnkit: interrupted by {signal.SIGINT.name}", file=sys.stderr)
        return 128 + signal.SIGINT
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    shown = warnings.formatwarning
    warnings.formatwarning = _one_line
    try:
        return args.run(args)
    except BrokenPipeError:  # `rnnkit forecast RUN | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        warnings.formatwarning = shown


def _one_line(message, category, filename, lineno, line=None) -> str:
    """A warning as the user reads it: ``warning: <message>``, without Python's file, line
    and source line."""
    return f"warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
