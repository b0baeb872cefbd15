"""Character language model (char-rnn) on tiny Shakespeare, or any UTF-8 text file.

Split: nanoGPT's (first 90% of characters train, last 10% validation; the test split is the
validation split, as nanoGPT has no other). The tokenizer (characters of the training text)
is saved in model.json.

Training batches: the training rows are consecutive ``window``-character pieces of the text,
so ``train.batching = "stream"`` (the default in examples/shakespeare.toml) puts them back into
``batch_size`` contiguous streams read ``train.tbptt`` characters a step with the LSTM state
carried across steps (char-rnn's truncated BPTT), and ``"shuffle"`` trains on the pieces in
random order from a zero state. Validation reads the held-out text as ``val_streams``
contiguous rows, so every character but the first of each row is predicted with all the
text before it as context: ``loss`` is nats per character, ``bits_per_char`` = loss / ln 2.

Predictor (``rnnkit.load(run)``):

- ``predict(texts)``: how surprising the model finds each text, read after a newline (as a
  line follows another in the training text), and what it expects next:
  ``{"text", "loss" (nats per character), "bits_per_char", "chars", "next"}``, ``next``
  the ``top`` most likely next characters with their probabilities.
- ``stream()``: the same one character (or piece of text) at a time:
  ``push(text) -> {"text", "chars", "nats", "next"}`` (``nats``: the surprisal of what was
  pushed); fed a line piece by piece, the surprisals add up to ``loss * chars`` and the last
  ``next`` is predict's.
- ``generate(prompt, max_new, temperature, top_k, top_p, seed)``: the prompt, then sampled
  characters one at a time (one model step each, no re-reading of the prefix); a fixed
  seed repeats exactly. ``rnnkit generate RUN --prompt "ROMEO:" --max-new 500`` streams them.

A text or prompt holding characters the training text lacks is read in Unicode NFC or NFD
when that form holds fewer of them (é typed composed for a text saved decomposed).
"""

from __future__ import annotations

import math
import sys
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..data.datasets import DataError
from ..data.text import load_shakespeare, not_text
from ..data.tokenizers import SPECIALS, UNK, CharTokenizer
from ..models.base import Model
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .datafiles import path_field
from .predictor import Predictor, Stream
from .text_common import as_lines, clip_tokens, saved_tokenizer

TEXT_KEYS = ("text", "train_data", "val_data", "test_data")  # the keys naming text files
LINE_START = "\n"  # what predict and stream read before a text (a text starts a line)


@dataclass
class CharLMConfig(TaskConfig):
    name: str = "charlm"
    text: str = path_field()  # a UTF-8 text file to model instead of tiny Shakespeare (same
    # 90/10 split); relative to the config file's folder
    data: str = path_field()  # the same, by the name every task gives a user's data
    train_data: str = path_field()  # or the parts: the training text ...
    val_data: str = path_field()  # ... the validation text (optional: train_data's last 10%)
    test_data: str = path_field()  # ... and the test text (optional: the validation text)
    window: int = number(128, 2)  # characters per training row
    val_streams: int = number(16, 1)  # contiguous rows the validation text is cut into
    max_predict_chars: int = number(100_000, 1)  # `predict` scores at most this many

    def __post_init__(self):
        if self.data and not self.text:
            self.text, self.data = self.data, ""


def read_text(path: str, key: str = "text") -> tuple[str, str]:
    """(train, validation) text: tiny Shakespeare, or ``path`` split 90/10 like nanoGPT."""
    if not path:
        return load_shakespeare()
    text = _read(path, key)
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


def _read(path: str, key: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")  # (a byte order mark is no text)
    except UnicodeDecodeError:
        archive = not_text(Path(path).read_bytes()[:8])
        raise DataError(f"task.{key} = {path!r}: {archive}" if archive else
                        f"task.{key} = {path!r}, {_first_bad_byte(path)} is not UTF-8; save "
                        "the file as UTF-8") from None
    except OSError as e:
        raise DataError(f"task.{key} = {path!r}: cannot read it as UTF-8 text ({e})") from None


def _first_bad_byte(path: str) -> str:
    """Where the first byte of ``path`` that is not UTF-8 is: ``line L, column C: byte B``
    (a text file's decoder counts from the start of a buffer, not of the file)."""
    try:
        Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:  # (e.object: the bytes after a byte order mark)
        line = e.object.count(b"\n", 0, e.start) + 1
        column = e.start - e.object.rfind(b"\n", 0, e.start)
        return f"line {line}, column {column}: byte {e.object[e.start]:#04x}"
    return "a byte"  # (the file changed since it was read)


def read_parts(cfg: CharLMConfig) -> tuple[str, str, str]:
    """(train, validation, test) text: one file (``text``/``data``) split 90/10 with the
    validation part also the test part, or the parts' files (``train_data``, ``val_data``:
    default train_data's last 10%, ``test_data``: default the validation text)."""
    if not cfg.train_data:
        train, val = read_text(cfg.text)
        return train, val, val
    if cfg.val_data:
        train, val = _read(cfg.train_data, "train_data"), _read(cfg.val_data, "val_data")
    else:
        train, val = read_text(cfg.train_data, "train_data")
    return train, val, _read(cfg.test_data, "test_data") if cfg.test_data else val


class CharLMContext(Context):
    """The run's text (train, validation) and the character tokenizer of the training part
    (a trained run's own from its model.json, ``saved``: the ids its model learnt)."""

    @cached_property
    def parts(self) -> tuple[str, str, str]:
        return read_parts(self.task_cfg)

    @cached_property
    def text(self) -> tuple[str, str]:
        return self.parts[0], self.parts[1]

    @cached_property
    def tokenizer(self) -> CharTokenizer:
        if "tokenizer" in self.saved:
            return saved_tokenizer(self.saved)
        return CharTokenizer.fit(self.text[0])


def rows(ids: torch.Tensor, n: int, width: int | None = None) -> dict[str, torch.Tensor]:
    """``x``/``y`` (next character) rows: ``n`` equal contiguous rows, or rows of ``width``."""
    x, y = ids[:-1], ids[1:]
    width = width or len(x) // n
    count = len(x) // width
    return {"x": x[:count * width].view(count, width), "y": y[:count * width].view(count, width)}


def sample_text(model: Model, tok: CharTokenizer, prompt: str, max_new: int, *,
                temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, seed: int = 0) -> Iterator[str]:
    """``max_new`` characters sampled after ``prompt``, one at a time (a generator seeded
    with ``seed`` on the model's device, so a fixed seed repeats exactly); never a special
    token (``<pad>``, ``<unk>``, ... are no character)."""
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor(tok.encode(prompt), device=device)
    model.eval()
    for token in model.iter_generate(ids, max_new, temperature=temperature, top_k=top_k,
                                     top_p=top_p, generator=g, never=tok.vocab.encode(SPECIALS)):
        yield tok.decode([int(token)])


class CharLMTask(Task):
    name = "charlm"
    config_class = CharLMConfig
    model_class = "LanguageModel"
    context_class = CharLMContext
    capabilities = frozenset({"text", "generate", "stream"})
    fixed_model_args = frozenset({"vocab_size"})

    def make_splits(self, ctx: CharLMContext):
        cfg, tok = ctx.task_cfg, ctx.tokenizer
        train, val, test = ctx.parts
        if len(train) <= cfg.window or min(len(val), len(test)) <= cfg.val_streams:
            files = ", ".join(f"task.{key} = {getattr(cfg, key)!r}" for key in TEXT_KEYS
                              if getattr(cfg, key))
            raise DataError((f"{files}: " if files else "")
                            + f"the text is too short: {len(train)} training characters (need "
                            f"more than task.window = {cfg.window}) and {len(val)} validation"
                            + (f" and {len(test)} test" if test is not val else "")
                            + f" characters (need more than task.val_streams = "
                            f"{cfg.val_streams}); give a longer text, or lower task.window and "
                            "task.val_streams")
        saved = "tokenizer" in ctx.saved  # (a trained run's: its text may have changed)
        lacks = "the run's saved vocabulary" if saved else "the training text"
        for name, part in ((("training", train),) if saved else ()) + (
                ("validation", val), ("test", test if test is not val else "")):
            unknown = unknown_chars(tok, part)
            if unknown:
                count = sum(c in unknown for c in part)
                warnings.warn(f"the {name} text holds {count} of its {len(part)} characters "
                              f"({len(unknown)} distinct: {unknown[:20]!r}) that {lacks} lacks: "
                              f"they are read as {UNK}, which the model never learns to "
                              "predict", stacklevel=2)
        train_ids = torch.tensor(tok.encode(train), dtype=torch.long)
        val_rows = rows(torch.tensor(tok.encode(val), dtype=torch.long), cfg.val_streams)
        test_rows = val_rows if test is val else rows(
            torch.tensor(tok.encode(test), dtype=torch.long), cfg.val_streams)
        return {"train": rows(train_ids, 0, cfg.window), "val": val_rows, "test": test_rows}

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg)
        t = cfg.task
        if t.text and t.data:
            errors.append("task.text and task.data both name the text file: set one")
        if t.text and t.train_data:
            errors.append("task.text (or task.data) and task.train_data both name the training "
                          "text: set one")
        errors += [f"task.{key} needs task.train_data (the parts come together)"
                   for key in ("val_data", "test_data") if getattr(t, key) and not t.train_data]
        return errors

    def model_args(self, ctx: CharLMContext) -> dict[str, Any]:
        return {"vocab_size": len(ctx.tokenizer.vocab)}

    def info(self, ctx: CharLMContext, model):
        return {**super().info(ctx, model), "tokenizer": ctx.tokenizer.to_dict()}

    def evaluate(self, ctx: CharLMContext, model, split: str) -> dict[str, Any]:
        """The model's figures plus ``bits_per_char`` (= loss / ln 2: a token is a
        character)."""
        figures = super().evaluate(ctx, model, split)
        figures["bits_per_char"] = figures["loss"] / math.log(2)
        return figures

    @torch.no_grad()
    def report_sections(self, ctx: CharLMContext, model) -> list[str]:
        """A sample: 400 characters after "ROMEO:" (temperature 0.8, top-k 40, seed 0)."""
        tok = ctx.tokenizer
        prompt = "ROMEO:" if all(c in tok.vocab.stoi for c in "ROMEO:") else "\n"
        text = "".join(sample_text(model, tok, prompt, 400, temperature=0.8, top_k=40))
        return ["## Sample (temperature 0.8, top-k 40, seed 0)", "", "```", prompt + text,
                "```"]

    def predictor(self, ctx, model, info, run_dir=None):
        return CharLMPredictor(self, ctx, model, info, run_dir)


def top_chars(logits: torch.Tensor, tok: CharTokenizer, top: int) -> dict[str, float]:
    """The ``top`` most likely next characters -> probability, most likely first."""
    probs = torch.softmax(logits.float(), -1)  # (V,)
    values, ids = probs.topk(min(top, len(probs)))
    return {tok.vocab.itos[int(i)]: round(float(p), 6) for p, i in zip(values, ids)}


def unknown_chars(tok: CharTokenizer, text: str) -> str:
    """The characters of ``text`` the tokenizer reads as ``<unk>`` (sorted, joined)."""
    return "".join(sorted({c for c in text if c not in tok.vocab.stoi}))


def known_form(tok: CharTokenizer, text: str) -> str:
    """``text`` as given, or in Unicode NFC or NFD when that leaves fewer of its characters
    unknown to the tokenizer (a text typed composed, é, for a model of a text saved
    decomposed, e + U+0301, or the reverse)."""
    if not unknown_chars(tok, text):
        return text
    forms = [text, unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)]
    return min(forms, key=lambda form: len(unknown_chars(tok, form)))


class CharLMPredictor(Predictor):
    """Inputs: texts (str or :class:`~rnnkit.tasks.text_common.TextLine`). See the module
    docstring for the records of :meth:`predict`, :meth:`stream` and :meth:`generate`."""

    @cached_property
    def tokenizer(self) -> CharTokenizer:
        return saved_tokenizer(self.info)

    @torch.no_grad()
    def predict(self, inputs, top: int = 5, **options) -> list[dict[str, Any]]:
        """Per text: ``loss`` (mean nats per character, each read with everything before it
        as context, starting after a newline), ``bits_per_char``, ``chars`` (how many were
        scored: at most ``task.max_predict_chars``) and ``next`` (the ``top`` most likely
        characters to follow -> probability). An empty text gets ``error``."""
        tok, limit = self.tokenizer, self.config.task.max_predict_chars
        out = []
        for line in as_lines(inputs):
            record: dict[str, Any] = {"text": line.text}
            text = known_form(tok, line.text)
            ids, cut = clip_tokens(tok.encode(LINE_START + text), limit + 1)
            notes = [line.problem] if line.problem else []
            unknown = unknown_chars(tok, text)
            if unknown:
                notes.append(f"characters not in the training text read as {UNK}: {unknown!r}")
            if notes:
                record["warning"] = "; ".join(notes)
            if len(ids) < 2:
                record.update(loss=None, bits_per_char=None, error="empty line: nothing to score")
                out.append(record)
                continue
            x = torch.tensor(ids, device=self.device)
            logits = self.model(x[None]).logits[0]  # (T, V)
            loss = (F.cross_entropy(logits[:-1], x[1:], reduction="sum") / (len(ids) - 1)).item()
            record.update(loss=loss, bits_per_char=loss / math.log(2), chars=len(ids) - 1,
                          next=top_chars(logits[-1], tok, top))
            if cut:
                record["truncated"] = f"scored the first {limit} characters"
            out.append(record)
        return out

    def stream(self, top: int = 5, **options) -> CharStream:
        """A :class:`CharStream`: push characters, get the next-character distribution."""
        return CharStream(self, top)

    def generate(self, prompt: str | None = None, max_new: int = 100, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0, **ignored) -> Iterator[str]:
        """The prompt (default a newline: start a line), then ``max_new`` characters, each a
        piece as it is sampled. ``temperature`` divides the logits (0 = greedy: always the
        most likely); ``top_k`` samples among the k most likely (0 = all); ``top_p``
        samples from the smallest set holding that much probability (1 = off); ``seed``
        fixes the sampling, so the same options give the same text. Prompt characters not in
        the training text are read as ``<unk>`` (a warning on stderr says which, or, with no
        prompt, that the text holds no newline to start from)."""
        tok = self.tokenizer
        given, prompt = bool(prompt), prompt or LINE_START
        max_new = 100 if max_new is None else int(max_new)
        temperature = 1.0 if temperature is None else float(temperature)
        top_k = int(top_k or 0) or None
        top_p = 1.0 if top_p is None else float(top_p)
        if max_new < 0:
            raise TaskError(f"max_new (--max-new) must be >= 0, got {max_new}")
        if (not 0 <= temperature < math.inf or (top_k is not None and top_k < 1)
                or not 0 < top_p <= 1):  # (NaN fails each comparison)
            raise TaskError("need temperature >= 0, top_k >= 1 and 0 < top_p <= 1 "
                            "(--temperature, --top-k, --top-p)")
        typed, prompt = prompt, known_form(tok, prompt)
        unknown = unknown_chars(tok, prompt)
        if unknown and not given:
            print("warning: the training text holds no newline, which generation starts from "
                  f"when given no prompt (read as {UNK}); give one (--prompt)", file=sys.stderr)
        elif unknown:
            print(f"warning: --prompt: characters not in the training text read as {UNK}: "
                  f"{unknown!r}", file=sys.stderr)
        pieces = sample_text(self.model, tok, prompt, max_new, temperature=temperature,
                             top_k=top_k, top_p=top_p if top_p < 1 else None,
                             seed=int(seed or 0))
        return _chain(typed, pieces)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


class CharStream(Stream):
    """The character LM read one piece at a time, with its state carried between pushes.

    A fresh stream (and :meth:`reset`) has read a newline, as :meth:`CharLMPredictor.predict`
    has before each text. ``push(text)`` reads ``text`` (one character or more) and returns
    ``{"text", "chars", "nats", "next"}``: ``nats`` is the surprisal of ``text`` given all
    pushed before (-ln p, summed over its characters), ``next`` the ``top`` most likely
    characters to follow -> probability."""

    def __init__(self, predictor: CharLMPredictor, top: int = 5):
        self.model, self.tok, self.top = predictor.model, predictor.tokenizer, top
        self.device = predictor.device
        self.reset()

    @torch.no_grad()
    def reset(self) -> None:
        self.state = None
        self.logits, self.state = self._read(self.tok.encode(LINE_START))[1:]

    def _read(self, ids: list[int]):
        """Every step's next-token logits (n, V), the last one (V,), the new state; one
        character goes through the model's step mode (one compiled call, no sequence)."""
        if len(ids) == 1:
            logits, state = self.model.step(torch.tensor(ids, device=self.device), self.state)
            return logits, logits[0], state
        x = torch.tensor([ids], device=self.device)
        out = self.model(x, state=self.state)
        return out.logits[0], out.logits[0, -1], out.state

    @torch.no_grad()
    def push(self, x_t: str) -> dict[str, Any]:
        if not isinstance(x_t, str):
            raise TaskError(f"push a text (str), got {type(x_t).__name__}")
        ids = self.tok.encode(known_form(self.tok, x_t))
        if not ids:
            return {"text": x_t, "chars": 0, "nats": 0.0,
                    "next": top_chars(self.logits, self.tok, self.top)}
        before = self.logits
        every, self.logits, self.state = self._read(ids)
        scores = torch.cat([before[None], every[:-1]])  # (n, V): what predicted each char
        target = torch.tensor(ids, device=self.device)
        nats = F.cross_entropy(scores, target, reduction="sum").item()
        return {"text": x_t, "chars": len(ids), "nats": nats,
                "next": top_chars(self.logits, self.tok, self.top)}


register(CharLMTask())
