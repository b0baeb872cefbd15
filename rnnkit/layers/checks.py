"""Input validation shared by every layer: fail before any computation, say what and how."""

from __future__ import annotations

import torch
from torch import Tensor

MERGE_MODES = ("concat", "sum", "mean", "mul")


class ShapeError(ValueError, RuntimeError):
    """An input or state of the wrong shape. A ValueError, and also the RuntimeError that
    torch.nn's recurrent layers raise for it, so code written against torch.nn that
    catches it keeps working with the drop-ins."""


class DtypeError(TypeError, ValueError, RuntimeError):
    """An input or state of a dtype the layer cannot run: a TypeError, and also what
    torch.nn's recurrent layers raise for it (a ValueError for the input, a RuntimeError
    for a state)."""


def check_probability(name: str, p: float) -> None:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")


def check_merge_mode(merge_mode: str) -> None:
    if merge_mode not in MERGE_MODES:
        raise ValueError(f"merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")


def check_input(x: Tensor, input_size: int, batch_first: bool) -> None:
    """x must be a floating tensor of shape (T, B, I) / (B, T, I), or unbatched (T, I)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"input must be a torch.Tensor or PackedSequence, got {type(x).__name__}")
    if not x.is_floating_point():
        raise DtypeError(
            f"input must be a floating-point tensor, got dtype {x.dtype}; "
            "convert it with input.float()"
        )
    layout = "(B, T, input_size)" if batch_first else "(T, B, input_size)"
    if x.dim() not in (2, 3):
        raise ValueError(
            f"input must have 3 dimensions {layout} (or 2 for one unbatched sequence), "
            f"got {x.dim()} dimensions with shape {tuple(x.shape)}"
        )
    if x.shape[-1] != input_size:
        raise ShapeError(
            f"input.size(-1) must equal input_size={input_size}, got {x.shape[-1]} "
            f"(input shape {tuple(x.shape)}, expected {layout})"
        )


def check_dtype(x: Tensor, module) -> None:
    """The input's dtype must be the layer's parameters' (else the first matrix product
    fails deep inside with "expected m1 and m2 to have the same dtype")."""
    param = next(module.parameters(), None)
    if param is None or x.dtype == param.dtype or torch.is_autocast_enabled(x.device.type):
        return  # under autocast the products cast their operands themselves
    if x.dtype != param.dtype:
        raise ValueError(
            f"input dtype ({x.dtype}) does not match the layer's parameters ({param.dtype}). "
            f"Convert the input: input.to({param.dtype}), or the layer: layer.to({x.dtype})"
        )


def check_lengths(lengths, batch_size: int, seq_len: int) -> Tensor:
    """Return ``lengths`` as an int64 tensor after checking it is 1-D, B long, in [1, T]."""
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(
            f"lengths must be 1-D (one length per sequence), got shape {tuple(lengths.shape)}"
        )
    if lengths.numel() != batch_size:
        raise ValueError(
            f"lengths must have one entry per sequence: expected {batch_size}, "
            f"got {lengths.numel()}"
        )
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo <= 0 or hi > seq_len:
        raise ValueError(
            f"lengths must lie in [1, {seq_len}] (the padded sequence length), "
            f"got min {lo}, max {hi}"
        )
    return lengths.long()


def check_state(name: str, h: Tensor, shape: tuple[int, ...], like: Tensor) -> None:
    """A given initial state must match the expected shape, the input's device and dtype."""
    if not isinstance(h, Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(h).__name__}")
    if tuple(h.shape) != tuple(shape):
        raise ShapeError(
            f"{name} must have shape {tuple(shape)} (num_layers * num_directions, batch, size), "
            f"got {tuple(h.shape)}"
        )
    if h.device != like.device:
        raise ValueError(f"{name} is on {h.device} but the input is on {like.device}")
    if h.dtype != like.dtype:
        raise DtypeError(f"{name} has dtype {h.dtype} but the input has dtype {like.dtype}")
