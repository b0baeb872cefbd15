"""The export layer and the graph descriptions, without running onnxruntime: the layer's
messages, the qualified names ``swap_layers`` asks modes for, zoneout (which ONNX's own RNN
operators cannot express) taking the loop, the layer from a given state and stepped over
time against the layer itself; and what export.json says about each port, the ports'
example inputs and the graphs' checks. (What mutation testing of rnnkit/export/layer.py and
graphs.py found unchecked.)"""

import copy

import pytest
import torch
from torch import nn

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")

from rnnkit.export import ExportLayer  # noqa: E402
from rnnkit.export.graphs import (  # noqa: E402
    PLANS,
    Graph,
    Port,
    outputs_for,
    prepared,
    register_plan,
    sequence_input,
    state_ports,
)
from rnnkit.export.layer import layer_grid, swap_layers  # noqa: E402
from rnnkit.kernels import use_engine  # noqa: E402
from rnnkit.layers import GRU, LSTM, Recurrent  # noqa: E402
from rnnkit.models.encoder import SequenceEncoder  # noqa: E402

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
    """Every layer and direction starts from its own part of hx. Within 1e-5 of the layer,
    or, where float32 itself is that far from the float64 computation (layer norm over 4
    features can be), no more than 3x as far from it as the layer's own loop."""
    layer.eval()
    T, B = 5, 3
    x = torch.randn(B, T, 3) if layer.batch_first else torch.randn(T, B, 3)
    hx = _random_hx(layer, B)
    lengths = LENGTHS if with_lengths else None
    with torch.no_grad():
        want, want_h = layer(x, hx, lengths=lengths)
        got, got_h = ExportLayer(layer, "sequence")(x, hx, lengths=lengths)
        with use_engine("loop"):
            loop, loop_h = layer(x, hx, lengths=lengths)
        double = copy.deepcopy(layer).double()
        exact, exact_h = double(x.double(), tuple(h.double() for h in _states(hx))
                                if isinstance(hx, tuple) else hx.double(), lengths=lengths)
    assert got.shape == want.shape
    assert type(got_h) is type(want_h)
    for g, w, lp, e in zip([got, *_states(got_h)], [want, *_states(want_h)],
                           [loop, *_states(loop_h)], [exact, *_states(exact_h)], strict=True):
        assert g.shape == w.shape
        error, loop_error = (g.double() - e).abs().max(), (lp.double() - e).abs().max()
        assert (g - w).abs().max() <= 1e-5 or error <= 3 * loop_error, (error, loop_error)


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


# --- what export.json says about each graph (rnnkit/export/graphs.py) ----------------------

def test_state_ports_in_torch_nn_layout():
    layer = ExportLayer(LSTM(3, 4, num_layers=2, bidirectional=True), "sequence")
    h, c = state_ports(layer)
    assert h == Port("h", (4, "batch", 4), meaning="h of the recurrent layer (layer by layer, "
                     "forward then backward)", initial="zeros")
    assert c.name == "c" and c.shape == (4, "batch", 4) and c.initial == "zeros"
    [h] = state_ports(ExportLayer(GRU(3, 5, num_layers=3), "step"), "dec_", "the decoder")
    assert h == Port("dec_h", (3, "batch", 5), meaning="h of the decoder (one row per layer)",
                     initial="zeros")
    learned = LSTM(3, 4, num_layers=2, learn_initial_state=True, proj_size=2)
    with torch.no_grad():
        for p in learned.parameters():
            p.normal_()
    h, c = state_ports(ExportLayer(learned, "step"))
    assert h.shape == (2, "batch", 2) and c.shape == (2, "batch", 4)
    torch.testing.assert_close(torch.tensor(h.initial), torch.stack(
        [learned.initial_h_l0, learned.initial_h_l1]))
    torch.testing.assert_close(torch.tensor(c.initial), torch.stack(
        [learned.initial_c_l0, learned.initial_c_l1]))


def test_output_ports_of_new_states():
    ports = [Port("h", (2, "batch", 4), meaning="h of x", initial="zeros"),
             Port("n", ("batch",), "int64", "count", values=(0, 9))]
    assert outputs_for(ports, "after the step") == [
        Port("h_out", (2, "batch", 4), "float32", "h of x, after the step"),
        Port("n_out", ("batch",), "int64", "count, after the step")]


def test_port_json():
    assert Port("x", ("batch", "time", 3)).to_json() == {
        "name": "x", "shape": ["batch", "time", 3], "dtype": "float32", "meaning": ""}
    assert Port("lengths", ("batch",), "int64", "valid steps", values=(1, "time"),
                initial=[[0.5]]).to_json() == {
        "name": "lengths", "shape": ["batch"], "dtype": "int64", "meaning": "valid steps",
        "values": [1, "time"], "initial": [[0.5]]}


def test_sequence_input_ports():
    tokens = SequenceEncoder("gru", 4, vocab_size=11)
    assert sequence_input(tokens) == Port("x", ("batch", "time"), "int64", "token ids",
                                          values=(0, 10))
    assert sequence_input(tokens, "src", step=True) == Port("src", ("batch",), "int64",
                                                            "token ids", values=(0, 10))
    features = SequenceEncoder("lstm", 4, input_size=6)
    assert sequence_input(features) == Port("x", ("batch", "time", 6), "float32",
                                            "input features")
    assert sequence_input(features, step=True).shape == ("batch", 6)


def test_port_samples():
    sizes = {"batch": 4, "time": 7}
    g = torch.Generator().manual_seed(0)
    x = Port("x", ("batch", "time", 2)).sample(sizes, g)
    assert x.shape == (4, 7, 2) and x.dtype == torch.float32 and (x < 0).any()
    pos = Port("s", ("batch",), positive=True).sample(sizes, g)
    assert ((pos >= 1) & (pos < 2)).all()
    assert Port("m", ("batch", 3), "bool").sample(sizes, g).all()
    img = Port("img", (2, 50), "uint8").sample(sizes, g)
    assert img.dtype == torch.uint8 and int(img.max()) > 200  # the whole byte range
    lengths = Port("lengths", ("batch",), "int64", values=(1, "time")).sample(sizes, g)
    assert lengths.dtype == torch.int64 and lengths[:2].tolist() == [7, 1]  # longest, shortest
    assert ((lengths >= 1) & (lengths <= 7)).all()
    ids = Port("ids", ("batch", "time"), "int64", values=(3, 5)).sample(sizes, g)
    assert set(ids.unique().tolist()) == {3, 4, 5}
    flags = Port("flags", (200,), "int64").sample(sizes, g)  # no range given: 0 or 1
    assert set(flags.unique().tolist()) == {0, 1}
    one = Port("lengths", (1,), "int64", values=(2, 4)).sample(sizes, g)
    assert 2 <= int(one) <= 4
    two = Port("lengths", ("batch",), "int64", values=(1, "time")).sample({"batch": 2, "time": 9},
                                                                          g)
    assert two.tolist() == [9, 1]
    assert int(Port("img", (4000,), "uint8").sample(sizes, g).min()) == 0
    for port in [Port("x", (3,)), Port("s", (3,), positive=True), Port("img", (3,), "uint8"),
                 Port("ids", (3,), "int64", values=(0, 1000))]:  # the generator decides
        torch.manual_seed(0)
        a = port.sample(sizes, torch.Generator().manual_seed(5))
        torch.manual_seed(1)
        torch.testing.assert_close(a, port.sample(sizes, torch.Generator().manual_seed(5)))


def test_graph_examples_and_checks():
    with pytest.raises(ValueError, match=r"^the step graph repeats a port name: \['x', 'h', "
                                         r"'h'\]$"):
        Graph("step", nn.Identity(), [Port("x", (1,)), Port("h", (1,))], [Port("h", (1,))], "")
    graph = Graph("seq", nn.Identity(), [Port("x", ("batch", "time"))], [Port("y", (1,))], "")
    first, again = graph.example(), graph.example()
    torch.testing.assert_close(first["x"], again["x"])  # seeded: the same every time
    torch.testing.assert_close(first["x"], torch.randn(3, 5, generator=torch.Generator()
                                                       .manual_seed(0)))
    other = graph.example({"time": 2}, torch.Generator().manual_seed(1))["x"]
    torch.testing.assert_close(other, torch.randn(3, 2, generator=torch.Generator()
                                                  .manual_seed(1)))
    seen = []
    custom = Graph("dec", nn.Identity(), [Port("x", (1,))], [Port("y", (1,))], "",
                   sample=lambda sizes, gen: seen.append((sizes, gen)) or {"x": torch.ones(1)})
    gen = torch.Generator()
    assert custom.example({"batch": 2}, gen) == {"x": torch.ones(1)}
    assert seen == [({"batch": 2, "time": 5, "source": 4}, gen)]
    custom.example()
    assert isinstance(seen[1][1], torch.Generator)
    assert graph.to_json() == {"file": "seq.onnx", "about": "",
                               "inputs": [{"name": "x", "shape": ["batch", "time"],
                                           "dtype": "float32", "meaning": ""}],
                               "outputs": [{"name": "y", "shape": [1], "dtype": "float32",
                                            "meaning": ""}]}


def test_register_plan_and_prepared_copies():
    def plan(model):
        return None

    try:
        register_plan("MyModel", plan)
        assert PLANS["MyModel"] is plan
    finally:
        PLANS.pop("MyModel", None)
    model = nn.Sequential()
    model.add_module("rnn", GRU(3, 4))
    model.double().train()
    copy = prepared(model, "step")
    assert isinstance(copy.rnn, ExportLayer) and copy.rnn.mode == "step"
    assert not copy.training and model.training  # the original is left as it was
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in copy.parameters())
    assert all(p.dtype == torch.float64 for p in model.parameters())


@pytest.mark.parametrize("cell", ["lngru", "lnlstm"])
def test_layer_norm_epsilon_reaches_the_onnx_graph(cell, tmp_path):
    """A layer-norm cell's own eps (here far from ONNX's default 1e-5) is the graph's:
    onnxruntime's numbers would differ from the model's without it (verify=True)."""
    import onnx

    from rnnkit.export import export_model
    from rnnkit.models import SequenceTagger

    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = SequenceTagger(num_tags=3, input_size=3, cell=cell, hidden_size=4).eval()
    cells = [c for row in layer_grid(model.encoder.rnn) for c in row]
    assert cells and all(hasattr(c, "ln_hh_weight") for c in cells)
    for c in cells:
        c.eps = 0.75
    files = export_model(model, tmp_path / "ln", native_ops=False, verify=True)
    graph = onnx.load(str(files["sequence"])).graph
    epsilons = {round(a.f, 6) for n in _all_nodes(graph) if n.op_type == "LayerNormalization"
                for a in n.attribute if a.name == "epsilon"}
    assert epsilons == {0.75}


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for a in node.attribute:
            if a.g is not None and len(a.g.node):
                yield from _all_nodes(a.g)


@pytest.mark.parametrize("cell,native_ops", [("lngru", False), ("gru", True), ("lstm", False)])
def test_zoneout_reaches_the_exported_loop(cell, native_ops, tmp_path):
    """Zoneout's evaluation-time expectation runs inside the ONNX Loop's step (and keeps a
    plain cell off ONNX's own operators): onnxruntime gives the model's numbers."""
    import json

    import onnx

    from rnnkit.export import export_model
    from rnnkit.models import SequenceTagger

    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = SequenceTagger(num_tags=3, input_size=3, cell=cell, hidden_size=4).eval()
    model.encoder.rnn.zoneout = 0.4
    files = export_model(model, tmp_path / cell, native_ops=native_ops, verify=True)
    manifest = json.loads(files["manifest"].read_text())
    assert max(manifest["verified"]["max_abs_diff"].values()) <= 1e-4
    ops = {n.op_type for n in onnx.load(str(files["sequence"])).graph.node}
    assert "Loop" in ops and not ops & {"GRU", "LSTM", "RNN"}


# --- export_model's checks and what exportable says (rnnkit/export/onnx.py) ---------------

def test_what_exportable_says():
    from rnnkit.export import exportable
    from rnnkit.export.graphs import PLANS as plans
    from rnnkit.models import SequenceClassifier

    ok, text = exportable(SequenceClassifier(num_classes=2, input_size=3, hidden_size=4))
    assert ok and text == "writes sequence.onnx, step.onnx"
    ok, text = exportable(SequenceClassifier(num_classes=2, input_size=3, hidden_size=4,
                                             bidirectional=True))
    assert ok and text.startswith("writes sequence.onnx; no step graph: ")
    ok, text = exportable(nn.Linear(2, 2))
    assert not ok and text == (f"no ONNX export for Linear: rnnkit exports "
                               f"{', '.join(sorted(plans))} (register one with "
                               "rnnkit.export.register_plan)")
    model = SequenceClassifier(num_classes=2, input_size=3, hidden_size=4)
    model.encoder.rnn = nn.LSTM(3, 4, batch_first=True)
    ok, text = exportable(model)
    assert not ok and text == ("encoder.rnn is a torch.nn.LSTM, whose ONNX export ignores "
                               "lengths; build the layer with rnnkit.layers.build_layer")


def test_export_model_refusals(tmp_path):
    from rnnkit.export import ExportError, export_model
    from rnnkit.models import SequenceClassifier

    model = SequenceClassifier(num_classes=2, input_size=3, hidden_size=4)
    with pytest.raises(ValueError, match=r"^opset must be >= 17 \(LayerNormalization\), got 16$"):
        export_model(model, tmp_path, opset=16)
    with pytest.raises(ExportError, match=r"^no ONNX export for Linear"):
        export_model(nn.Linear(2, 2), tmp_path / "linear")
    assert not (tmp_path / "linear").exists()  # refused before anything is written


def test_verify_graph_measures_and_refuses(tmp_path):
    import onnx

    from rnnkit.export import ExportError, export_model
    from rnnkit.export.graphs import PLANS as plans
    from rnnkit.export.onnx import TOLERANCE, verify_graph
    from rnnkit.models import SequenceClassifier

    torch.manual_seed(0)
    model = SequenceClassifier(num_classes=2, input_size=3, hidden_size=4).eval()
    files = export_model(model, tmp_path)
    proto = onnx.load(str(files["sequence"]))
    [graph] = [g for g in plans["SequenceClassifier"](model).graphs if g.name == "sequence"]
    diff = verify_graph(graph, proto)
    assert 0.0 <= diff <= TOLERANCE
    with torch.no_grad():  # the torch side changes after the export: the graph is now wrong
        for p in graph.module.parameters():
            p.add_(0.5)
    with pytest.raises(ExportError, match=r"^the sequence graph differs from torch by "
                                          r"[0-9.e+-]+ in onnxruntime \(tolerance 0.0001\)$"):
        verify_graph(graph, proto)


def test_first_lines_of_errors():
    from rnnkit.export.onnx import _first_line

    assert _first_line(ValueError("\n\n  first line\nsecond")) == "ValueError: first line"
    assert _first_line(RuntimeError("")) == "RuntimeError: "


def test_the_manifest_in_full(tmp_path):
    import json

    from rnnkit.export import export_model
    from rnnkit.models import SequenceClassifier

    torch.manual_seed(0)
    model = SequenceClassifier(num_classes=2, input_size=3, hidden_size=4).eval()
    files = export_model(model, tmp_path / "a", verify=True, opset=18)
    text = files["manifest"].read_text()
    assert text.startswith('{\n  "format": "rnnkit-onnx",\n  "version": 1,\n')
    manifest = json.loads(text)
    verified = manifest.pop("verified")
    assert verified["tolerance"] == 1e-4 and set(verified["max_abs_diff"]) == {"sequence",
                                                                                "step"}
    assert all(0.0 <= d <= 1e-4 for d in verified["max_abs_diff"].values())
    assert set(manifest.pop("graphs")) == {"sequence", "step"}
    assert manifest == {
        "format": "rnnkit-onnx", "version": 1, "opset": 18,
        "model": {"class": "SequenceClassifier", "config": model.get_config()},
        "not_exported": {},
        "semantics": "float32, evaluation mode (no dropout); recurrent states in torch.nn's "
                     "(layers*directions, batch, size) layout"}
    assert "verified" not in json.loads(export_model(model, tmp_path / "b")["manifest"]
                                        .read_text())


def test_an_export_that_stops_half_way_leaves_no_manifest(tmp_path, monkeypatch):
    """export.json is written last and a new export first removes the old one, so a
    folder whose export failed (or was killed) after some graphs has none to trust; every
    file is written whole (a temporary name, then a rename)."""
    import rnnkit.export.onnx as ox
    from rnnkit.export import ExportError, export_model
    from rnnkit.models import SequenceClassifier

    torch.manual_seed(0)
    model = SequenceClassifier(num_classes=2, input_size=3, hidden_size=4).eval()
    files = export_model(model, tmp_path)
    assert files["manifest"].is_file()
    export = ox._export_graph

    def second_fails(model, graph, inputs, opset):
        if graph.name == "step":
            raise ExportError("the disk is full")
        return export(model, graph, inputs, opset)

    monkeypatch.setattr(ox, "_export_graph", second_fails)
    with pytest.raises(ExportError, match="the disk is full"):
        export_model(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sequence.onnx", "step.onnx"]
    monkeypatch.undo()
    export_model(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "sequence.onnx",
                                                          "step.onnx"]
