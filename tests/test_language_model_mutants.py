"""The language model (rnnkit/models/language_model.py): defaults and options reaching the
encoder, the loss and metrics against cross-entropy by hand over each sequence's valid
steps, and generation of nothing (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import LanguageModel


def test_defaults_and_options_reach_the_encoder():
    lm = LanguageModel(vocab_size=7)
    rnn = lm.encoder.rnn
    assert isinstance(rnn, torch.nn.LSTM) and rnn.hidden_size == 128 and rnn.num_layers == 1
    assert lm.encoder.embedding.padding_idx is None  # every id is a token, none padding
    assert lm.get_config() == {"vocab_size": 7, "cell": "lstm", "hidden_size": 128,
                               "num_layers": 1, "dropout": 0.0, "embedding_dim": 128,
                               "tie_weights": False}
    deep = LanguageModel(vocab_size=7, cell="gru", hidden_size=6, num_layers=2, dropout=0.25,
                         embedding_dim=5)
    assert isinstance(deep.encoder.rnn, torch.nn.GRU)
    assert deep.encoder.rnn.num_layers == 2 and deep.encoder.rnn.dropout == 0.25
    assert deep.get_config()["cell"] == "gru" and deep.get_config()["dropout"] == 0.25
    assert deep.get_config()["embedding_dim"] == 5 and deep.dropout.p == 0.25


def test_loss_and_metrics_by_hand_over_the_valid_steps():
    torch.manual_seed(0)
    lm = LanguageModel(vocab_size=7, cell="gru", hidden_size=6).eval()
    x = torch.randint(0, 7, (3, 5))
    lengths = torch.tensor([5, 2, 3])
    logits = lm(x, lengths).logits
    y = torch.randint(0, 7, (3, 5))
    y[:, ::2] = logits.argmax(-1)[:, ::2]  # some right, some (likely) wrong
    out = lm.compute_loss({"x": x, "y": y, "lengths": lengths})
    whole = lm(x)
    for a, b in zip(out.state, lm(x, lengths).state):  # the state at each sequence's end
        torch.testing.assert_close(a, b)
    assert not torch.allclose(out.state[0], whole.state[0])
    valid = torch.arange(5)[None] < lengths[:, None]
    nll = F.cross_entropy(logits[valid], y[valid], reduction="sum") / 10
    assert out.loss.item() == pytest.approx(nll.item(), rel=1e-6)
    assert out.count == 10
    acc = (logits.argmax(-1)[valid] == y[valid]).float().mean().item()
    assert 0.3 < acc < 1  # so that a wrong divisor or index shows
    assert out.metrics["accuracy"] == pytest.approx(acc)
    assert out.metrics["perplexity"] == pytest.approx(math.exp(nll.item()), rel=1e-6)
    assert out.metrics["bits_per_token"] == pytest.approx(nll.item() / math.log(2), rel=1e-6)


def test_a_huge_loss_caps_the_perplexity_and_counts_one_valid_step():
    lm = LanguageModel(vocab_size=3, cell="gru", hidden_size=4).eval()
    with torch.no_grad():
        lm.head.weight.zero_()
        lm.head.bias.copy_(torch.tensor([0.0, 0.0, 200.0]))  # always says token 2
    x, y = torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)
    out = lm.compute_loss({"x": x, "y": y, "lengths": torch.tensor([1])})
    assert out.count == 1 and out.loss.item() == pytest.approx(200.0, rel=1e-4)
    assert out.metrics["perplexity"] == math.exp(50.0)
    assert out.metrics["accuracy"] == 0.0
    right = lm.compute_loss({"x": x, "y": torch.full((1, 3), 2), "lengths": torch.tensor([1])})
    assert right.count == 1 and right.metrics["accuracy"] == 1.0


def test_generating_nothing_gives_an_empty_tensor_of_the_prompt_s_layout():
    lm = LanguageModel(vocab_size=5, cell="gru", hidden_size=4)
    one = lm.generate(torch.tensor([1, 2, 3]), 0)
    assert one.shape == (0,) and one.dtype == torch.long
    batch = lm.generate(torch.tensor([[1, 2], [3, 4], [0, 1]]), 0)
    assert batch.shape == (3, 0)
