"""Bad input is rejected before any computation, naming the argument, expected and received."""

import pytest
import torch

import rnnkit
from rnnkit.layers import Recurrent

I, H, T, B = 4, 5, 6, 3


def layers():
    return [
        rnnkit.LSTM(I, H, num_layers=2),
        rnnkit.GRU(I, H, layer_norm=True),  # loop path
        Recurrent("rnn", input_size=I, hidden_size=H),
    ]


@pytest.mark.parametrize("layer", layers(), ids=["fused", "loop", "recurrent"])
@pytest.mark.parametrize("x,match", [
    (torch.randn(B, T, I, 1), "3 dimensions"),
    (torch.randn(I), "3 dimensions"),
    (torch.randn(T, B, I + 1), f"input_size={I}, got {I + 1}"),
    (torch.ones(T, B, I, dtype=torch.long), "floating-point"),
])
def test_bad_input(layer, x, match):
    with pytest.raises((ValueError, TypeError), match=match):
        layer(x)


@pytest.mark.parametrize("layer", layers(), ids=["fused", "loop", "recurrent"])
@pytest.mark.parametrize("lengths,match", [
    (torch.tensor([[T, T, T]]), "1-D"),
    (torch.tensor([T, T]), f"expected {B}, got 2"),
    (torch.tensor([T, 0, 2]), r"\[1, 6\].*min 0"),
    (torch.tensor([T, T + 1, 2]), r"\[1, 6\].*max 7"),
    (torch.tensor([1.5, 2.0, 3.0]), "integers"),
])
def test_bad_lengths(layer, lengths, match):
    with pytest.raises((ValueError, TypeError), match=match):
        layer(torch.randn(T, B, I), lengths=lengths)


def _hx(layer, shape, **kw):
    h = torch.zeros(*shape, **kw)
    return (h, torch.zeros(*shape)) if isinstance(layer, torch.nn.LSTM) else h


@pytest.mark.parametrize("layer", layers(), ids=["fused", "loop", "recurrent"])
def test_bad_hx(layer):
    n = getattr(layer, "num_layers", 1)
    with pytest.raises(ValueError, match=rf"shape \({n}, {B}, {H}\).*got \({n}, {B + 1}, {H}\)"):
        layer(torch.randn(T, B, I), _hx(layer, (n, B + 1, H)))
    with pytest.raises(TypeError, match="dtype torch.float64"):
        layer(torch.randn(T, B, I), _hx(layer, (n, B, H), dtype=torch.float64))
    with pytest.raises(ValueError, match="is on meta"):
        layer(torch.randn(T, B, I), _hx(layer, (n, B, H), device="meta"))


def test_lstm_hx_must_be_a_pair():
    with pytest.raises(ValueError, match=r"hx must have 2 tensor\(s\)"):
        rnnkit.LSTM(I, H)(torch.randn(T, B, I), torch.zeros(1, B, H))


@pytest.mark.parametrize("make", [
    lambda: rnnkit.LSTM(I, H, bidirectional=True, merge_mode="max"),
    lambda: Recurrent("gru", input_size=I, hidden_size=H, merge_mode="avg"),
])
def test_unknown_merge_mode(make):
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        make()


@pytest.mark.parametrize("make", [
    lambda: rnnkit.GRU(I, H, num_layers=2, dropout=1.0),
    lambda: rnnkit.GRU(I, H, 2, True, False, -0.1),
    lambda: rnnkit.LSTM(I, H, recurrent_dropout=1.5),
    lambda: rnnkit.LSTM(I, H, zoneout=-1),
    lambda: Recurrent("lstm", input_size=I, hidden_size=H, dropout=1.0),
])
def test_probability_out_of_range(make):
    with pytest.raises(ValueError, match=r"must be a number in \[0, 1\)"):
        make()


def test_unknown_cell_suggests_the_nearest():
    with pytest.raises(ValueError, match="did you mean 'lstm'"):
        Recurrent("lstn", input_size=I, hidden_size=H)


def test_unknown_init():
    with pytest.raises(ValueError, match="init must be one of"):
        rnnkit.RNN(I, H, init="he")


def test_packed_input_and_lengths_together():
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(T, B, I), [T, 2, 1])
    with pytest.raises(ValueError, match="not both"):
        rnnkit.GRU(I, H)(packed, lengths=torch.tensor([T, 2, 1]))
