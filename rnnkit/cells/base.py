"""The cell contract: one time step of a recurrent network.

Every cell maps ``(x_t, state) -> (y_t, new_state)`` and can build its own initial state.
``State`` is a tensor (RNN, GRU) or a tuple of tensors (LSTM: ``(h, c)``). The first tensor
of a state is always the hidden state ``h`` that the recurrence feeds back, which is what
recurrent dropout and zoneout act on.

:class:`Cell` declares, with working defaults, the optional capabilities that the loop
(:func:`rnnkit.layers.loop.run_direction`), the engine (:mod:`rnnkit.kernels.engine`) and
the diagnostics (:mod:`rnnkit.diagnostics.gates`) use; they read these attributes and never
probe a cell for methods. :class:`GatedCell` is the shared parameter set-up of the cells in
torch.nn's weight layout (Elman, LSTM, GRU and their layer-normalised variants).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Union

import torch
from torch import Tensor, nn

State = Union[Tensor, tuple[Tensor, ...]]  # noqa: UP007 (a runtime alias on 3.10)

INITS = ("torch", "orthogonal", "identity", "xavier")
GATE_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # Gate.kind -> range of its values


class Gate(NamedTuple):
    """One gate's activations, as :meth:`Cell.gate_activations` reports them.

    ``kind`` is ``"sigmoid"`` (values in [0, 1]) or ``"tanh"`` (values in [-1, 1]), which
    tells the diagnostics where the gate saturates; ``values`` has the shape of the state.
    """

    kind: str
    values: Tensor


class Cell(nn.Module):
    """Base class of all cells.

    **Required.** Subclasses set ``input_size`` and ``hidden_size`` and implement
    :meth:`forward`. A cell whose state is a tuple overrides :attr:`state_sizes`; a cell whose
    output differs in size from ``hidden_size`` overrides :attr:`output_size`.

    **Optional capabilities**, declared here with defaults that are always correct (only
    slower or less informative), so a new cell needs nothing beyond ``forward``:

    - :meth:`input_projection` and :meth:`recurrence`, used by the loop: the input-only part
      of the step for all T steps in one product, then ``recurrence`` per step. Default:
      the identity, then ``forward``.
    - ``supports_recurrent_mask``, used by the loop under ``recurrent_dropout``. Default
      False: the loop multiplies the whole ``h_{t-1}`` by the mask before the step.
    - ``supports_scan`` and :meth:`scan`, used by the engine when no recurrent dropout or
      zoneout is asked for: the whole sequence at once. Default False: the step loop (or a
      fused kernel registered for the cell's class, :func:`rnnkit.kernels.register_kernel`).
    - ``scan_kind``, used by the engine: the compiled scan to run instead of :meth:`scan`
      where it serves the tensors. Default None.
    - :meth:`gate_activations`, used by the diagnostics (gate saturation). Default ``{}``.

    ``tests/test_cell_contract.py`` checks every registered cell against this contract,
    including that each declared capability agrees with :meth:`forward`.
    """

    input_size: int
    hidden_size: int
    learn_initial_state: bool = False

    supports_recurrent_mask: bool = False
    """True: ``forward``/``recurrence`` take ``recurrent_mask`` (B, H) and multiply
    ``h_{t-1}`` by it where it enters the recurrent weights (variational recurrent dropout,
    Gal & Ghahramani 2016), leaving other uses of ``h_{t-1}`` alone (e.g. the GRU's
    interpolation). False: the loop passes no mask and multiplies the whole ``h_{t-1}``."""

    supports_scan: bool = False
    """True: :meth:`scan` computes the whole sequence and equals stepping :meth:`forward`."""

    scan_kind: str | None = None
    """The name of this cell's recurrence among the compiled scans of
    :mod:`rnnkit.kernels.scan` (``KINDS``: ``"mingru"``, ``"minlstm"``), which the engine runs
    on ``input_projection(x)`` where the compiled code serves the tensors; needs
    ``supports_scan``. None: the engine calls :meth:`scan`."""

    @property
    def output_size(self) -> int:
        """The size of ``y_t`` (``hidden_size`` unless the cell projects)."""
        return self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Sizes of the state tensors; one entry means the state is a single tensor."""
        return (self.hidden_size,)

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the state tensors, in order (``("h",)`` or ``("h", "c")``)."""
        return ("h", "c")[: len(self.state_sizes)]

    def forward(self, x_t: Tensor, state: State, recurrent_mask: Tensor | None = None
                ) -> tuple[Tensor, State]:
        """One step: ``x_t`` (B, input_size), ``state`` as :meth:`init_state` makes it ->
        ``(y_t`` (B, output_size), new state of the same structure). ``recurrent_mask`` is
        only ever passed to a cell with ``supports_recurrent_mask``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x_t, state)")

    def input_projection(self, x: Tensor) -> Tensor:
        """The part of the step that depends on the input only, for any leading shape:
        (..., I) -> (..., G). The loop calls it once on the whole sequence (T, B, I) and
        feeds each step's slice to :meth:`recurrence`; the engine feeds it to the compiled
        scan. A cell overriding it overrides :meth:`recurrence` too, so that
        ``forward(x_t, s) == recurrence(input_projection(x_t), s)``. Default: identity."""
        return x

    def recurrence(self, gx: Tensor, state: State, recurrent_mask: Tensor | None = None
                   ) -> tuple[Tensor, State]:
        """One step from the projected input ``gx`` (B, G) -> ``(y_t, new state)``, called by
        the loop at every step. Default: :meth:`forward` (the projection is the identity)."""
        if recurrent_mask is None:
            return self.forward(gx, state)
        return self.forward(gx, state, recurrent_mask)

    def scan(self, x: Tensor, h0: State, lengths: Tensor | None = None
             ) -> tuple[Tensor, State]:
        """The whole sequence at once, for a cell with ``supports_scan``: x (T, B, I) from
        ``h0`` -> outputs (T, B, O) (zero past each of ``lengths``) and the final state (the
        state at each sequence's last valid step), equal to stepping :meth:`forward`.
        Called by the engine when no recurrent dropout or zoneout is asked for."""
        raise NotImplementedError(f"{type(self).__name__} has no whole-sequence scan")

    def gate_activations(self, gx: Tensor, state: State) -> dict[str, Gate]:
        """The gates of the step from the projected input ``gx`` (..., G) and the state it
        reads (parts (..., size)), for any leading shape (the diagnostics pass all steps at
        once: (T, B, G) and (T, B, H)): gate name -> :class:`Gate`. No recurrent mask is
        applied. Read by :func:`rnnkit.diagnostics.gates.gate_saturation`. Default: ``{}``."""
        return {}

    def _make_initial_state(self, learn: bool) -> None:
        """Register ``initial_h`` (and ``initial_c``) when the initial state is learned."""
        self.learn_initial_state = learn
        if learn:
            for name, n in zip(self.state_names, self.state_sizes):
                self.register_parameter(f"initial_{name}", nn.Parameter(torch.zeros(n)))

    def init_state(self, batch_size: int, *, device=None, dtype=None) -> State:
        """Zeros, or the learned initial state broadcast over the batch."""
        if self.learn_initial_state:
            parts = tuple(
                getattr(self, f"initial_{name}")
                .to(device=device, dtype=dtype)
                .expand(batch_size, -1)
                for name in self.state_names
            )
        else:
            ref = next(self.parameters(), None)
            device = device or (ref.device if ref is not None else None)
            dtype = dtype or (ref.dtype if ref is not None else None)
            parts = tuple(
                torch.zeros(batch_size, n, device=device, dtype=dtype) for n in self.state_sizes
            )
        return parts[0] if len(parts) == 1 else parts

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class GatedCell(Cell):
    """The parameters of torch.nn's recurrent cells, set up once for every cell in that layout.

    With G = ``blocks`` gate blocks (1 Elman, 4 LSTM, 3 GRU): ``weight_ih`` (G*H, I),
    ``weight_hh`` (G*H, R) with R = ``recurrent_size`` (H unless the LSTM projects),
    ``bias_ih`` and ``bias_hh`` (G*H,), or None each without ``bias``; registered in that
    order and initialised in that order by :func:`init_recurrent_weights` (``init``).

    A subclass calls ``super().__init__(...)``, registers its own parameters, then
    ``self._make_initial_state(learn_initial_state)`` and ``self.reset_parameters()``, and
    implements :meth:`recurrence` on top of :meth:`recurrent_term`.
    """

    supports_recurrent_mask = True
    blocks: int

    def __init__(self, input_size: int, hidden_size: int, bias: bool, *, init: str,
                 recurrent_size: int | None = None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias, self.init = (
            input_size, hidden_size, bias, init,
        )
        g = self.blocks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, recurrent_size or hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(g))
            self.bias_hh = nn.Parameter(torch.empty(g))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        biases = [b for b in (self.bias_ih, self.bias_hh) if b is not None]
        init_recurrent_weights(
            self.weight_ih, self.weight_hh, biases, hidden_size=self.hidden_size, init=self.init
        )

    def input_projection(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for any leading shape: (..., I) -> (..., G*H)."""
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def recurrent_term(self, h: Tensor, recurrent_mask: Tensor | None = None) -> Tensor:
        """``W_hh (m ⊙ h) + b_hh`` (..., G*H) from ``h`` (..., R) and the optional mask m."""
        h_in = h if recurrent_mask is None else h * recurrent_mask
        return nn.functional.linear(h_in, self.weight_hh, self.bias_hh)

    def forward(self, x_t: Tensor, state: State, recurrent_mask: Tensor | None = None):
        return self.recurrence(self.input_projection(x_t), state, recurrent_mask)


def init_recurrent_weights(
    weight_ih: Tensor,
    weight_hh: Tensor,
    biases: list[Tensor],
    *,
    hidden_size: int,
    init: str,
) -> None:
    """Initialise a cell's weights in place, block by block (one block per gate).

    - ``torch``: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)) (torch.nn's default).
    - ``orthogonal``: each recurrent block orthogonal, each input block Xavier-uniform,
      biases zero (Saxe et al. 2014).
    - ``identity``: each recurrent block the identity, input weights ~ N(0, 0.001^2),
      biases zero; with a ReLU RNN this is the IRNN (Le, Jaitly & Hinton 2015).
    - ``xavier``: every block Xavier-uniform, biases zero.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    with torch.no_grad():
        if init == "torch":
            bound = 1.0 / math.sqrt(hidden_size)
            for p in (weight_ih, weight_hh, *biases):
                p.uniform_(-bound, bound)
            return
        for b in biases:
            b.zero_()
        for block in weight_ih.split(hidden_size):
            if init == "identity":
                block.normal_(0.0, 0.001)
            else:
                nn.init.xavier_uniform_(block)
        for block in weight_hh.split(hidden_size):
            if init == "orthogonal":
                nn.init.orthogonal_(block)
            elif init == "identity":
                block.copy_(torch.eye(*block.shape, dtype=block.dtype, device=block.device))
            else:
                nn.init.xavier_uniform_(block)
