"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is a directory (``checkpoints/last``, ``checkpoints/best``)::

    model.safetensors   the model's state_dict
    model.json          model class + config, task info, vocab, rnnkit version, step
    state.safetensors   optimizer tensors and torch RNG states      (training state)
    state.json          optimizer scalars and param groups, schedule, trainer counters,
                        Python and NumPy RNG states
    manifest.json       size and sha256 of each file above (checked on load)

It is written to a temporary directory beside the target (``.tmp-<name>-<pid>``) and swapped
in with two renames (the old one to ``.old-<name>-<pid>``, the new one into place), so a crash
leaves either the old checkpoint or the new one, never half of one: after a crash between the
renames, readers (and :func:`checkpoint_exists`) find the old copy. The next save removes
such leftovers.

Nothing in a checkpoint is trusted before it is checked: the manifest must list exactly the
folder's files, each a plain file name; a model config must suit its class
(:meth:`Model.check_config`) and the model it describes must have at most
:data:`MAX_PARAMETERS` parameters, counted on the ``meta`` device before anything is
allocated.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..data.datasets import is_hidden

FORMAT = "rnnkit-checkpoint"
FILES = ("model.safetensors", "model.json", "state.safetensors", "state.json")
MANIFEST = "manifest.json"
MAX_PARAMETERS = 2_000_000_000  # parameters + buffers a checkpoint's model may have
_MAX_BUILD_CALLS = 100_000  # torch calls a model's constructor may make (~3,000 layers)
_LEFTOVER = re.compile(r"\.(tmp|old)-(.+)-(\d+)")  # save_checkpoint's temporary folders


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
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")),
                                       key=lambda k: int(k.rsplit(".", 1)[1]))]  # device order
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, inner, gauss = meta["python"]
    random.setstate((version, tuple(inner), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_checkpoint(path: str | os.PathLike, model: nn.Module, info: dict[str, Any],
                    tensors: dict[str, Tensor] | None = None,
                    state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically; ``info`` becomes model.json. A write that
    fails (a full disk, no permission) is a :class:`CheckpointError`; the checkpoint saved
    before at ``path`` is kept and the partial copy removed."""
    path = Path(path)
    tmp = path.parent / f".tmp-{path.name}-{os.getpid()}"
    weights = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        safetensors.torch.save_file(weights, str(tmp / "model.safetensors"))
        _write_json(tmp / "model.json", {"format": FORMAT, "format_version": 1, **info})
        safetensors.torch.save_file(tensors or {}, str(tmp / "state.safetensors"))
        _write_json(tmp / "state.json", state or {})
        manifest = {name: {"bytes": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)}
                    for name in FILES}
        _write_json(tmp / "manifest.json", manifest)
    except (OSError, safetensors.SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = "; the checkpoint saved before is kept" if path.is_dir() else ""
        raise CheckpointError(f"cannot save the checkpoint {path}: {_reason(e)}{kept}") from None
    old = path.parent / f".old-{path.name}-{os.getpid()}"
    if path.exists():
        # a copy left by a save of this pid that died after its first rename (a restarted
        # container often gets the same pid): stale now that ``path`` is in place, and the
        # rename below cannot replace a folder that is not empty
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    _remove_leftovers(path.parent)
    return path


def _reason(e: Exception) -> str:
    """An OS error's reason without its errno and path ("No space left on device")."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).removeprefix("Error while serializing: ")


def _remove_leftovers(folder: Path) -> None:
    """Remove the ``.tmp-*``/``.old-*`` folders of saves that crashed: only folders of
    save_checkpoint's naming that hold nothing but checkpoint files, not those of a live
    process, and an ``.old-<name>-*`` only once ``<name>`` is back in place (until then it
    is the copy readers fall back on)."""
    for entry in folder.iterdir():
        m = _LEFTOVER.fullmatch(entry.name)
        if not m or int(m[3]) == os.getpid() or _alive(int(m[3])):
            continue
        if m[1] == "old" and not (folder / m[2]).is_dir():
            continue
        if not entry.is_symlink() and entry.is_dir() and all(
                f.name in (*FILES, MANIFEST) and f.is_file() and not f.is_symlink()
                for f in entry.iterdir()):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (then its temporary folder is kept)."""
    try:
        os.kill(pid, 0)
    except PermissionError:  # it runs, as another user
        return True
    except (OSError, OverflowError):
        return False
    return True


def _resolve(path: Path) -> Path:
    """``path``, or the previous copy left by a crash between the two renames of a swap."""
    if path.is_dir():
        return path
    olds = [p for p in path.parent.glob(f".old-{path.name}-*")
            if _LEFTOVER.fullmatch(p.name) and (p / MANIFEST).is_file()]
    if olds:
        return max(olds, key=lambda p: (p / MANIFEST).stat().st_mtime)
    raise CheckpointError(f"no checkpoint at {path}")


def checkpoint_exists(path: str | os.PathLike) -> bool:
    """Whether :func:`load_checkpoint` finds a checkpoint at ``path``: the folder, or the
    copy a crash between the two renames of a save left beside it."""
    try:
        _resolve(Path(path))
    except (CheckpointError, OSError):
        return False
    return True


def _verify(path: Path) -> None:
    """The manifest lists exactly the folder's files (plain files, no links), each of the
    recorded size and sha256."""
    manifest = _read(path, MANIFEST, tensors=False)
    if not isinstance(manifest, dict):
        raise CheckpointError(f"checkpoint {path} is corrupted: manifest.json is not a JSON "
                              "object")
    for name, entry in manifest.items():
        if not _plain_name(name):
            raise CheckpointError(f"checkpoint {path} is corrupted: manifest.json lists "
                                  f"{name!r}, which is not a file name inside the checkpoint")
        if not (isinstance(entry, dict) and _is_count(entry.get("bytes"))
                and isinstance(entry.get("sha256"), str)):
            raise CheckpointError(f"checkpoint {path} is corrupted: manifest.json's entry for "
                                  f"{name} is not {{'bytes': <int>, 'sha256': <hex>}}")
    unlisted = [n for n in FILES if n not in manifest]
    if unlisted:
        raise CheckpointError(f"checkpoint {path} is corrupted: manifest.json does not list "
                              f"{', '.join(unlisted)}")
    # (a file manager's leftovers, .DS_Store or ._model.json, are no part of it)
    present = {f.name for f in path.iterdir() if not is_hidden(f)} - {MANIFEST}
    missing, extra = sorted(set(manifest) - present), sorted(present - set(manifest))
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: {missing[0]} is missing")
    if extra:
        raise CheckpointError(f"checkpoint {path} holds {extra[0]}, which its manifest does "
                              "not list: remove it, or save the checkpoint again")
    for name, expected in manifest.items():
        mode = os.lstat(path / name).st_mode
        if not stat.S_ISREG(mode):
            raise CheckpointError(f"checkpoint {path}: {name} is not a plain file (a link or "
                                  "a folder is not followed)")
        size = (path / name).stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(f"checkpoint {path} is truncated or corrupted: {name} has "
                                  f"{size} bytes, expected {expected['bytes']}")
        if _sha256(path / name) != expected["sha256"]:
            raise CheckpointError(f"checkpoint {path} is corrupted: {name} fails its sha256 check")


def _plain_name(name: str) -> bool:
    """A file name of this folder: no separator, no ``..``, not absolute, no NUL."""
    return (bool(name) and name not in (".", "..", MANIFEST) and "\0" not in name
            and "/" not in name and "\\" not in name and os.sep not in name
            and (os.altsep is None or os.altsep not in name))


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _read(path: Path, name: str, tensors: bool) -> Any:
    try:
        if tensors:
            return safetensors.torch.load_file(str(path / name))
        return json.loads((path / name).read_text())
    except (OSError, ValueError, RecursionError, safetensors.SafetensorError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot read {name}: {e}") from None


def load_checkpoint(path: str | os.PathLike, *, training_state: bool = True) -> Checkpoint:
    """Read and verify a checkpoint directory; raises :class:`CheckpointError` if it is
    missing, truncated or corrupted."""
    path = _resolve(Path(path))
    _verify(path)
    info = _read(path, "model.json", tensors=False)
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: model.json is not an rnnkit checkpoint")
    ckpt = Checkpoint(path, info, _read(path, "model.safetensors", tensors=True))
    if training_state:
        ckpt.tensors = _read(path, "state.safetensors", tensors=True)
        ckpt.state = _read(path, "state.json", tensors=False)
        if not isinstance(ckpt.state, dict):
            raise CheckpointError(f"checkpoint {path}: state.json is not a JSON object")
    return ckpt


def build_model(ckpt: Checkpoint) -> nn.Module:
    """The model saved in ``ckpt``, rebuilt from its class name and config, weights loaded.
    The config is checked, and the model's size counted on the ``meta`` device, before
    anything is allocated."""
    from ..models import MODELS  # the registry fills as model modules are imported
    from ..models.base import ModelConfigError

    name, cfg = ckpt.info.get("model_class"), ckpt.info.get("model_config", {})
    if not isinstance(name, str) or name not in MODELS:
        raise CheckpointError(f"checkpoint {ckpt.path}: unknown model class {name!r}; "
                              f"known: {sorted(MODELS)}")
    cls = MODELS[name]
    try:
        cls.check_config(cfg)
    except ModelConfigError as e:
        raise CheckpointError(f"checkpoint {ckpt.path}: model.json: {e}") from None
    size = _meta_size(ckpt, cls, cfg)
    if size > MAX_PARAMETERS:
        raise CheckpointError(f"checkpoint {ckpt.path}: model.json describes a {name} of "
                              f"{size:,} parameters, more than the {MAX_PARAMETERS:,} a "
                              "checkpoint may ask for (raise rnnkit.training.checkpoint."
                              "MAX_PARAMETERS if it is meant)")
    try:
        model = cls(**cfg)
    except Exception as e:  # noqa: BLE001 - any constructor failure is the config's fault
        raise _config_error(ckpt, cfg, e) from None
    try:
        model.load_state_dict(ckpt.weights)
    except (RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {ckpt.path}: weights do not fit {name}: {e}") from None
    return model


class _TooManyCalls(BaseException):  # not an Exception, so no constructor swallows it
    pass


class _CallBudget(TorchFunctionMode):
    """Stops a constructor that makes more than ``limit`` torch calls (a loop over a
    billion layers would otherwise run for hours even on the meta device)."""

    def __init__(self, limit: int):
        super().__init__()
        self.left = limit

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.left -= 1
        if self.left < 0:
            raise _TooManyCalls
        if getattr(func, "__module__", None) == "torch.nn.init":
            # an initialiser only fills values, which a meta tensor has none of; running it
            # would go through torch's Python reference ops, whose first use imports
            # torch._dynamo (about 1.5 s of every rnnkit.load)
            return args[0] if args else kwargs.get("tensor")
        return func(*args, **(kwargs or {}))


def _meta_size(ckpt: Checkpoint, cls: type, cfg: dict) -> int:
    """Parameters + buffers of ``cls(**cfg)``, built on the meta device (no memory, no
    random numbers drawn, no warnings)."""
    try:
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings(), \
                torch.device("meta"), _CallBudget(_MAX_BUILD_CALLS):
            warnings.simplefilter("ignore")
            model = cls(**cfg)
    except _TooManyCalls:
        raise CheckpointError(f"checkpoint {ckpt.path}: model.json describes a {cls.__name__} "
                              f"too large to build (over {_MAX_BUILD_CALLS:,} tensor "
                              "operations in its constructor)") from None
    except Exception as e:  # noqa: BLE001 - any constructor failure is the config's fault
        raise _config_error(ckpt, cfg, e) from None
    return sum(t.numel() for t in [*model.parameters(), *model.buffers()])


def _config_error(ckpt: Checkpoint, cfg: dict, e: Exception) -> CheckpointError:
    """``e`` from a model constructor as a CheckpointError, naming the key it mentions."""
    text = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    keys = [k for k in cfg if re.search(rf"\b{re.escape(k)}\b", str(e))]
    what = f"model_config[{keys[0]!r}] = {cfg[keys[0]]!r:.80}" if len(keys) == 1 else \
        "model_config"
    return CheckpointError(f"checkpoint {ckpt.path}: model.json: {what} does not build a "
                           f"{ckpt.info['model_class']}: {text}")
