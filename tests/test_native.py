"""The compiled cell kernels (rnnkit/kernels/csrc/cells.cpp) against the ATen formulas, the
generic autograd loop and finite differences."""

import warnings

import pytest
import torch

from rnnkit.cells import make_cell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels import native, use_engine
from rnnkit.layers import run_direction

pytestmark = pytest.mark.skipif(
    not native.available(), reason="the compiled kernels are unavailable here (no C++ compiler "
    "or ninja, or RNNKIT_NATIVE=0); the ATen formulas are tested by test_kernels.py")

FAMILIES = ["lstm", "gru", "lnlstm", "lngru"]
OPTIONS = {
    "plain": {},  # no masks: the whole loop runs in compiled code
    "lengths": {"lengths": torch.tensor([7, 3, 5, 1, 7])},
    "dropout": {"recurrent_dropout": 0.3, "training": True},
    "zoneout": {"zoneout": 0.2, "training": True},
}


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


def _run(cell, x, state, engine="kernel", compiled=True, **options):
    with use_engine(engine), native.use_native(compiled):
        torch.manual_seed(11)
        out, final = run_direction(cell, x, state, **options)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    loss = (out * weights).sum() + sum((f * f.cos()).sum() for f in _parts(final))
    inputs = [x, *_parts(state), *cell.parameters()]
    return [out, *_parts(final), *torch.autograd.grad(loss, inputs, allow_unused=True)]


def _assert_close(a, b, tol):
    for u, v in zip(a, b, strict=True):
        if u is None or v is None:
            assert u is None and v is None
            continue
        torch.testing.assert_close(u, v, rtol=tol, atol=tol * max(1.0, v.abs().max().item()))


def _inputs(cell, T, B, dtype=torch.float32):
    x = torch.randn(T, B, cell.input_size, dtype=dtype, requires_grad=True)
    state = tuple(torch.randn(B, n, dtype=dtype, requires_grad=True) for n in cell.state_sizes)
    return x, (state if len(state) > 1 else state[0])


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("reverse", [False, True])
def test_compiled_equals_aten_and_loop(name, option, reverse):
    torch.manual_seed(0)
    cell = make_cell(name, 6, 16)
    x, state = _inputs(cell, 7, 5)
    options = dict(OPTIONS[option], reverse=reverse)
    compiled = _run(cell, x, state, **options)
    _assert_close(compiled, _run(cell, x, state, compiled=False, **options), 2e-5)
    _assert_close(compiled, _run(cell, x, state, engine="loop", **options), 2e-5)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_compiled_loop_gradcheck_float64(name, dropout):
    """The whole loop in C++ (no lengths or zoneout; with or without a recurrent-dropout
    mask) against finite differences."""
    torch.manual_seed(1)
    cell = make_cell(name, 3, 4).double()
    x, state = _inputs(cell, 5, 3, torch.float64)

    def f(x, *tensors):
        st = tensors[: len(cell.state_sizes)]
        with use_engine("kernel"):
            torch.manual_seed(9)  # the same dropout mask at every evaluation
            out, final = run_direction(cell, x, st if len(st) > 1 else st[0],
                                       recurrent_dropout=dropout, training=True)
        return out, *_parts(final)

    args = (x, *_parts(state), *cell.parameters())
    assert torch.autograd.gradcheck(f, args, atol=1e-6)


@pytest.mark.parametrize("name", FAMILIES)
def test_realistic_size_inference_and_training_agree(name):
    """B=32, H=256, float32: the compiled path with gradients (BPTT kernel) and without (the
    inference plan, kernels/plans.py: other, packed products) are each as accurate as the
    autograd loop against the same computation in float64 (layer norm magnifies float32
    rounding in all of them)."""
    torch.manual_seed(2)
    cell = make_cell(name, 64, 256)
    x, state = _inputs(cell, 40, 32)
    with use_engine("kernel"):
        out, _ = run_direction(cell, x, state)
        with torch.no_grad():
            out_eval, _ = run_direction(cell, x, state)
    with use_engine("loop"):
        out_loop, _ = run_direction(cell, x, state)
        exact, _ = run_direction(cell.double(), x.double(),
                                 tuple(s.double() for s in _parts(state))
                                 if isinstance(state, tuple) else state.double())
    error = (out.double() - exact).abs().max().item()
    eval_error = (out_eval.double() - exact).abs().max().item()
    loop_error = (out_loop.double() - exact).abs().max().item()
    assert error <= max(2 * loop_error, 1e-5), (error, loop_error)
    assert eval_error <= max(2 * loop_error, 1e-5), (eval_error, loop_error)


def test_activations_accurate_over_the_whole_range():
    """The compiled float32 exp: sigmoid/tanh within 2e-7 of torch from -100 to 100, NaN kept."""
    nat = native.load()
    B, H = 3, 4000
    pre = torch.linspace(-100, 100, 4 * H).repeat(B, 1)
    pre[0, 5] = float("nan")
    c = torch.zeros(B, H)
    act = pre.clone()
    c_new, tc, h = torch.empty(B, H), torch.empty(B, H), torch.empty(B, H)
    e = native.EMPTY
    nat.lstm_forward(act, c, e, e, 0.0, c_new, tc, h, e, e, e)
    ref = torch.cat([pre[:, :2 * H].sigmoid(), pre[:, 2 * H:3 * H].tanh(),
                     pre[:, 3 * H:].sigmoid()], 1)
    assert torch.isnan(act[0, 5])
    finite = ~torch.isnan(ref)
    torch.testing.assert_close(act[finite], ref[finite], rtol=0, atol=2e-7)


def test_failed_build_warns_and_falls_back(monkeypatch):
    import torch.utils.cpp_extension as cpp

    def broken(**kwargs):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(native, "_tried", False)
    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(cpp, "load", broken)
    with pytest.warns(RuntimeWarning, match="compiled cell kernels are unavailable"):
        assert native.load() is None
    assert native.ops_for(torch.zeros(1)) is None
    cell = make_cell("lnlstm", 3, 5)
    x, state = _inputs(cell, 4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not at every call
        kernel = _run(cell, x, state)
    _assert_close(kernel, _run(cell, x, state, engine="loop"), 2e-5)


# ---- minGRU / minLSTM: the compiled scan ---------------------------------------------------

def _scan_run(cell, x, h0, lengths, compiled):
    """Through the layers' engine: the compiled scan, or (compiled=False) the cell's own
    log-space scan."""
    with native.use_native(compiled), use_engine("kernel"):
        out, hT = run_direction(cell, x, h0, lengths=lengths)
    loss = (out * out.cos()).sum() + (hT * 3).sum()
    return [out, hT, *torch.autograd.grad(loss, [x, h0, *cell.parameters()])]


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
@pytest.mark.parametrize("lengths", [None, torch.tensor([9, 4, 1])])
def test_compiled_scan_equals_log_space_scan_and_steps(cls, lengths):
    torch.manual_seed(3)
    cell = cls(5, 8)
    x = torch.randn(9, 3, 5, requires_grad=True)
    h0 = torch.randn(3, 8, requires_grad=True)
    compiled = _scan_run(cell, x, h0, lengths, True)
    _assert_close(compiled, _scan_run(cell, x, h0, lengths, False), 2e-5)
    h, outs = h0, []  # the one-step mode, by hand
    for t in range(9):
        new, _ = cell(x[t], h)
        keep = torch.ones(3, 1) if lengths is None else (t < lengths).float().unsqueeze(1)
        h = keep * new + (1 - keep) * h
        outs.append(new * keep)
    torch.testing.assert_close(compiled[0], torch.stack(outs), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(compiled[1], h, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", [MinGRUCell, MinLSTMCell])
def test_compiled_scan_gradcheck_float64(cls):
    torch.manual_seed(4)
    cell = cls(3, 4).double()
    x = torch.randn(6, 3, 3, dtype=torch.float64, requires_grad=True) * 3
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 4])

    def f(x, h0, *params):
        with use_engine("kernel"):
            return run_direction(cell, x, h0, lengths=lengths)

    assert native.ops_for(x) is not None
    assert torch.autograd.gradcheck(f, (x, h0, *cell.parameters()), atol=1e-6)


def test_dropin_gru_takes_the_compiled_kernel_on_cpu():
    """rnnkit.GRU runs the compiled kernel on the CPU (measured faster than torch's) and still
    equals torch.nn.GRU; rnnkit.LSTM keeps torch's fused kernel."""
    import rnnkit

    torch.manual_seed(5)
    ours = rnnkit.GRU(4, 6, num_layers=2, bidirectional=True)
    ref = torch.nn.GRU(4, 6, num_layers=2, bidirectional=True)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(7, 3, 4, requires_grad=True)
    assert ours._engine_is_faster(x)
    with use_engine("loop"):
        assert not ours._engine_is_faster(x)
    assert not rnnkit.LSTM(4, 6)._engine_is_faster(x)
    calls = []
    original = ours.forward_loop
    ours.forward_loop = lambda *a, **k: calls.append(1) or original(*a, **k)
    out, h = ours(x)
    assert calls, "the drop-in GRU did not take rnnkit's engine"
    out_ref, h_ref = ref(x)
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h, h_ref, rtol=1e-5, atol=1e-5)
    g, = torch.autograd.grad(out.sum(), x)
    g_ref, = torch.autograd.grad(out_ref.sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_output_modified_in_place_is_refused(name):
    """The compiled loop returns its saved states as the output (no copy): autograd must
    refuse a backward after the caller changed that output in place, not compute a wrong
    gradient."""
    cell = make_cell(name, 3, 4)
    x, state = _inputs(cell, 5, 2)
    with use_engine("kernel"):
        out, _ = run_direction(cell, x, state)
    with pytest.raises(RuntimeError):
        out.mul_(2)
        out.sum().backward()


@pytest.mark.parametrize("name", FAMILIES)
def test_compiled_kernels_on_two_threads(name):
    """Rows split over threads (per-thread partial sums of the gain and bias gradients) give
    the same results as the ATen formulas. The suite runs on one thread: this test sets two."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(6)
        cell = make_cell(name, 5, 16)
        x, state = _inputs(cell, 6, 300)  # 300 rows: more than one task per step
        for options in ({}, OPTIONS["lengths"] | {"lengths": torch.randint(1, 7, (300,))}):
            compiled = _run(cell, x, state, **options)
            _assert_close(compiled, _run(cell, x, state, compiled=False, **options), 2e-5)
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("name", FAMILIES + ["mingru", "minlstm"])
@pytest.mark.parametrize("option", ["plain", "lengths", "dropout"])
def test_stacked_bidirectional_layer_compiled_equals_loop(name, option):
    """2 layers x 2 directions with a carried state: the compiled paths (whole loop for
    'plain' and 'dropout', per step for 'lengths') against the autograd loop."""
    from rnnkit.layers import Recurrent

    if name.startswith("min") and option == "dropout":
        pytest.skip("minGRU/minLSTM take no recurrent dropout (no recurrent weights)")
    torch.manual_seed(7)
    layer = Recurrent(name, input_size=5, hidden_size=8, num_layers=2, bidirectional=True,
                      recurrent_dropout=0.3 if option == "dropout" else 0.0)
    x = torch.randn(9, 4, 5, requires_grad=True)
    n = len(layer.cells[0].state_sizes)
    hx = tuple(torch.randn(4, 4, 8) for _ in range(n))
    hx = hx if n > 1 else hx[0]
    lengths = torch.tensor([9, 3, 6, 1]) if option == "lengths" else None
    results = []
    for engine in ("loop", "kernel"):
        with use_engine(engine):
            torch.manual_seed(5)
            out, h_n = layer(x, hx, lengths=lengths)
        loss = (out * out.sin()).sum() + sum(h.square().sum() for h in _parts(h_n))
        results.append([out, *_parts(h_n), *torch.autograd.grad(loss, [x, *layer.parameters()])])
    _assert_close(results[1], results[0], 2e-5)
