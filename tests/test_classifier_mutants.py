"""The pooled classifier and regressor (rnnkit/models/classifier.py): their defaults, what
reaches the encoder, and their losses and metrics against the same figures computed by
hand from ``forward`` with the batch's lengths (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import SequenceClassifier, SequenceRegressor

DEFAULTS = {"cell": "lstm", "hidden_size": 128, "num_layers": 1, "bidirectional": False,
            "dropout": 0.0, "pooling": "last", "input_size": None}


@pytest.mark.parametrize("cls, head", [(SequenceClassifier, {"num_classes": 3}),
                                       (SequenceRegressor, {})])
def test_defaults_and_the_embedding_size_recorded(cls, head):
    model = cls(vocab_size=11, **head)
    config = model.get_config()
    assert {k: config[k] for k in DEFAULTS} == DEFAULTS
    assert config["embedding_dim"] == 128  # the encoder's choice, recorded
    assert model.encoder.embedding.weight.shape == (11, 128)
    assert isinstance(model.encoder.rnn, torch.nn.LSTM)
    assert model.encoder.rnn.hidden_size == 128 and model.encoder.rnn.num_layers == 1
    assert not model.encoder.rnn.bidirectional
    if cls is SequenceRegressor:
        assert config["output_size"] == 1 and model.head.out_features == 1


@pytest.mark.parametrize("cls, head", [(SequenceClassifier, {"num_classes": 3}),
                                       (SequenceRegressor, {"output_size": 2})])
def test_every_option_reaches_the_encoder(cls, head):
    model = cls(vocab_size=11, cell="gru", hidden_size=5, num_layers=2, bidirectional=True,
                dropout=0.25, embedding_dim=7, **head)
    rnn = model.encoder.rnn
    assert model.encoder.embedding.weight.shape == (11, 7)
    assert model.get_config()["embedding_dim"] == 7
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers) == (7, 5, 2)
    assert rnn.bidirectional and rnn.dropout == 0.25
    assert model.head.in_features == 10


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, 11, (4, 6), generator=g)
    lengths = torch.tensor([6, 2, 4, 1])
    for b, n in enumerate(lengths.tolist()):
        x[b, n:] = torch.randint(1, 11, (6 - n,), generator=g)  # padding that would matter
    return x, lengths


def test_classifier_loss_and_accuracy_use_the_lengths():
    torch.manual_seed(1)
    model = SequenceClassifier(num_classes=3, vocab_size=11, cell="gru", hidden_size=6).eval()
    x, lengths = _batch()
    y = torch.tensor([0, 2, 1, 2])
    out = model.compute_loss({"x": x, "y": y, "lengths": lengths})
    logits = model(x, lengths).logits
    assert not torch.allclose(logits, model(x).logits)  # the lengths change the result
    assert out.loss.item() == pytest.approx(F.cross_entropy(logits, y).item())
    assert out.metrics == {"accuracy": pytest.approx((logits.argmax(1) == y).float().mean()
                                                     .item())}
    assert out.count == 4


def test_regressor_loss_metric_and_count():
    torch.manual_seed(2)
    model = SequenceRegressor(vocab_size=11, cell="gru", hidden_size=6).eval()
    x, lengths = _batch(1)
    y = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)  # (B,), another dtype
    out = model.compute_loss({"x": x, "y": y, "lengths": lengths})
    pred = model(x, lengths).logits  # (B, 1)
    assert not torch.allclose(pred, model(x).logits)
    want = ((pred[:, 0] - y.float()) ** 2).mean().item()
    assert out.loss.item() == pytest.approx(want, rel=1e-6)
    assert out.loss.dtype == torch.float32
    assert out.metrics == {"mse": pytest.approx(want, rel=1e-6)}
    assert out.count == 4
    two = SequenceRegressor(input_size=3, output_size=2, hidden_size=4)
    out2 = two.compute_loss({"x": torch.randn(5, 3, 3), "y": torch.randn(5, 2)})
    assert out2.count == 5
