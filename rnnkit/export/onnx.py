"""``export_model``: a model's ONNX graphs and their description, ``export.json``.

    files = export_model(model, "out/")   # {"sequence": .../sequence.onnx, "step": ...,
                                          #  "manifest": .../export.json}
    ok, why = exportable(model)

Needs the ``export`` extra (``onnx``; ``onnxruntime`` too for ``verify=True``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .._optional import require
from .graphs import PLANS, Graph, Plan
from .layer import ExportLayer, is_rnnkit_layer, layer_grid, use_native_ops
from .loops import _Step, expand_recurrences, trace_to_bytes, trace_to_onnx
from .quantize import check_mode, int8_dynamic, int8_ops, int8_share, needs_loop, output_diffs

TOLERANCE = 1e-4  # max abs difference onnxruntime vs torch that verify accepts (float32)
MIN_OPSET = 17  # LayerNormalization
# the dynamic axes of the random inputs that verify and the int8 comparison run (other than
# the traced ones, so that a size fixed by the trace is found)
DIFF_SIZES = {"batch": 4, "time": 7, "source": 6}


class ExportError(RuntimeError):
    """A model that cannot be exported, or an export that failed; the message says why."""


def exportable(model: nn.Module) -> tuple[bool, str]:
    """Whether :func:`export_model` can export ``model``, and why not (or what it will
    write, and which graphs it leaves out with the reason). Traces each cell's step to
    ONNX, so a cell with an op that has no ONNX form is found here; so it needs the
    ``export`` extra too (:class:`~rnnkit._optional.MissingExtraError` without it)."""
    problem = _static_problem(model)
    if problem:
        return False, problem
    require("onnx", "export")  # the exporter needs it
    for where, cell in _cells(model):
        try:
            _trial_step(cell)
        except Exception as e:  # the exporter's own error types vary by op
            return False, (f"the cell {type(cell).__name__} at {where} does not export to "
                           f"ONNX: {_first_line(e)}")
    try:
        plan = PLANS[type(model).__name__](model)
    except Exception as e:
        return False, f"{type(model).__name__} cannot be exported: {_first_line(e)}"
    return True, _describe(plan)


def export_model(model: nn.Module, directory: str | Path, *,
                 example: dict[str, Tensor] | None = None, opset: int = 17,
                 verify: bool = False, native_ops: bool = True,
                 quantize: str | None = None) -> dict[str, Path]:
    """Write ``model``'s ONNX graphs and ``export.json`` into ``directory``.

    Graphs (each ``<name>.onnx``; dynamic batch and time axes; float32):

    - ``sequence``: whole sequences with ``lengths`` (masked, as the layers run them); and
      ``step``: one step with the recurrent state as inputs and outputs (unidirectional
      models), for streaming: iterating it gives the sequence graph's outputs.
    - ``encoder`` and ``decoder_step`` for encoder-decoder models (Seq2Seq,
      ConditionalGenerator, ImageCaptioner): what greedy decoding and beam search call.
    - ``model`` for a model without recurrence (FeedForward).

    ``export.json`` names every graph's inputs and outputs with shape, dtype, meaning and,
    for states, the initial value; ``not_exported`` says which graphs a model cannot have.
    ``example``: input tensors by port name to trace with (default: random ones of the
    right kind). ``verify``: run each graph in onnxruntime on random inputs (mixed lengths)
    and check it against torch (max abs difference <= 1e-4), recorded in ``export.json``.
    ``native_ops``: plain Elman/LSTM/GRU cells become ONNX's ``RNN``/``LSTM``/``GRU``
    operators (faster in onnxruntime; :mod:`rnnkit.export.native`); False: a ``Loop`` over
    the step, as for every other cell.
    ``quantize``: None, or ``"dynamic"``: also write each graph dynamically quantised to int8
    as ``<name>.int8.onnx`` (:mod:`rnnkit.export.quantize` says what becomes int8), and
    record under ``"quantized"`` in ``export.json`` its size, the share of its weights in
    int8 and, per output, the max abs difference from the float graph in onnxruntime on
    random example inputs.
    Returns graph name -> path (``"<name>.int8"`` for the int8 graphs), and
    ``"manifest"`` -> ``export.json``.
    Raises :class:`ExportError` when the model cannot be exported (see :func:`exportable`).
    """
    onnx = require("onnx", "export")
    check_mode(quantize)
    if quantize:
        require("onnxruntime.quantization", "export")  # before anything is written
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET} (LayerNormalization), got {opset}")
    problem = _static_problem(model)
    if problem:
        raise ExportError(problem)
    with use_native_ops(native_ops):
        plan = PLANS[type(model).__name__](model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "export.json"
    manifest.unlink(missing_ok=True)  # a new export that stops half-way leaves none to trust
    files, checked, quantized = {}, {}, {}
    loops = _LoopPlan(model, native_ops)
    for graph in plan.graphs:
        inputs = graph.example()
        inputs.update({k: v for k, v in (example or {}).items() if k in inputs})
        proto = _export_graph(model, graph, inputs, opset)
        path = directory / f"{graph.name}.onnx"
        tmp = path.with_name(f".{path.name}.tmp")  # each file whole or not there
        onnx.save(proto, str(tmp))
        tmp.replace(path)
        files[graph.name] = path
        if verify:
            checked[graph.name] = verify_graph(graph, proto)
        if quantize:
            quantized[graph.name] = _write_int8(model, graph, proto, path, inputs, opset, loops)
            files[f"{graph.name}.int8"] = directory / quantized[graph.name]["file"]
    tmp = manifest.with_name(".export.json.tmp")  # written last: the export is complete
    tmp.write_text(json.dumps(_manifest(model, plan, opset, checked, quantized),
                              indent=2) + "\n")
    tmp.replace(manifest)
    files["manifest"] = manifest
    return files


def _export_graph(model: nn.Module, graph: Graph, inputs: dict[str, Tensor], opset: int):
    try:
        return _to_onnx(graph, inputs, opset)
    except Exception as e:
        raise ExportError(f"{type(model).__name__}: the {graph.name} graph does not "
                          f"export: {_first_line(e)}") from e


class _LoopPlan:
    """The model's plan with every recurrence a ``Loop`` (made on first use): the source
    of the int8 graphs whose native operators onnxruntime cannot quantise (GRU, RNN)."""

    def __init__(self, model: nn.Module, native_ops: bool):
        self.model, self.native_ops, self._plan = model, native_ops, None

    def source(self, graph: Graph, proto, inputs: dict[str, Tensor], opset: int):
        if not (self.native_ops and needs_loop(proto)):
            return proto, False
        if self._plan is None:
            with use_native_ops(False):
                self._plan = PLANS[type(self.model).__name__](self.model)
        twin = next(g for g in self._plan.graphs if g.name == graph.name)
        return _export_graph(self.model, twin, inputs, opset), True


def _write_int8(model: nn.Module, graph: Graph, proto, path: Path, inputs: dict[str, Tensor],
                opset: int, loops: _LoopPlan) -> dict:
    """Write ``<name>.int8.onnx`` beside the float graph at ``path``; its export.json entry."""
    onnx = require("onnx", "export")
    source, looped = loops.source(graph, proto, inputs, opset)
    out = path.with_name(f"{graph.name}.int8.onnx")
    try:
        int8_dynamic(source, out)
    except Exception as e:
        raise ExportError(f"{type(model).__name__}: the {graph.name} graph does not "
                          f"quantise: {_first_line(e)}") from e
    int8 = onnx.load(str(out))
    example = graph.example(DIFF_SIZES, torch.Generator().manual_seed(1))
    outputs = output_diffs(path, out, example, [p.name for p in graph.outputs])
    entry = {"file": out.name, "bytes": out.stat().st_size, "float_bytes": path.stat().st_size,
             "int8_weight_share": round(int8_share(int8), 4), "int8_ops": int8_ops(int8),
             "max_abs_diff": max((o["max_abs_diff"] for o in outputs.values()), default=0.0),
             "outputs": outputs}
    if looped:
        entry["recurrence"] = ("Loop over the step: onnxruntime has no int8 kernel for "
                               "ONNX's GRU and RNN operators")
    return entry


def verify_graph(graph: Graph, proto, sizes: dict[str, int] | None = None) -> float:
    """Max abs difference between onnxruntime and torch on the graph's random example
    inputs (``sizes``: the dynamic axes; other than the traced ones by default), or an
    :class:`ExportError` above the tolerance."""
    inputs = graph.example(sizes or DIFF_SIZES, torch.Generator().manual_seed(1))
    got = run_onnx(proto, inputs)
    with torch.no_grad():
        want = graph.module(*inputs.values())
    diff = max(float(np.max(np.abs(g - w.numpy()), initial=0.0)) if g.dtype != bool else
               float((g != w.numpy()).any()) for g, w in zip(got, want))
    if not diff <= TOLERANCE:
        raise ExportError(f"the {graph.name} graph differs from torch by {diff:.3g} in "
                          f"onnxruntime (tolerance {TOLERANCE})")
    return diff


def run_onnx(proto, inputs: dict[str, Tensor]) -> list[np.ndarray]:
    """Run an ONNX model (a ModelProto or a path) in onnxruntime on named torch inputs."""
    ort = require("onnxruntime", "export")
    data = str(proto) if isinstance(proto, (str, Path)) else proto.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in inputs.items()})


def _to_onnx(graph: Graph, inputs: dict[str, Tensor], opset: int):
    names_in = [p.name for p in graph.inputs]
    names_out = [p.name for p in graph.outputs]
    axes = {p.name: {i: d for i, d in enumerate(p.shape) if isinstance(d, str)}
            for p in graph.inputs + graph.outputs}
    loops = any(isinstance(m, ExportLayer) and m.mode == "sequence"
                for m in graph.module.modules())
    proto = trace_to_onnx(graph.module.eval(), tuple(inputs[n] for n in names_in), names_in,
                          names_out, {k: v for k, v in axes.items() if v}, opset,
                          placeholders=loops)
    unused = [n for n in names_in if n not in {i.name for i in proto.graph.input}]
    if unused:
        raise ValueError(f"the graph does not use its input(s) {unused}")
    return expand_recurrences(proto, opset)


def _static_problem(model: nn.Module) -> str:
    """Why ``model`` cannot be exported, from its structure alone ('' if it may be)."""
    name = type(model).__name__
    if name not in PLANS:
        return (f"no ONNX export for {name}: rnnkit exports {', '.join(sorted(PLANS))} "
                "(register one with rnnkit.export.register_plan)")
    for where, module in model.named_modules():
        if isinstance(module, nn.RNNBase) and not is_rnnkit_layer(module):
            return (f"{where} is a torch.nn.{type(module).__name__}, whose ONNX export "
                    "ignores lengths; build the layer with rnnkit.layers.build_layer")
    return ""


def _cells(model: nn.Module):
    for where, module in model.named_modules():
        if is_rnnkit_layer(module):
            for row in layer_grid(module):
                for cell in row:
                    yield where, cell


def _trial_step(cell) -> None:
    """Trace one step of ``cell`` to ONNX (in memory), or raise the exporter's error."""
    from .layer import _Slot

    slot = _Slot(cell, 0.0)
    with torch.no_grad():
        width = cell.input_projection(torch.zeros(1, cell.input_size)).shape[-1]
    example = (torch.randn(2, width), torch.randn(2, sum(slot.sizes)))
    trace_to_bytes(_Step(slot).eval(), example, ["gx", "state"], ["y", "next"], {},
                   MIN_OPSET, placeholders=False)


def _manifest(model: nn.Module, plan: Plan, opset: int, checked: dict[str, float],
              quantized: dict[str, dict]) -> dict:
    try:
        config = model.get_config()
    except Exception as e:  # e.g. a captioner with an unregistered encoder module
        config = {"unavailable": _first_line(e)}
    out = {
        "format": "rnnkit-onnx", "version": 1, "opset": opset,
        "model": {"class": type(model).__name__, "config": config},
        "graphs": {g.name: g.to_json() for g in plan.graphs},
        "not_exported": dict(plan.skipped),
        "semantics": "float32, evaluation mode (no dropout); recurrent states in torch.nn's "
                     "(layers*directions, batch, size) layout",
    }
    if checked:
        out["verified"] = {"tolerance": TOLERANCE, "max_abs_diff": checked}
    if quantized:
        sizes = ", ".join(f"{k} {v}" for k, v in DIFF_SIZES.items())
        out["quantized"] = {
            "method": "onnxruntime dynamic quantisation: weights int8 (symmetric, one scale "
                      "per tensor), activations uint8 quantised per call from their range",
            "compared_on": f"random example inputs ({sizes}; seed 1), int8 against the "
                           "float graph, both in onnxruntime",
            "graphs": quantized}
    return out


def _describe(plan: Plan) -> str:
    text = "writes " + ", ".join(f"{g.name}.onnx" for g in plan.graphs)
    skipped = "; ".join(f"no {k} graph: {why}" for k, why in plan.skipped.items())
    return f"{text}; {skipped}" if skipped else text


def _first_line(e: BaseException) -> str:
    lines = [line for line in str(e).strip().splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"
