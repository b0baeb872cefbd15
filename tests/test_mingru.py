"""minGRU / minLSTM: the parallel scan against the sequential step mode."""

import pytest
import torch

from rnnkit.cells import MinGRUCell, MinLSTMCell, make_cell
from rnnkit.cells.mingru import g, linear_scan, log_g
from rnnkit.kernels import find_kernel, use_engine
from rnnkit.layers import Recurrent, build_layer, run_direction

CELLS = [MinGRUCell, MinLSTMCell]


def _both(cell, x, h0, **options):
    """(outputs, final state, grads) from the step loop and from the scan."""
    results = []
    for engine in ("loop", "kernel"):
        with use_engine(engine):
            out, h = run_direction(cell, x, h0, **options)
        weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
        loss = (out * weights).sum() + h.square().sum()
        inputs = [t for t in (x, h0, *cell.parameters()) if t.requires_grad]
        results.append([out, h, *torch.autograd.grad(loss, inputs)])
    return results


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 5e-5)])
@pytest.mark.parametrize("lengths,reverse,carried", [
    (False, False, False), (True, False, True), (True, True, True),
])
def test_scan_equals_step_loop(cls, dtype, tol, lengths, reverse, carried):
    """Outputs, final state and every gradient; float32 to a relative 5e-5 of each tensor's
    scale (the scan's logs and exps round differently from the step's products)."""
    T, B, I, H = 50, 5, 6, 8
    cell = cls(I, H).to(dtype)
    x = torch.randn(T, B, I, dtype=dtype, requires_grad=True)
    h0 = torch.randn(B, H, dtype=dtype, requires_grad=True) if carried else cell.init_state(B)
    lens = torch.tensor([50, 1, 17, 33, 50]) if lengths else None
    loop, scan = _both(cell, x, h0, lengths=lens, reverse=reverse)
    for a, b in zip(loop, scan):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * max(1.0, a.abs().max().item()))
    assert all(torch.isfinite(t).all() for t in scan)


@pytest.mark.parametrize("cls", CELLS)
def test_step_mode_equals_scan_long_sequence(cls):
    """Target of the issue: max abs diff <= 1e-5 at T=1024 (float32)."""
    cell = cls(16, 32)
    x = torch.randn(1024, 4, 16)
    h0 = torch.randn(4, 32)
    with torch.no_grad():
        out, h_scan = cell.scan(x, h0)
        h = h0
        steps = []
        for t in range(x.shape[0]):
            y, h = cell(x[t], h)  # O(1)-memory step mode
            steps.append(y)
    assert (out - torch.stack(steps)).abs().max() <= 1e-5
    assert (h_scan - h).abs().max() <= 1e-5


@pytest.mark.parametrize("cls", CELLS)
def test_scan_gradcheck_float64(cls):
    cell = cls(3, 4).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 3])
    assert torch.autograd.gradcheck(
        lambda x, h0, *p: cell.scan(x, h0, lengths), (x, h0, *cell.parameters()), atol=1e-6
    )


def test_log_g_and_scan_are_stable():
    x = torch.tensor([-100.0, -1.0, 0.0, 1.0, 100.0])
    torch.testing.assert_close(log_g(x).exp(), g(x))
    T = 2000  # A_t underflows in linear space; the log-space scan stays exact
    log_a = torch.full((T, 1, 1), -5.0)
    log_b = torch.zeros(T, 1, 1)
    h = linear_scan(log_a, log_b, torch.ones(1, 1))
    assert torch.isfinite(h).all()
    fixed_point = 1 / (1 - torch.exp(torch.tensor(-5.0)))  # h = e^-5 h + 1
    torch.testing.assert_close(h[-1, 0, 0], fixed_point)


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_registered_and_usable_in_layers(name):
    cell = make_cell(name, 4, 6)
    assert find_kernel(cell) is not None  # the scan
    assert find_kernel(cell, zoneout=0.1) is None  # zoneout needs the step loop
    layer = Recurrent(name, input_size=4, hidden_size=6, num_layers=2, bidirectional=True)
    x = torch.randn(9, 3, 4)
    out, h_n = layer(x, lengths=torch.tensor([9, 2, 5]))
    assert out.shape == (9, 3, 12) and h_n.shape == (4, 3, 6)
    assert (out[5:, 2] == 0).all()
    with use_engine("loop"):
        ref, h_ref = layer(x, lengths=torch.tensor([9, 2, 5]))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h_n, h_ref, rtol=1e-5, atol=1e-5)
    built = build_layer(name, 4, 6, num_layers=2)  # batch_first by default
    assert built(torch.randn(3, 9, 4))[0].shape == (3, 9, 6)


def test_zoneout_falls_back_to_the_step_loop():
    layer = Recurrent("mingru", input_size=4, hidden_size=6, zoneout=0.3)
    layer.eval()
    x = torch.randn(7, 2, 4)
    out, _ = layer(x)
    assert out.shape == (7, 2, 6) and torch.isfinite(out).all()
