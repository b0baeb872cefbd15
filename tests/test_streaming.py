"""The layers' step mode (``layer.step(x_t, state)``) and the compiled inference plans behind
it, against the layers run on whole sequences (rnnkit/layers/stepping.py,
rnnkit/kernels/plans.py, rnnkit/kernels/csrc/step.h)."""

import copy
import itertools

import pytest
import torch

import rnnkit
from rnnkit.cells import CELLS as REGISTERED
from rnnkit.kernels import native, plans, use_engine
from rnnkit.layers import Recurrent
from rnnkit.models import LanguageModel
from rnnkit.models.piano_roll import PianoRollLM

compiled = pytest.mark.skipif(not native.available(), reason="the compiled kernels are "
                              "unavailable here (no C++ compiler, or RNNKIT_NATIVE=0)")

# drop-in class and options: every built-in cell family, stacked, with the extras
DROP_INS = {
    "rnn": (rnnkit.RNN, {}),
    "rnn_relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, {}),
    "lstm_proj": (rnnkit.LSTM, {"proj_size": 5}),
    "gru": (rnnkit.GRU, {}),
    "lnlstm": (rnnkit.LSTM, {"layer_norm": True}),
    "lngru": (rnnkit.GRU, {"layer_norm": True}),
    "lstm_learned": (rnnkit.LSTM, {"learn_initial_state": True, "forget_bias": 1.0}),
    "gru_nobias": (rnnkit.GRU, {"bias": False}),
    "lstm_zoneout": (rnnkit.LSTM, {"zoneout": 0.3}),
}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


def _perturbed(layer):
    """Random parameters everywhere (gains and learned initial states too), so that no term
    of the step can be wrong without showing."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return layer


def _stepped(layer, x, state=None):
    """Step through x (B, T, I) (batch_first) or (T, B, I): outputs stacked, final state."""
    T = x.shape[1] if layer.batch_first else x.shape[0]
    ys = []
    for t in range(T):
        y, state = layer.step(x[:, t] if layer.batch_first else x[t], state)
        ys.append(y)
    return torch.stack(ys, 1 if layer.batch_first else 0), state


def _assert_close(a, b, dtype):
    tol = TOL[dtype]
    for u, v in zip(_parts(a), _parts(b)):
        torch.testing.assert_close(u, v, rtol=tol, atol=tol)


def _count_compiled_steps(monkeypatch):
    calls = []
    step = plans.Plan.step

    def counting(self, *args):
        calls.append(1)
        return step(self, *args)

    monkeypatch.setattr(plans.Plan, "step", counting)
    return calls


@compiled
@pytest.mark.parametrize("name,dtype,batch", [
    (n, d, b) for n, d, b in itertools.product(DROP_INS, TOL, [1, 5])
    if b == 1 or d == torch.float32
])
def test_step_equals_whole_sequence(name, dtype, batch, monkeypatch):
    """Iterated steps equal forward on the whole sequence, outputs and final state, on the
    compiled step path; forward is run with gradients (the BPTT kernels or torch's fused
    kernel: another code path) and without."""
    cls, options = DROP_INS[name]
    layer = _perturbed(cls(7, 16, num_layers=3, batch_first=True, **options)).to(dtype).eval()
    x = torch.randn(batch, 12, 7, dtype=dtype)
    out, h_n = layer(x)  # with gradients recorded
    with torch.no_grad():
        out_ng, h_ng = layer(x)
        calls = _count_compiled_steps(monkeypatch)
        ys, state = _stepped(layer, x)
    assert len(calls) == 12, "the step should take the compiled plan"
    _assert_close(ys, out.detach(), dtype)
    _assert_close(state, tuple(h.detach() for h in _parts(h_n)), dtype)
    _assert_close(ys, out_ng, dtype)
    _assert_close(state, h_ng, dtype)


@compiled
@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_recurrent_step_equals_whole_sequence(name):
    """Every registered cell in Recurrent, stacked: steps equal forward (built-in cells run
    the compiled plan, the others forward on length-1 sequences)."""
    torch.manual_seed(0)
    layer = _perturbed(Recurrent(name, input_size=6, hidden_size=9, num_layers=2)).eval()
    x = torch.randn(10, 3, 6)
    with torch.no_grad():
        out, h_n = layer(x)
        ys, state = _stepped(layer, x)
    _assert_close(ys, out, torch.float32)
    _assert_close(state, h_n, torch.float32)


@compiled
def test_step_continues_forward_and_starts_from_a_given_state():
    layer = _perturbed(rnnkit.LSTM(4, 8, num_layers=2)).eval()
    x = torch.randn(9, 2, 4)
    h0 = (torch.randn(2, 2, 8), torch.randn(2, 2, 8))
    with torch.no_grad():
        out, h_n = layer(x, h0)
        head, h_mid = layer(x[:4], h0)
        ys, state = _stepped(layer, x[4:], h_mid)
    _assert_close(torch.cat([head, ys]), out, torch.float32)
    _assert_close(state, h_n, torch.float32)


@compiled
@pytest.mark.parametrize("name", ["lstm", "gru", "lnlstm", "lstm_proj"])
def test_returned_state_is_never_overwritten(name):
    """The state (and output) returned by step t are unchanged after steps t+1, t+2."""
    cls, options = DROP_INS[name]
    layer = _perturbed(cls(3, 6, num_layers=2, **options)).eval()
    x = torch.randn(4, 1, 3)
    with torch.no_grad():
        y0, s0 = layer.step(x[0])
        kept = [t.clone() for t in (y0, *_parts(s0))]
        y1, s1 = layer.step(x[1], s0)
        layer.step(x[2], s1)
        layer.step(x[3], s0)  # the same state again: stepping is a pure function
    for before, after in zip(kept, (y0, *_parts(s0))):
        assert torch.equal(before, after)
    assert all(a.data_ptr() != b.data_ptr() for a, b in zip(_parts(s0), _parts(s1)))


@compiled
def test_plan_follows_parameter_changes():
    """In-place updates (an optimizer step), load_state_dict and .double() are seen by the
    next step (the packed weights are rebuilt)."""
    layer = rnnkit.GRU(3, 5, num_layers=2).eval()
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        _stepped(layer, x)
        layer.weight_hh_l1.mul_(-1.5)
        ys, _ = _stepped(layer, x)
        _assert_close(ys, layer(x)[0], torch.float32)
        other = rnnkit.GRU(3, 5, num_layers=2)
        layer.load_state_dict(other.state_dict())
        ys, _ = _stepped(layer, x)
        _assert_close(ys, other.eval()(x)[0], torch.float32)
        layer.double()
        ys, _ = _stepped(layer, x.double())
        _assert_close(ys, layer(x.double())[0], torch.float64)


@compiled
def test_module_with_a_plan_copies_and_pickles(tmp_path):
    layer = rnnkit.LSTM(3, 4).eval()
    with torch.no_grad():
        layer.step(torch.randn(1, 3))
    twin = copy.deepcopy(layer)
    torch.save(layer, tmp_path / "layer.pt")
    x = torch.randn(5, 1, 3)
    with torch.no_grad():
        _assert_close(_stepped(twin, x)[0], _stepped(layer, x)[0], torch.float32)


def test_step_with_gradients_takes_forward_and_backpropagates():
    layer = rnnkit.LSTM(3, 4, num_layers=2, dropout=0.5)  # training mode, dropout: forward
    x = torch.randn(5, 2, 3, requires_grad=True)
    torch.manual_seed(3)
    ys, _ = _stepped(layer, x)
    ys.sum().backward()
    assert x.grad is not None and layer.weight_ih_l0.grad is not None
    layer.eval()
    with torch.no_grad():
        ref = layer(x)[0]
    ys, _ = _stepped(layer, x)  # eval, gradients recorded: forward on length-1 sequences
    _assert_close(ys.detach(), ref, torch.float32)


def test_step_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="unidirectional"):
        rnnkit.GRU(3, 4, bidirectional=True).step(torch.randn(1, 3))
    layer = rnnkit.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size=3"):
        layer.step(torch.randn(1, 5, 3))
    with torch.no_grad(), pytest.raises(ValueError):
        layer.step(torch.randn(2, 3), torch.zeros(2, 2, 4))  # an LSTM state is (h, c)
    with torch.no_grad(), pytest.raises(ValueError, match="shape"):
        layer.step(torch.randn(2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))


@compiled
@pytest.mark.parametrize("B,I,H", [(1, 1, 1), (2, 17, 15), (4, 5, 33), (7, 40, 31),
                                   (9, 3, 16), (13, 70, 20)])
def test_odd_sizes(B, I, H):
    """Sizes that are not multiples of the vector width, and every row-block size of the
    packed products (1..9 rows and more)."""
    for cls in (rnnkit.LSTM, rnnkit.GRU):
        layer = _perturbed(cls(I, H, num_layers=2)).double().eval()
        x = torch.randn(3, B, I, dtype=torch.float64)
        with torch.no_grad():
            ys, state = _stepped(layer, x)
            with use_engine("loop"):
                out, h_n = layer.forward_loop(x)
        _assert_close(ys, out, torch.float64)
        _assert_close(state, h_n, torch.float64)


@compiled
@pytest.mark.parametrize("cell", ["lstm", "gru", "lnlstm"])
def test_language_model_step_equals_forward(cell):
    lm = _perturbed(LanguageModel(vocab_size=11, cell=cell, hidden_size=8, num_layers=2)).eval()
    ids = torch.randint(0, 11, (2, 7))
    with torch.no_grad():
        logits = lm(ids).logits
        state, steps = None, []
        for t in range(ids.shape[1]):
            out, state = lm.step(ids[:, t], state)
            steps.append(out)
    _assert_close(torch.stack(steps, 1), logits, torch.float32)


@compiled
def test_piano_roll_step_equals_forward():
    lm = _perturbed(PianoRollLM(num_units=10, cell="gru", hidden_size=8, num_layers=2)).eval()
    frames = (torch.rand(1, 6, 10) > 0.5).float()
    with torch.no_grad():
        logits = lm(frames).logits
        state, steps = None, []
        for t in range(frames.shape[1]):
            out, state = lm.step(frames[:, t], state)
            steps.append(out)
    _assert_close(torch.stack(steps, 1), logits, torch.float32)
