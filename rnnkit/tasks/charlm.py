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

``rnnkit generate RUN --prompt "ROMEO:" --max-new 500 --temperature 0.8 --top-k 40 --seed 0``
streams characters to stdout, one model step each (no re-reading of the prefix).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..data.datasets import DataError
from ..data.text import load_shakespeare
from ..data.tokenizers import UNK, CharTokenizer, Vocabulary
from ..training.config import TaskConfig, number
from ..training.trainer import evaluate_model
from .base import Task, TaskError, register
from .text_common import clip_tokens, model_keys_except, saved_tokenizer


@dataclass
class CharLMConfig(TaskConfig):
    name: str = "charlm"
    text: str = ""  # a UTF-8 text file to model instead of tiny Shakespeare (same 90/10 split)
    window: int = number(128, 2)  # characters per training row
    val_streams: int = number(16, 1)  # contiguous rows the validation text is cut into
    max_predict_chars: int = number(100_000, 1)  # `predict` scores at most this many


@lru_cache(maxsize=4)
def load_text(path: str) -> tuple[str, str]:
    """(train, validation) text: tiny Shakespeare, or ``path`` split 90/10 like nanoGPT."""
    if not path:
        return load_shakespeare()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"task.text = {path!r}: cannot read it as UTF-8 text ({e})") from None
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> CharTokenizer:
    return CharTokenizer.fit(load_text(path)[0])


def rows(ids: torch.Tensor, n: int, width: int | None = None) -> dict[str, torch.Tensor]:
    """``x``/``y`` (next character) rows: ``n`` equal contiguous rows, or rows of ``width``."""
    x, y = ids[:-1], ids[1:]
    width = width or len(x) // n
    count = len(x) // width
    return {"x": x[:count * width].view(count, width), "y": y[:count * width].view(count, width)}


class CharLMTask(Task):
    name = "charlm"
    config_class = CharLMConfig
    model_class = "LanguageModel"
    text_io = True

    def model_keys(self) -> set[str]:
        return model_keys_except(self.model_class, {"vocab_size"})  # without loading data

    def data(self, cfg: CharLMConfig, seed: int):
        train, val = load_text(cfg.text)
        tok = _tokenizer(cfg.text)
        train_ids = torch.tensor(tok.encode(train), dtype=torch.long)
        val_ids = torch.tensor(tok.encode(val), dtype=torch.long)
        val_rows = rows(val_ids, cfg.val_streams)
        return {"train": rows(train_ids, 0, cfg.window), "val": val_rows, "test": val_rows}

    def model_args(self, cfg: CharLMConfig) -> dict[str, Any]:
        return {"vocab_size": len(_tokenizer(cfg.text).vocab)}

    def info(self, cfg):
        return {**super().info(cfg), "tokenizer": _tokenizer(cfg.task.text).to_dict()}

    def extra_metrics(self, model, data, batch_size):
        """``bits_per_char`` (the model's ``bits_per_token``: a token is a character)."""
        device = next(model.parameters()).device
        nats = evaluate_model(model, data, batch_size, device)["loss"]
        return {"bits_per_char": nats / math.log(2)}

    def report_sections(self, model, cfg, data) -> list[str]:
        """A sample: 400 characters after "ROMEO:" (temperature 0.8, top-k 40, seed 0)."""
        tok = CharTokenizer(Vocabulary(self.info(cfg)["tokenizer"]["tokens"]))
        prompt = "ROMEO:" if all(c in tok.vocab.stoi for c in "ROMEO:") else "\n"
        g = torch.Generator(device=next(model.parameters()).device).manual_seed(0)
        ids = torch.tensor(tok.encode(prompt), device=g.device)
        new = model.eval().generate(ids, 400, temperature=0.8, top_k=40, generator=g)
        return ["## Sample (temperature 0.8, top-k 40, seed 0)", "", "```",
                prompt + tok.decode(new.tolist()), "```"]

    def _encode(self, tok: CharTokenizer, text: str, what: str) -> list[int]:
        ids = tok.encode(text)
        unknown = sorted({c for c, i in zip(text, ids) if i == tok.vocab.stoi[UNK]})
        if unknown:
            print(f"warning: {what}: characters not in the training text read as <unk>: "
                  f"{''.join(unknown)!r}", file=sys.stderr)
        return ids

    def generate_text(self, run, options: dict[str, Any]) -> Iterator[str]:
        """The prompt, then ``max_new`` sampled characters, one at a time."""
        tok = saved_tokenizer(run)
        prompt = options.get("prompt") or "\n"
        ids = self._encode(tok, prompt, "--prompt")
        max_new = int(options.get("max_new") or 0)
        if max_new < 0:
            raise TaskError(f"--max-new must be >= 0, got {max_new}")
        temperature = float(options.get("temperature", 1.0))
        top_k = int(options.get("top_k") or 0) or None
        top_p = float(options.get("top_p") or 1.0)
        if temperature < 0 or (top_k is not None and top_k < 1) or not 0 < top_p <= 1:
            raise TaskError("need --temperature >= 0, --top-k >= 1 and 0 < --top-p <= 1")
        model = run.model
        device = next(model.parameters()).device
        g = torch.Generator(device=device).manual_seed(int(options.get("seed") or 0))
        model.eval()
        yield prompt
        for token in model.iter_generate(torch.tensor(ids, device=device), max_new,
                                         temperature=temperature, top_k=top_k,
                                         top_p=top_p if top_p < 1 else None, generator=g):
            yield tok.decode([int(token)])

    @torch.no_grad()
    def predict_text(self, run, lines, options: dict[str, Any]) -> list[dict[str, Any]]:
        """Per line: how surprising the model finds it (nats and bits per character), each
        line read after a newline, as it would follow one in the training text."""
        tok = saved_tokenizer(run)
        model, cfg = run.model, run.cfg.task
        device = next(model.parameters()).device
        out = []
        for line in lines:
            record: dict[str, Any] = {"text": line.text}
            ids, cut = clip_tokens(tok.encode("\n" + line.text), cfg.max_predict_chars + 1)
            if line.problem:
                record["warning"] = line.problem
            if len(ids) < 2:
                record.update(loss=None, bits_per_char=None, error="empty line: nothing to score")
            else:
                x = torch.tensor(ids, device=device)[None]
                loss = model.compute_loss({"x": x[:, :-1], "y": x[:, 1:]}).loss.item()
                record.update(loss=loss, bits_per_char=loss / math.log(2), chars=len(ids) - 1)
                if cut:
                    record["truncated"] = True
            out.append(record)
        return out


register(CharLMTask())
