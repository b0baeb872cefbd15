"""Truncated backpropagation through time: chunks, and the state carried between them.

With ``tbptt = k`` a batch's ``time_keys`` (dim 1 = time) are cut into chunks of k steps.
The model runs chunk by chunk, each chunk starting from the previous chunk's final state,
*detached*, so no gradient flows past a chunk boundary. Where a batch has ``"lengths"``,
each chunk gets the lengths that fall inside it and a sample's state is reset to zeros once
its sequence has ended before the last chunk. Gradients of the chunks are accumulated,
weighted by their item counts, and the optimizer steps once per batch: with k >= T this is
full BPTT exactly.

A state is a tensor or a (nested) tuple/list of tensors whose batch dimension is dim -2
(``(B, H)`` or ``(num_layers * D, B, H)``, as the layers return ``h_n``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from torch import Tensor


def map_state(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """Apply ``fn`` to every tensor of a (nested) state; None stays None."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(s, fn) for s in state)
    if isinstance(state, dict):
        return {k: map_state(v, fn) for k, v in state.items()}
    return state


def detach_state(state: Any) -> Any:
    """The same state, cut from the graph (the truncation)."""
    return map_state(state, lambda t: t.detach())


def reset_state(state: Any, keep: Tensor) -> Any:
    """Zero the state of samples where ``keep`` (B,) is False (their sequence has ended)."""
    def fn(t: Tensor) -> Tensor:
        shape = [1] * t.dim()
        shape[-2] = -1
        return t * keep.to(t.dtype).view(shape)  # (..., B, H)
    return map_state(state, fn)


def sequence_length(batch: dict[str, Tensor], time_keys: tuple[str, ...]) -> int:
    """The time length shared by the batch's ``time_keys``."""
    lengths = {batch[k].shape[1] for k in time_keys if k in batch}
    if len(lengths) != 1:
        raise ValueError(f"time_keys {time_keys} must share one length along dim 1, got {lengths}")
    return lengths.pop()


def chunks(batch: dict[str, Tensor], time_keys: tuple[str, ...], k: int
           ) -> Iterator[tuple[dict[str, Tensor], Tensor | None]]:
    """Yield (chunk batch, keep mask or None) for consecutive k-step chunks.

    Keys not in ``time_keys`` are passed whole; ``"lengths"`` becomes each chunk's lengths.
    ``keep`` (B,) is False for samples whose sequence ends inside this chunk (reset after it).
    Chunks where every sequence has already ended are skipped.
    """
    total = sequence_length(batch, time_keys)
    lengths = batch.get("lengths")
    for start in range(0, total, k):
        chunk = {key: (v[:, start:start + k] if key in time_keys else v)
                 for key, v in batch.items()}
        keep = None
        if lengths is not None:
            inside = (lengths - start).clamp(0, k)
            if not bool((inside > 0).any()):
                break
            chunk["lengths"] = inside
            keep = lengths > start + k
        yield chunk, keep


def run_batch(
    loss_fn: Callable[[dict[str, Tensor], Any], Any],
    batch: dict[str, Tensor],
    time_keys: tuple[str, ...],
    tbptt: int,
    state: Any = None,
    backward: Callable[[Tensor, bool], None] | None = None,
    parameters: list[Tensor] = (),
    context: Callable[[bool], Any] = lambda last: contextlib.nullcontext(),
):
    """Run ``loss_fn(batch, state) -> StepOutput`` over the batch, whole or in chunks.

    ``backward(loss, last)`` is called per chunk (``last`` is True for the final chunk, so
    DDP syncs only then; ``context(last)`` wraps each chunk's forward and backward). Whole:
    with the loss itself. In chunks: with ``loss * count``, and the gradients of
    ``parameters`` are then divided by the total count (the batch mean). Returns
    (mean loss as a float tensor, metrics averaged by count, total count, final state).
    """
    if tbptt <= 0 or not time_keys or tbptt >= sequence_length(batch, time_keys):
        parts = [(batch, None)]
    else:
        parts = list(chunks(batch, time_keys, tbptt))
    outs, total = [], 0
    for i, (chunk, keep) in enumerate(parts):
        last = i == len(parts) - 1
        with context(last):
            out = loss_fn(chunk, state)
            if backward is not None:
                backward(out.loss if len(parts) == 1 else out.loss * out.count, last)
        outs.append(out)
        total += out.count
        state = detach_state(out.state) if len(parts) > 1 else out.state
        if keep is not None and not last:
            state = reset_state(state, keep)
    if backward is not None and len(parts) > 1:
        for p in parameters:
            if p.grad is not None:
                p.grad.div_(max(total, 1))
    loss = sum(o.loss.detach() * o.count for o in outs) / max(total, 1)
    metrics: dict[str, float] = {}
    for o in outs:
        for name, value in o.metrics.items():
            metrics[name] = metrics.get(name, 0.0) + float(value) * o.count / max(total, 1)
    return loss, metrics, total, state


def flatten_state(state: Any) -> tuple[list[Tensor], Any]:
    """A (nested) state as a list of tensors and a JSON-able layout (for checkpoints)."""
    tensors: list[Tensor] = []

    def walk(s):
        if s is None:
            return None
        if isinstance(s, Tensor):
            tensors.append(s)
            return len(tensors) - 1
        if isinstance(s, (tuple, list)):
            return {"type": type(s).__name__, "items": [walk(x) for x in s]}
        raise TypeError(f"cannot save a state part of type {type(s).__name__}")

    return tensors, walk(state)


def unflatten_state(tensors: list[Tensor], layout: Any) -> Any:
    """Inverse of :func:`flatten_state`."""
    if layout is None:
        return None
    if isinstance(layout, int):
        return tensors[layout]
    items = [unflatten_state(tensors, x) for x in layout["items"]]
    return tuple(items) if layout["type"] == "tuple" else items
