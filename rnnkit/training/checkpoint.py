"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is a directory (``checkpoints/last``, ``checkpoints/best``)::

    model.safetensors   the model's state_dict
    model.json          model class + config, task info, vocab, rnnkit version, step
    state.safetensors   optimizer tensors and torch RNG states      (training state)
    state.json          optimizer scalars and param groups, schedule, trainer counters,
                        Python and NumPy RNG states
    manifest.json       size and sha256 of each file above (checked on load)

It is written to a temporary directory beside the target and swapped in with renames, so a
crash leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

FORMAT = "rnnkit-checkpoint"
FILES = ("model.safetensors", "model.json", "state.safetensors", "state.json")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, truncated, corrupted or from an unknown format."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    path: Path
    info: dict[str, Any]  # model.json
    weights: dict[str, Tensor]
    tensors: dict[str, Tensor] = field(default_factory=dict)  # state.safetensors
    state: dict[str, Any] = field(default_factory=dict)  # state.json


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def optimizer_to_files(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Split an optimizer state_dict into tensors and a JSON-able rest."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, entry in sd["state"].items():
        for name, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_files(opt: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict):
    """Inverse of :func:`optimizer_to_files`, loaded into ``opt``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for idx, entry in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(entry)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()}
              for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def rng_to_files() -> tuple[dict[str, Tensor], dict]:
    """Every random generator's state: torch (+ CUDA) as tensors, Python and NumPy as JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    version, inner, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    meta = {"python": [version, list(inner), gauss],
            "numpy": [kind, keys.tolist(), pos, has_gauss, cached]}
    return tensors, meta


def rng_from_files(tensors: dict[str, Tensor], meta: dict) -> None:
    """Restore what :func:`rng_to_files` captured."""
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, inner, gauss = meta["python"]
    random.setstate((version, tuple(inner), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_checkpoint(path: str | os.PathLike, model: nn.Module, info: dict[str, Any],
                    tensors: dict[str, Tensor] | None = None,
                    state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically; ``info`` becomes model.json."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(weights, str(tmp / "model.safetensors"))
    _write_json(tmp / "model.json", {"format": FORMAT, "format_version": 1, **info})
    safetensors.torch.save_file(tensors or {}, str(tmp / "state.safetensors"))
    _write_json(tmp / "state.json", state or {})
    manifest = {name: {"bytes": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)}
                for name in FILES}
    _write_json(tmp / "manifest.json", manifest)
    old = path.parent / f".old-{path.name}-{os.getpid()}"
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _resolve(path: Path) -> Path:
    """``path``, or the previous copy left by a crash between the two renames of a swap."""
    if path.is_dir():
        return path
    olds = sorted(path.parent.glob(f".old-{path.name}-*"))
    if olds:
        return olds[-1]
    raise CheckpointError(f"no checkpoint at {path}")


def _verify(path: Path) -> None:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} is incomplete or corrupted: "
                              f"cannot read manifest.json ({e})") from None
    for name, expected in manifest.items():
        f = path / name
        if not f.is_file():
            raise CheckpointError(f"checkpoint {path} is incomplete: {name} is missing")
        size = f.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"checkpoint {path} is truncated or corrupted: {name} has "
                                  f"{size} bytes, expected {expected['bytes']}")
        if _sha256(f) != expected["sha256"]:
            raise CheckpointError(f"checkpoint {path} is corrupted: {name} fails its sha256 check")


def _read(path: Path, name: str, tensors: bool) -> Any:
    try:
        if tensors:
            return safetensors.torch.load_file(str(path / name))
        return json.loads((path / name).read_text())
    except (OSError, ValueError, safetensors.SafetensorError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot read {name}: {e}") from None


def load_checkpoint(path: str | os.PathLike, *, training_state: bool = True) -> Checkpoint:
    """Read and verify a checkpoint directory; raises :class:`CheckpointError` if it is
    missing, truncated or corrupted."""
    path = _resolve(Path(path))
    _verify(path)
    info = _read(path, "model.json", tensors=False)
    if info.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: model.json is not an rnnkit checkpoint")
    ckpt = Checkpoint(path, info, _read(path, "model.safetensors", tensors=True))
    if training_state:
        ckpt.tensors = _read(path, "state.safetensors", tensors=True)
        ckpt.state = _read(path, "state.json", tensors=False)
    return ckpt


def build_model(ckpt: Checkpoint) -> nn.Module:
    """The model saved in ``ckpt``, rebuilt from its class name and config, weights loaded."""
    from ..models import MODELS  # the registry fills as model modules are imported

    name = ckpt.info.get("model_class")
    if name not in MODELS:
        raise CheckpointError(f"checkpoint {ckpt.path}: unknown model class {name!r}; "
                              f"known: {sorted(MODELS)}")
    model = MODELS[name](**ckpt.info.get("model_config", {}))
    try:
        model.load_state_dict(ckpt.weights)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {ckpt.path}: weights do not fit {name}: {e}") from None
    return model
