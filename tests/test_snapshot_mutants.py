"""One diagnostics record (rnnkit/diagnostics/snapshot.py) against an Elman loop written out
by hand with retain_grad, autograd's parameter gradients and NumPy's eigenvalues. Each test
fails on a one-line bug that tests/test_diagnostics.py lets through (found by mutation
testing, benchmarks/mutation.py)."""

from __future__ import annotations

import copy
import json
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.diagnostics import take_snapshot

T, B, I, H = 6, 3, 2, 4


def _model() -> nn.ModuleDict:
    torch.manual_seed(0)
    model = nn.ModuleDict({"rnn": rnnkit.RNN(I, H), "head": nn.Linear(H, 1),
                           "unused": nn.Linear(1, 1), "frozen": nn.Linear(H, 1)})
    model["frozen"].weight.requires_grad_(False)  # not measured, though the loss reads it
    return model.double()


def _loss(model, out):  # out (T, B, H)
    return model["head"](out).pow(2).sum() + model["frozen"](out).sum()


def _hand_elman(model, x):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), each h_t keeping its gradient."""
    rnn = model["rnn"]
    h = torch.zeros(B, H, dtype=x.dtype)
    hs = []
    for x_t in x:
        h = torch.tanh(x_t @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T
                       + rnn.bias_hh_l0)
        h.retain_grad()
        hs.append(h)
    return torch.stack(hs), hs


def test_a_snapshot_equals_what_is_measured_by_hand():
    model = _model()
    x = torch.randn(T, B, I, dtype=torch.double) * 3  # large enough to saturate some units
    snap = take_snapshot(model, lambda: _loss(model, model["rnn"](x)[0]), step=7)

    ref = copy.deepcopy(model)
    out, hs = _hand_elman(ref, x)
    loss = _loss(ref, out)
    loss.backward()
    norms = [float(h.grad.norm()) for h in hs]  # Frobenius over (B, H)
    assert snap.step == 7 and snap.loss == pytest.approx(float(loss.detach()), rel=1e-12)
    assert list(snap.hidden_grad_norms) == ["rnn.l0"]
    assert snap.hidden_grad_norms["rnn.l0"] == pytest.approx(norms, rel=1e-9)
    assert snap.hidden_grad_ratio == pytest.approx({"rnn.l0": norms[0] / norms[-1]}, rel=1e-9)

    saturated = float((out.detach().abs() > 0.95).sum()) / (T * B * H)  # tanh units past 0.95
    assert 0 < saturated < 1
    assert snap.saturation == {"rnn.l0": {"h": saturated, "tanh": saturated}}

    grads = {n: float(p.grad.norm()) for n, p in ref.named_parameters() if p.grad is not None
             and p.requires_grad}
    assert set(grads) == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                          "rnn.bias_hh_l0", "head.weight", "head.bias", "frozen.bias"}
    assert snap.param_grad_norms == pytest.approx(grads, rel=1e-9)
    rnn_norm = math.sqrt(sum(v * v for k, v in grads.items() if k.startswith("rnn.")))
    head_norm = math.hypot(grads["head.weight"], grads["head.bias"])
    assert snap.layer_grad_norms == pytest.approx(
        {"rnn.l0": rnn_norm, "head": head_norm, "frozen": grads["frozen.bias"]}, rel=1e-9)

    radius = np.abs(np.linalg.eigvals(model["rnn"].weight_hh_l0.detach().numpy())).max()
    assert snap.spectral_radius == pytest.approx({"rnn.weight_hh_l0": radius}, rel=1e-12)


def test_the_record_is_plain_json_with_every_field():
    model = _model()
    x = torch.randn(T, B, I, dtype=torch.double)
    snap = take_snapshot(model, lambda: _loss(model, model["rnn"](x)[0]))
    record = snap.to_record()
    assert snap.step == 0  # the default
    assert list(record) == ["step", "loss", "hidden_grad_norms", "hidden_grad_ratio",
                            "saturation", "param_grad_norms", "layer_grad_norms",
                            "spectral_radius"]
    assert json.loads(json.dumps(record, allow_nan=False)) == record
    assert record["loss"] == snap.loss and isinstance(record["loss"], float)
    assert record["hidden_grad_norms"] == snap.hidden_grad_norms
    assert isinstance(record["hidden_grad_norms"]["rnn.l0"], list)


def test_a_ratio_that_is_not_finite_is_recorded_as_none():
    """A loss on the first output only: no gradient reaches the last step, so first / last
    is infinite; JSON has no infinity, the record holds None."""
    model = _model()
    x = torch.randn(T, B, I, dtype=torch.double)
    snap = take_snapshot(model, lambda: model["rnn"](x)[0][0].sum())
    norms = snap.hidden_grad_norms["rnn.l0"]
    assert norms[0] > 0 and norms[1:] == [0.0] * (T - 1)
    assert snap.hidden_grad_ratio == {"rnn.l0": None}
    json.dumps(snap.to_record(), allow_nan=False)


def test_a_snapshot_under_no_grad_still_measures_and_leaves_the_model_alone():
    """A callback may run inside torch.no_grad() (an evaluation loop): the snapshot takes its
    gradients all the same, and no .grad or random state is touched."""
    model = _model()
    x = torch.randn(T, B, I, dtype=torch.double)
    expected = take_snapshot(model, lambda: _loss(model, model["rnn"](x)[0]))
    rng = torch.get_rng_state()
    with torch.no_grad():
        snap = take_snapshot(model, lambda: _loss(model, model["rnn"](x)[0]))
    assert snap == expected
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(rng, torch.get_rng_state())
    assert torch.is_grad_enabled()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_on_cuda_the_gpus_random_state_is_restored_too():
    """Dropout on the GPU draws from the CUDA generator of the model's device: a snapshot
    leaves it (and the CPU's) as it found them, and does not ask about other devices."""
    device = torch.device("cuda", torch.cuda.current_device())
    layer = rnnkit.LSTM(2, 3, num_layers=2, dropout=0.5).to(device)
    x = torch.randn(6, 2, 2, device=device)
    cpu, gpu = torch.get_rng_state(), torch.cuda.get_rng_state(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        take_snapshot(layer, lambda: layer(x)[0].sum())
    assert not [w for w in caught if "fork_rng" in str(w.message)]  # (it forks every GPU)
    assert torch.equal(cpu, torch.get_rng_state())
    assert torch.equal(gpu, torch.cuda.get_rng_state(device))
