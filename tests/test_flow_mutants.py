"""The gradient-flow recorder's bookkeeping (rnnkit/diagnostics/flow.py) where the tests
against autograd do not reach: the vanishing ratio's directions and edge cases, steps no
gradient reaches, the default of keeping only norms, cells run by hand, and gate saturation
counted on valid steps only (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit
from rnnkit.cells import make_cell
from rnnkit.diagnostics import GradientFlowRecorder
from rnnkit.diagnostics.flow import GradientFlow
from rnnkit.layers import run_direction


def _flow(norms, reverse=False):
    return GradientFlow(grad_norms={"l": torch.tensor(norms)}, reverse={"l": reverse})


def test_ratio_reads_the_first_step_the_layer_reads_over_its_last():
    assert _flow([8.0, 3.0, 5.0, 2.0]).ratio("l") == pytest.approx(4.0)  # t0 / t(T-1)
    assert _flow([8.0, 3.0, 5.0, 2.0], reverse=True).ratio("l") == pytest.approx(0.25)
    assert _flow([0.5, 3.0, 5.0, 0.25]).ratio("l") == pytest.approx(2.0)  # last below 1
    assert _flow([3.0, 0.0]).ratio("l") == math.inf  # nothing left at the last step
    assert _flow([0.0, 3.0], reverse=True).ratio("l") == math.inf
    assert _flow([0.5, 0.0]).ratio("l") == math.inf  # whatever the size of the first
    assert math.isnan(_flow([0.0, 0.0]).ratio("l"))  # no gradient at all
    assert _flow([0.0, 2.0]).ratio("l") == 0.0


def test_steps_no_gradient_reaches_are_zero_and_norms_are_the_default():
    """A loss on step 2 of 6: steps 3-5 get no gradient (their hooks never fire) and read
    0. Without keep_grads only the norms are kept, and they equal those of the kept
    gradients. B != H, so a zero of the wrong shape cannot pass."""
    torch.manual_seed(0)
    for cls in (rnnkit.GRU, rnnkit.LSTM):
        layer = cls(3, 5, num_layers=2).double()
        x = torch.randn(6, 2, 3, dtype=torch.double)
        runs = {}
        for keep in (False, True):
            rec = GradientFlowRecorder(layer, keep_grads=True) if keep else \
                GradientFlowRecorder(layer)
            with rec:
                out, _ = layer(x)
                out[2].sum().backward()
            runs[keep] = rec.flow()
        plain, kept = runs[False], runs[True]
        assert plain.grads == {} and set(kept.grads) == {"l0", "l1"}
        for name in ("l0", "l1"):
            assert plain.grad_norms[name].shape == (6,)
            assert torch.all(plain.grad_norms[name][3:] == 0)
            assert torch.all(plain.grad_norms[name][:3] > 0)
            torch.testing.assert_close(plain.grad_norms[name], kept.grad_norms[name])
            assert kept.grads[name].shape == (6, 2, 5)
            torch.testing.assert_close(kept.grad_norms[name],
                                       kept.grads[name].flatten(1).norm(dim=1))


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.GRU])
def test_a_single_step_sequence_is_recorded(cls):
    layer = cls(3, 4)
    with GradientFlowRecorder(layer) as rec:
        out, _ = layer(torch.randn(1, 2, 3))
        out.sum().backward()
    flow = rec.flow()
    assert flow.grad_norms["l0"].shape == (1,) and flow.grad_norms["l0"][0] > 0


@pytest.mark.parametrize("keep", [False, True])
def test_a_layer_the_loss_does_not_reach_reads_zero(keep):
    """Two GRUs run, the loss reads only the first: no hook of the second fires, and its
    record is zeros of the right shape (B = 2, H = 5, T = 6)."""
    torch.manual_seed(4)
    model = torch.nn.ModuleDict({"a": rnnkit.GRU(3, 5), "b": rnnkit.GRU(3, 5)})
    x = torch.randn(6, 2, 3)
    with GradientFlowRecorder(model, keep_grads=keep) as rec:
        out, _ = model["a"](x)
        model["b"](x)
        out.sum().backward()
    flow = rec.flow()
    assert flow.grad_norms["b.l0"].shape == (6,) and torch.all(flow.grad_norms["b.l0"] == 0)
    assert torch.all(flow.grad_norms["a.l0"] > 0)
    if keep:
        assert flow.grads["b.l0"].shape == (6, 2, 5) and torch.all(flow.grads["b.l0"] == 0)


def test_steps_without_a_gradient_are_zero_between_those_with_one():
    """Steps whose hook never fired read 0 beside those that did (B = 2, H = 3)."""
    from rnnkit.diagnostics.flow import _Segment

    like = torch.zeros(2, 3)
    g = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    for keep in (False, True):
        seg = _Segment(3, None, reverse=False, keep=keep)
        seg.store(1, g)
        rec = GradientFlowRecorder(torch.nn.Module(), keep_grads=keep)
        rec._segments, rec._like = {"x": [seg]}, {"x": like}
        flow = rec.flow()
        torch.testing.assert_close(flow.grad_norms["x"],
                                   torch.tensor([0.0, float(g.norm()), 0.0]))
        if keep:
            torch.testing.assert_close(flow.grads["x"][1], g)
            assert torch.all(flow.grads["x"][[0, 2]] == 0)


def test_the_reverse_direction_is_marked_and_its_ratio_reads_backwards():
    torch.manual_seed(1)
    layer = rnnkit.GRU(2, 4, bidirectional=True)
    with GradientFlowRecorder(layer) as rec:
        out, _ = layer(torch.randn(8, 3, 2))
        out.square().sum().backward()
    flow = rec.flow()
    assert flow.reverse == {"l0": False, "l0_reverse": True}
    norms = flow.grad_norms["l0_reverse"]
    assert flow.ratio("l0_reverse") == pytest.approx(float(norms[-1] / norms[0]))
    norms = flow.grad_norms["l0"]
    assert flow.ratio("l0") == pytest.approx(float(norms[0] / norms[-1]))


def test_a_cell_run_by_hand_is_named_once_and_its_saturation_adds_up():
    """A cell the model does not hold as a layer is named cell0, and keeps that name (and
    one record) however often it runs; its saturation counts every run."""
    torch.manual_seed(2)
    cell = make_cell("lstm", 3, 4)
    x_calm, x_wild = torch.randn(5, 2, 3) * 0.1, torch.randn(5, 2, 3) * 100.0

    def record(*inputs):
        with GradientFlowRecorder(torch.nn.Module()) as rec:
            total = 0.0
            for x in inputs:
                out, _ = run_direction(cell, x, cell.init_state(2))
                total = total + out.sum()
            total.backward()
        return rec.flow()

    both, calm, wild = record(x_calm, x_wild), record(x_calm), record(x_wild)
    assert set(both.grad_norms) == {"cell0"}
    assert both.grad_norms["cell0"].shape == (10,)  # two runs of 5 steps
    for gate, fraction in both.saturation["cell0"].items():
        lo, hi = sorted((calm.saturation["cell0"][gate], wild.saturation["cell0"][gate]))
        assert lo <= fraction <= hi
    assert both.saturation["cell0"] != calm.saturation["cell0"]
    assert both.saturation["cell0"] != wild.saturation["cell0"]  # the first run counts too


def test_saturation_counts_only_the_steps_within_each_length():
    """Padding of huge values past a length saturates every gate it reaches: with the
    lengths honoured the fractions equal those with zero padding."""
    torch.manual_seed(3)
    layer = rnnkit.LSTM(3, 4)
    x = torch.randn(6, 2, 3)
    lengths = torch.tensor([6, 2])
    results = []
    for pad in (0.0, 1e3):
        xp = x.clone()
        xp[2:, 1] = pad
        with GradientFlowRecorder(layer) as rec:
            out, _ = layer(xp, lengths=lengths)
            out.sum().backward()
        results.append(rec.flow().saturation["l0"])
    assert results[0] == pytest.approx(results[1])


def test_saturation_adds_counts_key_by_key():
    from rnnkit.diagnostics.gates import Saturation

    a = Saturation({"update": 1.0, "reset": 2.0}, {"update": 4.0, "reset": 8.0})
    b = Saturation({"update": 3.0}, {"update": 4.0})
    both = a + b
    assert both.saturated == {"update": 4.0, "reset": 2.0}
    assert both.total == {"update": 8.0, "reset": 8.0}
    assert both.fractions() == {"update": 0.5, "reset": 0.25}
    assert a.saturated == {"update": 1.0, "reset": 2.0}  # the operands are unchanged
    assert Saturation({"x": 0.0}, {"x": 0.0}).fractions() == {}  # no units: no fraction


def _recorded_saturation(layer, x, scale):
    """The recorder's gate saturation of ``layer`` over ``x`` after its weights are scaled
    by ``scale`` (large weights: many units saturate, and the state matters)."""
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(scale)
    with GradientFlowRecorder(layer) as rec:
        out, _ = layer(x)
        out.sum().backward()
    return rec.flow().saturation["l0"]


def test_gru_saturation_equals_the_gates_by_hand_from_the_state_each_step_read():
    """The gates of step t read h_{t-1}: recomputed here from the layer's weights (torch's
    r, z, n layout), counted with the documented thresholds."""
    torch.manual_seed(5)
    layer, x = rnnkit.GRU(3, 4), torch.randn(6, 2, 3)
    got = _recorded_saturation(layer, x, 4.0)
    w_ih, w_hh = layer.weight_ih_l0.detach(), layer.weight_hh_l0.detach()
    b_ih, b_hh = layer.bias_ih_l0.detach(), layer.bias_hh_l0.detach()
    h = torch.zeros(2, 4)
    r_all, z_all, n_all = [], [], []
    with torch.no_grad():
        for t in range(6):
            gi, gh = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
            r = torch.sigmoid(gi[:, :4] + gh[:, :4])
            z = torch.sigmoid(gi[:, 4:8] + gh[:, 4:8])
            n = torch.tanh(gi[:, 8:] + r * gh[:, 8:])
            h = (1 - z) * n + z * h
            r_all.append(r)
            z_all.append(z)
            n_all.append(n)

    def sig(v):
        v = torch.stack(v)
        return ((v < 0.05) | (v > 0.95)).sum().item(), v.numel()

    def tanh(v):
        v = torch.stack(v)
        return (v.abs() > 0.95).sum().item(), v.numel()

    counts = {"reset": sig(r_all), "update": sig(z_all), "candidate": tanh(n_all)}
    for name, (s, n) in counts.items():
        assert got[name] == pytest.approx(s / n), name
    s_sig = counts["reset"][0] + counts["update"][0]
    assert got["sigmoid"] == pytest.approx(s_sig / (counts["reset"][1] + counts["update"][1]))
    assert got["tanh"] == pytest.approx(counts["candidate"][0] / counts["candidate"][1])
    assert 0 < got["update"] < 1  # the check can fail either way


def test_lstm_saturation_reads_the_state_tuple_each_step_read():
    torch.manual_seed(6)
    layer, x = rnnkit.LSTM(3, 4), torch.randn(5, 2, 3)
    got = _recorded_saturation(layer, x, 3.0)
    w_ih, w_hh = layer.weight_ih_l0.detach(), layer.weight_hh_l0.detach()
    b = (layer.bias_ih_l0 + layer.bias_hh_l0).detach()
    h, c = torch.zeros(2, 4), torch.zeros(2, 4)
    gates = {"input": [], "forget": [], "candidate": [], "output": []}
    with torch.no_grad():
        for t in range(5):
            g = x[t] @ w_ih.T + h @ w_hh.T + b
            i, f = torch.sigmoid(g[:, :4]), torch.sigmoid(g[:, 4:8])
            cand, o = torch.tanh(g[:, 8:12]), torch.sigmoid(g[:, 12:])
            c = f * c + i * cand
            h = o * torch.tanh(c)
            for name, v in zip(gates, (i, f, cand, o)):
                gates[name].append(v)
    for name, values in gates.items():
        v = torch.stack(values)
        hit = (v.abs() > 0.95) if name == "candidate" else ((v < 0.05) | (v > 0.95))
        assert got[name] == pytest.approx(hit.float().mean().item()), name
