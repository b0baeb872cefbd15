"""The hand-derived BPTT kernels against the generic autograd loop they replace."""

import itertools

import pytest
import torch

import rnnkit
from rnnkit.cells import LSTMCell, make_cell
from rnnkit.kernels import Masks, find_kernel, run_bptt, use_engine
from rnnkit.kernels.engine import _FAMILIES, class_key
from rnnkit.layers import Recurrent, run_direction

CELLS = ["rnn", "rnn_relu", "lstm", "gru", "lnlstm", "lngru"]


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


def _run(engine, cell, x, state, seed=7, **options):
    """Outputs, final state and the gradients of a fixed loss, on one engine."""
    with use_engine(engine):
        torch.manual_seed(seed)  # the kernel draws its masks like the loop: same seed, same masks
        out, final = run_direction(cell, x, state, **options)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    loss = (out * weights).sum() + sum((f * f).sum() for f in _parts(final))
    inputs = [t for t in (x, *_parts(state), *cell.parameters()) if t.requires_grad]
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [out, *_parts(final), *grads]


def _random_state(cell, B, dtype=torch.float32):
    parts = tuple(torch.randn(B, n, dtype=dtype, requires_grad=True) for n in cell.state_sizes)
    return parts if len(parts) > 1 else parts[0]


def _assert_same(a, b, rtol=1e-5, atol=1e-5):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
            continue
        scale = max(1.0, u.abs().max().item())
        torch.testing.assert_close(u, v, rtol=rtol, atol=atol * scale)


def _error(results, reference):
    """Largest error relative to each tensor's scale, against a float64 reference."""
    return max(((r.double() - e).abs().max() / e.abs().max().clamp(min=1)).item()
               for r, e in zip(results, reference))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("lengths,reverse,carried", [
    (False, False, False), (True, False, True), (True, True, False), (False, True, True),
])
def test_kernel_equals_loop_float32(name, lengths, reverse, carried):
    """Kernel == loop in float32 (relative 1e-5), and never less accurate than the loop.

    A layer-norm cell from a zero state normalises a zero vector (rstd = 1/sqrt(eps)), which
    magnifies rounding in *both* engines; there the test asks that the kernel's error
    against float64 be no larger than the loop's.
    """
    T, B, I, H = 20, 6, 12, 16
    cell = make_cell(name, I, H).double()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    state = _random_state(cell, B, torch.float64) if carried else cell.init_state(B)
    lens = torch.tensor([20, 3, 11, 1, 20, 7]) if lengths else None
    options = dict(lengths=lens, reverse=reverse)
    exact = _run("loop", cell, x, state, **options)
    _assert_same(exact, _run("kernel", cell, x, state, **options), rtol=1e-10, atol=1e-10)
    cell.float()
    x32 = x.detach().float().requires_grad_()
    state32 = tuple(s.detach().float().requires_grad_(carried) for s in _parts(state))
    state32 = state32 if len(state32) > 1 else state32[0]
    loop, kernel = (_run(e, cell, x32, state32, **options) for e in ("loop", "kernel"))
    if not name.startswith("ln") or carried:
        _assert_same(loop, kernel)
    assert _error(kernel, exact) <= max(2e-5, 2 * _error(loop, exact))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("recurrent_dropout,zoneout,training", [
    (0.3, 0.0, True), (0.0, 0.4, True), (0.3, 0.4, True), (0.3, 0.4, False),
])
def test_kernel_equals_loop_with_dropout_and_zoneout(name, recurrent_dropout, zoneout, training):
    """Same seed -> same masks on both engines; eval zoneout is the lerp by p."""
    T, B, I, H = 12, 5, 7, 10
    cell = make_cell(name, I, H)
    x = torch.randn(T, B, I, requires_grad=True)
    state = _random_state(cell, B)
    options = dict(lengths=torch.tensor([12, 4, 9, 1, 12]), reverse=True,
                   recurrent_dropout=recurrent_dropout, zoneout=zoneout, training=training)
    _assert_same(_run("loop", cell, x, state, **options),
                 _run("kernel", cell, x, state, **options), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck_float64(name):
    T, B, I, H = 4, 3, 3, 4
    cell = make_cell(name, I, H).double()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    state = _random_state(cell, B, torch.float64)
    lens = torch.tensor([4, 2, 3])
    params = list(cell.parameters())
    cell_name = class_key(cell)

    def f(x, *tensors):
        parts = tensors[: len(cell.state_sizes)]
        st = parts if len(parts) > 1 else parts[0]
        with use_engine("kernel"):
            torch.manual_seed(3)
            out, final = run_direction(cell, x, st, lengths=lens, zoneout=0.2,
                                       recurrent_dropout=0.25, training=True)
        return out, *_parts(final)

    assert cell_name in _FAMILIES
    assert torch.autograd.gradcheck(f, (x, *_parts(state), *params), atol=1e-6, fast_mode=True)


def test_explicit_masks_equal_loop_masks():
    """run_bptt with given masks equals the loop fed the same (seeded) masks."""
    T, B, I, H = 9, 4, 5, 6
    cell = LSTMCell(I, H)
    x = torch.randn(T, B, I)
    state = cell.init_state(B)
    torch.manual_seed(11)
    m = torch.empty(B, H).bernoulli_(0.7).div_(0.7)
    zone = torch.stack([torch.stack([torch.empty(B, H).bernoulli_(0.2) for _ in range(2)])
                        for _ in range(T)])
    out, (h, c) = run_bptt(_FAMILIES[class_key(cell)][0](cell), cell, x, state,
                           Masks(recurrent=m, zoneout=zone))
    with use_engine("loop"):
        torch.manual_seed(11)
        ref, (h_ref, c_ref) = run_direction(cell, x, state, recurrent_dropout=0.3,
                                            zoneout=0.2, training=True)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(c, c_ref)


@pytest.mark.parametrize("name", ["lstm", "gru", "lnlstm"])
def test_stacked_bidirectional_layer_equals_loop(name):
    # float64: the two engines sum in different orders, which in float32 over two stacked
    # layers of random weights drifted past 1e-4 on one gradient element in ~1 seed of many
    torch.manual_seed(0)
    layer = Recurrent(name, input_size=8, hidden_size=12, num_layers=2, bidirectional=True,
                      recurrent_dropout=0.2, zoneout=0.1).double()
    x = torch.randn(15, 6, 8, dtype=torch.float64, requires_grad=True)  # (T, B, I)
    lengths = torch.tensor([15, 2, 9, 15, 1, 6])
    n = len(layer.cells[0].state_sizes)
    hx = tuple(torch.randn(4, 6, 12, dtype=torch.float64) for _ in range(n))
    hx = hx if n > 1 else hx[0]
    results = []
    for engine in ("loop", "kernel"):
        with use_engine(engine):
            torch.manual_seed(5)
            out, h_n = layer(x, hx, lengths=lengths)
        loss = out.square().mean() + sum(h.square().sum() for h in _parts(h_n))
        results.append([out, *_parts(h_n), *torch.autograd.grad(loss, [x, *layer.parameters()])])
    _assert_same(*results, rtol=1e-9, atol=1e-9)


def test_drop_in_layer_norm_lstm_batch_first_lengths():
    torch.manual_seed(0)  # the weights and inputs do not depend on the tests run before
    lstm = rnnkit.LSTM(10, 16, num_layers=2, bidirectional=True, batch_first=True,
                       layer_norm=True)
    x = torch.randn(5, 13, 10, requires_grad=True)
    lengths = torch.tensor([13, 1, 7, 13, 4])
    results = []
    for engine in ("loop", "kernel"):
        with use_engine(engine):
            out, (h, c) = lstm(x, lengths=lengths)
        loss = out.square().sum() + h.sum() + c.sum()
        results.append([out, h, c, *torch.autograd.grad(loss, [x, *lstm.parameters()])])
    _assert_same(*results, rtol=1e-4)


def test_engine_selection():
    cell = LSTMCell(3, 4)
    assert find_kernel(cell) is not None
    with use_engine("loop"):
        assert find_kernel(cell) is None
    with use_engine("kernel"):
        with pytest.raises(RuntimeError, match="no kernel"):
            find_kernel(LSTMCell(3, 4, proj_size=2))

    class Custom(LSTMCell):  # a subclass may change the step: it must not take the kernel
        pass

    assert find_kernel(Custom(3, 4)) is None
    with pytest.raises(ValueError):
        with use_engine("fast"):
            pass


@pytest.mark.parametrize("name", CELLS)
def test_kernel_in_no_grad_and_inference(name):
    """Under no_grad the kernel keeps no per-step storage; results are unchanged."""
    cell = make_cell(name, 5, 8)
    x = torch.randn(10, 4, 5)
    state = _random_state(cell, 4)
    options = dict(lengths=torch.tensor([10, 3, 7, 1]), reverse=True, zoneout=0.3)
    with torch.no_grad():
        with use_engine("loop"):
            ref, final_ref = run_direction(cell, x, state, **options)
        with use_engine("kernel"):
            out, final = run_direction(cell, x, state, **options)
    _assert_same([ref, *_parts(final_ref)], [out, *_parts(final)])


def test_autocast_takes_the_loop():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert find_kernel(LSTMCell(3, 4)) is None
        assert find_kernel(make_cell("mingru", 3, 4)) is not None  # the scan is plain torch


@pytest.mark.parametrize("name,options", itertools.product(["lstm", "gru"], [{}, {"bias": False}]))
def test_realistic_size_with_learned_initial_state(name, options):
    cell = make_cell(name, 32, 64, learn_initial_state=True, **options)
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = torch.randn(40, 16, 32, requires_grad=True)
    state = cell.init_state(16)
    _assert_same(_run("loop", cell, x, state), _run("kernel", cell, x, state))
