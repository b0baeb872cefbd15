"""Sequence classification and regression on numeric sequences (task ``classify``).

One label (``task.target = "class"``) or one number (``"value"``) per sequence of feature
vectors: sensors, motion, physiological signals. Sequences are multivariate and of any
length; the lengths reach the recurrent layers, so padding never counts, and
``train.batching = "bucket"`` batches sequences of similar length.

Data (:mod:`rnnkit.data.sequences`): UEA/UCR ``.ts`` files, ``.npz`` (``X`` (N, T, F),
optional ``lengths`` and ``y``) or a long-format table (``id, t, features..., label``;
columns named by ``task.id_column``, ``time_column``, ``label_column``, ``value_columns``),
given as ``task.data`` (one file, split by ``split_seed``) or ``task.train_data``/
``val_data``/``test_data`` (:mod:`rnnkit.tasks.datafiles`). ``task.dataset`` names a set
aeon ships instead (``BasicMotions``, ``JapaneseVowels``): its official TRAIN/TEST split,
the validation part carved from TRAIN. Every run needs one of them.

Scaling: each feature is standardised with the mean and standard deviation of the
training part (validation and test never enter it); missing values (``?``/NaN) become the
training mean (0 after scaling) and are counted in a warning. With ``target = "value"`` the
targets are standardised the same way. Mean, std, class names and feature names are stored
in model.json, so a predictor reads no training data; evaluate and ``train --resume`` use
the run's saved classes and scaler too, not ones fitted again from data changed since
(sequences of a class the run was not trained on are then left out, with a warning).

Model: a ``SequenceClassifier`` (``SequenceRegressor`` for values); ``task.ensemble = N``
trains N classifiers side by side from seeds ``seed .. seed+N-1`` and averages their class
probabilities (a :class:`~rnnkit.models.ClassifierEnsemble`; classes only).

Classes: the training part's labels, sorted (as numbers when every label is one); a label
only validation or test has is an error. ``evaluate`` reports ``accuracy`` and ``loss``
(cross-entropy, nats) — or ``loss``/``mse`` on the scaled targets and ``rmse``/``mae`` in
the targets' units — and report.md gets the test confusion matrix.

Predictor (:mod:`rnnkit.tasks.classify_predictor`): ``predict(sequences)`` (each (T, F),
or (T,) for one feature, as arrays or lists, or what ``read_file`` returns) -> ``{"label",
"probability", "probabilities": {class: p}}`` (``{"value"}`` for regression), plus
``source`` for sequences read from a file and, with ``explain=True``, the attention
``weights`` per step (``pooling = "attention"``). ``read_file`` reads the training formats
(labels ignored, a .ts without labels too; a table without the id column is one sequence),
and ``.npy``/``.json`` arrays.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.batches import batches
from ..data.datasets import DataError
from ..data.sequences import UEA_SETS, Sequence, ts_target, uea_files
from ..models import MODELS, ClassifierEnsemble
from ..training.config import TaskConfig, choice, number
from .base import Context, Task, TaskError, register
from .classify_predictor import ClassifyPredictor, encode, read_file
from .datafiles import DataFilesConfig, data_errors, load_splits, uses_own_data
from .saved_labels import known_classes, saved_labels


@dataclass
class ClassifyConfig(DataFilesConfig, TaskConfig):
    name: str = "classify"
    # a set aeon ships, with its official TRAIN/TEST split (instead of data/train_data)
    dataset: str = choice("", "", *UEA_SETS)
    target: str = choice("class", "class", "value")  # a label per sequence, or a number
    id_column: str = "id"  # long tables: the sequence each row belongs to ...
    time_column: str = "t"  # ... its time step ("" = file order) ...
    label_column: str = "label"  # ... the sequence's label (the same on each of its rows)
    value_columns: list[str] = field(default_factory=list)  # the features ([] = the rest)
    # channel: each feature standardised by the training part's mean and std | none
    scaling: str = choice("channel", "channel", "none")
    ensemble: int = number(1, 1)  # classifiers trained with seeds seed..seed+N-1, their
    # probabilities averaged (N times the training time; target "class" only)


def sort_labels(names: set[str]) -> list[str]:
    """Class names in order: by value when every one is a number, else as strings."""
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def fit_scaler(xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over every observed step of ``xs`` (a
    constant feature gets std 1)."""
    flat = np.concatenate(xs)  # (sum T_i, F)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing feature
        mean, std = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    std = np.where(np.isnan(std) | (std < 1e-12), 1.0, std)
    return mean, std


class ClassifyContext(Context):
    """The run's sequences by split, the classes and the scaler fitted on the training
    part (a trained run's own from its model.json, ``saved``, whatever the data are now;
    sequences of a class it was not trained on are left out)."""

    @cached_property
    def sequences(self) -> dict[str, list[Sequence]]:
        cfg = self.task_cfg
        if not uses_own_data(cfg):
            try:
                files = uea_files(cfg.dataset)
            except DataError as e:
                raise TaskError(str(e)) from None
            cfg = dataclasses.replace(cfg, train_data=str(files["train"]),
                                      test_data=str(files["test"]))
        parts = load_splits(cfg, self.read, "sequences")
        width = parts["train"][0].x.shape[1]
        for items in parts.values():
            for s in items:
                if s.x.shape[1] != width:
                    raise TaskError(f"{s.where}: {s.x.shape[1]} features, the training "
                                    f"part's first sequence has {width}")
        saved = saved_labels(self.saved) if cfg.target == "class" else None
        return parts if saved is None else known_classes(parts, saved, lambda s: s.label,
                                                         "sequence(s)")

    def read(self, path: Path) -> list[Sequence]:
        """A data file's sequences, each with a label (a number with target "value")."""
        cfg = self.task_cfg
        items = read_file(path, cfg, cfg.value_columns)
        if cfg.target == "class" and path.suffix.lower() == ".ts" and ts_target(path) == "value":
            raise TaskError(f"{path}: @targetLabel true: the file holds a number to predict per "
                            'series (regression); set task.target = "value"')
        for s in items:
            if np.isinf(s.x).any():
                t, f = np.argwhere(np.isinf(s.x))[0]
                name = repr(s.features[f]) if s.features else f + 1
                raise TaskError(f"{s.where}: step {t + 1}, feature {name} is infinite "
                                f"({s.x[t, f]}): write a number there, or mark it missing "
                                "(NaN; ? or an empty cell in text files)")
            if s.label is None and s.features:  # (a table without the label column)
                raise TaskError(f"{s.where}: no label: {path} has no column "
                                f"{cfg.label_column!r} (read as features: "
                                f"{', '.join(map(repr, s.features))}); name the label column "
                                "with task.label_column")
            if s.label is None:
                raise TaskError(f"{s.where}: no label ({path} holds none); training needs "
                                "one per sequence")
            if cfg.target == "value" and not _finite(s.label):
                raise TaskError(f"{s.where}: target {s.label!r} is not a finite number "
                                '(task.target = "value")')
        return items

    @cached_property
    def labels(self) -> list[str]:
        """The class names: the training part's labels, sorted (``[]`` for values)."""
        if self.task_cfg.target == "value":
            return []
        if (saved := saved_labels(self.saved)) is not None:
            return saved
        names = sort_labels({s.label for s in self.sequences["train"]})
        if len(names) < 2:
            raise TaskError(f"the training part has {len(names)} class(es) ({names}); a "
                            "classifier needs at least 2")
        numbers = all(_finite(name) for name in names)
        for split in ("val", "test"):
            for s in self.sequences[split]:
                if s.label not in names:
                    shown = (f"{names}" if len(names) <= 10
                             else f"{names[:10]} ... ({len(names)} in all)")
                    raise TaskError(
                        f"{s.where}: label {s.label!r} in the {split} part is not one of the "
                        f"training part's classes {shown}: give training sequences of every "
                        "class (with task.data, another task.split_seed may place one in "
                        "training)" + ('; if the labels are numbers to predict, set '
                                       'task.target = "value"' if numbers else ""))
        return names

    @cached_property
    def scaler(self) -> dict[str, Any]:
        """``{"mean", "std"}`` per feature (lists), from the training part only; and for
        values ``target_mean``/``target_std``."""
        if "scaler" in self.saved:
            return self.saved["scaler"]
        train = self.sequences["train"]
        width = train[0].x.shape[1]
        if self.task_cfg.scaling == "channel":
            mean, std = fit_scaler([s.x for s in train])
        else:
            mean, std = np.zeros(width), np.ones(width)
        out = {"mean": mean.tolist(), "std": std.tolist()}
        if self.task_cfg.target == "value":
            y = np.array([float(s.label) for s in train])
            out.update(target_mean=float(y.mean()), target_std=float(y.std()) or 1.0)
        return out

    @cached_property
    def features(self) -> list[str] | None:
        """The feature names where the files give them (a table's columns), else None."""
        names = self.sequences["train"][0].features
        return list(names) if names else None


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def targets(items: list[Sequence], labels: list[str], scaler: dict[str, Any]) -> torch.Tensor:
    if labels:
        return torch.tensor([labels.index(s.label) for s in items])
    y = np.array([float(s.label) for s in items])
    return torch.from_numpy((y - scaler["target_mean"]) / scaler["target_std"]).float()


class ClassifyTask(Task):
    name = "classify"
    config_class = ClassifyConfig
    model_class = "SequenceClassifier"  # SequenceRegressor with target = "value"
    context_class = ClassifyContext
    capabilities = frozenset({"explain"})
    fixed_model_args = frozenset({"num_classes", "output_size", "vocab_size", "input_size",
                                  "embedding_dim"})

    def check(self, cfg) -> list[str]:
        t = cfg.task
        errors = super().check(cfg) + data_errors(t)
        if t.dataset and uses_own_data(t):
            errors.append(f"task.dataset = {t.dataset!r} and task.data/train_data both name "
                          "the data: set one")
        if not t.dataset and not uses_own_data(t):
            errors.append("classify needs data: task.data (one file), task.train_data and "
                          f"task.test_data, or task.dataset (one of {sorted(UEA_SETS)})")
        if t.ensemble > 1 and t.target == "value":
            errors.append(f"task.ensemble = {t.ensemble}: ensembles average class "
                          'probabilities; use task.target = "class", or task.ensemble = 1')
        if t.dataset and t.target == "value":
            errors.append(f'task.dataset = {t.dataset!r} is a classification set; task.target '
                          '= "value" needs your own data')
        if not (isinstance(t.value_columns, list)
                and all(isinstance(c, str) and c for c in t.value_columns)):
            errors.append(f"task.value_columns = {t.value_columns!r}: expected a list of "
                          'column names, e.g. ["ax", "ay", "az"]')
        return errors

    def make_splits(self, ctx: ClassifyContext):
        mean, std = (np.array(ctx.scaler[k]) for k in ("mean", "std"))
        out, missing = {}, 0
        for split, items in ctx.sequences.items():
            x, lengths, n = encode([s.x for s in items], mean, std)
            missing += n
            out[split] = {"x": x, "lengths": lengths,
                          "y": targets(items, ctx.labels, ctx.scaler)}
        if missing:
            warnings.warn(f"{missing} missing value(s) ('?' or NaN) filled with the training "
                          "part's mean of their feature", stacklevel=2)
        return out

    def model_args(self, ctx: ClassifyContext) -> dict[str, Any]:
        width = len(ctx.scaler["mean"])
        if ctx.task_cfg.target == "value":
            return {"output_size": 1, "input_size": width}
        return {"num_classes": len(ctx.labels), "input_size": width}

    def build_model(self, ctx: ClassifyContext):
        name = "SequenceRegressor" if ctx.task_cfg.target == "value" else self.model_class
        args = {**self.model_args(ctx), **self._model_kwargs(ctx.cfg)}
        if ctx.task_cfg.ensemble > 1:
            return ClassifierEnsemble(members=ctx.task_cfg.ensemble, seed=ctx.cfg.seed, **args)
        return MODELS[name](**args)

    def info(self, ctx: ClassifyContext, model):
        return {**super().info(ctx, model), "labels": list(ctx.labels),
                "scaler": ctx.scaler, "features": ctx.features}

    @torch.no_grad()
    def extra_metrics(self, ctx: ClassifyContext, model, split):
        """Regression: rmse and mae in the targets' units."""
        if ctx.task_cfg.target != "value":
            return {}
        data = self.batches(ctx)[split]
        pred = _outputs(model, data, ctx.cfg.train.batch_size)[:, 0]
        scale = ctx.scaler["target_std"]
        err = (pred - data["y"]) * scale
        return {"rmse": float(err.pow(2).mean().sqrt()), "mae": float(err.abs().mean())}

    @torch.no_grad()
    def report_sections(self, ctx: ClassifyContext, model) -> list[str]:
        """The test confusion matrix (classification, up to 30 classes)."""
        labels = ctx.labels
        if not labels or len(labels) > 30:
            return []
        data = self.batches(ctx)["test"]
        pred = _outputs(model, data, ctx.cfg.train.batch_size).argmax(-1)
        counts = np.zeros((len(labels), len(labels)), dtype=int)
        np.add.at(counts, (data["y"].numpy(), pred.numpy()), 1)
        lines = [f"## Test confusion matrix ({int(np.trace(counts))} of {counts.sum()} "
                 "correct; rows: true class, columns: predicted)", "",
                 "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        lines += [f"| **{name}** | " + " | ".join(str(n) if n else "." for n in row) + " |"
                  for name, row in zip(labels, counts)]
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return ClassifyPredictor(self, ctx, model, info, run_dir)


def _outputs(model, data: dict[str, torch.Tensor], batch_size: int) -> torch.Tensor:
    """The model's outputs (logits or scaled predictions) over ``data``, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(b["x"].to(device), b["lengths"]).logits.cpu()
                      for b in batches(data, batch_size)])


register(ClassifyTask())
