"""What the subcommands share: the errors they turn into one-line messages."""

from __future__ import annotations

import argparse
import functools
import sys

from ..data.datasets import DataError
from ..tasks import TaskError
from ..training import CheckpointError, ConfigError, NonFiniteLossError

USER_ERRORS = (ConfigError, CheckpointError, TaskError, NonFiniteLossError, FileNotFoundError,
               DataError)


def add_command(sub, name: str, help: str, example: str, run) -> argparse.ArgumentParser:
    """A subcommand whose help ends with an example and whose errors are one clean message."""
    parser = sub.add_parser(name, help=help.replace("%", "%%"), description=help,
                            epilog=f"example:\n  {example}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=functools.partial(_guarded, run))
    return parser


def _guarded(run, args) -> int:
    try:
        return run(args)
    except USER_ERRORS as e:
        print(f"rnnkit {args.command}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1


def say(*parts) -> None:
    """Human output: always stderr (stdout is for JSON)."""
    print(*parts, file=sys.stderr, flush=True)
