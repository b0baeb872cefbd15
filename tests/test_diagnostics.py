"""Tests for rnnkit.diagnostics: recorded dL/dh_t against autograd on a hand loop and against
the NumPy reference, the callback's neutrality, the plots and ``rnnkit diagnose``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.diagnostics import (
    GradientFlowRecorder,
    gate_saturation,
    recurrent_spectral_radii,
    spectral_radius,
    take_snapshot,
)
from rnnkit.reference import ElmanRNN

CELLS = {rnnkit.RNN: rnnkit.RNNCell, rnnkit.LSTM: rnnkit.LSTMCell, rnnkit.GRU: rnnkit.GRUCell}


def _cell_like(layer, index: int, suffix: str):
    """An rnnkit cell holding the weights of one (layer, direction) of a drop-in."""
    cls = CELLS[type(layer)]
    n_in = layer.input_size if index == 0 else layer.hidden_size * (2 if layer.bidirectional
                                                                    else 1)
    cell = cls(n_in, layer.hidden_size).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(layer, f"{name}_l{index}{suffix}"))
    return cell


def _hand_loop(cell, x):
    """Run ``cell`` over x (T, B, I); return outputs (T, B, H) and the h_t with retain_grad."""
    state = cell.init_state(x.shape[1], dtype=x.dtype)
    hs = []
    for x_t in x:
        y, state = cell(x_t, state)
        y.retain_grad()
        hs.append(y)
    return torch.stack(hs), hs


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_recorded_grads_equal_autograd_on_a_hand_loop(cls):
    """Two stacked layers on the drop-in's default (fused) path vs. retain_grad by hand."""
    T, B, I, H = 9, 3, 4, 6
    layer = cls(I, H, num_layers=2).double()
    x = torch.randn(T, B, I, dtype=torch.double)
    weights = torch.randn(T, B, H, dtype=torch.double)  # a loss with a gradient at every step
    with GradientFlowRecorder(layer, keep_grads=True) as rec:
        out, _ = layer(x)
        (out * weights).sum().backward()
    flow = rec.flow()

    cells = [_cell_like(layer, k, "") for k in range(2)]
    out0, hs0 = _hand_loop(cells[0], x)
    out1, hs1 = _hand_loop(cells[1], out0)
    (out1 * weights).sum().backward()
    for name, hs in (("l0", hs0), ("l1", hs1)):
        expected = torch.stack([h.grad for h in hs])  # (T, B, H)
        torch.testing.assert_close(flow.grads[name], expected, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(flow.grad_norms[name], expected.flatten(1).norm(dim=1))
    assert not torch.equal(flow.grads["l0"], flow.grads["l1"])


def test_bidirectional_with_lengths_in_time_order():
    """The reverse direction with ragged lengths: each sequence by hand, on its own length."""
    T, B, I, H = 7, 3, 2, 5
    layer = rnnkit.LSTM(I, H, bidirectional=True).double()
    x = torch.randn(T, B, I, dtype=torch.double)
    lengths = torch.tensor([7, 4, 2])
    weights = torch.randn(T, B, 2 * H, dtype=torch.double)
    with GradientFlowRecorder(layer, keep_grads=True) as rec:
        out, _ = layer(x, lengths=lengths)
        (out * weights).sum().backward()
    flow = rec.flow()
    fwd, bwd = _cell_like(layer, 0, ""), _cell_like(layer, 0, "_reverse")
    for b, n in enumerate(lengths.tolist()):
        xb = x[:n, b : b + 1]
        out_f, hs_f = _hand_loop(fwd, xb)
        out_b, hs_b = _hand_loop(bwd, xb.flip(0))
        out_b = out_b.flip(0)
        (torch.cat([out_f, out_b], -1) * weights[:n, b : b + 1]).sum().backward()
        torch.testing.assert_close(flow.grads["l0"][:n, b], torch.cat([h.grad for h in hs_f]))
        reverse = torch.cat([h.grad for h in hs_b]).flip(0)  # back to time order
        torch.testing.assert_close(flow.grads["l0_reverse"][:n, b], reverse)
        assert flow.grads["l0"][n:, b].abs().max() == 0 if n < T else True


def test_elman_grads_equal_numpy_reference():
    I, H, O, T = 3, 5, 4, 12
    ref = ElmanRNN(I, H, O, seed=3)
    p = ref.params()
    rnn = rnnkit.RNN(I, H).double()
    head = torch.nn.Linear(H, O).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(p["U"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(p["W"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(p["V"]))
        head.bias.copy_(torch.from_numpy(p["c"]))
    rng = np.random.default_rng(0)
    xs, targets = rng.normal(size=(T, I)), rng.integers(0, O, size=T)
    model = torch.nn.ModuleDict({"rnn": rnn, "head": head})
    with GradientFlowRecorder(model, keep_grads=True) as rec:
        out, _ = rnn(torch.from_numpy(xs).unsqueeze(1))  # (T, 1, H)
        logits = head(out.squeeze(1))
        torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets),
                                          reduction="sum").backward()
    expected = ref.backward_hidden(xs, targets)  # (T, H)
    np.testing.assert_allclose(rec.flow().grads["rnn.l0"][:, 0].numpy(), expected,
                               rtol=1e-9, atol=1e-12)


def test_recorder_restores_the_model_and_vanishing_shows():
    layer = rnnkit.RNN(2, 16, batch_first=True)
    with torch.no_grad():
        layer.weight_hh_l0.mul_(0.2)  # a contracting recurrence: gradients vanish
    x = torch.randn(4, 60, 2)
    with GradientFlowRecorder(layer) as rec:
        out, _ = layer(x)
        out[:, -1].sum().backward()
    flow = rec.flow()
    assert flow.grad_norms["l0"].shape == (60,)
    assert flow.ratio("l0") < 1e-6
    assert "forward" not in layer.__dict__  # the drop-in is back on its own forward
    from rnnkit.layers.loop import STEP_OBSERVERS
    assert STEP_OBSERVERS == []


def test_gate_saturation_and_spectral_radius():
    lstm = rnnkit.LSTM(3, 4)
    with torch.no_grad():
        lstm.bias_ih_l0[4:8].fill_(20.0)  # forget gate pinned open
    with GradientFlowRecorder(lstm) as rec:
        out, _ = lstm(torch.randn(5, 2, 3))
        out.sum().backward()
    sat = rec.flow().saturation["l0"]
    assert sat["forget"] == 1.0 and sat["input"] < 0.5
    assert 0.25 <= sat["sigmoid"] <= 1.0
    w = torch.diag(torch.tensor([0.5, -2.0, 1.0]))
    assert spectral_radius(w) == pytest.approx(2.0)
    radii = recurrent_spectral_radii(rnnkit.GRU(2, 3, num_layers=2))
    assert sorted(radii) == sorted(f"weight_hh_l{k}[{g}]" for k in (0, 1) for g in "rzn")
    assert gate_saturation(rnnkit.RNNCell(2, 2, nonlinearity="relu"),
                           torch.zeros(1, 1, 2), []).fractions() == {}


@pytest.mark.parametrize("name,gates", [
    ("lnlstm", {"input", "forget", "candidate", "output", "cell"}),
    ("lngru", {"reset", "update", "candidate"}),
    ("mingru", {"update"}),
    ("minlstm", {"forget", "input"}),
])
def test_every_gated_cell_reports_saturation(name, gates):
    """Gate statistics come from each cell's gate_activations, not a list of known classes."""
    layer = rnnkit.Recurrent(name, input_size=3, hidden_size=4, bidirectional=True)
    with GradientFlowRecorder(layer) as rec:
        out, _ = layer(torch.randn(6, 2, 3) * 20, lengths=torch.tensor([6, 2]))
        out.sum().backward()
    sat = rec.flow().saturation
    assert sorted(sat) == ["l0", "l0_reverse"]
    kinds = {"sigmoid"} | ({"tanh"} if "candidate" in gates else set())
    assert set(sat["l0"]) == gates | kinds
    assert all(0.0 <= v <= 1.0 for v in sat["l0"].values())
    assert sat["l0"]["sigmoid"] > 0  # inputs this large saturate some sigmoid gate


# -- the Trainer callback -----------------------------------------------------------------

def _train(tmp_path, every: int, seed: int = 0):
    from rnnkit.diagnostics import DiagnosticsCallback
    from rnnkit.models import SequenceRegressor
    from rnnkit.training import MetricsLogger, TrainConfig, Trainer

    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 12, 2, generator=g)
    data = {"x": x, "y": x[:, :, 0].sum(1, keepdim=True)}
    torch.manual_seed(seed)
    # dropout between the layers draws random numbers: a careless callback would shift them
    model = SequenceRegressor(input_size=2, cell="gru", hidden_size=8, num_layers=2,
                              dropout=0.3)
    cfg = TrainConfig(steps=12, batch_size=16, eval_every=6, log_every=3, progress="off",
                      device="cpu")
    tmp_path.mkdir(parents=True, exist_ok=True)
    callbacks = [MetricsLogger(tmp_path / "metrics.jsonl", cfg.log_every)]
    if every:
        callbacks.append(DiagnosticsCallback(tmp_path, every=every, batch_size=8))
    Trainer(model, cfg, data, {"x": x[:16], "y": data["y"][:16]}, seed=seed,
            callbacks=callbacks).fit()
    return model


def test_callback_leaves_training_unchanged(tmp_path):
    with_diag = _train(tmp_path / "a", every=4)
    without = _train(tmp_path / "b", every=0)
    for (name, a), (_, b) in zip(with_diag.state_dict().items(), without.state_dict().items()):
        assert torch.equal(a, b), name
    records = [json.loads(line) for line in open(tmp_path / "a" / "diagnostics.jsonl")]
    assert [r["step"] for r in records] == [1, 4, 8, 12]
    assert set(records[0]["hidden_grad_norms"]) == {"encoder.rnn.l0", "encoder.rnn.l1"}
    assert len(records[0]["hidden_grad_norms"]["encoder.rnn.l0"]) == 12
    assert not (tmp_path / "b" / "diagnostics.jsonl").exists()
    assert _train(tmp_path / "c", every=4, seed=1).state_dict()["head.weight"].ne(
        with_diag.state_dict()["head.weight"]).any()  # the comparison can tell runs apart


def test_plots_written_and_diagnose_command(tmp_path, capsys):
    from rnnkit.cli.main import main
    from rnnkit.diagnostics.plots import draw_plots

    _train(tmp_path, every=4)
    names = {"gradient_flow.png", "layer_grad_norms.png", "gate_saturation.png",
             "spectral_radius.png", "loss.png"}
    for path in (tmp_path / "plots").iterdir():  # drawn by the callback at the end
        path.unlink()
    paths = draw_plots(tmp_path)
    assert {p.name for p in paths} == names
    for p in paths:
        assert p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG"
    for p in paths:
        p.unlink()
    assert main(["diagnose", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 4
    assert any("gradient at t=0" in line for line in report["summary"])
    assert {p.rsplit("/", 1)[-1] for p in report["plots"]} == names
    assert all((tmp_path / "plots" / n).stat().st_size > 0 for n in names)
    assert main(["diagnose", str(tmp_path / "missing")]) == 1


def test_snapshot_does_not_touch_grads_or_rng():
    layer = rnnkit.LSTM(2, 3, num_layers=2, dropout=0.5)
    x = torch.randn(6, 2, 2)
    state = torch.get_rng_state()
    snap = take_snapshot(layer, lambda: layer(x)[0].sum())
    assert torch.equal(state, torch.get_rng_state())
    assert all(p.grad is None for p in layer.parameters())
    assert set(snap.hidden_grad_norms) == {"l0", "l1"} and snap.layer_grad_norms["l0"] > 0
