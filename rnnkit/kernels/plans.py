"""Inference plans: the built-in cells' weights packed once for the compiled step
(``csrc/step.h``), for streaming one step at a time and for whole sequences without gradients.

A :class:`Plan` holds a stack of cells (one direction each) as the compiled ``StepPlan``:
each layer's ``[W_ih | W_hh]`` (or both apart, for the GRU and the layer-norm cells) packed
for the register-blocked products of ``csrc/gemm.h``, the biases summed where the formulas
allow. :meth:`Plan.step` runs one step of the whole stack; :meth:`Plan.run` a whole sequence
through a one-layer plan (the engine's inference path, :func:`run_sequence`).

Plans are cached per module in a weak dictionary (so ``copy.deepcopy`` and pickling of the
module never meet them) under a key of the parameters' storage and version counters: an
optimizer step, ``load_state_dict`` or ``.to()`` changes the key and the next call repacks.
The packed copies cost one more copy of the weights in memory while the module is alive.

Cells are recognised by their exact class, as the kernels are (a subclass that changes the
step is not planned); ``cell_kind`` is None for any other cell, and callers then run the
module's ordinary forward.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch import Tensor

from . import native
from .native import EMPTY

_KINDS = {
    "rnnkit.cells.rnn.RNNCell": None,  # 0 tanh or 1 relu, by its nonlinearity
    "rnnkit.cells.lstm.LSTMCell": 2,
    "rnnkit.cells.gru.GRUCell": 3,
    "rnnkit.cells.layernorm.LayerNormLSTMCell": 4,
    "rnnkit.cells.layernorm.LayerNormGRUCell": 5,
}
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cell_kind(cell) -> int | None:
    """The compiled step's number for this cell's class, or None when it has none."""
    cls = type(cell)
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key not in _KINDS:
        return None
    kind = _KINDS[key]
    return (1 if cell.nonlinearity == "relu" else 0) if kind is None else kind


def params_key(params) -> tuple:
    """What identifies the values of ``params``: storage and in-place version of each (an
    inference tensor has no version counter, and cannot be changed outside inference mode)."""
    try:
        return tuple((p.data_ptr(), p._version) for p in params)
    except RuntimeError:
        return tuple((p.data_ptr(), -1 if p.is_inference() else p._version) for p in params)


def needs_grad(tensors) -> bool:
    """Whether autograd would record an operation on any of ``tensors`` now."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _opt(t: Tensor | None) -> Tensor:
    return EMPTY if t is None else t.detach()


class Plan:
    """A stack of built-in cells, packed; see the module docstring. It keeps no reference
    to the cells (a cell may own its plan in the weak cache), only to their parameters."""

    def __init__(self, nat, cells, zoneout: float):
        first = cells[0]
        self.dtype, self.device = first.weight_ih.dtype, first.weight_ih.device
        self.num_layers = len(cells)
        self.state_sizes, self.state_names = first.state_sizes, first.state_names
        self.has_c = len(self.state_sizes) == 2
        # per state tensor: the learned initial values of every layer (L, size), or None
        self.learned = [torch.stack([getattr(c, f"initial_{name}").detach() for c in cells])
                        if first.learn_initial_state else None for name in self.state_names]
        self.compiled = nat.StepPlan()
        for cell in cells:
            g = getattr
            self.compiled.add_layer(
                cell_kind(cell), cell.weight_ih.detach(), cell.weight_hh.detach(),
                _opt(cell.bias_ih), _opt(cell.bias_hh), _opt(g(cell, "weight_hr", None)),
                _opt(g(cell, "ln_ih_weight", None)), _opt(g(cell, "ln_hh_weight", None)),
                _opt(g(cell, "ln_c_weight", None)), _opt(g(cell, "ln_c_bias", None)),
                float(g(cell, "eps", 0.0)), float(zoneout),
            )

    def initial(self, batch: int) -> tuple[Tensor, Tensor]:
        """The cells' initial states (zeros or learned), stacked: h (L, B, P), c (L, B, H)."""
        parts = [
            torch.zeros(self.num_layers, batch, size, dtype=self.dtype, device=self.device)
            if learned is None else learned.unsqueeze(1).expand(-1, batch, -1).contiguous()
            for learned, size in zip(self.learned, self.state_sizes)
        ]
        return parts[0], (parts[1] if self.has_c else EMPTY)

    def step(self, x_t: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step of the stack: x_t (B, I), h (L, B, P), c (L, B, H) or EMPTY, all
        contiguous -> new (h, c), freshly allocated (the inputs are left as they were)."""
        h_out = torch.empty_like(h)
        c_out = torch.empty_like(c) if self.has_c else EMPTY
        self.compiled.step(x_t, h, c, h_out, c_out)
        return h_out, c_out

    def run(self, x: Tensor, h0: Tensor, c0: Tensor, lengths: Tensor | None):
        """A one-layer plan over x (T, B, I) -> (y (T, B, P), h_T, c_T or EMPTY)."""
        lens = EMPTY.long() if lengths is None else lengths.to("cpu", torch.long).contiguous()
        return self.compiled.run(x.contiguous(), h0.contiguous(), c0.contiguous(), lens)


def plan_for(owner, cells: Callable[[], list], params: list[Tensor], zoneout: float,
             like: Tensor) -> Plan | None:
    """The cached plan of ``owner`` (a layer, or a cell for its own one-layer plan) for the
    current values of ``params``, or None where none can serve ``like``. ``cells()`` gives
    the cells, one per layer, when the plan has to be (re)built."""
    nat = native.ops_for(like)
    if nat is None or not params or like.dtype != params[0].dtype:
        return None
    key = (params_key(params), float(zoneout), like.dtype)
    cached = _CACHE.get(owner)
    if cached is not None and cached[0] == key:
        return cached[1]
    stack = cells()
    if any(cell_kind(c) is None for c in stack):
        return None
    plan = Plan(nat, stack, zoneout)
    _CACHE[owner] = (key, plan)
    return plan


def run_sequence(cell, x: Tensor, state, lengths: Tensor | None, zoneout: float):
    """The engine's inference path for one direction: x (T, B, I) from ``state`` -> (out
    (T, B, P), final state), or None where no plan serves (then the BPTT kernel runs)."""
    params = list(cell.parameters())
    plan = plan_for(cell, lambda: [cell], params, zoneout, x)
    if plan is None:
        return None
    parts = state if isinstance(state, tuple) else (state,)
    if any(p.dtype != x.dtype for p in parts):
        return None
    y, h, c = plan.run(x, parts[0], parts[1] if plan.has_c else EMPTY, lengths)
    return y, ((h, c) if plan.has_c else h)
