"""``layer.step(x_t, state) -> (y_t, state)``: one time step of a unidirectional layer, for
streaming (a live signal, generation one token at a time)."""

from __future__ import annotations

from torch import Tensor

from ..cells.base import State
from ..kernels import get_engine
from ..kernels.native import EMPTY
from ..kernels.plans import Plan, needs_grad, plan_for
from .checks import check_state


class Stepping:
    """Mixin of :class:`~rnnkit.layers.Recurrent` and the drop-ins: the step mode.

    The layer supplies ``_step_cells()`` (its cells, one per layer) and ``_step_params()``
    (every parameter, in a fixed order).
    """

    def step(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: ``x_t`` (B, input_size) and the state so far -> ``(y_t, state)``.

        ``state`` is in the layout of ``h_n`` from :meth:`forward` (``(num_layers, B, H)``,
        or ``(h, c)`` for an LSTM), so a sequence read by ``forward`` can be continued step
        by step and the other way round; None starts from the initial state (zeros, or the
        learned one). ``y_t`` (B, output_size) is the top layer's output: stepping through
        a sequence gives ``forward``'s outputs one at a time and its ``h_n`` at the end.

        Built for streaming at batch 1: in evaluation (or with no dropout of any kind) and
        when no gradient is being recorded (``torch.no_grad()`` / ``torch.inference_mode()``),
        the built-in cells (Elman, LSTM with or without ``proj_size``, GRU, their layer-norm
        variants) on the CPU run one compiled call per step over weights packed once per
        parameter change, writing into freshly allocated state tensors: the state returned
        by one step is never changed by later steps (``y_t`` is a view of the returned
        ``h``'s top layer, as a cell's output is its state). Anything else (gradients, a
        training-mode layer with dropout, zoneout or recurrent dropout, other cells or
        devices) runs ``forward`` on a length-1 sequence, which gives the same numbers.

        A bidirectional layer cannot be stepped: its backward direction reads the sequence
        from the end.
        """
        if self.bidirectional:
            raise ValueError("step() needs a unidirectional layer: the backward direction of "
                             "a bidirectional one reads the sequence from its end")
        if not isinstance(x_t, Tensor) or x_t.dim() != 2 or x_t.shape[1] != self.input_size:
            shape = tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ValueError(f"step() takes x_t of shape (batch, input_size={self.input_size}),"
                             f" got {shape}")
        plan = self._step_plan(x_t)
        if plan is None:
            return self._step_by_forward(x_t, state)
        B = x_t.shape[0]
        h, c = plan.initial(B) if state is None else _checked(plan, state, B, x_t)
        h, c = plan.step(x_t.contiguous(), h, c)
        return h[-1], ((h, c) if plan.has_c else h)

    def _step_plan(self, x_t: Tensor) -> Plan | None:
        """The compiled plan when it may serve this call (see :meth:`step`), else None."""
        if self.training and (self.dropout > 0 or self.recurrent_dropout > 0
                              or self.zoneout > 0):
            return None  # dropout masks are random: forward draws them
        if get_engine() == "loop":
            return None
        params = self._step_params()
        if needs_grad((x_t, *params)):
            return None
        return plan_for(self, self._step_cells, params, self.zoneout, x_t)

    def _step_by_forward(self, x_t: Tensor, state: State | None) -> tuple[Tensor, State]:
        x = x_t.unsqueeze(1) if self.batch_first else x_t.unsqueeze(0)  # a length-1 sequence
        out, h_n = self(x, state)
        return (out[:, 0] if self.batch_first else out[0]), h_n


def _checked(plan: Plan, state: State, batch: int, x_t: Tensor) -> tuple[Tensor, Tensor]:
    """The caller's state as the plan takes it: h (L, B, P), c (L, B, H), contiguous."""
    L, sizes, names = plan.num_layers, plan.state_sizes, plan.state_names
    parts = state if isinstance(state, tuple) else (state,)
    if len(parts) != len(sizes) or isinstance(state, tuple) != plan.has_c:
        kind = "a tuple (h, c)" if plan.has_c else "one tensor h"
        raise ValueError(f"state must be {kind} as forward returns it, got "
                         f"{type(state).__name__} of {len(parts)}")
    for name, part, size in zip(names, parts, sizes):
        if (not isinstance(part, Tensor) or part.shape != (L, batch, size)
                or part.dtype != x_t.dtype or part.device != x_t.device):
            check_state(f"state ({name})", part, (L, batch, size), x_t)  # says what is wrong
    return parts[0].contiguous(), (parts[1].contiguous() if plan.has_c else EMPTY)
