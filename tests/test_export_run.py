"""`rnnkit export RUN` and Predictor.export (issue 18, item 1 at the task level): the graphs
onnxruntime runs, with the predictor's preprocessing in preprocessing.json, reproduce
rnnkit.load(run).predict without calling the model in torch."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.tokenizers import tokenizer_from_dict

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is not "
                          "installed: pip install 'rnnkit[export]'")

CONFIG = """
name = "topics"
[task]
name = "sentiment"
data = "news.csv"
[model]
cell = "lstm"
hidden_size = 8
embedding_dim = 8
num_layers = 2
pooling = "mean"
[train]
steps = 12
batch_size = 8
eval_every = 6
progress = "off"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    rows = [("red apple sweet", "fruit"), ("green pear ripe", "fruit"),
            ("fast red car", "car"), ("old blue truck", "car")] * 12
    lines = ["text,label"] + [f"{t},{label}" for t, label in rows]
    (root / "news.csv").write_text("\n".join(lines) + "\n")
    (root / "c.toml").write_text(CONFIG)
    assert main(["train", str(root / "c.toml"), "--run-dir", str(root / "run")]) == 0
    return root


def test_exported_graph_and_preprocessing_reproduce_predict(run, capsys):
    capsys.readouterr()
    assert main(["export", str(run / "run"), "--output", str(run / "out"), "--json",
                 "--quantize", "dynamic"]) == 0
    paths = json.loads(capsys.readouterr().out)
    assert {"sequence", "step", "sequence.int8", "manifest", "preprocessing"} <= set(paths)
    pre = json.loads((run / "out" / "preprocessing.json").read_text())
    assert pre["labels"] == ["car", "fruit"] and pre["task"]["name"] == "sentiment"
    texts = ["red apple", "old blue truck fast", "pear"]
    tok = tokenizer_from_dict(pre["tokenizer"])  # from the JSON only
    ids = [tok.encode(t) for t in texts]
    lengths = np.array([len(i) for i in ids], dtype=np.int64)
    x = np.zeros((len(ids), lengths.max()), dtype=np.int64)
    for row, seq in enumerate(ids):
        x[row, :len(seq)] = seq
    session = ort.InferenceSession(paths["sequence"], providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"x": x, "lengths": lengths})
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    records = rnnkit.load(run / "run").predict(texts)
    for rec, row in zip(records, probs):
        assert rec["label"] == pre["labels"][int(row.argmax())]
        assert [rec["probabilities"][k] for k in pre["labels"]] == pytest.approx(
            row.tolist(), abs=1e-4)


def test_export_refuses_an_unknown_format_and_names_the_extra(run, capsys):
    p = rnnkit.load(run / "run")
    with pytest.raises(rnnkit.tasks.TaskError, match="only 'onnx'"):
        p.export(run / "x", "tflite")


COVARIATES = """
name = "load"
[task]
name = "forecast"
data = "load.csv"
covariate_columns = ["temp"]
test_size = 6
window = 8
horizon = 4
season = 7
[model]
cell = "gru"
hidden_size = 8
output = "gaussian"
[train]
steps = 12
batch_size = 8
eval_every = 6
progress = "off"
"""


def test_a_covariate_forecast_run_exports_and_onnxruntime_gives_the_predictor_s_numbers(
        tmp_path, monkeypatch):
    """Every window the predictor forecasts (its validation backtest for the intervals, then
    the history's last window) is run again in onnxruntime, with the horizon's covariates
    as the graphs' ``future`` input: the same point forecasts and spreads."""
    rng = np.random.default_rng(0)
    n, ahead = 100, 4
    days = np.datetime64("2021-03-01") + np.arange(n + ahead)
    temp = 15 + 5 * np.sin(np.arange(n + ahead) / 9) + rng.normal(0, 1, n + ahead)
    value = 100 + 2 * temp + rng.normal(0, 1, n + ahead)
    rows = [f"{days[i]},{value[i]:.3f}," if i < n else f"{days[i]},," for i in range(n + ahead)]
    (tmp_path / "load.csv").write_text("day,value,temp\n" + "".join(
        f"{r}{temp[i]:.2f}\n" for i, r in enumerate(rows)))
    (tmp_path / "c.toml").write_text(COVARIATES)
    assert main(["train", str(tmp_path / "c.toml"), "--run-dir", str(tmp_path / "run")]) == 0
    p = rnnkit.load(tmp_path / "run")
    assert p.model.covariates == 1
    paths = p.export(tmp_path / "out")
    seen = []
    predict = p.model.predict

    def spy(x, lengths=None, future=None):
        f = predict(x, lengths, future=future)
        seen.append((x.numpy(), future.numpy(), f))
        return f

    monkeypatch.setattr(p.model, "predict", spy)
    (history,) = p.read_file(tmp_path / "load.csv")
    (record,) = p.predict([history])
    assert len(seen) >= 2 and len(record["columns"]["forecast"]) == 4
    sequence = ort.InferenceSession(str(paths["sequence"]), providers=["CPUExecutionProvider"])
    for x, future, f in seen:
        lengths = np.full(len(x), x.shape[1], dtype=np.int64)
        point, std = sequence.run(["point", "std"], {"x": x, "lengths": lengths,
                                                     "future": future})
        np.testing.assert_allclose(point[:, :, 0], f.point.numpy(), atol=1e-4)
        np.testing.assert_allclose(std[:, :, 0], f.std.numpy(), atol=1e-4)
    # the step graph, one point at a time over the last window, the future at its last step
    step = ort.InferenceSession(str(paths["step"]), providers=["CPUExecutionProvider"])
    x, future, f = seen[-1]
    h = np.zeros((1, len(x), 8), dtype=np.float32)
    for t in range(x.shape[1]):
        point, std, h = step.run(["point", "std", "h_out"], {"x": x[:, t], "future": future,
                                                             "h": h})
    np.testing.assert_allclose(point[:, :, 0], f.point.numpy(), atol=1e-4)
    np.testing.assert_allclose(std[:, :, 0], f.std.numpy(), atol=1e-4)
