"""Dynamic int8 quantisation of exported graphs: ``export_model(..., quantize="dynamic")``.

onnxruntime's dynamic quantiser (``onnxruntime.quantization.quantize_dynamic``) stores the
weights as int8 (symmetric, one scale per tensor) and quantises the activations that meet
them to uint8 at run time, from each call's own range; nothing is calibrated, so no data
are needed. What it quantises in rnnkit's graphs:

- ``MatMul`` and ``Gemm`` with a constant weight (input projections, attention, heads,
  decoder outputs) -> ``MatMulInteger`` (onnxruntime fuses it into ``DynamicQuantizeMatMul``);
- ONNX's ``LSTM`` operator (plain LSTM cells, :mod:`rnnkit.export.native`) -> onnxruntime's
  ``DynamicQuantizeLSTM``: the input and recurrent weights int8, the gates float;
- ``Gather`` from an embedding table -> an int8 table, dequantised after the lookup;
  ``Conv`` (a captioner's image encoder) -> ``ConvInteger``;
- ``Loop`` bodies (every other cell: layer norm, minGRU/minLSTM, projected LSTM, zoneout):
  the recurrent product inside the step (the quantiser's ``EnableSubgraph``).

onnxruntime has no int8 kernel for ONNX's ``GRU`` and ``RNN`` operators: it leaves them in
float. So the int8 graph of a model with plain GRU or Elman layers is exported with those
recurrences as a ``Loop`` over the step (as ``native_ops=False`` does), whose products it
then quantises; a ``Loop`` runs slower than the fused operator. Biases, layer norms and the
element-wise gate arithmetic stay float everywhere.

The quantiser only reads weights stored as initializers, and the native operators' weights
are ``Constant`` nodes (:func:`rnnkit.export.native.native_symbolic`), so they are moved
into initializers first (:func:`constants_to_initializers`).

Accuracy: int8 matrix products on CPUs without VNNI (x86 AVX2 only) saturate in
onnxruntime's u8s8 kernel, so the weights are quantised to 7 bits (the quantiser's
``reduce_range``, which its documentation advises there): an int8 file then runs as
accurately on any CPU, at twice the weight rounding step (1/63 of a tensor's largest
magnitude). On an AVX2-only AMD EPYC, full 8-bit weights put a classifier's logits 13% of
their scale off float, 7-bit ones within the tests' 10% bound. The figures ``export.json``
records are measured on the machine that exported.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter

import numpy as np

from .._optional import require

MODES = ("dynamic",)
UNQUANTIZED_OPS = ("GRU", "RNN")  # no int8 kernel in onnxruntime: exported as a Loop
INT8_OPS = ("MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM", "ConvInteger",
            "DequantizeLinear")
# the op types handed to the quantiser (Gemm is rewritten to MatMul by it)
OP_TYPES = ("MatMul", "LSTM", "Gather", "Conv")


def check_mode(quantize: str | None) -> None:
    """A ValueError unless ``quantize`` is None or one of :data:`MODES`."""
    if quantize is not None and quantize not in MODES:
        raise ValueError(f"quantize must be None or one of {list(MODES)}, got {quantize!r}")


def needs_loop(proto) -> bool:
    """Whether ``proto`` has a recurrent operator that onnxruntime cannot quantise."""
    return any(n.op_type in UNQUANTIZED_OPS for n in proto.graph.node)


def constants_to_initializers(proto):
    """A copy of ``proto`` whose float ``Constant`` tensors of rank >= 2 (weights) are
    initializers, which is where the quantiser looks for weights, each read by one node of
    the top-level graph (:func:`_unshare_initializers`)."""
    onnx = require("onnx")
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    graph, nodes = out.graph, []
    for node in graph.node:
        value = node.attribute[0].t if (node.op_type == "Constant" and len(node.attribute) == 1
                                        and node.attribute[0].name == "value") else None
        if value is not None and value.data_type == onnx.TensorProto.FLOAT and \
                len(value.dims) >= 2:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(value)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    _unshare_initializers(graph)
    return out


def _unshare_initializers(graph) -> None:
    """Give every node of ``graph`` after the first that reads a weight initializer its own
    copy of it. The quantiser writes one quantised tensor per weight name, laid out for the
    node it met first: a table shared by an embedding ``Gather`` and a tied output
    ``Gemm`` (``transB``) came out as the wrong one for the other node (onnxruntime 1.31:
    "Incompatible dimensions"). Subgraph bodies keep reading the original."""
    onnx = require("onnx")
    weights = {t.name: t for t in graph.initializer if len(t.dims) >= 2}
    seen: set[str] = set()
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name not in weights:
                continue
            if name in seen:
                copy = onnx.TensorProto()
                copy.CopyFrom(weights[name])
                copy.name = f"{name}.{node.name or node.op_type}.{i}"
                graph.initializer.append(copy)
                node.input[i] = copy.name
            else:
                seen.add(name)


class _DropPreprocessHint(logging.Filter):
    """The quantiser logs a hint to run its pre-processing (shape inference and graph
    optimisation, for static quantisation and transformer fusions); it runs onnx shape
    inference itself, and the result is checked against float, so the hint is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _quiet():
    root, hint = logging.getLogger(), _DropPreprocessHint()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def int8_dynamic(proto, path) -> None:
    """Write the dynamically quantised int8 version of ``proto`` (float) to ``path``."""
    quantization = require("onnxruntime.quantization")
    with _quiet():
        quantization.quantize_dynamic(
            constants_to_initializers(proto), str(path), op_types_to_quantize=list(OP_TYPES),
            weight_type=quantization.QuantType.QInt8, per_channel=False, reduce_range=True,
            extra_options={"EnableSubgraph": True})


def _graphs(graph):
    """``graph`` and every subgraph in it (Loop bodies)."""
    onnx = require("onnx")
    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(a.g)


def int8_ops(proto) -> dict[str, int]:
    """How many nodes of each int8 kind (:data:`INT8_OPS`) ``proto`` has, bodies included."""
    counts = Counter(n.op_type for g in _graphs(proto.graph) for n in g.node
                     if n.op_type in INT8_OPS)
    return dict(sorted(counts.items()))


def int8_share(proto) -> float:
    """The share of the weights' elements (initializers and constants of more than one
    element, float or 8-bit) that ``proto`` stores in 8 bits."""
    onnx = require("onnx")
    P = onnx.TensorProto
    sizes = {P.FLOAT: 0, P.INT8: 0, P.UINT8: 0}
    for g in _graphs(proto.graph):
        tensors = list(g.initializer) + [a.t for n in g.node if n.op_type == "Constant"
                                         for a in n.attribute if a.name == "value"]
        for t in tensors:
            n = int(np.prod(t.dims)) if len(t.dims) else 1
            if t.data_type in sizes and n > 1:
                sizes[t.data_type] += n
    total = sum(sizes.values())
    return (sizes[P.INT8] + sizes[P.UINT8]) / total if total else 0.0


def output_diffs(float_path, int8_path, inputs: dict, names: list[str]) -> dict[str, dict]:
    """Per output: the max abs difference int8 vs float in onnxruntime on ``inputs`` (torch
    tensors by name), and the float output's max abs value (its scale)."""
    ort = require("onnxruntime")
    feed = {k: v.numpy() for k, v in inputs.items()}
    runs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)
            for p in (float_path, int8_path)]
    out = {}
    for name, want, got in zip(names, *runs):
        if want.dtype == bool:
            out[name] = {"max_abs_diff": float((want != got).any()), "max_abs_float": 1.0}
            continue
        finite = np.isfinite(want)
        out[name] = {"max_abs_diff": float(np.max(np.abs(got - want)[finite], initial=0.0)),
                     "max_abs_float": float(np.max(np.abs(want[finite]), initial=0.0))}
    return out
