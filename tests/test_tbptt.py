"""Truncated BPTT's bookkeeping, on a scalar model whose gradients are known in closed form:
which chunks run, what each is told, how gradients, losses and metrics are averaged, and how
a carried state is saved and restored. (The gradients of a real recurrent model against a
hand computation are in tests/test_oracle_training.py.)"""

import contextlib
from types import SimpleNamespace

import pytest
import torch

from rnnkit.training import run_batch
from rnnkit.training.tbptt import (
    chunks,
    detach_state,
    flatten_state,
    map_state,
    sequence_length,
    unflatten_state,
)


class _Scalar:
    """loss(chunk) = mean over counted steps of w * x; count = number of steps with m = 1;
    metric "x" = that mean of x. The state is w * (sum of x so far), kept with its graph."""

    def __init__(self):
        self.w = torch.nn.Parameter(torch.tensor(2.0))
        self.calls = []

    def __call__(self, chunk, state):
        x, m = chunk["x"], chunk["m"]
        self.calls.append((x.shape[1], state))
        count = int(m.sum())
        loss = (self.w * x * m).sum() / max(count, 1)
        total = self.w * x.sum() + (0.0 if state is None else state)
        return SimpleNamespace(loss=loss, count=count, state=total,
                               metrics={"x": float((x * m).sum()) / max(count, 1), "one": 1.0})


def _batch(x, m=None):
    x = torch.tensor([x], dtype=torch.float64)
    return {"x": x, "m": torch.ones_like(x) if m is None else torch.tensor([m], dtype=x.dtype)}


def _run(model, batch, k, **kw):
    model.w.grad = None
    return run_batch(model, batch, ("x", "m"), k, parameters=[model.w],
                     backward=lambda loss, last: loss.backward(), **kw)


def test_the_gradient_is_the_count_weighted_mean_over_chunks():
    model = _Scalar()
    batch = _batch([1.0, 2.0, 3.0, 4.0, 10.0], m=[1, 1, 1, 0, 1])  # counts 2, 1, 1 by k=2
    loss, metrics, total, _ = _run(model, batch, 2)
    counted = [1.0, 2.0, 3.0, 10.0]
    assert total == 4 and [c[0] for c in model.calls] == [2, 2, 1]
    assert model.w.grad.item() == pytest.approx(sum(counted) / 4)
    assert loss.item() == pytest.approx(2.0 * sum(counted) / 4)
    assert metrics == pytest.approx({"x": sum(counted) / 4, "one": 1.0})


def test_two_chunks_are_averaged_too():
    model = _Scalar()
    _run(model, _batch([1.0, 3.0]), 1)  # two one-step chunks
    assert len(model.calls) == 2 and model.w.grad.item() == pytest.approx((1.0 + 3.0) / 2)


def test_a_total_count_of_one_is_not_halved():
    model = _Scalar()
    loss, metrics, total, _ = _run(model, _batch([3.0, 5.0], m=[1, 0]), 1)  # counts 1, 0
    assert total == 1 and len(model.calls) == 2
    assert model.w.grad.item() == pytest.approx(3.0)
    assert loss.item() == pytest.approx(6.0) and metrics["x"] == pytest.approx(3.0)


def test_one_step_chunks_and_whole_batches():
    model = _Scalar()
    _run(model, _batch([1.0, 2.0, 3.0]), 1)
    assert [c[0] for c in model.calls] == [1, 1, 1]  # k = 1 still truncates
    for k in (0, 3, 7):  # off, or at least the length: one whole pass, state kept attached
        model.calls.clear()
        *_, state = _run(model, _batch([1.0, 2.0, 3.0]), k)
        assert [c[0] for c in model.calls] == [3] and state.requires_grad
    model.calls.clear()
    run_batch(model, _batch([1.0, 2.0, 3.0]), (), 1)  # no time keys: whole, nothing to cut
    assert [c[0] for c in model.calls] == [3]


def test_two_chunks_carry_a_detached_state_and_tell_which_is_last():
    model, lasts, entered = _Scalar(), [], []
    *_, state = run_batch(model, _batch([1.0, 2.0, 3.0, 4.0]), ("x", "m"), 2,
                          backward=lambda loss, last: lasts.append(last),
                          context=lambda last: entered.append(last) or contextlib.nullcontext())
    assert lasts == [False, True] and entered == [False, True]
    assert model.calls[1][1].item() == pytest.approx(2.0 * 3.0)  # carried: w * (1 + 2)
    assert not model.calls[1][1].requires_grad and not state.requires_grad


def test_chunks_stop_once_every_sequence_has_ended():
    batch = {"x": torch.zeros(2, 9, 1), "lengths": torch.tensor([2, 3])}
    parts = list(chunks(batch, ("x",), 3))
    assert len(parts) == 1 and parts[0][0]["lengths"].tolist() == [2, 3]


def test_sequence_length_names_the_mismatch():
    with pytest.raises(ValueError, match=r"time_keys \('a', 'b'\) must share one length"):
        sequence_length({"a": torch.zeros(1, 3), "b": torch.zeros(1, 4)}, ("a", "b"))


def test_map_and_detach_reach_every_tensor_of_a_nested_state():
    t = torch.ones(2, requires_grad=True) * 3
    state = {"h": t, "pair": (t, [t, None]), "n": 7}
    doubled = map_state(state, lambda v: v * 2)
    assert doubled["h"].tolist() == [6.0, 6.0] and doubled["pair"][1][0].tolist() == [6.0, 6.0]
    assert doubled["pair"][1][1] is None and doubled["n"] == 7
    assert isinstance(doubled["pair"], tuple) and isinstance(doubled["pair"][1], list)
    cut = detach_state(state)
    assert not cut["h"].requires_grad and not cut["pair"][1][0].requires_grad


def test_flatten_state_round_trips_and_refuses_other_types():
    a, b, c = torch.zeros(1), torch.ones(2), torch.full((3,), 2.0)
    state = (a, [b, None, (c,)])
    tensors, layout = flatten_state(state)
    assert [t.numel() for t in tensors] == [1, 2, 3]
    assert layout == {"type": "tuple", "items": [0, {"type": "list", "items": [
        1, None, {"type": "tuple", "items": [2]}]}]}
    back = unflatten_state(tensors, layout)
    assert isinstance(back, tuple) and isinstance(back[1], list) and back[1][1] is None
    assert back[1][0] is b and back[1][2][0] is c and isinstance(back[1][2], tuple)
    assert unflatten_state([], None) is None and flatten_state(None) == ([], None)
    with pytest.raises(TypeError, match="cannot save a state part of type dict"):
        flatten_state({"h": a})
