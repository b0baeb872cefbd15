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
