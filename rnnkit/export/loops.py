"""From a module to an ONNX model whose recurrences are ``Loop``s over a traced cell step.

Why not let the exporter make the loop: measured with torch 2.13 here, a ``torch.jit.script``
loop around a traced step (``dynamo=False``) loses the static sizes inside the ``Loop`` body,
so a cell's ``chunk`` or layer norm fails to export ("unknown dimension size", "not
constant"); the dynamo exporter turns ``torch.ops.higher_order.scan`` into a Scan for the
GRU but fails on the layer-norm cells (SymInt in the scan's decomposition) and takes 4-12 s
for a single step. So a graph is exported (TorchScript-based, by tracing) with every
recurrence as one placeholder node ``rnnkit::Recur`` (:func:`rnnkit.export.layer.recur`);
each cell's step is exported on its own, where every size but the batch is static, and
:func:`expand_recurrences` puts that step into a ``Loop`` that gathers ``gx[t]`` and
``valid[t]``, keeps the state where a step is not valid and zeroes its output, as
:func:`rnnkit.layers.loop.run_direction` does.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import torch
from torch import Tensor, nn

from .._optional import require
from .layer import SLOTS, cell_step, recur_symbolic
from .native import native_symbolic

DOMAIN = "rnnkit"  # the placeholder nodes' domain, gone from the finished model

# Tracer warnings that rnnkit's models raise where the trace is right: iterating over the
# (layers * directions) rows of a state (a static size), indexing with lengths - 1 >= 0.
_KNOWN_SAFE = (
    "Iterating over a tensor might cause the trace to be incorrect",
    "Using len to get tensor shape might cause the trace to be incorrect",
    "Exporting aten::index operator of advanced indexing",
)


def layer_norm_symbolic(g, input, normalized_shape, weight, bias, eps, cudnn_enable):
    """``aten::layer_norm`` -> ``LayerNormalization`` when ``normalized_shape`` is traced
    from a tensor's shape (``x.shape[-1:]``) rather than constant: only its length (the
    axis) matters; a missing weight becomes ones of the normalised dims' shape."""
    from torch.onnx import symbolic_helper

    node = normalized_shape.node()
    if node.kind() == "prim::ListConstruct":
        axis = -len(list(node.inputs()))
    else:
        axis = -len(symbolic_helper._maybe_get_const(normalized_shape, "is"))
    if symbolic_helper._is_none(weight):
        dims = g.op("Shape", input, start_i=axis)
        one = torch.ones(1)  # float32, as every rnnkit export (graphs.prepared)
        weight = g.op("ConstantOfShape", dims, value_t=one)
    inputs = [input, weight] + ([] if symbolic_helper._is_none(bias) else [bias])
    eps = symbolic_helper._maybe_get_const(eps, "f")
    return g.op("LayerNormalization", *inputs, epsilon_f=eps, axis_i=axis)


@contextlib.contextmanager
def symbolics(opset: int):
    """rnnkit's symbolics, registered for the duration of an export only."""
    names = {"rnnkit_export::recur": recur_symbolic,
             "rnnkit_export::native_recur": native_symbolic,
             "aten::layer_norm": layer_norm_symbolic}
    for name, fn in names.items():
        torch.onnx.register_custom_op_symbolic(name, fn, opset)
    try:
        yield
    finally:
        for name in names:
            torch.onnx.unregister_custom_op_symbolic(name, opset)


def trace_to_onnx(module: nn.Module, inputs: tuple[Tensor, ...], input_names: list[str],
                  output_names: list[str], dynamic_axes: dict, opset: int,
                  placeholders: bool = True):
    """``torch.onnx.export`` (TorchScript-based) to an in-memory ``onnx.ModelProto``
    (``placeholders``: unused, see :func:`trace_to_bytes`)."""
    onnx = require("onnx")
    return onnx.load_from_string(trace_to_bytes(
        module, inputs, input_names, output_names, dynamic_axes, opset))


def trace_to_bytes(module: nn.Module, inputs: tuple[Tensor, ...], input_names: list[str],
                   output_names: list[str], dynamic_axes: dict, opset: int,
                   placeholders: bool = True) -> bytes:
    """The serialised ONNX model that the exporter writes (needs torch only).

    ``placeholders`` (whether the module may emit ``rnnkit::Recur`` nodes) is unused, kept
    for the callers: torch imports the ``rnnkit`` domain by itself where a node uses it,
    and declaring it (``custom_opsets``) for a graph without one printed a C++ warning on
    every export with ONNX's own recurrent operators."""
    buffer = io.BytesIO()
    with symbolics(opset), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based exporter
        for message in _KNOWN_SAFE:
            warnings.filterwarnings("ignore", message=message)
        torch.onnx.export(  # (constants folded: torch's default)
            module, inputs, buffer, dynamo=False, opset_version=opset,
            input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
        )
    return buffer.getvalue()


class _Step(nn.Module):
    """One step of a cell on the packed state: (gx (B, G), state (B, S)) -> (y, state)."""

    def __init__(self, slot):
        super().__init__()
        self.cell, self.sizes, self.zoneout = slot.cell, slot.sizes, slot.zoneout

    def forward(self, gx: Tensor, state: Tensor):
        y, new = cell_step(self.cell, gx, tuple(state.split(self.sizes, dim=-1)), self.zoneout)
        return y, torch.cat(new, dim=-1)


def export_step(key: int, input_width: int, opset: int):
    """The ONNX model of cell ``key``'s step, batch dynamic: inputs ``gx``, ``state``;
    outputs ``y``, ``next``."""
    slot = SLOTS[key]
    example = (torch.randn(3, input_width), torch.randn(3, sum(slot.sizes)))
    batch = {0: "batch"}
    return trace_to_onnx(_Step(slot).eval(), example, ["gx", "state"], ["y", "next"],
                         {"gx": batch, "state": batch, "y": batch, "next": batch}, opset)


def projected_width(key: int) -> int:
    """The size of a cell's projected input ``gx`` (what its recurrence reads)."""
    cell = SLOTS[key].cell
    with torch.no_grad():
        return cell.input_projection(torch.zeros(1, cell.input_size)).shape[-1]


def expand_recurrences(model, opset: int):
    """Replace every ``rnnkit::Recur`` node of ``model`` (an ``onnx.ModelProto``, changed in
    place and returned) with a ``Loop`` over its cell's exported step."""
    onnx = require("onnx")
    graph = model.graph
    nodes = []
    for node in graph.node:
        if node.domain != DOMAIN:
            nodes.append(node)
            continue
        key = next(a.i for a in node.attribute if a.name == "key")
        step = export_step(key, projected_width(key), opset)
        slot = SLOTS[key]
        widths = {"state": sum(slot.sizes), "y": slot.cell.output_size}
        loop_nodes, initializers = _loop(node, step, widths, f"rnnkit_recur{key}/")
        nodes.extend(loop_nodes)
        graph.initializer.extend(initializers)
    del graph.node[:]
    graph.node.extend(nodes)
    imports = [op for op in model.opset_import if op.domain != DOMAIN]
    del model.opset_import[:]
    model.opset_import.extend(imports)
    onnx.checker.check_model(model)
    return model


def _loop(node, step, widths: dict[str, int], prefix: str):
    """The nodes that replace one placeholder: the trip count and the ``Loop``, whose body
    is ``step``'s graph with every name prefixed; and ``step``'s weights, renamed.
    ``widths``: the sizes of the packed state and of the output."""
    onnx = require("onnx")
    helper, P = onnx.helper, onnx.TensorProto
    gx, valid, state_in = node.input
    y_out, state_out = node.output

    def name(n: str) -> str:
        return prefix + n if n else n

    body_nodes = [
        helper.make_node("Gather", [gx, name("t")], [name("gx")]),  # gx[t] (axis 0)
        helper.make_node("Gather", [valid, name("t")], [name("keep")]),  # (B, 1)
    ]
    for n in step.graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in n.attribute):
            raise ValueError(f"the cell's step contains control flow ({n.op_type})")
        m = onnx.NodeProto()
        m.CopyFrom(n)
        m.name = name(n.name)
        m.input[:] = [name(i) for i in n.input]
        m.output[:] = [name(o) for o in n.output]
        body_nodes.append(m)
    elem = next(o.type.tensor_type.elem_type for o in step.graph.output if o.name == "y")
    body_nodes += [
        helper.make_node("Where", [name("keep"), name("next"), name("state")],
                         [name("state_out")]),
        helper.make_node("Cast", [name("keep")], [name("keep_f")], to=elem),
        helper.make_node("Mul", [name("y"), name("keep_f")], [name("y_out")]),
        helper.make_node("Identity", [name("cond")], [name("cond_out")]),
    ]
    body = helper.make_graph(
        body_nodes, prefix + "body",
        [helper.make_tensor_value_info(name("t"), P.INT64, []),
         helper.make_tensor_value_info(name("cond"), P.BOOL, []),
         helper.make_tensor_value_info(name("state"), elem, [None, widths["state"]])],
        [helper.make_tensor_value_info(name("cond_out"), P.BOOL, []),
         helper.make_tensor_value_info(name("state_out"), elem, [None, widths["state"]]),
         helper.make_tensor_value_info(name("y_out"), elem, [None, widths["y"]])],
    )
    initializers = []
    for init in step.graph.initializer:
        renamed = onnx.TensorProto()
        renamed.CopyFrom(init)
        renamed.name = name(init.name)
        initializers.append(renamed)
    zero = helper.make_tensor(name("zero"), P.INT64, [], [0])
    initializers.append(zero)
    outer = [
        helper.make_node("Shape", [gx], [name("gx_shape")]),
        helper.make_node("Gather", [name("gx_shape"), name("zero")], [name("trips")]),
        helper.make_node("Loop", [name("trips"), "", state_in], [state_out, y_out],
                         name=prefix + "loop", body=body),
    ]
    return outer, initializers
