"""The loop over time for any cell: lengths, reverse direction, zoneout, recurrent dropout,
stacking, bidirectional merging. Time-major throughout: x is (T, B, I)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..cells.base import Cell, State
from ..kernels import find_kernel

# Observers of every run_direction call (rnnkit.diagnostics): each is called as
# ``observe(cell, inputs, trace, lengths, reverse)`` with ``inputs`` the projected inputs
# ``cell.input_projection(x)`` (T, B, G) and ``trace`` the per-step (state in, state out)
# pairs in processing order. Empty (the default) costs nothing.
STEP_OBSERVERS: list = []


def _as_tuple(state: State) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def _like(parts: tuple[Tensor, ...], template: State) -> State:
    return parts if isinstance(template, tuple) else parts[0]


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of x (T, B, ...) within its own length; padding stays put.

    Applying it twice gives back x.
    """
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[:2]
    t = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
    idx = lengths.to(x.device).unsqueeze(0) - 1 - t  # (T, B)
    idx = torch.where(idx >= 0, idx, t.expand(T, B))
    idx = idx.view(T, B, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, idx)


def run_direction(
    cell: Cell,
    x: Tensor,
    state: State,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
    recurrent_dropout: float = 0.0,
    zoneout: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, State]:
    """Run one cell over x (T, B, I) from ``state``; return outputs (T, B, O) and final state.

    A kernel from :func:`rnnkit.kernels.find_kernel` runs the whole direction when there is
    one; otherwise ``cell.input_projection`` once and ``cell.recurrence`` at every step (the
    capabilities declared on :class:`~rnnkit.cells.base.Cell`).

    - ``lengths`` (B,): steps at t >= length leave the state unchanged and output zeros, so
      the final state is the state at each sequence's last valid step.
    - ``reverse``: each sequence is read backwards from its last valid step.
    - ``recurrent_dropout``: one Bernoulli mask per sequence on ``h_{t-1}`` where it enters
      the recurrence, reused at every step (Gal & Ghahramani 2016); training only.
    - ``zoneout``: each unit of every state tensor keeps its previous value with probability
      p (Krueger et al. 2017); at evaluation the expectation ``p*old + (1-p)*new`` is used.
      With zoneout the output is the (zoned-out) hidden state.
    """
    if reverse:
        x = reverse_padded(x, lengths)
    kernel = None if STEP_OBSERVERS else find_kernel(  # observers need the per-step loop
        cell, recurrent_dropout=recurrent_dropout, zoneout=zoneout, training=training
    )  # fused BPTT or scan for this cell, if any
    if kernel is not None:
        out, state = kernel(x, state, lengths)
        return (reverse_padded(out, lengths) if reverse else out), state
    T, B = x.shape[:2]
    inputs = cell.input_projection(x)  # (T, B, G): one matmul for all steps (or x itself)

    mask = None
    if recurrent_dropout > 0 and training:
        h = _as_tuple(state)[0]
        keep = 1.0 - recurrent_dropout
        mask = torch.empty_like(h).bernoulli_(keep).div_(keep)  # (B, H), same at every step
    valid = None
    if lengths is not None:
        steps = torch.arange(T, device=x.device).unsqueeze(1)
        valid = (steps < lengths.to(x.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)

    outputs = []
    trace = [] if STEP_OBSERVERS else None
    # unbind, not inputs[t]: one backward node for all steps instead of a (T, B, G) zero-fill
    # per step, which would make the backward pass O(T^2)
    for t, x_t in enumerate(inputs.unbind(0)):
        if mask is None:
            y, new = cell.recurrence(x_t, state)
        elif cell.supports_recurrent_mask:
            y, new = cell.recurrence(x_t, state, mask)
        else:  # the cell takes no mask: drop h_{t-1} before it enters the cell
            parts = _as_tuple(state)
            y, new = cell.recurrence(x_t, _like((parts[0] * mask, *parts[1:]), state))
        if trace is not None:
            trace.append((state, new))
        if zoneout > 0:
            new = _zoneout(state, new, zoneout, training)
            y = _as_tuple(new)[0]
        if valid is not None:
            keep_t = valid[t]
            new = _like(
                tuple(torch.where(keep_t, n, o) for n, o in zip(_as_tuple(new), _as_tuple(state))),
                new,
            )
            y = y * keep_t
        state = new
        outputs.append(y)
    out = torch.stack(outputs)  # (T, B, O)
    for observe in STEP_OBSERVERS if trace is not None else ():
        observe(cell, inputs, trace, lengths, reverse)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, state


def _zoneout(old: State, new: State, p: float, training: bool) -> State:
    parts = []
    for o, n in zip(_as_tuple(old), _as_tuple(new)):
        if training:
            keep_old = torch.empty_like(n).bernoulli_(p)
            parts.append(torch.lerp(n, o, keep_old))
        else:
            parts.append(torch.lerp(n, o, p))
    return _like(tuple(parts), new)


def merge_directions(fwd: Tensor, bwd: Tensor, merge_mode: str) -> Tensor:
    """Combine the two directions' outputs (T, B, O) each."""
    if merge_mode == "concat":
        return torch.cat([fwd, bwd], dim=-1)  # (T, B, 2O)
    if merge_mode == "sum":
        return fwd + bwd
    if merge_mode == "mean":
        return (fwd + bwd) * 0.5
    if merge_mode == "mul":
        return fwd * bwd
    raise ValueError(f"unknown merge_mode {merge_mode!r}")


def run_stack(
    grid: Sequence[Sequence[Cell]],
    x: Tensor,
    states: Sequence[State],
    *,
    lengths: Tensor | None = None,
    merge_mode: str = "concat",
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    zoneout: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, list[State]]:
    """Run stacked (and optionally bidirectional) cells over x (T, B, I).

    ``grid[layer][direction]`` is a cell; ``states`` holds one initial state per
    (layer, direction) in that order. Dropout is applied to every layer's output except the
    last (as in torch.nn). Returns the last layer's output and the final states in order.
    """
    finals: list[State] = []
    k = 0
    for layer, cells in enumerate(grid):
        outs = []
        for direction, cell in enumerate(cells):
            out, final = run_direction(
                cell, x, states[k], lengths=lengths, reverse=direction == 1,
                recurrent_dropout=recurrent_dropout, zoneout=zoneout, training=training,
            )
            outs.append(out)
            finals.append(final)
            k += 1
        x = outs[0] if len(outs) == 1 else merge_directions(outs[0], outs[1], merge_mode)
        if dropout > 0 and training and layer < len(grid) - 1:
            x = torch.nn.functional.dropout(x, dropout, training=True)
    return x, finals


def stack_states(states: Sequence[State]) -> State:
    """Per-(layer, direction) states -> torch.nn's layout: (L*D, B, H) tensors."""
    first = states[0]
    if isinstance(first, tuple):
        return tuple(torch.stack([s[i] for s in states]) for i in range(len(first)))
    return torch.stack(list(states))


def unstack_states(hx: State, count: int) -> list[State]:
    """torch.nn's (L*D, B, H) layout -> one state per (layer, direction)."""
    if isinstance(hx, tuple):
        return [tuple(part[k] for part in hx) for k in range(count)]
    return [hx[k] for k in range(count)]
