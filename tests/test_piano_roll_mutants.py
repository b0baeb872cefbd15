"""``PianoRollLM`` (rnnkit/models/piano_roll.py) against ``nn.LSTM``/``nn.GRU`` and a linear
map with its own weights: the logits, the Bernoulli loss and frame accuracy worked out by
hand, dropout, and generation replayed step by step with the same random numbers (found by
mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models import PianoRollLM

TORCH = {"gru": nn.GRU, "lstm": nn.LSTM}


def _model(cell="gru", K=5, H=6, seed=0, **options) -> PianoRollLM:
    torch.manual_seed(seed)
    lm = PianoRollLM(num_units=K, cell=cell, hidden_size=H, **options)
    with torch.no_grad():  # a head far from zero: logits of both signs, several units on
        lm.head.weight.normal_(0, 1.5)
        lm.head.bias.normal_(0, 1.0)
    return lm.eval()


def _reference(lm: PianoRollLM, cell: str):
    rnn = lm.encoder.rnn
    ref = TORCH[cell](rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers,
                      batch_first=True)
    ref.load_state_dict(rnn.state_dict())

    def logits(x, state=None):  # (B, T, K) -> (B, T, K), state
        out, state = ref(x, state)
        return out @ lm.head.weight.T + lm.head.bias, state
    return logits


def _frames(B, T, K, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, T, K, generator=g) < 0.4).float()


def test_defaults():
    lm = PianoRollLM()
    assert lm.get_config() == {"num_units": 88, "cell": "lstm", "hidden_size": 128,
                               "num_layers": 1, "dropout": 0.0, "input_dropout": 0.0}
    rnn = lm.encoder.rnn
    assert isinstance(rnn, nn.LSTM)
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers) == (88, 128, 1)
    assert lm.head.weight.shape == (88, 128)
    assert lm.dropout.p == 0.0 and lm.encoder.dropout.p == 0.0
    assert lm.time_keys == ("x", "y")


def test_options_reach_the_layer_and_the_dropouts():
    lm = PianoRollLM(num_units=7, cell="gru", hidden_size=5, num_layers=2, dropout=0.25,
                     input_dropout=0.125)
    assert lm.get_config() == {"num_units": 7, "cell": "gru", "hidden_size": 5,
                               "num_layers": 2, "dropout": 0.25, "input_dropout": 0.125}
    rnn = lm.encoder.rnn
    assert isinstance(rnn, nn.GRU) and (rnn.input_size, rnn.hidden_size) == (7, 5)
    assert rnn.num_layers == 2 and rnn.dropout == 0.25
    assert lm.encoder.dropout.p == 0.125 and lm.dropout.p == 0.25
    config = lm.get_config()
    config["cell"] = "lstm"
    assert lm.get_config()["cell"] == "gru"  # a copy


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_forward_is_the_layer_then_the_linear_head(cell):
    lm = _model(cell)
    ref = _reference(lm, cell)
    x = _frames(2, 6, 5)
    out = lm(x)
    want, want_state = ref(x)
    assert torch.allclose(out.logits, want, atol=1e-5)
    h = out.state[0] if cell == "lstm" else out.state
    assert torch.allclose(h, (want_state[0] if cell == "lstm" else want_state), atol=1e-6)


def test_the_loss_is_the_bernoulli_nll_per_valid_step_and_the_state_is_detached():
    lm = _model("gru", seed=1).train()  # (no dropout: training mode changes nothing else)
    ref = _reference(lm, "gru")
    x, y = _frames(3, 5, 5, seed=1), _frames(3, 5, 5, seed=2)
    lengths = torch.tensor([5, 2, 3])
    out = lm.compute_loss({"x": x, "y": y, "lengths": lengths})
    total, steps, tp, union = 0.0, 0, 0, 0
    for b, n in enumerate(lengths.tolist()):
        logits, h = ref(x[b:b + 1, :n])
        assert torch.allclose(out.state[:, b], h[:, 0], atol=1e-6)  # the state at step n
        p = torch.sigmoid(logits[0]).double()  # (n, K)
        t = y[b, :n].double()
        total -= (t * p.log() + (1 - t) * (1 - p).log()).sum().item()
        steps += n
        pred, truth = p > 0.5, t > 0.5
        tp += int((pred & truth).sum())
        union += int((pred | truth).sum())
    assert out.count == 10
    assert out.loss.item() == pytest.approx(total / steps, rel=1e-5)
    assert out.metrics["nll_per_step"] == pytest.approx(total / steps, rel=1e-5)
    assert 0 < tp < union
    assert out.metrics["frame_accuracy"] == pytest.approx(tp / union)
    assert out.loss.requires_grad and not out.state.requires_grad


def test_the_loss_without_lengths_reads_every_step_and_a_carried_state():
    lm = _model("lstm", seed=2)
    ref = _reference(lm, "lstm")
    x, y = _frames(2, 4, 5, seed=3), _frames(2, 4, 5, seed=4)
    state = (torch.randn(1, 2, 6), torch.randn(1, 2, 6))
    logits, _ = ref(x, state)
    want = F.binary_cross_entropy_with_logits(logits, y, reduction="sum").item() / 8
    out = lm.compute_loss({"x": x, "y": y.to(torch.uint8)}, state)  # (as rolls are stored)
    assert out.loss.item() == pytest.approx(want, rel=1e-5) and out.count == 8
    assert out.loss.dtype == torch.float32


def test_one_valid_step_is_the_loss_of_that_step():
    lm = _model("gru", seed=8)
    ref = _reference(lm, "gru")
    x, y = _frames(2, 3, 5, seed=9), _frames(2, 3, 5, seed=10)
    logits, _ = ref(x[:1, :1])
    want = F.binary_cross_entropy_with_logits(logits[0, 0], y[0, 0], reduction="sum").item()
    out = lm.compute_loss({"x": x, "y": y, "lengths": torch.tensor([1, 0])})
    assert out.count == 1 and out.loss.item() == pytest.approx(want, rel=1e-5)


def test_a_probability_of_exactly_one_half_is_off():
    lm = PianoRollLM(num_units=3, cell="rnn", hidden_size=2)
    with torch.no_grad():
        lm.head.weight.zero_()
        lm.head.bias.copy_(torch.tensor([0.0, 0.5, -5.0]))  # p = 1/2, 0.62, 0.007
    y = torch.tensor([[[1.0, 1.0, 0.0]]])  # unit 0 missed (FN), unit 1 found (TP)
    out = lm.compute_loss({"x": torch.zeros_like(y), "y": y})
    assert out.metrics["frame_accuracy"] == pytest.approx(1 / 2)
    assert lm.generate(1, temperature=0.0).tolist() == [[0.0, 1.0, 0.0]]


def test_targets_count_as_on_above_one_half():
    lm = PianoRollLM(num_units=3, cell="rnn", hidden_size=2)
    with torch.no_grad():
        lm.head.weight.zero_()
        lm.head.bias.copy_(torch.tensor([5.0, -5.0, 5.0]))  # predicts units 0 and 2
    y = torch.tensor([[[0.5, 0.0, 1.0]]])  # a target of 0.5 is off: TP 1 (unit 2), FP 1
    out = lm.compute_loss({"x": torch.zeros_like(y), "y": y})
    assert out.metrics["frame_accuracy"] == pytest.approx(1 / 2)


def test_an_empty_chunk_has_loss_0_and_frame_accuracy_1():
    lm = _model("gru")
    x = _frames(2, 3, 5)
    out = lm.compute_loss({"x": x, "y": x, "lengths": torch.tensor([0, 0])})
    assert out.count == 0 and out.loss.item() == 0.0
    assert out.metrics == {"nll_per_step": 0.0, "frame_accuracy": 1.0}


def test_nothing_on_and_nothing_predicted_is_a_frame_accuracy_of_1():
    lm = PianoRollLM(num_units=3, cell="rnn", hidden_size=2)
    with torch.no_grad():
        lm.head.weight.zero_()
        lm.head.bias.fill_(-5.0)
    y = torch.zeros(1, 2, 3)
    assert lm.compute_loss({"x": y, "y": y}).metrics["frame_accuracy"] == 1.0


def test_dropout_before_the_head_in_training():
    lm = _model("gru", dropout=0.5).train()
    layer = TORCH["gru"](5, 6, batch_first=True)
    layer.load_state_dict(lm.encoder.rnn.state_dict())
    x = _frames(2, 4, 5)
    torch.manual_seed(5)
    got = lm(x).logits
    torch.manual_seed(5)
    h, _ = layer(x)
    want = F.dropout(h, 0.5) @ lm.head.weight.T + lm.head.bias
    assert torch.allclose(got, want, atol=1e-5)


def test_input_dropout_acts_on_the_frames_in_training():
    lm = _model("gru", input_dropout=0.5).train()
    layer = TORCH["gru"](5, 6, batch_first=True)
    layer.load_state_dict(lm.encoder.rnn.state_dict())
    x = torch.ones(2, 4, 5)
    torch.manual_seed(6)
    got = lm(x).logits
    torch.manual_seed(6)
    h, _ = layer(F.dropout(x, 0.5))
    assert torch.allclose(got, h @ lm.head.weight.T + lm.head.bias, atol=1e-5)
    h, _ = layer(x)
    assert torch.allclose(lm.eval()(x).logits, h @ lm.head.weight.T + lm.head.bias, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_step_continues_forward(cell):
    lm = _model(cell, seed=3)
    ref = _reference(lm, cell)
    x = _frames(2, 5, 5, seed=5)
    state = lm(x[:, :3]).state
    logits, state = lm.step(x[:, 3], state)
    want, _ = ref(x[:, :4])
    assert torch.allclose(logits, want[:, 3], atol=1e-5)
    first, _ = lm.step(x[:, 0])
    assert torch.allclose(first, want[:, 0], atol=1e-5)


def _replay(lm, cell, prime, steps, temperature, seed):
    """Generation by hand: rerun the whole roll each step, threshold or draw each frame."""
    ref = _reference(lm, cell)
    g = torch.Generator().manual_seed(seed)
    roll = torch.cat([torch.zeros(prime.shape[0], 1, prime.shape[2]), prime], dim=1)
    frames = []
    for _ in range(steps):
        logits = ref(roll)[0][:, -1]  # (B, K)
        if temperature == 0:
            frame = (torch.sigmoid(logits) > 0.5).float()
        else:
            frame = torch.bernoulli(torch.sigmoid(logits / temperature), generator=g)
        frames.append(frame)
        roll = torch.cat([roll, frame[:, None]], dim=1)
    return torch.stack(frames, dim=1)  # (B, steps, K)


@pytest.mark.parametrize("temperature", [0.0, 0.7, 1.0])
def test_generate_from_a_batched_prime_equals_the_replay(temperature):
    lm = _model("lstm", seed=4)
    prime = _frames(2, 3, 5, seed=6)
    got = lm.generate(4, prime=prime, temperature=temperature,
                      generator=torch.Generator().manual_seed(9))
    want = _replay(lm, "lstm", prime, 4, temperature, seed=9)
    assert got.shape == (2, 4, 5) and torch.equal(got, want)
    assert 0 < want.sum() < want.numel()


def test_generate_defaults_to_temperature_1_from_silence_on_the_global_stream():
    lm = _model("gru", seed=5)
    torch.manual_seed(3)  # the global stream seeded alike draws the same numbers
    got = lm.generate(6)
    want = _replay(lm, "gru", torch.zeros(1, 0, 5), 6, 1.0, seed=3)
    assert got.shape == (6, 5) and torch.equal(got, want[0])


def test_generate_from_an_unbatched_prime():
    lm = _model("gru", seed=6)
    prime = _frames(1, 2, 5, seed=7)[0]  # (T0, K)
    got = lm.generate(5, prime=prime, temperature=0.8,
                      generator=torch.Generator().manual_seed(21))
    want = _replay(lm, "gru", prime[None], 5, 0.8, seed=21)
    assert got.shape == (5, 5) and torch.equal(got, want[0])


def test_generate_batch_size_and_an_unbatched_prime():
    lm = _model("gru", seed=7)
    got = lm.generate(3, temperature=0.0, batch_size=2)
    want = _replay(lm, "gru", torch.zeros(2, 0, 5), 3, 0.0, seed=0)
    assert got.shape == (2, 3, 5) and torch.equal(got, want)
    prime = _frames(1, 4, 5, seed=8)[0]
    got = lm.generate(3, prime=prime, temperature=0.0)
    assert got.shape == (3, 5) and torch.equal(got, _replay(lm, "gru", prime[None], 3, 0.0, 0)[0])


def test_no_steps_and_the_number_of_model_steps():
    lm = _model("gru")
    assert lm.generate(0).shape == (0, 5)
    assert lm.generate(0, prime=_frames(3, 2, 5)).shape == (3, 0, 5)
    assert lm.generate(0, prime=_frames(1, 2, 5)[0]).shape == (0, 5)
    calls = []
    step = lm.step
    lm.step = lambda frame, state: calls.append(1) or step(frame, state)
    assert len(list(lm.iter_generate(4, temperature=0.0))) == 4
    assert len(calls) == 3  # the last frame needs no further step


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_a_batch_without_a_prime_has_batch_size_rows_even_of_no_steps(steps):
    # (a bug: 0 steps gave a batch of one, (1, 0, K), where 1 step gave (3, 1, K))
    assert _model("gru").generate(steps, batch_size=3).shape == (3, steps, 5)


def test_a_negative_temperature_is_refused():
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"^temperature must be a number >= 0, got {bad}$"):
            next(_model("gru").iter_generate(2, temperature=bad))
    assert next(_model("gru").iter_generate(1, temperature=0.0)).shape == (1, 5)
