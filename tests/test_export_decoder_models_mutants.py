"""The plans of the encoder-decoder models (rnnkit/export/decoder_models.py): what export.json
says about the encoder and decoder_step graphs (names, shapes, meanings, initial states),
that each graph's module gives one tensor of the described shape per output port, that the
decoder step's example inputs are what the encoder makes, and, in onnxruntime, the graphs of
models that attend without a cached projection of memory (Luong) or do not attend, against
the model's own ``encode`` and ``Decoder.step``. (What mutation testing of
decoder_models.py found unchecked.)"""

import json

import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="ONNX parity is checked with onnxruntime: "
                                                "pip install 'rnnkit[export]'")

from rnnkit.export import PLANS, export_model  # noqa: E402
from rnnkit.export.graphs import AXES  # noqa: E402
from rnnkit.models import ConditionalGenerator, ImageCaptioner, Seq2Seq  # noqa: E402

B, S = 4, 5
TOL = 1e-4


def graphs_of(model) -> dict:
    plan = PLANS[type(model).__name__](model)
    assert plan.skipped == {}
    return {g.name: g for g in plan.graphs}


def table(graph, side: str) -> list[tuple]:
    """A graph's ports as export.json writes them: (name, shape, meaning)."""
    return [(p["name"], tuple(p["shape"]), p["meaning"]) for p in graph.to_json()[side]]


def state_rows(L: int, H: int, lstm: bool, attends: bool) -> list[tuple]:
    rows = [(n, (L, "batch", H), f"{n} of the decoder (one row per layer)")
            for n in (("h", "c") if lstm else ("h",))]
    if attends:
        rows.append(("feed", ("batch", H), "the previous attentional vector (input feeding)"))
    return rows


def after_step(rows: list[tuple]) -> list[tuple]:
    return [(f"{n}_out", s, f"{m}, after this step") for n, s, m in rows]


MEMORY = "what the decoder attends over"
CACHE = "the attention's projection of memory"
MASK = "True at the valid positions of memory"
WEIGHTS = ("weights", ("batch", "source"), "attention weights over memory (0 where masked)")
STEP_ABOUT = "one decoder step, as greedy decoding and beam search call it"


def token_rows(vocab: int) -> tuple[tuple, tuple]:
    return (("token", ("batch",), "the previous token (bos_id at the start)"),
            ("log_probs", ("batch", vocab), "log-probabilities of the next token"))


# --- export.json ----------------------------------------------------------------------------

def test_seq2seq_graphs_in_export_json():
    L, H, V_src, V_tgt = 2, 6, 15, 12
    model = Seq2Seq(src_vocab_size=V_src, tgt_vocab_size=V_tgt, cell="lstm", hidden_size=H,
                    num_layers=L, attention="bahdanau")
    encoder, step = graphs_of(model).values()
    K = 2 * H  # a bidirectional encoder's outputs
    state = state_rows(L, H, lstm=True, attends=True)
    memory = [("memory", ("batch", "source", K), MEMORY),
              ("memory_cache", ("batch", "source", H), CACHE),
              ("memory_mask", ("batch", "source"), MASK)]
    assert encoder.name == "encoder"
    assert encoder.about == "the source -> the decoder's first state and memory"
    assert table(encoder, "inputs") == [
        ("source", ("batch", "source"), "source token ids"),
        ("lengths", ("batch",), "valid tokens of each source")]
    assert [(p.dtype, p.values) for p in encoder.inputs] == [("int64", (0, V_src - 1)),
                                                             ("int64", (1, "source"))]
    assert table(encoder, "outputs") == state + memory
    assert [p.initial for p in encoder.outputs] == ["zeros"] * 3 + [None] * 3
    assert encoder.outputs[-1].dtype == "bool"
    token, log_probs = token_rows(V_tgt)
    assert step.name == "decoder_step" and step.about == STEP_ABOUT
    assert table(step, "inputs") == [token, *state, *memory]
    assert step.to_json()["inputs"][0]["dtype"] == "int64"
    assert step.inputs[0].values == (0, V_tgt - 1)
    assert table(step, "outputs") == [log_probs, *after_step(state), WEIGHTS]


def test_seq2seq_with_luong_attention_has_no_memory_cache():
    H, V = 6, 12
    model = Seq2Seq(src_vocab_size=15, tgt_vocab_size=V, cell="gru", hidden_size=H,
                    attention="luong", bidirectional_encoder=False)
    encoder, step = graphs_of(model).values()
    state = state_rows(1, H, lstm=False, attends=True)
    memory = [("memory", ("batch", "source", H), MEMORY),
              ("memory_mask", ("batch", "source"), MASK)]
    assert table(encoder, "outputs") == state + memory
    assert table(step, "inputs") == [token_rows(V)[0], *state, *memory]
    assert table(step, "outputs") == [token_rows(V)[1], *after_step(state), WEIGHTS]


def test_generator_graphs_in_export_json():
    H, C, V = 6, 4, 10
    plain = ConditionalGenerator(condition_size=C, vocab_size=V, cell="gru", hidden_size=H)
    encoder, step = graphs_of(plain).values()
    state = state_rows(1, H, lstm=False, attends=False)
    assert encoder.about == "the condition -> the decoder's first state (and the memory's cache)"
    assert table(encoder, "inputs") == [("condition", ("batch", C), "the condition vector")]
    assert table(encoder, "outputs") == state
    assert table(step, "inputs") == [token_rows(V)[0], *state]
    assert table(step, "outputs") == [token_rows(V)[1], *after_step(state)]

    F, M = 3, 5
    real = ConditionalGenerator(condition_size=C, output_size=F, output="real", cell="lstm",
                                hidden_size=H, attention="bahdanau", memory_size=M)
    encoder, step = graphs_of(real).values()
    state = state_rows(1, H, lstm=True, attends=True)
    cache = ("memory_cache", ("batch", "source", H), CACHE)
    assert table(encoder, "inputs") == [
        ("condition", ("batch", C), "the condition vector"),
        ("memory", ("batch", "source", M), "features to attend over")]
    assert table(encoder, "outputs") == [*state, cache]
    assert table(step, "inputs") == [
        ("frame", ("batch", F), "the previous frame (zeros at the start)"), *state,
        ("memory", ("batch", "source", M), MEMORY), cache,
        ("memory_mask", ("batch", "source"), MASK)]
    assert table(step, "outputs") == [
        ("output", ("batch", F), "the next frame's scores (real values, or logits of binary "
                                 "units)"), *after_step(state), WEIGHTS]

    luong = ConditionalGenerator(condition_size=C, vocab_size=V, cell="gru", hidden_size=H,
                                 attention="luong", memory_size=H)
    encoder, step = graphs_of(luong).values()
    state = state_rows(1, H, lstm=False, attends=True)
    assert table(encoder, "inputs") == [("condition", ("batch", C), "the condition vector")]
    assert table(encoder, "outputs") == state  # memory and its mask are the caller's
    assert [p.name for p in step.inputs] == ["token", "h", "feed", "memory", "memory_mask"]


def test_captioner_graphs_in_export_json():
    H, V, K = 6, 10, 8
    model = ImageCaptioner(vocab_size=V, image_size=16, channels=(4, K), feature_size=8,
                           cell="lstm", hidden_size=H)
    encoder, step = graphs_of(model).values()
    h, w = model.feature_shape
    state = state_rows(1, H, lstm=True, attends=True)
    assert encoder.about == ("the image -> the decoder's first state and the feature map it "
                             "attends over")
    assert table(encoder, "inputs") == [("image", ("batch", 3, 16, 16), "RGB pixels in [0, 255]")]
    assert encoder.inputs[0].dtype == "uint8"
    assert table(encoder, "outputs") == [
        *state, ("memory", ("batch", h * w, K),
                 f"the image's feature map, {h}x{w} positions row by row"),
        ("memory_cache", ("batch", "source", H), CACHE),
        ("memory_mask", ("batch", "source"), MASK)]
    assert table(step, "inputs") == [
        token_rows(V)[0], *state, ("memory", ("batch", "source", K), MEMORY),
        ("memory_cache", ("batch", "source", H), CACHE),
        ("memory_mask", ("batch", "source"), MASK)]

    plain = ImageCaptioner(vocab_size=V, image_size=16, channels=(4, K), feature_size=8,
                           cell="gru", hidden_size=H, attention="none")
    encoder, step = graphs_of(plain).values()
    state = state_rows(1, H, lstm=False, attends=False)
    assert table(encoder, "outputs") == state
    assert table(step, "inputs") == [token_rows(V)[0], *state]
    assert table(step, "outputs") == [token_rows(V)[1], *after_step(state)]


# --- the graphs' modules --------------------------------------------------------------------

MODELS = {
    "seq2seq-lstm2-bahdanau": lambda: Seq2Seq(src_vocab_size=15, tgt_vocab_size=12,
                                              cell="lstm", hidden_size=6, num_layers=2,
                                              attention="bahdanau"),
    "seq2seq-gru-luong": lambda: Seq2Seq(src_vocab_size=15, tgt_vocab_size=12, cell="gru",
                                         hidden_size=6, attention="luong"),
    "seq2seq-gru-none": lambda: Seq2Seq(src_vocab_size=15, tgt_vocab_size=12, cell="gru",
                                        hidden_size=6, attention="none"),
    "generator-gru": lambda: ConditionalGenerator(condition_size=4, vocab_size=10,
                                                  cell="gru", hidden_size=6),
    "generator-real-lstm-bahdanau": lambda: ConditionalGenerator(
        condition_size=4, output_size=3, output="real", cell="lstm", hidden_size=6,
        attention="bahdanau", memory_size=5),
    "generator-luong": lambda: ConditionalGenerator(condition_size=4, vocab_size=10,
                                                    cell="lstm", hidden_size=6,
                                                    attention="luong", memory_size=6),
    "captioner-lstm-bahdanau": lambda: ImageCaptioner(vocab_size=10, image_size=16,
                                                      channels=(4, 8), feature_size=8,
                                                      cell="lstm", hidden_size=6),
    "captioner-gru-none": lambda: ImageCaptioner(vocab_size=10, image_size=16, channels=(4, 8),
                                                 feature_size=8, cell="gru", hidden_size=6,
                                                 attention="none"),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_each_graph_gives_one_tensor_of_the_described_shape_per_output_port(name):
    model = MODELS[name]().eval()
    sizes = dict(AXES)
    if isinstance(model, ImageCaptioner):  # what it attends over: the feature map's positions
        sizes["source"] = model.feature_shape[0] * model.feature_shape[1]
    for graph in graphs_of(model).values():
        example = graph.example()
        assert list(example) == [p.name for p in graph.inputs]
        with torch.no_grad():
            outs = graph.module(*example.values())
        assert len(outs) == len(graph.outputs), graph.name
        for port, out in zip(graph.outputs, outs):
            want = tuple(sizes[d] if isinstance(d, str) else d for d in port.shape)
            assert tuple(out.shape) == want, f"{graph.name}.{port.name}"


@pytest.mark.parametrize("name", ["seq2seq-lstm2-bahdanau", "generator-real-lstm-bahdanau"])
def test_the_decoder_steps_example_inputs_are_what_the_encoder_makes(name):
    """What the decoder step is traced and verified with: the encoder's own outputs (a
    consistent state and memory); the rest (the previous token, the caller's memory) drawn
    from the ports, seeded."""
    graphs = graphs_of(MODELS[name]().eval())
    encoder, step = graphs["encoder"], graphs["decoder_step"]
    sizes, seed = {"batch": 2, "source": 3}, 7
    given = encoder.example(sizes, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        made = dict(zip([p.name for p in encoder.outputs], encoder.module(*given.values())))
    example = step.example(sizes, torch.Generator().manual_seed(seed))
    for port_name, value in {**given, **made}.items():
        if port_name in example:
            torch.testing.assert_close(example[port_name], value, rtol=0, atol=0)
    assert set(made) < set(example)
    again = step.example(sizes, torch.Generator().manual_seed(seed))
    for port_name in example:
        torch.testing.assert_close(example[port_name], again[port_name], rtol=0, atol=0)
    first = step.inputs[0]
    assert example[first.name].shape[0] == 2


# --- onnxruntime against the model ------------------------------------------------------------

def session(files, name):
    spec = json.loads(files["manifest"].read_text())["graphs"][name]
    run = ort.InferenceSession(str(files[name]), providers=["CPUExecutionProvider"])

    def call(**inputs):
        feed = {k: v.numpy() for k, v in inputs.items()}
        return {p["name"]: torch.from_numpy(v)
                for p, v in zip(spec["outputs"], run.run(None, feed))}
    return call


def close(got, want, what):
    assert got.shape == want.shape, what
    assert float((got - want.float()).abs().max()) <= TOL, what


@pytest.mark.parametrize("attention", ["luong", "none"])
def test_generator_graphs_in_onnxruntime_equal_the_model(attention, tmp_path):
    """Greedy decoding from the exported graphs: the encoder gives ``encode``'s state (with
    Luong attention it reads no memory: the caller passes memory and its mask to each step),
    each decoder step ``Decoder.step``'s log-probabilities, state and weights."""
    torch.manual_seed(0)
    H = 6
    model = ConditionalGenerator(condition_size=4, vocab_size=10, cell="lstm", hidden_size=H,
                                 attention=attention,
                                 memory_size=H if attention != "none" else None).eval()
    files = export_model(model, tmp_path)
    c = torch.randn(B, 4)
    memory, mask = torch.randn(B, S, H), torch.ones(B, S, dtype=torch.bool)
    mask[1, 2:] = False
    with torch.no_grad():
        state, mem = model.encode(c, memory if attention != "none" else None,
                                  mask if attention != "none" else None)
    enc = session(files, "encoder")(condition=c)
    close(enc["h"], state.rnn[0], "h")
    close(enc["c"], state.rnn[1], "c")
    carried = {k: enc[k] for k in ("h", "c", "feed") if k in enc}
    given = {"memory": memory, "memory_mask": mask} if attention != "none" else {}
    step = session(files, "decoder_step")
    token = torch.full((B,), 1)
    for i in range(3):
        with torch.no_grad():
            out, state, weights = model.decoder.step(token, state, mem)
        got = step(token=token, **carried, **given)
        close(got["log_probs"], out.log_softmax(-1), f"log_probs at step {i}")
        if weights is not None:
            close(got["weights"], weights, f"weights at step {i}")
        carried = {k: got[f"{k}_out"] for k in carried}
        token = out.argmax(-1)


def test_captioner_without_attention_in_onnxruntime_equals_the_model(tmp_path):
    torch.manual_seed(0)
    model = ImageCaptioner(vocab_size=10, image_size=16, channels=(4, 8), feature_size=8,
                           cell="gru", hidden_size=6, attention="none").eval()
    files = export_model(model, tmp_path)
    images = torch.randint(0, 256, (B, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        c, memory = model.features(images)
        state, mem = model.encode(c, None)
        out, _, _ = model.decoder.step(torch.full((B,), 2), state, mem)
    enc = session(files, "encoder")(image=images)
    assert list(enc) == ["h"]
    close(enc["h"], state.rnn, "h")
    got = session(files, "decoder_step")(token=torch.full((B,), 2), h=enc["h"])
    close(got["log_probs"], out.log_softmax(-1), "log_probs")
