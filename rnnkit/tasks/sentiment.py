"""Text classification (task ``sentiment``): a label for each text.

Data: the user's CSV, TSV or JSON-lines file(s) with a text column and a label column
(``task.text_column``, ``task.label_column``; defaults ``text`` and ``label``), any number of
classes with any label strings — ``task.data`` (one file, split by ``split_seed``) or
``task.train_data``/``val_data``/``test_data`` (:mod:`rnnkit.tasks.datafiles`). Without
them: sentence polarity (rt-polarity, Pang & Lee 2005), positive or negative movie snippets.
The classes are the training part's labels, sorted; a label that only the validation or
test part has is an error naming its file and lines (:mod:`.text_labels`).

Split: a seeded train/test split (``test_fraction``; rt-polarity: 90/10), or fold ``fold``
of ``folds``-fold cross-validation (rt-polarity); ``val_fraction`` of the training part
(seeded) is held out to pick the best checkpoint, so the test part is never looked at while
training. The word tokenizer is fitted on the training part and saved in model.json with
the class names.

Model: a (bidirectional) ``SequenceClassifier`` over word ids with attention pooling;
``lengths`` reach the layers, and ``train.batching = "bucket"`` batches sentences of similar
length. ``task.ensemble = N``: N such classifiers trained side by side from seeds
``seed .. seed+N-1``, their class probabilities averaged (a
:class:`~rnnkit.models.ClassifierEnsemble`); the best checkpoint is the ensemble's, and
``evaluate``, ``predict`` (``--explain``: the members' mean weights) and ``export`` see the
ensemble. ``evaluate --json`` reports ``accuracy``, ``macro_f1`` (the mean of the classes'
F1: imbalanced classes) and ``loss`` (cross-entropy, nats); report.md adds precision,
recall and F1 per class on the test part.

``rnnkit predict RUN --text "..."`` / ``--input FILE`` prints
``{"text", "label", "probability", "probabilities": {class: p}}`` per line (``probability``
is that of the predicted label); ``--explain`` adds ``tokens`` and their attention
``weights``. ``--input`` reads one text a line, or a .csv/.tsv/.jsonl table's text column.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from ..data.batches import batches
from ..data.datasets import DataError
from ..data.tables import FORMATS, read_table
from ..data.text import Labelled, load_rt_polarity, split_rt_polarity
from ..data.tokenizers import WordTokenizer
from ..models import MODELS, ClassifierEnsemble, Model
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .class_figures import confusion, macro_f1, per_class_lines
from .datafiles import DataFilesConfig, data_errors, load_splits, path_field, uses_own_data
from .predictor import Predictor
from .saved_labels import known_classes, saved_labels
from .text_common import TextLine, as_lines, clip_tokens, pad_ids, read_lines, saved_tokenizer
from .text_labels import (
    is_label_list,
    repeated_texts_warning,
    respelled_classes_warning,
    unseen_labels_error,
)
from .text_pretrain import pretrain_encoder

LABELS = ("negative", "positive")


@dataclass
class SentimentConfig(DataFilesConfig, TaskConfig):
    name: str = "sentiment"
    text_column: str = "text"  # user tables: the column holding the text ...
    label_column: str = "label"  # ... and the one holding its class (any strings)
    folds: int = number(0, 0)  # rt-polarity: 0 = the seeded split; k = k-fold CV
    fold: int = number(0, 0)  # which fold is the test part (with folds > 0)
    min_freq: int = number(1, 1)  # words seen fewer times in training become <unk>
    max_vocab: int = number(0, 0)  # 0 = no limit
    max_tokens: int = number(400, 1)  # longer inputs are cut (predict says so)
    # the pretrain stage: the encoder first learns to predict each next (and, bidirectional,
    # previous) word of the training texts and of `unlabelled_data`, then the classifier is
    # fine-tuned from it (Dai & Le 2015; ULMFiT). 0 epochs = no stage.
    pretrain_epochs: int = number(0, 0)
    pretrain_lr: float = number(3e-3, 0.0)  # AdamW, cosine to 0 over the stage
    ensemble: int = number(1, 1)  # members trained with seeds seed..seed+N-1, probabilities
    # averaged (N times the training time)
    unlabelled_data: str = path_field()  # more text for the stage: a .txt (one text a line)
    # or the task.text_column of a .csv/.tsv/.jsonl table; its words join the vocabulary


class SentimentContext(Context):
    """The run's sentences by split and the tokenizer fitted on the training part (a
    trained run's classes and tokenizer are its own, from its model.json: ``saved``)."""

    @cached_property
    def items(self) -> dict[str, list[Labelled]]:
        """``train``/``val``/``test`` texts with class indices into :attr:`labels`."""
        return {split: [Labelled(text, self.labels.index(label)) for text, label in rows]
                for split, rows in self.rows.items()}

    @cached_property
    def rows(self) -> dict[str, list[tuple[str, str]]]:
        """``train``/``val``/``test`` (text, label name) pairs, deterministic given
        ``split_seed``; a trained run's own classes only (:func:`known_classes`)."""
        cfg = self.task_cfg
        if uses_own_data(cfg):
            rows = load_splits(cfg, self._read, "texts")
            repeated_texts_warning(rows)
            saved = saved_labels(self.saved)
            return rows if saved is None else known_classes(rows, saved, lambda r: r[1], "text(s)")
        if cfg.folds and cfg.fold >= cfg.folds:
            raise TaskError(f"task.fold = {cfg.fold}: must be < task.folds = {cfg.folds}")
        items = load_rt_polarity()
        train, test = split_rt_polarity(items, seed=cfg.split_seed, test_fraction=cfg.test_fraction,
                                        folds=cfg.folds or None, fold=cfg.fold)
        n_val = int(round(len(train) * cfg.val_fraction))
        g = torch.Generator().manual_seed(cfg.split_seed + 1)
        order = torch.randperm(len(train), generator=g).tolist()
        val = [train[i] for i in order[:n_val]]
        train = [train[i] for i in order[n_val:]]
        return {k: [(s.text, LABELS[s.label]) for s in v]
                for k, v in (("train", train), ("val", val), ("test", test))}

    @cached_property
    def labels(self) -> list[str]:
        """The class names: the training part's labels, sorted (a trained run's own)."""
        if (saved := saved_labels(self.saved)) is not None:
            return saved
        names = sorted({label for _, label in self.rows["train"]})
        if uses_own_data(self.task_cfg):
            respelled_classes_warning(self.task_cfg, [label for _, label in self.rows["train"]])
        if len(names) < 2:
            cfg = self.task_cfg
            where = f"{cfg.train_data or cfg.data}: " if uses_own_data(cfg) else ""
            raise TaskError(f"{where}the training part has {len(names)} class(es) ({names}); a "
                            "classifier needs at least 2" + (
                                f": is task.label_column = {cfg.label_column!r} the column of "
                                "the classes?" if where else ""))
        for split in ("val", "test"):
            unseen = sorted({label for _, label in self.rows[split]} - set(names))
            if unseen:
                raise unseen_labels_error(self.task_cfg, split, unseen, names, self._read_rows)
        return names

    def _read(self, path) -> list[tuple[str, str]]:
        rows, note = self._read_rows(path)
        if note:
            warnings.warn(note, stacklevel=2)
        return [(text, label) for text, label, _ in rows]

    def _read_rows(self, path) -> tuple[list[tuple[str, str, int]], str]:
        """(text, label, file line) of each row of the table at ``path``, and what was
        skipped (:meth:`Table.note`)."""
        cfg = self.task_cfg
        try:
            table = read_table(path, [cfg.text_column, cfg.label_column])
        except DataError as e:
            raise TaskError(str(e)) from None
        out = []
        for row, line in zip(table.rows, table.lines):
            text, label = row[cfg.text_column].strip(), row[cfg.label_column].strip()
            if not label:
                raise TaskError(f"{path}:{line}: empty {cfg.label_column!r}: every text needs "
                                "a label")
            if label.lower() == "nan":  # (pandas' and json.dumps' missing value)
                raise TaskError(f"{path}:{line}: {cfg.label_column!r} is NaN, a missing "
                                "value: every text needs a label (give its class, or leave "
                                "the row out)")
            if not text:
                raise TaskError(f"{path}:{line}: empty {cfg.text_column!r}: no words to "
                                "classify")
            if is_label_list(label):
                raise TaskError(f"{path}:{line}: {cfg.label_column!r} is a list {label}: one "
                                "text has one class here (multi-label data: a row per label, "
                                "or one label naming the combination)")
            out.append((text, label, line))
        return out, table.note()

    @cached_property
    def unlabelled(self) -> list[str]:
        """The texts of ``task.unlabelled_data`` (none when unset), for the pretrain stage."""
        path = self.task_cfg.unlabelled_data
        if not path:
            return []
        suffix = Path(path).suffix.lower()
        if suffix in FORMATS and suffix != ".txt":  # the tables read_file reads, too
            column = self.task_cfg.text_column
            try:
                texts = [row[column] for row in read_table(path, [column]).rows]
            except DataError as e:
                raise TaskError(str(e)) from None
        else:
            texts = [line.text for line in read_lines(path)]
        texts = [t.strip() for t in texts if t.strip()]
        if not texts:
            raise TaskError(f"task.unlabelled_data = {path!r}: no text in it")
        return texts

    @cached_property
    def tokenizer(self) -> WordTokenizer:
        """Fitted on the training texts and the unlabelled ones; Chinese, Japanese, Thai ...
        (written without spaces) a character a token. A trained run's own (``saved``)."""
        if "tokenizer" in self.saved:
            return saved_tokenizer(self.saved)
        cfg = self.task_cfg
        return WordTokenizer.fit([s.text for s in self.items["train"]] + self.unlabelled,
                                 min_freq=cfg.min_freq, max_size=cfg.max_vocab or None,
                                 split_unspaced=True)


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
        return {"num_classes": len(ctx.labels), "vocab_size": len(ctx.tokenizer.vocab)}

    def build_model(self, ctx: SentimentContext) -> Model:
        """A ``SequenceClassifier``, or with ``task.ensemble = N > 1`` a
        :class:`ClassifierEnsemble` of N whose member i starts as seed ``seed + i`` would."""
        args = {**self.model_args(ctx), **self._model_kwargs(ctx.cfg)}
        if ctx.task_cfg.ensemble == 1:
            return MODELS[self.model_class](**args)
        return ClassifierEnsemble(members=ctx.task_cfg.ensemble, seed=ctx.cfg.seed, **args)

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg) + data_errors(cfg.task)
        if cfg.task.unlabelled_data and not cfg.task.pretrain_epochs:
            errors.append("task.unlabelled_data is read by the pretrain stage only: set "
                          "task.pretrain_epochs (e.g. 5), or drop it")
        if cfg.task.folds and uses_own_data(cfg.task):
            errors.append("task.folds: cross-validation folds apply to rt-polarity; with your "
                          "own data, split by task.split_seed and task.test_fraction")
        return errors

    def pretrain(self, ctx: SentimentContext, model, run_dir, say=print) -> None:
        """The pretrain stage (``task.pretrain_epochs``): the encoder as a language model on
        the training texts and ``task.unlabelled_data`` (an ensemble's members each, member
        i with seed ``seed + i``); the losses go to pretrain.json (a list per member for an
        ensemble)."""
        cfg = ctx.task_cfg
        if not cfg.pretrain_epochs:
            return
        texts = [clip_tokens(ctx.tokenizer.encode(t), cfg.max_tokens)[0]
                 for t in [s.text for s in ctx.items["train"]] + ctx.unlabelled]
        members = list(model.members) if isinstance(model, ClassifierEnsemble) else [model]
        losses = []
        for i, member in enumerate(members):
            which = f" (member {i + 1}/{len(members)})" if len(members) > 1 else ""

            def on_epoch(epoch, loss, seconds, which=which):
                say(f"pretrain epoch {epoch + 1}/{cfg.pretrain_epochs}{which}: language-model "
                    f"loss {loss:.3f} nats a word ({seconds:.0f} s)")

            losses.append(pretrain_encoder(
                member.encoder, texts, epochs=cfg.pretrain_epochs, lr=cfg.pretrain_lr,
                batch_size=ctx.cfg.train.batch_size, seed=ctx.cfg.seed + i,
                dropout=ctx.cfg.model.dropout, on_epoch=on_epoch))
        record = {"epochs": cfg.pretrain_epochs, "texts": len(texts),
                  "unlabelled_texts": len(ctx.unlabelled),
                  "loss": losses[0] if len(members) == 1 else losses}
        (Path(run_dir) / "pretrain.json").write_text(json.dumps(record, indent=1) + "\n")

    def info(self, ctx: SentimentContext, model):
        return {**super().info(ctx, model), "tokenizer": ctx.tokenizer.to_dict(),
                "labels": list(ctx.labels)}

    @torch.no_grad()
    def probabilities(self, ctx: SentimentContext, model, split: str) -> torch.Tensor:
        """Class probabilities (N, C) of ``split``'s texts, on the CPU."""
        model.eval()
        device = next(model.parameters()).device
        return torch.cat([model.predict_proba(b["x"].to(device), b["lengths"]).cpu()
                          for b in batches(self.batches(ctx)[split], 256)])  # (N, C)

    def extra_metrics(self, ctx: SentimentContext, model, split: str) -> dict[str, Any]:
        """``macro_f1``: the mean of the classes' F1 (:mod:`.class_figures`), which
        guessing the most common class cannot fake on imbalanced classes."""
        predicted = self.probabilities(ctx, model, split).argmax(-1).tolist()
        true = [s.label for s in ctx.items[split]]
        return {"macro_f1": macro_f1(confusion(true, predicted, len(ctx.labels)))}

    def report_sections(self, ctx: SentimentContext, model) -> list[str]:
        """The test figures per class, and the misclassified test sentences, most
        confident mistakes first."""
        items, labels = ctx.items["test"], ctx.labels
        probs = self.probabilities(ctx, model, "test")  # (N, C)
        predicted = probs.argmax(-1).tolist()
        counts = confusion([s.label for s in items], predicted, len(labels))
        wrong = [(float(probs[i].max()), i) for i in range(len(items))
                 if predicted[i] != items[i].label]
        lines = [*per_class_lines(counts, labels), "",
                 f"## Misclassified test sentences ({len(wrong)} of {len(items)})", "",
                 "| true | predicted (p) | sentence |", "|---|---|---|"]
        cell = [name.replace("|", "\\|") for name in labels]  # (a pipe would end the cell)
        for p, i in sorted(wrong, reverse=True)[:15]:
            text = items[i].text.replace("|", "\\|")
            lines.append(f"| {cell[items[i].label]} | {cell[predicted[i]]} ({p:.2f}) | {text} |")
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return SentimentPredictor(self, ctx, model, info, run_dir)


class SentimentPredictor(Predictor):
    """Inputs: texts (str or :class:`~rnnkit.tasks.text_common.TextLine`). Record:
    ``{"text", "label", "probability"}`` (the probability of that label), with
    ``explain=True`` also ``tokens`` and their attention ``weights``."""

    def read_file(self, path, **options):
        """One text a line (``-`` = stdin), or the text column of a .csv/.tsv/.jsonl table
        (the run's ``task.text_column``)."""
        suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
        if path != "-" and f".{suffix}" in FORMATS and suffix != "txt":
            column = self.config.task.text_column
            try:
                table = read_table(path, [])
            except DataError as e:
                raise TaskError(str(e)) from None
            if column not in table.columns:  # (the run's config is fixed: no key to set)
                raise TaskError(f"{path}: no column {column!r}; the columns are "
                                f"{', '.join(map(repr, table.columns))} (the run's "
                                f"task.text_column: name the texts' column {column!r}, or "
                                "give the texts one a line in a .txt file)")
            for row, line in zip(table.rows, table.lines):
                if row.get(column) is None:  # (JSON-lines: absent, or null)
                    raise TaskError(f"{path}:{line}: column {column!r} is "
                                    f"{'null' if column in row else 'missing'} on this row")
            return [TextLine(row[column]) for row in table.rows]
        return super().read_file(path, **options)

    batch_size = 256  # texts run together, sorted by length (padding + lengths)

    @torch.no_grad()
    def predict(self, inputs, explain: bool = False, **options) -> list[dict[str, Any]]:
        """Texts are tokenized, sorted by length and run in padded batches with their
        lengths (the same scores as one at a time: padding never reaches the output), and
        the records come back in input order."""
        tok = saved_tokenizer(self.info)
        labels = self.info.get("labels", list(LABELS))
        limit = self.config.task.max_tokens
        lines = as_lines(inputs)
        encode = tok.vocab.encode
        tokens = [tok.words(line.text) for line in lines]
        ids = [encode(t[:limit]) for t in tokens]
        probs: list[list[float] | None] = [None] * len(lines)
        weights: list[list[float] | None] = [None] * len(lines)
        order = sorted((i for i in range(len(lines)) if tokens[i]), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            x, lengths = pad_ids([ids[i] for i in chunk])
            result = self.model(x.to(self.device), lengths)
            # one conversion a batch: the records read Python floats, not tensor elements
            p = torch.softmax(result.logits.float(), -1).cpu().tolist()  # (B, C)
            w = None if not explain or result.weights is None \
                else result.weights.float().cpu().tolist()  # (B, T)
            for row, i in enumerate(chunk):
                probs[i] = p[row]
                if w is not None:
                    weights[i] = w[row][:len(ids[i])]
        return [self._record(lines[i], tokens[i], probs[i], weights[i], labels, limit,
                             explain) for i in range(len(lines))]

    @staticmethod
    def _record(line, tokens, probs, weights, labels, limit, explain) -> dict[str, Any]:
        record: dict[str, Any] = {"text": line.text}
        if probs is None:
            record.update(label=None, probability=None, probabilities=None,
                          error="empty line: no words to classify")
        else:
            label = max(range(len(probs)), key=probs.__getitem__)  # the first of a tie
            record.update(label=labels[label], probability=round(probs[label], 6),
                          probabilities={name: round(p, 6) for name, p in zip(labels, probs)})
            if len(tokens) > limit:
                record["truncated"] = f"read the first {limit} of {len(tokens)} tokens"
        if line.problem:
            record["warning"] = line.problem
        if explain and probs is not None:
            record["tokens"] = tokens[:limit]
            record["weights"] = None if weights is None else [round(w, 6) for w in weights]
        return record


register(SentimentTask())
