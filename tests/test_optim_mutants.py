"""rnnkit/training/optim.py against references written out by hand (issue 20): each
optimizer's first steps in NumPy from the published update rules (as torch documents them),
the schedules' factors at hand-computed steps, reduce-on-plateau's patience, and clipping.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnkit.training import Schedule, TrainConfig, build_optimizer, clip_gradients

P0 = np.array([0.5, -1.5, 2.0])
GRADS = [np.array([0.3, -0.2, 1.0]), np.array([-0.4, 0.1, 0.5]), np.array([0.2, 0.6, -0.3])]


def run_torch(cfg: TrainConfig) -> np.ndarray:
    """The parameter after one optimizer step per gradient of GRADS (float64)."""
    p = torch.nn.Parameter(torch.tensor(P0))
    opt = build_optimizer(iter([p]), cfg)  # any iterable of parameters
    for g in GRADS:
        p.grad = torch.tensor(g)
        opt.step()
    return p.detach().numpy()


def sgd(lr, momentum, nesterov, wd):
    p, buf = P0.copy(), None
    for g in GRADS:
        d = g + wd * p
        buf = d if buf is None else momentum * buf + d
        p = p - lr * ((d + momentum * buf) if nesterov else buf)
    return p


def adam(lr, b1, b2, eps, wd, decoupled):
    p, m, v = P0.copy(), 0.0, 0.0
    for t, g in enumerate(GRADS, 1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def rmsprop(lr, momentum, eps, wd, alpha=0.99):
    p, sq, buf = P0.copy(), 0.0, 0.0
    for g in GRADS:
        g = g + wd * p
        sq = alpha * sq + (1 - alpha) * g * g
        step = g / (np.sqrt(sq) + eps)
        buf = momentum * buf + step
        p = p - lr * (buf if momentum else step)
    return p


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.7, 0.0), (0.7, 0.2)])
def test_sgd_steps_as_written_out(momentum, wd, nesterov):
    if nesterov and not momentum:
        return  # torch: Nesterov needs momentum
    cfg = TrainConfig(optimizer="sgd", lr=0.3, momentum=momentum, nesterov=nesterov,
                      weight_decay=wd)
    np.testing.assert_allclose(run_torch(cfg), sgd(0.3, momentum, nesterov, wd), rtol=1e-12)


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize("wd", [0.0, 0.3])
def test_adam_and_adamw_steps_as_written_out(name, wd):
    cfg = TrainConfig(optimizer=name, lr=0.1, beta1=0.6, beta2=0.8, eps=0.05, weight_decay=wd)
    want = adam(0.1, 0.6, 0.8, 0.05, wd, decoupled=name == "adamw")
    np.testing.assert_allclose(run_torch(cfg), want, rtol=1e-12)


def test_adam_with_its_defaults():
    want = adam(1e-3, 0.9, 0.999, 1e-8, 0.0, decoupled=False)
    np.testing.assert_allclose(run_torch(TrainConfig()), want, rtol=1e-10)


@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.6, 0.0), (0.6, 0.25)])
def test_rmsprop_steps_as_written_out(momentum, wd):
    cfg = TrainConfig(optimizer="rmsprop", lr=0.05, momentum=momentum, eps=0.1, weight_decay=wd)
    np.testing.assert_allclose(run_torch(cfg), rmsprop(0.05, momentum, 0.1, wd), rtol=1e-12)


def schedule(total=12, **kw):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return Schedule(opt, TrainConfig(**kw), total), opt


def test_warmup_then_cosine_to_the_floor_at_hand_computed_steps():
    """4 warm-up steps then a cosine over the remaining 8 of 12 steps, floor 0.2:
    factor = warm * (0.2 + 0.8 * (1 + cos(pi * t)) / 2), t = (step - 4) / 8."""
    s, _ = schedule(schedule="cosine", warmup_steps=4, min_lr_ratio=0.2)
    hand = {0: 0.25, 1: 0.5, 2: 0.75, 3: 1.0, 4: 1.0, 6: 0.2 + 0.4 * (1 + math.sqrt(0.5)),
            8: 0.6, 10: 0.2 + 0.4 * (1 - math.sqrt(0.5)), 12: 0.2, 40: 0.2}
    for step, want in hand.items():
        assert s.factor(step) == pytest.approx(want, rel=1e-12), step


def test_cosine_without_warmup_and_a_run_shorter_than_its_warmup():
    s, _ = schedule(total=4, schedule="cosine")  # t = step / 4
    assert [s.factor(k) for k in range(5)] == pytest.approx(
        [1.0, 0.5 + 0.5 * math.sqrt(0.5), 0.5, 0.5 - 0.5 * math.sqrt(0.5), 0.0], abs=1e-12)
    short, _ = schedule(total=3, schedule="cosine", warmup_steps=5)  # span max(3-5, 1) = 1
    assert [short.factor(k) for k in (0, 4, 5, 6)] == pytest.approx([0.2, 1.0, 1.0, 0.0],
                                                                    abs=1e-12)
    zero, _ = schedule(total=0, schedule="cosine")  # total counted as 1 step
    assert zero.total == 1 and zero.factor(0) == 1.0 and zero.factor(1) == pytest.approx(0.0)


def test_time_clock_cosine_and_warmup_with_constant_and_step_schedules():
    s, _ = schedule(schedule="cosine", schedule_clock="time", max_minutes=3, warmup_steps=2,
                    min_lr_ratio=0.5)  # t = elapsed / 180 s
    assert s.factor(0, 45.0) == pytest.approx(0.5 * (0.5 + 0.25 * (1 + math.sqrt(0.5))))
    assert s.factor(7, 135.0) == pytest.approx(0.5 + 0.25 * (1 - math.sqrt(0.5)))
    assert s.factor(7, 500.0) == pytest.approx(0.5)
    assert s.factor(7) == 1.0 and s.apply(7) == 1e-3  # no time given: none has passed
    const, _ = schedule(warmup_steps=3)
    assert [const.factor(k) for k in range(5)] == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])
    step, _ = schedule(schedule="step", step_size=3, gamma=0.1, warmup_steps=2)
    assert [step.factor(k) for k in range(7)] == pytest.approx(
        [0.5, 1, 1, 0.1, 0.1, 0.1, 0.01])
    with pytest.raises(ValueError, match='^train.schedule_clock = "time" needs '
                       r'train.max_minutes > 0$'):
        schedule(schedule="cosine", schedule_clock="time")


def test_apply_sets_every_group_s_lr():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=1.0)
    s = Schedule(opt, TrainConfig(lr=0.4, schedule="step", step_size=2, gamma=0.5), 10)
    assert s.apply(5) == pytest.approx(0.1)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.1])
    c = Schedule(opt, TrainConfig(lr=0.4, schedule="cosine", schedule_clock="time",
                                  max_minutes=1), 10)
    assert c.apply(3, 30.0) == pytest.approx(0.2)  # elapsed is passed on to the factor


@pytest.mark.parametrize("mode, values", [("min", [5, 4, 4, 4.5, 3, 3, 3]),
                                          ("max", [-5, -4, -4, -4.5, -3, -3, -3])])
def test_plateau_cuts_after_more_than_patience_bad_evaluations(mode, values):
    """patience 1: the second evaluation in a row without improvement cuts the lr by gamma
    and starts counting again; an improvement resets the count."""
    s, _ = schedule(schedule="plateau", plateau_patience=1, gamma=0.5)
    scales = []
    for v in values:
        s.observe(v, mode)
        scales.append(s.plateau_scale)
    assert scales == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert s.best == values[4] and s.bad == 0
    assert s.factor(0) == 0.25
    s.observe(values[4], mode)  # equal is not better
    assert s.bad == 1


def test_plateau_state_round_trips_and_other_schedules_ignore_it():
    s, _ = schedule(schedule="plateau", plateau_patience=0, gamma=0.1)
    for v in (2.0, 3.0, 1.0, 1.5):
        s.observe(v, "min")
    state = s.state_dict()
    assert state == {"plateau_scale": pytest.approx(0.01), "best": 1.0, "bad": 0, "total": 12}
    t, _ = schedule(schedule="plateau", plateau_patience=0, gamma=0.1)
    t.load_state_dict({**state, "bad": 2})
    assert (t.plateau_scale, t.best, t.bad) == (state["plateau_scale"], 1.0, 2)
    other, _ = schedule(schedule="cosine", plateau_patience=0)
    for v in (1.0, 2.0, 3.0):
        other.observe(v, "min")
    assert (other.plateau_scale, other.best, other.bad) == (1.0, None, 0)


def grads(*values):
    params = [torch.nn.Parameter(torch.zeros(len(v))) for v in values]
    for p, v in zip(params, values):
        p.grad = torch.tensor(v, dtype=torch.float32)
    return params


def test_clip_by_value_then_by_the_global_norm():
    a, b = grads([3.0, -4.0], [12.0])
    c = torch.nn.Parameter(torch.ones(2))  # no gradient: left out
    norm = clip_gradients([a, b, c], clip_norm=1.0, clip_value=5.0)
    assert norm == pytest.approx(math.sqrt(9 + 16 + 25))  # after clipping 12 to 5
    scale = 1.0 / math.sqrt(50)
    torch.testing.assert_close(a.grad, torch.tensor([3.0, -4.0]) * scale, rtol=1e-5, atol=0)
    torch.testing.assert_close(b.grad, torch.tensor([5.0]) * scale, rtol=1e-5, atol=0)
    assert c.grad is None


def test_each_clip_alone_and_neither():
    a, b = grads([3.0, -4.0], [12.0])
    assert clip_gradients([a, b], clip_norm=0.0, clip_value=3.5) == pytest.approx(
        math.sqrt(9 + 3.5**2 * 2))
    assert a.grad.tolist() == [3.0, -3.5] and b.grad.tolist() == [3.5]
    a, b = grads([3.0, -4.0], [12.0])
    assert clip_gradients([a, b], clip_norm=26.0, clip_value=0.0) == pytest.approx(13.0)
    assert a.grad.tolist() == [3.0, -4.0] and b.grad.tolist() == [12.0]  # under the bound
    assert clip_gradients([a, b], clip_norm=6.5, clip_value=0.0) == pytest.approx(13.0)
    torch.testing.assert_close(b.grad, torch.tensor([6.0]), rtol=1e-5, atol=0)
    a, b = grads([3.0, -4.0], [12.0])
    assert clip_gradients([a, b], 0.0, 0.0) == pytest.approx(13.0)
    assert b.grad.tolist() == [12.0]
    assert clip_gradients([torch.nn.Parameter(torch.ones(2))], 0.0, 0.0) == 0.0
    assert clip_gradients([torch.nn.Parameter(torch.ones(2))], 1.0, 1.0) == 0.0
