"""The NumPy reference's defaults, size limits and messages, and the gradient check's
relative error against its closed form. (What mutation testing of rnnkit/reference found
unchecked.)"""

import re

import numpy as np
import pytest

from rnnkit.reference import GRU, LSTM, ElmanRNN, gradient_check

MODELS = [ElmanRNN, GRU, LSTM]
I, H, O, T = 3, 4, 5, 6


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, I)), rng.integers(0, O, size=T)


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_the_default_seed_is_zero(model_cls):
    default, zero, one = model_cls(I, H, O), model_cls(I, H, O, seed=0), model_cls(I, H, O, seed=1)
    for name, value in default.params().items():
        np.testing.assert_array_equal(value, zero.params()[name])
        assert not np.array_equal(value, one.params()[name])


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_sizes_of_one_are_allowed(model_cls):
    model = model_cls(1, 1, 1)
    fwd = model.forward(np.ones((2, 1)))
    assert fwd.hs.shape == (2, 1) and fwd.probs.shape == (2, 1)
    np.testing.assert_allclose(fwd.probs, 1.0)  # one class: probability 1


@pytest.mark.parametrize("position,name", [(0, "input_size"), (1, "hidden_size"),
                                           (2, "output_size")])
@pytest.mark.parametrize("bad", [0, -2, 2.0, True])
def test_each_size_is_named_in_its_message(position, name, bad):
    sizes = [I, H, O]
    sizes[position] = bad
    with pytest.raises(ValueError, match=rf"^{name} must be a positive integer, got {bad!r}$"):
        GRU(*sizes)


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_input_messages_in_full(model_cls):
    model = model_cls(I, H, O)
    with pytest.raises(ValueError, match=re.escape(
            "xs must have at least one time step (T >= 1), got T = 0") + "$"):
        model.forward(np.zeros((0, I)))
    with pytest.raises(ValueError, match=r"^xs must be finite, got NaN or inf$"):
        model.forward(np.full((T, I), np.inf))
    with pytest.raises(ValueError, match=r"^xs must be a numeric array, got list$"):
        model.forward([["a"] * I] * T)
    with pytest.raises(ValueError, match=r"^xs must be a numeric array, got dict$"):
        model.forward({"x": 1})


@pytest.mark.parametrize("model_cls", MODELS, ids=lambda m: m.__name__)
def test_a_bad_initial_state_is_named(model_cls):
    xs, _ = _data()
    model = model_cls(I, H, O)
    with pytest.raises(ValueError, match=re.escape(
            f"h0 must have shape (hidden_size={H},), got shape ({H + 1},)") + "$"):
        model.forward(xs, np.zeros(H + 1))
    if model_cls is LSTM:
        with pytest.raises(ValueError, match=re.escape(
                f"c0 must have shape (hidden_size={H},), got shape (1, {H})") + "$"):
            model.forward(xs, np.zeros(H), c0=np.zeros((1, H)))


class _SmallScaled(ElmanRNN):
    """Loss and gradients scaled by 1e-3 (every gradient entry far below 1), with the
    gradient of ``W`` off by 1 %."""

    def loss(self, xs, targets, h0=None, **state0):
        return 1e-3 * super().loss(xs, targets, h0, **state0)

    def loss_and_grads(self, xs, targets, h0=None, **state0):
        loss, grads = super().loss_and_grads(xs, targets, h0, **state0)
        grads = {k: 1e-3 * g for k, g in grads.items()}
        grads["W"] = grads["W"] * 1.01
        return 1e-3 * loss, grads


def test_the_relative_error_is_the_documented_ratio_for_small_gradients():
    """|a - n| / max(|a| + |n|, tiny) with a = 1.01 n: 0.01 / 2.01 for every nonzero entry,
    whatever the gradients' size (tiny only guards 0 / 0)."""
    xs, ys = _data(1)
    result = gradient_check(_SmallScaled(I, H, O, seed=3), xs, ys)
    assert result.rel_errors["W"] == pytest.approx(0.01 / 2.01, rel=1e-4)
    assert result.max_rel_error == result.rel_errors["W"]
    assert result.rel_errors["U"] < 1e-6
    assert not result.passed() and result.passed(tol=0.01)


def test_passed_is_strictly_below_the_tolerance():
    xs, ys = _data(1)
    result = gradient_check(_SmallScaled(I, H, O, seed=3), xs, ys)
    assert not result.passed(tol=result.max_rel_error)
    assert result.passed(tol=np.nextafter(result.max_rel_error, 1.0))
