"""Per-step arithmetic of the layer-normalised LSTM and GRU for :mod:`.bptt`.

The recurrent term is ``LN_hh(h_in W_hh^T) * ln_hh_weight + b_hh``, normalised per gate
block; the raw product, its block means and inverse deviations are stored, and the
normalisation is undone with ``aten.native_layer_norm_backward`` one step at a time. The
gains' gradients are summed over all steps after the loop.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor

from .families import (
    bias_grad,
    gru_step,
    gru_step_back,
    lstm_activate_,
    lstm_gate_grads,
    steps_buffer,
)

_ln_backward = torch.ops.aten.native_layer_norm_backward
_GRAD_INPUT = [True, False, False]


class _LayerNormRecurrence:
    """The block-normalised recurrent term shared by both cells."""

    blocks: int

    def __init__(self, cell):
        self.H, self.eps = cell.hidden_size, cell.eps

    def new_run(self, gx: Tensor, params, store: bool, **buffers) -> SimpleNamespace:
        T, B, G = gx.shape
        return SimpleNamespace(
            gx=gx, Wt=params[0].t(), gain=params[2], ghr=steps_buffer(gx, G, store),
            mean=[], rstd=[], **buffers,
        )

    def normalised(self, run, t: int, h_in: Tensor, add: Tensor, out=None) -> Tensor:
        """``add + LN(h_in W_hh^T) * gain`` (B, G)."""
        B = h_in.shape[0]
        ghr = torch.mm(h_in, run.Wt, out=run.ghr[t]).view(B, self.blocks, self.H)
        xhat, mean, rstd = torch.native_layer_norm(ghr, (self.H,), None, None, self.eps)
        run.mean.append(mean)
        run.rstd.append(rstd)
        return torch.addcmul(add, xhat.view(B, -1), run.gain, out=out)

    def unnormalise(self, run, t: int, dgates: Tensor, dgh: Tensor) -> Tensor:
        """Gradient of the raw product ``h_in W_hh^T`` from that of the gates, into dgh."""
        B = dgates.shape[0]
        dxhat = (dgates * run.gain).view(B, self.blocks, self.H)
        d = _ln_backward(dxhat, run.ghr[t].view(B, self.blocks, self.H), (self.H,),
                         run.mean[t], run.rstd[t], None, None, _GRAD_INPUT)[0]
        dgh.copy_(d.view(B, -1))
        return dgh

    def gain_grad(self, run, dgates: Tensor, block: int = 16) -> Tensor:
        """``Σ_t,b dgates * x̂``, with x̂ recomputed ``block`` steps at a time (small temps)."""
        T, B, G = dgates.shape
        total = dgates.new_zeros(G)
        for start in range(0, T, block):
            raw = run.ghr[start : start + block]  # (b, B, G)
            xhat = torch.native_layer_norm(raw.view(-1, B, self.blocks, self.H), (self.H,),
                                           None, None, self.eps)[0]
            total += (dgates[start : start + block] * xhat.view(raw.shape)).sum((0, 1))
        return total


class LayerNormLSTMFamily(_LayerNormRecurrence):
    """Gates as in the LSTM from ``gx + LN_hh(...)``; ``h = o tanh(LN_c(c))``."""

    shares_grad = False
    blocks = 4

    def params(self, cell):
        return [cell.weight_hh, cell.bias_hh, cell.ln_hh_weight, cell.ln_c_weight,
                cell.ln_c_bias]

    def prepare(self, gx, params, store: bool = True):
        T, B, G = gx.shape
        run = self.new_run(gx, params, store, b=params[1], act=steps_buffer(gx, G, store),
                           cr=[], tcn=steps_buffer(gx, self.H, store),
                           mean_c=[], rstd_c=[], wc=params[3], bc=params[4])
        return run

    def step(self, run, t, h_in, states):
        H, c = self.H, states[1]
        act = self.normalised(run, t, h_in, run.gx[t], out=run.act[t])  # (B, 4H) gates
        if run.b is not None:
            act += run.b
        lstm_activate_(act, H)
        i, f, g, o = act.chunk(4, 1)
        c_new = torch.addcmul(f * c, i, g)  # (B, H), before zoneout and lengths
        run.cr.append(c_new)
        cn, mean, rstd = torch.native_layer_norm(c_new, (H,), run.wc, run.bc, self.eps)
        run.mean_c.append(mean)
        run.rstd_c.append(rstd)
        return o * torch.tanh(cn, out=run.tcn[t]), c_new

    def prepare_backward(self, run):
        run.one = run.tcn.new_ones(())
        run.dcn = torch.empty_like(run.tcn)  # d LN_c(c) per step, for the LN_c parameters

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        dh, dc = d_raw
        i, f, g, o = run.act[t].chunk(4, 1)
        tcn = run.tcn[t]
        dcn = torch.mul(dh * o, torch.addcmul(run.one, tcn, tcn, value=-1), out=run.dcn[t])
        dc = dc + _ln_backward(dcn, run.cr[t], (self.H,), run.mean_c[t], run.rstd_c[t],
                               run.wc, run.bc, _GRAD_INPUT)[0]
        dact = torch.cat([dc * g, dc * prev[1], dc * i, dh * tcn], 1)  # (B, 4H)
        lstm_gate_grads(run, run.act[t], dact, dgx)
        return (None, dc * f), self.unnormalise(run, t, dgx, dgh)

    def param_grads(self, run, dGX, dGH, rest):
        b, _, wc, bc = rest
        chat = torch.native_layer_norm(torch.stack(run.cr), (self.H,), None, None, self.eps)[0]
        return [bias_grad(b, dGX), self.gain_grad(run, dGX),
                (run.dcn * chat).sum((0, 1)), run.dcn.sum((0, 1))]


class LayerNormGRUFamily(_LayerNormRecurrence):
    """The GRU with ``gh = LN_hh(h_in W_hh^T) * ln_hh_weight + b_hh``."""

    shares_grad = False
    blocks = 3

    def params(self, cell):
        return [cell.weight_hh, cell.bias_hh, cell.ln_hh_weight]

    def prepare(self, gx, params, store: bool = True):
        T, B, G = gx.shape
        return self.new_run(gx, params, store, b=params[1], rz=steps_buffer(gx, 2 * self.H, store),
                            n=steps_buffer(gx, self.H, store), ghn=steps_buffer(gx, self.H, store),
                            dpost=steps_buffer(gx, G, store),  # d(gh) after the norm
                            zero=gx.new_zeros(()))

    def step(self, run, t, h_in, states):
        gh = self.normalised(run, t, h_in, run.zero if run.b is None else run.b)  # (B, 3H)
        return (gru_step(run, t, gh, states[0], self.H),)

    def prepare_backward(self, run):
        run.one = run.n.new_ones(())

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        direct, dpost = gru_step_back(run, t, d_raw[0], prev[0], dgx, run.dpost[t], self.H)
        return direct, self.unnormalise(run, t, dpost, dgh)

    def param_grads(self, run, dGX, dGH, rest):
        return [bias_grad(rest[0], run.dpost), self.gain_grad(run, run.dpost)]
