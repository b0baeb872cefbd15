"""``ExportLayer``: a recurrent layer rebuilt from its cells in ops that ONNX can express.

The layers' own forward may run torch's fused kernels (which export only without
``lengths``), rnnkit's compiled C++ kernels (no ONNX symbolic) or a Python loop (unrolled by
a trace to a fixed length). :class:`ExportLayer` takes the cells of a layer and runs them in
one of two modes:

- ``"sequence"``: for every layer and direction, ``gx = cell.input_projection(x)`` over the
  whole sequence, then the recurrence as **one** op, :func:`recur`
  (``rnnkit_export::recur``), which :mod:`rnnkit.export.loops` turns into an ONNX ``Loop``
  over a traced step of the cell; or, for the plain Elman, LSTM and GRU cells,
  :func:`native_recur`, which becomes ONNX's own ``RNN``/``LSTM``/``GRU`` operator
  (:mod:`rnnkit.export.native`; :func:`use_native_ops` turns that off). Lengths mask as in
  :func:`rnnkit.layers.loop.run_direction`: past a sequence's end the state stays and the
  output is zero; the reverse direction reads each sequence backwards from its last valid
  step (:func:`reverse_padded`).
- ``"step"``: one time step (input (B, 1, I)), the state in and out: what a streaming step
  graph and a decoder step need. Unidirectional layers only.

Evaluation semantics throughout: no dropout, and zoneout as its expectation
``lerp(new, old, p)``, as the loop computes it in eval mode.
"""

from __future__ import annotations

import contextlib
import itertools
import weakref

import torch
from torch import Tensor, nn

from ..cells.base import Cell
from ..layers.loop import merge_directions, reverse_padded, stack_states, unstack_states
from ..layers.recurrent import Recurrent
from ..layers.torch_compat import _DropIn
from .native import native_op


def layer_grid(layer: nn.Module) -> list[list[Cell]]:
    """``grid[layer][direction]`` of a rnnkit layer's cells (drop-ins bound first)."""
    if isinstance(layer, _DropIn):
        layer._bind()  # the cells read the drop-in's current parameters
        return [list(row) for row in layer._grid]
    if isinstance(layer, Recurrent):
        return [list(row) for row in layer.layers]
    raise TypeError(f"{type(layer).__name__} is not a rnnkit recurrent layer")


def is_rnnkit_layer(module: nn.Module) -> bool:
    return isinstance(module, (_DropIn, Recurrent))


def cell_step(cell: Cell, gx: Tensor, parts: tuple[Tensor, ...], zoneout: float = 0.0
              ) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One step from the projected input ``gx`` (B, G) and the state parts (B, size) each ->
    ``(y`` (B, O), new parts); zoneout as its evaluation-time expectation."""
    y, new = cell.recurrence(gx, parts if len(parts) > 1 else parts[0])
    new = new if isinstance(new, tuple) else (new,)
    if zoneout > 0:
        new = tuple(torch.lerp(n, o, zoneout) for n, o in zip(new, parts))
        y = new[0]
    return y, new


# --- the recurrence over time as one op -------------------------------------------------

class _Slot:
    """What :func:`recur` runs for one key: a cell and its layer's zoneout."""

    def __init__(self, cell: Cell, zoneout: float):
        self.cell, self.zoneout = cell, zoneout
        self.sizes = tuple(cell.state_sizes)


# key -> slot, alive as long as the ExportLayer that owns the slot
SLOTS: weakref.WeakValueDictionary[int, _Slot] = weakref.WeakValueDictionary()
_keys = itertools.count()


def _register(cell: Cell, zoneout: float) -> tuple[int, _Slot]:
    key, slot = next(_keys), _Slot(cell, zoneout)
    SLOTS[key] = slot
    return key, slot


@torch.library.custom_op("rnnkit_export::recur", mutates_args=())
def recur(gx: Tensor, valid: Tensor, state: Tensor, key: int) -> tuple[Tensor, Tensor]:
    """The recurrence of cell ``key`` over gx (T, B, G) from ``state`` (B, S) (the state
    parts concatenated) with ``valid`` (T, B, 1) -> outputs (T, B, O) (zero where not valid)
    and the final state (B, S), the state after each sequence's last valid step.

    One op, so that the ONNX exporter emits one node, which :mod:`rnnkit.export.loops`
    replaces with a ``Loop`` over the traced step."""
    slot = SLOTS[key]
    parts = tuple(state.split(slot.sizes, dim=-1))
    outputs = []
    for t in range(gx.shape[0]):
        keep = valid[t]  # (B, 1)
        y, new = cell_step(slot.cell, gx[t], parts, slot.zoneout)
        parts = tuple(torch.where(keep, n, o) for n, o in zip(new, parts))
        outputs.append(y * keep)
    return torch.stack(outputs), torch.cat(parts, dim=-1)


@torch.library.custom_op("rnnkit_export::native_recur", mutates_args=())
def native_recur(x: Tensor, valid: Tensor, state: Tensor, key: int) -> tuple[Tensor, Tensor]:
    """:func:`recur` from the unprojected input x (T, B, I), for a cell that ONNX's own
    recurrent operators compute (:func:`rnnkit.export.native.native_symbolic`)."""
    return recur(SLOTS[key].cell.input_projection(x), valid, state, key)


_native = [True]


@contextlib.contextmanager
def use_native_ops(enabled: bool):
    """Whether :class:`ExportLayer`s built inside run plain cells as ONNX's ``RNN``/
    ``LSTM``/``GRU`` operators (default) or, like every other cell, as a ``Loop``."""
    _native.append(enabled)
    try:
        yield
    finally:
        _native.pop()


def recur_symbolic(g, gx, valid, state, key):
    """The ONNX symbolic of :func:`recur`: a placeholder node ``rnnkit::Recur`` (key as an
    attribute) with the output shapes set, replaced by a Loop after export."""
    from torch.onnx import symbolic_helper

    key = symbolic_helper._maybe_get_const(key, "i")
    slot = SLOTS[key]
    y, final = g.op("rnnkit::Recur", gx, valid, state, key_i=key, outputs=2)
    y.setType(gx.type().with_sizes([None, None, slot.cell.output_size]))
    final.setType(state.type().with_sizes([None, sum(slot.sizes)]))
    return y, final


# --- the layer ------------------------------------------------------------------------------

class ExportLayer(nn.Module):
    """A rnnkit recurrent layer (drop-in or :class:`~rnnkit.layers.Recurrent`) run from its
    cells, called like the layer: ``forward(input, hx=None, *, lengths=None) -> (output,
    h_n)`` with torch.nn's layouts. ``mode`` is ``"sequence"`` or ``"step"`` (see the module
    docstring); the parameters are the layer's own (shared, not copied)."""

    def __init__(self, layer: nn.Module, mode: str):
        super().__init__()
        if mode not in ("sequence", "step"):
            raise ValueError(f"mode must be 'sequence' or 'step', got {mode!r}")
        grid = layer_grid(layer)
        self.grid = nn.ModuleList(nn.ModuleList(row) for row in grid)
        self.mode, self.batch_first = mode, layer.batch_first
        self.merge_mode, self.zoneout = layer.merge_mode, float(layer.zoneout)
        self.input_size, self.output_size = layer.input_size, layer.output_size
        self.directions = len(grid[0])
        self._slots = [[_register(cell, self.zoneout) for cell in row] for row in grid]
        self.native = [[_native[-1] and native_op(cell, self.zoneout) is not None
                        for cell in row] for row in grid]

    @property
    def cells(self) -> list[Cell]:
        return [cell for row in self.grid for cell in row]

    def forward(self, input: Tensor, hx=None, *, lengths: Tensor | None = None):
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I)
        cells = self.cells
        if hx is None:
            states = [c.init_state(x.shape[1], device=x.device, dtype=x.dtype) for c in cells]
        else:
            states = unstack_states(hx, len(cells))
        states = [s if isinstance(s, tuple) else (s,) for s in states]
        if self.mode == "step":
            out, finals = self._step(x[0], states)
            out = out.unsqueeze(0)  # (1, B, O)
        else:
            out, finals = self._sequence(x, states, lengths)
        h_n = stack_states([f if len(f) > 1 else f[0] for f in finals])
        return (out.transpose(0, 1) if self.batch_first else out), h_n

    def _step(self, x: Tensor, states: list[tuple[Tensor, ...]]):
        if self.directions != 1:
            raise ValueError("a bidirectional layer has no step mode (the backward direction "
                             "reads the whole sequence)")
        finals = []
        for row, parts in zip(self.grid, states):
            cell = row[0]
            x, new = cell_step(cell, cell.input_projection(x), parts, self.zoneout)
            finals.append(new)
        return x, finals

    def _sequence(self, x: Tensor, states: list[tuple[Tensor, ...]], lengths: Tensor | None):
        T = x.shape[0]
        if lengths is None:
            valid = torch.ones_like(x[..., :1], dtype=torch.bool)  # (T, B, 1)
        else:
            steps = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
            valid = (steps < lengths.to(x.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
        finals, k = [], 0
        for row, keys, natives in zip(self.grid, self._slots, self.native):
            outs = []
            for direction, (cell, (key, _), native) in enumerate(zip(row, keys, natives)):
                reverse = direction == 1
                source = reverse_padded(x, lengths) if reverse else x
                state = torch.cat(states[k], dim=-1)  # (B, S)
                if native:
                    out, final = native_recur(source, valid, state, key)
                else:  # the input projection for all steps at once, then the loop
                    out, final = recur(cell.input_projection(source), valid, state, key)
                finals.append(tuple(final.split(cell.state_sizes, dim=-1)))
                outs.append(reverse_padded(out, lengths) if reverse else out)
                k += 1
            x = outs[0] if len(outs) == 1 else merge_directions(outs[0], outs[1], self.merge_mode)
        return x, finals


def swap_layers(model: nn.Module, mode_of) -> None:
    """Replace every rnnkit layer inside ``model`` (in place: pass a copy) with an
    :class:`ExportLayer` in mode ``mode_of(qualified_name)``."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if is_rnnkit_layer(child):
                full = f"{name}.{child_name}" if name else child_name
                setattr(module, child_name, ExportLayer(child, mode_of(full)))
