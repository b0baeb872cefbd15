"""The drop-ins against torch.nn: same parameters, outputs, states and gradients."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from rnnkit.kernels import use_engine

I, H, P, T, B = 5, 7, 4, 6, 3
TOL = 1e-5

CASES = [
    (ours, theirs, layers, bi, bf, bias, proj, hx, packed)
    for (ours, theirs, projs) in [
        (rnnkit.RNN, torch.nn.RNN, [0]),
        (rnnkit.LSTM, torch.nn.LSTM, [0, P]),
        (rnnkit.GRU, torch.nn.GRU, [0]),
    ]
    for layers, bi, bf, bias, proj, hx, packed in itertools.product(
        [1, 2, 3], [False, True], [False, True], [True, False], projs, [False, True],
        [False, True],
    )
]


def _pair(ours_cls, theirs_cls, **kw):
    theirs = theirs_cls(I, H, **kw)
    ours = ours_cls(I, H, **kw)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _initial_state(layer, batch):
    D = 2 if layer.bidirectional else 1
    n = layer.num_layers * D
    h0 = torch.randn(n, batch, layer.proj_size or H, dtype=torch.float32)
    if isinstance(layer, torch.nn.LSTM):
        return (h0, torch.randn(n, batch, H, dtype=torch.float32))
    return h0


def _flat(out):
    """Output and states as a flat list of tensors."""
    y, h = out
    y = y.data if hasattr(y, "batch_sizes") else y
    return [y, *(h if isinstance(h, tuple) else (h,))]


@pytest.mark.parametrize("ours_cls,theirs_cls,layers,bi,bf,bias,proj,use_hx,packed", CASES)
def test_dropin_equals_torch(ours_cls, theirs_cls, layers, bi, bf, bias, proj, use_hx, packed):
    kw = dict(num_layers=layers, bidirectional=bi, batch_first=bf, bias=bias)
    if proj:
        kw["proj_size"] = proj
    ours, theirs = _pair(ours_cls, theirs_cls, **kw)
    x = torch.randn(B, T, I, dtype=torch.float32) if bf else torch.randn(T, B, I)
    inp = x
    if packed:
        inp = pack_padded_sequence(x, torch.tensor([T, 2, 4]), batch_first=bf,
                                   enforce_sorted=False)
    hx = _initial_state(theirs, B) if use_hx else None
    a, b = _flat(ours(inp, hx)), _flat(theirs(inp, hx))
    for t1, t2 in zip(a, b):
        assert t1.shape == t2.shape
        torch.testing.assert_close(t1, t2, atol=TOL, rtol=0)
    weights = [torch.randn_like(t) for t in b]
    sum((w * t).sum() for w, t in zip(weights, a)).backward()
    sum((w * t).sum() for w, t in zip(weights, b)).backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=TOL, rtol=0, msg=name)


@pytest.mark.parametrize("ours_cls,theirs_cls", [
    (rnnkit.RNN, torch.nn.RNN), (rnnkit.LSTM, torch.nn.LSTM), (rnnkit.GRU, torch.nn.GRU),
])
def test_state_dict_round_trip_both_ways(ours_cls, theirs_cls):
    ours = ours_cls(I, H, num_layers=2, bidirectional=True)
    theirs = theirs_cls(I, H, num_layers=2, bidirectional=True)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict(ours.state_dict())
    for k, v in theirs.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k])


def test_unbatched_input_matches_torch():
    ours, theirs = _pair(rnnkit.LSTM, torch.nn.LSTM, num_layers=2)
    x = torch.randn(T, I, dtype=torch.float32)
    hx = (torch.randn(2, H, dtype=torch.float32), torch.randn(2, H, dtype=torch.float32))
    for t1, t2 in zip(_flat(ours(x, hx)), _flat(theirs(x, hx))):
        torch.testing.assert_close(t1, t2)


@pytest.mark.parametrize("engine", ["loop", "kernel"])
@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
@pytest.mark.parametrize("layers,bi", [(1, False), (2, True), (3, True)])
def test_loop_path_equals_fused_path(cls, layers, bi, engine):
    """torch's fused kernel (``auto`` could pick the engine for both sides) against the
    generic loop and the engine's kernels, each chosen explicitly."""
    layer = cls(I, H, num_layers=layers, bidirectional=bi, batch_first=True)
    x = torch.randn(B, T, I, dtype=torch.float32, requires_grad=True)
    lengths = torch.tensor([T, 1, 4])
    with use_engine("loop"):  # the drop-in's own forward: torch's fused kernel
        fused = _flat(layer(x, lengths=lengths))
    grads_fused = torch.autograd.grad(sum(t.sum() for t in fused), [x, *layer.parameters()])
    with use_engine(engine):
        loop = _flat(layer.forward_loop(x, lengths=lengths))
    grads_loop = torch.autograd.grad(sum(t.sum() for t in loop), [x, *layer.parameters()])
    for t1, t2 in zip(fused + list(grads_fused), loop + list(grads_loop)):
        torch.testing.assert_close(t1, t2, atol=TOL, rtol=0)


def test_default_options_take_the_fused_path(monkeypatch):
    layer = rnnkit.LSTM(I, H)
    assert not layer.uses_loop
    monkeypatch.setattr(type(layer), "forward_loop", lambda *a, **k: pytest.fail("loop taken"))
    layer(torch.randn(T, B, I))
    layer(torch.randn(T, B, I), lengths=torch.tensor([T, 2, 3]))


def test_lengths_on_fused_path_equal_torch_packed():
    ours, theirs = _pair(rnnkit.GRU, torch.nn.GRU, num_layers=2, bidirectional=True,
                         batch_first=True)
    x = torch.randn(B, T, I, dtype=torch.float32)
    lengths = torch.tensor([3, T, 1])
    out, h = ours(x, lengths=lengths)
    ref_out, ref_h = theirs(pack_padded_sequence(x, lengths, batch_first=True,
                                                 enforce_sorted=False))
    ref_out, _ = torch.nn.utils.rnn.pad_packed_sequence(ref_out, batch_first=True,
                                                         total_length=T)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)


@pytest.mark.parametrize("ours_cls, theirs_cls", [(rnnkit.RNN, torch.nn.RNN),
                                                  (rnnkit.LSTM, torch.nn.LSTM),
                                                  (rnnkit.GRU, torch.nn.GRU)])
@pytest.mark.parametrize("layers, bi", [(1, False), (2, True)])
def test_an_empty_batch_runs_forward_and_backward_as_torch_nn(ours_cls, theirs_cls, layers, bi):
    """A batch of no sequences (T, 0, I): the same empty outputs and states as torch.nn,
    and zero gradients (rnnkit's compiled GRU backward once failed to reshape it)."""
    torch.manual_seed(0)
    ours, theirs = _pair(ours_cls, theirs_cls, num_layers=layers, bidirectional=bi)
    results = []
    for layer in (ours, theirs):
        x = torch.randn(T, 0, I, requires_grad=True)
        out, state = layer(x)
        h = state[0] if isinstance(state, tuple) else state
        (out.sum() + h.sum()).backward()
        grads = [p.grad for p in layer.parameters()]
        results.append((out.shape, h.shape, x.grad.shape, grads))
    (o_out, o_h, o_dx, o_grads), (t_out, t_h, t_dx, t_grads) = results
    assert (o_out, o_h, o_dx) == (t_out, t_h, t_dx) == ((T, 0, H * (1 + bi)),
                                                        (layers * (1 + bi), 0, H), (T, 0, I))
    for a, b in zip(o_grads, t_grads):
        torch.testing.assert_close(a, b)
        assert not a.any()


@pytest.mark.parametrize("ours_cls, theirs_cls", [(rnnkit.RNN, torch.nn.RNN),
                                                  (rnnkit.LSTM, torch.nn.LSTM),
                                                  (rnnkit.GRU, torch.nn.GRU)])
def test_bad_inputs_raise_what_torch_nn_raises(ours_cls, theirs_cls):
    """Code written against torch.nn catches the error type torch.nn raises; each of the
    drop-ins' errors is that type too (and still the ValueError/TypeError it documents)."""
    ours, theirs = _pair(ours_cls, theirs_cls)
    lstm = theirs_cls is torch.nn.LSTM

    def state(*shape, dtype=torch.float32):
        h = torch.zeros(*shape, dtype=dtype)
        return (h, h) if lstm else h

    cases = [
        (torch.randn(T, B, I + 1),),  # features
        (torch.randn(T, B, I), state(2, B, H)),  # a state's shape
        (torch.randn(T, B, I), state(1, B, H, dtype=torch.float64)),  # a state's dtype
        (torch.ones(T, B, I, dtype=torch.long),),  # an integer input
        (torch.randn(T, B, I, dtype=torch.float64),),  # not the weights' dtype
        (torch.randn(T, I), state(1, 1, H)),  # a batched state for one sequence
    ]
    for args in cases:
        with pytest.raises(Exception) as theirs_error:
            theirs(*args)
        with pytest.raises(type(theirs_error.value)):
            ours(*args)
    from rnnkit.layers.checks import DtypeError, ShapeError

    assert issubclass(ShapeError, ValueError) and issubclass(DtypeError, TypeError)


@pytest.mark.parametrize("ours_cls, theirs_cls", [(rnnkit.RNN, torch.nn.RNN),
                                                  (rnnkit.LSTM, torch.nn.LSTM),
                                                  (rnnkit.GRU, torch.nn.GRU)])
def test_traced_and_exported_drop_ins_compute_what_torch_nn_does(ours_cls, theirs_cls):
    """torch.jit.trace (with its re-run check) and torch.export capture the drop-ins as they
    capture torch.nn's layers, and the captured graphs give torch.nn's outputs on a new
    input. (rnnkit's compiled GRU kernel is opaque to both: under capture the fused op
    runs.)"""
    import warnings

    torch.manual_seed(0)
    ours, theirs = _pair(ours_cls, theirs_cls, num_layers=2, bidirectional=True)
    x, new = torch.randn(T, B, I), torch.randn(T + 2, B, I)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the tracer's notes on shape checks)
        traced = torch.jit.trace(ours, (x,))
    exported = torch.export.export(ours, (x,)).module()
    for captured, inputs in ((traced, new), (exported, x)):
        torch.testing.assert_close(_flat(captured(inputs)), _flat(theirs(inputs)), rtol=TOL,
                                   atol=TOL)
