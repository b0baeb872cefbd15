"""The predictor of task ``classify`` (:mod:`rnnkit.tasks.classify`), and the reading and
encoding that training shares with it.

Inputs: sequences (T, F) — arrays, nested lists, or the :class:`Sequence` items
:meth:`ClassifyPredictor.read_file` returns (the run's training formats, labels ignored;
``.npy``/``.json`` arrays). Each is scaled by the training part's per-feature mean and
std stored in model.json; a missing value becomes 0 after scaling (the training mean).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.datasets import DataError
from ..data.sequences import Sequence, read_sequences
from .base import TaskError
from .predictor import Predictor, read_arrays


def encode(xs: list[np.ndarray], mean: np.ndarray, std: np.ndarray
           ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(T_i, F) arrays -> scaled ``x`` (N, T_max, F) float32 zero-padded, ``lengths`` (N,),
    and how many missing values were filled with the mean (0 after scaling)."""
    lengths = torch.tensor([len(a) for a in xs])
    x = torch.zeros(len(xs), int(lengths.max()), len(mean))
    missing = 0
    for i, a in enumerate(xs):
        z = (a - mean) / std  # (T_i, F)
        nan = np.isnan(z)
        missing += int(nan.sum())
        x[i, :len(a)] = torch.from_numpy(np.where(nan, 0.0, z).astype(np.float32))
    return x, lengths, missing


def read_file(path: str | Path, cfg: Any, value_columns: list[str], whole: bool = False
              ) -> list[Sequence]:
    """The sequences of a data file, read as ``cfg`` (the task's config) names its columns;
    ``whole``: a table without the id column is one sequence."""
    try:
        return read_sequences(path, id_column=cfg.id_column, time_column=cfg.time_column,
                              label_column=cfg.label_column,
                              value_columns=value_columns or None, whole=whole)
    except DataError as e:
        raise TaskError(str(e)) from None


class ClassifyPredictor(Predictor):
    """Inputs: sequences (T, F) — arrays, nested lists, or the :class:`Sequence` items
    :meth:`read_file` returns. Records: ``{"label", "probability", "probabilities"}`` or
    ``{"value"}``; ``source`` (file and line) for items read from a file."""

    def read_file(self, path, **options) -> list[Any]:
        """The run's training formats (.ts, .npz, long .csv/.tsv/.jsonl; labels ignored;
        a table without the id column is one sequence), or ``.npy``/``.json`` arrays (one
        sequence, or a list of them)."""
        if Path(path).suffix.lower() in (".npy", ".json"):  # (NaN-padded as .npz may be)
            return [_unpadded(path, i, a) for i, a in enumerate(read_arrays(path))]
        named = self.config.task.value_columns or self.info.get("features") or []
        return read_file(path, self.config.task, named, whole=True)

    @torch.no_grad()
    def predict(self, inputs, explain: bool = False, **options) -> list[dict[str, Any]]:
        scaler, labels = self.info["scaler"], self.info.get("labels", [])
        mean, std = np.array(scaler["mean"]), np.array(scaler["std"])
        arrays, sources = self._arrays(inputs, len(mean), self.info.get("features"))
        out = []
        for start in range(0, len(arrays), 256):
            x, lengths, _ = encode(arrays[start:start + 256], mean, std)
            result = self.model(x.to(self.device), lengths)
            for j in range(len(lengths)):
                i = start + j
                record = {} if sources[i] is None else {"source": sources[i]}
                record.update(self._record(result.logits[j], labels, scaler))
                missing = int(np.isnan(arrays[i]).sum())
                if missing:
                    record["warning"] = (f"{missing} missing value(s) filled with the training "
                                         "mean of their feature")
                if explain:
                    w = result.weights
                    record["weights"] = (None if w is None else
                                         [round(float(v), 6) for v in w[j, :len(arrays[i])]])
                out.append(record)
        return out

    @staticmethod
    def _record(output: torch.Tensor, labels: list[str], scaler) -> dict[str, Any]:
        if not labels:
            return {"value": float(output[0]) * scaler["target_std"] + scaler["target_mean"]}
        probs = torch.softmax(output.float(), -1)  # (C,)
        k = int(probs.argmax())
        return {"label": labels[k], "probability": round(float(probs[k]), 6),
                "probabilities": {n: round(float(p), 6) for n, p in zip(labels, probs)}}

    @staticmethod
    def _arrays(inputs, width: int, features: list[str] | None = None
                ) -> tuple[list[np.ndarray], list[str | None]]:
        """Inputs as (T, F) float64 arrays, and where each came from (None: given);
        ``features``: the names of the ``width`` features the run was trained on, if known."""
        if isinstance(inputs, (np.ndarray, torch.Tensor)) and np.ndim(inputs) == 3:
            inputs = list(inputs)
        if isinstance(inputs, Sequence) or not isinstance(inputs, (list, tuple)) or not inputs:
            raise TaskError("classify: give a non-empty list of sequences, each (T, F)")
        arrays, sources = [], []
        for i, item in enumerate(inputs):
            source = item.where if isinstance(item, Sequence) else None
            try:
                a = np.asarray(item.x if isinstance(item, Sequence) else item, dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise TaskError(f"input {i}: not a sequence of numbers ({e})") from None
            if a.ndim == 1 and width == 1:
                a = a[:, None]
            # (channels before time, as aeon and sktime hold them: the fix is a transpose)
            turned = (" (channels before time? give it transposed, time first)"
                      if a.ndim == 2 and a.shape[0] == width != a.shape[1] else "")
            if source is not None and a.ndim == 2 and len(a) and a.shape[1] != width:
                named = f" ({', '.join(map(repr, features))})" if features else ""
                raise TaskError(f"{source}: {a.shape[1]} feature(s) a step, but the run was "
                                f"trained on {width}{named}: give it sequences of those "
                                f"features, in that order{turned}")
            if a.ndim != 2 or a.shape[1] != width or not len(a):
                raise TaskError(f"{source or f'input {i}'}: expected shape (T, {width}) with "
                                f"T >= 1 (the model reads {width} feature(s)), got "
                                f"{a.shape}{turned}")
            if np.isinf(a).any():
                raise TaskError(f"{source or f'input {i}'}: holds infinite values")
            arrays.append(a)
            sources.append(source)
        return arrays, sources


def _unpadded(path, i: int, a: np.ndarray) -> np.ndarray:
    """Sequence ``i`` of an array file up to its last step with a value: steps NaN at
    every feature at its end are padding (a batch of sequences of different lengths), as
    in an .npz file."""
    if a.ndim == 0 or not a.size:
        return a
    observed = ~np.isnan(a.astype(np.float64))
    observed = observed.any(axis=tuple(range(1, a.ndim))) if a.ndim > 1 else observed
    if not observed.any():
        raise TaskError(f"{path}: sequence {i} is NaN at every step: every sequence needs a "
                        "value")
    return a[:len(observed) - int(np.argmax(observed[::-1]))]
