"""build_layer (rnnkit/layers/factory.py), the layer every model and config builds: each
cell name gives the layer torch.nn or rnnkit.Recurrent computes, with the options passed on.
Each test fails on a one-line bug that the model tests let through (found by mutation
testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.layers import Recurrent, build_layer

I, H, B, T = 3, 5, 2, 7  # B != T: a batch-first mix-up changes the shapes


def _flat(out):
    y, h = out
    return [y, *(h if isinstance(h, tuple) else (h,))]


@pytest.mark.parametrize("cell, torch_cls, options", [
    ("rnn", torch.nn.RNN, {"nonlinearity": "tanh"}),
    ("rnn_relu", torch.nn.RNN, {"nonlinearity": "relu"}),
    ("lstm", torch.nn.LSTM, {}),
    ("gru", torch.nn.GRU, {}),
])
def test_built_in_cells_compute_what_torch_nn_computes_batch_first(cell, torch_cls, options):
    """The defaults: one layer, one direction, no dropout, batch first."""
    torch.manual_seed(0)
    layer = build_layer(cell, I, H)
    theirs = torch_cls(I, H, batch_first=True, **options)
    theirs.load_state_dict(layer.state_dict())
    x = torch.randn(B, T, I) * 3  # large enough for relu and tanh to differ
    ours_out = _flat(layer(x))
    assert ours_out[0].shape == (B, T, H) and ours_out[1].shape == (1, B, H)
    for a, b in zip(ours_out, _flat(theirs(x)), strict=True):
        torch.testing.assert_close(a, b)
    assert (layer.num_layers, layer.bidirectional, layer.dropout, layer.batch_first) == (
        1, False, 0.0, True)


def test_the_layer_options_reach_the_drop_in():
    torch.manual_seed(1)
    layer = build_layer("rnn_relu", I, H, num_layers=2, bidirectional=True, dropout=0.25,
                        batch_first=False)
    theirs = torch.nn.RNN(I, H, num_layers=2, bidirectional=True, dropout=0.25,
                          nonlinearity="relu")
    theirs.load_state_dict(layer.state_dict())
    layer.eval(), theirs.eval()
    x = torch.randn(T, B, I)
    for a, b in zip(_flat(layer(x)), _flat(theirs(x)), strict=True):
        torch.testing.assert_close(a, b)
    assert layer.dropout == 0.25


def test_the_drop_ins_extras_are_passed_on():
    layer = build_layer("gru", I, H, bidirectional=True, merge_mode="sum")
    assert layer.merge_mode == "sum" and layer.output_size == H
    y, _ = layer(torch.randn(B, T, I))
    assert y.shape == (B, T, H)


@pytest.mark.parametrize("cell, cls", [("lnlstm", rnnkit.LSTM), ("lngru", rnnkit.GRU)])
def test_layer_norm_cells_are_the_drop_ins_with_layer_norm(cell, cls):
    """lnlstm / lngru: the drop-in with layer_norm=True, which computes what Recurrent
    computes on the same cell with the same weights."""
    torch.manual_seed(2)
    layer = build_layer(cell, I, H)
    assert type(layer) is cls and layer.layer_norm is True
    ref = Recurrent(cell, input_size=I, hidden_size=H, batch_first=True)
    mine = dict(zip([n for n, _ in layer.named_parameters()], layer.parameters()))
    assert len(mine) == len(list(ref.parameters()))
    ref_cell = ref.layers[0][0]
    with torch.no_grad():  # the loop's cell is the drop-in's own: copy its weights across
        for (name, p), q in zip(layer.named_parameters(), ref_cell.parameters(), strict=True):
            assert p.shape == q.shape, name
            q.copy_(p)
    x = torch.randn(B, T, I)
    for a, b in zip(_flat(layer(x)), _flat(ref(x)), strict=True):
        torch.testing.assert_close(a, b)
    plain = build_layer(cell[2:], I, H)
    assert len(list(plain.parameters())) < len(mine)  # the gain and bias of the norms


def test_other_cells_run_in_recurrent_with_the_same_options():
    torch.manual_seed(3)
    layer = build_layer("mingru", I, H)
    assert type(layer) is Recurrent
    assert (layer.num_layers, layer.bidirectional, layer.dropout, layer.batch_first,
            layer.input_size) == (1, False, 0.0, True, I)
    ref = Recurrent("mingru", input_size=I, hidden_size=H, batch_first=True)
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(B, T, I)
    for a, b in zip(_flat(layer(x)), _flat(ref(x)), strict=True):
        torch.testing.assert_close(a, b)

    layer = build_layer("minlstm", I, H, num_layers=2, bidirectional=True, dropout=0.5,
                        batch_first=False, merge_mode="sum", zoneout=0.1)
    assert (layer.num_layers, layer.bidirectional, layer.dropout, layer.batch_first,
            layer.merge_mode, layer.zoneout, layer.output_size) == (
        2, True, 0.5, False, "sum", 0.1, H)
    assert layer.layers[0][0].input_size == I and layer.layers[1][0].input_size == H
    assert layer.layers[0][0].hidden_size == H
