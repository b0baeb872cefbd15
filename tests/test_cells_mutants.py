"""The Elman cell and the layer-normalised LSTM/GRU cells against independent references.

- ``RNNCell`` against torch.nn.RNN stepped over a sequence with copied weights, its gate
  statistics (``h`` = the tanh output itself) and its error message.
- ``LayerNormLSTMCell`` / ``LayerNormGRUCell`` against Ba, Kiros & Hinton (2016) written out
  below in NumPy: per gate block of H units,

      LN(a; g, b) = g * (a - mean(a)) / sqrt(var(a) + eps) + b     (biased variance)

  LSTM:  (i, f, g, o) = LN(W_ih x; g_ih, b_ih) + LN(W_hh h; g_hh, b_hh)
         c' = σ(f) c + σ(i) tanh(g),   h' = σ(o) tanh(LN(c'; g_c, b_c))
  GRU:   (a_r, a_z, a_n) = LN(W_ih x; g_ih, b_ih),  (b_r, b_z, b_n) = LN(W_hh h; g_hh, b_hh)
         r = σ(a_r + b_r),  z = σ(a_z + b_z),  n = tanh(a_n + r b_n),  h' = (1 - z) n + z h

  with parameters drawn in NumPy and loaded by name (so the names and shapes are checked
  too), a non-default eps, gradients against central differences of the NumPy form, the gate
  statistics, and the documented initial values of the gains and shifts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.cells import LayerNormGRUCell, LayerNormLSTMCell, RNNCell

I, H, B, T = 3, 4, 2, 5


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# ---------------------------------------------------------------------------------------
# Elman


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_cell_stepped_equals_torch_rnn(nonlinearity, bias):
    torch.manual_seed(0)
    ref = torch.nn.RNN(I, H, nonlinearity=nonlinearity, bias=bias).double()
    cell = RNNCell(I, H, bias=bias, nonlinearity=nonlinearity).double()
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in ref.state_dict().items()})
    x, h0 = torch.randn(T, B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    want, want_h = ref(x, h0[None])
    h, outs = h0, []
    for t in range(T):
        y, h = cell(x[t], h)
        outs.append(y)
    torch.testing.assert_close(torch.stack(outs), want)
    torch.testing.assert_close(h, want_h[0])


def test_rnn_cell_gate_statistics_are_the_tanh_output():
    torch.manual_seed(1)
    cell = RNNCell(I, H).double()
    x = torch.randn(T, B, I, dtype=torch.float64)  # all steps at once, as diagnostics pass
    h = torch.randn(T, B, H, dtype=torch.float64)
    W_ih, W_hh, b_ih, b_hh = (p.detach().numpy() for p in (
        cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    want = np.tanh(x.numpy() @ W_ih.T + b_ih + h.numpy() @ W_hh.T + b_hh)
    gates = cell.gate_activations(cell.input_projection(x), h)
    assert list(gates) == ["h"]
    assert gates["h"].kind == "tanh"
    np.testing.assert_allclose(gates["h"].values.detach().numpy(), want, rtol=1e-12)
    relu = RNNCell(I, H, nonlinearity="relu")
    assert relu.gate_activations(relu.input_projection(x.float()), h.float()) == {}


def test_rnn_cell_unknown_nonlinearity_message():
    with pytest.raises(ValueError) as info:
        RNNCell(I, H, nonlinearity="sigmoid")
    assert str(info.value) == "nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"


# ---------------------------------------------------------------------------------------
# Layer-normalised cells: the NumPy form


def layer_norm(a, gain, shift, eps):
    mu = a.mean(-1, keepdims=True)
    var = ((a - mu) ** 2).mean(-1, keepdims=True)
    return gain * (a - mu) / np.sqrt(var + eps) + shift


def block_ln(a, gain, shift, blocks, eps):
    """LN of each of ``blocks`` H-sized blocks of the last axis separately."""
    parts = np.split(a, blocks, axis=-1)
    gains, shifts = np.split(gain, blocks), np.split(shift, blocks)
    return np.concatenate(
        [layer_norm(p, g, s, eps) for p, g, s in zip(parts, gains, shifts)], axis=-1)


def ln_lstm_step(P, x, h, c, eps):
    """One LN-LSTM step: (h', c', gates) with gates the five statistics the cell reports."""
    pre = (block_ln(x @ P["weight_ih"].T, P["ln_ih_weight"], P["bias_ih"], 4, eps)
           + block_ln(h @ P["weight_hh"].T, P["ln_hh_weight"], P["bias_hh"], 4, eps))
    i, f, g, o = np.split(pre, 4, axis=-1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c_new = f * c + i * g
    tanh_c = np.tanh(layer_norm(c_new, P["ln_c_weight"], P["ln_c_bias"], eps))
    gates = {"input": i, "forget": f, "candidate": g, "output": o, "cell": tanh_c}
    return o * tanh_c, c_new, gates


def ln_gru_step(P, x, h, eps):
    """One LN-GRU step: (h', gates)."""
    a_r, a_z, a_n = np.split(
        block_ln(x @ P["weight_ih"].T, P["ln_ih_weight"], P["bias_ih"], 3, eps), 3, axis=-1)
    b_r, b_z, b_n = np.split(
        block_ln(h @ P["weight_hh"].T, P["ln_hh_weight"], P["bias_hh"], 3, eps), 3, axis=-1)
    r, z = sigmoid(a_r + b_r), sigmoid(a_z + b_z)
    n = np.tanh(a_n + r * b_n)
    return (1 - z) * n + z * h, {"reset": r, "update": z, "candidate": n}


LSTM_SHAPES = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,),
               "bias_hh": (4 * H,), "ln_ih_weight": (4 * H,), "ln_hh_weight": (4 * H,),
               "ln_c_weight": (H,), "ln_c_bias": (H,)}
GRU_SHAPES = {"weight_ih": (3 * H, I), "weight_hh": (3 * H, H), "bias_ih": (3 * H,),
              "bias_hh": (3 * H,), "ln_ih_weight": (3 * H,), "ln_hh_weight": (3 * H,)}
KINDS = {"input": "sigmoid", "forget": "sigmoid", "candidate": "tanh", "output": "sigmoid",
         "cell": "tanh", "reset": "sigmoid", "update": "sigmoid"}


def draw(shapes, seed):
    """Parameters drawn in NumPy: gains around 1, everything else spread around 0."""
    rng = np.random.default_rng(seed)
    return {k: (1 + 0.5 * rng.standard_normal(s) if k.endswith("weight") and k.startswith("ln")
                else rng.standard_normal(s)) for k, s in shapes.items()}


def make(cls, P, **kw):
    """A float64 cell of class ``cls`` holding exactly the parameters ``P`` (strict load:
    the cell's parameter names and shapes must be these)."""
    cell = cls(I, H, **kw).double()
    cell.load_state_dict({k: torch.from_numpy(v) for k, v in P.items()}, strict=True)
    return cell


def _inputs(seed, lead=(B,)):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((*lead, I)), rng.standard_normal((*lead, H)),
            rng.standard_normal((*lead, H)))


@pytest.mark.parametrize("eps", [None, 0.3])  # None: the default, 1e-5 as in the paper
def test_layer_norm_lstm_steps_equal_the_paper(eps):
    P = draw(LSTM_SHAPES, 0)
    kw = {} if eps is None else {"eps": eps}
    cell = make(LayerNormLSTMCell, P, **kw)
    eps = 1e-5 if eps is None else eps
    xs = np.random.default_rng(1).standard_normal((T, B, I))
    h, c = _inputs(2)[1:]
    th, tc = torch.from_numpy(h), torch.from_numpy(c)
    with torch.no_grad():
        for t in range(T):
            y, (th, tc) = cell(torch.from_numpy(xs[t]), (th, tc))
            h, c, _ = ln_lstm_step(P, xs[t], h, c, eps)
            np.testing.assert_allclose(y.numpy(), h, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(th.numpy(), h, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(tc.numpy(), c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("eps", [None, 0.3])
def test_layer_norm_gru_steps_equal_the_paper(eps):
    P = draw(GRU_SHAPES, 3)
    kw = {} if eps is None else {"eps": eps}
    cell = make(LayerNormGRUCell, P, **kw)
    eps = 1e-5 if eps is None else eps
    xs = np.random.default_rng(4).standard_normal((T, B, I))
    h = _inputs(5)[1]
    th = torch.from_numpy(h)
    with torch.no_grad():
        for t in range(T):
            y, th = cell(torch.from_numpy(xs[t]), th)
            h, _ = ln_gru_step(P, xs[t], h, eps)
            np.testing.assert_allclose(y.numpy(), h, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(th.numpy(), h, rtol=1e-10, atol=1e-12)


def test_recurrent_mask_enters_only_the_recurrent_weights():
    """Gal & Ghahramani's mask multiplies h where it meets W_hh; the GRU's interpolation and
    the LSTM's cell state keep the unmasked values."""
    x, h, c = _inputs(6)
    mask = (np.random.default_rng(7).random((B, H)) > 0.5) / 0.5
    P = draw(LSTM_SHAPES, 8)
    cell = make(LayerNormLSTMCell, P)
    want_h, want_c, _ = ln_lstm_step(P, x, h * mask, c, 1e-5)  # LSTM: h only meets W_hh
    with torch.no_grad():
        _, (got_h, got_c) = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)),
                                 torch.from_numpy(mask))
    np.testing.assert_allclose(got_h.numpy(), want_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_c.numpy(), want_c, rtol=1e-10, atol=1e-12)
    G = draw(GRU_SHAPES, 9)
    gru = make(LayerNormGRUCell, G)
    _, gates = ln_gru_step(G, x, h * mask, 1e-5)
    z, n = gates["update"], gates["candidate"]
    with torch.no_grad():
        got, _ = gru(torch.from_numpy(x), torch.from_numpy(h), torch.from_numpy(mask))
    np.testing.assert_allclose(got.numpy(), (1 - z) * n + z * h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [LayerNormLSTMCell, LayerNormGRUCell])
def test_gate_statistics_equal_the_paper_for_all_steps_at_once(cls):
    """(T, B, ...) inputs as the diagnostics pass them: names, kinds and values."""
    lstm = cls is LayerNormLSTMCell
    P = draw(LSTM_SHAPES if lstm else GRU_SHAPES, 10)
    cell = make(cls, P)
    x, h, c = _inputs(11, lead=(T, B))
    if lstm:
        _, _, want = ln_lstm_step(P, x, h, c, 1e-5)
        state = (torch.from_numpy(h), torch.from_numpy(c))
    else:
        _, want = ln_gru_step(P, x, h, 1e-5)
        state = torch.from_numpy(h)
    with torch.no_grad():
        gates = cell.gate_activations(cell.input_projection(torch.from_numpy(x)), state)
    assert list(gates) == list(want)
    for name, values in want.items():
        assert gates[name].kind == KINDS[name], name
        np.testing.assert_allclose(gates[name].values.numpy(), values, rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cls", [LayerNormLSTMCell, LayerNormGRUCell])
def test_gradients_equal_finite_differences_of_the_paper(cls):
    """d/d(every parameter) of sum(y * fixed weights) + sum(c'^2) over two steps."""
    lstm = cls is LayerNormLSTMCell
    P = draw(LSTM_SHAPES if lstm else GRU_SHAPES, 12)
    cell = make(cls, P, eps=0.1)
    xs = np.random.default_rng(13).standard_normal((2, B, I))
    h0, c0 = _inputs(14)[1:]
    mix = np.linspace(-1, 1, 2 * B * H).reshape(2, B, H)

    def loss_np(Q):
        h, c, total = h0, c0, 0.0
        for t in range(2):
            if lstm:
                h, c, _ = ln_lstm_step(Q, xs[t], h, c, 0.1)
            else:
                h, _ = ln_gru_step(Q, xs[t], h, 0.1)
            total += (h * mix[t]).sum()
        return total + (c ** 2).sum() if lstm else total

    state = (torch.from_numpy(h0), torch.from_numpy(c0)) if lstm else torch.from_numpy(h0)
    loss = 0.0
    for t in range(2):
        y, state = cell(torch.from_numpy(xs[t]), state)
        loss = loss + (y * torch.from_numpy(mix[t])).sum()
    if lstm:
        loss = loss + state[1].square().sum()
    names = list(P)
    got = torch.autograd.grad(loss, [dict(cell.named_parameters())[k] for k in names])
    d = 1e-6
    for name, grad in zip(names, got):
        want = np.zeros(P[name].shape)
        for idx in np.ndindex(*P[name].shape):
            up, down = {**P, name: P[name].copy()}, {**P, name: P[name].copy()}
            up[name][idx] += d
            down[name][idx] -= d
            want[idx] = (loss_np(up) - loss_np(down)) / (2 * d)
        np.testing.assert_allclose(grad.numpy(), want, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("cls,blocks", [(LayerNormLSTMCell, 4), (LayerNormGRUCell, 3)])
def test_fresh_and_reset_cells_have_unit_gains_and_torch_shaped_biases(cls, blocks):
    """Gains start at 1 and ln_c_bias at 0 (so a fresh cell equals the paper with unit gains
    and zero LN_c shift); the biases are torch's (bias=True by default) and reset_parameters
    restores all of it after training moved it."""
    torch.manual_seed(15)
    cell = cls(I, H).double()
    names = [n for n, _ in cell.named_parameters()]
    expected = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "ln_ih_weight", "ln_hh_weight"]
    assert names == expected + (["ln_c_weight", "ln_c_bias"] if blocks == 4 else [])
    x, h, c = _inputs(16)
    P = {k: v.detach().numpy().copy() for k, v in cell.state_dict().items()}
    for k in P:
        if k.startswith("ln_"):
            want_value = 1.0 if k.endswith("weight") else 0.0
            np.testing.assert_array_equal(P[k], np.full(P[k].shape, want_value), err_msg=k)
    bound = 1 / np.sqrt(H)
    for k in expected[:4]:
        assert np.abs(P[k]).max() <= bound and P[k].std() > bound / 4, k
    for _ in range(2):  # fresh, then after moving every parameter and resetting
        with torch.no_grad():
            if blocks == 4:
                want = ln_lstm_step(P, x, h, c, 1e-5)[0]
                got = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))[0]
            else:
                want = ln_gru_step(P, x, h, 1e-5)[0]
                got = cell(torch.from_numpy(x), torch.from_numpy(h))[0]
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
        with torch.no_grad():
            for p in cell.parameters():
                p.add_(3.0)
        cell.reset_parameters()
        P = {k: v.detach().numpy().copy() for k, v in cell.state_dict().items()}
        for k in P:
            if k.startswith("ln_"):
                want_value = 1.0 if k.endswith("weight") else 0.0
                np.testing.assert_array_equal(P[k], np.full(P[k].shape, want_value), err_msg=k)
            else:
                assert np.abs(P[k]).max() <= bound, k


def test_layer_norm_lstm_forget_bias_is_in_the_summed_forget_shift():
    cell = LayerNormLSTMCell(I, H, forget_bias=2.5)
    summed = (cell.bias_ih + cell.bias_hh).detach().numpy()
    np.testing.assert_array_equal(summed[H:2 * H], np.full(H, 2.5))
    assert np.abs(summed[:H]).max() <= 2 / np.sqrt(H)
