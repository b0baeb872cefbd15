"""What the text tasks share: tokenizers kept in model.json, padded id tensors, and reading
user text (files, stdin) into lines with defined results for empty, long and non-UTF-8 input.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data.tokenizers import CharTokenizer, WordTokenizer, tokenizer_from_dict
from ..models import MODELS
from .base import TaskError

Tokenizer = CharTokenizer | WordTokenizer


def model_keys_except(model_class: str, fixed: set[str]) -> set[str]:
    """The model's keyword arguments a config may set: all but ``fixed`` (what the data
    decides, e.g. vocabulary sizes), found without loading the data."""
    params = inspect.signature(MODELS[model_class]).parameters
    return {k for k in params if k not in fixed and params[k].kind is not params[k].VAR_KEYWORD}


def pad_ids(seqs: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> (ids (N, T) padded with ``pad``, lengths (N,)); empty lists count as 1."""
    sizes = [max(len(s), 1) for s in seqs]
    width = max(sizes, default=1)
    # padded rows as Python lists, one tensor made from them (not one tensor per row)
    rows = [list(s) + [pad] * (width - len(s)) for s in seqs]
    ids = torch.tensor(rows, dtype=torch.long) if rows else torch.full((0, 1), pad)
    return ids, torch.tensor(sizes, dtype=torch.long)


def saved_tokenizer(info: dict[str, Any], key: str = "tokenizer") -> Tokenizer:
    """The tokenizer stored in a run's model.json (``info``: its contents)."""
    if key not in info:
        raise TaskError(f"the checkpoint's model.json holds no {key!r}; retrain the run "
                        "with this version of rnnkit")
    return tokenizer_from_dict(info[key])


_SURROGATES = re.compile("[\ud800-\udfff]")


def as_lines(inputs: Any) -> list[TextLine]:
    """Texts given to a predictor (str, :class:`TextLine`, or a list of them). Lone
    surrogates (a str that is not text: no encoding can write it) become U+FFFD, and the
    line's ``problem`` says so."""
    if isinstance(inputs, (str, TextLine)):
        inputs = [inputs]
    out = []
    for i, item in enumerate(inputs):
        if isinstance(item, TextLine):
            out.append(item)
        elif isinstance(item, str):
            text, replaced = _SURROGATES.subn("\ufffd", item)
            out.append(TextLine(text, f"{replaced} lone surrogate(s) (not text) replaced by "
                                      "U+FFFD" if replaced else ""))
        else:
            raise TaskError(f"input {i}: expected a text (str), got {type(item).__name__}")
    return out


@dataclass
class TextLine:
    """One line of user input: ``text`` (decoded), ``problem`` (why it cannot be used as it
    is: empty, invalid UTF-8 replaced, ...; "" when fine) and ``reference`` (what the file
    gives as the expected output, e.g. a parallel corpus's target; None: nothing)."""

    text: str
    problem: str = ""
    reference: str | None = None


def read_lines(path: str) -> list[TextLine]:
    """Lines of ``path`` (``-`` = stdin), split on ``\\n`` only, without a leading UTF-8 byte
    order mark. Bytes that are not UTF-8 are replaced by U+FFFD (an unknown token) and the
    line says so; a missing file or a directory is a :class:`TaskError`."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise TaskError(f"{path}: cannot read: {e.strerror or e}") from None
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")  # (a byte order mark is no text)
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for n, line in enumerate(lines, 1):
        line = line.rstrip(b"\r")
        try:
            out.append(TextLine(line.decode("utf-8")))
        except UnicodeDecodeError as e:
            out.append(TextLine(line.decode("utf-8", errors="replace"),
                                f"line {n}: not valid UTF-8 (byte {line[e.start]:#04x} at "
                                f"offset {e.start}); invalid bytes read as U+FFFD"))
    return out


def clip_tokens(ids: list[int], limit: int) -> tuple[list[int], bool]:
    """At most ``limit`` ids, and whether any were cut."""
    return (ids[:limit], True) if len(ids) > limit else (ids, False)
