import math

import pytest
import torch
from _tiny import TinyTagger, tiny_data

from rnnkit.training import (
    Callback,
    CheckpointError,
    NonFiniteLossError,
    Schedule,
    TrainConfig,
    Trainer,
    build_model,
    build_optimizer,
    clip_gradients,
    default_callbacks,
    evaluate_model,
    load_checkpoint,
    run_batch,
    save_checkpoint,
)
from rnnkit.training.tbptt import chunks, reset_state


def _grads(model, batch, tbptt):
    model.zero_grad()
    params = list(model.parameters())
    run_batch(model.compute_loss, batch, model.time_keys, tbptt,
              backward=lambda loss, last: loss.backward(), parameters=params)
    return [p.grad.clone() for p in params]


@pytest.mark.parametrize("k", [12, 20])
def test_tbptt_at_least_length_equals_full_bptt(k):
    model, batch = TinyTagger(), tiny_data(8, 12)
    for full, chunked in zip(_grads(model, batch, 0), _grads(model, batch, k)):
        assert torch.equal(full, chunked)


def test_tbptt_carries_the_state_of_a_full_forward():
    model, batch = TinyTagger(), tiny_data(4, 12)
    _, _, count, state = run_batch(model.compute_loss, batch, model.time_keys, 5)
    _, h_full = model.rnn(batch["x"])
    assert count == 4 * 12
    torch.testing.assert_close(state, h_full, rtol=0, atol=1e-6)
    assert not state.requires_grad  # detached between chunks


def test_tbptt_stops_gradients_at_chunk_boundaries():
    model, batch = TinyTagger(), tiny_data(4, 12)
    batch["w"] = torch.zeros(4, 12)
    batch["w"][:, -1] = 1.0  # only the last step counts
    for tbptt, leaks in ((0, True), (4, False)):
        x = batch["x"].clone().requires_grad_(True)
        run_batch(model.compute_loss, {**batch, "x": x}, model.time_keys, tbptt,
                  backward=lambda loss, last: loss.backward())
        early = x.grad[:, :8].abs().sum()  # steps before the last chunk
        assert (early > 0) == leaks
        assert x.grad[:, 8:].abs().sum() > 0


def test_chunks_cut_lengths_and_reset_ended_sequences():
    batch = {"x": torch.zeros(2, 7, 1), "lengths": torch.tensor([3, 7])}
    parts = list(chunks(batch, ("x",), 3))
    assert [p["lengths"].tolist() for p, _ in parts] == [[3, 3], [0, 3], [0, 1]]
    assert parts[0][1].tolist() == [False, True]
    state = reset_state((torch.ones(1, 2, 3), torch.ones(1, 2, 3)), parts[0][1])
    assert state[0][0, 0].abs().sum() == 0 and state[1][0, 1].sum() == 3


def test_tbptt_with_lengths_matches_the_whole_sequence_forward():
    """Chunks get their share of the lengths; ended sequences are masked out of the loss."""
    from rnnkit.models import MODELS

    model = MODELS["SequenceTagger"](num_tags=3, input_size=2, hidden_size=4)
    batch = {"x": torch.randn(3, 7, 2), "y": torch.randint(0, 3, (3, 7)),
             "lengths": torch.tensor([2, 7, 5])}
    loss, _, count, (h, c) = run_batch(model.compute_loss, batch, model.time_keys, 3)
    assert count == 14
    torch.testing.assert_close(loss, model.compute_loss(batch).loss.detach())
    h_full, _ = model.encoder(batch["x"], batch["lengths"])[1]
    torch.testing.assert_close(h[:, 1], h_full[:, 1])  # the sequence that reaches the end


def test_clipping_bounds_the_global_norm_and_values():
    p = torch.nn.Parameter(torch.zeros(10))
    p.grad = torch.full((10,), 100.0)
    before = clip_gradients([p], clip_norm=1.0, clip_value=0.0)
    assert before == pytest.approx(100 * math.sqrt(10), rel=1e-5)
    assert p.grad.norm() <= 1.0 + 1e-6
    p.grad = torch.linspace(-5, 5, 10)
    clip_gradients([p], clip_norm=0.0, clip_value=0.5)
    assert p.grad.abs().max() <= 0.5


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_each_optimizer_steps(name):
    model = TinyTagger()
    opt = build_optimizer(model.parameters(), TrainConfig(optimizer=name, momentum=0.9,
                                                          nesterov=name == "sgd"))
    before = [p.detach().clone() for p in model.parameters()]
    model.compute_loss(tiny_data(4, 5)).loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_schedules():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    cos = Schedule(opt, TrainConfig(lr=1.0, schedule="cosine", warmup_steps=10), 110)
    assert cos.factor(0) == pytest.approx(0.1) and cos.factor(9) == pytest.approx(1.0)
    assert cos.factor(60) == pytest.approx(0.5, abs=0.02) and cos.factor(109) < 0.01
    step = Schedule(opt, TrainConfig(schedule="step", step_size=5, gamma=0.5), 100)
    assert step.factor(4) == 1.0 and step.factor(5) == 0.5 and step.factor(12) == 0.25
    plateau = Schedule(opt, TrainConfig(schedule="plateau", plateau_patience=1, gamma=0.1), 9)
    for value in (1.0, 2.0, 2.0):
        plateau.observe(value, "min")
    assert plateau.factor(0) == pytest.approx(0.1)
    assert plateau.apply(0) == pytest.approx(1e-4) and opt.param_groups[0]["lr"] == 1e-4 * 1


def test_time_clock_runs_the_cosine_over_max_minutes():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    cfg = TrainConfig(lr=1.0, schedule="cosine", schedule_clock="time", max_minutes=2,
                      warmup_steps=10, min_lr_ratio=0.1)
    cos = Schedule(opt, cfg, 10**6)  # the step count plays no part
    assert cos.factor(0, 0.0) == pytest.approx(0.1)  # warm-up still counts steps
    assert cos.factor(500, 0.0) == pytest.approx(1.0)
    assert cos.factor(10, 60.0) == pytest.approx(0.55) == cos.factor(10**5, 60.0)
    assert cos.factor(10, 120.0) == pytest.approx(0.1) == cos.factor(10, 500.0)
    with pytest.raises(ValueError, match="max_minutes"):
        Schedule(opt, TrainConfig(schedule="cosine", schedule_clock="time"), 10)
    # the trainer passes its training time: half the budget spent -> the cosine's midpoint
    trainer = Trainer(TinyTagger(), TrainConfig(steps=10**6, batch_size=8, lr=1.0, **{
        k: getattr(cfg, k) for k in ("schedule", "schedule_clock", "max_minutes")},
        min_lr_ratio=0.0, progress="off"), tiny_data(32, 10))
    trainer.state.elapsed = 60.0
    assert trainer.train_step(trainer.stream.batch(0))["lr"] == pytest.approx(0.5)


def _fit(steps=30, **kw):
    torch.manual_seed(0)
    cfg = TrainConfig(**{"steps": steps, "batch_size": 8, "lr": 1e-2, "eval_every": 10,
                         "progress": "off", **kw})
    trainer = Trainer(TinyTagger(), cfg, tiny_data(32, 10), tiny_data(16, 10, seed=1), seed=3,
                      callbacks=default_callbacks(cfg, None, dict))
    return trainer, trainer.fit()


def test_progress_eta_respects_the_time_limit(capsys):
    """The printed ETA is the time left under ``max_minutes`` when that ends the run first,
    not the time to ``steps`` (a time-clocked run sets steps as a mere upper bound)."""
    import re

    _fit(10**7, progress="auto", max_minutes=0.05)  # 3 s; stderr is not a TTY
    etas = [float(e.replace(",", "")) for e in re.findall(r"ETA ([\d,.]+)s",
                                                         capsys.readouterr().err)]
    assert etas and all(0 <= e <= 3.0 for e in etas)
    _fit(20, progress="auto")  # no limit: the step-based ETA, 0 at the last step
    etas = re.findall(r"ETA ([\d,.]+)s", capsys.readouterr().err)
    assert etas and float(etas[-1]) == 0
    # the bar of a time-clocked run counts training seconds (its step total is a bound)
    trainer, state = _fit(10**7, progress="on", max_minutes=0.02, schedule="cosine",
                          schedule_clock="time")
    assert trainer.callbacks and 0 < state.step < 10**7
    assert f"step {state.step:,}" in capsys.readouterr().err


def test_trainer_reduces_the_loss_and_repeats_exactly():
    t1, _ = _fit(40)
    t2, _ = _fit(40)
    final = t1.evaluate(tiny_data(16, 10, seed=1))["loss"]
    torch.manual_seed(0)
    start = evaluate_model(TinyTagger(), tiny_data(16, 10, seed=1), 8)["loss"]
    assert final < 0.5 * start
    for a, b in zip(t1.model.parameters(), t2.model.parameters()):
        assert torch.equal(a, b)


def test_truncated_training_runs_and_tbptt_needs_time_keys():
    trainer, state = _fit(10, tbptt=3)
    assert state.step == 10
    from rnnkit.models import MODELS
    model = MODELS["SequenceRegressor"](input_size=2, hidden_size=4)
    with pytest.raises(ValueError, match="tbptt"):
        Trainer(model, TrainConfig(tbptt=3), {"x": torch.zeros(8, 5, 2), "y": torch.zeros(8)})


class _StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, record):
        if trainer.state.step == self.step:
            trainer.stop("interrupted by test")


def test_early_stopping_target_and_stop_requests():
    _, state = _fit(200, early_stopping=1, lr=0.0)
    assert state.stop_reason.startswith("early stopping") and state.step == 20
    _, state = _fit(200, target=10.0)
    assert state.stop_reason.startswith("target reached") and state.step == 10
    cfg = TrainConfig(steps=50, batch_size=8, progress="off")
    trainer = Trainer(TinyTagger(), cfg, tiny_data(32, 10), callbacks=[_StopAt(7)])
    assert trainer.fit().step == 7
    _, state = _fit(200, max_minutes=1e-6)
    assert state.stop_reason.startswith("time limit") and state.step == 1
    _, state = _fit(0, epochs=2)  # 32 samples / batch 8 = 4 steps per epoch
    assert state.step == 8 and state.stop_reason == "done"


def test_nonfinite_loss_stops_with_the_step_or_is_skipped():
    data = tiny_data(32, 10)
    data["y"][:] = float("nan")
    cfg = TrainConfig(steps=3, batch_size=8, progress="off")
    with pytest.raises(NonFiniteLossError, match="step 1"):
        Trainer(TinyTagger(), cfg, data).fit()
    cfg = TrainConfig(steps=3, batch_size=8, progress="off", on_nonfinite="skip")
    trainer = Trainer(TinyTagger(), cfg, data)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    assert trainer.fit().skipped == 3
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


# -- checkpoints and resume ----------------------------------------------------------------

def test_checkpoint_round_trips_model_optimizer_and_rng(tmp_path):
    trainer, _ = _fit(12)
    tensors, state = trainer.training_state()
    info = {"model_class": "TinyTagger", "model_config": trainer.model.get_config()}
    save_checkpoint(tmp_path / "last", trainer.model, info, tensors, state)
    assert sorted(p.suffix for p in (tmp_path / "last").iterdir()) == [
        ".json", ".json", ".json", ".safetensors", ".safetensors"]  # no pickle anywhere
    ckpt = load_checkpoint(tmp_path / "last")
    model = build_model(ckpt)
    for a, b in zip(model.parameters(), trainer.model.parameters()):
        assert torch.equal(a, b)
    other = Trainer(model, trainer.cfg, tiny_data(32, 10))
    other.load_training_state(ckpt)
    assert other.state == trainer.state
    a, b = other.optimizer.state_dict(), trainer.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for i in b["state"]:
        for k, v in b["state"][i].items():
            assert torch.equal(a["state"][i][k], v)
    assert torch.equal(torch.get_rng_state(), tensors["rng.torch"])


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "garbage"])
def test_damaged_checkpoint_gives_a_clear_error(tmp_path, damage):
    trainer, _ = _fit(2)
    path = save_checkpoint(tmp_path / "ck", trainer.model, {"model_class": "TinyTagger"})
    f = path / "model.safetensors"
    data = f.read_bytes()
    if damage == "truncate":
        f.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        f.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "delete":
        (path / "manifest.json").unlink()
    else:
        (path / "manifest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_checkpoint_swap_is_atomic_and_survives_a_crash_between_renames(tmp_path):
    trainer, _ = _fit(2)
    save_checkpoint(tmp_path / "last", trainer.model, {"model_class": "TinyTagger"})
    save_checkpoint(tmp_path / "last", trainer.model, {"model_class": "TinyTagger", "v": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    (tmp_path / "last").rename(tmp_path / ".old-last-123")  # crash after the first rename
    assert load_checkpoint(tmp_path / "last").info["v"] == 2


def _adding_cfg(**train):
    from rnnkit.tasks.runner import config_from_raw

    raw = {"name": "t", "seed": 1, "task": {"name": "adding", "sequence_length": 8,
                                             "train_size": 64, "val_size": 16, "test_size": 16},
           "model": {"cell": "lstm", "hidden_size": 6, "dropout": 0.1, "num_layers": 2},
           "train": {"steps": 12, "batch_size": 8, "eval_every": 4, "progress": "off",
                     "schedule": "cosine", "warmup_steps": 3, **train}}
    return config_from_raw(raw, "test")


def test_resume_equals_uninterrupted(tmp_path):
    from rnnkit.tasks import train_run
    from rnnkit.tasks.runner import resume_config

    cfg = _adding_cfg()
    train_run(cfg, tmp_path / "full")
    stopped = train_run(cfg, tmp_path / "cut", callbacks=[_StopAt(6)])
    assert stopped.interrupted and stopped.state.step == 6
    train_run(resume_config(tmp_path / "cut"), tmp_path / "cut", resume=True)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last")
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last")
    assert a.info["step"] == b.info["step"] == 12
    for k, v in a.weights.items():
        assert torch.equal(v, b.weights[k]), k


def test_resume_after_a_crash_between_the_renames_of_a_save(tmp_path):
    from rnnkit.tasks import train_run
    from rnnkit.tasks.runner import resume_config

    cfg = _adding_cfg()
    train_run(cfg, tmp_path / "cut", callbacks=[_StopAt(6)])
    ckpts = tmp_path / "cut" / "checkpoints"
    (ckpts / "last").rename(ckpts / ".old-last-999999")  # first rename done, second not
    result = train_run(resume_config(tmp_path / "cut"), tmp_path / "cut", resume=True)
    assert result.state.step == 12
    assert load_checkpoint(ckpts / "last").info["step"] == 12
    assert sorted(p.name for p in ckpts.iterdir()) == ["best", "last"]
