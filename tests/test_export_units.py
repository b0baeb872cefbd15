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
    with pytest.raises(ValueError, match=r"^a bidirectional layer has no step mode"):
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
