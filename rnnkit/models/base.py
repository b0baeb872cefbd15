"""What every model provides, so the trainer, checkpoints and commands stay generic.

A model owns its loss and its decoding. It is rebuilt from a JSON-able config:
``type(model)(**model.get_config())`` makes an equal model (weights aside), and the class is
found again by name in :data:`MODELS`.

Batches are dicts of tensors, batch-first. Conventional keys: ``"x"`` inputs (B, T, F) float
or (B, T) token ids, ``"y"`` targets, ``"lengths"`` (B,) valid lengths. A model lists in
``time_keys`` the keys whose dim 1 is the time axis that truncated BPTT may cut into chunks
(``()`` when the model cannot be trained with truncation, e.g. many-to-one models).

:meth:`Model.check_config` tells whether a config read back from JSON could have come from
``get_config`` (keys, JSON types, signs), so a checkpoint is refused before it is built.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

MODELS: dict[str, type[Model]] = {}

# Constructor keywords that count or size something: an int there must be >= 1.
_SIZE_NAME = re.compile(r"^num_|_sizes?$|^size$|_dim$|^(horizon|members|channels)$")
_INT_MAX = 2**63 - 1  # what a torch int64 holds


class ModelConfigError(ValueError):
    """A model config its class cannot take; ``key`` names the offending entry (or None)."""

    def __init__(self, key: str | None, message: str):
        super().__init__(message)
        self.key = key


@dataclass
class StepOutput:
    """What ``compute_loss`` returns: one shape of result for every model."""

    loss: Tensor  # scalar, averaged over ``count`` items
    metrics: dict[str, float] = field(default_factory=dict)  # detached figures to log
    count: int = 1  # items the loss averages over (to weight averages across batches)
    state: Any = None  # recurrent state after the batch (carried by truncated BPTT)


class Model(nn.Module):
    """Base class: subclasses implement ``get_config`` and ``compute_loss``."""

    time_keys: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):  # private shared bases are not models
            MODELS[cls.__name__] = cls

    def get_config(self) -> dict:
        """JSON-able constructor arguments that rebuild this model."""
        raise NotImplementedError

    def compute_loss(self, batch: dict[str, Tensor], state: Any = None) -> StepOutput:
        """Loss (and metrics) on one batch, starting from ``state`` (None: fresh)."""
        raise NotImplementedError

    @classmethod
    def check_config(cls, config: Any) -> None:
        """Raise :class:`ModelConfigError` naming the key unless ``config`` could have come
        from ``get_config`` through JSON: every key a constructor keyword, every required one
        present, each value of the JSON type its annotation (or else its default) implies,
        floats finite, ints >= 0 (a seed excepted) and counts or sizes (``num_*``, ``*_size``,
        ``*_dim``, ``horizon``, ``members``, ``channels``) >= 1. Ranges particular to a model
        (``dropout < 1`` ...) are its constructor's to check. Keys that a ``**kwargs``
        constructor passes on are checked only by constructing."""
        name = cls.__name__
        if not isinstance(config, dict):
            raise ModelConfigError(None, f"model_config must be a JSON object, got "
                                         f"{type(config).__name__}")
        params = inspect.signature(cls).parameters
        try:
            hints = typing.get_type_hints(cls.__init__)
        except Exception:  # an annotation that does not evaluate: fall back on defaults
            hints = {}
        named = {k: p for k, p in params.items()
                 if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        extra = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for key in config:
            if key not in named and not extra:
                raise ModelConfigError(key, f"model_config has {key!r}, which {name} does not "
                                            f"take (it takes {', '.join(named)})")
        for key, p in named.items():
            if key not in config:
                if p.default is p.empty:
                    raise ModelConfigError(key, f"model_config lacks {key!r}, which {name} "
                                                "requires")
                continue
            problem = cls.value_problem(key, config[key], hints)
            if problem:
                raise ModelConfigError(key, f"model_config[{key!r}] = {_short(config[key])}"
                                            f"{problem}")

    @classmethod
    def value_problem(cls, key: str, value: Any, hints: dict | None = None) -> str:
        """What is wrong with ``value`` for constructor keyword ``key`` by the rules of
        :meth:`check_config` (type and generic range), as text that follows the value
        (`` is not of type bool``, ``: must be >= 0``), or '' (also for unknown keys)."""
        p = inspect.signature(cls).parameters.get(key)
        if p is None or p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            return ""
        if hints is None:
            try:
                hints = typing.get_type_hints(cls.__init__)
            except Exception:  # an annotation that does not evaluate: fall back on defaults
                hints = {}
        hint = hints.get(key, _hint_from_default(p.default))
        if not _fits(value, hint):
            shown = p.annotation if isinstance(p.annotation, str) else _describe(hint)
            return f" is not of type {shown}"
        problem = _range_problem(key, value)
        return f": {problem}" if problem else ""


def _hint_from_default(default: Any) -> Any:
    """The type an unannotated keyword's default implies (a tuple: a list of its kind);
    ``Any`` for no default, None or a value JSON cannot hold."""
    if isinstance(default, (tuple, list)):
        kinds = {type(v) for v in default}
        return list[float] if float in kinds else list[int] if kinds == {int} else list
    return type(default) if type(default) in (bool, int, float, str, dict) else Any


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON ``value`` is of the type ``hint`` (JSON lists stand for tuples)."""
    if hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    if hint in (list, tuple) or origin in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        if origin is tuple and items and Ellipsis not in args:  # fixed length
            return (isinstance(value, (list, tuple)) and len(value) == len(items)
                    and all(_fits(v, a) for v, a in zip(value, items)))
        item = items[0] if items else Any
        return isinstance(value, (list, tuple)) and all(_fits(v, item) for v in value)
    return False  # a class (an nn.Module ...) never comes out of JSON


def _range_problem(key: str, value: Any) -> str:
    """What is out of range in ``value`` (lists: each element), or ''."""
    if isinstance(value, (list, tuple)):
        return next(filter(None, (_range_problem(key, v) for v in value)), "")
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if isinstance(value, bool) or not isinstance(value, int):
        return ""
    if value > _INT_MAX:
        return "is too large"
    if _SIZE_NAME.search(key) and value < 1:
        return "a count or size must be >= 1"
    if value < 0 and not key.endswith("seed"):
        return "must be >= 0"
    return ""


def _describe(hint: Any) -> str:
    """A type hint as a message shows it: ``int``, ``tuple[int, ...]``, ``Module | None``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if origin is None and hasattr(hint, "__name__"):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
