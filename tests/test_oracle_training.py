"""The Trainer's arithmetic against gradients computed here, independently, with plain SGD.

Adam is invariant to the scale of a gradient, so a missing division or a missing clip
hides under it; plain SGD (``w <- w - lr * g``) shows the gradient itself in one step.
The oracle is a small linear RNN written out in this file and differentiated chunk by chunk
here, in float64 (nothing of rnnkit's tbptt or clipping code is used to compute it).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit.models.base import StepOutput
from rnnkit.training import TrainConfig, Trainer

N, T, I, H = 6, 8, 2, 3  # samples, steps, inputs, hidden


class LinearRNN(nn.Module):
    """h_t = tanh(A h_{t-1} + B x_t), prediction c . h_t; per-step squared error on ``y``
    weighted by ``w`` (so chunks can carry different item counts)."""

    time_keys = ("x", "y", "w")

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.A = nn.Parameter(0.5 * torch.randn(H, H, generator=g, dtype=torch.float64))
        self.B = nn.Parameter(torch.randn(H, I, generator=g, dtype=torch.float64))
        self.c = nn.Parameter(torch.randn(H, generator=g, dtype=torch.float64))

    def sse(self, batch, h):
        """(sum of weighted squared errors, weight sum, final state) of one piece."""
        total = 0.0
        for t in range(batch["x"].shape[1]):
            h = torch.tanh(h @ self.A.T + batch["x"][:, t] @ self.B.T)  # (N, H)
            err = (h @ self.c - batch["y"][:, t]) ** 2  # (N,)
            total = total + (err * batch["w"][:, t]).sum()
        return total, batch["w"].sum(), h

    def compute_loss(self, batch, state=None):
        h = torch.zeros(batch["x"].shape[0], H, dtype=torch.float64) if state is None else state
        total, count, h = self.sse(batch, h)
        count = int(count)
        return StepOutput(total / count, {}, count=count, state=h)


def _data():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(N, T, I, generator=g, dtype=torch.float64)
    w = torch.ones(N, T, dtype=torch.float64)
    w[:, 6:] = 0.0  # the last chunk counts N items, the others 3 N: count weighting matters
    w[0, 7] = 1.0
    return {"x": x, "y": x[..., 0].cumsum(1) * 0.3, "w": w}


def _cfg(**kw):
    return TrainConfig(**{"steps": 1, "batch_size": N, "optimizer": "sgd", "lr": 0.1,
                          "device": "cpu", "progress": "off", "eval_every": 1,
                          "clip_norm": 0.0, **kw})


def _one_step(**kw):
    """(weights before, weights after) of one Trainer step on the whole data set."""
    torch.manual_seed(0)
    model = LinearRNN()
    before = [p.detach().clone() for p in model.parameters()]
    Trainer(model, _cfg(**kw), _data()).fit()
    return before, [p.detach().clone() for p in model.parameters()]


def _hand_gradient(k: int):
    """d(mean weighted error)/d(weights) under truncation every k steps: each chunk's error
    summed and differentiated from its detached start state, divided by the total weight."""
    model, data = LinearRNN(), _data()
    grads = [torch.zeros_like(p) for p in model.parameters()]
    h = torch.zeros(N, H, dtype=torch.float64)
    total_count = float(data["w"].sum())
    for start in range(0, T, k):
        piece = {key: v[:, start:start + k] for key, v in data.items()}
        sse, _, h = model.sse(piece, h.detach())
        for acc, g in zip(grads, torch.autograd.grad(sse, list(model.parameters()))):
            acc += g
    return [g / total_count for g in grads]


@pytest.mark.parametrize("k", [3, 0])
def test_sgd_step_equals_the_hand_computed_truncated_gradient(k):
    """Three chunks of 3, 3 and 2 steps (k=3), and full BPTT (k=0)."""
    before, after = _one_step(tbptt=k)
    expected = _hand_gradient(k or T)
    for b, a, g in zip(before, after, expected):
        torch.testing.assert_close(b - a, 0.1 * g, rtol=1e-10, atol=1e-12)


def test_the_truncated_gradient_is_not_the_full_one():
    """Guards the oracle: truncation (and the chunks' unequal counts) change the gradient,
    so the test above can tell them apart."""
    full, cut = _hand_gradient(T), _hand_gradient(3)
    for a, b in zip(full[:2], cut[:2]):  # A and B (c sees the same forward either way)
        assert not torch.allclose(a, b, rtol=1e-3)
    # the mean of the chunks' mean losses (each chunk weighted equally) differs too
    model, data, h, means = LinearRNN(), _data(), torch.zeros(N, H, dtype=torch.float64), 0
    for start in range(0, T, 3):
        sse, count, h = model.sse({k: v[:, start:start + 3] for k, v in data.items()}, h.detach())
        means = means + sse / count / 3
    equal = torch.autograd.grad(means, list(model.parameters()))
    assert all(not torch.allclose(a, b, rtol=1e-3) for a, b in zip(equal, cut))


def _full_gradient():
    model, data = LinearRNN(), _data()
    loss = model.compute_loss(data).loss
    return torch.autograd.grad(loss, list(model.parameters()))


def test_sgd_step_without_clipping_is_lr_times_the_gradient():
    before, after = _one_step(clip_norm=0.0, clip_value=0.0)
    for b, a, g in zip(before, after, _full_gradient()):
        torch.testing.assert_close(b - a, 0.1 * g, rtol=1e-10, atol=1e-12)


def test_sgd_step_with_norm_clipping_is_rescaled_to_the_clip():
    grads = _full_gradient()
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
    clip = norm / 4  # the clip is active
    before, after = _one_step(clip_norm=clip)
    steps = [b - a for b, a in zip(before, after)]
    for s, g in zip(steps, grads):
        torch.testing.assert_close(s, 0.1 * g * (clip / norm), rtol=1e-5, atol=1e-12)
    step_norm = math.sqrt(sum(float((s * s).sum()) for s in steps))
    assert step_norm == pytest.approx(0.1 * clip, rel=1e-5)


def test_sgd_step_with_a_loose_norm_clip_is_unchanged():
    grads = _full_gradient()
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
    before, after = _one_step(clip_norm=2 * norm)
    for b, a, g in zip(before, after, grads):
        torch.testing.assert_close(b - a, 0.1 * g, rtol=1e-10, atol=1e-12)


def test_sgd_step_with_value_then_norm_clipping():
    """Each element first cut to [-v, v], then the whole rescaled to the norm clip."""
    grads = _full_gradient()
    v = 0.5 * max(float(g.abs().max()) for g in grads)
    cut = [g.clamp(-v, v) for g in grads]
    assert any(not torch.equal(a, b) for a, b in zip(cut, grads))  # the value clip acts
    norm = math.sqrt(sum(float((g * g).sum()) for g in cut))
    clip = norm / 3
    before, after = _one_step(clip_value=v, clip_norm=clip)
    for b, a, g in zip(before, after, cut):
        torch.testing.assert_close(b - a, 0.1 * g * (clip / norm), rtol=1e-5, atol=1e-12)


def test_streamed_batches_carry_the_state_across_steps_and_reset_it_each_epoch():
    """``batching = "stream"``: each step starts from the previous step's final state
    (detached), from zeros at an epoch's first step; replayed here step by step with plain
    SGD over the same batches, 13 steps (11 a epoch: one reset)."""
    data = {**_data(), "w": torch.ones(N, T, dtype=torch.float64)}
    torch.manual_seed(0)
    model = LinearRNN()
    trainer = Trainer(model, _cfg(steps=13, batch_size=2, tbptt=2, batching="stream"), data)
    stream = trainer.stream
    assert stream.steps_per_epoch == 11
    hand = LinearRNN()
    carried = None
    for step in range(13):
        batch = stream.batch(step)
        h = torch.zeros(2, H, dtype=torch.float64) if stream.starts_epoch(step) else carried
        sse, count, h = hand.sse(batch, h)
        grads = torch.autograd.grad(sse / count, list(hand.parameters()))
        with torch.no_grad():
            for p, g in zip(hand.parameters(), grads):
                p -= 0.1 * g
        carried = h.detach()
    trainer.fit()
    for a, b in zip(model.parameters(), hand.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
