"""What a forecaster emits per horizon step and target: a point, quantiles or a Gaussian.

Each output kind has ``n_params`` values per (step, target), a ``loss(params, y)`` with
params (B, H, F, n_params) and y (B, H, F), the ``point(params)`` forecast (B, H, F) fed back
by autoregressive decoding, and ``summary(params) -> Forecast``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class Forecast:
    """``point`` (B, H[, F]): the mean (point, gaussian) or the median (quantile);
    ``quantiles`` (B, H[, F], Q) at ``levels``; ``std`` (B, H[, F]) for gaussian."""

    point: Tensor
    quantiles: Tensor | None = None
    levels: tuple[float, ...] | None = None
    std: Tensor | None = None


def pinball_loss(pred: Tensor, y: Tensor, quantiles: Tensor) -> Tensor:
    r"""Mean quantile (pinball) loss: pred (..., Q), y (...), quantiles (Q,).

    .. math:: \rho_q(e) = \max(q e, (q - 1) e), \quad e = y - \hat y_q
    """
    e = y.unsqueeze(-1) - pred  # (..., Q)
    return torch.maximum(quantiles * e, (quantiles - 1) * e).mean()


def gaussian_nll(mean: Tensor, std: Tensor, y: Tensor) -> Tensor:
    r"""Mean negative log-likelihood of y under N(mean, std^2):
    :math:`\log\sigma + \tfrac12\log 2\pi + (y-\mu)^2 / 2\sigma^2`."""
    return (torch.log(std) + 0.5 * math.log(2 * math.pi) + (y - mean) ** 2 / (2 * std**2)).mean()


class PointOutput:
    """One value per step; mean-squared-error loss."""

    n_params = 1

    def loss(self, params: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(params[..., 0], y)

    def point(self, params: Tensor) -> Tensor:
        return params[..., 0]

    def summary(self, params: Tensor) -> Forecast:
        return Forecast(self.point(params))


class QuantileOutput:
    """One value per quantile level; pinball loss. :meth:`summary` sorts the quantiles (a
    head trained with pinball loss is not monotone by construction, and an under-trained
    one crosses them) and takes the point forecast as the median of the sorted values
    (the level closest to 0.5), so the point lies inside every central interval."""

    def __init__(self, quantiles):
        self.levels = tuple(float(q) for q in quantiles)
        if not self.levels or not all(0.0 < q < 1.0 for q in self.levels):
            raise ValueError(f"quantiles must lie in (0, 1), got {quantiles!r}")
        self.n_params = len(self.levels)
        self.median = min(range(self.n_params), key=lambda i: abs(self.levels[i] - 0.5))
        self.order = sorted(range(self.n_params), key=lambda i: self.levels[i])
        self.sorted_levels = tuple(self.levels[i] for i in self.order)
        self.sorted_median = self.order.index(self.median)

    def loss(self, params: Tensor, y: Tensor) -> Tensor:
        return pinball_loss(params, y, params.new_tensor(self.levels))

    def point(self, params: Tensor) -> Tensor:
        """The raw median output (fed back by autoregressive decoding)."""
        return params[..., self.median]

    def summary(self, params: Tensor) -> Forecast:
        """Quantiles sorted (at ``sorted_levels``), the point their median."""
        q = torch.sort(params, dim=-1).values  # (..., Q), non-decreasing: at sorted_levels
        return Forecast(q[..., self.sorted_median], q, self.sorted_levels)


class GaussianOutput:
    """Mean and standard deviation (softplus of the raw value, + 1e-4); Gaussian NLL."""

    n_params = 2

    def _split(self, params: Tensor) -> tuple[Tensor, Tensor]:
        return params[..., 0], F.softplus(params[..., 1]) + 1e-4

    def loss(self, params: Tensor, y: Tensor) -> Tensor:
        return gaussian_nll(*self._split(params), y)

    def point(self, params: Tensor) -> Tensor:
        return params[..., 0]

    def summary(self, params: Tensor) -> Forecast:
        mean, std = self._split(params)
        return Forecast(mean, std=std)


FORECAST_OUTPUTS = ("point", "quantile", "gaussian")


def make_forecast_output(name: str, quantiles=(0.1, 0.5, 0.9)):
    if name == "point":
        return PointOutput()
    if name == "quantile":
        return QuantileOutput(quantiles)
    if name == "gaussian":
        return GaussianOutput()
    raise ValueError(f"output must be one of {FORECAST_OUTPUTS}, got {name!r}")
