"""The int8 export's helpers (rnnkit/export/quantize.py) on ONNX graphs built by hand: which
constants become initializers, how shared weights are copied, what counts as an 8-bit
weight, how int8 outputs are compared with float, that the weights use 7 bits and that a
Loop body is quantised (found by mutation testing, benchmarks/mutation.py; the export
tests run these only end to end)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                          "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="int8 graphs run in onnxruntime: "
                                                "pip install 'rnnkit[export]'")

import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from rnnkit._optional import MissingExtraError  # noqa: E402
from rnnkit.export import quantize as q  # noqa: E402

F = TensorProto.FLOAT


def _const(name, array, attr="value", op="Constant", domain=""):
    tensor = numpy_helper.from_array(np.asarray(array), name=name)
    return helper.make_node(op, [], [name], domain=domain, **{attr: tensor})


def _graph(nodes, initializers=(), inputs=(), outputs=()):
    return helper.make_graph(nodes, "g", list(inputs), list(outputs), list(initializers))


def _model(graph):
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_float_constants_of_rank_two_or_more_become_initializers():
    nodes = [
        _const("w2", np.ones((2, 3), np.float32)),  # moved
        _const("w3", np.ones((2, 2, 2), np.float32)),  # moved
        _const("b1", np.ones(3, np.float32)),  # a bias: stays
        _const("i2", np.ones((2, 2), np.int64)),  # not float: stays
        helper.make_node("Constant", [], ["s"], value_float=1.0),  # not a tensor: stays
        # not a Constant, though with one tensor attribute named value: stays
        _const("c2", np.ones((2, 2), np.float32), op="Custom", domain="test"),
        helper.make_node("MatMul", ["x", "w2"], ["y"]),
    ]
    out = q.constants_to_initializers(_model(_graph(nodes)))
    assert sorted(t.name for t in out.graph.initializer) == ["w2", "w3"]
    kept = [n.output[0] for n in out.graph.node]
    assert kept == ["b1", "i2", "s", "c2", "y"]
    np.testing.assert_array_equal(numpy_helper.to_array(out.graph.initializer[0]),
                                  np.ones((2, 3), np.float32))


def test_a_weight_read_by_several_nodes_gets_a_copy_per_later_reader():
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), name="W")
    bias = numpy_helper.from_array(np.ones(3, np.float32), name="b")  # rank 1: never copied
    nodes = [
        helper.make_node("Gather", ["W", "ids"], ["e"], name="embed"),
        helper.make_node("Add", ["x", "b"], ["x1"], name="add1"),
        helper.make_node("Add", ["x1", "b"], ["x2"], name="add2"),
        helper.make_node("MatMul", ["x2", "W"], ["y"], name="out"),  # W is its second input
        helper.make_node("MatMul", ["y", "W"], ["z"]),  # no name: its op type names the copy
    ]
    graph = _graph(nodes, [w, bias])
    q._unshare_initializers(graph)
    assert [list(n.input) for n in graph.node] == [
        ["W", "ids"], ["x", "b"], ["x1", "b"], ["x2", "W.out.1"], ["y", "W.MatMul.1"]]
    names = [t.name for t in graph.initializer]
    assert names == ["W", "b", "W.out.1", "W.MatMul.1"]
    for t in graph.initializer[2:]:
        np.testing.assert_array_equal(numpy_helper.to_array(t), numpy_helper.to_array(w))


def test_int8_share_counts_weight_elements_in_every_graph():
    P = TensorProto
    body = _graph([_const("k", np.ones((5, 2), np.int8))],  # 10 int8, in a Loop body
                  [numpy_helper.from_array(np.ones(4, np.float32), name="bb")])  # 4 float
    loop = helper.make_node("Loop", ["n", "c"], ["o"], body=body)
    graph = _graph(
        [loop, _const("cu", np.ones(6, np.uint8)),  # 6 uint8 (a Constant's value)
         helper.make_node("Constant", [], ["vi"], value_ints=[1, 2, 3]),  # no tensor
         _const("one", np.ones(1, np.float32))],  # a single element: not a weight
        [numpy_helper.from_array(np.ones((3, 4), np.float32), name="wf"),  # 12 float
         numpy_helper.from_array(np.ones(8, np.int8), name="wi"),  # 8 int8
         numpy_helper.from_array(np.ones(2, np.int8), name="w2"),  # 2 int8: the smallest
         numpy_helper.from_array(np.array(5, np.int8), name="scalar"),  # rank 0: no
         numpy_helper.from_array(np.ones(7, np.int64), name="shape")])  # other type: no
    assert P.INT8 != P.UINT8
    eight_bit, float_ = 10 + 6 + 8 + 2, 4 + 12
    assert q.int8_share(_model(graph)) == pytest.approx(eight_bit / (eight_bit + float_))
    assert q.int8_share(_model(_graph([]))) == 0.0
    only_float = _graph([], [numpy_helper.from_array(np.ones((2, 2), np.float32), name="w")])
    assert q.int8_share(_model(only_float)) == 0.0


def test_int8_ops_counts_only_the_int8_kinds_bodies_included():
    body = _graph([helper.make_node("MatMulInteger", ["a", "b"], ["c"]),
                   helper.make_node("Add", ["c", "c"], ["d"])])
    graph = _graph([helper.make_node("Loop", ["n", "c0"], ["o"], body=body),
                    helper.make_node("DynamicQuantizeLSTM", ["x"], ["y"], domain="com.microsoft"),
                    helper.make_node("MatMulInteger", ["a", "b"], ["c"]),
                    helper.make_node("Relu", ["c"], ["r"])])
    assert q.int8_ops(_model(graph)) == {"DynamicQuantizeLSTM": 1, "MatMulInteger": 2}


def _saved(tmp_path, name, offsets, nan=False):
    """A graph y = x + offset (float), z = x > 0 (bool), w = x * 0 + offset[0] (all NaN
    where ``nan``), saved to ``name``."""
    add = numpy_helper.from_array(np.asarray(offsets, np.float32), name="k")
    zero = numpy_helper.from_array(np.zeros(1, np.float32), name="zero")
    fill = numpy_helper.from_array(np.array([np.nan if nan else 0.25], np.float32),
                                   name="fill")
    nodes = [helper.make_node("Greater", ["x", "zero"], ["z"]),
             helper.make_node("Add", ["x", "k"], ["y"]),
             helper.make_node("Mul", ["x", "zero"], ["x0"]),
             helper.make_node("Add", ["x0", "fill"], ["w"])]
    graph = _graph(nodes, [add, zero, fill],
                   [helper.make_tensor_value_info("x", F, [3])],
                   [helper.make_tensor_value_info("z", TensorProto.BOOL, [3]),
                    helper.make_tensor_value_info("y", F, [3]),
                    helper.make_tensor_value_info("w", F, [3])])
    path = tmp_path / name
    onnx.save(_model(graph), path)
    return path


def test_output_diffs_by_hand(tmp_path):
    x = torch.tensor([0.5, -0.25, 0.125])
    a = _saved(tmp_path, "a.onnx", [0.0, 0.0, 0.0])
    b = _saved(tmp_path, "b.onnx", [0.0, 0.01, -0.02])
    got = q.output_diffs(a, b, {"x": x}, ["z", "y", "w"])
    assert got["z"] == {"max_abs_diff": 0.0, "max_abs_float": 1.0}  # bool: same or not
    assert got["y"]["max_abs_diff"] == pytest.approx(0.02)
    assert got["y"]["max_abs_float"] == pytest.approx(0.5)  # below 1: no floor of 1
    assert got["w"] == {"max_abs_diff": 0.0, "max_abs_float": 0.25}
    nan = _saved(tmp_path, "n.onnx", [0.0, 0.0, 0.0], nan=True)
    both_nan = q.output_diffs(nan, nan, {"x": x}, ["z", "y", "w"])
    assert both_nan["w"] == {"max_abs_diff": 0.0, "max_abs_float": 0.0}  # no finite value
    partly = q.output_diffs(nan, a, {"x": x}, ["z", "y", "w"])
    assert partly["w"] == {"max_abs_diff": 0.0, "max_abs_float": 0.0}  # NaN points skipped


def test_int8_weights_use_seven_bits_and_loop_bodies_are_quantised(tmp_path):
    """reduce_range: every int8 weight lies in [-64, 64] (8 bits would reach 127) and the
    largest reaches the edge; a
    MatMul inside a Loop body is quantised too (EnableSubgraph)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(4, 4)).astype(np.float32), name="W")
    v = numpy_helper.from_array(rng.normal(size=(4, 4)).astype(np.float32), name="V")
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("MatMul", ["h_in", "V"], ["h_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", F, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", F, [1, 4])], [v])
    graph = _graph(
        [helper.make_node("MatMul", ["x", "W"], ["h0"]),
         helper.make_node("Loop", ["n", "cond", "h0"], ["h"], body=body)],
        [w, numpy_helper.from_array(np.array(3, np.int64), name="n"),
         numpy_helper.from_array(np.array(True), name="cond")],
        [helper.make_tensor_value_info("x", F, [1, 4])],
        [helper.make_tensor_value_info("h", F, [1, 4])])
    model = _model(graph)
    model.ir_version = 8
    path = tmp_path / "int8.onnx"
    q.int8_dynamic(model, path)
    out = onnx.load(path)
    weights = [numpy_helper.to_array(t) for g in q._graphs(out.graph) for t in g.initializer
               if t.data_type == TensorProto.INT8 and len(t.dims) == 2]
    assert len(weights) == 2  # W and the body's V
    for a in weights:
        assert 63 <= np.abs(a.astype(int)).max() <= 64
    body_ops = [n.op_type for n in out.graph.node if n.op_type == "Loop"
                for a in n.attribute for n in a.g.node]
    assert set(body_ops) & set(q.INT8_OPS)


def test_the_preprocess_hint_is_dropped_and_other_records_kept():
    hint = q._DropPreprocessHint()

    def record(message):
        return logging.LogRecord("q", logging.WARNING, __file__, 1, message, None, None)

    assert not hint.filter(record("Please consider pre-processing before quantization."))
    assert hint.filter(record("something else"))


def test_a_missing_onnx_names_the_export_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    for call in (lambda: q.int8_share(None), lambda: q.int8_dynamic(None, "x"),
                 lambda: q.output_diffs("a", "b", {}, [])):
        with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[export\]'"):
            call()
