"""rnnkit/export/loops.py against onnxruntime and torch: the ``aten::layer_norm`` symbolic for
any number of normalised dims, with and without weight and bias (the LSTM's cell norm takes
both); a step with an omitted optional input and one with control flow; the step model's
dynamic batch; the requested opset, constant folding; and what an export says on stderr
and in warnings. (What mutation testing of rnnkit/export/loops.py found unchecked.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="ONNX parity is checked with onnxruntime: "
                                                "pip install 'rnnkit[export]'")

import onnx  # noqa: E402

from rnnkit.cells import CELLS, RNNCell, make_cell, register_cell  # noqa: E402
from rnnkit.export import ExportError, export_model  # noqa: E402
from rnnkit.export.layer import _register  # noqa: E402
from rnnkit.export.loops import _Step, export_step, projected_width, trace_to_onnx  # noqa: E402
from rnnkit.models import SequenceTagger  # noqa: E402

TOL = 1e-4


def run(proto, **inputs) -> list[np.ndarray]:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in inputs.items()})


def all_nodes(graph):
    for node in graph.node:
        yield node
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(a.g)


def tagger(cell: str, **options) -> SequenceTagger:
    torch.manual_seed(0)
    return SequenceTagger(num_tags=3, input_size=3, cell=cell, hidden_size=4, **options).eval()


# --- the layer-norm symbolic ------------------------------------------------------------

class _TracedShape(nn.Module):
    """Normalised over the last two dims, their shape traced from the input, no weight."""

    def forward(self, x):
        return nn.functional.layer_norm(x, x.shape[-2:], eps=0.3)


class _Affine(nn.Module):
    """Normalised over the last two dims given as constants, a weight and maybe a bias."""

    def __init__(self, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(3, 4) + 0.5)
        self.bias = nn.Parameter(torch.randn(3, 4)) if bias else None

    def forward(self, x):
        return nn.functional.layer_norm(x, (3, 4), self.weight, self.bias, eps=0.2)


@pytest.mark.parametrize("module", [_TracedShape(), _Affine(bias=True), _Affine(bias=False)],
                         ids=["traced-shape", "weight-and-bias", "weight-only"])
def test_layer_norm_over_two_dims_equals_torch(module):
    """(B, T, H) normalised over (T, H): axis -2, ones of shape (T, H) for a missing weight,
    the weight and the bias when given; batch 5 where the trace saw 2."""
    torch.manual_seed(1)
    module.eval()
    proto = trace_to_onnx(module, (torch.randn(2, 3, 4),), ["x"], ["y"],
                          {"x": {0: "batch"}, "y": {0: "batch"}}, 17, placeholders=False)
    norms = [n for n in proto.graph.node if n.op_type == "LayerNormalization"]
    assert [a.i for n in norms for a in n.attribute if a.name == "axis"] == [-2]
    x = torch.randn(5, 3, 4) * 3 + 1
    (got,) = run(proto, x=x)
    with torch.no_grad():
        want = module(x)
    assert np.abs(got - want.numpy()).max() <= TOL


def test_lnlstm_cell_norm_weight_and_bias_reach_the_graph(tmp_path):
    """The LSTM's LN_c has a gain and a shift (initialised to ones and zeros, which hide a
    dropped weight or bias): set away from those, onnxruntime still gives the model's numbers."""
    model = tagger("lnlstm")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln_c" in name:
                p.copy_(torch.randn_like(p) * 2)
    files = export_model(model, tmp_path, native_ops=False, verify=True)  # raises if off
    graph = onnx.load(str(files["sequence"])).graph
    inputs = [len(n.input) for n in all_nodes(graph) if n.op_type == "LayerNormalization"]
    assert 3 in inputs  # the cell norm with its bias (the gate norms have none)


# --- steps that other cells may trace to ------------------------------------------------

class _ClampCell(RNNCell):
    """h = min(gx + W h, 0.25): ``torch.clamp`` with only a max traces to ``Clip(x, "", max)``,
    an omitted optional input that the Loop body must keep empty."""

    def recurrence(self, gx, h, recurrent_mask=None):
        h_new = torch.clamp(gx + self.recurrent_term(h, recurrent_mask), max=0.25)
        return h_new, h_new


def _abs_by_branch(x: torch.Tensor) -> torch.Tensor:
    if bool(x.sum() > 0):
        return x
    return -x


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # (torch.jit.script is deprecated)
    _abs_by_branch = torch.jit.script(_abs_by_branch)


class _BranchCell(RNNCell):
    """A step with a scripted branch: an ``If`` in the step, which a Loop body cannot take."""

    def recurrence(self, gx, h, recurrent_mask=None):
        h_new = _abs_by_branch(torch.tanh(gx + self.recurrent_term(h, recurrent_mask)))
        return h_new, h_new


def test_an_omitted_optional_input_stays_omitted_in_the_loop(tmp_path):
    register_cell("clamp_loops_test", _ClampCell)
    try:
        files = export_model(tagger("clamp_loops_test"), tmp_path, native_ops=False,
                             verify=True)
    finally:
        CELLS.pop("clamp_loops_test")
    clips = [n for n in all_nodes(onnx.load(str(files["sequence"])).graph)
             if n.op_type == "Clip" and n.name.startswith("rnnkit_recur")]
    assert clips and all(n.input[1] == "" for n in clips)


def test_a_step_with_control_flow_is_refused_with_its_operator(tmp_path):
    register_cell("branch_loops_test", _BranchCell)
    try:
        with pytest.raises(ExportError, match=r"the cell's step contains control flow \(If\)"):
            export_model(tagger("branch_loops_test"), tmp_path, native_ops=False)
    finally:
        CELLS.pop("branch_loops_test")


# --- the step model and the export's settings -------------------------------------------

def test_a_cells_step_model_has_a_dynamic_batch():
    """export_step traces at batch 3: the model runs at batch 5 with torch's numbers, and
    declares gx (batch, G), state (batch, S) and a batch first in y and next."""
    torch.manual_seed(0)
    cell = make_cell("lngru", 3, 4).eval()
    key, slot = _register(cell, 0.0)  # (slot: kept alive, SLOTS holds it weakly)
    width, size = projected_width(key), sum(slot.sizes)
    proto = export_step(key, width, 17)
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(proto.graph.input) + list(proto.graph.output)}
    assert {n: d[0] for n, d in dims.items()} == dict.fromkeys(("gx", "state", "y", "next"),
                                                                "batch")
    assert dims["gx"] == ["batch", width] and dims["state"] == ["batch", size]
    gx, state = torch.randn(5, width), torch.randn(5, size)
    with torch.no_grad():
        want = _Step(slot).eval()(gx, state)
    for got, w in zip(run(proto, gx=gx, state=state), want):
        assert np.abs(got - w.numpy()).max() <= TOL


def test_every_graph_has_the_requested_opset_and_no_placeholder_domain(tmp_path):
    files = export_model(tagger("lngru"), tmp_path, native_ops=False, opset=18, verify=True)
    for name in ("sequence", "step"):
        imports = {(o.domain, o.version) for o in onnx.load(str(files[name])).opset_import}
        assert imports == {("", 18)}, name


def test_constants_are_folded_out_of_the_loop(tmp_path):
    """No node of the exported graph (the Loop's body included) computes from constants
    alone, e.g. the transpose of a layer-norm cell's weight on every step."""
    files = export_model(tagger("lngru"), tmp_path, native_ops=False)
    graph = onnx.load(str(files["sequence"])).graph
    nodes = list(all_nodes(graph))
    constant = ({i.name for i in graph.initializer}
                | {o for n in nodes if n.op_type == "Constant" for o in n.output})
    foldable = [n.name for n in nodes if n.op_type != "Constant" and n.input
                and all(i in constant for i in n.input)]
    assert foldable == []


def test_an_export_prints_nothing_on_stderr(tmp_path, capfd):
    """Not torch's C++ warning for a declared custom domain that no node uses (a graph of
    ONNX's own GRU operators has no placeholder), nor any Python warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_model(tagger("gru"), tmp_path / "native", native_ops=True)
        export_model(tagger("lnlstm"), tmp_path / "loop", native_ops=False)
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr().err == ""


class _Warns(nn.Module):
    """Iterates over a tensor (a tracer warning the exporter hides) and warns on its own."""

    def forward(self, x):
        warnings.warn("a warning of the module's own", UserWarning, stacklevel=2)
        return torch.stack([row * 2 for row in x])


def test_an_export_hides_only_the_known_tracer_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace_to_onnx(_Warns(), (torch.randn(2, 3),), ["x"], ["y"], {}, 17,
                      placeholders=False)
    assert [str(w.message) for w in caught] == ["a warning of the module's own"]
