"""What every model provides, so the trainer, checkpoints and commands stay generic.

A model owns its loss and its decoding. It is rebuilt from a JSON-able config:
``type(model)(**model.get_config())`` makes an equal model (weights aside), and the class is
found again by name in :data:`MODELS`.

Batches are dicts of tensors, batch-first. Conventional keys: ``"x"`` inputs (B, T, F) float
or (B, T) token ids, ``"y"`` targets, ``"lengths"`` (B,) valid lengths. A model lists in
``time_keys`` the keys whose dim 1 is the time axis that truncated BPTT may cut into chunks
(``()`` when the model cannot be trained with truncation, e.g. many-to-one models).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

MODELS: dict[str, type[Model]] = {}


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
