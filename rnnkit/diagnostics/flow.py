"""Gradient flow through time: the norm of dL/dh_t at every step of every recurrent layer.

:class:`GradientFlowRecorder` is a context manager around a forward and backward pass. While
it is open, every recurrent layer of the model runs rnnkit's own loop (drop-ins leave the fused
kernel, see :data:`rnnkit.layers.loop.STEP_OBSERVERS`) and a tensor hook on each step's
hidden state stores the gradient that reaches it. The model is not modified: no parameter,
buffer or value changes, and on exit everything is as before. ::

    with GradientFlowRecorder(model) as rec:
        loss = model.compute_loss(batch).loss
        loss.backward()
    flow = rec.flow()            # GradientFlow
    flow.grad_norms["rnn.l0"]    # (T,) ||dL/dh_t||, t = 0 .. T-1

``dL/dh_t`` is the *total* derivative: the gradient of the loss with respect to the hidden
state the cell returns at step t, through the output at t and through every later step.
Its norm is taken over the whole batch (Frobenius over (B, H)), so steps past a sequence's
length count as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..kernels import use_engine
from ..layers import GRU, LSTM, RNN, Recurrent, reverse_padded
from ..layers.loop import STEP_OBSERVERS
from .gates import Saturation, gate_saturation


@dataclass
class GradientFlow:
    """What one recorded backward pass gives, per layer name (``"rnn.l0"``,
    ``"encoder.rnn.l1_reverse"``, ...).

    - ``grad_norms[name]``: (T,) ``||dL/dh_t||`` in time order (the reverse direction too);
    - ``grads[name]``: (T, B, H) ``dL/dh_t`` itself (only with ``keep_grads=True``);
    - ``saturation[name]``: fraction of saturated gate units per gate, see
      :func:`~rnnkit.diagnostics.gates.gate_saturation` (only with ``gates=True``).
    """

    grad_norms: dict[str, Tensor] = field(default_factory=dict)
    grads: dict[str, Tensor] = field(default_factory=dict)
    saturation: dict[str, dict[str, float]] = field(default_factory=dict)
    reverse: dict[str, bool] = field(default_factory=dict)

    def ratio(self, name: str) -> float:
        """``||dL/dh||`` at the first step the layer reads over that at its last step
        (t = 0 over t = T-1 forwards; the opposite for a reverse direction). Far below 1:
        the gradient vanishes on its way back; far above 1: it explodes."""
        norms = self.grad_norms[name]
        first, last = (norms[-1], norms[0]) if self.reverse[name] else (norms[0], norms[-1])
        return float(first / last) if last > 0 else float("inf") if first > 0 else float("nan")


class _Segment:
    """One run_direction call: the per-step gradients its hooks receive."""

    def __init__(self, steps: int, lengths: Tensor | None, reverse: bool, keep: bool):
        self.lengths, self.reverse, self.keep = lengths, reverse, keep
        self.grads: list[Tensor | None] = [None] * steps

    def store(self, k: int, grad: Tensor) -> None:
        self.grads[k] = grad.detach().clone() if self.keep else grad.detach().norm(dim=-1)

    def in_time_order(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """(T, B) per-sequence norms, or (T, B, H) gradients, reordered to time order."""
        zero = like.new_zeros(shape)
        out = torch.stack([zero if g is None else g for g in self.grads])
        return reverse_padded(out, self.lengths) if self.reverse else out


class GradientFlowRecorder:
    """Record ``dL/dh_t`` (and gate saturation) for every recurrent layer of ``model``.

    ``keep_grads``: also keep the gradients themselves (tests, small models);
    ``gates``: measure gate saturation during the forward pass.
    Layers the recorder does not find by name (cells run by hand) are named ``cell<k>``.
    """

    def __init__(self, model: nn.Module, *, keep_grads: bool = False, gates: bool = True):
        self.model, self.keep_grads, self.gates = model, keep_grads, gates
        self.names = layer_names(model)
        self._segments: dict[str, list[_Segment]] = {}
        self._saturation: dict[str, Saturation] = {}
        self._like: dict[str, Tensor] = {}
        self._drop_ins = [m for m in model.modules() if isinstance(m, (RNN, LSTM, GRU))]
        self._engine = None

    def __enter__(self) -> GradientFlowRecorder:
        self._engine = use_engine("loop")
        self._engine.__enter__()
        for m in self._drop_ins:  # per-step states exist only in rnnkit's loop
            m.forward = m.forward_loop
        STEP_OBSERVERS.append(self._observe)
        return self

    def __exit__(self, *exc) -> None:
        STEP_OBSERVERS.remove(self._observe)
        for m in self._drop_ins:
            m.__dict__.pop("forward", None)
        self._engine.__exit__(*exc)

    def _observe(self, cell, inputs: Tensor, trace, lengths: Tensor | None, reverse: bool):
        name = self.names.get(id(cell))
        if name is None:
            name = self.names[id(cell)] = f"cell{len(self.names)}"
        segment = _Segment(len(trace), lengths, reverse, self.keep_grads)
        self._segments.setdefault(name, []).append(segment)
        for k, (_, new) in enumerate(trace):
            h = new[0] if isinstance(new, tuple) else new  # (B, H)
            if h.requires_grad:
                h.register_hook(lambda grad, k=k: segment.store(k, grad))
        h0 = trace[0][1][0] if isinstance(trace[0][1], tuple) else trace[0][1]
        self._like[name] = h0
        if self.gates:
            sat = gate_saturation(cell, inputs, trace, lengths)
            self._saturation[name] = self._saturation.get(name, Saturation()) + sat

    def flow(self) -> GradientFlow:
        """The recorded gradient flow (call after the backward pass)."""
        result = GradientFlow()
        for name, segments in self._segments.items():
            h = self._like[name]
            parts = []
            for seg in segments:
                shape = (*h.shape,) if self.keep_grads else (h.shape[0],)
                parts.append(seg.in_time_order(shape, h))  # (T, B[, H])
            per_step = torch.cat(parts)
            if self.keep_grads:
                result.grads[name] = per_step
                per_step = per_step.norm(dim=-1)  # (T, B)
            result.grad_norms[name] = per_step.pow(2).sum(1).sqrt()  # (T,)
            result.reverse[name] = segments[0].reverse
            if name in self._saturation:
                result.saturation[name] = self._saturation[name].fractions()
        return result


def layer_names(model: nn.Module) -> dict[int, str]:
    """``id(cell) -> "<module path>.l<layer>[_reverse]"`` for every rnnkit layer in model."""
    names: dict[int, str] = {}
    for path, module in model.named_modules():
        if isinstance(module, (RNN, LSTM, GRU)):
            grid = module._grid
        elif isinstance(module, Recurrent):
            grid = module.layers
        else:
            continue
        prefix = f"{path}." if path else ""
        for layer, row in enumerate(grid):
            for direction, cell in enumerate(row):
                names[id(cell)] = f"{prefix}l{layer}" + ("_reverse" if direction else "")
    return names
