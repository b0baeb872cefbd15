"""The time loop with backpropagation through time written out by hand.

One :class:`torch.autograd.Function` drives every cell family. A *family* (see
:mod:`rnnkit.kernels.families`) supplies the per-step arithmetic; this module supplies what
all of them share: the recurrent matrix product, recurrent dropout, zoneout, lengths, the
state carry and the gradients of ``W_hh`` and of the initial state.

Forward, for each step t (``m`` the recurrent-dropout mask, ``k_t`` the zoneout keep-old
mask or the evaluation constant p, ``v_t`` the valid-step mask)::

    raw_t   = family.step(gx_t, (h_{t-1} * m) W_hh^T, state_{t-1})
    state_t = where(v_t, lerp(raw_t, state_{t-1}, k_t), state_{t-1})      # every state tensor
    y_t     = h_t * v_t

Backward runs the same steps in reverse; with ``a_t = v_t (1 - k_t)`` the carry sends
``a_t * d`` to the step and ``(1 - a_t) * d`` straight to ``state_{t-1}``. The gradient of
``W_hh`` is one matrix product over all steps after the loop; the gradient of the projected
input ``gx`` (T, B, G) is returned, so autograd forms the ``W_ih`` gradient as one product.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import native


@dataclass
class Masks:
    """What modulates the loop; none of it takes gradients.

    ``valid`` (T, B, 1) bool or None; ``recurrent`` (B, H) or None (already scaled by
    1/keep); ``zoneout`` None, a float p (evaluation) or a (T, S, B, H) 0/1 tensor
    (1 = keep the old value) for the S state tensors.
    """

    valid: Tensor | None = None
    recurrent: Tensor | None = None
    zoneout: Tensor | float | None = None

    def carry(self, t: int, raw: tuple, old: tuple) -> tuple:
        z = self.zoneout
        if z is not None:
            raw = tuple(
                torch.lerp(n, o, z if isinstance(z, float) else z[t, s])
                for s, (n, o) in enumerate(zip(raw, old))
            )
        if self.valid is not None:
            raw = tuple(torch.where(self.valid[t], n, o) for n, o in zip(raw, old))
        return raw

    def step_share(self, dtype: torch.dtype) -> Tensor | float | None:
        """``a_t = v_t (1 - k_t)``: the share of a state's gradient that goes to the step.

        (T, S, B, H) or (T, 1, B, 1) tensor, a float, or None (all of it).
        """
        z, v = self.zoneout, self.valid
        if z is None and v is None:
            return None
        share = 1.0 - z if z is not None else 1.0
        if v is not None:
            share = v.unsqueeze(1).to(dtype) * share
        return share


class BPTT(torch.autograd.Function):
    """``apply(family, masks, store, gx, h0, c0_or_None, *params) -> (y, h_T[, c_T])``.

    ``params[0]`` is ``W_hh`` (G, H); the rest are the family's (biases, gains). ``store``:
    whether a backward will follow (else nothing is kept per step).
    """

    @staticmethod
    def forward(ctx, family, masks: Masks, store: bool, gx: Tensor, h0: Tensor, c0, *params):
        W = params[0]
        ctx.native = (masks.valid is None and masks.zoneout is None
                      and hasattr(family, "loop_forward") and native.ops_for(gx) is not None)
        run = family.prepare(gx, params, store, whole=ctx.native)
        ctx.family, ctx.masks, ctx.run = family, masks, run
        ctx.has_c = c0 is not None
        if ctx.native:  # the whole loop in compiled code (kernels/csrc/cells.cpp)
            m = masks.recurrent
            run.mask = native.EMPTY if m is None else m.contiguous()
            hs, finals = family.loop_forward(run, h0.contiguous(),
                                             None if c0 is None else c0.contiguous())
            run.gx, run.hs = None, None
            # The output is a view of the saved states (no copy); saving them lets autograd
            # refuse a backward after the caller modified the output in place.
            ctx.save_for_backward(W, *params[1:], hs)
            return (hs[1:], *(s.clone() for s in finals))
        ctx.save_for_backward(W, *params[1:])
        states = (h0,) if c0 is None else (h0, c0)
        seqs = [[s] for s in states]  # states_0 .. states_T, one list per state tensor
        m = masks.recurrent
        for t in range(gx.shape[0]):
            h = states[0]
            raw = family.step(run, t, h if m is None else h * m, states)
            states = masks.carry(t, raw, states)
            for seq, s in zip(seqs, states):
                seq.append(s)
        hs = torch.stack(seqs[0])  # (T+1, B, H)
        y = hs[1:] * masks.valid if masks.valid is not None else hs[1:].clone()  # (T, B, H)
        run.gx = None  # the per-step inputs are not needed by any backward
        ctx.prev = [list(hs[:-1].unbind(0)), *(seq[:-1] for seq in seqs[1:])]  # h: views
        ctx.hs = hs
        return (y, *states)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, *dfinal):
        family, masks, run = ctx.family, ctx.masks, ctx.run
        W, *rest = ctx.saved_tensors
        if ctx.native:
            *rest, hs = rest
            return _native_backward(ctx, W, rest, hs, dy, dfinal)
        T, B, G = ctx.hs.shape[0] - 1, ctx.hs.shape[1], W.shape[0]
        n_states = len(ctx.prev)
        d = [torch.zeros_like(ctx.hs[0]) if g is None else g.clone() for g in dfinal]
        if dy is not None and masks.valid is not None:
            dy = dy * masks.valid
        share = masks.step_share(W.dtype)
        m = masks.recurrent
        dGX = W.new_empty(T, B, G)
        dGH = dGX if family.shares_grad else W.new_empty(T, B, G)
        family.prepare_backward(run)
        for t in range(T - 1, -1, -1):
            if dy is not None:
                d[0] = d[0] + dy[t]
            if share is None:
                d_raw, d_old = d, [None] * n_states
            else:
                a = share if isinstance(share, float) else share[t]
                d_raw = [g * (a if isinstance(a, float) else a[min(s, a.shape[0] - 1)])
                         for s, g in enumerate(d)]
                d_old = [g - r for g, r in zip(d, d_raw)]
            prev = [seq[t] for seq in ctx.prev]
            direct, dgh = family.step_back(run, t, d_raw, prev, dGX[t], dGH[t])
            d = [_add(o, p) for o, p in zip(d_old, direct)]
            if m is None and d[0] is not None:
                d[0] = torch.addmm(d[0], dgh, W)  # (B, H)
            else:
                dh_in = dgh @ W
                d[0] = _add(d[0], dh_in if m is None else dh_in * m)
        hin = ctx.hs[:-1] if m is None else ctx.hs[:-1] * m  # (T, B, H)
        dW = dGH.reshape(T * B, G).t().mm(hin.reshape(T * B, hin.shape[-1]))  # (G, H)
        dparams = family.param_grads(run, dGX, dGH, rest)
        dc0 = d[1] if ctx.has_c else None
        return (None, None, None, dGX, d[0], dc0, dW, *dparams)


def _native_backward(ctx, W: Tensor, rest, hs: Tensor, dy: Tensor | None, dfinal) -> tuple:
    family, run = ctx.family, ctx.run
    T, B, G = hs.shape[0] - 1, hs.shape[1], W.shape[0]
    run.hs = hs
    dGX = W.new_empty(T, B, G)
    width = G // 3 * family.native_dgh_blocks if hasattr(family, "native_dgh_blocks") else G
    dGH = dGX if family.shares_grad else W.new_empty(T, B, width)
    family.prepare_backward(run)
    d = [torch.zeros_like(hs[0]) if g is None else g.contiguous() for g in dfinal]
    dy = None if dy is None else dy.contiguous()
    d0 = family.loop_backward(run, dy, d, W.contiguous(), dGX, dGH)
    hin = hs[:-1] if ctx.masks.recurrent is None else hs[:-1] * ctx.masks.recurrent
    if hasattr(family, "native_weight_grads"):
        dW, dparams = family.native_weight_grads(run, dGX, dGH, hin, rest)
    else:
        dW = dGH.reshape(T * B, G).t().mm(hin.reshape(T * B, hin.shape[-1]))  # (G, H)
        dparams = family.param_grads(run, dGX, dGH, rest)
    return (None, None, None, dGX, d0[0], d0[1] if ctx.has_c else None, dW, *dparams)


def _add(a: Tensor | None, b: Tensor | None) -> Tensor:
    if a is None:
        return b
    return a if b is None else a + b


def run_bptt(family, cell, x: Tensor, state, masks: Masks) -> tuple[Tensor, object]:
    """Run ``cell`` over x (T, B, I) from ``state`` with the family's kernel."""
    project = getattr(family, "project", None)
    gx = project(cell, x) if project else cell.input_projection(x)  # (T, B, G): one matmul
    parts = state if isinstance(state, tuple) else (state,)
    h0, c0 = parts[0], (parts[1] if len(parts) > 1 else None)
    params = family.params(cell)
    store = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (gx, h0, c0, *params)
    )
    out = BPTT.apply(family, masks, store, gx, h0, c0, *params)
    y, finals = out[0], tuple(out[1:])
    return y, (finals if isinstance(state, tuple) else finals[0])
