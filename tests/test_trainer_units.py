"""The Trainer's bookkeeping, each piece against a value made by hand: the evaluation record,
the training clock, step records to callbacks, signals, the non-finite message, the carried
state through a checkpoint. (Clipping and truncated-BPTT gradients with SGD against hand
computations are in tests/test_oracle_training.py.)"""

import math
import os
import signal

import pytest
import torch
from _tiny import TinyTagger, tiny_data

from rnnkit.models.base import StepOutput
from rnnkit.training import Callback, NonFiniteLossError, TrainConfig, Trainer
from rnnkit.training import trainer as trainer_mod
from rnnkit.training.checkpoint import Checkpoint


def _trainer(steps=3, callbacks=(), **kw):
    cfg = TrainConfig(steps=steps, batch_size=4, eval_every=100, lr=1e-2, device="cpu", **kw)
    return Trainer(TinyTagger(), cfg, tiny_data(8, 6), tiny_data(4, 6, seed=1),
                   callbacks=list(callbacks))


def test_evaluate_reports_the_loss_fn_s_figures_with_step_epoch_and_split():
    def doubled(model, batch, state):  # a custom loss: twice the model's
        out = model.compute_loss(batch, state)
        return StepOutput(2 * out.loss, {"mse": 2 * out.metrics["mse"]}, out.count, out.state)

    t = _trainer()
    t.loss_fn = doubled
    t.state.step = 3
    record = t.evaluate(tiny_data(4, 6, seed=1))
    model = t.model.eval()
    with torch.no_grad():
        ref = float(model.compute_loss(tiny_data(4, 6, seed=1)).loss)
    assert record == pytest.approx({"step": 3, "epoch": t.epoch, "split": "val",
                                    "loss": 2 * ref, "mse": 2 * ref})


def test_the_clock_adds_each_step_s_time(monkeypatch):
    ticks = iter(range(0, 1000, 5))  # every perf_counter call advances 5 s
    monkeypatch.setattr(trainer_mod.time, "perf_counter", lambda: float(next(ticks)))
    t = _trainer(steps=3)
    t.fit()
    assert t.state.elapsed == pytest.approx(3 * 5.0)


def test_callbacks_get_each_step_s_record():
    seen = []

    class Spy(Callback):
        def on_step_end(self, trainer, record):
            seen.append((record["step"], record["split"], record["samples"]))

    _trainer(steps=2, callbacks=[Spy()]).fit()
    assert seen == [(1, "train", 4), (2, "train", 4)]


def test_sigint_ends_the_loop_after_the_step():
    class Interrupt(Callback):
        def on_step_end(self, trainer, record):
            if record["step"] == 2:
                os.kill(os.getpid(), signal.SIGINT)

    t = _trainer(steps=5, callbacks=[Interrupt()])
    before = signal.getsignal(signal.SIGINT)
    state = t.fit()
    assert state.step == 2 and state.stop_reason == "interrupted by SIGINT"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_a_non_finite_loss_names_what_and_the_step():
    t = _trainer(steps=3)
    with torch.no_grad():
        t.model.head.bias.fill_(math.inf)
    with pytest.raises(NonFiniteLossError, match=r"^non-finite loss = (inf|nan) at step 1; "
                       r"training stopped, the last good checkpoint is kept \(lower train.lr, "
                       r"set train.clip_norm, or train.on_nonfinite = \"skip\"\)$"):
        t.fit()
    t = _trainer(steps=1)  # a finite loss: the gradient norm is named
    with pytest.raises(NonFiniteLossError, match="non-finite gradient norm = inf at step 1"):
        t._nonfinite(1.0, math.inf)


def test_skipping_a_non_finite_step_clears_the_gradients():
    t = _trainer(steps=1, on_nonfinite="skip")
    for p in t.model.parameters():
        p.grad = torch.ones_like(p)
    t._nonfinite(math.nan, 1.0)
    assert t.state.skipped == 1 and all(p.grad is None for p in t.model.parameters())


def _nan_trainer(steps, nan_steps, **kw):
    """A trainer whose loss is NaN while the step it trains is in ``nan_steps``."""
    def loss_fn(model, batch, state):
        out = model.compute_loss(batch, state)
        if t.state.step + 1 in nan_steps:
            out = StepOutput(out.loss * math.nan, out.metrics, out.count, out.state)
        return out

    cfg = TrainConfig(steps=steps, batch_size=4, eval_every=100, lr=1e-2, device="cpu",
                      on_nonfinite="skip", **kw)
    t = Trainer(TinyTagger(), cfg, tiny_data(8, 6), tiny_data(4, 6, seed=1), loss_fn=loss_fn)
    return t


def test_skipping_ends_the_run_after_max_consecutive_skips_in_a_row():
    """Every step non-finite from step 3: the run stops at the limit's step saying what
    happened and what to do, instead of skipping the rest of its 1000 steps."""
    t = _nan_trainer(1000, range(3, 1001), max_consecutive_skips=5)
    with pytest.raises(NonFiniteLossError, match=(
            r"^non-finite loss = nan at step 7: 5 consecutive steps \(from step 3\) had a "
            r"non-finite loss or gradient \(train.on_nonfinite = \"skip\", "
            r"train.max_consecutive_skips = 5\); training stopped, the last good checkpoint "
            r"is kept \(lower train.lr, set train.clip_norm, or check the data for NaN or "
            r"infinite values\)$")):
        t.fit()
    assert (t.state.step, t.state.skipped) == (6, 4)


def test_the_default_limit_is_100_skips_in_a_row():
    t = _nan_trainer(1000, range(1, 1001))
    with pytest.raises(NonFiniteLossError, match="at step 100: 100 consecutive steps"):
        t.fit()


def test_the_skips_in_a_row_are_counted_across_a_resume(tmp_path):
    """Four steps skipped in a row (3-6) before a checkpoint, two more after the resume: the
    limit of 6 is reached at step 8, counted from step 3, as in one session."""
    from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint

    first = _nan_trainer(6, range(3, 7), max_consecutive_skips=6)
    assert first.fit().skipped_in_a_row == 4
    save_checkpoint(tmp_path / "last", first.model, {}, *first.training_state())
    resumed = _nan_trainer(20, range(1, 21), max_consecutive_skips=6)
    resumed.load_training_state(load_checkpoint(tmp_path / "last"))
    with pytest.raises(NonFiniteLossError, match=r"at step 8: 6 consecutive steps \(from step 3\)"):
        resumed.fit()


@pytest.mark.parametrize("limit, nan_steps, skipped", [(3, {1, 2, 4, 5}, 4),
                                                       (0, range(2, 121), 119)])
def test_a_good_step_starts_the_count_again_and_0_means_no_limit(limit, nan_steps, skipped):
    t = _nan_trainer(120 if limit == 0 else 6, nan_steps, max_consecutive_skips=limit)
    state = t.fit()
    assert (state.skipped, state.stop_reason) == (skipped, "done")


def test_the_carried_state_goes_through_a_checkpoint():
    t = _trainer()
    h, c = torch.randn(1, 4, 5), torch.randn(1, 4, 5)
    t.carry = (h, [c])
    tensors, state = t.training_state()
    assert state["carry"] == {"type": "tuple", "items": [0, {"type": "list", "items": [1]}]}
    u = _trainer()
    u.load_training_state(Checkpoint(None, {}, {}, tensors, state))
    assert isinstance(u.carry, tuple) and isinstance(u.carry[1], list)
    assert torch.equal(u.carry[0], h) and torch.equal(u.carry[1][0], c)
