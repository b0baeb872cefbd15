"""Dynamic int8 quantisation of exported graphs (``export_model(..., quantize="dynamic")``):
the int8 graphs load and run in onnxruntime with the float graphs' inputs and outputs, stay
close to float, really are int8, and export.json records them; unknown modes are refused.

The bound: dynamic quantisation rounds each weight to a step of 1/63 of its tensor's
largest magnitude (7-bit weights, ``reduce_range``, so that CPUs without VNNI do not
saturate) and each activation to 1/255 of its range per call, so one quantised product is
off by about 1/63 + 1/255 (2%) of its operands' scale, a few times that in the worst
row. Gates and layer norms do not amplify it much over the few steps of these tests (with
8-bit weights on a CPU with VNNI the models here measured at most 2.4% of an output's
largest magnitude). The tests allow 10% (floor: 0.01 absolute, for outputs near 0), while
a graph with a wrong weight, gate order or bias is off by the output's whole scale. A
difference of exactly 0 fails too: the graph would not be int8.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                          "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="int8 graphs run in onnxruntime: "
                                                "pip install 'rnnkit[export]'")

from rnnkit.export import export_model  # noqa: E402
from rnnkit.models import (  # noqa: E402
    Forecaster,
    ImageCaptioner,
    Seq2Seq,
    SequenceClassifier,
    SequenceTagger,
)

RELATIVE, FLOOR = 0.10, 0.01
SIZES = {"batch": 5, "time": 9, "source": 8}

CASES = {  # name -> model factory: each int8 path once
    # native LSTM -> DynamicQuantizeLSTM, embedding -> int8 Gather, attention and head
    "classifier-bilstm-attention": lambda: SequenceClassifier(
        num_classes=3, vocab_size=30, cell="lstm", hidden_size=8, bidirectional=True,
        pooling="attention"),
    # native GRU -> re-exported as a Loop whose recurrent product is int8; step graph
    "forecaster-gru-quantile": lambda: Forecaster(
        horizon=3, input_size=2, cell="gru", hidden_size=8, output="quantile"),
    # a Loop over a layer-normalised cell: the product inside the body
    "tagger-lngru2": lambda: SequenceTagger(
        num_tags=5, input_size=3, cell="lngru", hidden_size=8, num_layers=2),
    # encoder and decoder step (attention, beam search's step)
    "seq2seq-lstm-bahdanau": lambda: Seq2Seq(
        src_vocab_size=15, tgt_vocab_size=12, cell="lstm", hidden_size=8,
        attention="bahdanau"),
    # the decoder's embedding shared by its Gather and its output MatMul
    "seq2seq-gru-tied": lambda: Seq2Seq(
        src_vocab_size=15, tgt_vocab_size=12, cell="gru", hidden_size=8, embedding_dim=6,
        tie_embeddings=True),
    # Conv -> ConvInteger in the image encoder
    "captioner-lstm": lambda: ImageCaptioner(
        vocab_size=10, image_size=16, channels=(4, 8), feature_size=8, cell="lstm",
        hidden_size=8),
}


def random_inputs(spec: dict, generator: np.random.Generator) -> dict[str, np.ndarray]:
    """Inputs for a graph from its export.json entry alone: shapes, dtypes, value ranges;
    lengths include the longest and the shortest."""
    out = {}
    for port in spec["inputs"]:
        shape = [SIZES[d] if isinstance(d, str) else d for d in port["shape"]]
        if port["dtype"] == "float32":
            out[port["name"]] = generator.standard_normal(shape).astype(np.float32)
            if port["name"] in ("pool_count", "pool_sum"):  # counts, sums of exponentials
                out[port["name"]] = 1 + np.abs(out[port["name"]])
        elif port["dtype"] == "bool":
            out[port["name"]] = np.ones(shape, dtype=bool)
        elif port["dtype"] == "uint8":
            out[port["name"]] = generator.integers(0, 256, shape).astype(np.uint8)
        else:
            low, high = port.get("values", (0, 1))
            high = SIZES[high] if isinstance(high, str) else high
            values = generator.integers(low, high + 1, shape)
            if port["name"].endswith("lengths"):
                values[:2] = high, low
            out[port["name"]] = values.astype(np.int64)
    return out


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def ops_of(graph) -> list[str]:
    """Op types of a graph and of its subgraphs (Loop bodies)."""
    out = []
    for node in graph.node:
        out.append(node.op_type)
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out += [f"body/{op}" for op in ops_of(a.g)]
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_int8_graphs_run_close_to_float_and_are_recorded(case, tmp_path):
    torch.manual_seed(0)
    files = export_model(CASES[case]().eval(), tmp_path, quantize="dynamic")
    manifest = json.loads(files["manifest"].read_text())
    recorded = manifest["quantized"]["graphs"]
    assert set(recorded) == set(manifest["graphs"])
    generator = np.random.default_rng(7)
    for name, spec in manifest["graphs"].items():
        entry = recorded[name]
        int8_path = tmp_path / entry["file"]
        assert files[f"{name}.int8"] == int8_path == tmp_path / f"{name}.int8.onnx"
        assert entry["bytes"] == int8_path.stat().st_size
        assert entry["float_bytes"] == (tmp_path / spec["file"]).stat().st_size
        full, int8 = session(tmp_path / spec["file"]), session(int8_path)
        assert [i.name for i in int8.get_inputs()] == [i.name for i in full.get_inputs()]
        assert [o.name for o in int8.get_outputs()] == [o["name"] for o in spec["outputs"]]

        feed = random_inputs(spec, generator)
        worst = 0.0
        for port, want, got in zip(spec["outputs"], full.run(None, feed), int8.run(None, feed)):
            assert got.shape == want.shape and got.dtype == want.dtype, port["name"]
            if want.dtype == bool:  # a mask (the encoder's memory_mask): exactly float's
                assert (got == want).all(), f"{name}.{port['name']}"
                continue
            diff = float(np.abs(got - want).max())
            bound = max(RELATIVE * float(np.abs(want).max()), FLOOR)
            assert diff <= bound, f"{name}.{port['name']}: int8 differs by {diff:.3g} > {bound:.3g}"
            worst = max(worst, diff)
        assert worst > 0, f"{name}: the int8 graph gives float's outputs exactly: not int8"

        # what export.json says, measured on its own inputs, within the same bound
        per_output = entry["outputs"]
        assert set(per_output) == {p["name"] for p in spec["outputs"]}
        assert entry["max_abs_diff"] == max(o["max_abs_diff"] for o in per_output.values())
        for out_name, o in per_output.items():
            assert 0 <= o["max_abs_diff"] <= max(RELATIVE * o["max_abs_float"], FLOOR), out_name
        assert entry["int8_ops"] and entry["int8_weight_share"] >= 0.7
        # the int8 graph's own file has the int8 kernels export.json names
        ops = [op.removeprefix("body/") for op in ops_of(onnx.load(str(int8_path)).graph)]
        assert all(ops.count(op) == n for op, n in entry["int8_ops"].items())


def test_lstm_is_quantised_natively_and_gru_as_a_loop(tmp_path):
    torch.manual_seed(0)
    lstm = export_model(Forecaster(horizon=2, cell="lstm", hidden_size=8).eval(),
                        tmp_path / "lstm", quantize="dynamic")
    ops = ops_of(onnx.load(str(lstm["sequence.int8"])).graph)
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops and "Loop" not in ops
    # it honours sequence_lens: each final state is float's for its own length, not the
    # state after the padding
    x = np.random.default_rng(0).standard_normal((4, 9, 1)).astype(np.float32)
    lengths, full = np.array([9, 1, 4, 6]), np.full(4, 9)

    def final_c(graph: str, n: np.ndarray) -> np.ndarray:
        s = session(lstm[graph])
        names = [o.name for o in s.get_outputs()]
        return s.run(None, {"x": x, "lengths": n})[names.index("c_out")]  # (L, B, H)

    c_float, c_int8 = final_c("sequence", lengths), final_c("sequence.int8", lengths)
    c_padded = final_c("sequence", full)
    quantised = np.abs(c_int8 - c_float).max(axis=(0, 2))  # (batch,)
    padded = np.abs(c_padded - c_float).max(axis=(0, 2))
    assert (quantised[1:] < padded[1:] / 5).all(), (quantised, padded)

    gru = export_model(Forecaster(horizon=2, cell="gru", hidden_size=8).eval(),
                       tmp_path / "gru", quantize="dynamic")
    assert "GRU" in ops_of(onnx.load(str(gru["sequence"])).graph)  # float: the fused op
    ops = ops_of(onnx.load(str(gru["sequence.int8"])).graph)
    assert "GRU" not in ops and "Loop" in ops and "body/MatMulInteger" in ops
    entry = json.loads(gru["manifest"].read_text())["quantized"]["graphs"]["sequence"]
    assert "GRU" in entry["recurrence"]


def test_int8_stores_an_embedding_heavy_model_in_under_a_third(tmp_path):
    torch.manual_seed(0)
    model = SequenceClassifier(num_classes=2, vocab_size=4000, embedding_dim=64, cell="lstm",
                               hidden_size=32, bidirectional=True, pooling="attention")
    files = export_model(model.eval(), tmp_path, quantize="dynamic")
    float_bytes, int8_bytes = (files[k].stat().st_size for k in ("sequence", "sequence.int8"))
    # int8 is 1/4 of float32; biases, scales and the graph itself (~40 kB) stay
    assert int8_bytes < float_bytes / 3


def test_without_quantize_no_int8_graphs(tmp_path):
    files = export_model(Forecaster(horizon=2, cell="gru", hidden_size=4).eval(), tmp_path)
    assert not list(tmp_path.glob("*.int8.onnx"))
    assert not any(k.endswith(".int8") for k in files)
    assert "quantized" not in json.loads(files["manifest"].read_text())


@pytest.mark.parametrize("mode", ["static", "int8", "Dynamic", True, ""])
def test_unknown_quantize_modes_are_refused_before_writing(mode, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"quantize must be None or one of \['dynamic'\]"):
        export_model(Forecaster(horizon=2, cell="gru", hidden_size=4).eval(), out,
                     quantize=mode)
    assert not out.exists()
