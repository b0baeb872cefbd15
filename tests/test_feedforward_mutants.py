"""``FeedForward`` (rnnkit/models/feedforward.py): the MLP against its formula from the
model's own weights, its losses and metrics against the same figures worked out by hand
(found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.models import FeedForward


def _mlp(model: FeedForward, x: torch.Tensor) -> torch.Tensor:
    """relu(x W_1^T + b_1) ... then the last linear map, from the model's weights."""
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    h = x
    for lin in linears[:-1]:
        h = (h @ lin.weight.T + lin.bias).clamp_min(0)
    return h @ linears[-1].weight.T + linears[-1].bias


def test_defaults():
    model = FeedForward(input_size=6, output_size=3)
    assert model.get_config() == {"input_size": 6, "output_size": 3, "hidden_sizes": [64],
                                  "task": "classification", "dropout": 0.0}
    assert [type(m) for m in model.net] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert model.net[0].weight.shape == (64, 6) and model.net[3].weight.shape == (3, 64)
    assert model.net[2].p == 0.0


def test_layers_follow_hidden_sizes_and_the_config_is_a_copy():
    model = FeedForward(input_size=6, output_size=2, hidden_sizes=(5, 4), task="regression",
                        dropout=0.25)
    assert [type(m) for m in model.net] == [nn.Linear, nn.ReLU, nn.Dropout] * 2 + [nn.Linear]
    shapes = [tuple(m.weight.shape) for m in model.net if isinstance(m, nn.Linear)]
    assert shapes == [(5, 6), (4, 5), (2, 4)]
    assert [m.p for m in model.net if isinstance(m, nn.Dropout)] == [0.25, 0.25]
    config = model.get_config()
    assert config == {"input_size": 6, "output_size": 2, "hidden_sizes": [5, 4],
                      "task": "regression", "dropout": 0.25}
    config["task"] = "classification"
    assert model.get_config()["task"] == "regression"


def test_an_unknown_task_is_refused():
    with pytest.raises(ValueError, match="^task must be one of \\('classification', "
                                         "'regression'\\), got 'ranking'$"):
        FeedForward(input_size=2, output_size=2, task="ranking")


def test_forward_is_the_mlp_on_flattened_float_inputs():
    torch.manual_seed(0)
    model = FeedForward(input_size=6, output_size=3, hidden_sizes=[5, 4]).eval()
    x = torch.randn(4, 2, 3)  # (B, T, F) read as (B, T*F)
    assert torch.allclose(model(x), _mlp(model, x.reshape(4, 6)), atol=1e-6)
    ints = torch.randint(-3, 4, (4, 6))
    out = model(ints)
    assert out.dtype == torch.float32
    assert torch.allclose(out, _mlp(model, ints.float()), atol=1e-6)


def test_dropout_acts_after_each_relu_in_training():
    torch.manual_seed(1)
    model = FeedForward(input_size=4, output_size=2, hidden_sizes=[6], dropout=0.5)
    x = torch.randn(3, 4)
    lin1, lin2 = model.net[0], model.net[3]
    torch.manual_seed(7)
    out = model(x)
    torch.manual_seed(7)
    h = torch.nn.functional.dropout((x @ lin1.weight.T + lin1.bias).clamp_min(0), 0.5)
    assert torch.allclose(out, h @ lin2.weight.T + lin2.bias, atol=1e-6)
    assert torch.allclose(model.eval()(x), _mlp(model, x), atol=1e-6)


def test_classification_loss_accuracy_and_count():
    torch.manual_seed(2)
    model = FeedForward(input_size=3, output_size=4, hidden_sizes=[5]).eval()
    x, y = torch.randn(5, 3), torch.tensor([0, 3, 1, 1, 2])
    logits = _mlp(model, x)
    nll = -(logits.log_softmax(-1)[torch.arange(5), y]).mean()
    hits = sum(int(row.argmax()) == int(t) for row, t in zip(logits, y, strict=True))
    out = model.compute_loss({"x": x, "y": y})
    assert out.loss.item() == pytest.approx(nll.item(), rel=1e-5)
    assert out.metrics == {"accuracy": pytest.approx(hits / 5)}
    assert out.count == 5


def test_accuracy_counts_the_argmax_over_classes():
    model = FeedForward(input_size=2, output_size=3, hidden_sizes=[]).eval()
    with torch.no_grad():  # logits = x @ W^T: rows pick classes 2, 0 and 1
        model.net[0].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]]))
        model.net[0].bias.zero_()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 3.0]])  # logits [1,1,2], [1,0,0], [3,1,2]
    out = model.compute_loss({"x": x, "y": torch.tensor([2, 0, 2])})
    assert out.metrics["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
def test_regression_loss_is_the_mse(shape):
    torch.manual_seed(3)
    model = FeedForward(input_size=3, output_size=1, hidden_sizes=[5], task="regression").eval()
    x = torch.randn(4, 3)
    y = torch.randn(shape, dtype=torch.float64)
    pred = _mlp(model, x)[:, 0]
    want = ((pred.double() - y.reshape(4)) ** 2).mean().item()
    out = model.compute_loss({"x": x, "y": y})
    assert out.loss.dtype == torch.float32
    assert out.loss.item() == pytest.approx(want, rel=1e-5)
    assert out.metrics == {"mse": pytest.approx(want, rel=1e-5)}
    assert out.count == 4


def test_regression_with_several_outputs():
    torch.manual_seed(4)
    model = FeedForward(input_size=3, output_size=2, hidden_sizes=[5], task="regression").eval()
    x, y = torch.randn(3, 3), torch.randn(3, 2)
    want = ((_mlp(model, x) - y) ** 2).mean().item()
    out = model.compute_loss({"x": x, "y": y})
    assert out.loss.item() == pytest.approx(want, rel=1e-5) and out.count == 3


def test_predict_proba_is_the_softmax_of_the_logits():
    torch.manual_seed(5)
    model = FeedForward(input_size=3, output_size=4, hidden_sizes=[5]).eval()
    x = torch.randn(6, 3)
    e = _mlp(model, x).exp()
    p = model.predict_proba(x)
    assert torch.allclose(p, e / e.sum(1, keepdim=True), atol=1e-6)
    assert not p.requires_grad
