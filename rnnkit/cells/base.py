"""The cell contract: one time step of a recurrent network.

Every cell maps ``(x_t, state) -> (y_t, new_state)`` and can build its own initial state.
``State`` is a tensor (RNN, GRU) or a tuple of tensors (LSTM: ``(h, c)``). The first tensor
of a state is always the hidden state ``h`` that the recurrence feeds back, which is what
recurrent dropout and zoneout act on.
"""

from __future__ import annotations

import math
from typing import Union

import torch
from torch import Tensor, nn

State = Union[Tensor, tuple[Tensor, ...]]  # noqa: UP007 (a runtime alias on 3.10)

INITS = ("torch", "orthogonal", "identity", "xavier")


class Cell(nn.Module):
    """Base class of all cells.

    Subclasses set ``input_size``, ``hidden_size`` and ``output_size`` (the size of ``y_t``;
    equal to ``hidden_size`` unless the cell projects) and implement :meth:`forward`.
    A cell whose state is a tuple overrides :attr:`state_sizes`.

    ``forward(x_t, state, recurrent_mask=None)``: ``x_t`` is (B, input_size); the optional
    ``recurrent_mask`` (B, H) multiplies ``h_{t-1}`` where it enters the recurrent weights
    (variational recurrent dropout, Gal & Ghahramani 2016).
    """

    input_size: int
    hidden_size: int
    learn_initial_state: bool = False

    @property
    def output_size(self) -> int:
        return self.hidden_size

    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Sizes of the state tensors; one entry means the state is a single tensor."""
        return (self.hidden_size,)

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the state tensors, in order (``("h",)`` or ``("h", "c")``)."""
        return ("h", "c")[: len(self.state_sizes)]

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
