"""Everything the diagnostics measure, on one batch, in one JSON-able record."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from .flow import GradientFlowRecorder
from .weights import grad_norms, layer_grad_norms, recurrent_spectral_radii


@dataclass
class Snapshot:
    """One diagnostics record (a line of ``diagnostics.jsonl``).

    ``hidden_grad_norms[layer]``: ``||dL/dh_t||`` for t = 0 .. T-1; ``hidden_grad_ratio``:
    first-read step over last-read step (:meth:`GradientFlow.ratio`); ``saturation[layer]``:
    fraction of saturated units per gate; ``param_grad_norms``/``layer_grad_norms``: the
    gradient of this batch's loss (before any clipping); ``spectral_radius``: per recurrent
    weight block.
    """

    step: int
    loss: float
    hidden_grad_norms: dict[str, list[float]]
    hidden_grad_ratio: dict[str, float]
    saturation: dict[str, dict[str, float]]
    param_grad_norms: dict[str, float]
    layer_grad_norms: dict[str, float]
    spectral_radius: dict[str, float]

    def to_record(self) -> dict:
        return asdict(self)


def take_snapshot(model: nn.Module, compute_loss: Callable[[], Tensor], *, step: int = 0
                  ) -> Snapshot:
    """Run ``compute_loss()`` (a scalar loss from ``model``) and its backward pass under a
    :class:`GradientFlowRecorder` and measure everything.

    The model is left as it was: gradients are taken with ``torch.autograd.grad`` (no
    ``.grad`` is touched) and the random number generators are restored afterwards, so a
    training run with snapshots gives the same weights as one without.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    devices = sorted({p.device.index or 0 for _, p in named if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices), GradientFlowRecorder(model) as recorder:
        with torch.enable_grad():
            loss = compute_loss()
            grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    flow = recorder.flow()
    param_norms = grad_norms({n: g for (n, _), g in zip(named, grads)})
    return Snapshot(
        step=step,
        loss=float(loss.detach()),
        hidden_grad_norms={k: v.tolist() for k, v in flow.grad_norms.items()},
        hidden_grad_ratio={k: _finite(flow.ratio(k)) for k in flow.grad_norms},
        saturation=flow.saturation,
        param_grad_norms=param_norms,
        layer_grad_norms=layer_grad_norms(param_norms),
        spectral_radius=recurrent_spectral_radii(model),
    )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
