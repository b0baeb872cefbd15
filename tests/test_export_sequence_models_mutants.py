"""The plans of the models that read one sequence (rnnkit/export/sequence_models.py): what
export.json says about each of their graphs (names, shapes, meanings, initial states), that
each graph's module gives one tensor of the described shape per output port, which models
get a step graph, and that the step graph of an ensemble with other than two members,
streamed in onnxruntime, gives the model's own outputs. (What mutation testing of
sequence_models.py found unchecked.)"""

import pytest
import torch

pytest.importorskip("onnx", reason="ONNX export needs the export extra: "
                                   "pip install 'rnnkit[export]'")
ort = pytest.importorskip("onnxruntime", reason="ONNX parity is checked with onnxruntime: "
                                                "pip install 'rnnkit[export]'")

from rnnkit.export import PLANS, export_model  # noqa: E402
from rnnkit.export.graphs import AXES  # noqa: E402
from rnnkit.models import (  # noqa: E402
    ClassifierEnsemble,
    FeedForward,
    ForecastEnsemble,
    Forecaster,
    LanguageModel,
    SequenceClassifier,
    SequenceRegressor,
    SequenceTagger,
)

B, T = 4, 6
LENGTHS = torch.tensor([T, 1, 3, 5])
TOL = 1e-4


def plan_of(model):
    return PLANS[type(model).__name__](model)


def graphs_of(model) -> dict:
    return {g.name: g for g in plan_of(model).graphs}


def table(graph, side: str) -> list[tuple]:
    """A graph's ports as export.json writes them: (name, shape, meaning)."""
    return [(p["name"], tuple(p["shape"]), p["meaning"]) for p in graph.to_json()[side]]


def streamed(files, x: torch.Tensor, lengths: torch.Tensor, output: str) -> torch.Tensor:
    """Stream x (B, T, ...) through the step graph in onnxruntime, each sequence for its own
    length (state inputs from their ``initial`` in export.json): ``output`` at each
    sequence's last valid step."""
    import json

    spec = json.loads(files["manifest"].read_text())["graphs"]["step"]
    session = ort.InferenceSession(str(files["step"]), providers=["CPUExecutionProvider"])
    names = [p["name"] for p in spec["outputs"]]
    fill = {"zeros": 0.0, "-inf": -float("inf")}
    states = {p["name"]: torch.full([x.shape[0] if d == "batch" else d for d in p["shape"]],
                                    fill[p["initial"]])
              for p in spec["inputs"] if "initial" in p}
    last = None
    for t in range(x.shape[1]):
        got = dict(zip(names, session.run(None, {"x": x[:, t].numpy(),
                                                 **{k: v.numpy() for k, v in states.items()}})))
        for name, value in states.items():
            batch_axis = [p["shape"] for p in spec["inputs"] if p["name"] == name][0] \
                .index("batch")
            keep = (t < lengths).view([-1 if i == batch_axis else 1 for i in range(value.dim())])
            states[name] = torch.where(keep, torch.from_numpy(got[f"{name}_out"]), value)
        now = torch.from_numpy(got[output])
        at_end = (t == lengths - 1).view([-1] + [1] * (now.dim() - 1))
        last = now if last is None else torch.where(at_end, now, last)
    return last


# --- every graph's module against its ports ---------------------------------------------------

MODELS = {
    "classifier-lstm2-attention": lambda: SequenceClassifier(
        num_classes=3, input_size=4, cell="lstm", hidden_size=5, num_layers=2,
        pooling="attention"),
    "classifier-gru-last": lambda: SequenceClassifier(num_classes=2, vocab_size=9,
                                                      cell="gru", hidden_size=4),
    "regressor-mean": lambda: SequenceRegressor(output_size=2, vocab_size=9, cell="gru",
                                                hidden_size=5, pooling="mean"),
    "ensemble-mean": lambda: ClassifierEnsemble(members=2, seed=0, num_classes=3,
                                                input_size=3, cell="gru", hidden_size=4,
                                                pooling="mean"),
    "ensemble-attention": lambda: ClassifierEnsemble(members=2, seed=0, num_classes=3,
                                                     input_size=3, cell="gru", hidden_size=4,
                                                     pooling="attention"),
    "tagger": lambda: SequenceTagger(num_tags=5, vocab_size=20, cell="gru", hidden_size=6),
    "forecaster-quantile": lambda: Forecaster(horizon=3, input_size=2, cell="gru",
                                              hidden_size=6, output="quantile"),
    "forecast-ensemble-gaussian": lambda: ForecastEnsemble(
        members=2, seed=0, horizon=2, cell="lstm", hidden_size=4, output="gaussian"),
    "feedforward": lambda: FeedForward(input_size=6, output_size=2, hidden_sizes=[5]),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_each_graph_gives_one_tensor_of_the_described_shape_per_output_port(name):
    """The contract of a Graph: ``module(*inputs)`` returns its outputs in the ports' order,
    one each, shaped as export.json says (dynamic axes at their example sizes)."""
    for graph in plan_of(MODELS[name]().eval()).graphs:
        with torch.no_grad():
            outs = graph.module(*graph.example().values())
        assert len(outs) == len(graph.outputs), graph.name
        for port, out in zip(graph.outputs, outs):
            want = tuple(AXES[d] if isinstance(d, str) else d for d in port.shape)
            assert tuple(out.shape) == want, f"{graph.name}.{port.name}"


# --- which graphs a model has ---------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda bi: SequenceClassifier(num_classes=2, input_size=3, hidden_size=4, bidirectional=bi),
    lambda bi: ClassifierEnsemble(members=2, seed=0, num_classes=2, input_size=3,
                                  hidden_size=4, bidirectional=bi),
    lambda bi: SequenceTagger(num_tags=3, input_size=3, hidden_size=4, bidirectional=bi),
    lambda bi: LanguageModel(vocab_size=7, hidden_size=4, bidirectional=bi)
    if bi else LanguageModel(vocab_size=7, hidden_size=4),
], ids=["classifier", "ensemble", "tagger", "lm"])
def test_a_step_graph_exactly_for_unidirectional_models(make):
    plan = plan_of(make(False))
    assert [g.name for g in plan.graphs] == ["sequence", "step"] and plan.skipped == {}
    try:
        model = make(True)
    except (TypeError, ValueError):  # a language model cannot be bidirectional
        return
    plan = plan_of(model)
    assert [g.name for g in plan.graphs] == ["sequence"]
    assert list(plan.skipped) == ["step"] and "bidirectional" in plan.skipped["step"]


# --- classifier and regressor ---------------------------------------------------------------

def test_classifier_graphs_in_export_json():
    L, H, C, F = 2, 5, 3, 4
    model = SequenceClassifier(num_classes=C, input_size=F, cell="lstm", hidden_size=H,
                               num_layers=L, pooling="attention")
    seq, step = graphs_of(model).values()
    assert seq.about == "class scores of whole sequences (attention pooling)"
    assert table(seq, "inputs")[0] == ("x", ("batch", "time", F), "input features")
    assert [p.name for p in seq.inputs] == ["x", "lengths"]
    assert table(seq, "outputs") == [
        ("logits", ("batch", C), "class scores"),
        ("weights", ("batch", "time"),
         "attention pooling weights over the steps (0 past each length)")]
    assert step.about == ("one step: class scores of the sequence read so far, the state "
                          "carried in and out")
    assert table(step, "inputs") == [
        ("x", ("batch", F), "input features"),
        ("h", (L, "batch", H), "h of the encoder (one row per layer)"),
        ("c", (L, "batch", H), "c of the encoder (one row per layer)"),
        ("pool_max", ("batch", 1), "largest attention score so far"),
        ("pool_sum", ("batch", 1), "sum of exp(score - pool_max) over the steps so far"),
        ("pool_acc", ("batch", H),
         "sum of exp(score - pool_max) * output over the steps so far")]
    assert [p.initial for p in step.inputs] == [None, "zeros", "zeros", "-inf", "zeros",
                                                "zeros"]
    assert table(step, "outputs") == [
        ("logits", ("batch", C), "class scores of the sequence so far"),
        *[(f"{n}_out", s, f"{m}, after this step") for n, s, m in table(step, "inputs")[1:]]]


def test_mean_pooling_ports_and_the_example_values_of_counts_and_sums():
    """The running count (mean pooling) and sum of exponentials (attention pooling) are
    positive: the example inputs that trace and verify the graph are drawn from [1, 2)."""
    H = 5
    model = SequenceRegressor(output_size=2, vocab_size=9, cell="gru", hidden_size=H,
                              pooling="mean")
    seq, step = graphs_of(model).values()
    assert seq.about == "predicted values of whole sequences (mean pooling)"
    assert table(seq, "outputs") == [("predictions", ("batch", 2), "predicted values")]
    assert table(step, "inputs")[2:] == [
        ("pool_sum", ("batch", H), "sum of the outputs so far"),
        ("pool_count", ("batch", 1), "steps so far")]
    assert [p.initial for p in step.inputs[2:]] == ["zeros", "zeros"]
    assert table(step, "outputs")[0] == ("predictions", ("batch", 2),
                                         "predicted values of the sequence so far")
    for _ in range(3):
        count = step.example(generator=torch.Generator().manual_seed(_))["pool_count"]
        assert ((count >= 1) & (count < 2)).all()
    attention = SequenceRegressor(output_size=2, input_size=3, hidden_size=H,
                                  pooling="attention")
    example = graphs_of(attention)["step"].example()
    assert ((example["pool_sum"] >= 1) & (example["pool_sum"] < 2)).all()
    assert (example["pool_acc"] < 0).any()  # a weighted sum of outputs: any sign


# --- classifier ensembles -------------------------------------------------------------------

def test_ensemble_graphs_in_export_json():
    H, C = 4, 3
    model = ClassifierEnsemble(members=2, seed=0, num_classes=C, input_size=3, cell="gru",
                               hidden_size=H, pooling="attention")
    seq, step = graphs_of(model).values()
    meaning = "log of the members' mean class probabilities (class scores)"
    assert seq.about == f"{meaning} of whole sequences (attention pooling)"
    assert table(seq, "outputs") == [
        ("logits", ("batch", C), meaning),
        ("weights", ("batch", "time"), "the members' mean attention pooling weights over the "
                                       "steps (0 past each length)")]
    assert step.about == (f"one step: {meaning} of the sequence read so far, every member's "
                          "state carried in and out")
    assert table(step, "inputs")[0] == ("x", ("batch", 3), "input features")
    pool = [("pool_max", ("batch", 1), "largest attention score so far"),
            ("pool_sum", ("batch", 1), "sum of exp(score - pool_max) over the steps so far"),
            ("pool_acc", ("batch", H),
             "sum of exp(score - pool_max) * output over the steps so far")]
    members = [[(f"m{i}.h", (1, "batch", H), f"h of the encoder of member {i} (one row per "
                                               "layer)"),
                *[(f"m{i}.{n}", s, m) for n, s, m in pool]] for i in (0, 1)]
    assert table(step, "inputs")[1:] == members[0] + members[1]
    assert table(step, "outputs") == [
        ("logits", ("batch", C), f"{meaning} of the sequence so far"),
        *[(f"{n}_out", s, f"{m}, after this step") for n, s, m in members[0] + members[1]]]


@pytest.mark.parametrize("members", [1, 3])
def test_ensemble_step_graph_streamed_equals_the_model(members, tmp_path):
    """With one member and with three (each member's state slice read where the last one
    ended), the step graph in onnxruntime, streamed, gives the ensemble's logits."""
    torch.manual_seed(0)
    model = ClassifierEnsemble(members=members, seed=members, num_classes=3, vocab_size=11,
                               cell="gru", hidden_size=4, pooling="mean").eval()
    files = export_model(model, tmp_path)
    x = torch.randint(0, 11, (B, T))
    with torch.no_grad():
        want = model(x, LENGTHS).logits
    got = streamed(files, x, LENGTHS, "logits")
    assert (got - want).abs().max() <= TOL


# --- taggers and language models ------------------------------------------------------------

def test_tagger_graphs_in_export_json():
    H, K, V = 6, 5, 20
    seq, step = graphs_of(SequenceTagger(num_tags=K, vocab_size=V, cell="gru",
                                         hidden_size=H)).values()
    assert seq.about == "tag scores at every step of whole sequences"
    assert table(seq, "outputs") == [
        ("logits", ("batch", "time", K),
         "tag scores at every step (steps past each length are padding)"),
        ("h_out", (1, "batch", H),
         "h of the encoder (one row per layer), after each sequence's last valid step")]
    assert step.about == "one step: tag scores, the state carried in and out"
    assert table(step, "inputs") == [
        ("x", ("batch",), "token ids"), ("h", (1, "batch", H), "h of the encoder (one row "
                                                                "per layer)")]
    assert step.inputs[0].values == (0, V - 1)
    assert table(step, "outputs") == [
        ("logits", ("batch", K), "tag scores after this step"),
        ("h_out", (1, "batch", H), "h of the encoder (one row per layer), after this step")]


# --- forecasters ----------------------------------------------------------------------------

def test_forecaster_graphs_in_export_json():
    H, F, P = 6, 2, 3
    model = Forecaster(horizon=P, input_size=F, cell="gru", hidden_size=H, output="quantile",
                       quantiles=[0.25, 0.5, 0.75])
    seq, step = graphs_of(model).values()
    assert seq.about == "the forecast after whole windows"
    assert table(seq, "inputs")[0] == ("x", ("batch", "time", F),
                                       "windows, scaled as the run's data layer scales them")
    assert table(seq, "outputs") == [
        ("point", ("batch", P, 1),
         "point forecast after each window (mean, or median of the quantiles)"),
        ("quantiles", ("batch", P, 1, 3),
         "forecast quantiles at levels 0.25, 0.5, 0.75 after each window"),
        ("h_out", (1, "batch", H),
         "h of the encoder (one row per layer), after each window's last valid step")]
    assert step.about == ("one step of a stream: the forecast made after it, the state in "
                          "and out")
    assert table(step, "inputs") == [
        ("x", ("batch", F), "the next observation, scaled"),
        ("h", (1, "batch", H), "h of the encoder (one row per layer)")]
    assert table(step, "outputs") == [
        ("point", ("batch", P, 1),
         "point forecast after this step (mean, or median of the quantiles)"),
        ("quantiles", ("batch", P, 1, 3),
         "forecast quantiles at levels 0.25, 0.5, 0.75 after this step"),
        ("h_out", (1, "batch", H), "h of the encoder (one row per layer), after this step")]


def test_a_covariate_forecaster_s_future_input_in_export_json():
    """The horizon's covariates are one more input of both graphs: after the lengths in the
    sequence graph, before the states in the step graph."""
    H, P, J = 5, 4, 2
    future = ("future", ("batch", P, J),
              "the covariates of the forecast's horizon, scaled as those in x")
    for model in (Forecaster(horizon=P, input_size=3, covariates=J, cell="gru", hidden_size=H),
                  ForecastEnsemble(members=2, seed=0, horizon=P, input_size=3, covariates=J,
                                   cell="gru", hidden_size=H)):
        seq, step = graphs_of(model).values()
        assert [n for n, _, _ in table(seq, "inputs")] == ["x", "lengths", "future"]
        assert table(seq, "inputs")[2] == future
        assert table(step, "inputs")[:2] == [("x", ("batch", 3), "the next observation, scaled"),
                                             future]
        assert [n for n, _, _ in table(step, "inputs")[2:]] == \
            [n[:-4] for n, _, _ in table(step, "outputs") if n.endswith("_out")]


def test_forecast_ensemble_graphs_in_export_json():
    H, P = 4, 2
    model = ForecastEnsemble(members=2, seed=0, horizon=P, cell="lstm", hidden_size=H,
                             output="gaussian")
    seq, step = graphs_of(model).values()
    mean = " (the members' mean)"
    states = [(f"m{i}.{n}", (1, "batch", H), f"{n} of the encoder of member {i} (one row per "
                                              "layer)") for i in (0, 1) for n in ("h", "c")]
    assert table(seq, "outputs") == [
        ("point", ("batch", P, 1),
         f"point forecast after each window{mean} (mean, or median of the quantiles)"),
        ("std", ("batch", P, 1), f"forecast standard deviation after each window{mean}"),
        *[(f"{n}_out", s, f"{m}, after each window's last valid step") for n, s, m in states]]
    assert table(step, "inputs")[1:] == states
    assert table(step, "outputs") == [
        ("point", ("batch", P, 1),
         f"point forecast after this step{mean} (mean, or median of the quantiles)"),
        ("std", ("batch", P, 1), f"forecast standard deviation after this step{mean}"),
        *[(f"{n}_out", s, f"{m}, after this step") for n, s, m in states]]


def test_forecast_ensemble_of_three_streamed_equals_the_model(tmp_path):
    """Each member reads its own slice of the step graph's state inputs."""
    torch.manual_seed(0)
    model = ForecastEnsemble(members=3, seed=3, horizon=2, input_size=2, cell="gru",
                             hidden_size=4).eval()
    files = export_model(model, tmp_path)
    x = torch.randn(B, T, 2)
    with torch.no_grad():
        want = model.predict(x, LENGTHS).point  # (B, P) for one output
    got = streamed(files, x, LENGTHS, "point")[..., 0]  # (B, P, 1) -> (B, P)
    assert (got - want).abs().max() <= TOL


def test_an_autoregressive_decoder_is_exported_one_step_at_a_time(tmp_path):
    """The sequence graph runs one recurrence over the window (the encoder's LSTM); the
    decoder's horizon steps are its cell's steps, not a one-step recurrence each."""
    import onnx

    model = Forecaster(horizon=3, input_size=3, output_size=2, cell="lstm", hidden_size=6,
                       mode="autoregressive", output="gaussian").eval()
    files = export_model(model, tmp_path)
    ops = [n.op_type for n in onnx.load(str(files["sequence"])).graph.node]
    assert ops.count("LSTM") == 1 and "Loop" not in ops


# --- feed-forward ---------------------------------------------------------------------------

@pytest.mark.parametrize("task,meaning", [("classification", "class scores"),
                                          ("regression", "predictions")])
def test_feedforward_graph_in_export_json(task, meaning):
    plan = plan_of(FeedForward(input_size=6, output_size=2, hidden_sizes=[5], task=task))
    [graph] = plan.graphs
    assert graph.name == "model" and graph.about == "the whole model (no recurrence)"
    assert table(graph, "inputs") == [
        ("x", ("batch", 6), "input features (a (T, F) window flattened to T*F)")]
    assert table(graph, "outputs") == [("output", ("batch", 2), meaning)]
    assert plan.skipped == {"step": "no recurrence: the model reads its whole input at once"}
