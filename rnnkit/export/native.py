"""Plain Elman, LSTM and GRU cells as ONNX's own ``RNN``, ``LSTM`` and ``GRU`` operators.

A runtime runs those operators fused (onnxruntime: about twice as fast as a ``Loop`` over
the step, measured on a 2x256 LSTM at B=32, T=128). Their ``sequence_lens`` input gives
rnnkit's length semantics exactly: outputs past a sequence's length are zero and the final
state is the state after its last valid step (the reverse direction is handled outside, by
reversing each sequence within its length, as for every cell). Only the plain cells have
this form: a layer-normalised or minimal cell, a projected LSTM or a layer with zoneout runs
as a ``Loop`` (:mod:`rnnkit.export.loops`).

Gate orders: torch LSTM ``i, f, g, o`` -> ONNX ``i, o, f, c``; torch GRU ``r, z, n`` -> ONNX
``z, r, h`` with ``linear_before_reset=1`` (torch's GRU applies the reset gate after the
recurrent product, which is that mode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..cells.base import Cell


@dataclass(frozen=True)
class NativeOp:
    """An ONNX recurrent operator for one cell class: its name, the permutation from the
    cell's gate blocks to ONNX's, and extra attributes."""

    op: str
    order: tuple[int, ...]
    states: int  # 2 for LSTM (h, c)

    def attributes(self, cell: Cell) -> dict:
        if self.op == "GRU":
            return {"linear_before_reset_i": 1}
        if self.op == "RNN":
            return {"activations_s": ["Relu" if cell.nonlinearity == "relu" else "Tanh"]}
        return {}


# class path (as rnnkit.kernels registers them) -> operator, and when the cell qualifies
NATIVE: dict[str, tuple[NativeOp, Callable[[Cell], bool]]] = {
    "rnnkit.cells.rnn.RNNCell": (NativeOp("RNN", (0,), 1), lambda c: True),
    "rnnkit.cells.lstm.LSTMCell": (NativeOp("LSTM", (0, 3, 1, 2), 2),
                                   lambda c: c.proj_size == 0),
    "rnnkit.cells.gru.GRUCell": (NativeOp("GRU", (1, 0, 2), 1), lambda c: True),
}


def native_op(cell: Cell, zoneout: float = 0.0) -> NativeOp | None:
    """The ONNX operator that computes ``cell`` over a sequence, or None."""
    entry = NATIVE.get(f"{type(cell).__module__}.{type(cell).__qualname__}")
    if entry is None or zoneout > 0:
        return None
    op, qualifies = entry
    return op if qualifies(cell) else None


def _blocks(w: Tensor, order: tuple[int, ...]) -> Tensor:
    return torch.cat([w.chunk(len(order), dim=0)[i] for i in order], dim=0)


def onnx_weights(cell: Cell, op: NativeOp) -> tuple[Tensor, Tensor, Tensor]:
    """``W`` (1, G*H, I), ``R`` (1, G*H, H), ``B`` (1, 2*G*H) in ONNX's gate order."""
    with torch.no_grad():
        w = _blocks(cell.weight_ih.float(), op.order).unsqueeze(0)
        r = _blocks(cell.weight_hh.float(), op.order).unsqueeze(0)
        biases = [torch.zeros(cell.weight_ih.shape[0]) if b is None else b.float()
                  for b in (cell.bias_ih, cell.bias_hh)]
        b = torch.cat([_blocks(x, op.order) for x in biases]).unsqueeze(0)
    return w, r, b


def native_symbolic(g, x, valid, state, key):
    """``rnnkit_export::native_recur`` -> ONNX ``RNN``/``LSTM``/``GRU`` with
    ``sequence_lens`` counted from ``valid``; outputs as :func:`~rnnkit.export.layer.recur`:
    (T, B, H) and the packed final state (B, S)."""
    from torch.onnx import symbolic_helper

    from .layer import SLOTS

    slot = SLOTS[symbolic_helper._maybe_get_const(key, "i")]
    cell, op = slot.cell, native_op(slot.cell, slot.zoneout)
    H = cell.hidden_size

    def const(t: Tensor):
        return g.op("Constant", value_t=t)

    w, r, b = (const(t) for t in onnx_weights(cell, op))
    int32 = 6  # TensorProto.INT32
    lens = g.op("ReduceSum", g.op("Cast", valid, to_i=int32), const(torch.tensor([0, 2])),
                keepdims_i=0)  # (B,)
    axis0 = const(torch.tensor([0]))
    if op.states == 2:
        h0, c0 = g.op("Split", state, const(torch.tensor([H, H])), axis_i=1, outputs=2)
        initial = [g.op("Unsqueeze", h0, axis0), g.op("Unsqueeze", c0, axis0)]
    else:
        initial = [g.op("Unsqueeze", state, axis0)]
    outs = g.op(op.op, x, w, r, b, lens, *initial, hidden_size_i=H, outputs=1 + op.states,
                **op.attributes(cell))
    y = g.op("Squeeze", outs[0], const(torch.tensor([1])))  # (T, 1, B, H) -> (T, B, H)
    finals = [g.op("Squeeze", s, axis0) for s in outs[1:]]  # (B, H) each
    final = finals[0] if len(finals) == 1 else g.op("Concat", *finals, axis_i=1)
    y.setType(x.type().with_sizes([None, None, H]))
    final.setType(state.type().with_sizes([None, H * op.states]))
    return y, final
