"""Per-step arithmetic of the layer-normalised LSTM and GRU for :mod:`.bptt`.

The recurrent term is ``LN_hh(h_in W_hh^T) * ln_hh_weight + b_hh``, normalised per gate
block; the raw product, its block means and inverse deviations are stored, and the
normalisation is undone with ``aten.native_layer_norm_backward`` one step at a time. The
gains' gradients are summed over all steps after the loop.

With the compiled kernels (:mod:`.native`, ``run.nat``) a step is one matrix product and
two compiled calls (block norm, then the cell), and so is its backward.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import native
from .families import (
    bias_grad,
    gru_step,
    gru_step_back,
    lstm_activate_,
    lstm_gate_grads,
    state_buffers,
    steps_buffer,
)

_ln_backward = torch.ops.aten.native_layer_norm_backward
EMPTY = native.EMPTY


def ghr_zero(like: Tensor) -> Tensor:
    return like.new_zeros(())


def _or_empty(t: Tensor | None) -> Tensor:
    return EMPTY if t is None else t
_GRAD_INPUT = [True, False, False]


class BlockLayerNorm(torch.autograd.Function):
    """``LN(raw) * gain + bias`` per block of H, rows = all leading dims, in compiled code
    (one pass forward; backward: the input, gain and bias gradients in three passes)."""

    @staticmethod
    def forward(ctx, nat, raw: Tensor, gain: Tensor, bias: Tensor | None, blocks: int,
                eps: float):
        raw = raw.contiguous()
        rows = raw.reshape(-1, raw.shape[-1])
        out = torch.empty_like(rows)
        mean = rows.new_empty(rows.shape[0], blocks)
        rstd = torch.empty_like(mean)
        nat.block_ln_forward(rows, gain, EMPTY, _or_empty(bias), blocks, eps, out, mean, rstd)
        ctx.save_for_backward(rows, mean, rstd, gain)
        ctx.nat, ctx.blocks, ctx.has_bias = nat, blocks, bias is not None
        return out.view(raw.shape)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor):
        rows, mean, rstd, gain = ctx.saved_tensors
        d = dout.contiguous().view(rows.shape)
        draw = torch.empty_like(rows)
        dgain = torch.zeros_like(gain)
        dbias = torch.zeros_like(gain) if ctx.has_bias else None
        ctx.nat.block_ln_backward(d, rows, mean, rstd, gain, ctx.blocks, draw, dgain,
                                  _or_empty(dbias))
        return None, draw.view(dout.shape), dgain, dbias, None, None


def project_layer_norm(cell, x: Tensor) -> Tensor:
    """``cell.input_projection(x)`` = ``LN_ih(W_ih x) + b_ih``, compiled where possible."""
    nat = native.ops_for(x)
    if nat is None or torch.is_autocast_enabled("cpu"):
        return cell.input_projection(x)
    raw = torch.nn.functional.linear(x, cell.weight_ih)  # (T, B, G)
    return BlockLayerNorm.apply(nat, raw, cell.ln_ih_weight, cell.bias_ih, cell.blocks, cell.eps)


class _LayerNormRecurrence:
    """The block-normalised recurrent term shared by both cells."""

    blocks: int

    def __init__(self, cell):
        self.H, self.eps = cell.hidden_size, cell.eps

    def project(self, cell, x: Tensor) -> Tensor:
        return project_layer_norm(cell, x)

    def accumulators(self, run) -> None:
        """Zeroed gradients that the compiled backward adds into (gain and b_hh)."""
        if run.nat is not None:
            run.dgain = torch.zeros_like(run.gain)
            run.db = None if run.b is None else torch.zeros_like(run.b)

    def new_run(self, gx: Tensor, params, store: bool, **buffers) -> SimpleNamespace:
        T, B, G = gx.shape
        nat = native.ops_for(gx)
        stats = ({"mean": steps_buffer(gx, self.blocks, store),
                  "rstd": steps_buffer(gx, self.blocks, store)} if nat is not None
                 else {"mean": [], "rstd": []})
        return SimpleNamespace(
            gx=gx.contiguous(), Wt=params[0].t().contiguous(), gain=params[2],
            ghr=steps_buffer(gx, G, store),
            nat=nat, store=store, **stats, **buffers,
        )

    def normalised(self, run, t: int, h_in: Tensor, add: Tensor | None, bias: Tensor | None,
                   out=None) -> Tensor:
        """``add + LN(h_in W_hh^T) * gain + bias`` (B, G)."""
        B = h_in.shape[0]
        if run.nat is not None:
            ghr = torch.mm(h_in, run.Wt, out=run.ghr[t])
            out = ghr.new_empty(ghr.shape) if out is None else out
            run.nat.block_ln_forward(ghr, run.gain, EMPTY if add is None else add,
                                     EMPTY if bias is None else bias, self.blocks, self.eps,
                                     out, run.mean[t], run.rstd[t])
            return out
        if add is None:
            add = ghr_zero(h_in)
        ghr = torch.mm(h_in, run.Wt, out=run.ghr[t]).view(B, self.blocks, self.H)
        xhat, mean, rstd = torch.native_layer_norm(ghr, (self.H,), None, None, self.eps)
        run.mean.append(mean)
        run.rstd.append(rstd)
        out = torch.addcmul(add, xhat.view(B, -1), run.gain, out=out)
        return out if bias is None else out.add_(bias)

    def unnormalise(self, run, t: int, dgates: Tensor, dgh: Tensor) -> Tensor:
        """Gradient of the raw product ``h_in W_hh^T`` from that of the gates, into dgh."""
        B = dgates.shape[0]
        if run.nat is not None:  # also adds the gain's and b_hh's gradients into run.dgain, .db
            run.nat.block_ln_backward(dgates, run.ghr[t], run.mean[t], run.rstd[t], run.gain,
                                      self.blocks, dgh, run.dgain, _or_empty(run.db))
            return dgh
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

    def prepare(self, gx, params, store: bool = True, whole: bool = False):
        T, B, G = gx.shape
        run = self.new_run(gx, params, store, b=params[1], act=steps_buffer(gx, G, store),
                           cr=[], tcn=steps_buffer(gx, self.H, store and not whole),
                           mean_c=[], rstd_c=[], wc=params[3], bc=params[4])
        if run.nat is not None:  # the whole loop keeps c_t in its state buffer instead
            run.cr = gx.new_empty(T, B, self.H) if store and not whole else None
            run.mean_c, run.rstd_c = steps_buffer(gx, 1, store), steps_buffer(gx, 1, store)
        return run

    def step(self, run, t, h_in, states):
        H, c = self.H, states[1]
        act = self.normalised(run, t, h_in, run.gx[t], run.b, out=run.act[t])  # (B, 4H) gates
        if run.nat is not None:
            h = torch.empty_like(c)
            c_new = run.cr[t] if run.store else torch.empty_like(c)
            run.nat.lstm_forward(act, c.contiguous(), run.wc, EMPTY if run.bc is None else run.bc,
                                 self.eps, c_new, run.tcn[t], h, run.mean_c[t], run.rstd_c[t],
                                 EMPTY)
            return h, c_new
        lstm_activate_(act, H)
        i, f, g, o = act.chunk(4, 1)
        c_new = torch.addcmul(f * c, i, g)  # (B, H), before zoneout and lengths
        run.cr.append(c_new)
        cn, mean, rstd = torch.native_layer_norm(c_new, (H,), run.wc, run.bc, self.eps)
        run.mean_c.append(mean)
        run.rstd_c.append(rstd)
        return o * torch.tanh(cn, out=run.tcn[t]), c_new

    def loop_forward(self, run, h0: Tensor, c0: Tensor):
        """The whole forward in compiled code; returns hs (T+1, B, H) and the final states."""
        hs, cs = state_buffers(run.gx, h0, c0)
        run.nat.lstm_loop_forward(run.gx, run.Wt, run.gain, _or_empty(run.b), run.wc,
                                  _or_empty(run.bc), self.eps, hs, cs, run.act, run.tcn, run.ghr,
                                  run.mean, run.rstd, run.mean_c, run.rstd_c, run.mask)
        run.hs, run.cs, run.cr = hs, cs, cs[1:]  # no masks: the state is the raw new c
        return hs, (hs[-1], cs[-1])

    def loop_backward(self, run, dy, d, W, dGX, dGH):
        return run.nat.lstm_loop_backward(
            _or_empty(dy), d[0], d[1], W, run.gain, run.wc, _or_empty(run.bc), self.eps, run.hs,
            run.cs, run.act,
            run.tcn, run.ghr, run.mean, run.rstd, run.mean_c, run.rstd_c, dGX, dGH, run.dgain,
            _or_empty(run.db), run.dwc, _or_empty(run.dbc), run.mask)

    def prepare_backward(self, run):
        run.one = run.tcn.new_ones(())
        if run.nat is not None:
            self.accumulators(run)
            run.dwc = torch.zeros_like(run.wc)
            run.dbc = None if run.bc is None else torch.zeros_like(run.bc)
        else:
            run.dcn = torch.empty_like(run.tcn)  # d LN_c(c) per step, for the LN_c parameters

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        dh, dc = d_raw
        if run.nat is not None:
            dc_prev = torch.empty_like(dh)
            run.nat.lstm_backward(dh.contiguous(), dc.contiguous(), run.act[t], run.tcn[t],
                                  prev[1].contiguous(), run.cr[t], run.mean_c[t], run.rstd_c[t],
                                  run.wc, _or_empty(run.bc), dgx, dc_prev, run.dwc,
                                  _or_empty(run.dbc))
            return (None, dc_prev), self.unnormalise(run, t, dgx, dgh)
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
        if run.nat is not None:  # summed by the compiled backward
            return [run.db, run.dgain, run.dwc, run.dbc]
        cr = run.cr if isinstance(run.cr, Tensor) else torch.stack(run.cr)
        chat = torch.native_layer_norm(cr, (self.H,), None, None, self.eps)[0]
        return [bias_grad(b, dGX), self.gain_grad(run, dGX),
                (run.dcn * chat).sum((0, 1)), run.dcn.sum((0, 1))]


class LayerNormGRUFamily(_LayerNormRecurrence):
    """The GRU with ``gh = LN_hh(h_in W_hh^T) * ln_hh_weight + b_hh``."""

    shares_grad = False
    blocks = 3

    def params(self, cell):
        return [cell.weight_hh, cell.bias_hh, cell.ln_hh_weight]

    def prepare(self, gx, params, store: bool = True, whole: bool = False):
        T, B, G = gx.shape
        return self.new_run(gx, params, store, b=params[1], rz=steps_buffer(gx, 2 * self.H, store),
                            n=steps_buffer(gx, self.H, store), ghn=steps_buffer(gx, self.H, store),
                            # d(gh) after the norm; compiled: summed as it goes, one slot
                            dpost=steps_buffer(gx, G, store and native.ops_for(gx) is None))

    def step(self, run, t, h_in, states):
        gh = self.normalised(run, t, h_in, None, run.b)  # (B, 3H)
        return (gru_step(run, t, gh, states[0], self.H),)

    def loop_forward(self, run, h0: Tensor, c0=None):
        """The whole forward in compiled code; returns hs (T+1, B, H) and the final state."""
        hs = state_buffers(run.gx, h0)[0]
        run.nat.gru_loop_forward(run.gx, run.Wt, run.gain, _or_empty(run.b), self.eps, hs,
                                 run.rz, run.n, run.ghn, run.ghr, run.mean, run.rstd, run.mask)
        run.hs = hs
        return hs, (hs[-1],)

    def loop_backward(self, run, dy, d, W, dGX, dGH):
        dh0 = run.nat.gru_loop_backward(_or_empty(dy), d[0], W, run.gain, run.hs, run.rz, run.n,
                                        run.ghn, run.ghr, run.mean, run.rstd, dGX, dGH,
                                        run.dgain, _or_empty(run.db), run.mask)
        return (dh0,)

    def prepare_backward(self, run):
        run.one = run.n.new_ones(())
        self.accumulators(run)

    def step_back(self, run, t, d_raw, prev, dgx, dgh):
        direct, dpost = gru_step_back(run, t, d_raw[0], prev[0], dgx, run.dpost[t], self.H)
        return direct, self.unnormalise(run, t, dpost, dgh)

    def param_grads(self, run, dGX, dGH, rest):
        if run.nat is not None:  # summed by the compiled backward
            return [run.db, run.dgain]
        return [bias_grad(rest[0], run.dpost), self.gain_grad(run, run.dpost)]
