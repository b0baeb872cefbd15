"""Plain Elman, LSTM and GRU layers as ONNX's own ``RNN``/``LSTM``/``GRU`` operators
(rnnkit/export/native.py): a layer exported alone (through a plan registered for a one-layer
model) and run in onnxruntime from a random initial state, on random inputs with mixed
lengths, gives the layer's own outputs and final state in torch; for each cell, with and
without biases, relu and tanh, several layers and both directions. The layers ONNX's
operators cannot express (a projected LSTM, zoneout, layer norm) take the ``Loop`` and give
the same numbers. (What mutation testing of native.py found unchecked.)"""

import pytest
import torch
from torch import nn

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="ONNX parity is checked with onnxruntime: "
                                                "pip install 'rnnkit[export]'")

import onnx  # noqa: E402

from rnnkit.export import PLANS, export_model, register_plan  # noqa: E402
from rnnkit.export.graphs import (  # noqa: E402
    LENGTHS,
    Graph,
    Plan,
    Port,
    Wrapper,
    outputs_for,
    parts,
    prepared,
    state_from,
    state_ports,
)
from rnnkit.layers import GRU, LSTM, RNN  # noqa: E402

T, I, H = 6, 3, 5
TOL = 1e-4


class OneLayer(nn.Module):
    """A model that is one recurrent layer: ``(x, lengths, initial state) -> (y, final)``."""

    def __init__(self, layer):
        super().__init__()
        self.rnn = layer


def one_layer_plan(model) -> Plan:
    seq = prepared(model, "sequence")
    state = state_ports(seq.rnn)

    def run(m, x, lengths, *hx):
        y, h_n = m.rnn(x, state_from(hx), lengths=lengths)
        return (y, *parts(h_n))

    return Plan([Graph(
        "sequence", Wrapper(seq, run),
        [Port("x", ("batch", "time", seq.rnn.input_size)), LENGTHS, *state],
        [Port("y", ("batch", "time", seq.rnn.output_size)),
         *outputs_for(state, "after the last valid step")], "the layer")])


@pytest.fixture(autouse=True)
def one_layer_model():
    register_plan("OneLayer", one_layer_plan)
    yield
    PLANS.pop("OneLayer", None)


def exported_ops_and_parity(layer, tmp_path, native_ops=True) -> set[str]:
    """Export ``layer``, run it in onnxruntime against the layer in torch, on a batch of
    mixed lengths and on one sequence; its ONNX op types."""
    torch.manual_seed(0)
    layer = layer.eval()
    files = export_model(OneLayer(layer), tmp_path, native_ops=native_ops)
    for lengths in (torch.tensor([T, 1, 3, 5]), torch.tensor([T])):
        parity(layer, files, lengths)
    return {n.op_type for n in onnx.load(str(files["sequence"])).graph.node}


def parity(layer, files, lengths):
    B = len(lengths)
    x = torch.randn(B, T, I)
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    sizes = [layer.proj_size or H, H] if isinstance(layer, nn.LSTM) else [H]
    hx = tuple(torch.randn(rows, B, s) for s in sizes)
    with torch.no_grad():
        want_y, want_h = layer(x, hx if len(hx) > 1 else hx[0], lengths=lengths)
    session = ort.InferenceSession(str(files["sequence"]), providers=["CPUExecutionProvider"])
    names = ["h", "c"][:len(hx)]
    got = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy(),
                             **{n: h.numpy() for n, h in zip(names, hx)}})
    for what, g, w in zip(["y", *names], got, [want_y, *parts(want_h)]):
        assert g.shape == tuple(w.shape), what
        assert float((torch.from_numpy(g) - w).abs().max()) <= TOL, what


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_elman_layers_as_the_onnx_rnn_operator(nonlinearity, bidirectional, tmp_path):
    layer = RNN(I, H, num_layers=2, nonlinearity=nonlinearity, bidirectional=bidirectional,
                batch_first=True)
    with torch.no_grad():  # enough negative pre-activations that relu and tanh differ
        layer.bias_ih_l0.fill_(-0.3)
    ops = exported_ops_and_parity(layer, tmp_path)
    assert "RNN" in ops and "Loop" not in ops


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_layers_as_the_onnx_lstm_operator(bias, bidirectional, tmp_path):
    layer = LSTM(I, H, num_layers=2, bias=bias, bidirectional=bidirectional, batch_first=True)
    ops = exported_ops_and_parity(layer, tmp_path)
    assert "LSTM" in ops and "Loop" not in ops


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_layers_as_the_onnx_gru_operator(bias, bidirectional, tmp_path):
    layer = GRU(I, H, num_layers=2, bias=bias, bidirectional=bidirectional, batch_first=True)
    if bias:
        with torch.no_grad():  # the recurrent bias is reset-gated: it must stay apart
            layer.bias_hh_l0.normal_()
    ops = exported_ops_and_parity(layer, tmp_path)
    assert "GRU" in ops and "Loop" not in ops
    # torch's GRU is ONNX's with linear_before_reset = 1; the spec knows 0 and 1 only
    # (onnxruntime reads any non-zero as 1, so parity alone cannot tell)
    graph = onnx.load(str(tmp_path / "sequence.onnx")).graph
    values = [onnx.helper.get_attribute_value(a) for n in graph.node if n.op_type == "GRU"
              for a in n.attribute if a.name == "linear_before_reset"]
    assert values and set(values) == {1}


@pytest.mark.parametrize("make,native", [
    (lambda: LSTM(I, H, proj_size=2, batch_first=True), False),
    (lambda: GRU(I, H, zoneout=0.3, batch_first=True), False),
    (lambda: GRU(I, H, layer_norm=True, batch_first=True), False),
    (lambda: RNN(I, H, zoneout=0.2, batch_first=True), False),
    (lambda: GRU(I, H, batch_first=True), True),
], ids=["lstm-proj", "gru-zoneout", "lngru", "rnn-zoneout", "gru"])
def test_what_onnx_operators_cannot_express_takes_the_loop(make, native, tmp_path):
    ops = exported_ops_and_parity(make(), tmp_path)
    assert ("Loop" in ops) != native
    assert bool(ops & {"RNN", "LSTM", "GRU"}) == native
    assert "Loop" in exported_ops_and_parity(make(), tmp_path / "loop", native_ops=False)


def test_native_op_by_cell_and_zoneout():
    """Which operator computes a cell (zoneout 0 unless given)."""
    from rnnkit.cells import GRUCell, LSTMCell, RNNCell
    from rnnkit.export.native import native_op

    assert native_op(GRUCell(I, H)).op == "GRU"
    assert native_op(RNNCell(I, H)).op == "RNN"
    assert native_op(LSTMCell(I, H)).states == 2
    assert native_op(LSTMCell(I, H, proj_size=2)) is None
    assert native_op(GRUCell(I, H), zoneout=0.1) is None
