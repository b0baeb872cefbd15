"""Task ``classify`` (issue 17 item 3): sequence classification and regression on numeric
sequences from UEA/UCR .ts files, .npz and long-format tables; readers read exactly what the
files hold and name file and line when they cannot; the scaler sees the training part only;
rnnkit.load(run).predict equals ``rnnkit predict --input``."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.datasets import DataError
from rnnkit.data.sequences import (
    UEA_SETS,
    read_long_table,
    read_npz,
    read_sequences,
    read_ts,
    uea_files,
)
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw
from rnnkit.training import ConfigError

NAN = math.nan


def _same(items, arrays, labels):
    assert len(items) == len(arrays)
    for item, a, label in zip(items, arrays, labels):
        assert item.x.dtype == np.float64
        np.testing.assert_array_equal(item.x, np.array(a, dtype=np.float64))
        assert item.label == label


# -- .ts ------------------------------------------------------------------------------------
TS = """# a comment
% an ARFF-style comment
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1,2,3:4,5,6:up
0.5,?:-1,1e2:down

-2:3:up
"""


def test_ts_reads_multivariate_variable_length_with_missing_values(tmp_path):
    path = tmp_path / "tiny.ts"
    path.write_text(TS)
    with pytest.warns(UserWarning, match=r"skipped 1 blank line\(s\) \(line 13\)"):
        items = read_ts(path)
    _same(items, [[[1, 4], [2, 5], [3, 6]], [[0.5, -1], [NAN, 100]], [[-2, 3]]],
          ["up", "down", "up"])
    assert [i.where for i in items] == [f"{path}:11", f"{path}:12", f"{path}:14"]


def test_ts_without_labels_and_regression_targets(tmp_path):
    (tmp_path / "u.ts").write_text("@univariate true\n@classLabel false\n@data\n1,2\n3\n")
    _same(read_ts(tmp_path / "u.ts"), [[[1], [2]], [[3]]], [None, None])
    (tmp_path / "r.ts").write_text("@univariate true\n@targetLabel true\n@data\n1,2:0.25\n")
    _same(read_ts(tmp_path / "r.ts"), [[[1], [2]]], ["0.25"])



def test_ts_labels_in_another_case_are_the_header_class(tmp_path):
    (tmp_path / "c.ts").write_text("@univariate true\n@classLabel true Walk Run\n@data\n"
                                   "1:walk\n2:Walk\n3:RUN\n")
    _same(read_ts(tmp_path / "c.ts"), [[[1]], [[2]], [[3]]], ["Walk", "Walk", "Run"])


@pytest.mark.parametrize("data, message", [  # the data start at line 5
    ("1,2:3,4:up\n1,2:up\n", r":6: 1 channel\(s\), expected 2 .*is the class label missing"),
    ("1,2:3,4:up\n1,2:3,4:5,6:up\n", r":6: 3 channel\(s\), expected 2"),
    ("1,2:3:up\n", r":5: the channels of one series must be equally long, got \[2, 1\]"),
    ("1,x:3,4:up\n", r":5: channel 1, value 2: 'x' is not a number"),
    ("1,2:3,4:\n", r":5: empty label"),
    ("1,2:3,4:sideways\n", r":5: label 'sideways' is not one of the @classLabel"),
    ("1,2::up\n", r":5: channel 2 holds no values"),
])
def test_malformed_ts_names_file_and_line(tmp_path, data, message):
    path = tmp_path / "bad.ts"
    path.write_text("@dimensions 2\n@equalLength false\n@classLabel true up down\n@data\n"
                    + data)
    with pytest.raises(DataError, match=message) as e:
        read_ts(path)
    assert str(e.value).startswith(f"{path}:")


@pytest.mark.parametrize("content, message", [
    ("@equalLength true\n@univariate true\n@classLabel false\n@data\n1,2\n1\n",
     r"bad.ts:6: 1 time steps, but the header says every series has 2"),
    ("@univariate true\n@classLabel false\n@data\n", r"bad.ts: no series after @data"),
    ("@univariate true\n@data\n1\n", r"bad.ts:2: the header says nothing of labels"),
    ("@univariate true\n1,2\n", r"bad.ts:2: data before the @data line"),
    ("@univariate true\n", r"bad.ts: no @data line"),
    ("@timeStamps true\n@data\n(0,1)\n", r"timestamped .ts files are not read"),
    ("@classLabel true\n@data\n", r"bad.ts:1: @classLabel true needs the class labels"),
    ("@univariate maybe\n@data\n", r"bad.ts:1: @univariate needs true or false"),
    ("@targetLabel true\n@univariate true\n@data\n1,2:high\n", r"bad.ts:4: target 'high'"),
])
def test_malformed_ts_headers(tmp_path, content, message):
    (tmp_path / "bad.ts").write_text(content)
    with pytest.raises(DataError, match=message):
        read_ts(tmp_path / "bad.ts")


def test_ts_not_utf8(tmp_path):
    (tmp_path / "bad.ts").write_bytes(b"@univariate true\n@data\n1,2\xff\n")
    with pytest.raises(DataError, match=r"bad.ts:3: not valid UTF-8"):
        read_ts(tmp_path / "bad.ts")


def _aeon_files():
    aeon = pytest.importorskip("aeon", reason="aeon not installed (pip install aeon)")
    base = Path(aeon.__file__).parent / "datasets" / "data"
    return [base / n / f"{n}_{s}.ts" for n in UEA_SETS for s in ("TRAIN", "TEST")]


def test_ts_reader_equals_aeon_on_the_files_aeon_ships():
    paths = _aeon_files()
    from aeon.datasets import load_from_ts_file

    for path in paths:
        X, y = load_from_ts_file(str(path))
        items = read_ts(path)
        assert len(items) == len(X) == len(y)
        for a, label, item in zip(X, y, items):
            np.testing.assert_array_equal(item.x, np.asarray(a).T)  # aeon: (F, T)
            assert item.label.lower() == label  # aeon lowercases labels


def test_named_sets_are_copied_from_aeon_and_checked(tmp_path, monkeypatch):
    _aeon_files()
    files = uea_files("JapaneseVowels", root=tmp_path)
    assert files["train"] == tmp_path / "uea" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts"
    assert len(read_ts(files["train"])) == 270 and len(read_ts(files["test"])) == 370
    files["test"].write_text(files["test"].read_text() + "\n")  # changed: refused
    with pytest.raises(DataError, match="has sha256 .* expected"):
        uea_files("JapaneseVowels", root=tmp_path)


def test_named_sets_without_aeon_say_what_to_install(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install aeon"):
        uea_files("BasicMotions", root=tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        uea_files("Nope", root=tmp_path)


# -- .npz -----------------------------------------------------------------------------------
def test_npz_reads_padded_rows_to_their_lengths(tmp_path):
    X = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    np.savez(tmp_path / "a.npz", X=X, lengths=np.array([3, 1]), y=np.array([7, 8]))
    _same(read_npz(tmp_path / "a.npz"), [X[0], X[1, :1]], ["7", "8"])
    np.savez(tmp_path / "b.npz", X=np.array([[1.0, 2.0], [3.0, 4.0]]))  # (N, T): 1 feature
    _same(read_sequences(tmp_path / "b.npz"), [[[1], [2]], [[3], [4]]], [None, None])
    np.savez(tmp_path / "c.npz", X=X[..., 0], y=np.array([b"up", b"down"]))  # bytes (S)
    _same(read_npz(tmp_path / "c.npz"), [X[0, :, :1], X[1, :, :1]], ["up", "down"])


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((2, 3, 1))}, r"no array 'X' \(it holds \['x'\]\)"),
    ({"X": np.zeros(3)}, r"X must be numbers of shape \(N, T, F\) or \(N, T\)"),
    ({"X": np.zeros((2, 3, 1)), "lengths": np.array([3, 4])}, r"lengths\[1\] = 4: must be"),
    ({"X": np.zeros((2, 3, 1)), "lengths": np.array([1.5, 2])}, r"lengths must be N = 2"),
    ({"X": np.zeros((2, 3, 1)), "y": np.array([1, 2, 3])}, r"y must have shape \(2,\)"),
    ({"X": np.zeros((2, 3, 1)), "y": np.array(["a", ""])}, r"y\[1\] is empty"),
])
def test_malformed_npz(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message) as e:
        read_npz(tmp_path / "bad.npz")
    assert str(tmp_path / "bad.npz") in str(e.value)


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((3, 1)), np.zeros((2, 1))
    np.savez(tmp_path / "bad.npz", X=ragged)
    with pytest.raises(DataError, match="object array; ragged X is not read"):
        read_npz(tmp_path / "bad.npz")


# -- long tables ----------------------------------------------------------------------------
LONG = """id,t,a,b,label
s2,1,20,21,down
s1,2,12,13,up
s1,1,10,11,up

s2,0,18,,down
s1,3,14,15,up
"""


def test_long_table_groups_by_id_and_orders_by_time(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(LONG)
    with pytest.warns(UserWarning, match=r"skipped 1 blank line\(s\) \(line 5\)"):
        items = read_long_table(path)
    _same(items, [[[18, NAN], [20, 21]], [[10, 11], [12, 13], [14, 15]]], ["down", "up"])
    assert items[0].features == ("a", "b") and items[0].where == f"{path}:2: id s2"
    with pytest.warns(UserWarning, match="blank line"):
        picked = read_long_table(path, value_columns=["b"], time_column="")  # file order
    _same(picked, [[[21], [NAN]], [[13], [11], [15]]], ["down", "up"])
    (tmp_path / "iso.tsv").write_text("id\tt\tv\nx\t2024-01-02\t2\nx\t2024-01-01\t1\n")
    _same(read_sequences(tmp_path / "iso.tsv"), [[[1], [2]]], [None])  # no label column


@pytest.mark.parametrize("content, message", [
    ("id,t,a,label\n1,0,1,x\n1,1,2,y\n", r"long.csv:3: 'label' = 'y', but line 2 gives"),
    ("id,t,a,label\n1,0,1,x\n1,1,z,x\n", r"long.csv:3: column 'a': 'z' is not a number"),
    ("id,t,a,label\n1,0,1,x\n1,0,2,x\n", r"long.csv:3: 't' = '0' repeats line 2"),
    ("id,t,a,label\n1,0,1,x\n1,noon,2,x\n", r"long.csv:3: column 't': 'noon' is neither"),
    ("id,t,a,label\n1,0,1,\n", r"long.csv:2: empty 'label'"),
    ("id,t,a,label\n,0,1,x\n", r"long.csv:2: empty 'id'"),
    ("id,a,label\n1,1,x\n", r"long.csv: no column 't'"),
    ("id,t,label\n1,0,x\n", r"long.csv: no feature columns"),
])
def test_malformed_long_tables(tmp_path, content, message):
    (tmp_path / "long.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        read_long_table(tmp_path / "long.csv")


def test_long_jsonl_null_or_absent_values_are_missing(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text('{"id": "s", "t": 0, "a": 1, "b": null, "label": "up"}\n'
                    '{"id": "s", "t": 1, "a": 2, "label": "up"}\n'  # no "b": missing too
                    '{"id": "s", "t": 2, "a": 3, "b": 4, "label": "up"}\n')
    want = [[[1, NAN], [2, NAN], [3, 4]]]
    _same(read_long_table(path), want, ["up"])
    _same(read_long_table(path, value_columns=["a", "b"]), want, ["up"])
    with pytest.raises(DataError, match=r"long.jsonl: no column 'c'"):
        read_long_table(path, value_columns=["a", "c"])


# -- the task -------------------------------------------------------------------------------
def waves(n: int, seed: int, offset: float = 0.0):
    """Sines (class "sine") and square waves ("square") of 12..30 steps, two features: the
    wave and a noisy copy; ``offset`` shifts every value."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = ("sine", "square")[i % 2]
        t = np.arange(rng.integers(12, 31))
        s = np.sin(2 * np.pi * rng.uniform(0.08, 0.2) * t + rng.uniform(0, 6.28))
        s = np.sign(s) if label == "square" else s
        out.append((np.stack([s, s + rng.normal(0, 0.1, len(t))], 1) + offset, label))
    return out


def write_long(path, items, ids=0):
    with open(path, "w") as f:
        f.write("rec,step,wave,noisy,kind\n")
        for i, (x, label) in enumerate(items):
            for t in reversed(range(len(x))):  # any row order: sorted by the time column
                f.write(f"r{ids + i},{t},{float(x[t, 0])!r},{float(x[t, 1])!r},{label}\n")


CONFIG = """
name = "waves"
seed = 0
[task]
name = "classify"
train_data = "train.csv"
val_data = "val.csv"
test_data = "test.csv"
id_column = "rec"
time_column = "step"
label_column = "kind"
[model]
cell = "gru"
hidden_size = 16
bidirectional = true
pooling = "attention"
[train]
steps = 60
batch_size = 8
batching = "bucket"
lr = 1e-2
eval_every = 30
metric = "accuracy"
metric_mode = "max"
progress = "off"
[diagnostics]
every = 0
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("waves")
    write_long(root / "train.csv", waves(48, 0))
    write_long(root / "val.csv", waves(8, 1, offset=50.0), ids=100)  # far off: must not
    write_long(root / "test.csv", waves(16, 2, offset=100.0), ids=200)  # reach the scaler
    (root / "waves.toml").write_text(CONFIG)
    assert main(["train", str(root / "waves.toml"), "--run-dir", str(root / "run")]) == 0
    return root


def test_scaler_is_fitted_on_the_training_part_only(run):
    p = rnnkit.load(run / "run")
    train = np.concatenate([x for x, _ in waves(48, 0)])  # (sum T, 2), by hand
    np.testing.assert_allclose(p.info["scaler"]["mean"], train.mean(0), rtol=1e-12)
    np.testing.assert_allclose(p.info["scaler"]["std"], train.std(0), rtol=1e-12)
    assert p.info["labels"] == ["sine", "square"]
    assert p.info["features"] == ["wave", "noisy"]


def test_load_predict_equals_the_cli_and_evaluate(run, capsys):
    p = rnnkit.load(run / "run")
    inputs = p.read_file(run / "test.csv")
    records = p.predict(inputs)
    capsys.readouterr()
    assert main(["predict", str(run / "run"), "--input", str(run / "test.csv")]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == records
    truth = [label for _, label in waves(16, 2)]
    accuracy = np.mean([r["label"] == t for r, t in zip(records, truth)])
    assert accuracy == pytest.approx(rnnkit.tasks.evaluate_run(run / "run")["accuracy"])
    for r in records:
        assert r["probability"] == max(r["probabilities"].values())
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert records[0]["source"] == f"{run / 'test.csv'}:2: rec r200"


def test_lengths_reach_the_layers_and_arrays_predict_like_files(run):
    p = rnnkit.load(run / "run")
    (x_short, _), (x_long, _) = waves(2, 5)
    alone = p.predict([x_short], explain=True)[0]
    padded = p.predict([x_short, np.concatenate([x_long, x_long])], explain=True)[0]
    assert alone["probabilities"] == pytest.approx(padded["probabilities"], abs=1e-6)
    assert len(alone["weights"]) == len(x_short) == len(padded["weights"])
    np.savez(run / "one.npz", X=x_short[None])
    assert p.predict(p.read_file(run / "one.npz"))[0]["probabilities"] == pytest.approx(
        alone["probabilities"], abs=1e-6)
    with pytest.raises(TaskError, match=r"expected shape \(T, 2\)"):
        p.predict([np.zeros((4, 3))])


def test_regression_targets_and_their_units(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 10, 1))
    lengths = rng.integers(3, 11, 60)
    y = np.array([100 + 10 * X[i, :n, 0].mean() for i, n in enumerate(lengths)])
    for name, part in (("train", slice(0, 32)), ("val", slice(32, 40)), ("test", slice(40, 60))):
        np.savez(tmp_path / f"{name}.npz", X=X[part], lengths=lengths[part], y=y[part])
    cfg = config_from_raw({
        "task": {"name": "classify", "target": "value",
                 "train_data": str(tmp_path / "train.npz"),
                 "val_data": str(tmp_path / "val.npz"), "test_data": str(tmp_path / "test.npz")},
        "model": {"cell": "gru", "hidden_size": 8},
        "train": {"steps": 30, "batch_size": 8, "eval_every": 15, "progress": "off"},
        "diagnostics": {"every": 0}}, "t")
    rnnkit.tasks.train_run(cfg, tmp_path / "run")
    p = rnnkit.load(tmp_path / "run")
    assert p.info["scaler"]["target_mean"] == pytest.approx(y[:32].mean(), rel=1e-12)
    assert p.info["scaler"]["target_std"] == pytest.approx(y[:32].std(), rel=1e-12)
    pred = np.array([r["value"] for r in p.predict_file(tmp_path / "test.npz")])
    figures = rnnkit.tasks.evaluate_run(tmp_path / "run")
    assert figures["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y[40:]) ** 2)), rel=1e-4)
    assert figures["mae"] == pytest.approx(np.mean(np.abs(pred - y[40:])), rel=1e-4)
    for name in ("train", "val"):  # a predictor reads no training data (model.json holds
        (tmp_path / f"{name}.npz").unlink()  # the scalers)
    again = rnnkit.load(tmp_path / "run").predict([X[i, :n] for i, n in
                                                   zip(range(40, 60), lengths[40:])])
    assert [r["value"] for r in again] == pytest.approx(pred, abs=1e-9)


def test_config_and_data_errors(tmp_path):
    with pytest.raises(ConfigError, match="classify needs data"):
        config_from_raw({"task": {"name": "classify"}}, "t")
    (tmp_path / "a.ts").write_text("@univariate true\n@classLabel true x y\n@data\n1:x\n")
    with pytest.raises(ConfigError, match="task.dataset = 'BasicMotions' and task.data"):
        config_from_raw({"task": {"name": "classify", "dataset": "BasicMotions",
                                  "data": str(tmp_path / "a.ts")}}, "t")
    with pytest.raises(ConfigError, match="task.value_columns = 'a': expected a list"):
        config_from_raw({"task": {"name": "classify", "data": str(tmp_path / "a.ts"),
                                  "value_columns": "a"}}, "t")
    (tmp_path / "u.ts").write_text("@univariate true\n@classLabel false\n@data\n1\n2\n")
    cfg = config_from_raw({"task": {"name": "classify", "train_data": str(tmp_path / "u.ts"),
                                    "test_data": str(tmp_path / "u.ts")}}, "t")
    with pytest.raises(TaskError, match=r"u.ts:4: no label"):
        _ = TASKS["classify"].setup(cfg).sequences
    (tmp_path / "c.ts").write_text("@univariate true\n@classLabel true x y\n@data\n1:x\n")
    cfg = config_from_raw({"task": {"name": "classify", "target": "value",
                                    "train_data": str(tmp_path / "c.ts"),
                                    "test_data": str(tmp_path / "c.ts")}}, "t")
    with pytest.raises(TaskError, match=r"c.ts:4: target 'x' is not a finite number"):
        _ = TASKS["classify"].setup(cfg).sequences


def test_an_ensemble_trains_and_predicts_the_members_mean(tmp_path):
    from rnnkit.models import ClassifierEnsemble

    write_long(tmp_path / "train.csv", waves(24, 0))
    write_long(tmp_path / "val.csv", waves(6, 1), ids=100)
    write_long(tmp_path / "test.csv", waves(6, 2), ids=200)
    (tmp_path / "w.toml").write_text(CONFIG.replace("steps = 60", "steps = 4").replace(
        'label_column = "kind"', 'label_column = "kind"\nensemble = 3'))
    assert main(["train", str(tmp_path / "w.toml"), "--run-dir", str(tmp_path / "run")]) == 0
    p = rnnkit.load(tmp_path / "run")
    model = p.model.cpu().eval()
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 3
    x = waves(1, 5)[0][0]
    record = p.predict([x])[0]
    scaled = (x - np.array(p.info["scaler"]["mean"])) / np.array(p.info["scaler"]["std"])
    xt = torch.tensor(scaled, dtype=torch.float32)[None]
    with torch.no_grad():
        want = sum(torch.softmax(m(xt).logits, -1)[0] for m in model.members) / 3
    got = [record["probabilities"][c] for c in ("sine", "square")]
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="task.ensemble = 2: ensembles average class"):
        config_from_raw({"task": {"name": "classify", "target": "value", "ensemble": 2,
                                  "data": str(tmp_path / "train.csv")}}, "t")


def test_a_class_only_the_test_part_has_is_an_error(tmp_path):
    (tmp_path / "tr.ts").write_text("@univariate true\n@classLabel true x y z\n@data\n"
                                    + "1,2:x\n3:y\n" * 10)
    (tmp_path / "te.ts").write_text("@univariate true\n@classLabel true x y z\n@data\n1:z\n")
    cfg = config_from_raw({"task": {"name": "classify", "train_data": str(tmp_path / "tr.ts"),
                                    "test_data": str(tmp_path / "te.ts")}}, "t")
    with pytest.raises(TaskError, match=r"te.ts:4: label 'z' in the test part"):
        _ = TASKS["classify"].setup(cfg).labels


def test_the_example_configs_check_and_the_csv_example_trains(tmp_path):
    from rnnkit.tasks import load_config

    root = Path(__file__).resolve().parents[1] / "examples"
    for name in ("basic-motions", "japanese-vowels"):
        assert load_config(root / f"{name}.toml").task.dataset in UEA_SETS
    cfg = load_config(root / "classify-csv.toml")
    assert cfg.task.data == str(root / "data" / "gestures.csv")
    assert main(["train", str(root / "classify-csv.toml"), "--run-dir", str(tmp_path / "r"),
                 "--set", "train.epochs=1", "--set", "train.progress='off'"]) == 0
    assert "Test confusion matrix" in (tmp_path / "r" / "report.md").read_text()


def test_long_table_missing_marks_are_nan_and_a_word_says_how_to_mark_one(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("id,t,a,b,label\n1,0,NA,1,x\n1,1,2,N/A,x\n1,2,null,#N/A,x\n"
                    "2,0,?,,y\n")
    first, second = read_long_table(path)
    assert np.isnan(first.x).tolist() == [[True, False], [False, True], [True, True]]
    assert first.x[1, 0] == 2 and first.x[0, 1] == 1
    assert np.isnan(second.x).all()
    path.write_text("id,t,a,label\n1,0,missing,x\n")
    with pytest.raises(DataError, match=r"long.csv:2: column 'a': 'missing' is not a number "
                                        r"\(leave a missing value empty, or write \? or NA\)$"):
        read_long_table(path)
