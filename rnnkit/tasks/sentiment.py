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

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from ..data.batches import batches
from ..data.text import Labelled, load_rt_polarity, split_rt_polarity
from ..data.tokenizers import WordTokenizer
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .predictor import Predictor
from .text_common import as_lines, clip_tokens, pad_ids, saved_tokenizer

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


class SentimentContext(Context):
    """The run's sentences by split and the tokenizer fitted on the training part."""

    @cached_property
    def items(self) -> dict[str, list[Labelled]]:
        """``train``/``val``/``test`` sentences (deterministic given ``split_seed``)."""
        cfg = self.task_cfg
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

    @cached_property
    def tokenizer(self) -> WordTokenizer:
        cfg = self.task_cfg
        return WordTokenizer.fit([s.text for s in self.items["train"]], min_freq=cfg.min_freq,
                                 max_size=cfg.max_vocab or None)


def to_tensors(items: list[Labelled], tok: WordTokenizer, limit: int) -> dict[str, torch.Tensor]:
    x, lengths = pad_ids([clip_tokens(tok.encode(s.text), limit)[0] for s in items])
    return {"x": x, "lengths": lengths, "y": torch.tensor([s.label for s in items])}


class SentimentTask(Task):
    name = "sentiment"
    config_class = SentimentConfig
    model_class = "SequenceClassifier"
    context_class = SentimentContext
    capabilities = frozenset({"text", "explain"})
    fixed_model_args = frozenset({"num_classes", "vocab_size", "input_size"})

    def make_splits(self, ctx: SentimentContext):
        return {k: to_tensors(v, ctx.tokenizer, ctx.task_cfg.max_tokens)
                for k, v in ctx.items.items()}

    def model_args(self, ctx: SentimentContext) -> dict[str, Any]:
        return {"num_classes": 2, "vocab_size": len(ctx.tokenizer.vocab)}

    def info(self, ctx: SentimentContext, model):
        return {**super().info(ctx, model), "tokenizer": ctx.tokenizer.to_dict(),
                "labels": list(LABELS)}

    @torch.no_grad()
    def report_sections(self, ctx: SentimentContext, model) -> list[str]:
        """Misclassified test sentences, most confident mistakes first."""
        items = ctx.items["test"]
        device = next(model.parameters()).device
        probs = torch.cat([model.predict_proba(b["x"].to(device), b["lengths"]).cpu()
                           for b in batches(self.batches(ctx)["test"], 256)])  # (N, 2)
        wrong = [(float(probs[i].max()), i) for i in range(len(items))
                 if int(probs[i].argmax()) != items[i].label]
        lines = [f"## Misclassified test sentences ({len(wrong)} of {len(items)})", "",
                 "| true | predicted (p) | sentence |", "|---|---|---|"]
        for p, i in sorted(wrong, reverse=True)[:15]:
            text = items[i].text.replace("|", "\\|")
            lines.append(f"| {LABELS[items[i].label]} | {LABELS[1 - items[i].label]} "
                         f"({p:.2f}) | {text} |")
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return SentimentPredictor(self, ctx, model, info, run_dir)


class SentimentPredictor(Predictor):
    """Inputs: texts (str or :class:`~rnnkit.tasks.text_common.TextLine`). Record:
    ``{"text", "label", "probability"}`` (the probability of that label), with
    ``explain=True`` also ``tokens`` and their attention ``weights``."""

    @torch.no_grad()
    def predict(self, inputs, explain: bool = False, **options) -> list[dict[str, Any]]:
        tok = saved_tokenizer(self.info)
        limit = self.config.task.max_tokens
        out = []
        for line in as_lines(inputs):
            record: dict[str, Any] = {"text": line.text}
            tokens = tok.split(line.text, tok.lower)
            if not tokens:
                record.update(label=None, probability=None,
                              error="empty line: no words to classify")
                out.append(record)
                continue
            ids, cut = clip_tokens(tok.vocab.encode(tokens), limit)
            result = self.model(torch.tensor([ids], device=self.device),
                                torch.tensor([len(ids)]))
            probs = torch.softmax(result.logits[0], -1)  # (2,)
            label = int(probs.argmax())
            record.update(label=LABELS[label], probability=round(float(probs[label]), 6))
            if cut:
                record["truncated"] = f"read the first {limit} of {len(tokens)} tokens"
            if line.problem:
                record["warning"] = line.problem
            if explain:
                record["tokens"] = tokens[:limit]
                record["weights"] = ([round(float(w), 6) for w in result.weights[0]]
                                     if result.weights is not None else None)
            out.append(record)
        return out


register(SentimentTask())
