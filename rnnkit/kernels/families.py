"""Per-step arithmetic of the plain cells (Elman RNN, LSTM, GRU) for :mod:`.bptt`.

A family is built from a cell and provides:

- ``params(cell)``: ``[W_hh, *others]``, the tensors that get gradients;
- ``prepare(gx, params, store, whole)``: a namespace ``run`` with ``run.gx`` (per-step
  inputs) and the buffers the backward needs, written step by step (``whole``: the compiled
  whole-sequence loop will run, which recomputes some of them instead of storing them);
- ``step(run, t, h_in, states) -> raw new states`` (``h_in`` is the dropped-out ``h_{t-1}``);
- ``prepare_backward(run)``: derivatives that can be formed for all steps at once;
- ``step_back(run, t, d_raw, prev, dgx_t, dgh_t) -> (direct grads to prev states, dgh_t)``:
  writes the gradient of ``gx_t`` into ``dgx_t`` and of ``h_in W_hh^T`` into ``dgh_t``;
- ``param_grads(run, dGX, dGH, params[1:])``: the other parameters' gradients.

Where the compiled kernels (:mod:`.native`) serve the tensors, ``prepare`` sets ``run.nat``
and the LSTM and GRU families do each step's element-wise work in one compiled call; the
ATen formulas below are the reference and the fallback.

The symbols follow the cells' docstrings (gate orders i, f, g, o and r, z, n).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor

from . import native
from .native import EMPTY


def steps_buffer(gx: Tensor, width: int, store: bool) -> Tensor:
    """(T, B, width) storage for the backward, or one reused (B, width) slot when no
    gradient will be asked for (inference keeps nothing per step)."""
    T, B = gx.shape[:2]
    return gx.new_empty(T, B, width) if store else gx.new_empty(1, B, width).expand(T, B, width)


def state_buffers(gx: Tensor, *initial: Tensor) -> list[Tensor]:
    """(T+1, B, H) buffers for the compiled loops, each starting from its initial state."""
    T = gx.shape[0]
    out = []
    for s in initial:
        buf = s.new_empty(T + 1, *s.shape)
        buf[0] = s
        out.append(buf)
    return out


def bias_grad(b: Tensor | None, dG: Tensor) -> Tensor | None:
    return None if b is None else dG.sum((0, 1))


class ElmanFamily:
    """``h_t = f(gx_t + h_in W_hh^T + b_hh)`` with f = tanh or relu."""

    shares_grad = True

    def __init__(self, cell):
        self.relu = cell.nonlinearity == "relu"

    def params(self, cell):
        return [cell.weight_hh, cell.bias_hh]

    def prepare(self, gx: Tensor, params, store: bool = True, whole: bool = False):
        return SimpleNamespace(gx=gx, Wt=params[0].t().contiguous(), h=[],
                               gx_dtype_one=gx.new_ones(()))

    def project(self, cell, x: Tensor) -> Tensor:
        return project_with_both_biases(cell, x)

    def step(self, run, t, h_in, states):
        pre = torch.addmm(run.gx[t], h_in, run.Wt)  # (B, H)
        h = torch.relu(pre) if self.relu else torch.tanh(pre)
        run.h.append(h)
        return (h,)

    def prepare_backward(self, run):
        run.one = run.gx_dtype_one

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        h = run.h[t]
        deriv = (h > 0).to(h.dtype) if self.relu else torch.addcmul(run.one, h, h, value=-1)
        torch.mul(d_raw[0], deriv, out=dgx)
        return (None,), dgx

    def param_grads(self, run, dGX, dGH, rest):
        return [None]  # b_hh got its gradient through project()


def project_with_both_biases(cell, x: Tensor) -> Tensor:
    """``W_ih x + b_ih + b_hh`` (T, B, G): both biases in the one input product."""
    b = cell.bias_ih if cell.bias_hh is None else cell.bias_ih + cell.bias_hh
    return torch.nn.functional.linear(x, cell.weight_ih, b)


class LSTMFamily:
    """``(i, f, g, o)`` from ``gx_t + h_in W_hh^T + b_hh``; ``c = f c + i g``; ``h = o tanh c``."""

    shares_grad = True

    def __init__(self, cell):
        self.H = cell.hidden_size

    def params(self, cell):
        return [cell.weight_hh, cell.bias_hh]

    def project(self, cell, x: Tensor) -> Tensor:
        return project_with_both_biases(cell, x)

    def prepare(self, gx: Tensor, params, store: bool = True, whole: bool = False):
        T, B, G = gx.shape
        return SimpleNamespace(gx=gx.contiguous(), Wt=params[0].t().contiguous(), store=store,
                               nat=native.ops_for(gx), act=steps_buffer(gx, G, store),
                               tc=steps_buffer(gx, G // 4, store and not whole))

    def step(self, run, t, h_in, states):
        H, c = self.H, states[1]
        act = torch.addmm(run.gx[t], h_in, run.Wt, out=run.act[t])  # (B, 4H) gates
        if run.nat is not None:
            h, c_new = torch.empty_like(c), torch.empty_like(c)
            run.nat.lstm_forward(act, c.contiguous(), EMPTY, EMPTY, 0.0, c_new, run.tc[t], h,
                                 EMPTY, EMPTY, EMPTY)
            return h, c_new
        lstm_activate_(act, H)
        i, f, g, o = act.chunk(4, 1)
        c_new = torch.addcmul(f * c, i, g)  # (B, H)
        return o * torch.tanh(c_new, out=run.tc[t]), c_new

    def loop_forward(self, run, h0: Tensor, c0: Tensor):
        """The whole forward in compiled code; returns hs (T+1, B, H) and the final states."""
        hs, cs = state_buffers(run.gx, h0, c0)
        run.nat.lstm_loop_forward(run.gx, run.Wt, EMPTY, EMPTY, EMPTY, EMPTY, 0.0, hs, cs,
                                  run.act, run.tc, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, run.mask)
        run.hs, run.cs = hs, cs
        return hs, (hs[-1], cs[-1])

    def loop_backward(self, run, dy, d, W, dGX, dGH):
        return run.nat.lstm_loop_backward(
            EMPTY if dy is None else dy, d[0], d[1], W, EMPTY, EMPTY, EMPTY, 0.0, run.hs, run.cs,
            run.act, run.tc, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, dGX, dGH, EMPTY, EMPTY, EMPTY,
            EMPTY, run.mask)

    def prepare_backward(self, run):
        run.one = run.tc.new_ones(())

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        dh, dc = d_raw
        act, tc = run.act[t], run.tc[t]
        if run.nat is not None:
            dc_prev = torch.empty_like(tc)
            run.nat.lstm_backward(dh.contiguous(), dc.contiguous(), act, tc,
                                  prev[1].contiguous(), EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, dgx,
                                  dc_prev, EMPTY, EMPTY)
            return (None, dc_prev), dgx
        i, f, g, o = act.chunk(4, 1)
        dc = torch.addcmul(dc, dh * o, torch.addcmul(run.one, tc, tc, value=-1))  # (B, H)
        lstm_gate_grads(run, act, torch.cat([dc * g, dc * prev[1], dc * i, dh * tc], 1), dgx)
        return (None, dc * f), dgx

    def param_grads(self, run, dGX, dGH, rest):
        return [None]  # b_hh got its gradient through project()


def lstm_activate_(gates: Tensor, H: int) -> Tensor:
    """In place: σ on the i, f, o blocks, tanh on the g block [2H, 3H)."""
    torch.tanh_(gates[:, 2 * H : 3 * H])
    torch.sigmoid_(gates[:, : 2 * H])
    return torch.sigmoid_(gates[:, 3 * H :])


def lstm_gate_grads(run, act: Tensor, dact: Tensor, dgates: Tensor) -> None:
    """``dgates = dact * σ'`` for i, f, o and ``dact * tanh'`` for g, from activations."""
    H = act.shape[1] // 4
    torch.mul(dact, torch.addcmul(act, act, act, value=-1), out=dgates)  # s (1 - s)
    g = act[:, 2 * H : 3 * H]
    torch.mul(dact[:, 2 * H : 3 * H], torch.addcmul(run.one, g, g, value=-1),
              out=dgates[:, 2 * H : 3 * H])


class GRUFamily:
    """``r, z = σ(gx + gh)``, ``n = tanh(gx_n + r gh_n)``, ``h = n + z (h - n)``,
    with ``gh = h_in W_hh^T + b_hh``."""

    shares_grad = False

    def __init__(self, cell):
        self.H = cell.hidden_size

    def params(self, cell):
        return [cell.weight_hh, cell.bias_hh]

    def prepare(self, gx: Tensor, params, store: bool = True, whole: bool = False):
        W, b = params
        T, B, G = gx.shape
        return SimpleNamespace(
            gx=gx.contiguous(), Wt=W.t().contiguous(), b=b, nat=native.ops_for(gx),
            rz=steps_buffer(gx, 2 * (G // 3), store),
            n=steps_buffer(gx, G // 3, store), ghn=steps_buffer(gx, G // 3, store),
        )

    def recurrent_term(self, run, t, h_in):
        if run.b is None:
            return torch.mm(h_in, run.Wt)
        return torch.addmm(run.b, h_in, run.Wt)  # (B, 3H)

    def step(self, run, t, h_in, states):
        return (gru_step(run, t, self.recurrent_term(run, t, h_in), states[0], self.H),)

    def loop_forward(self, run, h0: Tensor, c0=None):
        """The whole forward in compiled code; returns hs (T+1, B, H) and the final state."""
        hs = state_buffers(run.gx, h0)[0]
        run.nat.gru_loop_forward(run.gx, run.Wt, EMPTY, EMPTY if run.b is None else run.b, 0.0,
                                 hs, run.rz, run.n, run.ghn, EMPTY, EMPTY, EMPTY, run.mask)
        run.hs = hs
        return hs, (hs[-1],)

    native_dgh_blocks = 1  # the compiled loop keeps only the n block of d(gh): r, z = d(gx)'s

    def native_weight_grads(self, run, dGX, dGH, hin, rest):
        """W_hh's and b_hh's gradients from dGX's r, z blocks and dGH (T, B, H), the n block."""
        T, B, H = dGH.shape
        flat_h = hin.reshape(T * B, H)
        rz = dGX.reshape(T * B, dGX.shape[-1])[:, : 2 * H]
        n = dGH.reshape(T * B, H)
        dW = torch.cat([rz.t().mm(flat_h), n.t().mm(flat_h)])  # (3H, H)
        db = None if rest[0] is None else torch.cat([rz.sum(0), n.sum(0)])
        return dW, [db]

    def loop_backward(self, run, dy, d, W, dGX, dGH):
        dh0 = run.nat.gru_loop_backward(EMPTY if dy is None else dy, d[0], W, EMPTY, run.hs,
                                        run.rz, run.n, run.ghn, EMPTY, EMPTY, EMPTY, dGX, dGH,
                                        EMPTY, EMPTY, run.mask)
        return (dh0,)

    def prepare_backward(self, run):
        run.one = run.n.new_ones(())

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        return gru_step_back(run, t, d_raw[0], prev[0], dgx, dgh, self.H)

    def param_grads(self, run, dGX, dGH, rest):
        return [bias_grad(rest[0], dGH)]


def gru_step(run, t: int, gh: Tensor, h: Tensor, H: int) -> Tensor:
    """The GRU's gates from the recurrent term ``gh`` (B, 3H); stores r, z, n, gh_n."""
    gx = run.gx[t]
    if run.nat is not None:
        h_new = torch.empty_like(h)
        run.nat.gru_forward(gx, gh.contiguous(), h.contiguous(), run.rz[t], run.n[t],
                            run.ghn[t], h_new)
        return h_new
    rz = torch.sigmoid(gx[:, : 2 * H] + gh[:, : 2 * H], out=run.rz[t])  # (B, 2H)
    ghn = run.ghn[t]
    ghn.copy_(gh[:, 2 * H :])
    n = torch.tanh(torch.addcmul(gx[:, 2 * H :], rz[:, :H], ghn), out=run.n[t])  # (B, H)
    return torch.addcmul(n, rz[:, H:], h - n)


def gru_step_back(run, t, dh, h_prev, dgx, dgh, H):
    """Writes d(gx_t) and d(gh_t); returns the direct gradient to h_{t-1} and d(gh_t)."""
    rz, n = run.rz[t], run.n[t]
    if run.nat is not None:
        dh_prev = torch.empty_like(n)
        run.nat.gru_backward(dh.contiguous(), rz, n, run.ghn[t], h_prev.contiguous(), dgx, dgh,
                             dh_prev)
        return (dh_prev,), dgh
    dhz = dh * rz[:, H:]
    dn_pre = dgx[:, 2 * H :]
    torch.mul(dh - dhz, torch.addcmul(run.one, n, n, value=-1), out=dn_pre)  # (B, H)
    drz = torch.cat([dn_pre * run.ghn[t], dh * (h_prev - n)], 1)  # (B, 2H)
    torch.mul(drz, torch.addcmul(rz, rz, rz, value=-1), out=dgx[:, : 2 * H])
    dgh[:, : 2 * H] = dgx[:, : 2 * H]
    torch.mul(dn_pre, rz[:, :H], out=dgh[:, 2 * H :])
    return (dhz,), dgh
