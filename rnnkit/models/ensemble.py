"""Seed ensembles trained side by side: ``ForecastEnsemble`` (N :class:`Forecaster`
members, one forecast out) and ``ClassifierEnsemble`` (N :class:`SequenceClassifier`
members, their class probabilities averaged)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .classifier import PooledOutput, SequenceClassifier
from .forecast_outputs import Forecast
from .forecaster import Forecaster


class ForecastEnsemble(Model):
    r"""A seed ensemble of ``members`` forecasters with one config.

    Member :math:`i` is initialised as a :class:`Forecaster` built right after
    ``torch.manual_seed(seed + i)``, so it starts exactly where a single model of seed
    ``seed + i`` starts (``seed=None``: the members draw from the current RNG in turn).

    Training: the loss is the mean of the members' own losses,
    :math:`L = \frac1N \sum_i L_i(\theta_i)`, so member :math:`i`'s gradient is
    :math:`\nabla L_i / N`. Adam's update does not depend on the gradient's scale, so each
    member trains as it would alone on the same batches; what the members share is the
    batch order and the trainer's global gradient-norm clip.

    Forecast: quantile averaging (Vincentisation): the ensemble's point, each quantile
    :math:`q_\tau` and (Gaussian head) std are the members' means,
    :math:`\hat q_\tau = \frac1N \sum_i q_{\tau,i}`. Quantile averaging keeps the quantiles
    ordered and is sharper than pooling the members' predictive distributions; the task's
    calibration backtest then scales the intervals to nominal coverage.

    Example::

        model = ForecastEnsemble(members=5, seed=0, horizon=24, cell="gru",
                                 hidden_size=32, output="quantile")
        model.predict(windows).quantiles   # (B, 24, Q): the mean of 5 members' quantiles
    """

    def __init__(self, *, members: int = 2, seed: int | None = None, **config):
        super().__init__()
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.seed = seed
        self.members = nn.ModuleList([_member(Forecaster, config, seed, i)
                                      for i in range(members)])
        self.horizon = self.members[0].horizon
        self.output_size = self.members[0].output_size
        self.covariates = self.members[0].covariates

    @property
    def interval_factors(self) -> list[float] | None:
        """The members' recorded interval factors (one config, so the same for all)."""
        return self.members[0].interval_factors

    def get_config(self) -> dict:
        return {"members": len(self.members), "seed": self.seed,
                **self.members[0].get_config()}

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        """The mean of the members' losses and metrics (each member's own figures)."""
        outs = [m.compute_loss(batch) for m in self.members]
        loss = torch.stack([o.loss for o in outs]).mean()
        metrics = {k: sum(o.metrics[k] for o in outs) / len(outs) for k in outs[0].metrics}
        return StepOutput(loss, metrics, count=outs[0].count)

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Tensor | None = None,
                future: Tensor | None = None) -> Forecast:
        """The members' forecasts averaged field by field (shapes as
        :meth:`Forecaster.predict`)."""
        return _average([m.predict(x, lengths, future) for m in self.members])

    @torch.no_grad()
    def one_step(self, x: Tensor, state=None, future: Tensor | None = None
                 ) -> tuple[Forecast, list]:
        """:meth:`Forecaster.one_step` of every member (``state``: the list of the members'
        states, None for fresh ones), averaged field by field like :meth:`predict`."""
        states = state if state is not None else [None] * len(self.members)
        steps = [m.one_step(x, s, future) for m, s in zip(self.members, states)]
        return _average([f for f, _ in steps]), [s for _, s in steps]


class ClassifierEnsemble(Model):
    r"""A seed ensemble of ``members`` text or sequence classifiers with one config.

    Member :math:`i` is a :class:`SequenceClassifier` built right after
    ``torch.manual_seed(seed + i)`` (``seed=None``: the members draw from the current RNG in
    turn), so the members differ in their initial weights and, while training, in their
    dropout masks; they see the same batches.

    Training: the loss is the mean of the members' cross-entropies,
    :math:`L = \frac1N \sum_i L_i(\theta_i)`: each member learns as it would alone (Adam
    does not see the :math:`1/N`). The ``accuracy`` metric is the ensemble's, so the best
    checkpoint is the ensemble's best.

    Output: the members' class probabilities averaged,
    :math:`\bar p = \frac1N \sum_i \operatorname{softmax}(z_i)`; ``forward`` returns
    ``logits`` :math:`= \log \bar p` (a softmax of them gives :math:`\bar p` back) and the
    members' attention ``weights`` averaged (attention pooling, else None).

    Example::

        model = ClassifierEnsemble(members=3, seed=0, num_classes=2, vocab_size=1000,
                                   bidirectional=True, pooling="attention")
        model.predict_proba(ids, lengths)   # (B, 2): the mean of 3 members' probabilities
    """

    def __init__(self, *, members: int = 2, seed: int | None = None, **config):
        super().__init__()
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.seed = seed
        self.members = nn.ModuleList([_member(SequenceClassifier, config, seed, i)
                                      for i in range(members)])

    def get_config(self) -> dict:
        return {"members": len(self.members), "seed": self.seed,
                **self.members[0].get_config()}

    def combine(self, outs: list[PooledOutput]) -> PooledOutput:
        """The members' outputs as one: ``logits`` the log of their mean softmax,
        ``weights`` their mean (None without attention pooling)."""
        probs = torch.stack([torch.softmax(o.logits.float(), -1) for o in outs]).mean(0)  # (B, C)
        weights = None if outs[0].weights is None else \
            torch.stack([o.weights for o in outs]).mean(0)  # (B, T)
        return PooledOutput(probs.clamp_min(torch.finfo(probs.dtype).tiny).log(), weights)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> PooledOutput:
        """``logits`` (B, C): the log of the members' mean probabilities; ``weights``
        (B, T): their mean attention weights (or None)."""
        return self.combine([m(x, lengths) for m in self.members])

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        """The mean of the members' cross-entropies; ``accuracy``: the ensemble's."""
        outs = [m(batch["x"], batch.get("lengths")) for m in self.members]
        y = batch["y"]
        loss = torch.stack([F.cross_entropy(o.logits, y) for o in outs]).mean()
        accuracy = (self.combine(outs).logits.argmax(-1) == y).float().mean()
        return StepOutput(loss, {"accuracy": accuracy.item()}, count=y.shape[0])

    @torch.no_grad()
    def predict_proba(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities (B, num_classes): the members' mean."""
        return torch.stack([m.predict_proba(x, lengths) for m in self.members]).mean(0)


def _member(cls: type[Model], config: dict, seed: int | None, i: int) -> Model:
    """Member ``i``: ``cls(**config)`` built right after ``torch.manual_seed(seed + i)``
    (the caller's RNG state is kept), or from the current RNG when ``seed`` is None."""
    if seed is None:
        return cls(**config)
    # manual_seed seeds every CUDA device too: fork them all, so the caller's are kept
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        torch.manual_seed(seed + i)
        return cls(**config)


def _average(parts: list[Forecast]) -> Forecast:
    """The members' forecasts averaged field by field (quantile averaging)."""

    def mean(name):
        if getattr(parts[0], name) is None:
            return None
        return torch.stack([getattr(p, name) for p in parts]).mean(0)

    return Forecast(point=mean("point"), quantiles=mean("quantiles"), levels=parts[0].levels,
                    std=mean("std"))
