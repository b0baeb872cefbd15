"""The forecaster (rnnkit/models/forecaster.py) against its parts run by hand: the direct
head over the encoder's state and the horizon's covariates, the autoregressive decoder
rolled from the last observed target (feeding back its own point forecast, or the truth
under teacher forcing), the loss and metrics, and every message (found by mutation
testing, benchmarks/mutation.py: the autoregressive path with covariates was reached by no
fast test)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models import Forecaster


def _x(B=3, W=6, I=3, seed=0):
    return torch.randn(B, W, I, generator=torch.Generator().manual_seed(seed))


def test_direct_head_reads_the_final_state_and_the_future_covariates():
    torch.manual_seed(0)
    m = Forecaster(horizon=4, input_size=3, output_size=2, covariates=1, cell="gru",
                   hidden_size=5, output="quantile").eval()
    x, future = _x(), torch.randn(3, 4, 1)
    params = m(x, future=future)
    assert params.shape == (3, 4, 2, 3)
    _, h_n = m.encoder(x)
    h = torch.cat([m.encoder.final_hidden(h_n), future.reshape(3, -1)], -1)
    torch.testing.assert_close(params, m.head(h).view(3, 4, 2, 3))
    lengths = torch.tensor([6, 2, 4])
    _, h_l = m.encoder(x, lengths)
    h = torch.cat([m.encoder.final_hidden(h_l), future.reshape(3, -1)], -1)
    torch.testing.assert_close(m(x, lengths, future=future), m.head(h).view(3, 4, 2, 3))


def _rolled(m, x, lengths, future=None, truth=None):
    """The autoregressive forecast by hand: the decoder's steps from the encoder's state,
    fed the last observed target, then its own median (or the truth)."""
    B, F, P = x.shape[0], m.output_size, m.out.n_params
    _, h_n = m.encoder(x, lengths)
    last = lengths - 1 if lengths is not None else torch.full((B,), x.shape[1] - 1)
    prev = x[torch.arange(B), last, :F]
    state, outs = m.decoder.start(h_n), []
    for h in range(m.horizon):
        u = prev if future is None else torch.cat([prev, future[:, h]], -1)
        out, state, _ = m.decoder.step(u, state)
        outs.append(out)
        prev = m.out.point(out.view(B, F, P)) if truth is None else truth[:, h]
    return torch.stack(outs, 1).view(B, m.horizon, F, P)


@pytest.mark.parametrize("covariates", [0, 1])
def test_autoregressive_forecast_rolls_from_the_last_observed_target(covariates):
    torch.manual_seed(1)
    m = Forecaster(horizon=5, input_size=3, output_size=2, covariates=covariates, cell="gru",
                   hidden_size=4, mode="autoregressive", output="quantile").eval()
    x, lengths = _x(seed=1), torch.tensor([6, 3, 5])
    future = torch.randn(3, 5, 1) if covariates else None
    got = m(x, lengths, future=future)
    torch.testing.assert_close(got, _rolled(m, x, lengths, future))
    torch.testing.assert_close(m(x, future=future), _rolled(m, x, None, future))
    assert not torch.allclose(got, m(x, future=future))  # the lengths pick the start


@pytest.mark.parametrize("covariates", [0, 1])
def test_teacher_forcing_feeds_the_truth_in_training_only(covariates):
    torch.manual_seed(2)
    m = Forecaster(horizon=4, input_size=3, output_size=2, covariates=covariates, cell="gru",
                   hidden_size=4, mode="autoregressive", teacher_forcing=1.0)
    x, y = _x(seed=2), torch.randn(3, 4, 2)
    future = torch.randn(3, 4, 1) if covariates else None
    m.train()
    torch.testing.assert_close(m(x, y=y, future=future), _rolled(m, x, None, future, truth=y))
    m.eval()
    torch.testing.assert_close(m(x, y=y, future=future), _rolled(m, x, None, future))
    never = Forecaster(horizon=4, input_size=3, output_size=2, covariates=covariates,
                       cell="gru", hidden_size=4, mode="autoregressive").train()
    with torch.no_grad():
        for p, q in zip(never.parameters(), m.parameters()):
            p.copy_(q)
    torch.testing.assert_close(never(x, y=y, future=future), _rolled(never, x, None, future))


def test_loss_and_metrics_by_hand():
    torch.manual_seed(3)
    m = Forecaster(horizon=3, input_size=2, output_size=2, cell="gru", hidden_size=4).eval()
    x, y = _x(I=2, seed=3), torch.randn(3, 3, 2)
    lengths = torch.tensor([6, 2, 4])
    out = m.compute_loss({"x": x, "y": y, "lengths": lengths})
    pred = m(x, lengths)[..., 0]
    assert out.loss.item() == pytest.approx(((pred - y) ** 2).mean().item(), rel=1e-6)
    assert out.metrics == {"mae": pytest.approx((pred - y).abs().mean().item(), rel=1e-6),
                           "mse": pytest.approx(((pred - y) ** 2).mean().item(), rel=1e-6)}
    assert out.count == 3
    one = Forecaster(horizon=3, input_size=1, cell="gru", hidden_size=4).eval()
    y1 = torch.randn(3, 3, dtype=torch.float64)  # (B, horizon): one target, another dtype
    out1 = one.compute_loss({"x": _x(I=1), "y": y1})
    p1 = one(_x(I=1))[..., 0, 0]
    assert out1.loss.item() == pytest.approx(((p1 - y1.float()) ** 2).mean().item(), rel=1e-6)


def test_config_and_messages():
    m = Forecaster(horizon=2)
    assert m.get_config() == {"horizon": 2, "input_size": 1, "output_size": 1, "cell": "lstm",
                              "hidden_size": 64, "num_layers": 1, "dropout": 0.0,
                              "mode": "direct", "output": "point", "quantiles": [0.1, 0.5, 0.9],
                              "teacher_forcing": 0.0}
    assert isinstance(m.encoder.rnn, torch.nn.LSTM) and m.dropout.p == 0.0
    full = Forecaster(horizon=2, input_size=3, covariates=2, interval_factors=(1, 2.5),
                      dropout=0.25, num_layers=2, mode="autoregressive", teacher_forcing=0.5)
    config = full.get_config()
    assert config["covariates"] == 2 and config["interval_factors"] == [1.0, 2.5]
    assert config["teacher_forcing"] == 0.5 and full.interval_factors == [1.0, 2.5]
    assert full.decoder.rnn.num_layers == 2 and full.decoder.rnn.dropout == 0.25
    assert full.decoder.rnn.input_size == 1 + 2
    with pytest.raises(ValueError) as err:
        Forecaster(horizon=2, mode="seq")
    assert str(err.value) == "mode must be one of ('direct', 'autoregressive'), got 'seq'"
    with pytest.raises(ValueError) as err:
        Forecaster(horizon=2, input_size=2, output_size=2, covariates=1)
    assert str(err.value) == ("the targets are the first output_size features of x and the "
                              "covariates the last: output_size (2) + covariates (1) must be "
                              "<= input_size (2)")
    assert Forecaster(horizon=2, input_size=3, output_size=2, covariates=1).covariates == 1
    cov = Forecaster(horizon=3, input_size=2, covariates=1)
    for future, got in ((None, None), (torch.zeros(4, 3, 2), (4, 3, 2))):
        with pytest.raises(ValueError) as err:
            cov(torch.zeros(4, 5, 2), future=future)
        assert str(err.value) == ("this forecaster reads 1 covariate(s) over its horizon: "
                                  f"give future of shape (4, 3, 1), got {got}")


def test_the_encoder_gets_its_layers_and_dropout():
    m = Forecaster(horizon=2, input_size=2, num_layers=2, dropout=0.25, cell="gru")
    assert m.encoder.rnn.num_layers == 2 and m.encoder.rnn.dropout == 0.25


def test_partial_teacher_forcing_draws_per_sequence_and_step():
    torch.manual_seed(4)
    m = Forecaster(horizon=5, input_size=3, output_size=2, covariates=1, cell="gru",
                   hidden_size=4, mode="autoregressive", teacher_forcing=0.5).train()
    x, y, future = _x(B=6, seed=4), torch.randn(6, 5, 2), torch.randn(6, 5, 1)
    torch.manual_seed(7)
    got = m(x, y=y, future=future)
    torch.manual_seed(7)
    B, P = 6, m.out.n_params
    _, h_n = m.encoder(x)
    prev, state, outs = x[:, -1, :2], m.decoder.start(h_n), []
    for h in range(5):
        out, state, _ = m.decoder.step(torch.cat([prev, future[:, h]], -1), state)
        outs.append(out)
        prev = m.out.point(out.detach().view(B, 2, P))
        use = torch.rand(B, 1) < 0.5
        prev = torch.where(use, y[:, h], prev)
    torch.testing.assert_close(got, torch.stack(outs, 1).view(B, 5, 2, P))


def test_compute_loss_passes_the_targets_and_the_future():
    torch.manual_seed(5)
    m = Forecaster(horizon=4, input_size=3, output_size=2, covariates=1, cell="gru",
                   hidden_size=4, mode="autoregressive", teacher_forcing=1.0).train()
    x, y, future = _x(B=3, seed=5), torch.randn(3, 4, 2), torch.randn(3, 4, 1)
    out = m.compute_loss({"x": x, "y": y, "future": future})
    pred = _rolled(m, x, None, future, truth=y)[..., 0]
    assert out.loss.item() == pytest.approx(((pred - y) ** 2).mean().item(), rel=1e-6)
    assert out.count == 3 and out.loss.dtype == torch.float32
    with pytest.raises(ValueError, match="give future of shape"):
        m.compute_loss({"x": x, "y": y})


def test_inputs_of_another_float_dtype_are_cast_to_the_model_s():
    torch.manual_seed(6)
    m = Forecaster(horizon=3, input_size=2, covariates=1, cell="gru", hidden_size=4,
                   mode="autoregressive", teacher_forcing=1.0).train()
    x, y = _x(B=2, I=2, seed=6), torch.randn(2, 3, dtype=torch.float64)
    future = torch.randn(2, 3, 1, dtype=torch.float64)
    params = m(x, y=y, future=future)
    assert params.dtype == torch.float32
    out = m.compute_loss({"x": x, "y": y, "future": future})
    assert out.loss.dtype == torch.float32
    direct = Forecaster(horizon=3, input_size=2, covariates=1, hidden_size=4).eval()
    assert direct(x, future=future).dtype == torch.float32
    m.eval()
    assert m(x, future=future).dtype == torch.float32
