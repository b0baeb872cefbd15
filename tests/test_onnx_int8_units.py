"""export_model's int8 path and its edges, fast (tiny models, one export each): the int8
graphs beside the float ones, checked against the float torch model in onnxruntime; GRU
re-exported as a Loop and LSTM kept native; what export.json records for each int8 graph,
measured again here on the inputs it names; the refusals and missing extras, each with its
message and before anything is written; traced examples, directories, the default opset,
a model without a config, a graph that drops an input, and verify_graph / run_onnx on
hand-made graphs. (What mutation testing of rnnkit/export/onnx.py found unchecked:
benchmarks/mutation.py; tests/test_quantize.py covers more models, slowly.)"""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import torch
from torch import nn

onnx = pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                          "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="int8 graphs run in onnxruntime: "
                                                "pip install 'rnnkit[export]'")

from onnx import TensorProto, helper  # noqa: E402

from rnnkit._optional import MissingExtraError  # noqa: E402
from rnnkit.cells import CELLS, RNNCell  # noqa: E402
from rnnkit.export import ExportError, export_model, exportable  # noqa: E402
from rnnkit.export import onnx as onnx_export  # noqa: E402
from rnnkit.export.graphs import PLANS, Graph, Plan, Port  # noqa: E402
from rnnkit.export.onnx import TOLERANCE, run_onnx, verify_graph  # noqa: E402
from rnnkit.export.quantize import int8_share  # noqa: E402
from rnnkit.models import Forecaster, SequenceClassifier  # noqa: E402

RELATIVE, FLOOR = 0.10, 0.01  # int8 vs float (tests/test_quantize.py says why)
# the inputs export.json says the int8 figures are measured on
SIZES = {"batch": 4, "time": 7, "source": 6}
INT8_KINDS = {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM", "ConvInteger",
              "DequantizeLinear"}
RECURRENCE = ("Loop over the step: onnxruntime has no int8 kernel for ONNX's GRU and RNN "
              "operators")
METHOD = ("onnxruntime dynamic quantisation: weights int8 (symmetric, one scale per tensor), "
          "activations uint8 quantised per call from their range")
COMPARED_ON = ("random example inputs (batch 4, time 7, source 6; seed 1), int8 against the "
               "float graph, both in onnxruntime")
ENTRY_KEYS = {"file", "bytes", "float_bytes", "int8_weight_share", "int8_ops", "max_abs_diff",
              "outputs"}


def forecaster(cell: str, **kw) -> Forecaster:
    torch.manual_seed(0)
    return Forecaster(horizon=2, input_size=2, cell=cell, hidden_size=4, **kw).eval()


def nodes_of(graph):
    """Every node of a graph and of its subgraphs (Loop bodies)."""
    for node in graph.node:
        yield node
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from nodes_of(a.g)


def ops_of(path) -> list[str]:
    return [n.op_type for n in nodes_of(onnx.load(str(path)).graph)]


def opset_of(path) -> int:
    return {o.domain: o.version for o in onnx.load(str(path)).opset_import}[""]


def run(path, inputs: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in inputs.items()})


def check_int8_export(model, files, directory, opset):
    """The int8 graphs of an exported ``model``: files, ports, outputs against the torch
    model, and export.json's entry for each, measured again. Returns the entries."""
    manifest = json.loads(files["manifest"].read_text())
    assert manifest["opset"] == opset
    quantized = manifest["quantized"]
    assert quantized["method"] == METHOD and quantized["compared_on"] == COMPARED_ON
    entries = quantized["graphs"]
    plan = PLANS[type(model).__name__](model)
    names = [g.name for g in plan.graphs]
    assert list(entries) == names == list(manifest["graphs"])
    assert set(files) == {"manifest", *names, *(f"{n}.int8" for n in names)}
    for graph in plan.graphs:
        entry, name = entries[graph.name], graph.name
        float_path, int8_path = directory / f"{name}.onnx", directory / f"{name}.int8.onnx"
        assert files[name] == float_path and files[f"{name}.int8"] == int8_path
        assert entry["file"] == f"{name}.int8.onnx"
        assert entry["bytes"] == int8_path.stat().st_size
        assert entry["float_bytes"] == float_path.stat().st_size
        assert opset_of(int8_path) == opset_of(float_path) == opset
        int8 = onnx.load(str(int8_path))
        assert [i.name for i in int8.graph.input] == [p.name for p in graph.inputs]
        assert [o.name for o in int8.graph.output] == [p.name for p in graph.outputs]

        # against the float torch model: close, but not exactly float (int8 really runs)
        inputs = graph.example(SIZES, torch.Generator().manual_seed(1))
        with torch.no_grad():
            want = [w.numpy() for w in graph.module(*inputs.values())]
        got_float, got_int8 = run(float_path, inputs), run(int8_path, inputs)
        worst = 0.0
        for port, w, f, q in zip(graph.outputs, want, got_float, got_int8):
            assert q.shape == w.shape, port.name
            np.testing.assert_allclose(f, w, atol=TOLERANCE, rtol=0)
            diff = float(np.abs(q - w).max())
            assert diff <= max(RELATIVE * float(np.abs(w).max()), FLOOR), (name, port.name)
            worst = max(worst, diff)
        assert worst > 0, f"{name}: int8 gives float's outputs exactly"

        # export.json's figures are the int8-vs-float differences on exactly these inputs
        measured = {p.name: {"max_abs_diff": float(np.abs(q - f).max()),
                             "max_abs_float": float(np.abs(f).max())}
                    for p, f, q in zip(graph.outputs, got_float, got_int8)}
        assert list(entry["outputs"]) == [p.name for p in graph.outputs]
        for port, figures in measured.items():
            assert entry["outputs"][port] == pytest.approx(figures, rel=1e-6, abs=1e-9), port
        assert entry["max_abs_diff"] == max(o["max_abs_diff"] for o in entry["outputs"].values())
        share = int8_share(int8)
        assert 0.5 < share < 1 and entry["int8_weight_share"] == round(share, 4)
        kinds = [op for op in ops_of(int8_path) if op in INT8_KINDS]
        assert entry["int8_ops"] == {k: kinds.count(k) for k in sorted(set(kinds))}
        assert entry["int8_ops"]
    return entries


def test_gru_int8_graphs_are_loops_close_to_the_model(tmp_path):
    model = forecaster("gru")
    files = export_model(model, tmp_path, quantize="dynamic", opset=18)
    entries = check_int8_export(model, files, tmp_path, 18)
    # the float sequence graph keeps ONNX's GRU, which has no int8 kernel: its int8 graph is
    # the Loop over the step (the step graph has no GRU to replace)
    assert "GRU" in ops_of(files["sequence"])
    sequence_ops = ops_of(files["sequence.int8"])
    assert "GRU" not in sequence_ops and "Loop" in sequence_ops
    assert set(entries["sequence"]) == ENTRY_KEYS | {"recurrence"}
    assert entries["sequence"]["recurrence"] == RECURRENCE
    assert set(entries["step"]) == ENTRY_KEYS
    assert "Loop" not in ops_of(files["step.int8"])


def test_lstm_int8_keeps_the_native_operator_at_the_default_opset(tmp_path):
    model = forecaster("lstm")
    out = tmp_path / "new" / "nested"  # made with its parents
    files = export_model(model, out, quantize="dynamic")
    entries = check_int8_export(model, files, out, 17)
    ops = ops_of(files["sequence.int8"])
    assert "DynamicQuantizeLSTM" in ops and "Loop" not in ops and "LSTM" not in ops
    assert all(set(e) == ENTRY_KEYS for e in entries.values())


def test_without_native_ops_the_gru_is_a_loop_already(tmp_path):
    model = forecaster("gru")
    files = export_model(model, tmp_path, quantize="dynamic", native_ops=False)
    entries = check_int8_export(model, files, tmp_path, 17)
    assert "Loop" in ops_of(files["sequence"]) and "GRU" not in ops_of(files["sequence"])
    assert all(set(e) == ENTRY_KEYS for e in entries.values())  # nothing re-exported


def test_a_failing_quantiser_names_the_model_and_graph(tmp_path, monkeypatch):
    def fail(proto, path):
        raise RuntimeError("\n  no int8 kernel\nsecond line")

    monkeypatch.setattr(onnx_export, "int8_dynamic", fail)
    with pytest.raises(ExportError, match=r"^Forecaster: the sequence graph does not quantise: "
                                          r"RuntimeError: no int8 kernel$") as info:
        export_model(forecaster("lstm"), tmp_path, quantize="dynamic")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_failing_loop_re_export_names_the_model_and_graph(tmp_path, monkeypatch):
    """The GRU's int8 source is the sequence graph traced again as a Loop: the second
    trace of that graph fails here."""
    traced, to_onnx = [], onnx_export._to_onnx

    def second_trace_fails(graph, inputs, opset):
        if graph.name in traced:
            raise RuntimeError("no Loop today")
        traced.append(graph.name)
        return to_onnx(graph, inputs, opset)

    monkeypatch.setattr(onnx_export, "_to_onnx", second_trace_fails)
    with pytest.raises(ExportError, match=r"^Forecaster: the sequence graph does not export: "
                                          r"RuntimeError: no Loop today$"):
        export_model(forecaster("gru"), tmp_path, quantize="dynamic")
    assert traced == ["sequence"]


@pytest.mark.parametrize("mode", ["static", "Dynamic", ""])
def test_unknown_quantize_modes_are_refused_before_writing(mode, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"^quantize must be None or one of \['dynamic'\], "
                                         f"got {re.escape(repr(mode))}$"):
        export_model(forecaster("gru"), out, quantize=mode)
    assert not out.exists()


def _missing(module: str, extra: str = "export") -> str:
    return (rf"^{module} is not installed; it comes with rnnkit's '{extra}' extra: "
            rf"pip install 'rnnkit\[{extra}\]' \(or pip install {module}\)$")


def test_a_missing_quantiser_is_named_before_writing_and_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)  # -> ImportError
    out = tmp_path / "out"
    with pytest.raises(MissingExtraError, match=_missing("onnxruntime")):
        export_model(forecaster("gru"), out, quantize="dynamic")
    assert not out.exists()
    files = export_model(forecaster("gru"), out)  # float graphs need no quantiser
    assert set(files) == {"sequence", "step", "manifest"}
    assert "quantized" not in json.loads(files["manifest"].read_text())
    assert not list(out.glob("*.int8.onnx"))


def test_a_missing_onnx_or_onnxruntime_names_the_export_extra(tmp_path, monkeypatch):
    model = forecaster("gru")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError, match=_missing("onnx")):
        exportable(model)
    with pytest.raises(MissingExtraError, match=_missing("onnx")):
        export_model(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=_missing("onnxruntime")):
        run_onnx("model.onnx", {})


def test_the_example_is_what_is_traced(tmp_path):
    model = forecaster("gru")
    wrong = {"x": torch.randn(3, 5, 3)}  # 3 features where the model reads 2
    with pytest.raises(ExportError, match=r"^Forecaster: the sequence graph does not export: "
                                          r"RuntimeError: ") as info:
        export_model(model, tmp_path / "a", example=wrong)
    assert isinstance(info.value.__cause__, RuntimeError)
    # names that are no input of a graph are ignored (lengths: the step graph has none)
    files = export_model(model, tmp_path / "b", verify=True,
                         example={"lengths": torch.tensor([5, 2, 5]), "nonsense": torch.zeros(1)})
    assert set(files) == {"sequence", "step", "manifest"}


def test_an_existing_directory_is_written_into_and_the_manifest_ends_a_line(tmp_path):
    (tmp_path / "keep.txt").write_text("kept")
    files = export_model(forecaster("gru"), tmp_path)
    assert files["manifest"] == tmp_path / "export.json"
    assert (tmp_path / "keep.txt").read_text() == "kept"
    text = files["manifest"].read_text()
    assert text.endswith("\n}\n") and not text.endswith("\n\n")
    manifest = json.loads(text)
    assert manifest["opset"] == 17
    assert "verified" not in manifest and "quantized" not in manifest
    assert opset_of(files["sequence"]) == opset_of(files["step"]) == 17


# --- a model class registered by hand ---------------------------------------------------------

class Doubler(nn.Module):
    """y = 2 x (+ 0 * z where ``use_z``); it has no get_config."""

    def __init__(self, use_z: bool):
        super().__init__()
        self.use_z = use_z

    def forward(self, x, z):
        return (2 * x + 0 * z,) if self.use_z else (2 * x,)


def _doubler_plan(model) -> Plan:
    ports = [Port("x", ("batch", 3)), Port("z", ("batch", 3))]
    return Plan([Graph("model", model, ports, [Port("y", ("batch", 3))], "twice x")],
                {"step": "no recurrence", "encoder": "no source"})


def test_a_registered_model_without_a_config_and_a_graph_that_drops_an_input(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setitem(PLANS, "Doubler", _doubler_plan)
    assert exportable(Doubler(True)) == (True, "writes model.onnx; no step graph: no "
                                               "recurrence; no encoder graph: no source")
    files = export_model(Doubler(True), tmp_path / "ok")
    manifest = json.loads(files["manifest"].read_text())
    assert manifest["model"] == {"class": "Doubler", "config": {
        "unavailable": "AttributeError: 'Doubler' object has no attribute 'get_config'"}}
    assert manifest["not_exported"] == {"step": "no recurrence", "encoder": "no source"}
    with pytest.raises(ExportError, match=r"^Doubler: the model graph does not export: "
                                          r"ValueError: the graph does not use its input\(s\) "
                                          r"\['z'\]$"):
        export_model(Doubler(False), tmp_path / "bad")


def test_a_plan_that_fails_is_named_by_exportable(monkeypatch):
    def broken(model):
        raise ValueError("no plan\nfor this")

    monkeypatch.setitem(PLANS, "Doubler", broken)
    assert exportable(Doubler(True)) == (False, "Doubler cannot be exported: ValueError: "
                                                "no plan")


def test_a_cell_that_does_not_trace_is_named_by_exportable(monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("\nno symbolic for this op\n")

    monkeypatch.setattr(onnx_export, "trace_to_bytes", fail)
    ok, why = exportable(forecaster("gru"))
    assert not ok
    assert re.fullmatch(r"the cell \w+ at [\w.]+ does not export to ONNX: RuntimeError: no "
                        r"symbolic for this op", why), why


class RowwiseCell(RNNCell):
    """An Elman cell that reads its input and state as (batch, size) rows (the transposes
    fail on anything else): exportable's trial step must trace rows, as the export does."""

    def recurrence(self, gx, h, recurrent_mask=None):
        gx, h = gx.transpose(0, 1).transpose(0, 1), h.transpose(0, 1).transpose(0, 1)
        h_new = torch.tanh(gx + self.recurrent_term(h, recurrent_mask))
        return h_new, h_new


def test_exportable_traces_the_step_on_rows_as_the_export_does(tmp_path, monkeypatch):
    monkeypatch.setitem(CELLS, "rowwise_test", RowwiseCell)
    torch.manual_seed(0)
    model = SequenceClassifier(num_classes=2, input_size=3, cell="rowwise_test",
                               hidden_size=4).eval()
    assert exportable(model) == (True, "writes sequence.onnx, step.onnx")
    files = export_model(model, tmp_path, verify=True)
    assert "Loop" in ops_of(files["sequence"])


def test_covariate_forecasters_export_with_a_future_input(tmp_path):
    """Covariates known over the horizon were refused ("its graphs have no port for them
    yet"); both graphs now take them as the input ``future`` (batch, horizon, covariates)."""
    model = Forecaster(horizon=2, input_size=3, covariates=2, hidden_size=4)
    ok, what = exportable(model)
    assert ok, what
    export_model(model, tmp_path / "out")
    for name in ("sequence", "step"):
        graph = onnx.load(tmp_path / "out" / f"{name}.onnx").graph
        (future,) = [i for i in graph.input if i.name == "future"]
        dims = future.type.tensor_type.shape.dim
        assert [d.dim_value for d in dims][1:] == [2, 2]  # (batch, horizon 2, covariates 2)


# --- verify_graph and run_onnx on hand-made graphs --------------------------------------------

class Threshold(nn.Module):
    def __init__(self, at: float):
        super().__init__()
        self.at = at

    def forward(self, x):
        return x + 1, x > self.at


def _threshold_onnx():
    """y = x + 1, m = x > 0, for x of shape (batch, 3)."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"]),
         helper.make_node("Greater", ["x", "zero"], ["m"])], "threshold",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("m", TensorProto.BOOL, ["batch", 3])], [one, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _threshold_graph(at: float) -> Graph:
    return Graph("threshold", Threshold(at), [Port("x", ("batch", 3))],
                 [Port("y", ("batch", 3)), Port("m", ("batch", 3), "bool")], "")


def test_verify_graph_compares_masks_exactly():
    proto = _threshold_onnx()
    assert verify_graph(_threshold_graph(0.0), proto) == 0.0
    # a threshold of 0.3: some of the random inputs lie between, not all
    x = _threshold_graph(0.3).example(SIZES, torch.Generator().manual_seed(1))["x"]
    assert ((x > 0) != (x > 0.3)).any() and not ((x > 0) != (x > 0.3)).all()
    with pytest.raises(ExportError, match=r"^the threshold graph differs from torch by 1 in "
                                          r"onnxruntime \(tolerance 0.0001\)$"):
        verify_graph(_threshold_graph(0.3), proto)
    # on other sizes too, an empty batch included (nothing to differ: 0)
    assert verify_graph(_threshold_graph(0.0), proto, {"batch": 1}) == 0.0
    assert verify_graph(_threshold_graph(0.3), proto, {"batch": 0}) == 0.0


class Zeros(nn.Module):
    def forward(self, x):
        return (0 * x,)


def _offset_onnx(offset: float):
    """y = float64(0 * x) + offset (float64), for x of shape (batch, 2)."""
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    add = helper.make_tensor("offset", TensorProto.DOUBLE, [], [offset])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "zero"], ["x0"]),
         helper.make_node("Cast", ["x0"], ["x64"], to=TensorProto.DOUBLE),
         helper.make_node("Add", ["x64", "offset"], ["y"])], "offset",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["batch", 2])], [zero, add])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_verify_graph_accepts_a_difference_of_exactly_the_tolerance():
    graph = Graph("offset", Zeros(), [Port("x", ("batch", 2))], [Port("y", ("batch", 2))], "")
    assert verify_graph(graph, _offset_onnx(TOLERANCE)) == TOLERANCE
    above = float(np.nextafter(TOLERANCE, 1.0))
    with pytest.raises(ExportError, match=r"^the offset graph differs from torch by 0.0001 in "):
        verify_graph(graph, _offset_onnx(above))


def test_verify_graph_measures_on_the_documented_inputs(tmp_path):
    model = forecaster("lstm")
    files = export_model(model, tmp_path)
    for graph in PLANS["Forecaster"](model).graphs:
        proto = onnx.load(str(files[graph.name]))
        for sizes in (None, {"batch": 2, "time": 3}):
            inputs = graph.example(sizes or SIZES, torch.Generator().manual_seed(1))
            with torch.no_grad():
                want = graph.module(*inputs.values())
            diff = max(float(np.abs(g - w.numpy()).max())
                       for g, w in zip(run(files[graph.name], inputs), want))
            assert verify_graph(graph, proto, sizes) == pytest.approx(diff, rel=1e-6, abs=0)
            assert 0 < diff <= TOLERANCE


def test_run_onnx_takes_a_model_a_path_or_its_name(tmp_path):
    proto = _threshold_onnx()
    path = tmp_path / "threshold.onnx"
    onnx.save(proto, str(path))
    x = torch.tensor([[-1.0, 0.5, 2.0]])
    for source in (proto, path, str(path)):
        y, m = run_onnx(source, {"x": x})
        np.testing.assert_array_equal(y, [[0.0, 1.5, 3.0]])
        np.testing.assert_array_equal(m, [[False, True, True]])
