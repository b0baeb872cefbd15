"""The export layer's own checks and choices, without running onnxruntime: its messages,
the qualified names ``swap_layers`` asks modes for, and zoneout, which ONNX's own RNN
operators cannot express, taking the loop on layers that otherwise would use them. (What
mutation testing of rnnkit/export/layer.py found unchecked.)"""

import pytest
import torch
from torch import nn

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")

from rnnkit.export import ExportLayer  # noqa: E402
from rnnkit.export.layer import layer_grid, swap_layers  # noqa: E402
from rnnkit.layers import GRU, LSTM, Recurrent  # noqa: E402

LENGTHS = torch.tensor([5, 1, 3])


def test_refusals_have_their_messages():
    with pytest.raises(TypeError, match=r"^Linear is not a rnnkit recurrent layer$"):
        layer_grid(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"^mode must be 'sequence' or 'step', got 'steps'$"):
        ExportLayer(GRU(2, 3), "steps")
    with pytest.raises(ValueError, match=r"^a bidirectional layer has no step mode \(the "
                                         r"backward direction reads the whole sequence\)$"):
        ExportLayer(GRU(2, 3, bidirectional=True), "step")(torch.randn(1, 2, 2))


def test_swap_layers_asks_for_each_layers_qualified_name():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = GRU(2, 3)

    model = nn.Module()
    model.top = LSTM(2, 3)
    model.block = Block()
    model.block.inner = Block()
    asked = []

    def mode_of(name):
        asked.append(name)
        return "step" if name.startswith("block") else "sequence"

    swap_layers(model, mode_of)
    assert sorted(asked) == ["block.inner.rnn", "block.rnn", "top"]
    assert model.top.mode == "sequence" and model.block.inner.rnn.mode == "step"
    assert isinstance(model.block.rnn, ExportLayer)


@pytest.mark.parametrize("layer", [
    GRU(3, 4, zoneout=0.3, batch_first=True),
    LSTM(3, 4, num_layers=2, zoneout=0.2, batch_first=True),
    Recurrent("rnn", input_size=3, hidden_size=4, zoneout=0.4, bidirectional=True,
              batch_first=True),
], ids=["gru", "lstm2", "elman-bi"])
def test_zoneout_layers_equal_the_layer_in_eval_mode(layer):
    """Plain cells would take ONNX's RNN/LSTM/GRU operators, which have no zoneout."""
    layer.eval()
    x = torch.randn(3, 5, 3)
    with torch.no_grad():
        want, want_h = layer(x, lengths=LENGTHS)
        exported = ExportLayer(layer, "sequence")
        assert not any(any(row) for row in exported.native)
        got, got_h = exported(x, lengths=LENGTHS)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    for g, w in zip(got_h if isinstance(got_h, tuple) else (got_h,),
                    want_h if isinstance(want_h, tuple) else (want_h,)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=0)


def test_without_zoneout_plain_cells_take_the_native_operators():
    exported = ExportLayer(LSTM(3, 4, num_layers=2), "sequence")
    assert exported.native == [[True], [True]]
    assert ExportLayer(Recurrent("lngru", input_size=3, hidden_size=4), "sequence").native \
        == [[False]]


def _states(h):
    return h if isinstance(h, tuple) else (h,)


def _random_hx(layer, batch):
    cells = [cell for row in layer_grid(layer) for cell in row]
    parts = [torch.stack([torch.randn(batch, size) for _ in cells])
             for size in cells[0].state_sizes]
    return tuple(parts) if len(parts) > 1 else parts[0]


@pytest.mark.parametrize("layer", [
    LSTM(3, 4, num_layers=2, bidirectional=True),
    GRU(3, 4, num_layers=3, batch_first=True),
    Recurrent("lngru", input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
    Recurrent("lnlstm", input_size=3, hidden_size=4, num_layers=2, batch_first=True),
    LSTM(3, 4, num_layers=2, proj_size=2),
], ids=["lstm2-bi", "gru3-bf", "lngru2-bi", "lnlstm2-bf", "lstm2-proj"])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_sequence_mode_with_a_given_state_equals_the_layer(layer, with_lengths):
    """Every layer and direction starts from its own part of hx."""
    layer.eval()
    T, B = 5, 3
    x = torch.randn(B, T, 3) if layer.batch_first else torch.randn(T, B, 3)
    hx = _random_hx(layer, B)
    lengths = LENGTHS if with_lengths else None
    with torch.no_grad():
        want, want_h = layer(x, hx, lengths=lengths)
        got, got_h = ExportLayer(layer, "sequence")(x, hx, lengths=lengths)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert type(got_h) is type(want_h)
    for g, w in zip(_states(got_h), _states(want_h)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", [
    LSTM(3, 4, num_layers=2, zoneout=0.25),
    GRU(3, 4, num_layers=2, batch_first=True),
    Recurrent("lnlstm", input_size=3, hidden_size=4, zoneout=0.1, batch_first=True),
], ids=["lstm2-zoneout", "gru2-bf", "lnlstm-zoneout-bf"])
def test_step_mode_stepped_over_time_equals_the_layer(layer):
    layer.eval()
    T, B = 4, 2
    x = torch.randn(B, T, 3) if layer.batch_first else torch.randn(T, B, 3)
    step = ExportLayer(layer, "step")
    with torch.no_grad():
        want, want_h = layer(x)
        h, outs = None, []
        for t in range(T):
            x_t = x[:, t:t + 1] if layer.batch_first else x[t:t + 1]
            y, h = step(x_t, h)
            assert y.shape == ((B, 1, 4) if layer.batch_first else (1, B, 4))
            outs.append(y)
    got = torch.cat(outs, dim=1 if layer.batch_first else 0)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    for g, w in zip(_states(h), _states(want_h)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=0)
