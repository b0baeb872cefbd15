"""Seed ensembles (rnnkit/models/ensemble.py) where the training and round-trip tests do not
look: the defaults, an ensemble of one, the refused sizes, the members' mean metrics and
what the ensemble reports of its members (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import Forecaster
from rnnkit.models.ensemble import ClassifierEnsemble, ForecastEnsemble

CLS = {"num_classes": 3, "vocab_size": 9, "hidden_size": 4, "pooling": "attention"}
FC = {"horizon": 3, "hidden_size": 4, "input_size": 2, "covariates": 1}


def test_two_members_by_default():
    assert len(ClassifierEnsemble(**CLS).members) == 2
    assert len(ForecastEnsemble(**FC).members) == 2


@pytest.mark.parametrize("cls, config", [(ClassifierEnsemble, CLS), (ForecastEnsemble, FC)])
def test_an_ensemble_of_one_is_allowed_and_none_is_refused(cls, config):
    one = cls(members=1, seed=0, **config)
    assert len(one.members) == 1
    assert one.get_config() == {"members": 1, "seed": 0, **one.members[0].get_config()}
    for bad in (0, -2):
        with pytest.raises(ValueError) as err:
            cls(members=bad, **config)
        assert str(err.value) == f"members must be >= 1, got {bad}"


def test_a_classifier_ensemble_of_one_is_its_member():
    torch.manual_seed(0)
    model = ClassifierEnsemble(members=1, seed=3, **CLS).eval()
    x, lengths = torch.randint(1, 9, (4, 6)), torch.tensor([6, 2, 4, 1])
    out = model(x, lengths)
    ref = model.members[0](x, lengths)
    torch.testing.assert_close(out.logits.softmax(-1), ref.logits.softmax(-1))
    torch.testing.assert_close(out.weights, ref.weights)


def test_forecast_ensemble_reports_its_members_covariates_and_mean_metrics():
    torch.manual_seed(1)
    model = ForecastEnsemble(members=3, seed=0, **FC)
    assert model.covariates == 1 and model.horizon == 3 and model.output_size == 1
    batch = {"x": torch.randn(5, 7, 2), "y": torch.randn(5, 3),
             "future": torch.randn(5, 3, 1)}
    out = model.compute_loss(batch)
    parts = [m.compute_loss(batch) for m in model.members]
    assert out.count == 5
    assert set(out.metrics) == {"mae", "mse"}
    for key in out.metrics:
        assert out.metrics[key] == pytest.approx(sum(p.metrics[key] for p in parts) / 3)
    assert out.loss.item() == pytest.approx(sum(p.loss.item() for p in parts) / 3)
    assert isinstance(model.members[0], Forecaster)
