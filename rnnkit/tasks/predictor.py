"""Using a trained model: :func:`load` a run, then one protocol for every task.

    p = rnnkit.load("runs/sentiment-bilstm")        # checkpoint="best" | "last"
    p.task, p.config, p.model
    p.predict(["a gripping film", "dull and long"])  # one JSON-serialisable dict per input
    p.predict_file("reviews.txt")                    # the same from a file
    p.corpus_scores(records)                         # figures over records with references
    s = p.stream(); s.push(x_t); s.reset()           # where the task streams

Each task's :class:`Predictor` subclass says what its inputs are and what each record
holds; :attr:`Predictor.capabilities` says what else it offers (``generate``, ``stream``,
``plot`` ...; :data:`rnnkit.tasks.base.CAPABILITIES`). Everything a predictor needs beyond
the config (tokenizer, scaler, labels, interval factors) is read from the checkpoint's
model.json, so predicting reads no training data unless a method says so
(:meth:`Predictor.default_inputs`).
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.datasets import is_hidden
from ..models.base import Model
from ..training.checkpoint import (
    CheckpointError,
    build_model,
    checkpoint_exists,
    load_checkpoint,
)
from ..training.config import RunConfig
from ..training.config_io import ConfigError
from ..training.trainer import pick_device
from .base import TASKS, Context, Task, TaskError
from .datafiles import files_not_needed


class Stream:
    """Stateful use of a predictor, one step at a time: :meth:`push` takes the next
    observation and returns a dict; :meth:`reset` starts a fresh sequence."""

    def push(self, x_t: Any) -> dict[str, Any]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError


class Predictor:
    """A trained model with its task's pre- and post-processing.

    Subclasses implement :meth:`predict`; the others have defaults: :meth:`predict_file`
    reads the task's input format (:meth:`read_file`), :meth:`stream`, :meth:`generate`,
    :meth:`plot` and :meth:`write_report` raise :class:`TaskError` unless the task declares
    the capability.
    """

    def __init_subclass__(cls, **kwargs):
        """Every subclass's ``predict`` returns strict JSON: a NaN or infinite number (a
        diverged model) becomes ``null`` and the record says where (``warning``)."""
        super().__init_subclass__(**kwargs)
        if "predict" in cls.__dict__:
            cls.predict = _strict_json(cls.__dict__["predict"])

    def __init__(self, task: Task, ctx: Context, model: Model, info: dict[str, Any],
                 run_dir: Path | None = None):
        self._task, self.context, self.model, self.info = task, ctx, model, info
        self.run_dir = run_dir
        self.model.eval()

    # -- what it is ------------------------------------------------------------------------
    @property
    def task(self) -> str:
        """The task's name (``config.task.name``)."""
        return self._task.name

    @property
    def config(self) -> RunConfig:
        """The run's resolved config."""
        return self.context.cfg

    @property
    def capabilities(self) -> frozenset[str]:
        return self._task.capabilities

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def require(self, capability: str, what: str) -> None:
        """A :class:`TaskError` naming ``what`` unless the task has ``capability``."""
        if capability not in self.capabilities:
            raise TaskError(f"task {self.task!r} does not {what}")

    # -- the protocol ----------------------------------------------------------------------
    def predict(self, inputs: list[Any], **options: Any) -> list[dict[str, Any]]:
        """One JSON-serialisable dict per input."""
        raise NotImplementedError

    def predict_file(self, path: str | Path, **options: Any) -> list[dict[str, Any]]:
        """:meth:`predict` on the inputs :meth:`read_file` reads from ``path``."""
        return self.predict(self.read_file(path), **options)

    def corpus_scores(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Figures over many records from :meth:`predict` that no single record can hold,
        where the inputs carried the expected outputs (translation: corpus BLEU and chrF
        against a file's references); {} when there are none. ``rnnkit predict`` prints them
        on stderr after the records."""
        return {}

    def read_file(self, path: str | Path, **options: Any) -> list[Any]:
        """Inputs from a file in the task's input format. Default: sequences of numbers from
        ``.npy`` or ``.json`` (one sequence, or a list of them) or ``.csv`` (one sequence: a
        row per step, a column per feature); text tasks: one text a line (``-`` = stdin)."""
        if "text" in self.capabilities:
            from .text_common import read_lines

            return read_lines(str(path))
        return list(read_arrays(path))

    def read_texts(self, texts: list[str]) -> list[Any]:
        """Texts given on the command line, as :meth:`predict` takes them."""
        from .text_common import TextLine

        return [TextLine(t) for t in texts]

    def stream(self, **options: Any) -> Stream:
        """A :class:`Stream` over this model (tasks with the ``stream`` capability)."""
        raise TaskError(f"task {self.task!r} does not stream")

    def generate(self, **options: Any) -> dict[str, Any] | Iterator[str]:
        """New sequences (``generate``): text tasks yield pieces of text as they are
        produced, the others return one dict."""
        raise TaskError(f"task {self.task!r} does not generate; use predict")

    def plot(self, record: dict[str, Any], path: str | Path) -> Path:
        """Draw one record returned by :meth:`predict` into ``path`` (PNG)."""
        raise TaskError(f"task {self.task!r} has nothing to plot")

    def default_inputs(self) -> list[Any]:
        """The inputs the run itself holds (forecast: the series up to the test range);
        reads the run's data."""
        raise TaskError(f"task {self.task!r} needs inputs (give a file)")

    def write_report(self) -> Path:
        """Add the task's test-range section to the run's report.md (``report``)."""
        raise TaskError(f"task {self.task!r} has no report section to add")

    def export(self, directory: str | Path, format: str = "onnx", *,
               verify: bool = True, quantize: str | None = None) -> dict[str, Path]:
        """Write the model as ONNX graphs (:func:`rnnkit.export.export_model`: the whole
        sequence with lengths, a step with the state as inputs and outputs, or an encoder
        and a decoder step) into ``directory``, with ``preprocessing.json`` beside them:
        everything the predictor does that is not a tensor op (tokenizer, labels, scaler,
        transform, the task's config), so the predictor can be rebuilt without rnnkit.
        ``verify``: run each graph in onnxruntime against torch first (max abs diff
        <= 1e-4). ``quantize="dynamic"``: also ``<graph>.int8.onnx`` with int8 weights
        (onnxruntime's dynamic quantiser; export.json records the difference).
        Raises :class:`TaskError` when the model cannot be exported (saying why)."""
        if format != "onnx":
            raise TaskError(f"export format {format!r}: only 'onnx' is supported")
        from ..export import ExportError, export_model

        directory = Path(directory)
        model = self.model.cpu().float()
        try:
            paths = export_model(model, directory, verify=verify, quantize=quantize)
        except ExportError as e:
            raise TaskError(f"{type(self.model).__name__} cannot be exported: {e}") from None
        finally:
            self.model.to(self.device)
        skip = {"format", "format_version", "model_config", "step", "epoch"}
        pre = {k: v for k, v in self.info.items() if k not in skip}
        pre["graphs"] = {k: p.name for k, p in paths.items()}
        path = directory / "preprocessing.json"
        path.write_text(json.dumps(pre, indent=1, ensure_ascii=False) + "\n")
        return {**paths, "preprocessing": path}


def _strict_json(predict):
    @functools.wraps(predict)
    def wrapper(self, *args, **kwargs):
        try:
            records = predict(self, *args, **kwargs)
        except TypeError:  # (iterating over None or a number: the task said nothing better)
            inputs = args[0] if args else kwargs.get("inputs", [])
            if inputs is None or isinstance(inputs, numbers.Number):
                raise TaskError("predict takes a list of inputs (texts, files, sequences), "
                                f"got {inputs!r}") from None
            raise
        return [_finite_record(r) for r in records]
    return wrapper


def _all_finite(value) -> bool:
    """Whether no float in ``value`` (nested dicts, lists, tuples) is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple)):
        return True
    for v in value:
        if not isinstance(v, str) and not _all_finite(v):
            return False
    return True


def _finite_record(record: dict[str, Any]) -> dict[str, Any]:
    if _all_finite(record):  # the usual case: the record as it is, without a copy
        return record
    bad: list[str] = []

    def clean(value, where):
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(where)
            return None
        if isinstance(value, dict):
            return {k: clean(v, k if not where else f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, where) for v in value]
        return value

    out = clean(record, "")
    if bad:
        note = (f"non-finite values (NaN or infinity) in {', '.join(sorted(set(bad)))} "
                "written as null: the model's output is not usable")
        out["warning"] = f"{out['warning']}; {note}" if out.get("warning") else note
    return out


def files_in(folder: Path, suffixes: tuple[str, ...], what: str, also: str = "") -> list[str]:
    """The files directly in ``folder`` whose suffix is one of ``suffixes`` (any case), in
    name order, hidden ones passed over (:func:`~rnnkit.data.datasets.is_hidden`: macOS's
    ``._x.wav`` resource forks, ``.DS_Store``); none is a :class:`TaskError` naming
    ``what`` they would be (``also``: what else the folder could have held)."""
    files = sorted(str(p) for p in Path(folder).iterdir() if p.is_file()
                   and p.suffix.lower() in suffixes and not is_hidden(p))
    if not files:
        raise TaskError(f"{folder}: no {what} file ({', '.join(suffixes)}){also} in it")
    return files


def read_arrays(path: str | Path) -> list[np.ndarray]:
    """Numeric sequences from ``.npy`` / ``.json`` (a list of sequences, or one) / ``.csv``
    (one sequence: a row per step, a column per feature). An array of rank 3 is a batch of
    sequences (N, T, F), lower ranks one sequence; a JSON list of sequences of different
    lengths gives one array each."""
    path = Path(path)
    suffix = path.suffix.lower()  # (X.NPY is an .npy file)
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".json":
            raw = json.loads(path.read_text())
            try:
                array = np.asarray(raw, dtype=np.float64)
            except ValueError:  # sequences of different lengths: one array each
                if not isinstance(raw, list):
                    raise
                return [np.asarray(seq, dtype=np.float64) for seq in raw]
        elif suffix in (".csv", ".txt"):
            array = np.loadtxt(path, delimiter=",", ndmin=2)[None]
        else:
            raise TaskError(f"{path}: unknown input format {path.suffix!r} "
                            "(use .npy, .json or .csv)")
    except (OSError, ValueError, TypeError) as e:
        raise TaskError(f"{path}: cannot read inputs: {e}") from None
    if array.dtype.kind not in "fiub":
        raise TaskError(f"{path}: inputs must be numbers, got {array.dtype}")
    return [array] if array.ndim < 3 else list(array)


def open_checkpoint(run_dir: str | Path, checkpoint: str = "best"):
    """(config, checkpoint, model on the run's device in eval mode) of a run directory."""
    from .runner import load_config

    run_dir = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint = {checkpoint!r}: choose 'best' or 'last'")
    if not (run_dir / "config.toml").is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no config.toml)")
    with files_not_needed():  # predicting reads no data: moved data must not stop it
        cfg = load_config(run_dir / "config.toml")
    folder = run_dir / "checkpoints" / checkpoint
    other = run_dir / "checkpoints" / ("last" if checkpoint == "best" else "best")
    if not checkpoint_exists(folder) and checkpoint_exists(other):
        raise CheckpointError(f"no checkpoint at {folder} (the run saved only "
                              f"checkpoints/{other.name}): open it with checkpoint="
                              f"{other.name!r} (--checkpoint {other.name})")
    ckpt = load_checkpoint(folder, training_state=False)
    # a run trained on a GPU predicts on one where there is one, else on the CPU
    device = "auto" if cfg.train.device == "cuda" else cfg.train.device
    model = build_model(ckpt).to(pick_device(device))
    model.eval()
    return cfg, ckpt, model


def load(run_dir: str | Path, checkpoint: str = "best") -> Predictor:
    """The predictor of a trained run (``checkpoint``: ``"best"`` or ``"last"``). Like
    training, it runs torch on the run's ``train.threads`` CPU threads when the config sets
    them (small recurrent models run fastest on one; more threads than free cores slow
    every call down many times)."""
    cfg, ckpt, model = open_checkpoint(run_dir, checkpoint)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    task = TASKS[cfg.task.name]
    ctx = task.setup(cfg)
    ctx.saved = ckpt.info  # what the context reads of the data, it scales as the run did
    return task.predictor(ctx, model, ckpt.info, Path(run_dir))


def _ndim(value: Any) -> int:
    """np.ndim, or -1 for what is no array (ragged nested lists: NumPy raises)."""
    try:
        return np.ndim(value)
    except (TypeError, ValueError):
        return -1


def as_sequences(inputs: Any, features: int | None, what: str,
                 dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A list of sequences (each (T, F), or with ``features`` = 1 also (T,), an (N, T)
    item holding N of them), or one array (N, T, F), -> a padded batch (N, T_max, F) and
    lengths (N,). Errors name the input."""
    if isinstance(inputs, (np.ndarray, torch.Tensor)) and np.ndim(inputs) == 3:
        inputs = list(inputs)
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TaskError(f"{what}: give a non-empty list of sequences")
    seqs = []
    items = []
    for seq in inputs:  # with one feature, an (N, T) array holds N sequences (.json, .npy)
        if features == 1 and _ndim(seq) == 2 and np.shape(seq)[1] != 1:
            items.extend(list(np.asarray(seq)))
        else:
            items.append(seq)
    if not items:
        raise TaskError(f"{what}: no sequences (an array with no rows)")
    for i, seq in enumerate(items):
        try:
            a = torch.as_tensor(np.asarray(seq, dtype=np.float64), dtype=dtype)
        except (TypeError, ValueError) as e:
            raise TaskError(f"{what}: input {i} is not a sequence of numbers ({e})") from None
        if a.dim() == 1 and features == 1:
            a = a[:, None]
        if a.dim() != 2 or (features is not None and a.shape[1] != features) or not len(a):
            want = f"(T, {features})" if features else "(T, F)"
            raise TaskError(f"{what}: input {i} must have shape {want} with T >= 1, got "
                            f"{tuple(a.shape)}")
        if not torch.isfinite(a).all():
            raise TaskError(f"{what}: input {i} holds NaN or infinite values")
        seqs.append(a)
    if len({s.shape[1] for s in seqs}) > 1:
        raise TaskError(f"{what}: inputs have different numbers of features")
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    return x, lengths
