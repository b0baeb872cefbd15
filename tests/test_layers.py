"""The loop over time: cells vs torch.nn cells, lengths, directions, options, initialisation."""

import contextlib

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cells import Cell, GRUCell, LayerNormGRUCell, LayerNormLSTMCell, LSTMCell, RNNCell
from rnnkit.kernels import native, use_engine
from rnnkit.layers import Recurrent, reverse_padded
from rnnkit.reference import GRU as RefGRU
from rnnkit.reference import LSTM as RefLSTM
from rnnkit.reference import ElmanRNN

I, H, T, B = 4, 6, 7, 3
CELL_NAMES = ["rnn", "rnn_relu", "lstm", "gru", "lnlstm", "lngru"]
# Each path of Recurrent run explicitly, not whichever ``auto`` picks on this machine: the
# generic autograd loop, the engine's BPTT kernels (a gradient will be asked for) and its
# compiled inference loop (no gradient). "kernel" raises where no kernel serves the cell.
PATHS = ["loop", "kernel", "kernel-nograd"]


@contextlib.contextmanager
def on_path(path):
    """Run the block on ``path`` (one of PATHS)."""
    if path == "kernel-nograd" and native.load() is None:
        pytest.skip("the compiled inference loop needs the native extension")
    grad = torch.no_grad() if path == "kernel-nograd" else contextlib.nullcontext()
    with use_engine("loop" if path == "loop" else "kernel"), grad:
        yield


@pytest.mark.parametrize("ours,theirs", [
    (RNNCell, torch.nn.RNNCell), (LSTMCell, torch.nn.LSTMCell), (GRUCell, torch.nn.GRUCell),
])
def test_cells_equal_torch_cells(ours, theirs):
    ref = theirs(I, H)
    cell = ours(I, H)
    cell.load_state_dict(ref.state_dict())
    x = torch.randn(B, I)
    state = cell.init_state(B)
    state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else \
        torch.randn_like(state)
    y, new = cell(x, state)
    expected = ref(x, state)
    if isinstance(new, tuple):
        torch.testing.assert_close(new[0], expected[0])
        torch.testing.assert_close(new[1], expected[1])
        torch.testing.assert_close(y, expected[0])
    else:
        torch.testing.assert_close(new, expected)
        torch.testing.assert_close(y, expected)


def test_layer_norm_lstm_cell_equals_its_equations():
    cell = LayerNormLSTMCell(I, H)
    with torch.no_grad():
        for p in cell.parameters():
            p.normal_()
    x, h, c = torch.randn(B, I), torch.randn(B, H), torch.randn(B, H)

    def ln(v, gain, shift=None):  # independent: mean/variance by hand, eps=1e-5
        mu = v.mean(-1, keepdim=True)
        var = v.var(-1, unbiased=False, keepdim=True)
        out = (v - mu) / torch.sqrt(var + 1e-5) * gain
        return out if shift is None else out + shift

    def blocks(v, gain):
        return torch.cat([ln(b, g) for b, g in zip(v.chunk(4, -1), gain.chunk(4))], -1)

    gates = blocks(x @ cell.weight_ih.T, cell.ln_ih_weight) + cell.bias_ih + \
        blocks(h @ cell.weight_hh.T, cell.ln_hh_weight) + cell.bias_hh
    i, f, g, o = gates.chunk(4, -1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h_new = o.sigmoid() * ln(c_new, cell.ln_c_weight, cell.ln_c_bias).tanh()
    y, (h2, c2) = cell(x, (h, c))
    torch.testing.assert_close(c2, c_new)
    torch.testing.assert_close(h2, h_new)


def test_layer_norm_gru_with_unit_gains_is_invariant_to_weight_scale():
    cell = LayerNormGRUCell(I, H, eps=1e-12).double()
    x, h = torch.randn(B, I).double(), torch.randn(B, H).double()
    y1, _ = cell(x, h)
    with torch.no_grad():
        cell.weight_ih.mul_(7.0)
        cell.weight_hh.mul_(3.0)
    y2, _ = cell(x, h)
    torch.testing.assert_close(y1, y2)


def _hand_loop(cell, x, state):
    outs = []
    for t in range(x.shape[0]):
        y, state = cell(x[t], state)
        outs.append(y)
    return torch.stack(outs), state


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", CELL_NAMES)
def test_recurrent_equals_hand_loop_over_its_cell(name, path):
    layer = Recurrent(name, input_size=I, hidden_size=H)
    x = torch.randn(T, B, I)
    with on_path(path):
        out, h_n = layer(x)
    ref_out, ref_state = _hand_loop(layer.layers[0][0], x, layer.layers[0][0].init_state(B))
    torch.testing.assert_close(out, ref_out)
    first = h_n[0] if isinstance(h_n, tuple) else h_n
    ref_first = ref_state[0] if isinstance(ref_state, tuple) else ref_state
    torch.testing.assert_close(first[0], ref_first)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", CELL_NAMES)
@pytest.mark.parametrize("layers,bi", [(1, True), (2, True), (2, False)])
def test_padded_batch_with_lengths_equals_each_sequence_alone(name, layers, bi, path):
    layer = Recurrent(name, input_size=I, hidden_size=H, num_layers=layers, bidirectional=bi,
                      batch_first=True)
    lengths = torch.tensor([T, 2, 5])
    x = torch.randn(B, T, I)
    x[1, 2:] = 99.0  # padding must not matter
    with on_path(path):
        out, h_n = layer(x, lengths=lengths)
    # Batch of 3 vs batch of 1 changes the matrix products' rounding, which layer norm
    # magnifies (dividing by a block's deviation): float32 noise, far below a masking error.
    atol = 1e-5 if name.startswith("ln") else 1e-6
    for b in range(B):
        n = int(lengths[b])
        with use_engine("loop"):
            alone, h_alone = layer(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0], atol=atol, rtol=1e-5)
        assert torch.all(out[b, n:] == 0)
        for got, want in zip(_parts(h_n), _parts(h_alone)):
            torch.testing.assert_close(got[:, b], want[:, 0], atol=atol, rtol=1e-5)


@pytest.mark.parametrize("path", ["fused", *PATHS])
@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_dropin_lengths_equal_each_sequence_alone(cls, path):
    """torch's fused kernel (packed) and each path of rnnkit's loop, against the sequences
    run alone on the loop."""
    layer = cls(I, H, num_layers=2, bidirectional=True)
    lengths = torch.tensor([4, T, 1])
    x = torch.randn(T, B, I)
    with on_path("loop" if path == "fused" else path):
        run = layer if path == "fused" else layer.forward_loop
        out, h_n = run(x, lengths=lengths)
    for b in range(B):
        n = int(lengths[b])
        with use_engine("loop"):
            alone, h_alone = layer.forward_loop(x[:n, b : b + 1])
        torch.testing.assert_close(out[:n, b], alone[:, 0], atol=1e-6, rtol=1e-5)
        assert torch.all(out[n:, b] == 0)
        for got, want in zip(_parts(h_n), _parts(h_alone)):
            torch.testing.assert_close(got[:, b], want[:, 0], atol=1e-6, rtol=1e-5)


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


def test_reverse_padded_reverses_within_length_and_is_an_involution():
    x = torch.arange(T * B).view(T, B, 1).float()
    lengths = torch.tensor([T, 3, 1])
    r = reverse_padded(x, lengths)
    assert r[:3, 1, 0].tolist() == x[:3, 1, 0].flip(0).tolist()
    assert r[3:, 1, 0].tolist() == x[3:, 1, 0].tolist()
    assert torch.equal(reverse_padded(r, lengths), x)


@pytest.mark.parametrize("mode,fn", [
    ("sum", lambda f, b: f + b), ("mean", lambda f, b: (f + b) / 2), ("mul", lambda f, b: f * b),
])
def test_merge_modes_combine_the_two_directions(mode, fn):
    concat = rnnkit.GRU(I, H, bidirectional=True)
    merged = rnnkit.GRU(I, H, bidirectional=True, merge_mode=mode)
    merged.load_state_dict(concat.state_dict())
    x = torch.randn(T, B, I)
    out, _ = concat(x)
    f, b = out.chunk(2, -1)
    torch.testing.assert_close(merged(x)[0], fn(f, b))
    torch.testing.assert_close(merged.forward_loop(x)[0], fn(f, b))


def test_stacked_merge_mode_sizes_the_next_layer():
    layer = rnnkit.LSTM(I, H, num_layers=2, bidirectional=True, merge_mode="sum")
    assert layer.weight_ih_l1.shape == (4 * H, H)
    assert layer.uses_loop
    out, _ = layer(torch.randn(T, B, I))
    assert out.shape == (T, B, H)


def test_irnn_initial_recurrent_weight_is_identity():
    rnn = rnnkit.RNN(I, H, nonlinearity="relu", init="identity", num_layers=2)
    for name in ("weight_hh_l0", "weight_hh_l1"):
        assert torch.equal(getattr(rnn, name), torch.eye(H))
    assert torch.all(rnn.bias_ih_l0 == 0) and torch.all(rnn.bias_hh_l0 == 0)
    assert rnn.weight_ih_l0.abs().max() < 0.01


def test_orthogonal_init_gives_orthogonal_gate_blocks():
    lstm = rnnkit.LSTM(I, H, init="orthogonal")
    for block in lstm.weight_hh_l0.split(H):
        torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)


def test_xavier_init_bounds():
    gru = rnnkit.GRU(I, H, init="xavier")
    bound = (6 / (I + H)) ** 0.5
    assert gru.weight_ih_l0.abs().max() <= bound
    assert torch.all(gru.bias_hh_l0 == 0)


def test_forget_bias_sets_the_forget_block():
    lstm = rnnkit.LSTM(I, H, forget_bias=1.0)
    total = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.all(total[H : 2 * H] == 1.0)
    ln = rnnkit.LSTM(I, H, layer_norm=True, forget_bias=2.0)
    assert torch.all((ln.bias_ih_l0 + ln.bias_hh_l0)[H : 2 * H] == 2.0)


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.GRU, rnnkit.RNN])
def test_learned_initial_state_is_used_and_trained(cls):
    layer = cls(I, H, num_layers=2, bidirectional=True, learn_initial_state=True)
    names = [n for n, _ in layer.named_parameters() if n.startswith("initial_")]
    assert "initial_h_l1_reverse" in names
    with torch.no_grad():
        for n, p in layer.named_parameters():
            if n.startswith("initial_"):
                p.normal_()
    x = torch.randn(T, B, I)
    fused, loop = layer(x), layer.forward_loop(x)
    torch.testing.assert_close(fused[0], loop[0], atol=1e-5, rtol=1e-5)
    fused[0].sum().backward()
    assert layer.initial_h_l0.grad is not None and layer.initial_h_l0.grad.abs().sum() > 0


class _SpyCell(Cell):
    """Wraps a cell and records the recurrent masks it is given."""

    supports_recurrent_mask = True

    def __init__(self, cell):
        super().__init__()
        self.cell, self.masks = cell, []
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size

    @property
    def state_sizes(self):
        return self.cell.state_sizes

    def init_state(self, *a, **k):
        return self.cell.init_state(*a, **k)

    def forward(self, x_t, state, recurrent_mask=None):
        self.masks.append(recurrent_mask)
        return self.cell(x_t, state, recurrent_mask)


def test_recurrent_dropout_mask_is_the_same_at_every_step_and_off_in_eval():
    spy = _SpyCell(LSTMCell(I, 64))
    layer = Recurrent(lambda n: spy, input_size=I, recurrent_dropout=0.5)
    layer.train()
    layer(torch.randn(T, B, I))
    masks = spy.masks
    assert len(masks) == T and masks[0] is not None
    assert all(torch.equal(m, masks[0]) for m in masks)
    values = set(masks[0].unique().tolist())
    assert values == {0.0, 2.0}  # inverted dropout: kept units scaled by 1/(1-p)
    spy.masks.clear()
    layer.eval()
    layer(torch.randn(T, B, I))
    assert all(m is None for m in spy.masks)


def test_recurrent_dropout_in_eval_equals_plain_and_in_training_differs():
    plain = rnnkit.LSTM(I, H)
    dropped = rnnkit.LSTM(I, H, recurrent_dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(T, B, I)
    dropped.eval()
    torch.testing.assert_close(dropped(x)[0], plain(x)[0])
    dropped.train()
    assert not torch.allclose(dropped(x)[0], plain(x)[0])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_zoneout_eval_is_the_expectation(name, path):
    """h_t = p h_{t-1} + (1 - p) h~_t (and c likewise) for every state part, with lengths."""
    p = 0.3
    layer = Recurrent(name, input_size=I, hidden_size=H, zoneout=p).eval()
    cell = layer.layers[0][0]
    x = torch.randn(T, B, I)
    lengths = torch.tensor([T, 3, 5])
    outs = torch.zeros(T, B, H)
    for b in range(B):
        state = cell.init_state(1)
        for t in range(int(lengths[b])):
            _, new = cell(x[t, b : b + 1], state)
            if isinstance(state, tuple):
                state = tuple(p * s + (1 - p) * n for s, n in zip(state, new))
            else:
                state = p * state + (1 - p) * new
            outs[t, b] = state[0][0] if isinstance(state, tuple) else state[0]
    with on_path(path):
        got = layer(x, lengths=lengths)[0]
    torch.testing.assert_close(got, outs.detach())


@pytest.mark.parametrize("path", ["loop", "kernel"])
def test_zoneout_training_keeps_some_previous_units(path):
    layer = Recurrent("lstm", input_size=I, hidden_size=32, zoneout=0.5).train()
    x = torch.randn(2, B, I)
    with on_path(path):
        out, _ = layer(x)
    # at t=1 about half the units of h equal their value at t=0
    same = (out[1] == out[0]).float().mean()
    assert 0.3 < same < 0.7


@pytest.mark.parametrize("ref_cls,cell_cls", [(ElmanRNN, RNNCell), (RefLSTM, LSTMCell),
                                              (RefGRU, GRUCell)])
def test_numpy_reference_gradients_equal_rnnkit_cells(ref_cls, cell_cls):
    rng = np.random.default_rng(0)
    ref = ref_cls(I, H, 5, seed=1)
    xs, ys = rng.normal(size=(T, I)), rng.integers(0, 5, size=T)
    _, grads = ref.loss_and_grads(xs, ys)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in ref.params().items()}
    cell = cell_cls(I, H).double()
    if ref_cls is ElmanRNN:
        mapping = {"weight_ih": "U", "weight_hh": "W", "bias_ih": "b"}
        cell.bias_hh = None
    else:
        mapping = {"weight_ih": "W_ih", "weight_hh": "W_hh", "bias_ih": "b_ih", "bias_hh": "b_hh"}
    for ours, theirs in mapping.items():
        setattr(cell, ours, torch.nn.Parameter(params[theirs]))
    layer = Recurrent(lambda n: cell, input_size=I)
    out, _ = layer(torch.tensor(xs).unsqueeze(1))
    logits = out[:, 0] @ params["V"].T + params["c"]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(ys), reduction="sum")
    loss.backward()
    for ours, theirs in mapping.items():
        np.testing.assert_allclose(getattr(cell, ours).grad.numpy(), grads[theirs], rtol=1e-7,
                                   atol=1e-10)
    np.testing.assert_allclose(params["V"].grad.numpy(), grads["V"], rtol=1e-7, atol=1e-10)


def test_recurrent_rejects_a_module_that_is_not_a_cell():
    """The loop reads the capabilities Cell declares; a bare module is refused by name."""
    with pytest.raises(TypeError, match="made a Linear, not a rnnkit.cells.Cell"):
        Recurrent(lambda n: torch.nn.Linear(n, H), input_size=I)


def test_recurrent_with_a_no_argument_factory():
    layer = Recurrent(lambda: GRUCell(I, H), bidirectional=True, merge_mode="sum",
                      num_layers=1)
    assert layer.input_size == I and len(layer.cells) == 2
    assert layer.cells[0] is not layer.cells[1]
    out, h_n = layer(torch.randn(T, B, I))
    assert out.shape == (T, B, H) and h_n.shape == (2, B, H)
    stacked = Recurrent(lambda: GRUCell(H, H), num_layers=2)  # every layer's input is H
    assert stacked(torch.randn(T, B, H))[0].shape == (T, B, H)
    with pytest.raises(ValueError, match="input_size=4, but this layer's input has 6"):
        Recurrent(lambda: GRUCell(I, H), num_layers=2)
    with pytest.raises(ValueError, match="pass input_size="):
        Recurrent(lambda n: GRUCell(n, H))


@pytest.mark.parametrize("make", [
    lambda: rnnkit.LSTM(4, 8, layer_norm=True),
    lambda: rnnkit.GRU(4, 8, recurrent_dropout=0.2),
    lambda: rnnkit.Recurrent("lngru", input_size=4, hidden_size=8),
])
def test_an_input_of_another_dtype_names_both_dtypes_on_the_loop_paths(make):
    layer = make()
    with pytest.raises(ValueError, match=r"input dtype \(torch.float64\) does not match the "
                                         r"layer's parameters \(torch.float32\)"):
        layer(torch.randn(5, 2, 4, dtype=torch.float64))
    out, _ = layer.double()(torch.randn(5, 2, 4, dtype=torch.float64))  # converted: works
    assert out.dtype == torch.float64


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn", "lngru", "mingru"])
def test_a_layer_is_captured_by_export_and_trace_with_its_own_numbers(cell):
    """torch.export and torch.jit.trace (with its re-run check) record the layer's plain ops,
    never the compiled kernels they cannot see into, and the captured graph gives the
    eager layer's outputs (trace: at the traced length, its loop being unrolled)."""
    import warnings

    torch.manual_seed(0)
    layer = Recurrent(cell, input_size=3, hidden_size=4, batch_first=True, num_layers=2,
                      bidirectional=True).eval()
    x, other = torch.randn(2, 6, 3), torch.randn(2, 6, 3)
    exported = torch.export.export(layer, (x,)).module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the tracer's notes on shape checks)
        traced = torch.jit.trace(layer, (x,))
    for captured in (exported, traced):
        got, want = captured(other), layer(other)
        torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-6)
        want_h = want[1] if isinstance(want[1], tuple) else (want[1],)
        got_h = got[1] if isinstance(got[1], tuple) else (got[1],)
        for a, b in zip(got_h, want_h):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
