"""``Recurrent``: the loop over time for any cell, stacked and bidirectional."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from ..cells import Cell, make_cell
from ..cells.base import State
from .checks import (
    ShapeError,
    check_dtype,
    check_merge_mode,
    check_probability,
    check_state,
)
from .loop import run_stack, stack_states, unstack_states
from .sequences import SequenceBatch, to_batch
from .stepping import Stepping


class Recurrent(Stepping, nn.Module):
    r"""Run any cell that follows the cell contract over sequences.

    ``cell_factory`` is a registered cell name (``"lstm"``, ``"gru"``, ``"lnlstm"``, ...; then
    ``input_size``, ``hidden_size`` and any ``cell_options`` are passed to it), a callable
    ``factory(input_size) -> Cell`` called once per layer and direction (with ``input_size``
    given), or, without ``input_size``, a callable ``factory() -> Cell`` whose cells must fit
    their layer's input size (e.g. ``Recurrent(lambda: LSTMCell(16, 32), bidirectional=True)``).

    Shapes (N = batch, L = sequence length, D = 2 if bidirectional else 1):
    input (L, N, H_in), or (N, L, H_in) with ``batch_first``, or a ``PackedSequence``;
    output (L, N, D*H_out) (``merge_mode="concat"``; H_out for sum/mean/mul);
    ``h_n`` (num_layers*D, N, H) or a tuple of such tensors for tuple states (LSTM: (h, c)),
    ordered layer by layer, forward before backward, as torch.nn does.

    ``forward(input, hx=None, *, lengths=None) -> (output, h_n)``: ``hx`` in the layout of
    ``h_n`` (None: each cell's :meth:`~rnnkit.cells.Cell.init_state`, zeros or learned);
    ``lengths`` (N,) gives each sequence's valid length: outputs past it are zero, ``h_n`` is
    the state at the last valid step, the reverse direction starts at the last valid step.

    ``step(x_t, state=None) -> (y_t, state)`` runs one time step (unidirectional layers; see
    :meth:`~rnnkit.layers.stepping.Stepping.step`).

    Example::

        layer = Recurrent("lstm", input_size=16, hidden_size=32, num_layers=2,
                          bidirectional=True, batch_first=True)
        out, (h_n, c_n) = layer(x, lengths=lengths)   # x (N, L, 16) -> out (N, L, 64)
    """

    def __init__(
        self,
        cell_factory: str | Callable[[int], Cell],
        num_layers: int = 1,
        bidirectional: bool = False,
        merge_mode: str = "concat",
        dropout: float = 0.0,
        batch_first: bool = False,
        *,
        input_size: int | None = None,
        hidden_size: int | None = None,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        **cell_options,
    ):
        super().__init__()
        check_merge_mode(merge_mode)
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout),
                        ("zoneout", zoneout)):
            check_probability(name, p)
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if isinstance(cell_factory, str):
            if hidden_size is None:
                raise ValueError(f"hidden_size is required with a cell name ({cell_factory!r})")
            name = cell_factory
            cell_factory = lambda n_in: make_cell(name, n_in, hidden_size, **cell_options)  # noqa: E731
        elif cell_options:
            raise ValueError(f"cell options {sorted(cell_options)} need a cell name, not a factory")
        if input_size is None:  # a factory of ready-made cells: factory() -> Cell
            cell_factory = _sized(cell_factory)
            input_size = cell_factory.first_input_size
        self.input_size, self.num_layers, self.bidirectional = input_size, num_layers, bidirectional
        self.merge_mode, self.dropout, self.batch_first = merge_mode, dropout, batch_first
        self.recurrent_dropout, self.zoneout = recurrent_dropout, zoneout
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList()
        n_in = input_size
        for _ in range(num_layers):
            cells = nn.ModuleList(_checked(cell_factory(n_in)) for _ in range(directions))
            self.layers.append(cells)
            n_out = cells[0].output_size
            n_in = n_out * directions if merge_mode == "concat" else n_out
        self.output_size = n_in

    @property
    def cells(self) -> list[Cell]:
        return [cell for layer in self.layers for cell in layer]

    def forward(self, input, hx: State | None = None, *, lengths=None):
        return forward_grid(self, self.layers, input, hx, lengths)

    def _step_cells(self) -> list[Cell]:
        return [row[0] for row in self.layers]

    def _step_params(self) -> list:
        # the cells' own parameters, read directly (parameters() walks every submodule: slow
        # at the rate of a streaming step); a cell with submodules is never planned anyway
        return [p for row in self.layers for cell in row for p in cell._parameters.values()
                if p is not None]

    def extra_repr(self) -> str:
        return (
            f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
            f"merge_mode={self.merge_mode!r}, batch_first={self.batch_first}"
        )


def _checked(cell) -> Cell:
    """The loop and the engine read the capabilities that :class:`Cell` declares."""
    if not isinstance(cell, Cell):
        raise TypeError(
            f"the cell factory made a {type(cell).__name__}, not a rnnkit.cells.Cell; subclass "
            "Cell (it declares the optional capabilities the loop reads, with defaults)"
        )
    return cell


def _sized(factory: Callable[[], Cell]) -> Callable[[int], Cell]:
    """Adapt a no-argument factory; each cell must then fit its layer's input size."""
    try:
        first = factory()
    except TypeError as e:
        raise ValueError(
            "pass input_size= (the factory is then called as factory(input_size)), or a "
            f"factory that takes no arguments ({e})"
        ) from None
    made = [_checked(first)]

    def sized(n_in: int) -> Cell:
        cell = made.pop() if made else factory()
        if cell.input_size != n_in:
            raise ValueError(
                f"the cell factory made a cell with input_size={cell.input_size}, but this "
                f"layer's input has {n_in} features; pass input_size= and a factory "
                "factory(input_size) -> Cell for stacks whose layers differ in input size"
            )
        return cell

    sized.first_input_size = first.input_size
    return sized


def forward_grid(layer: nn.Module, grid, input, hx: State | None, lengths):
    """The loop path shared by :class:`Recurrent` and the drop-ins.

    ``layer`` supplies the options (``input_size``, ``batch_first``, ``merge_mode``,
    ``dropout``, ``recurrent_dropout``, ``zoneout``, ``training``); ``grid[layer][direction]``
    holds the cells.
    """
    batch = to_batch(input, layer.input_size, layer.batch_first, lengths)
    check_dtype(batch.x, layer)
    cells = [cell for row in grid for cell in row]
    states = initial_states(cells, hx, batch)
    out, finals = run_stack(
        grid, batch.x, states, lengths=batch.lengths, merge_mode=layer.merge_mode,
        dropout=layer.dropout, recurrent_dropout=layer.recurrent_dropout,
        zoneout=layer.zoneout, training=layer.training,
    )
    h_n = stack_states(finals)
    if batch.unbatched:
        h_n = tuple(h.squeeze(1) for h in h_n) if isinstance(h_n, tuple) else h_n.squeeze(1)
    return batch.restore(out), h_n


def initial_states(cells: list[Cell], hx: State | None, batch: SequenceBatch) -> list[State]:
    """One initial state per cell: from ``hx`` (checked), else each cell's ``init_state``."""
    B, x = batch.batch_size, batch.x
    if hx is None:
        return [c.init_state(B, device=x.device, dtype=x.dtype) for c in cells]
    return unstack_states(check_hx(hx, cells[0], len(cells), batch), len(cells))


def check_hx(hx: State, cell: Cell, count: int, batch: SequenceBatch) -> State:
    """Check a user's ``hx`` against the expected (L*D, B, size) shapes; return it batched."""
    parts = hx if isinstance(hx, tuple) else (hx,)
    names, sizes = cell.state_names, cell.state_sizes
    if len(parts) != len(sizes):
        raise ValueError(f"hx must have {len(sizes)} tensor(s) {names}, got {len(parts)}")
    if batch.unbatched:
        for name, part in zip(names, parts):
            if isinstance(part, Tensor) and part.dim() != 2:
                raise ShapeError(
                    f"hx ({name}) must be 2-D (num_layers * num_directions, size) for an "
                    f"unbatched input, got shape {tuple(part.shape)}"
                )
        parts = tuple(p.unsqueeze(1) if isinstance(p, Tensor) else p for p in parts)
    for name, part, size in zip(names, parts, sizes):
        check_state(f"hx ({name})", part, (count, batch.batch_size, size), batch.x)
    return parts if isinstance(hx, tuple) else parts[0]
