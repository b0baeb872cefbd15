"""Tests for rnnkit.reference: finite differences, torch autograd, input checks, training."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit.reference
from rnnkit.reference import GRU, LSTM, ElmanRNN, gradient_check

I, H, O, T = 3, 4, 5, 6
MODELS = [ElmanRNN, LSTM, GRU]


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(T, I))  # (T, I)
    ys = rng.integers(0, O, size=T)  # (T,)
    h0 = rng.normal(scale=0.5, size=H)  # (H,)
    c0 = rng.normal(scale=0.5, size=H)  # (H,)
    return xs, ys, h0, c0


def initial_state(model_cls, h0, c0) -> dict:
    return {"h0": h0, "c0": c0} if model_cls is LSTM else {"h0": h0}


# --- finite differences --------------------------------------------------------------------


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_gradient_check_passes(model_cls, with_state):
    xs, ys, h0, c0 = make_data(seed=1)
    model = model_cls(I, H, O, seed=2)
    state = initial_state(model_cls, h0, c0) if with_state else {}
    result = gradient_check(model, xs, ys, **state)
    assert set(result.rel_errors) == set(model.params())
    assert result.max_rel_error < 1e-5, result.rel_errors
    assert result.passed()


def test_gradient_check_catches_a_wrong_gradient():
    class BrokenElman(ElmanRNN):
        def loss_and_grads(self, xs, targets, h0=None):
            loss, grads = super().loss_and_grads(xs, targets, h0)
            grads["W"] = grads["W"] * 1.01
            return loss, grads

    xs, ys, _, _ = make_data()
    result = gradient_check(BrokenElman(I, H, O), xs, ys)
    assert result.rel_errors["W"] > 1e-3
    assert result.rel_errors["U"] < 1e-5
    assert not result.passed()


def test_gradient_check_restores_parameters():
    xs, ys, _, _ = make_data()
    model = GRU(I, H, O)
    before = {k: v.copy() for k, v in model.params().items()}
    gradient_check(model, xs, ys)
    for name, value in model.params().items():
        np.testing.assert_array_equal(value, before[name])


# --- equality with torch autograd ----------------------------------------------------------


def torch_cell(model):
    """A float64 torch cell holding the reference model's weights."""
    p = {k: torch.tensor(v) for k, v in model.params().items()}
    if isinstance(model, ElmanRNN):
        cell = torch.nn.RNNCell(I, H, nonlinearity="tanh").double()
        weights = [p["U"], p["W"], p["b"], torch.zeros(H, dtype=torch.float64)]
    else:
        cell_cls = torch.nn.LSTMCell if isinstance(model, LSTM) else torch.nn.GRUCell
        cell = cell_cls(I, H).double()
        weights = [p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"]]
    with torch.no_grad():
        for param, value in zip(
            (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), weights, strict=True
        ):
            param.copy_(value)
    head = torch.nn.Linear(H, O).double()
    with torch.no_grad():
        head.weight.copy_(p["V"])
        head.bias.copy_(p["c"])
    return cell, head


def torch_loss_and_grads(model, xs, ys, h0, c0):
    """Loss, grads keyed like model.params(), and dL/dh_t (T, H), all by torch autograd."""
    cell, head = torch_cell(model)
    x = torch.tensor(xs)
    h = torch.tensor(h0).unsqueeze(0)  # (1, H)
    c = torch.tensor(c0).unsqueeze(0)  # (1, H)
    hs = []
    for t in range(len(xs)):
        if isinstance(model, LSTM):
            h, c = cell(x[t : t + 1], (h, c))
        else:
            h = cell(x[t : t + 1], h)
        h.retain_grad()
        hs.append(h)
    logits = head(torch.cat(hs))  # (T, O)
    loss = F.cross_entropy(logits, torch.tensor(ys), reduction="sum")
    loss.backward()
    cell_grads = [cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad]
    names = ["U", "W", "b"] if isinstance(model, ElmanRNN) else ["W_ih", "W_hh", "b_ih", "b_hh"]
    grads = {name: g.numpy() for name, g in zip(names, cell_grads, strict=False)}
    grads["V"], grads["c"] = head.weight.grad.numpy(), head.bias.grad.numpy()
    dhs = torch.cat([h.grad for h in hs]).numpy()  # (T, H)
    return loss.item(), grads, dhs


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
def test_matches_torch_autograd(model_cls, with_state):
    xs, ys, h0, c0 = make_data(seed=3)
    if not with_state:
        h0, c0 = np.zeros(H), np.zeros(H)
    model = model_cls(I, H, O, seed=4)
    loss, grads = model.loss_and_grads(xs, ys, **initial_state(model_cls, h0, c0))
    t_loss, t_grads, _ = torch_loss_and_grads(model, xs, ys, h0, c0)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    assert list(grads) == list(model.params())
    for name, g in grads.items():
        assert g.shape == model.params()[name].shape
        assert np.allclose(g, t_grads[name], rtol=1e-7, atol=1e-9), name


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_backward_hidden_matches_torch(model_cls):
    xs, ys, h0, c0 = make_data(seed=5)
    model = model_cls(I, H, O, seed=6)
    dhs = model.backward_hidden(xs, ys, **initial_state(model_cls, h0, c0))
    _, _, t_dhs = torch_loss_and_grads(model, xs, ys, h0, c0)
    assert dhs.shape == (T, H)
    assert np.allclose(dhs, t_dhs, rtol=1e-7, atol=1e-9)
    # the last step has no later steps: its gradient is the output layer's alone
    probs = model.forward(xs, **initial_state(model_cls, h0, c0)).probs
    np.testing.assert_allclose(dhs[-1], (probs[-1] - np.eye(O)[ys[-1]]) @ model.V)


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_forward_shapes_and_probabilities(model_cls):
    xs, _, _, _ = make_data()
    fwd = model_cls(I, H, O).forward(xs)
    assert fwd.hs.shape == (T, H)
    assert fwd.probs.shape == (T, O)
    np.testing.assert_allclose(fwd.probs.sum(axis=1), 1.0)
    assert fwd.hs.dtype == np.float64


# --- parameters and initialisation ---------------------------------------------------------


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_params_by_reference_and_seeded_init(model_cls):
    model = model_cls(I, H, O, seed=7)
    params = model.params()
    bound = 1.0 / np.sqrt(H)
    for value in params.values():
        assert value.dtype == np.float64
        assert np.all(np.abs(value) <= bound)
    first = next(iter(params))
    params[first][...] = 0.0
    assert np.all(getattr(model, first) == 0.0)
    same, other = model_cls(I, H, O, seed=7), model_cls(I, H, O, seed=8)
    np.testing.assert_array_equal(same.params()["V"], model.params()["V"])
    assert not np.array_equal(other.params()["V"], model.params()["V"])


def test_parameter_names_follow_torch():
    assert list(ElmanRNN(I, H, O).params()) == ["U", "W", "b", "V", "c"]
    lstm, gru = LSTM(I, H, O).params(), GRU(I, H, O).params()
    assert list(lstm) == ["W_ih", "W_hh", "b_ih", "b_hh", "V", "c"]
    assert lstm["W_ih"].shape == (4 * H, I) and gru["W_hh"].shape == (3 * H, H)


# --- input validation ----------------------------------------------------------------------

BAD_INPUTS = [
    (np.zeros(I), None, "2-D"),
    (np.zeros((T, I + 1)), None, "input_size"),
    (np.zeros((0, I)), None, "at least one time step"),
    (np.full((T, I), np.nan), None, "finite"),
    ([["a"] * I] * T, None, "numeric"),
    (None, np.zeros(T - 1, dtype=int), "length T"),
    (None, np.zeros((T, 1), dtype=int), "1-D"),
    (None, np.zeros(T), "integer"),
    (None, np.zeros(T, dtype=bool), "integer"),
    (None, np.full(T, O), "output_size"),
    (None, np.full(T, -1), "output_size"),
]


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("xs, ys, message", BAD_INPUTS)
def test_bad_inputs_raise(model_cls, xs, ys, message):
    good_xs, good_ys, _, _ = make_data()
    xs = good_xs if xs is None else xs
    ys = good_ys if ys is None else ys
    model = model_cls(I, H, O)
    with pytest.raises(ValueError, match=message):
        model.loss_and_grads(xs, ys)


def test_bad_state_and_sizes_raise():
    xs, ys, _, _ = make_data()
    with pytest.raises(ValueError, match="h0"):
        ElmanRNN(I, H, O).loss_and_grads(xs, ys, h0=np.zeros(H + 1))
    with pytest.raises(ValueError, match="c0"):
        LSTM(I, H, O).forward(xs, c0=np.zeros((1, H)))
    with pytest.raises(ValueError, match="hidden_size"):
        GRU(I, 0, O)
    with pytest.raises(ValueError, match="input_size"):
        ElmanRNN(2.5, H, O)


# --- training sanity -----------------------------------------------------------------------


def test_sgd_reduces_elman_loss():
    symbols = np.array([0, 1, 2, 3, 2, 1, 0, 3])  # learn to predict the next symbol
    xs = np.eye(4)[symbols[:-1]]  # (7, 4) one-hot
    ys = symbols[1:]  # (7,)
    model = ElmanRNN(4, 8, 4, seed=0)
    first, _ = model.loss_and_grads(xs, ys)
    for _ in range(300):
        loss, grads = model.loss_and_grads(xs, ys)
        for name, value in model.params().items():
            value -= 0.1 * grads[name]
    assert loss < 0.1 * first, (first, loss)


def test_reference_package_imports_numpy_only():
    for path in Path(rnnkit.reference.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] == "torch" for m in modules), path.name
