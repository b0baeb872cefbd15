"""Task ``classify`` (rnnkit/tasks/classify.py) unit by unit: label order, the scaler and the
encoding against NumPy, the context's splits, classes and messages, the config checks, the
model's arguments, rmse/mae and the confusion matrix of a model whose outputs are known by
hand, and the predictor's records and input checks (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import linecache
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import rnnkit.tasks.classify as cmod
from rnnkit.data.datasets import DataError
from rnnkit.data.sequences import UEA_SETS, Sequence
from rnnkit.models import ClassifierEnsemble, SequenceClassifier, SequenceRegressor
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.classify import ClassifyPredictor, encode, fit_scaler, sort_labels, targets
from rnnkit.tasks.runner import config_from_raw
from rnnkit.training import ConfigError

TASK = TASKS["classify"]
NAN = np.nan

# three files by hand: two features, NaNs in train and val, none in test
TRAIN = [np.array([[1.0, 10.0], [2.0, NAN], [3.0, 30.0]]), np.array([[5.0, 20.0]]),
         np.array([[0.0, 0.0], [4.0, 40.0]]), np.array([[6.0, 50.0]])]
TRAIN_Y = ["b", "a", "b", "a"]
VAL = [np.array([[NAN, 5.0], [1.0, 5.0]]), np.array([[2.0, 2.0]])]
VAL_Y = ["a", "b"]
TEST = [np.array([[9.0, 1.0]]), np.array([[-3.0, 0.0], [0.0, 0.0]]), np.array([[3.5, 7.0]])]
TEST_Y = ["a", "a", "b"]
# by hand: feature 0 over 1,2,3,5,0,4,6 and feature 1 over 10,30,20,0,40,50
MEAN = np.array([3.0, 25.0])
STD = np.array([np.sqrt(28 / 7), np.sqrt(1750 / 6)])


def _npz(path, xs, ys=None):
    X = np.zeros((len(xs), max(len(x) for x in xs), xs[0].shape[1]))
    for i, x in enumerate(xs):
        X[i, :len(x)] = x
    arrays = {"X": X, "lengths": np.array([len(x) for x in xs])}
    if ys is not None:
        arrays["y"] = np.array(ys)
    np.savez(path, **arrays)
    return str(path)


def _raw(task, model=None, train=None):
    return {"name": "c", "seed": 3, "task": {"name": "classify", **task},
            "model": {"cell": "gru", "hidden_size": 4, **(model or {})},
            "train": {"steps": 2, "batch_size": 2, "threads": 1, "progress": "off",
                      **(train or {})},
            "diagnostics": {"every": 0}}


def _files(tmp_path, train=TRAIN, train_y=TRAIN_Y, val=VAL, val_y=VAL_Y, test=TEST,
           test_y=TEST_Y):
    return {"train_data": _npz(tmp_path / "train.npz", train, train_y),
            "val_data": _npz(tmp_path / "val.npz", val, val_y),
            "test_data": _npz(tmp_path / "test.npz", test, test_y)}


def _ctx(tmp_path, files=None, **task):
    files = _files(tmp_path) if files is None else files
    return TASK.setup(config_from_raw(_raw({**files, **task}), "t"))


def _scaled(x, mean=MEAN, std=STD):
    z = (x - mean) / std
    return np.where(np.isnan(z), 0.0, z)


class Stub(torch.nn.Module):
    """Logits known by hand: class 0's is the sum of the scaled first feature over the
    valid steps, the others' 0 (one output: that sum); weights[j, t] = 100 * length + t."""

    def __init__(self, outputs=2, weights=True):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))
        self.outputs, self.with_weights = outputs, weights
        self.calls = []

    def forward(self, x, lengths):
        self.calls.append(len(x))
        s = torch.stack([x[j, :int(n), 0].sum() for j, n in enumerate(lengths)])
        logits = torch.stack([s] + [torch.zeros_like(s)] * (self.outputs - 1), -1)
        w = (100 * lengths[:, None] + torch.arange(x.shape[1])).float()
        return SimpleNamespace(logits=logits, weights=w if self.with_weights else None)


# -- units ----------------------------------------------------------------------------------
def test_labels_sort_as_numbers_when_every_one_is_one_else_as_strings():
    assert sort_labels({"10", "9", "2", "-1.5"}) == ["-1.5", "2", "9", "10"]
    assert sort_labels({"10", "9", "b", "A"}) == ["10", "9", "A", "b"]


def test_fit_scaler_equals_numpy_and_guards_empty_and_constant_features():
    a = np.array([[1.0, 2.0, NAN, 7.0, 0.0], [3.0, NAN, NAN, 7.0, 1e-6]])
    b = np.array([[5.0, 6.0, NAN, 7.0, 0.0]])
    mean, std = fit_scaler([a, b])
    np.testing.assert_allclose(mean, [3.0, 4.0, 0.0, 7.0, 1e-6 / 3], rtol=1e-12)
    small = np.std([0.0, 1e-6, 0.0])
    np.testing.assert_allclose(std, [np.std([1, 3, 5]), 2.0, 1.0, 1.0, small], rtol=1e-12)
    # the guard is "below 1e-12": a std of exactly 1e-12 is kept; no warning escapes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, std = fit_scaler([np.array([[0.0, NAN], [2e-12, NAN]])])
    assert mean.tolist() == [1e-12, 0.0] and std.tolist() == [1e-12, 1.0]


def test_encode_scales_pads_and_counts_the_missing_values():
    mean, std = np.array([1.0, 2.0]), np.array([2.0, 4.0])
    xs = [np.array([[3.0, NAN]]), np.array([[1.0, 6.0], [NAN, NAN], [5.0, 2.0]])]
    x, lengths, missing = encode(xs, mean, std)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 2)
    assert lengths.tolist() == [1, 3] and missing == 3
    want = np.array([[[1.0, 0.0], [0, 0], [0, 0]], [[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]]])
    np.testing.assert_array_equal(x.numpy(), want)


def test_targets_are_class_indices_or_scaled_values():
    items = [Sequence(np.zeros((1, 1)), label, "f") for label in ("b", "a", "b")]
    assert targets(items, ["a", "b"], {}).tolist() == [1, 0, 1]
    items = [Sequence(np.zeros((1, 1)), label, "f") for label in ("3", "7")]
    y = targets(items, [], {"target_mean": 5.0, "target_std": 2.0})
    assert y.dtype == torch.float32 and y.tolist() == [-1.0, 1.0]


# -- the context ----------------------------------------------------------------------------
def test_the_context_reads_each_part_and_scales_by_the_training_part(tmp_path):
    ctx = _ctx(tmp_path)
    assert [len(ctx.sequences[k]) for k in ("train", "val", "test")] == [4, 2, 3]
    assert ctx.labels == ["a", "b"]
    np.testing.assert_allclose(ctx.scaler["mean"], MEAN, rtol=1e-12)
    np.testing.assert_allclose(ctx.scaler["std"], STD, rtol=1e-12)
    assert set(ctx.scaler) == {"mean", "std"} and isinstance(ctx.scaler["mean"], list)
    assert ctx.features is None
    with pytest.warns(UserWarning) as caught:
        splits = TASK.make_splits(ctx)
    assert [str(w.message) for w in caught] == [
        "2 missing value(s) ('?' or NaN) filled with the training part's mean of their feature"]
    # stacklevel 2: the caller's line; under mutmut, whose trampoline (two frames) stands
    # between the method and this test, the inner frame's, which calls the method itself
    where, method = caught[0], type(TASK).make_splits
    if method.__code__.co_filename.endswith("trampoline.py"):
        assert where.filename == method.__code__.co_filename
        assert "func(*call_args" in linecache.getline(where.filename, where.lineno)
    else:
        assert where.filename == __file__
    for split, xs, ys in (("train", TRAIN, TRAIN_Y), ("val", VAL, VAL_Y),
                          ("test", TEST, TEST_Y)):
        part = splits[split]
        assert part["lengths"].tolist() == [len(x) for x in xs]
        assert part["y"].tolist() == [["a", "b"].index(y) for y in ys]
        for i, x in enumerate(xs):
            np.testing.assert_allclose(part["x"][i, :len(x)].numpy(), _scaled(x), rtol=1e-6)
            assert not part["x"][i, len(x):].any()


def test_no_missing_values_no_warning_and_scaling_none(tmp_path, recwarn):
    files = _files(tmp_path, train=[np.ones((2, 2)), np.zeros((1, 2))], train_y=["a", "b"],
                   val=[np.full((1, 2), 4.0)], val_y=["b"])
    ctx = _ctx(tmp_path, files, scaling="none")
    assert ctx.scaler == {"mean": [0.0, 0.0], "std": [1.0, 1.0]}
    splits = TASK.make_splits(ctx)
    assert not [w for w in recwarn if "missing value(s)" in str(w.message)]
    np.testing.assert_array_equal(splits["val"]["x"].numpy(), [[[4.0, 4.0]]])


def test_regression_targets_are_standardised_by_the_training_part(tmp_path):
    files = _files(tmp_path, train_y=[1.0, 2.0, 4.0, 9.0], val_y=[0.0, 100.0],
                   test_y=[3.0, 4.0, 5.0])
    ctx = _ctx(tmp_path, files, target="value")
    assert ctx.labels == []
    y = np.array([1.0, 2.0, 4.0, 9.0])
    assert ctx.scaler["target_mean"] == 4.0
    assert ctx.scaler["target_std"] == pytest.approx(np.sqrt((9 + 4 + 0 + 25) / 4), rel=1e-12)
    got = TASK.make_splits(ctx)["val"]["y"].numpy()
    np.testing.assert_allclose(got, (np.array([0.0, 100.0]) - y.mean()) / y.std(), rtol=1e-6)
    assert TASK.model_args(ctx) == {"output_size": 1, "input_size": 2}
    model = TASK.build_model(ctx)
    assert type(model) is SequenceRegressor and model.get_config()["hidden_size"] == 4


def test_constant_regression_targets_get_std_1(tmp_path):
    files = _files(tmp_path, train_y=[5.0] * 4, val_y=[5.0, 6.0], test_y=[1.0, 2.0, 3.0])
    ctx = _ctx(tmp_path, files, target="value")
    assert ctx.scaler["target_mean"] == 5.0 and ctx.scaler["target_std"] == 1.0


def test_a_regression_target_that_is_not_finite_is_named(tmp_path):
    files = _files(tmp_path, train_y=[1.0, 2.0, np.inf, 3.0])
    with pytest.raises(TaskError, match=re.escape(
            f"{files['train_data']}: X[2]: target 'inf' is not a finite number "
            '(task.target = "value")')):
        _ = _ctx(tmp_path, files, target="value").sequences
    files = _files(tmp_path, train_y=["1", "2", "x", "3"])
    with pytest.raises(TaskError, match=re.escape(f"{files['train_data']}: X[2]: target 'x'")):
        _ = _ctx(tmp_path, files, target="value").sequences
    # labels that are not numbers are fine for classes
    assert _ctx(tmp_path, files).sequences["train"][2].label == "x"


def test_sequences_without_labels_are_named(tmp_path):
    files = _files(tmp_path)
    _npz(tmp_path / "test.npz", TEST)
    with pytest.raises(TaskError, match=re.escape(
            f"{files['test_data']}: X[0]: no label ({files['test_data']} holds none); "
            "training needs one per sequence")):
        _ = _ctx(tmp_path, files).sequences


@pytest.mark.parametrize("split", ["val", "test"])
def test_a_part_with_another_number_of_features_is_named(tmp_path, split):
    files = _files(tmp_path)
    _npz(tmp_path / f"{split}.npz", [np.zeros((2, 3))] * 2, ["a", "b"])
    with pytest.raises(TaskError, match=re.escape(
            f"{files[split + '_data']}: X[0]: 3 features, the training part's first "
            "sequence has 2")):
        _ = _ctx(tmp_path, files).sequences


def test_a_training_part_of_one_class_and_unknown_labels_are_errors(tmp_path):
    files = _files(tmp_path, train_y=["a"] * 4)
    with pytest.raises(TaskError, match=re.escape(
            "the training part has 1 class(es) (['a']); a classifier needs at least 2")):
        _ = _ctx(tmp_path, files).labels
    files = _files(tmp_path, val_y=["a", "c"])
    with pytest.raises(TaskError, match=re.escape(
            f"{files['val_data']}: X[1]: label 'c' in the val part is not one of the training "
            "part's classes")):
        _ = _ctx(tmp_path, files).labels


def test_features_are_a_tables_columns(tmp_path):
    rows = ["id,t,f1,f2,extra,label"]
    for i, label in enumerate("abab"):
        rows += [f"s{i},{t},{i + t},{2 * t},{-t},{label}" for t in range(3)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    files = {"train_data": str(tmp_path / "d.csv"), "test_data": str(tmp_path / "d.csv"),
             "val_data": str(tmp_path / "d.csv")}
    ctx = _ctx(tmp_path, files)
    assert ctx.features == ["f1", "f2", "extra"]
    ctx = _ctx(tmp_path, files, value_columns=["extra", "f1"])
    assert ctx.features == ["extra", "f1"]
    np.testing.assert_array_equal(ctx.sequences["train"][1].x, [[0, 1], [-1, 2], [-2, 3]])
    info = TASK.info(ctx, SequenceClassifier(num_classes=2, input_size=2, hidden_size=4))
    assert info["labels"] == ["a", "b"] and info["features"] == ["extra", "f1"]
    assert info["scaler"] == ctx.scaler and info["task"]["name"] == "classify"


def test_a_named_set_reads_its_train_and_test_files(tmp_path, monkeypatch):
    files = _files(tmp_path)
    asked = []

    def fake(name):
        asked.append(name)
        return {"train": files["train_data"], "test": files["test_data"]}

    monkeypatch.setattr(cmod, "uea_files", fake)
    ctx = TASK.setup(config_from_raw(_raw({"dataset": "BasicMotions", "val_fraction": 0.25}),
                                     "t"))
    seqs = ctx.sequences
    assert asked == ["BasicMotions"]
    assert len(seqs["train"]) == 3 and len(seqs["val"]) == 1 and len(seqs["test"]) == 3
    np.testing.assert_array_equal(seqs["test"][0].x, TEST[0])

    def missing(name):
        raise DataError("BasicMotions needs aeon")

    monkeypatch.setattr(cmod, "uea_files", missing)
    ctx = TASK.setup(config_from_raw(_raw({"dataset": "BasicMotions"}), "t"))
    with pytest.raises(TaskError, match="^BasicMotions needs aeon$"):
        _ = ctx.sequences


# -- config checks --------------------------------------------------------------------------
def _errors(task):
    with pytest.raises(ConfigError) as caught:
        config_from_raw(_raw(task), "t")
    return str(caught.value).split("\n  ")[1:]


def test_config_checks_say_exactly_what_is_wrong(tmp_path):
    data = _npz(tmp_path / "d.npz", TRAIN * 3, TRAIN_Y * 3)
    assert _errors({"dataset": "BasicMotions", "data": data}) == [
        "task.dataset = 'BasicMotions' and task.data/train_data both name the data: set one"]
    assert _errors({"dataset": "BasicMotions", "train_data": data, "test_data": data}) == [
        "task.dataset = 'BasicMotions' and task.data/train_data both name the data: set one"]
    assert _errors({}) == [
        "classify needs data: task.data (one file), task.train_data and task.test_data, or "
        f"task.dataset (one of {sorted(UEA_SETS)})"]
    assert _errors({"data": data, "target": "value", "ensemble": 2}) == [
        'task.ensemble = 2: ensembles average class probabilities; use task.target = "class", '
        "or task.ensemble = 1"]
    assert _errors({"dataset": "BasicMotions", "target": "value"}) == [
        "task.dataset = 'BasicMotions' is a classification set; task.target = \"value\" needs "
        "your own data"]
    for bad in ("a", ["a", ""], ["a", 1]):
        assert _errors({"data": data, "value_columns": bad}) == [
            f"task.value_columns = {bad!r}: expected a list of column names, e.g. "
            '["ax", "ay", "az"]']
    for good in ({"data": data, "target": "value", "ensemble": 1},
                 {"data": data, "value_columns": ["a", "b"]}, {"dataset": "BasicMotions"},
                 {"data": data, "ensemble": 2}):
        assert TASK.check(config_from_raw(_raw(good), "t")) == []


# -- model, evaluation, report --------------------------------------------------------------
def test_model_args_and_models(tmp_path):
    ctx = _ctx(tmp_path)
    assert TASK.model_args(ctx) == {"num_classes": 2, "input_size": 2}
    model = TASK.build_model(ctx)
    assert type(model) is SequenceClassifier
    assert model.get_config()["num_classes"] == 2 and model.get_config()["hidden_size"] == 4
    assert len(TASK.build_model(_ctx(tmp_path, ensemble=2)).members) == 2
    ctx = _ctx(tmp_path, ensemble=3)
    ensemble = TASK.build_model(ctx)
    assert isinstance(ensemble, ClassifierEnsemble) and len(ensemble.members) == 3
    assert ensemble.seed == 3
    again = ClassifierEnsemble(members=3, seed=3, num_classes=2, input_size=2, hidden_size=4,
                               cell="gru")
    for a, b in zip(ensemble.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_rmse_and_mae_are_in_the_targets_units(tmp_path):
    ys = [3.0, 4.0, 5.0]
    files = _files(tmp_path, train_y=[1.0, 2.0, 4.0, 9.0], val_y=[0.0, 1.0], test_y=ys)
    ctx = _ctx(tmp_path, files, target="value")
    t_mean, t_std = 4.0, np.sqrt(38 / 4)
    # the stub predicts the sum of the scaled first feature, in scaled units
    pred = np.array([_scaled(x)[:, 0].sum() for x in TEST]) * t_std + t_mean
    err = pred - np.array(ys)
    model = Stub(outputs=1)
    got = TASK.extra_metrics(ctx, model, "test")
    assert got == pytest.approx({"rmse": np.sqrt(np.mean(err ** 2)),
                                 "mae": np.mean(np.abs(err))}, rel=1e-5)
    assert model.calls == [2, 1]  # train.batch_size = 2
    assert TASK.extra_metrics(_ctx(tmp_path), Stub(), "test") == {}


def test_the_confusion_matrix_counts_true_rows_and_predicted_columns(tmp_path):
    ctx = _ctx(tmp_path)
    # the stub says "a" (class 0) when the scaled first feature sums above 0:
    # test sums: (9-3)/2 > 0 -> a; (-3-3)/2 + (0-3)/2 < 0 -> b; (3.5-3)/2 > 0 -> a
    # truth a, a, b: a->a, a->b, b->a
    assert TASK.report_sections(ctx, Stub()) == [
        "## Test confusion matrix (1 of 3 correct; rows: true class, columns: predicted)", "",
        "| | a | b |", "|---|---|---|", "| **a** | 1 | 1 |", "| **b** | 1 | . |"]
    assert TASK.report_sections(_ctx(tmp_path, _files(
        tmp_path, train_y=[1.0, 2.0, 3.0, 4.0], val_y=[1.0, 2.0], test_y=[1.0, 2.0, 3.0]),
        target="value"), Stub(outputs=1)) == []


def test_the_confusion_matrix_stops_at_30_classes(tmp_path):
    def files(n):
        xs = [np.full((1, 1), float(i)) for i in range(n)]
        names = [f"c{i:02d}" for i in range(n)]
        return _files(tmp_path, train=xs, train_y=names, val=xs[:1], val_y=names[:1],
                      test=xs[:2], test_y=names[:2])

    lines = TASK.report_sections(_ctx(tmp_path, files(30)), Stub(outputs=30))
    assert lines[0].startswith("## Test confusion matrix (1 of 2 correct")
    assert len(lines) == 4 + 30
    assert TASK.report_sections(_ctx(tmp_path, files(31)), Stub(outputs=31)) == []


# -- the predictor --------------------------------------------------------------------------
INFO = {"scaler": {"mean": MEAN.tolist(), "std": STD.tolist()}, "labels": ["a", "b"],
        "features": None}


def _predictor(tmp_path, info=INFO, model=None, **task):
    return ClassifyPredictor(TASK, _ctx(tmp_path, **task), model or Stub(), info)


def _p0(x):
    s = _scaled(x)[:, 0].sum()
    return 1 / (1 + np.exp(-s))


def test_records_hold_the_label_and_every_class_probability(tmp_path):
    p = _predictor(tmp_path)
    xs = [TEST[0], TEST[1], VAL[0]]
    records = p.predict(xs)
    for r, x in zip(records, xs):
        p0 = _p0(x)
        label = "a" if p0 > 0.5 else "b"
        assert r["label"] == label
        assert r["probability"] == round(max(p0, 1 - p0), 6)
        assert r["probabilities"] == {"a": round(p0, 6), "b": round(1 - p0, 6)}
        assert "source" not in r and "weights" not in r
    assert "warning" not in records[0]
    assert records[2]["warning"] == "1 missing value(s) filled with the training mean of their " \
                                    "feature"


def test_more_than_256_inputs_run_in_batches_in_input_order(tmp_path):
    model = Stub()
    p = _predictor(tmp_path, model=model)
    rng = np.random.default_rng(0)
    xs = [rng.normal(3, 2, (int(rng.integers(1, 6)), 2)) for _ in range(300)]
    records = p.predict(xs, explain=True)
    assert model.calls == [256, 44] and len(records) == 300
    for r, x in zip(records, xs):
        assert r["probabilities"]["a"] == pytest.approx(round(_p0(x), 6), abs=2e-6)
        assert r["weights"] == [100.0 * len(x) + t for t in range(len(x))]


def test_explain_without_attention_gives_no_weights(tmp_path):
    p = _predictor(tmp_path, model=Stub(weights=False))
    assert p.predict([TEST[0]], explain=True)[0]["weights"] is None


def test_a_regression_record_is_in_the_targets_units(tmp_path):
    info = {"scaler": {**INFO["scaler"], "target_mean": 10.0, "target_std": 4.0},
            "labels": [], "features": None}
    p = _predictor(tmp_path, info=info, model=Stub(outputs=1))
    s = _scaled(TEST[1])[:, 0].sum()
    assert p.predict([TEST[1]]) == [{"value": pytest.approx(s * 4.0 + 10.0, rel=1e-6)}]


def test_inputs_are_lists_of_sequences_or_batches(tmp_path):
    p = _predictor(tmp_path)
    x = np.stack([TEST[0], TEST[2]])  # (2, 1, 2)
    want = p.predict([TEST[0], TEST[2]])
    assert p.predict(x) == want and p.predict(torch.from_numpy(x)) == want
    assert p.predict((TEST[0], TEST[2])) == want
    assert p.predict([TEST[0].tolist(), TEST[2].tolist()]) == want
    for bad in (Sequence(TEST[0], None, "f"), TEST[0], [], "ab", None):
        with pytest.raises(TaskError, match="^" + re.escape(
                "classify: give a non-empty list of sequences, each (T, F)") + "$"):
            p.predict(bad)


def test_bad_inputs_are_named(tmp_path):
    p = _predictor(tmp_path)
    with pytest.raises(TaskError, match=r"^input 1: not a sequence of numbers \(could not"):
        p.predict([TEST[0], [["x", "y"]]])
    with pytest.raises(TaskError, match=r"^input 0: not a sequence of numbers \(.+\)$"):
        p.predict([[[object(), 1.0]]])
    for x in (np.zeros(3), np.zeros((0, 2)), np.zeros((2, 3)), np.zeros((1, 1, 2))):
        with pytest.raises(TaskError, match=re.escape(
                "input 0: expected shape (T, 2) with T >= 1 (the model reads 2 feature(s)), "
                f"got {x.shape}")):
            p.predict([x])
    with pytest.raises(TaskError, match=r"^input 1: holds infinite values$"):
        p.predict([TEST[0], np.array([[1.0, -np.inf]])])
    seq = Sequence(np.array([[1.0, np.inf]]), None, "f.npz: X[4]")
    with pytest.raises(TaskError, match=r"^f.npz: X\[4\]: holds infinite values$"):
        p.predict([seq])
    with pytest.raises(TaskError, match=re.escape(  # (read from a file: what to give it)
            "f.npz: X[4]: 3 feature(s) a step, but the run was trained on 2: give it sequences "
            "of those features, in that order")):
        p.predict([Sequence(np.zeros((1, 3)), None, "f.npz: X[4]")])
    with pytest.raises(TaskError, match=re.escape("f.npz: X[4]: expected shape (T, 2)")):
        p.predict([Sequence(np.zeros((0, 2)), None, "f.npz: X[4]")])


def test_one_feature_sequences_may_be_flat(tmp_path):
    info = {"scaler": {"mean": [3.0], "std": [2.0]}, "labels": ["a", "b"], "features": None}
    p = _predictor(tmp_path, info=info)
    r = p.predict([[1.0, 2.0, 9.0]])[0]
    p0 = 1 / (1 + np.exp(-(-1.0 - 0.5 + 3.0)))
    assert r["probabilities"]["a"] == round(p0, 6)


def test_sequences_read_from_files_carry_their_source(tmp_path):
    p = _predictor(tmp_path)
    items = p.read_file(tmp_path / "test.npz")
    records = p.predict(items)
    assert [r["source"] for r in records] == [f"{tmp_path / 'test.npz'}: X[{i}]"
                                              for i in range(3)]
    assert [r["label"] for r in records] == [r["label"] for r in p.predict(TEST)]


def test_read_file_takes_arrays_and_the_training_formats(tmp_path):
    p = _predictor(tmp_path)
    np.save(tmp_path / "x.npy", np.stack([TEST[0], TEST[2]]))
    got = p.read_file(tmp_path / "x.npy")
    assert len(got) == 2 and isinstance(got[0], np.ndarray)
    np.testing.assert_array_equal(got[1], TEST[2])
    (tmp_path / "x.json").write_text("[[1, 2], [3, 4]]")
    np.testing.assert_array_equal(p.read_file(tmp_path / "x.json")[0], [[1, 2], [3, 4]])
    rows = ["id,t,f1,f2,extra,label"] + [f"s,{t},{t},{2 * t},{-t},a" for t in range(3)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    (x,) = p.read_file(tmp_path / "d.csv")  # neither value_columns nor features: the rest
    assert x.x.shape == (3, 3)
    p = _predictor(tmp_path, info={**INFO, "features": ["f2", "extra"]})
    (x,) = p.read_file(tmp_path / "d.csv")
    np.testing.assert_array_equal(x.x, [[0, 0], [2, -1], [4, -2]])
    p = _predictor(tmp_path, info={**INFO, "features": ["f2", "extra"]},
                   value_columns=["extra", "f1"])
    (x,) = p.read_file(tmp_path / "d.csv")
    np.testing.assert_array_equal(x.x, [[0, 0], [-1, 1], [-2, 2]])
    (tmp_path / "bad.csv").write_text("id,t,f1,label\n")
    with pytest.raises(TaskError, match=re.escape(f"{tmp_path / 'bad.csv'}: no column 'extra'")):
        p.read_file(tmp_path / "bad.csv")


def test_the_task_makes_its_predictor(tmp_path):
    ctx, model = _ctx(tmp_path), Stub()
    p = TASK.predictor(ctx, model, INFO, tmp_path)
    assert isinstance(p, ClassifyPredictor) and p.task == "classify"
    assert p.context is ctx and p.model is model and p.info is INFO and p.run_dir == tmp_path
