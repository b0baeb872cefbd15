"""A user's own data: one convention for every task (DESIGN.md, "A user's own data").

``task.data`` names a file or folder holding the whole set, split into train/val/test by
``task.split_seed`` (``val_fraction`` and ``test_fraction`` of the items); or
``task.train_data``, ``task.val_data`` and ``task.test_data`` name the parts (``val_data``
optional: carved from training the same seeded way). With none of them set, the task reads
its named benchmark set.

Fields declared with :func:`path_field` are paths: a relative one is resolved against the
folder of the config file that names it (never the current directory) and recorded absolute
in the run's config.toml; training writes each file's sha256 and stat listing (sizes and
mtimes) into ``data.json`` in the run directory, and evaluating warns when a file changed
since (:func:`check_fingerprints`; the files are re-read only when the listing differs).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from ..data.datasets import expand_home, is_hidden
from ..training.config import number
from .base import TaskError

T = TypeVar("T")


def path_field(default: str = "") -> Any:
    """A config field that names a file or folder ("" = unset)."""
    return field(default=default, metadata={"path": True})


@dataclass
class DataFilesConfig:
    """The fields every task that reads a user's data shares (a mixin of its TaskConfig)."""

    data: str = path_field()  # one file or folder with the whole set (split by split_seed)
    train_data: str = path_field()  # or the parts: training ...
    val_data: str = path_field()  # ... validation (optional: carved from training) ...
    test_data: str = path_field()  # ... and test
    split_seed: int = 0  # the shuffle that splits `data` (kept apart from the run's seed)
    val_fraction: float = number(0.1, 0.01, 0.5)  # of the training items, when carved
    test_fraction: float = number(0.1, 0.01, 0.5)  # of `data`, for the test part


def path_fields(cfg: Any) -> list[str]:
    """Names of the path fields of a config dataclass."""
    return [f.name for f in dataclasses.fields(cfg) if f.metadata.get("path")]


def resolve_paths(cfg: Any, base: Path) -> Any:
    """``cfg`` with each relative path field made absolute against ``base`` (a folder)."""
    changes = {}
    for name in path_fields(cfg):
        value = getattr(cfg, name)
        if value and not expand_home(value).is_absolute():
            changes[name] = str((base / expand_home(value)).resolve())
        elif value:
            changes[name] = str(expand_home(value))
    return dataclasses.replace(cfg, **changes) if changes else cfg


def uses_own_data(cfg: DataFilesConfig) -> bool:
    return bool(cfg.data or cfg.train_data)


def data_errors(cfg: DataFilesConfig) -> list[str]:
    """What is wrong with the combination of data fields (config-time, no reading)."""
    errors = []
    if cfg.data and (cfg.train_data or cfg.val_data or cfg.test_data):
        errors.append("task.data names the whole set; task.train_data/val_data/test_data "
                      "name its parts: set one or the other, not both")
    if (cfg.val_data or cfg.test_data) and not cfg.train_data:
        errors.append("task.val_data/test_data need task.train_data")
    if cfg.train_data and not cfg.test_data:
        errors.append("task.train_data needs task.test_data too (or name the whole set with "
                      "task.data, split by task.split_seed)")
    if _CHECK_FILES.get():
        errors += missing_files(cfg)
    return errors


def missing_files(cfg: Any) -> list[str]:
    """The path fields that name nothing."""
    return [f"task.{name} = {getattr(cfg, name)!r}: no such file or folder"
            for name in path_fields(cfg)
            if getattr(cfg, name) and not Path(getattr(cfg, name)).exists()]


_CHECK_FILES: contextvars.ContextVar[bool] = contextvars.ContextVar("check_files", default=True)


@contextlib.contextmanager
def files_not_needed():
    """Within it, configs are checked without requiring their data files to exist: a run
    loaded for prediction reads no data, so data moved since training must not stop it."""
    token = _CHECK_FILES.set(False)
    try:
        yield
    finally:
        _CHECK_FILES.reset(token)


def split_items(items: Sequence[T], seed: int, fraction: float, *,
                shuffle: str = "python") -> tuple[list[T], list[T]]:
    """(rest, held out): ``round(fraction * n)`` of ``items`` held out, by a shuffle that
    depends only on ``seed``; both parts come in the shuffled order. ``shuffle`` picks the
    generator: ``"python"`` (``random.Random(seed)``, the test split) or ``"torch"``
    (``torch.randperm``, the validation split) — the same shuffles the built-in sets use,
    so a built-in set written out to a file splits exactly as the built-in loader does."""
    n = len(items)
    k = int(round(n * fraction))
    if shuffle == "torch":
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=g).tolist()
        return [items[i] for i in order[k:]], [items[i] for i in order[:k]]
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = set(order[:k])
    return ([items[i] for i in order if i not in held], [items[i] for i in order if i in held])


def load_splits(cfg: DataFilesConfig, read: Callable[[Path], list[T]],
                what: str = "items") -> dict[str, list[T]]:
    """``train``/``val``/``test`` items from the user's files, read by ``read(path)``."""
    if cfg.data:
        train, test = split_items(read(Path(cfg.data)), cfg.split_seed, cfg.test_fraction)
    else:
        train, test = read(Path(cfg.train_data)), read(Path(cfg.test_data))
    if cfg.val_data:
        val = read(Path(cfg.val_data))
    else:
        train, val = split_items(train, cfg.split_seed + 1, cfg.val_fraction, shuffle="torch")
    for split, items in (("train", train), ("val", val), ("test", test)):
        if not items:
            raise TaskError(f"the {split} part holds no {what}: give more data, or raise "
                            "task.val_fraction / task.test_fraction")
    return {"train": train, "val": val, "test": test}


# -- fingerprints ----------------------------------------------------------------------------
# mtimes newer than this, when the fingerprint is taken, are not trusted: a change within the
# same tick of the file system's clock (2 s on FAT) keeps the mtime (git's "racy" entries)
RACY_NS = 2_000_000_000


def _data_files(path: Path) -> list[Path]:
    """``[path]`` for a file; a folder's files, sorted, less the hidden (:func:`is_hidden`)."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not is_hidden(p, path))


def fingerprint(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted; hidden
    files and ``__MACOSX``, which no task reads, left out: :func:`is_hidden`, so that
    a ``.DS_Store`` written by opening the folder changes nothing)."""
    path = Path(path)
    h = hashlib.sha256()
    for p in _data_files(path):
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def stat_listing(path: str | Path) -> tuple[str, int]:
    """(listing, newest mtime_ns) of what :func:`fingerprint` reads, from the file system's
    metadata alone: for a file ``"size:mtime_ns"``, for a folder the sha256 of its files'
    sorted (relative name, size, mtime_ns). An unchanged listing is taken to mean unchanged
    contents, as make and git's index do (an edit that restores the size and mtime passes)."""
    path = Path(path)
    if not path.is_dir():
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}", st.st_mtime_ns
    h, newest = hashlib.sha256(), 0
    for p in _data_files(path):
        st = p.stat()
        h.update(f"{p.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        newest = max(newest, st.st_mtime_ns)
    return h.hexdigest(), newest


def fingerprints(task_cfg: Any) -> list[dict[str, str]]:
    """``[{"key", "path", "sha256", "stat"}]`` for the data files a task config names;
    ``stat`` (:func:`stat_listing`, taken before the hashing) is left out where a file was
    modified within :data:`RACY_NS` of now, as its mtime may not show a change to come."""
    out = []
    for name in path_fields(task_cfg):
        value = getattr(task_cfg, name)
        if value and Path(value).exists():
            listing, newest = stat_listing(value)
            item = {"key": f"task.{name}", "path": value, "sha256": fingerprint(value)}
            if newest < time.time_ns() - RACY_NS:
                item["stat"] = listing
            out.append(item)
    return out


def write_fingerprints(run_dir: Path, task_cfg: Any) -> None:
    files = fingerprints(task_cfg)
    if files:
        (run_dir / "data.json").write_text(json.dumps({"files": files}, indent=1) + "\n")


def _changed(item: dict[str, str], path: Path) -> bool:
    """Whether the data at ``path`` differs from ``item``'s: by sha256, read only when the
    stat listing differs or was not recorded (a run's data.json from before it, or racy)."""
    if "stat" in item and stat_listing(path)[0] == item["stat"]:
        return False
    return fingerprint(path) != item["sha256"]


def check_fingerprints(run_dir: Path) -> list[str]:
    """Warnings (also issued as :class:`DataChangedWarning`) for each data file that changed
    or vanished since the run trained on it (a ``touch`` or a copy of the same bytes is no
    change: the sha256 decides, read only when the stat listing differs)."""
    path = Path(run_dir) / "data.json"
    if not path.is_file():
        return []
    try:
        files = json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return [f"{path}: unreadable; cannot tell whether the data changed"]
    out = []
    for item in files:
        p = Path(item["path"])
        if not p.exists():
            out.append(f"{item['key']} = {str(p)!r} no longer exists")
        elif _changed(item, p):
            out.append(f"{item['key']} = {str(p)!r} changed since training (sha256 differs): "
                       "the figures are not those of the data the run trained on")
    for message in out:
        warnings.warn(message, DataChangedWarning, stacklevel=2)
    return out


class DataChangedWarning(UserWarning):
    """A data file differs from the one a run trained on."""
