"""Trainer.validate, each outcome against a hand-made expectation (issue 20: mutants of
rnnkit/training/trainer.py's validate that the other tests let through): what the callbacks
get with and without validation data, which metric values count as an improvement in each
mode, what the plateau schedule is shown, and the message for a metric that is not there."""

from __future__ import annotations

import pytest
import torch
from _tiny import TinyTagger, tiny_data

from rnnkit.training import Callback, TrainConfig, Trainer


class _Spy(Callback):
    def __init__(self):
        self.seen = []

    def on_eval_end(self, trainer, record, improved):
        self.seen.append((dict(record), improved))


def _trainer(val=True, **kw):
    spy = _Spy()
    cfg = TrainConfig(steps=2, batch_size=4, eval_every=100, lr=1e-2, device="cpu", **kw)
    t = Trainer(TinyTagger(), cfg, tiny_data(8, 6), tiny_data(4, 6, seed=1) if val else None,
                callbacks=[spy])
    return t, spy


def test_without_validation_data_the_callbacks_hear_of_no_improvement():
    t, spy = _trainer(val=False)
    t.state.step = 7
    t.validate()
    assert len(spy.seen) == 1
    record, improved = spy.seen[0]
    assert record == {"step": 7, "split": "val"} and improved is False
    assert t.state.best is None


def test_the_validation_record_is_the_val_split_s_loss():
    t, spy = _trainer()
    t.state.step = 4
    t.validate()
    model = t.model.eval()
    with torch.no_grad():
        ref = float(model.compute_loss(tiny_data(4, 6, seed=1)).loss)  # one batch holds all 4
    (record, improved), = spy.seen
    assert record["split"] == "val" and record["step"] == 4
    assert record["loss"] == pytest.approx(ref) and improved is True
    assert (t.state.best, t.state.best_step) == (pytest.approx(ref), 4)


def test_a_metric_that_is_not_measured_is_named_with_those_that_are():
    t, _ = _trainer(metric="accuracy")
    with pytest.raises(ValueError, match=r"^train.metric = 'accuracy' is not among the "
                                         r"validation metrics \['epoch', 'loss', 'mse'\]$"):
        t.validate()


@pytest.mark.parametrize("mode, values, improved, best, best_step", [
    ("min", [3.0, 2.0, 2.0, 4.0, 1.0], [True, True, False, False, True], 1.0, 5),
    ("max", [3.0, 4.0, 4.0, 2.0, 5.0], [True, True, False, False, True], 5.0, 5),
    ("min", [3.0, 3.0], [True, False], 3.0, 1),
    ("max", [3.0, 3.0], [True, False], 3.0, 1),
])
def test_improvement_follows_the_metric_mode(mode, values, improved, best, best_step):
    t, spy = _trainer(metric="mse", metric_mode=mode)
    for step, value in enumerate(values, 1):
        t.state.step = step
        t.evaluate = lambda data, split="val", v=value: {"step": t.state.step, "split": split,
                                                         "mse": v}
        t.validate()
    assert [imp for _, imp in spy.seen] == improved
    assert [rec["mse"] for rec, _ in spy.seen] == values
    assert (t.state.best, t.state.best_step) == (best, best_step)


@pytest.mark.parametrize("mode, values, best, bad", [
    ("min", [3.0, 4.0], 3.0, 1),  # 4 is worse when smaller is better
    ("max", [3.0, 2.0], 3.0, 1),
    ("min", [3.0, 2.0], 2.0, 0),
])
def test_the_plateau_schedule_sees_each_value_in_the_metric_s_mode(mode, values, best, bad):
    t, _ = _trainer(metric="mse", metric_mode=mode, schedule="plateau", plateau_patience=5)
    for value in values:
        t.evaluate = lambda data, split="val", v=value: {"step": 0, "split": split, "mse": v}
        t.validate()
    assert (t.schedule.best, t.schedule.bad) == (best, bad)
