"""minGRU and minLSTM against the equations of Feng et al. 2024 ("Were RNNs All We Needed?"),
written out below in NumPy, on every path that runs them: the step mode, the layers' loop,
the log-space parallel scan and the compiled scan.

The paths are otherwise only compared with one another, so an activation changed in all of
them at once would pass; here each is held to the paper's sequential form:

    minGRU:   z_t = σ(W_z x_t + b_z),  h~_t = g(W_h x_t + b_h),
              h_t = (1 - z_t) h_{t-1} + z_t h~_t
    minLSTM:  f_t = σ(W_f x_t + b_f),  i_t = σ(W_i x_t + b_i),  h~_t = g(W_h x_t + b_h),
              h_t = f_t / (f_t + i_t) h_{t-1} + i_t / (f_t + i_t) h~_t

with g(v) = v + 1/2 for v >= 0 and σ(v) below (the paper's positive activation for its
log-space form, as the cells document). Past a sequence's length the state is kept and the
output is zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.cells import MinGRUCell, MinLSTMCell
from rnnkit.kernels import native, use_engine
from rnnkit.layers import run_direction

T, B, I, H = 7, 3, 2, 3
LENGTHS = [7, 2, 5]


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def g(v):
    return np.where(v >= 0, v + 0.5, sigmoid(v))


def paper(kind: str, W: np.ndarray, b: np.ndarray, x: np.ndarray, h0: np.ndarray,
          lengths=None):
    """Sequential form: outputs (T, B, H) and the final state (B, H)."""
    h, outs = h0.copy(), np.zeros((len(x), *h0.shape))
    for t in range(len(x)):
        k = x[t] @ W.T + b  # (B, 2H) or (B, 3H)
        if kind == "mingru":
            z, h_tilde = sigmoid(k[:, :H]), g(k[:, H:])
            new = (1 - z) * h + z * h_tilde
        else:
            f, i, h_tilde = sigmoid(k[:, :H]), sigmoid(k[:, H:2 * H]), g(k[:, 2 * H:])
            new = f / (f + i) * h + i / (f + i) * h_tilde
        valid = np.ones(len(h), bool) if lengths is None else t < np.asarray(lengths)
        h = np.where(valid[:, None], new, h)
        outs[t] = np.where(valid[:, None], new, 0.0)
    return outs, h


def _step_mode(cell, x, h0, lengths):
    assert lengths is None
    h, outs = h0, []
    for t in range(len(x)):
        y, h = cell(x[t], h)
        outs.append(y)
    return torch.stack(outs), h


def _engine(name):
    def run(cell, x, h0, lengths):
        with use_engine(name):
            return run_direction(cell, x, h0, lengths=lengths)
    return run


def _compiled(cell, x, h0, lengths):
    from rnnkit.kernels.scan import min_scan

    out = min_scan(cell.scan_kind, cell.input_projection(x), h0, lengths)
    assert out is not None, "the compiled scan declined these tensors"
    return out


PATHS = {
    "step": _step_mode,  # cell.forward, one step at a time
    "loop": _engine("loop"),  # input_projection once, recurrence at every step
    "scan": lambda cell, x, h0, lengths: cell.scan(x, h0, lengths),  # log-space, parallel
    "compiled": _compiled,  # csrc/cells.cpp
    "engine": _engine("kernel"),  # what the layers run when a kernel is asked for
}
NEEDS_NATIVE = {"compiled"}


def _case(cls, dtype, seed=0):
    torch.manual_seed(seed)
    cell = cls(I, H).to(dtype)
    with torch.no_grad():  # spread the pre-activations over both branches of g
        cell.linear.weight.mul_(3.0)
    x = torch.randn(T, B, I, dtype=dtype)
    h0 = torch.randn(B, H, dtype=dtype)  # any sign: the scan carries it linearly
    return cell, x, h0


def _skip_without_native(path):
    if path in NEEDS_NATIVE and native.ops_for(torch.zeros(1)) is None:
        pytest.skip("the compiled kernels are not available (no C++ compiler)")


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("with_lengths", [False, True])
def test_each_path_follows_the_paper(cls, path, with_lengths):
    _skip_without_native(path)
    if path == "step" and with_lengths:
        pytest.skip("step mode has no lengths")
    cell, x, h0 = _case(cls, torch.float64)
    lengths = torch.tensor(LENGTHS) if with_lengths else None
    k = cell.input_projection(x).detach().numpy()
    assert (k[..., -H:] < 0).any() and (k[..., -H:] > 0).any()  # both branches of g meet
    W, b = cell.linear.weight.detach().numpy(), cell.linear.bias.detach().numpy()
    want_y, want_h = paper(cell.scan_kind, W, b, x.numpy(), h0.numpy(),
                           LENGTHS if with_lengths else None)
    with torch.no_grad():
        y, h = PATHS[path](cell, x, h0, lengths)
    np.testing.assert_allclose(y.numpy(), want_y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), want_h, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
@pytest.mark.parametrize("path", ["loop", "scan", "compiled"])
def test_float32_paths_follow_the_paper(cls, path):
    _skip_without_native(path)
    cell, x, h0 = _case(cls, torch.float32, seed=1)
    W, b = (cell.linear.weight.detach().double().numpy(),
            cell.linear.bias.detach().double().numpy())
    want_y, _ = paper(cell.scan_kind, W, b, x.double().numpy(), h0.double().numpy(), LENGTHS)
    with torch.no_grad():
        y, _ = PATHS[path](cell, x, h0, torch.tensor(LENGTHS))
    np.testing.assert_allclose(y.numpy(), want_y, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
@pytest.mark.parametrize("path", ["loop", "scan", "compiled"])
def test_gradients_equal_finite_differences_of_the_paper(cls, path):
    """d/d(weight, bias, h0) of sum(outputs * fixed weights) + sum(final state^2), against
    central differences of the NumPy equations (float64)."""
    _skip_without_native(path)
    cell, x, h0 = _case(cls, torch.float64, seed=2)
    h0.requires_grad_(True)
    lengths = torch.tensor(LENGTHS)
    mix = np.linspace(-1, 1, T * B * H).reshape(T, B, H)

    def loss_np(W, b, h0_):
        y, h = paper(cell.scan_kind, W, b, x.numpy(), h0_, LENGTHS)
        return float((y * mix).sum() + (h ** 2).sum())

    y, h = PATHS[path](cell, x, h0, lengths)
    loss = (y * torch.from_numpy(mix)).sum() + h.square().sum()
    got = torch.autograd.grad(loss, [cell.linear.weight, cell.linear.bias, h0])
    values = [cell.linear.weight.detach().numpy(), cell.linear.bias.detach().numpy(),
              h0.detach().numpy()]
    eps = 1e-6
    for which, grad in enumerate(got):
        want = np.zeros(values[which].shape)
        for idx in np.ndindex(*values[which].shape):
            args = [v.copy() for v in values]
            args[which][idx] += eps
            up = loss_np(*args)
            args[which][idx] -= 2 * eps
            want[idx] = (up - loss_np(*args)) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), want, rtol=1e-6, atol=1e-7)
