"""The synthetic tasks (``rnnkit/tasks/adding.py``, ``copy.py``, ``sine.py``) in detail, with
no training run: their splits, model arguments, baselines and figures against closed
forms and sums by hand, and their predictors against stub models whose outputs are known
(found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.data.synthetic import adding_problem, copy_task, sine_windows
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.runner import config_from_raw


def _ctx(task, seed=0, batch_size=4, **options):
    cfg = config_from_raw({
        "name": "t", "seed": seed, "task": {"name": task, **options},
        "model": {"hidden_size": 4}, "train": {"steps": 1, "batch_size": batch_size,
                                               "progress": "off"},
        "diagnostics": {"every": 0}}, "test")
    return TASKS[task].setup(cfg)


class Stub(nn.Module):
    """A model with one parameter (the predictors read its device) and the given methods."""

    def __init__(self, **methods):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = []
        for name, fn in methods.items():
            setattr(self, name, fn)


def _predictor(task, model, **options):
    ctx = _ctx(task, **options)
    return TASKS[task].predictor(ctx, model, {"task": dict(vars(ctx.task_cfg))})


# -- splits: sizes, lengths and one seed per split ------------------------------------------
@pytest.mark.parametrize("task, options, make", [
    ("adding", {"sequence_length": 7},
     lambda n, o, s: adding_problem(n, o["sequence_length"], seed=s)),
    ("copy", {"num_symbols": 3, "copy_length": 2, "delay": 4},
     lambda n, o, s: copy_task(n, o["num_symbols"], o["copy_length"], o["delay"], seed=s)),
    ("sine", {"window": 6, "horizon": 2, "noise": 0.1},
     lambda n, o, s: sine_windows(n, o["window"], o["horizon"], o["noise"], seed=s))])
def test_each_split_has_its_size_and_the_split_s_own_seed(task, options, make):
    """Split i of a run with seed s is generated with seed 10 s + i: the three splits are
    different draws, and every run seed gives other data."""
    sizes = {"train_size": 9, "val_size": 5, "test_size": 6}
    for seed in (0, 2):
        splits = TASKS[task].batches(_ctx(task, seed=seed, **sizes, **options))
        assert list(splits) == ["train", "val", "test"]
        for i, (split, n) in enumerate(zip(("train", "val", "test"), sizes.values())):
            want = make(n, options, 10 * seed + i)
            assert set(splits[split]) == set(want)
            for key in want:
                torch.testing.assert_close(splits[split][key], want[key], rtol=0, atol=0)
        assert not torch.equal(splits["train"]["x"][:5], splits["val"]["x"])


def test_model_arguments_follow_the_task_s_sizes():
    assert TASKS["adding"].model_args(_ctx("adding")) == {"input_size": 2, "output_size": 1}
    ctx = _ctx("copy", num_symbols=5)
    assert TASKS["copy"].model_args(ctx) == {"num_tags": 6, "vocab_size": 7}
    model = TASKS["copy"].build_model(ctx)
    assert TASKS["copy"].info(ctx, model)["vocab"] == ["<blank>", "1", "2", "3", "4", "5",
                                                      "<go>"]
    assert TASKS["sine"].model_args(_ctx("sine", horizon=4)) == {
        "input_size": 1, "output_size": 1, "horizon": 4}
    for task, fixed in (("copy", {"num_tags", "vocab_size", "input_size"}),
                        ("sine", {"input_size", "output_size", "horizon"})):
        assert TASKS[task].fixed_model_args == fixed
        assert not fixed & TASKS[task].model_keys()


# -- baselines and figures ------------------------------------------------------------------
def test_the_adding_baseline_is_always_predicting_one():
    """Its MSE is mean (y - 1)^2, which is Var(U1 + U2) = 1/6 in expectation."""
    ctx = _ctx("adding", sequence_length=10, test_size=4000)
    y = TASKS["adding"].batches(ctx)["test"]["y"]
    got = TASKS["adding"].extra_metrics(ctx, None, "test")
    assert got == {"baseline_mse": pytest.approx(float(((y - 1) ** 2).mean()), rel=1e-6)}
    assert got["baseline_mse"] == pytest.approx(1 / 6, abs=0.01)


def test_the_sine_baseline_repeats_the_last_value():
    ctx = _ctx("sine", window=5, horizon=3, val_size=11)
    data = TASKS["sine"].batches(ctx)["val"]
    x, y = data["x"].numpy(), data["y"].numpy()  # (N, W, 1), (N, H, 1)
    want = np.mean([(y[i, h, 0] - x[i, -1, 0]) ** 2 for i in range(len(x)) for h in range(3)])
    got = TASKS["sine"].extra_metrics(ctx, None, "val")
    assert got == {"baseline_mse": pytest.approx(want, rel=1e-5)}


def _copy_model(right):
    """Tags from the inputs: the symbols (x's first k steps) in the last k steps of the rows
    ``right(row, step)`` says, else tag 0."""
    def forward(x):
        n, length = x.shape
        k = (length - forward.delay) // 2
        tags = torch.zeros(n, length, dtype=torch.long)
        for i in range(n):
            for j in range(k):
                tags[i, length - k + j] = x[i, j] if right(i, j) else 0
        return SimpleNamespace(logits=nn.functional.one_hot(tags, 5).float())
    return forward


@pytest.mark.parametrize("right, want", [
    (lambda i, j: True, 1.0), (lambda i, j: False, 0.0),
    (lambda i, j: j == 0, 1 / 3),  # the first of 3 symbols
    (lambda i, j: i == 0, 3 / 7)])  # each batch's first row: batches of 3, 3, 1 rows
def test_copy_accuracy_scores_the_reproduced_symbols_over_every_batch(right, want):
    ctx = _ctx("copy", num_symbols=3, copy_length=3, delay=2, val_size=7, batch_size=3)
    data = TASKS["copy"].batches(ctx)["val"]
    assert data["x"].shape == (7, 8)
    forward = _copy_model(right)
    forward.delay = 2
    model = Stub(forward=forward)
    assert TASKS["copy"].extra_metrics(ctx, model, "val") == {
        "copy_accuracy": pytest.approx(want)}
    assert not model.training


# -- predictors -----------------------------------------------------------------------------
def test_adding_predictions_are_the_model_s_on_each_sequence_at_its_own_length():
    seen = []

    def predict(x, lengths):  # the sum of each sequence's marked values
        seen.append((x.clone(), lengths.clone()))
        return (x[..., 0] * x[..., 1]).sum(1, keepdim=True)

    p = _predictor("adding", Stub(predict=predict))
    seqs = [[[0.5, 1], [0.2, 0], [0.25, 1]], [[0.75, 1], [0.1, 1]]]
    assert p.predict(seqs) == [{"prediction": 0.75}, {"prediction": 0.85000002384185791}]
    x, lengths = seen[0]
    assert lengths.tolist() == [3, 2] and x.shape == (2, 3, 2) and x[1, 2].tolist() == [0, 0]
    with pytest.raises(TaskError, match=r"adding inputs \(\[value, marker\] per step\)"):
        p.predict([[[0.5, 1, 3]]])


def test_copy_predictor_builds_the_task_s_input_rows():
    seen = []

    def decode(x):
        seen.append(x.clone())
        return (x + 10).tolist()

    p = _predictor("copy", Stub(decode=decode), num_symbols=4, copy_length=3, delay=2)
    out = p.predict([[1, 2, 3], [[4], [4], [1]], np.array([[2, 2, 2], [3, 1, 4]])])
    assert [r["input"] for r in out] == [[1, 2, 3], [4, 4, 1], [2, 2, 2], [3, 1, 4]]
    x = seen[0]
    assert x.dtype == torch.long and x.shape == (4, 8)
    assert x[1].tolist() == [4, 4, 1, 0, 5, 0, 0, 0]  # symbols, blank, go (4 + 1), blanks
    assert out[1]["prediction"] == [10, 10, 10]  # decode's last copy_length steps
    assert p.predict(np.array([1, 2, 3]))[0]["input"] == [1, 2, 3]
    for bad in ([[1, 2]], [[1, 2, 3, 4]], [[0, 1, 2]], [[1, 2, 5]], [[1.5, 2, 3]], [["a"]],
                [[1, 2, 3], [1, 2]]):
        with pytest.raises(TaskError, match="copy"):
            p.predict(bad)


def test_sine_predictor_forecasts_and_rolls_its_window():
    horizon = 3

    def predict(x, lengths=None):  # the next values: the window's last one + 1, + 2, ...
        predict.windows.append(x[:, :, 0].clone())
        ends = torch.full((len(x),), x.shape[1]) if lengths is None else lengths
        last = x[torch.arange(len(x)), ends - 1, :]  # (N, 1)
        return SimpleNamespace(point=last + torch.arange(1, horizon + 1))
    predict.windows = []
    p = _predictor("sine", Stub(predict=predict), window=4, horizon=horizon)
    out = p.predict([[0.0, 1.0, 2.0, 3.0], [[5.0], [6.0]]])
    assert out == [{"forecast": [4.0, 5.0, 6.0]}, {"forecast": [7.0, 8.0, 9.0]}]
    predict.windows.clear()
    g = p.generate(prompt="8", max_new=7)
    seed = [math.sin(2 * math.pi * t / 8) for t in range(4)]
    assert g["seed"] == pytest.approx(seed, abs=1e-6)
    last = seed[-1]
    assert g["generated"] == pytest.approx([last + 1, last + 2, last + 3, last + 4, last + 5,
                                            last + 6, last + 7], abs=1e-5)
    assert len(predict.windows) == 3  # 3 + 3 + 3 values made, 7 kept
    assert predict.windows[1][0].tolist() == pytest.approx([seed[3], last + 1, last + 2,
                                                            last + 3], abs=1e-6)
    assert p.generate(max_new=2)["seed"] == pytest.approx(
        [math.sin(2 * math.pi * t / 20) for t in range(4)], abs=1e-6)  # period 20
    predict.windows.clear()
    assert len(p.generate(prompt="1", max_new=6)["generated"]) == 6  # any period > 0
    assert len(predict.windows) == 2  # 6 values: two forecasts of 3, no third
    assert len(p.generate(prompt="0.5")["generated"]) == 100  # the default
    for bad in ("abc", "0", "-4", "nan", "inf"):
        with pytest.raises(TaskError, match="period"):
            p.generate(prompt=bad)
    with pytest.raises(TaskError, match=r"^sine windows: input 1 must have shape \(T, 1\)"):
        p.predict([[1.0], np.zeros((2, 2, 1))])


@pytest.mark.parametrize("task", ["adding", "copy", "sine"])
def test_the_predictor_holds_the_run_s_task_context_model_info_and_folder(task, tmp_path):
    ctx = _ctx(task)
    model = TASKS[task].build_model(ctx)
    model.train()
    info = TASKS[task].info(ctx, model)
    p = TASKS[task].predictor(ctx, model, info, run_dir=tmp_path)
    assert (p.task, p.context, p.model, p.info, p.run_dir) == (task, ctx, model, info, tmp_path)
    assert p.config is ctx.cfg and not model.training
    assert TASKS[task].predictor(ctx, model, info).run_dir is None
