"""ONNX export: onnxruntime gives rnnkit's numbers (max abs diff <= 1e-4, float32) for every
exportable model class, on random inputs with mixed lengths (1 and the maximum included):
the sequence graph against the model, the step graph iterated over time against the model
run on the whole sequence, and the decoder step (beam search's step) against
``Decoder.step``. Also: what cannot be exported says why."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="ONNX parity is checked with onnxruntime: "
                                                "pip install 'rnnkit[export]'")

from rnnkit.cells import CELLS, RNNCell, register_cell  # noqa: E402
from rnnkit.export import PLANS, ExportError, export_model, exportable  # noqa: E402
from rnnkit.models import (  # noqa: E402
    MODELS,
    ClassifierEnsemble,
    ConditionalGenerator,
    FeedForward,
    ForecastEnsemble,
    Forecaster,
    ImageCaptioner,
    LanguageModel,
    PianoRollLM,
    Seq2Seq,
    SequenceClassifier,
    SequenceRegressor,
    SequenceTagger,
)

TOL = 1e-4
B, T = 4, 6
LENGTHS = torch.tensor([T, 1, 3, 5])  # the longest, the shortest, and two between


# --- running graphs ---------------------------------------------------------------------------

class Graph:
    """An exported graph: its onnxruntime session and its entry in export.json."""

    def __init__(self, files: dict, name: str):
        manifest = json.loads(files["manifest"].read_text())
        self.spec = manifest["graphs"][name]
        self.session = ort.InferenceSession(str(files[name]), providers=["CPUExecutionProvider"])

    def __call__(self, **inputs) -> dict[str, torch.Tensor]:
        feed = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
        names = [o["name"] for o in self.spec["outputs"]]
        return {n: torch.from_numpy(np.asarray(v)) for n, v in zip(names,
                                                                   self.session.run(None, feed))}

    def initial_states(self, batch: int) -> dict[str, torch.Tensor]:
        out = {}
        for port in self.spec["inputs"]:
            if "initial" not in port:
                continue
            shape = [batch if d == "batch" else d for d in port["shape"]]
            fill = {"zeros": 0.0, "-inf": -float("inf")}[port["initial"]]
            out[port["name"]] = torch.full(shape, fill)
        return out

    def iterate(self, x: torch.Tensor, lengths: torch.Tensor, **fixed):
        """Stream x (B, T, ...) through the step graph, each sequence for its own length
        (``fixed``: inputs given at every step): -> the outputs at every step (B, T, ...)
        and the final states."""
        states = self.initial_states(x.shape[0])
        batch_axis = {p["name"]: p["shape"].index("batch") for p in self.spec["inputs"]}
        steps = []
        for t in range(x.shape[1]):
            out = self(x=x[:, t], **fixed, **states)
            for name in states:
                keep = (t < lengths).view([-1 if i == batch_axis[name] else 1
                                           for i in range(states[name].dim())])
                states[name] = torch.where(keep, out.pop(f"{name}_out"), states[name])
            steps.append(out)
        outputs = {k: torch.stack([s[k] for s in steps], dim=1) for k in steps[0]}
        return outputs, states


def close(got: torch.Tensor, want: torch.Tensor, what: str = "") -> float:
    got, want = got.float(), want.detach().float()
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    diff = float((got - want).abs().max()) if got.numel() else 0.0
    assert diff <= TOL, f"{what}: max abs diff {diff:.3g} > {TOL}"
    return diff


def at_last_step(per_step: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return per_step[torch.arange(per_step.shape[0]), lengths - 1]


def tokens(high: int, *shape) -> torch.Tensor:
    return torch.randint(0, high, shape)


def states_of(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


# --- the checks, by kind of model -----------------------------------------------------------

def check_pooled(model, files, x):
    out = model(x, LENGTHS)
    name = "logits" if isinstance(model, (SequenceClassifier, ClassifierEnsemble)) \
        else "predictions"
    got = Graph(files, "sequence")(x=x, lengths=LENGTHS)
    close(got[name], out.logits, "sequence")
    if out.weights is not None:
        close(got["weights"], out.weights, "attention weights")
    if "step" in files:
        steps, _ = Graph(files, "step").iterate(x, LENGTHS)
        close(at_last_step(steps[name], LENGTHS), out.logits, "step graph at each last step")


def check_stepwise(model, files, x):
    out = model(x, LENGTHS)
    got = Graph(files, "sequence")(x=x, lengths=LENGTHS)
    close(got["logits"], out.logits, "sequence logits")
    for name, part in zip(("h_out", "c_out"), states_of(out.state)):
        close(got[name], part, f"sequence {name}")
    if "step" in files:
        steps, final = Graph(files, "step").iterate(x, LENGTHS)
        valid = torch.arange(T) < LENGTHS.unsqueeze(1)  # (B, T)
        close(steps["logits"][valid], out.logits[valid], "step logits at valid steps")
        for name, part in zip(("h", "c"), states_of(out.state)):
            close(final[name], part, f"streamed final {name}")


def check_forecast(model, files, x):
    f = model.predict(x, LENGTHS)
    fields = {k: getattr(f, k) for k in ("point", "quantiles", "std") if getattr(f, k) is not None}
    if model.output_size == 1:
        fields = {k: v.unsqueeze(2) for k, v in fields.items()}
    got = Graph(files, "sequence")(x=x, lengths=LENGTHS)
    steps, _ = Graph(files, "step").iterate(x, LENGTHS)
    for k, want in fields.items():
        close(got[k], want, f"sequence {k}")
        close(at_last_step(steps[k], LENGTHS), want, f"step {k} at each last step")


def check_feedforward(model, files, x):
    close(Graph(files, "model")(x=x)["output"], model(x), "output")


def check_decoder(model, files, state, memory, encoder_inputs, given=None):
    """The encoder graph gives torch's ``state`` and ``memory``; then four greedy decoder
    steps give its log-probs (or outputs), new state and attention weights at each.
    ``given``: the memory inputs that the caller supplies (not made by the encoder)."""
    enc = Graph(files, "encoder")(**encoder_inputs)
    want = {"h": states_of(state.rnn)[0], "feed": state.feed}
    if isinstance(state.rnn, tuple):
        want["c"] = state.rnn[1]
    if memory is not None:
        want.update(memory=memory.keys, memory_cache=memory.cache, memory_mask=memory.mask)
    for k, v in want.items():
        if v is not None and k in enc:
            close(enc[k], v, f"encoder {k}")
    step = Graph(files, "decoder_step")
    available = {**(given or {}), **enc}
    carried = {k: enc[k] for k in ("h", "c", "feed") if k in enc}
    mem = {p["name"]: available[p["name"]] for p in step.spec["inputs"]
           if p["name"].startswith("memory")}
    tokens_out = model.decoder.embedding is not None
    prev = torch.full((B,), 2) if tokens_out else torch.zeros(B, model.decoder.head.out_features)
    for i in range(4):
        out, state, weights = model.decoder.step(prev, state, memory)
        scores = out.log_softmax(-1) if tokens_out else out
        got = step(**{"token" if tokens_out else "frame": prev}, **carried, **mem)
        close(got["log_probs" if tokens_out else "output"], scores, f"decoder step {i}")
        if weights is not None:
            close(got["weights"], weights, f"attention weights at step {i}")
        carried = {k: got[f"{k}_out"] for k in carried}
        prev = scores.argmax(-1) if tokens_out else out


def check_seq2seq(model, files, x):
    memory, state = model.encode(x, LENGTHS)
    check_decoder(model, files, state, memory, {"source": x, "lengths": LENGTHS})


def check_generator(model, files, c):
    inputs, given, memory, mask = {"condition": c}, {}, None, None
    if model.decoder.attention is not None:
        memory = torch.randn(B, 5, model.get_config()["memory_size"])
        mask = torch.ones(B, 5, dtype=torch.bool)
        mask[1, 2:] = False  # a shorter memory
        given = {"memory": memory, "memory_mask": mask}
        if "memory" in {p["name"] for p in Graph(files, "encoder").spec["inputs"]}:
            inputs["memory"] = memory
    state, mem = model.encode(c, memory, mask)
    check_decoder(model, files, state, mem, inputs, given)


def check_captioner(model, files, images):
    c, memory = model.features(images)
    state, mem = model.encode(c, memory)
    check_decoder(model, files, state, mem, {"image": images})


CASES = {  # name -> (model factory, input maker, check)
    "classifier-bilstm2-attention": (
        lambda: SequenceClassifier(num_classes=3, vocab_size=20, cell="lstm", hidden_size=6,
                                   num_layers=2, bidirectional=True, pooling="attention"),
        lambda: tokens(20, B, T), check_pooled),
    "classifier-lnlstm-mean": (
        lambda: SequenceClassifier(num_classes=3, input_size=4, cell="lnlstm", hidden_size=6,
                                   pooling="mean"),
        lambda: torch.randn(B, T, 4), check_pooled),
    "classifier-ensemble-lstm-attention": (
        lambda: ClassifierEnsemble(members=2, seed=0, num_classes=3, vocab_size=20,
                                   cell="lstm", hidden_size=5, pooling="attention"),
        lambda: tokens(20, B, T), check_pooled),
    "classifier-ensemble-bigru-mean": (
        lambda: ClassifierEnsemble(members=3, seed=1, num_classes=2, input_size=4, cell="gru",
                                   hidden_size=4, bidirectional=True, pooling="mean"),
        lambda: torch.randn(B, T, 4), check_pooled),
    "classifier-gru2-last": (
        lambda: SequenceClassifier(num_classes=2, vocab_size=20, cell="gru", hidden_size=5,
                                   num_layers=2),
        lambda: tokens(20, B, T), check_pooled),
    "regressor-mingru-attention": (
        lambda: SequenceRegressor(output_size=2, input_size=3, cell="mingru", hidden_size=6,
                                  pooling="attention"),
        lambda: torch.randn(B, T, 3), check_pooled),
    "tagger-bigru": (
        lambda: SequenceTagger(num_tags=5, vocab_size=20, cell="gru", hidden_size=6,
                               bidirectional=True),
        lambda: tokens(20, B, T), check_stepwise),
    "tagger-lngru2-ctc": (
        lambda: SequenceTagger(num_tags=5, input_size=3, cell="lngru", hidden_size=6,
                               num_layers=2, loss="ctc"),
        lambda: torch.randn(B, T, 3), check_stepwise),
    "lm-lstm2-tied": (
        lambda: LanguageModel(vocab_size=20, cell="lstm", hidden_size=6, num_layers=2,
                              tie_weights=True),
        lambda: tokens(20, B, T), check_stepwise),
    "lm-rnn": (
        lambda: LanguageModel(vocab_size=20, cell="rnn", hidden_size=6),
        lambda: tokens(20, B, T), check_stepwise),
    "pianoroll-minlstm": (
        lambda: PianoRollLM(num_units=5, cell="minlstm", hidden_size=6),
        lambda: (torch.rand(B, T, 5) > 0.5).float(), check_stepwise),
    "forecaster-direct-quantile": (
        lambda: Forecaster(horizon=3, input_size=2, cell="gru", hidden_size=6,
                           output="quantile"),
        lambda: torch.randn(B, T, 2), check_forecast),
    "forecaster-autoregressive-gaussian": (
        lambda: Forecaster(horizon=3, input_size=3, output_size=2, cell="lstm", hidden_size=6,
                           mode="autoregressive", output="gaussian"),
        lambda: torch.randn(B, T, 3), check_forecast),
    "forecast-ensemble": (
        lambda: ForecastEnsemble(members=2, seed=0, horizon=2, cell="gru", hidden_size=4),
        lambda: torch.randn(B, T, 1), check_forecast),
    "seq2seq-lstm2-bahdanau": (
        lambda: Seq2Seq(src_vocab_size=15, tgt_vocab_size=12, cell="lstm", hidden_size=6,
                        num_layers=2, attention="bahdanau"),
        lambda: tokens(15, B, T), check_seq2seq),
    "seq2seq-gru-luong": (
        lambda: Seq2Seq(src_vocab_size=15, tgt_vocab_size=12, cell="gru", hidden_size=6,
                        attention="luong", bidirectional_encoder=False),
        lambda: tokens(15, B, T), check_seq2seq),
    "seq2seq-gru-tied": (
        lambda: Seq2Seq(src_vocab_size=15, tgt_vocab_size=12, cell="gru", hidden_size=6,
                        embedding_dim=4, tie_embeddings=True),
        lambda: tokens(15, B, T), check_seq2seq),
    "generator-gru": (
        lambda: ConditionalGenerator(condition_size=4, vocab_size=10, cell="gru",
                                     hidden_size=6, eos_id=3),
        lambda: torch.randn(B, 4), check_generator),
    "generator-real-lstm-bahdanau": (
        lambda: ConditionalGenerator(condition_size=4, output_size=3, output="real",
                                     cell="lstm", hidden_size=6, attention="bahdanau",
                                     memory_size=5),
        lambda: torch.randn(B, 4), check_generator),
    "captioner-lstm-bahdanau": (
        lambda: ImageCaptioner(vocab_size=10, image_size=16, channels=(4, 8), feature_size=8,
                               cell="lstm", hidden_size=6),
        lambda: torch.randint(0, 256, (B, 3, 16, 16), dtype=torch.uint8), check_captioner),
    "feedforward": (
        lambda: FeedForward(input_size=6, output_size=2, hidden_sizes=[5]),
        lambda: torch.randn(B, 6), check_feedforward),
}


@pytest.mark.parametrize("case", list(CASES))
def test_onnxruntime_matches_rnnkit(case, tmp_path):
    make_model, make_input, check = CASES[case]
    model = make_model().eval()
    ok, why = exportable(model)
    assert ok, why
    files = export_model(model, tmp_path)
    manifest = json.loads(files["manifest"].read_text())
    for name, graph in manifest["graphs"].items():
        assert (tmp_path / graph["file"]).exists()
        session = ort.InferenceSession(str(files[name]), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == [p["name"] for p in graph["inputs"]]
        assert [o.name for o in session.get_outputs()] == [p["name"] for p in graph["outputs"]]
    with torch.no_grad():
        check(model, files, make_input())


def test_every_model_class_is_covered():
    built_in = {name for name, cls in MODELS.items() if cls.__module__.startswith("rnnkit.")}
    assert built_in <= set(PLANS)
    assert {type(make()).__name__ for make, _, _ in CASES.values()} == set(PLANS)


def test_bidirectional_has_no_step_graph_and_says_why(tmp_path):
    model = CASES["tagger-bigru"][0]()
    ok, why = exportable(model)
    assert ok and "no step graph: bidirectional" in why
    files = export_model(model, tmp_path, verify=True)
    manifest = json.loads(files["manifest"].read_text())
    assert "step" not in files and "bidirectional" in manifest["not_exported"]["step"]
    assert max(manifest["verified"]["max_abs_diff"].values()) <= TOL


def test_batch_one_length_one(tmp_path):
    model = LanguageModel(vocab_size=9, cell="lnlstm", hidden_size=4).eval()
    files = export_model(model, tmp_path)
    x, lengths = tokens(9, 1, 1), torch.tensor([1])
    got = Graph(files, "sequence")(x=x, lengths=lengths)
    with torch.no_grad():
        out = model(x, lengths)
    close(got["logits"], out.logits, "logits")
    close(got["c_out"], out.state[1], "c")


@torch.library.custom_op("rnnkit_test::opaque_tanh", mutates_args=())
def opaque_tanh(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


class OpaqueCell(RNNCell):
    """An Elman cell whose nonlinearity is a custom op without an ONNX symbolic."""

    def recurrence(self, gx, h, recurrent_mask=None):
        h_new = opaque_tanh(gx + self.recurrent_term(h, recurrent_mask))
        return h_new, h_new


def test_a_cell_without_onnx_form_is_refused(tmp_path):
    register_cell("opaque_test", OpaqueCell)
    try:
        model = SequenceClassifier(num_classes=2, input_size=3, cell="opaque_test",
                                   hidden_size=4)
        ok, why = exportable(model)
        assert not ok and "OpaqueCell" in why and "opaque_tanh" in why
        with pytest.raises(ExportError, match="opaque_tanh"):
            export_model(model, tmp_path)
    finally:
        CELLS.pop("opaque_test")


def test_a_model_without_plan_is_refused(tmp_path):
    from _tiny import TinyTagger

    ok, why = exportable(TinyTagger())
    assert not ok and "no ONNX export for TinyTagger" in why
    with pytest.raises(ExportError, match="TinyTagger"):
        export_model(TinyTagger(), tmp_path)


def test_manifest_describes_the_graphs(tmp_path):
    model = SequenceClassifier(num_classes=2, input_size=3, cell="lstm", hidden_size=4,
                               num_layers=2, pooling="attention")
    manifest = json.loads(export_model(model, tmp_path)["manifest"].read_text())
    assert manifest["model"] == {"class": "SequenceClassifier", "config": model.get_config()}
    step = {p["name"]: p for p in manifest["graphs"]["step"]["inputs"]}
    assert step["h"]["shape"] == [2, "batch", 4] and step["h"]["initial"] == "zeros"
    assert step["pool_max"]["initial"] == "-inf"
    assert manifest["graphs"]["sequence"]["inputs"][1]["name"] == "lengths"
    with pytest.raises(ValueError, match="opset"):
        export_model(model, tmp_path, opset=13)


@pytest.mark.parametrize("native_ops", [True, False])
def test_plain_cells_as_onnx_operators_or_loops(native_ops, tmp_path):
    """Plain LSTM/GRU/Elman cells export as ONNX's own operators (with sequence_lens) or,
    like every other cell, as a Loop over the step: both give the model's numbers."""
    import onnx

    model = SequenceTagger(num_tags=4, input_size=3, cell="lstm", hidden_size=5, num_layers=2,
                           bidirectional=True).eval()
    files = export_model(model, tmp_path, native_ops=native_ops)
    ops = {n.op_type for n in onnx.load(str(files["sequence"])).graph.node}
    assert ("LSTM" in ops) == native_ops and ("Loop" in ops) != native_ops
    with torch.no_grad():
        check_stepwise(model, files, torch.randn(B, T, 3))


def test_export_layer_equals_the_layer():
    """The layer rebuilt from its cells (what every graph runs) equals the layer in eval mode,
    with zoneout, a merge mode other than concat and a learned initial state."""
    from rnnkit.export import ExportLayer
    from rnnkit.layers import LSTM, Recurrent

    layers = [
        Recurrent("lngru", input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                  zoneout=0.3, merge_mode="sum", batch_first=True),
        LSTM(3, 4, num_layers=2, batch_first=True, learn_initial_state=True, proj_size=2),
    ]
    x = torch.randn(B, T, 3)
    for layer in layers:
        layer.eval()
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(0.1 * torch.randn_like(p))
            want, want_h = layer(x, lengths=LENGTHS)
            got, got_h = ExportLayer(layer, "sequence")(x, lengths=LENGTHS)
        close(got, want, type(layer).__name__)
        for g, w in zip(states_of(got_h), states_of(want_h)):
            close(g, w, "final state")


@pytest.mark.parametrize("mode, members", [("direct", 1), ("autoregressive", 1),
                                           ("direct", 2)])
def test_covariates_known_over_the_horizon_are_an_input_of_both_graphs(tmp_path, mode,
                                                                       members):
    """A forecaster reading J covariates over its horizon: ``future`` (batch, horizon, J)
    is an input of the sequence and the step graph, which give torch's forecast with it."""
    kw = {"input_size": 3, "output_size": 1, "horizon": 4, "covariates": 2, "hidden_size": 6,
          "mode": mode, "output": "gaussian"}
    model = (Forecaster(**kw) if members == 1 else
             ForecastEnsemble(members=members, seed=0, **kw)).eval()
    assert exportable(model)[0]
    files = export_model(model, tmp_path)
    graphs = json.loads(files["manifest"].read_text())["graphs"]
    for name in ("sequence", "step"):
        (port,) = [p for p in graphs[name]["inputs"] if p["name"] == "future"]
        assert port["shape"] == ["batch", 4, 2]
    gen = torch.Generator().manual_seed(0)
    x, future = torch.randn(B, T, 3, generator=gen), torch.randn(B, 4, 2, generator=gen)
    with torch.no_grad():
        f = model.predict(x, LENGTHS, future=future)
        other = model.predict(x, LENGTHS, future=future + 1.0)
    assert (other.point - f.point).abs().max() > 1e-3  # the covariates change the forecast
    got = Graph(files, "sequence")(x=x, lengths=LENGTHS, future=future)
    steps, _ = Graph(files, "step").iterate(x, LENGTHS, future=future)
    for k in ("point", "std"):
        want = getattr(f, k).unsqueeze(2)
        close(got[k], want, f"sequence {k}")
        close(at_last_step(steps[k], LENGTHS), want, f"step {k} at each last step")
