"""The compiled scan of the minimal RNNs (minGRU, minLSTM) on the CPU.

``min_scan(kind, gx, h0, lengths)`` runs ``h_t = a_t h_{t-1} + b_t`` with the gates computed
from the projected inputs ``gx`` inside the compiled loop (``csrc/cells.cpp``), forward and
backward, sequential in time and vectorised across the batch's channels. It returns None
where the compiled code cannot serve (other devices, other dtypes, no compiler): the cells
then run their log-space parallel scan (:func:`rnnkit.cells.mingru.linear_scan`), which is
the formulation that pays off where many time steps can run at once (a GPU).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import native

KINDS = {"mingru": 0, "minlstm": 1}


class MinScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, nat, kind: int, gx: Tensor, h0: Tensor, valid: Tensor):
        gx, h0 = gx.contiguous(), h0.contiguous()
        y, hT = nat.min_scan_forward(gx, h0, valid, kind)
        ctx.nat, ctx.kind = nat, kind
        ctx.save_for_backward(gx, h0, y, valid)
        return y, hT

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor | None, dhT: Tensor | None):
        gx, h0, y, valid = ctx.saved_tensors
        dy = native.EMPTY if dy is None else dy.contiguous()
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        dgx, dh0 = ctx.nat.min_scan_backward(gx, h0, y, valid, dy, dhT, ctx.kind)
        return None, None, dgx, dh0, None


def min_scan(kind: str, gx: Tensor, h0: Tensor, lengths: Tensor | None):
    """Outputs (T, B, H) (zero past each length) and the final state (B, H), or None."""
    nat = native.ops_for(gx)
    if nat is None or h0.dtype != gx.dtype or h0.device != gx.device:
        return None
    valid = native.EMPTY.bool()
    if lengths is not None:
        steps = torch.arange(gx.shape[0]).unsqueeze(1)
        valid = (steps < lengths.to("cpu").unsqueeze(0)).contiguous()  # (T, B)
    y, hT = MinScan.apply(nat, KINDS[kind], gx, h0, valid)
    return y, hT
