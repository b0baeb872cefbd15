"""The sequence tagger (rnnkit/models/tagger.py): defaults and options, the CTC loss against
``F.ctc_loss`` called by hand (an impossible alignment gives 0, not inf), best-path decoding
of full-length rows (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import SequenceTagger
from rnnkit.models.tagger import ctc_greedy_decode


def test_defaults_options_and_config():
    t = SequenceTagger(num_tags=5, vocab_size=9)
    assert isinstance(t.encoder.rnn, torch.nn.LSTM) and t.encoder.rnn.hidden_size == 128
    assert t.encoder.rnn.num_layers == 1 and not t.encoder.rnn.bidirectional
    assert t.time_keys == ("x", "y")
    assert t.get_config() == {"num_tags": 5, "vocab_size": 9, "input_size": None,
                              "cell": "lstm", "hidden_size": 128, "num_layers": 1,
                              "bidirectional": False, "dropout": 0.0, "embedding_dim": 128,
                              "loss": "ce", "blank": 0}
    c = SequenceTagger(num_tags=5, vocab_size=9, cell="gru", hidden_size=4, num_layers=2,
                       bidirectional=True, dropout=0.25, embedding_dim=3, loss="ctc", blank=4)
    rnn = c.encoder.rnn
    assert isinstance(rnn, torch.nn.GRU) and (rnn.input_size, rnn.hidden_size) == (3, 4)
    assert rnn.num_layers == 2 and rnn.bidirectional and rnn.dropout == 0.25
    assert c.time_keys == () and c.head.in_features == 8
    assert c.get_config() == {"num_tags": 5, "vocab_size": 9, "input_size": None,
                              "cell": "gru", "hidden_size": 4, "num_layers": 2,
                              "bidirectional": True, "dropout": 0.25, "embedding_dim": 3,
                              "loss": "ctc", "blank": 4}
    with pytest.raises(ValueError) as err:
        SequenceTagger(num_tags=5, vocab_size=9, loss="mse")
    assert str(err.value) == "loss must be one of ('ce', 'ctc'), got 'mse'"


def test_ctc_loss_by_hand_with_and_without_lengths():
    torch.manual_seed(0)
    t = SequenceTagger(num_tags=5, input_size=3, cell="gru", hidden_size=4, loss="ctc").eval()
    x = torch.randn(2, 6, 3)
    y, target_lengths = torch.tensor([[1, 2, 3], [4, 0, 0]]), torch.tensor([3, 1])
    for lengths in (None, torch.tensor([6, 4])):
        out = t.compute_loss({"x": x, "y": y, "target_lengths": target_lengths,
                              "lengths": lengths})
        log_probs = t(x, lengths).logits.log_softmax(-1).transpose(0, 1)
        inputs = torch.tensor([6, 6]) if lengths is None else lengths
        want = F.ctc_loss(log_probs, y, inputs, target_lengths, blank=0, reduction="mean")
        assert out.loss.item() == pytest.approx(want.item(), rel=1e-6)
        assert out.metrics == {"ctc": pytest.approx(want.item(), rel=1e-6)} and out.count == 2
    sums = F.ctc_loss(log_probs, y, inputs, target_lengths, blank=0, reduction="sum")
    assert sums.item() != pytest.approx(want.item())  # the reduction matters
    long = {"x": x[:, :2], "y": torch.tensor([[1, 2, 3], [1, 2, 3]]),
            "target_lengths": torch.tensor([3, 3])}  # 3 labels in 2 steps: impossible
    assert t.compute_loss(long).loss.item() == 0.0


def test_greedy_decoding_of_full_length_rows():
    scores = torch.full((2, 5, 3), -1.0)
    for b, row in enumerate(([1, 1, 0, 2, 2], [2, 0, 2, 1, 1])):
        for i, c in enumerate(row):
            scores[b, i, c] = 1.0
    assert ctc_greedy_decode(scores) == [[1, 2], [2, 2, 1]]
    assert ctc_greedy_decode(scores, torch.tensor([2, 3])) == [[1], [2, 2]]
    assert ctc_greedy_decode(scores, blank=2) == [[1, 0], [0, 1]]


def test_cross_entropy_over_the_valid_steps_by_hand():
    torch.manual_seed(1)
    t = SequenceTagger(num_tags=4, input_size=3, cell="gru", hidden_size=5).eval()
    x, lengths = torch.randn(3, 6, 3), torch.tensor([6, 2, 4])
    logits = t(x, lengths).logits
    y = torch.randint(0, 4, (3, 6))
    y[:, ::2] = logits.argmax(-1)[:, ::2]  # some right
    y[0, 5] = -100  # an ignored tag inside the length
    out = t.compute_loss({"x": x, "y": y, "lengths": lengths})
    valid = (torch.arange(6)[None] < lengths[:, None]) & (y != -100)
    assert out.count == int(valid.sum()) == 11
    want = F.cross_entropy(logits[valid], y[valid], reduction="sum") / 11
    assert out.loss.item() == pytest.approx(want.item(), rel=1e-6)
    acc = (logits.argmax(-1)[valid] == y[valid]).float().mean().item()
    assert 0.3 < acc < 1 and out.metrics == {"accuracy": pytest.approx(acc)}
    torch.testing.assert_close(out.state, t(x, lengths).state)  # each sequence's end
    assert not torch.allclose(out.state, t(x).state)
    one = t.compute_loss({"x": x[:1], "y": logits.argmax(-1)[:1], "lengths": torch.tensor([1])})
    assert one.count == 1 and one.metrics["accuracy"] == 1.0
    assert one.loss.item() == pytest.approx(
        F.cross_entropy(logits[:1, 0], logits.argmax(-1)[:1, 0]).item(), rel=1e-5)


def test_greedy_decoding_with_more_rows_than_steps():
    scores = torch.zeros(4, 2, 3)
    scores[:, 0, 1] = scores[:, 1, 2] = 1.0
    assert ctc_greedy_decode(scores) == [[1, 2]] * 4


def test_ctc_with_another_blank_and_the_recorded_input_size():
    torch.manual_seed(2)
    t = SequenceTagger(num_tags=5, input_size=3, cell="gru", hidden_size=4, loss="ctc",
                       blank=4).eval()
    assert t.get_config()["input_size"] == 3 and t.get_config()["vocab_size"] is None
    x = torch.randn(2, 6, 3)
    y, target_lengths = torch.tensor([[0, 1, 2], [3, 0, 0]]), torch.tensor([3, 1])
    out = t.compute_loss({"x": x, "y": y, "target_lengths": target_lengths})
    log_probs = t(x).logits.log_softmax(-1).transpose(0, 1)
    want = F.ctc_loss(log_probs, y, torch.tensor([6, 6]), target_lengths, blank=4)
    assert out.loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert out.loss.item() != pytest.approx(
        F.ctc_loss(log_probs, y, torch.tensor([6, 6]), target_lengths, blank=0).item())
