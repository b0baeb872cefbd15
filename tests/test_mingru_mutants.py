"""minGRU and minLSTM's building blocks (rnnkit/cells/mingru.py, minlstm.py) against closed
forms and the recurrence written out in NumPy: the activation g and its log, the chunked
log-space scan across chunk boundaries, the masked scan, the cells' layout and gates.
(tests/test_oracle_cells.py holds every path of the two cells to Feng et al.'s equations.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.cells import MinGRUCell, MinLSTMCell
from rnnkit.cells.mingru import g, linear_scan, log_g, masked_scan


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def test_g_and_log_g_equal_their_closed_forms_on_both_branches():
    v = np.array([-30.0, -3.0, -0.5, -1e-3, 0.0, 1e-3, 0.7, 4.0, 1e3])
    want = np.where(v >= 0, v + 0.5, _sigmoid(v))
    x = torch.tensor(v, dtype=torch.float64)
    np.testing.assert_allclose(g(x).numpy(), want, rtol=1e-14)
    np.testing.assert_allclose(log_g(x).numpy(), np.log(want), rtol=1e-14, atol=1e-300)
    assert log_g(torch.tensor([-800.0], dtype=torch.float64)).item() == -800.0  # σ(v) ~ e^v


def test_g_and_log_g_gradients_take_the_upper_branch_at_zero_and_stay_finite():
    """g'(v) = 1 for v >= 0 (v + 1/2), σ(v)(1 - σ(v)) below; (log g)' = g'/g, finite for every
    v, including where log(v + 1/2) of the other branch would be infinite (v = -1/2)."""
    v = torch.tensor([-2.0, -0.5, 0.0, 1.5], dtype=torch.float64, requires_grad=True)
    (dg,) = torch.autograd.grad(g(v).sum(), v)
    s = _sigmoid(np.array([-2.0, -0.5]))
    np.testing.assert_allclose(dg.numpy(), [*(s * (1 - s)), 1.0, 1.0], rtol=1e-14)
    (dlog,) = torch.autograd.grad(log_g(v).sum(), v)
    assert torch.isfinite(dlog).all()
    np.testing.assert_allclose(dlog.numpy(), [*(1 - s), 1 / 0.5, 1 / 2.0], rtol=1e-14)


def _sequential(a, b, h0):
    h, out = h0.copy(), []
    for t in range(len(a)):
        h = a[t] * h + b[t]
        out.append(h)
    return np.stack(out)


@pytest.mark.parametrize("T", [1, 31, 32, 33, 70])
def test_linear_scan_equals_the_sequential_recurrence_across_chunks(T):
    rng = np.random.default_rng(T)
    a = rng.uniform(0.05, 1.0, (T, 2, 3))
    b = rng.uniform(0.0, 2.0, (T, 2, 3))
    b[T // 2, 0, 1] = 0.0  # log b = -inf: b = 0
    h0 = rng.normal(size=(2, 3)) * 3  # any sign, carried linearly
    with np.errstate(divide="ignore"):
        log_b = np.log(b)
    got = linear_scan(torch.tensor(np.log(a)), torch.tensor(log_b), torch.tensor(h0))
    assert got.shape == (T, 2, 3)
    np.testing.assert_allclose(got.numpy(), _sequential(a, b, h0), rtol=1e-11, atol=1e-12)


def test_linear_scan_with_a_small_chunk():
    rng = np.random.default_rng(1)
    a, b, h0 = rng.uniform(0.1, 1, (9, 1, 2)), rng.uniform(0, 1, (9, 1, 2)), rng.normal(size=(1, 2))
    got = linear_scan(torch.tensor(np.log(a)), torch.tensor(np.log(b)), torch.tensor(h0), chunk=4)
    np.testing.assert_allclose(got.numpy(), _sequential(a, b, h0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lengths", [None, [40, 1, 33]])
def test_masked_scan_keeps_the_state_and_outputs_zero_past_each_length(lengths):
    T = 40
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.1, 1.0, (T, 3, 2)), rng.uniform(0.0, 1.0, (T, 3, 2))
    h0 = rng.normal(size=(3, 2))
    out, final = masked_scan(torch.tensor(np.log(a)), torch.tensor(np.log(b)), torch.tensor(h0),
                             None if lengths is None else torch.tensor(lengths))
    want = np.zeros((T, 3, 2))
    want_final = np.zeros((3, 2))
    for k, n in enumerate(lengths or [T] * 3):
        seq = _sequential(a[:n, k], b[:n, k], h0[k])
        want[:n, k], want_final[k] = seq, seq[-1]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(final.numpy(), want_final, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("cls,blocks,gates", [
    (MinGRUCell, 2, {"update": 0}), (MinLSTMCell, 3, {"forget": 0, "input": 1}),
])
def test_layout_defaults_and_gates(cls, blocks, gates):
    """[W_z | W_h] or [W_f | W_i | W_h] in one Linear with a bias by default, state h alone,
    no learned initial state unless asked; each gate is σ of its block, reported as sigmoid."""
    cell = cls(3, 4)
    assert cell.linear.weight.shape == (blocks * 4, 3) and cell.linear.bias.shape == (blocks * 4,)
    assert (cell.input_size, cell.hidden_size, cell.state_sizes) == (3, 4, (4,))
    assert not cell.learn_initial_state and not list(cell.named_parameters())[2:]
    assert cls(3, 4, bias=False).linear.bias is None
    learned = cls(3, 4, learn_initial_state=True)
    assert learned.learn_initial_state and learned.initial_h.shape == (4,)
    assert cell.supports_scan and not cell.supports_recurrent_mask
    gx = torch.randn(5, 2, blocks * 4, dtype=torch.float64)
    k = gx.numpy()
    reported = cell.gate_activations(gx, torch.zeros(5, 2, 4, dtype=torch.float64))
    assert sorted(reported) == sorted(gates)
    for name, block in gates.items():
        assert reported[name].kind == "sigmoid"
        np.testing.assert_allclose(reported[name].values.numpy(),
                                   _sigmoid(k[..., block * 4: (block + 1) * 4]), rtol=1e-12)


def test_a_step_ignores_a_recurrent_mask_and_matches_the_equations():
    """forward(x, h) by hand (the mask argument is accepted and ignored: h meets no weights)."""
    for cls in (MinGRUCell, MinLSTMCell):
        cell = cls(2, 3).double()
        with torch.no_grad():
            cell.linear.weight.mul_(4.0)
        x, h = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
        k = (x @ cell.linear.weight.T + cell.linear.bias).detach().numpy()
        hn = h.numpy()
        ht = np.where(k[:, -3:] >= 0, k[:, -3:] + 0.5, _sigmoid(k[:, -3:]))
        if cls is MinGRUCell:
            z = _sigmoid(k[:, :3])
            want = (1 - z) * hn + z * ht
        else:
            f, i = _sigmoid(k[:, :3]), _sigmoid(k[:, 3:6])
            want = f / (f + i) * hn + i / (f + i) * ht
        y, new = cell(x, h, torch.zeros(5, 3, dtype=torch.float64))
        np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12)
        assert torch.equal(y, new)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_scan_gradient_equals_the_step_loops_at_zero_pre_activations(cls):
    """With the candidate's weights and bias at zero, k_h = 0 at every step (g's kink): the
    log-space scan's gradients must equal the step loop's (g'(0) = 1, from the x >= 0
    branch). log g once took its gradient at 0 from relu (0), so the scan lost it."""
    cell = cls(2, 3).double()
    with torch.no_grad():
        cell.linear.weight[-3:].zero_()
        cell.linear.bias[-3:].zero_()
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    h0 = torch.randn(2, 3, dtype=torch.float64)
    grads = []
    for run in ("scan", "step"):
        if run == "scan":
            out, _ = cell.scan(x, h0)
        else:
            h, steps = h0, []
            for t in range(len(x)):
                y, h = cell(x[t], h)
                steps.append(y)
            out = torch.stack(steps)
        grads.append(torch.autograd.grad(out.sum(), cell.linear.bias)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_one_unbatched_step_equals_the_batched_step(cls):
    """Like torch.nn's cells, a step takes one unbatched sample x (I,), h (H,)."""
    cell = cls(2, 3)
    x, h = torch.randn(2), torch.randn(3)
    y, new = cell(x, h)
    y_b, _ = cell(x[None], h[None])
    assert y.shape == (3,) and torch.equal(y, new)
    torch.testing.assert_close(y, y_b[0])


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_the_scan_runs_on_another_device(cls):
    """Every tensor the scan makes goes on the input's device (the meta device here: a
    tensor left on the CPU cannot meet it); lengths come from the CPU, as users pass them."""
    cell = cls(2, 3).to("meta")
    x, h0 = torch.empty(40, 2, 2, device="meta"), torch.empty(2, 3, device="meta")
    out, h = cell.scan(x, h0, torch.tensor([40, 7]))
    assert out.device.type == h.device.type == "meta"
    assert out.shape == (40, 2, 3) and h.shape == (2, 3)
