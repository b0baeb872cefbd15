"""Sentence polarity (rt-polarity, Pang & Lee 2005): positive or negative movie snippets.

Split: a fixed seeded 90/10 train/test split (``folds = 0``), or fold ``fold`` of
``folds``-fold cross-validation; in both, ``val_fraction`` of the training part (seeded)
is held out to pick the best checkpoint, so the test part is never looked at while
training. The word tokenizer is fitted on the training part and saved in model.json.

Model: a (bidirectional) ``SequenceClassifier`` over word ids with attention pooling;
``lengths`` reach the layers, and ``train.batching = "bucket"`` batches sentences of similar
length. ``evaluate --json`` reports ``accuracy`` and ``loss`` (cross-entropy, nats).

``rnnkit predict RUN --text "..."`` / ``--input FILE`` prints
``{"text", "label": "positive"|"negative", "probability"}`` per line (the probability of
that label); ``--explain`` adds ``tokens`` and their attention ``weights``.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from functools import lru_cache
from typing import Any

import torch

from ..data.batches import batches
from ..data.text import Labelled, load_rt_polarity, split_rt_polarity
from ..data.tokenizers import WordTokenizer
from ..training.config import TaskConfig, number
from .base import Task, TaskError, register
from .text_common import clip_tokens, model_keys_except, pad_ids, saved_tokenizer

LABELS = ("negative", "positive")


@dataclass
class SentimentConfig(TaskConfig):
    name: str = "sentiment"
    folds: int = number(0, 0)  # 0: the seeded 90/10 split; k: k-fold cross-validation
    fold: int = number(0, 0)  # which fold is the test part (with folds > 0)
    split_seed: int = 0  # the shuffle of the split (kept apart from the run's seed)
    val_fraction: float = number(0.1, 0.01, 0.5)  # of the training part, for `best`
    min_freq: int = number(1, 1)  # words seen fewer times in training become <unk>
    max_vocab: int = number(0, 0)  # 0 = no limit
    max_tokens: int = number(400, 1)  # longer inputs are cut (predict says so)


def splits(cfg: SentimentConfig) -> dict[str, list[Labelled]]:
    """``train``/``val``/``test`` sentences for ``cfg`` (deterministic)."""
    return _splits(astuple(cfg))


def tokenizer(cfg: SentimentConfig) -> WordTokenizer:
    """The word tokenizer fitted on the training part."""
    return _tokenizer(astuple(cfg))


@lru_cache(maxsize=16)
def _splits(key: tuple) -> dict[str, list[Labelled]]:
    cfg = SentimentConfig(*key)
    if cfg.folds and cfg.fold >= cfg.folds:
        raise TaskError(f"task.fold = {cfg.fold}: must be < task.folds = {cfg.folds}")
    items = load_rt_polarity()
    train, test = split_rt_polarity(items, seed=cfg.split_seed, folds=cfg.folds or None,
                                    fold=cfg.fold)
    n_val = int(round(len(train) * cfg.val_fraction))
    g = torch.Generator().manual_seed(cfg.split_seed + 1)
    order = torch.randperm(len(train), generator=g).tolist()
    val = [train[i] for i in order[:n_val]]
    train = [train[i] for i in order[n_val:]]
    return {"train": train, "val": val, "test": test}


@lru_cache(maxsize=16)
def _tokenizer(key: tuple) -> WordTokenizer:
    cfg = SentimentConfig(*key)
    return WordTokenizer.fit([s.text for s in splits(cfg)["train"]], min_freq=cfg.min_freq,
                             max_size=cfg.max_vocab or None)


def to_tensors(items: list[Labelled], tok: WordTokenizer, limit: int) -> dict[str, torch.Tensor]:
    x, lengths = pad_ids([clip_tokens(tok.encode(s.text), limit)[0] for s in items])
    return {"x": x, "lengths": lengths, "y": torch.tensor([s.label for s in items])}


class SentimentTask(Task):
    name = "sentiment"
    config_class = SentimentConfig
    model_class = "SequenceClassifier"
    text_io = True

    def model_keys(self) -> set[str]:
        return model_keys_except(self.model_class, {"num_classes", "vocab_size", "input_size"})

    def data(self, cfg: SentimentConfig, seed: int):
        tok = tokenizer(cfg)
        return {k: to_tensors(v, tok, cfg.max_tokens) for k, v in splits(cfg).items()}

    def model_args(self, cfg: SentimentConfig) -> dict[str, Any]:
        return {"num_classes": 2, "vocab_size": len(tokenizer(cfg).vocab)}

    def info(self, cfg):
        return {**super().info(cfg), "tokenizer": tokenizer(cfg.task).to_dict(),
                "labels": list(LABELS)}

    @torch.no_grad()
    def report_sections(self, model, cfg, data) -> list[str]:
        """Misclassified test sentences, most confident mistakes first."""
        items = splits(cfg.task)["test"]
        device = next(model.parameters()).device
        probs = torch.cat([model.predict_proba(b["x"].to(device), b["lengths"]).cpu()
                           for b in batches(data["test"], 256)])  # (N, 2)
        wrong = [(float(probs[i].max()), i) for i in range(len(items))
                 if int(probs[i].argmax()) != items[i].label]
        lines = [f"## Misclassified test sentences ({len(wrong)} of {len(items)})", "",
                 "| true | predicted (p) | sentence |", "|---|---|---|"]
        for p, i in sorted(wrong, reverse=True)[:15]:
            text = items[i].text.replace("|", "\\|")
            lines.append(f"| {LABELS[items[i].label]} | {LABELS[1 - items[i].label]} "
                         f"({p:.2f}) | {text} |")
        return lines

    @torch.no_grad()
    def predict_text(self, run, lines, options: dict[str, Any]) -> list[dict[str, Any]]:
        tok = saved_tokenizer(run)
        model, limit = run.model, run.cfg.task.max_tokens
        device = next(model.parameters()).device
        model.eval()
        out = []
        for line in lines:
            record: dict[str, Any] = {"text": line.text}
            tokens = tok.split(line.text, tok.lower)
            if not tokens:
                record.update(label=None, probability=None,
                              error="empty line: no words to classify")
                out.append(record)
                continue
            ids, cut = clip_tokens(tok.vocab.encode(tokens), limit)
            result = model(torch.tensor([ids], device=device),
                           torch.tensor([len(ids)]))
            probs = torch.softmax(result.logits[0], -1)  # (2,)
            label = int(probs.argmax())
            record.update(label=LABELS[label], probability=round(float(probs[label]), 6))
            if cut:
                record["truncated"] = f"read the first {limit} of {len(tokens)} tokens"
            if line.problem:
                record["warning"] = line.problem
            if options.get("explain"):
                record["tokens"] = tokens[:limit]
                record["weights"] = ([round(float(w), 6) for w in result.weights[0]]
                                     if result.weights is not None else None)
            out.append(record)
        return out


register(SentimentTask())
