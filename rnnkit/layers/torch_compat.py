"""Drop-in replacements for torch.nn.RNN, LSTM and GRU.

They *are* torch.nn's classes (subclasses): the same constructor arguments and defaults, the
same parameter names and shapes (so ``load_state_dict`` works both ways), the same return
values for tensors and PackedSequences, and with default options a fused kernel: torch's,
except where rnnkit's compiled kernel is the faster one (``GRU`` on the CPU; timings in
benchmarks/RESULTS.md, from benchmarks/speed.py), with the same outputs and gradients within
float32 rounding (tests/test_torch_compat.py). On top they take keyword-only extras (all off
by default):

- ``forward(..., lengths=...)``: valid lengths per sequence (fused kernel via packing);
- ``merge_mode``: ``"concat" | "sum" | "mean" | "mul"`` for bidirectional outputs;
- ``layer_norm``, ``recurrent_dropout``, ``zoneout``: run the loop over rnnkit cells;
- ``learn_initial_state``, ``forget_bias`` (LSTM), ``init``: change only parameters and
  initialisation, so the fused kernel still runs.

``torch.jit.script`` of a model holding a drop-in compiles torch.nn's layer in its place,
sharing its parameters (``__prepare_scriptable__``); an option only rnnkit's loop computes is
refused by name. ``torch.jit.trace`` and ``torch.export`` take every option.

``step(x_t, state=None) -> (y_t, state)`` runs one time step of a unidirectional layer, on
a compiled path built for streaming at batch 1 (:meth:`rnnkit.layers.stepping.Stepping.step`).

Extra parameters are named like torch's, after the cell's own name: ``ln_ih_weight_l0``,
``initial_h_l1_reverse``, ...
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from ..cells import GRUCell, LayerNormGRUCell, LayerNormLSTMCell, LSTMCell, RNNCell
from ..cells.base import INITS, Cell
from ..kernels import get_engine, native
from .checks import check_merge_mode, check_probability
from .loop import merge_directions, stack_states
from .recurrent import check_hx, forward_grid
from .sequences import (
    SequenceBatch,
    check_packed,
    pack_for_fused,
    to_batch,
    unpack_from_fused,
)
from .stepping import Stepping


class _DropIn(Stepping):
    """What the three drop-ins share; mixed in before the torch.nn class."""

    def _setup_extras(
        self, *, merge_mode, layer_norm, recurrent_dropout, zoneout, learn_initial_state,
        forget_bias, init,
    ) -> None:
        check_merge_mode(merge_mode)  # (dropout: checked before torch.nn's __init__)
        check_probability("recurrent_dropout", recurrent_dropout)
        check_probability("zoneout", zoneout)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if layer_norm and self.proj_size > 0:
            raise ValueError("layer_norm=True does not support proj_size > 0")
        self.merge_mode, self.layer_norm, self.init = merge_mode, layer_norm, init
        self.recurrent_dropout, self.zoneout = recurrent_dropout, zoneout
        self.learn_initial_state, self.forget_bias = learn_initial_state, forget_bias
        directions = 2 if self.bidirectional else 1
        factory = self._cell_factory(layer_norm, learn_initial_state, forget_bias, init)
        grid, bindings = [], []
        n_in = self.input_size
        for layer in range(self.num_layers):
            row = []
            for direction in range(directions):
                cell = factory(n_in)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                bindings.append((cell, self._adopt(cell, suffix)))
                if init != "torch" or forget_bias is not None or layer_norm:
                    cell.reset_parameters()
                row.append(cell)
            grid.append(row)
            n_out = row[0].output_size
            n_in = n_out * directions if merge_mode == "concat" else n_out
        # plain lists: the cells' parameters are registered on this module, torch-style
        self._grid, self._bindings = grid, bindings

    def _adopt(self, cell: Cell, suffix: str) -> list[tuple[str, str]]:
        """Share parameters between this module (torch names) and the cell (its own names)."""
        names = []
        for local, param in list(cell.named_parameters(recurse=False)):
            full = local + suffix
            mine = getattr(self, full, None)
            if isinstance(mine, nn.Parameter) and mine.shape == param.shape:
                cell._parameters[local] = mine
            else:  # an extra (layer norm, initial state) or a reshaped input weight
                setattr(self, full, param)
            names.append((local, full))
        return names

    def _bind(self) -> None:
        """Point the cells at the current parameters (``.to()``/``load_state_dict`` safe)."""
        for cell, names in self._bindings:
            for local, full in names:
                cell._parameters[local] = self._parameters[full]

    @property
    def output_size(self) -> int:
        """Features of the output: (proj_size or hidden_size), x2 if concatenated directions."""
        n = self.proj_size or self.hidden_size
        return 2 * n if self.bidirectional and self.merge_mode == "concat" else n

    def __prepare_scriptable__(self) -> nn.RNNBase:
        """What ``torch.jit.script`` compiles in this layer's place (also inside a model):
        the torch.nn layer it equals, sharing its parameters (training the script trains this
        layer). TorchScript cannot compile rnnkit's forward, and the fused layer computes the
        same function whenever no option needs rnnkit's loop or learned initial state; with
        one, scripting is refused naming it (``torch.jit.trace`` and ``torch.export`` take
        every option)."""
        needs = [name for name, on in (
            ("merge_mode", self.bidirectional and self.merge_mode != "concat"),
            ("layer_norm", self.layer_norm), ("recurrent_dropout", self.recurrent_dropout > 0),
            ("zoneout", self.zoneout > 0), ("learn_initial_state", self.learn_initial_state),
        ) if on]
        if needs:
            raise RuntimeError(
                f"torch.jit.script cannot compile rnnkit.{type(self).__name__} with "
                f"{', '.join(f'{n}={getattr(self, n)!r}' for n in needs)}: TorchScript runs "
                "torch.nn's fused layer, which has no such option. Use torch.jit.trace or "
                "torch.export instead, or leave the option at its default")
        base = next(c for c in type(self).__mro__ if c.__module__ == nn.RNNBase.__module__)
        extra = ({"nonlinearity": self.nonlinearity} if base is nn.RNN
                 else {"proj_size": self.proj_size} if base is nn.LSTM else {})
        plain = base(self.input_size, self.hidden_size, num_layers=self.num_layers,
                     bias=self.bias, batch_first=self.batch_first, dropout=self.dropout,
                     bidirectional=self.bidirectional, device="meta", **extra)
        for name in self._flat_weights_names:  # torch.nn keeps _flat_weights in step
            setattr(plain, name, getattr(self, name))
        plain.flatten_parameters()
        return plain.train(self.training)

    @property
    def _merges_late(self) -> bool:
        """Whether the directions are merged (not concatenated) between stacked layers: the
        layers above the first then take H inputs, not cuDNN's 2H, and run rnnkit's loop.
        (torch.nn's constructor asks before ``merge_mode`` is set: concat then.)"""
        return (getattr(self, "merge_mode", "concat") != "concat" and self.bidirectional
                and self.num_layers > 1)

    def flatten_parameters(self) -> None:
        """torch.nn's cuDNN weight flattening (run by ``.cuda()``/``.to()``), skipped when the
        directions merge late: those layers' weights do not fit cuDNN's layout."""
        if not self._merges_late:
            super().flatten_parameters()

    @property
    def uses_loop(self) -> bool:
        """Whether the current options need rnnkit's loop instead of the fused kernel."""
        return bool(
            self.layer_norm or self.zoneout > 0 or self._merges_late
            or (self.recurrent_dropout > 0 and self.training)
        )

    def _step_cells(self) -> list[Cell]:
        self._bind()
        return [row[0] for row in self._grid]

    def _step_params(self) -> list:
        return [p for p in self._parameters.values() if p is not None]

    def forward_loop(self, input, hx=None, *, lengths=None):
        """Run rnnkit's loop over cells whatever the options (reference and comparisons)."""
        self._bind()
        return forward_grid(self, self._grid, input, hx, lengths)

    def forward(self, input, hx=None, *, lengths=None):
        if self.uses_loop or self._engine_is_faster(input):
            return self.forward_loop(input, hx, lengths=lengths)
        self._bind()
        if isinstance(input, PackedSequence):
            batch = _packed_batch(input, self.input_size, lengths)
        else:  # checks and views only: the fused kernel reads the caller's tensor
            batch = to_batch(input, self.input_size, self.batch_first, lengths)
        hx = self._fused_hx(hx, batch)
        if batch.lengths is not None:
            out, h_n = super().forward(pack_for_fused(batch), hx)
            out = batch.restore(unpack_from_fused(out, batch))
        else:
            out, h_n = super().forward(input, hx)
        if self.bidirectional and self.merge_mode != "concat":
            out = self._merge_last(out)
        return out, h_n

    engine_beats_fused_on_cpu = False  # set per class from benchmarks/speed.py's timings

    def _engine_is_faster(self, input) -> bool:
        """Whether rnnkit's compiled kernel serves this input and beats torch's fused one."""
        if not self.engine_beats_fused_on_cpu or get_engine() == "loop":
            return False
        data = input.data if isinstance(input, PackedSequence) else input
        if not isinstance(data, torch.Tensor) or torch.is_autocast_enabled("cpu"):
            return False
        return native.ops_for(data) is not None

    def _fused_hx(self, hx, batch: SequenceBatch):
        """The user's hx (checked) or the learned initial state, in torch.nn's layout."""
        if hx is None and not self.learn_initial_state:
            return None
        cells = [cell for cell, _ in self._bindings]
        if hx is not None:
            hx = check_hx(hx, cells[0], len(cells), batch)
        else:
            x = batch.x
            hx = stack_states(
                [c.init_state(batch.batch_size, device=x.device, dtype=x.dtype) for c in cells]
            )
        if batch.unbatched:
            hx = tuple(h.squeeze(1) for h in hx) if isinstance(hx, tuple) else hx.squeeze(1)
        return hx

    def _merge_last(self, out):
        """Merge the two directions of a single fused layer's output (..., 2H) -> (..., H)."""
        if isinstance(out, PackedSequence):
            data = self._merge_last(out.data)
            return PackedSequence(data, out.batch_sizes, out.sorted_indices, out.unsorted_indices)
        fwd, bwd = out.chunk(2, dim=-1)
        return merge_directions(fwd, bwd, self.merge_mode)

    def extra_repr(self) -> str:
        extras = [
            f"{k}={getattr(self, k)!r}"
            for k, default in (("merge_mode", "concat"), ("layer_norm", False),
                               ("recurrent_dropout", 0.0), ("zoneout", 0.0),
                               ("learn_initial_state", False), ("forget_bias", None),
                               ("init", "torch"))
            if getattr(self, k) != default
        ]
        return ", ".join([super().extra_repr(), *extras])


def _packed_batch(packed: PackedSequence, input_size: int, lengths) -> SequenceBatch:
    """Batch size, device and dtype of a packed input, for checking hx (no unpacking)."""
    if lengths is not None:
        raise ValueError("pass either a PackedSequence or lengths=, not both")
    check_packed(packed, input_size)
    x = packed.data.new_empty(1, int(packed.batch_sizes[0]), packed.data.shape[-1])
    return SequenceBatch(x, None, packed, batch_first=False, unbatched=False)


class RNN(_DropIn, nn.RNN):
    __doc__ = nn.RNN.__doc__

    def __init__(self, *args, merge_mode="concat", layer_norm=False, recurrent_dropout=0.0,
                 zoneout=0.0, learn_initial_state=False, init="torch", **kwargs):
        _check_dropout(args, kwargs, position=6)
        super().__init__(*args, **kwargs)
        self._setup_extras(
            merge_mode=merge_mode, layer_norm=layer_norm, recurrent_dropout=recurrent_dropout,
            zoneout=zoneout, learn_initial_state=learn_initial_state, forget_bias=None, init=init,
        )

    def _cell_factory(self, layer_norm, learn_initial_state, forget_bias, init):
        if layer_norm:
            raise ValueError("layer_norm=True is available for LSTM and GRU, not RNN")
        return functools.partial(
            _make, RNNCell, hidden_size=self.hidden_size, bias=self.bias,
            nonlinearity=self.nonlinearity, init=init, learn_initial_state=learn_initial_state,
        )


class LSTM(_DropIn, nn.LSTM):
    __doc__ = nn.LSTM.__doc__

    def __init__(self, *args, merge_mode="concat", layer_norm=False, recurrent_dropout=0.0,
                 zoneout=0.0, learn_initial_state=False, forget_bias=None, init="torch",
                 **kwargs):
        _check_dropout(args, kwargs, position=5)
        super().__init__(*args, **kwargs)
        self._setup_extras(
            merge_mode=merge_mode, layer_norm=layer_norm, recurrent_dropout=recurrent_dropout,
            zoneout=zoneout, learn_initial_state=learn_initial_state, forget_bias=forget_bias,
            init=init,
        )

    def _cell_factory(self, layer_norm, learn_initial_state, forget_bias, init):
        common = dict(hidden_size=self.hidden_size, bias=self.bias, init=init,
                      forget_bias=forget_bias, learn_initial_state=learn_initial_state)
        if layer_norm:
            return functools.partial(_make, LayerNormLSTMCell, **common)
        return functools.partial(_make, LSTMCell, proj_size=self.proj_size, **common)


class GRU(_DropIn, nn.GRU):
    __doc__ = nn.GRU.__doc__
    engine_beats_fused_on_cpu = True

    def __init__(self, *args, merge_mode="concat", layer_norm=False, recurrent_dropout=0.0,
                 zoneout=0.0, learn_initial_state=False, init="torch", **kwargs):
        _check_dropout(args, kwargs, position=5)
        super().__init__(*args, **kwargs)
        self._setup_extras(
            merge_mode=merge_mode, layer_norm=layer_norm, recurrent_dropout=recurrent_dropout,
            zoneout=zoneout, learn_initial_state=learn_initial_state, forget_bias=None, init=init,
        )

    def _cell_factory(self, layer_norm, learn_initial_state, forget_bias, init):
        cls = LayerNormGRUCell if layer_norm else GRUCell
        return functools.partial(
            _make, cls, hidden_size=self.hidden_size, bias=self.bias, init=init,
            learn_initial_state=learn_initial_state,
        )


def _make(cls, input_size, **kwargs) -> Cell:
    hidden_size = kwargs.pop("hidden_size")
    return cls(input_size, hidden_size, **kwargs)


def _check_dropout(args, kwargs, position: int) -> None:
    """dropout must be in [0, 1): checked before torch.nn's own (which allows 1)."""
    dropout = kwargs.get("dropout", args[position] if len(args) > position else 0.0)
    check_probability("dropout", dropout)
