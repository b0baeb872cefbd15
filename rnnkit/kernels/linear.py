"""``linear(x, W, b) = x W^T + b`` for the engine's input projections, on the packed products
of ``csrc/gemm.h`` where the compiled kernels serve the tensors (else ``F.linear``).

The inference plans (:mod:`.plans`) compute each step's gates as ``b + x_t W_ih^T + h W_hh^T``
in one chain of multiply-adds; projecting the whole sequence here with the same kernel, and
then adding ``h W_hh^T`` in the compiled loops, runs the very same chain, so the engine gives
equal outputs, to the last bit, with gradients and without. It is also the faster product on
CPUs where the BLAS does not take the widest vector unit. The backward uses ATen's products.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import native
from .native import EMPTY


class PackedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, nat, x: Tensor, weight: Tensor, bias: Tensor | None):
        rows = x.reshape(-1, x.shape[-1]).contiguous()
        out = nat.linear(rows, weight.contiguous(), EMPTY if bias is None else bias.contiguous())
        ctx.save_for_backward(rows, weight)
        ctx.has_bias, ctx.shape = bias is not None, x.shape
        return out.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor):
        rows, weight = ctx.saved_tensors
        d = dout.reshape(-1, dout.shape[-1])  # (M, N)
        dx = d.mm(weight).view(ctx.shape) if ctx.needs_input_grad[1] else None
        dw = d.t().mm(rows) if ctx.needs_input_grad[2] else None
        db = d.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return None, dx, dw, db


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x W^T + b`` (..., I) -> (..., N), packed and compiled where possible."""
    nat = native.ops_for(x)
    if nat is None or weight.dtype != x.dtype or torch.is_autocast_enabled(x.device.type):
        return torch.nn.functional.linear(x, weight, bias)
    return PackedLinear.apply(nat, x, weight, bias)
