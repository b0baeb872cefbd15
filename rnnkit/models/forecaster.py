"""``Forecaster``: a window of a time series in, the next ``horizon`` steps out."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Model, StepOutput
from .decoder import Decoder
from .encoder import SequenceEncoder
from .forecast_outputs import Forecast, make_forecast_output

MODES = ("direct", "autoregressive")


class Forecaster(Model):
    r"""Encode a window, forecast ``horizon`` steps of ``output_size`` targets.

    Batch: ``"x"`` (B, W, input_size) (``"lengths"`` (B,) optional), ``"y"`` (B, horizon)
    for one target or (B, horizon, output_size). The targets are the first ``output_size``
    features of ``x`` (put covariates after them). Data are scaled by the data layer.

    ``covariates`` (J > 0): the last J features of ``x`` are known in advance (calendar, a
    weather forecast), and the batch also gives their values over the horizon, ``"future"``
    (B, horizon, J). The direct head reads them beside the encoder's state,
    :math:`\hat y = W [h_W; \mathrm{vec}(c_{W+1..W+H})] + b`; the autoregressive decoder
    reads step h's beside the previous target, :math:`u_h = [\hat y_{h-1}; c_{W+h}]`.

    ``mode``: ``"direct"``: a linear head maps the encoder's final state to all horizon
    steps at once; ``"autoregressive"``: a :class:`Decoder` started from the encoder's state
    is rolled forward from the last observed target, feeding back its own point forecast
    (during training the true value with probability ``teacher_forcing``, default 0).

    ``output``: ``"point"`` (MSE), ``"quantile"`` (pinball loss at ``quantiles``; the point
    forecast is the median) or ``"gaussian"`` (mean and std, Gaussian NLL).
    ``interval_factors``: optional [f80, f95] recorded with the model by the forecast task
    (``task.refit``): the factors that widen its 80%/95% intervals to nominal coverage,
    measured on rolling-origin replays before the model was trained; the model itself
    does not apply them.
    ``forward`` returns the raw parameters (B, horizon, output_size, n_params);
    :meth:`predict` returns a :class:`Forecast`; :meth:`one_step` returns the forecast made
    after every step of a sequence, carrying the recurrent state (scoring a whole series in
    one pass, or a stream point by point). Metrics: mae and mse of the point forecast.

    Example::

        model = Forecaster(input_size=1, horizon=12, cell="gru", hidden_size=32,
                           mode="autoregressive", output="quantile")
        model.compute_loss({"x": windows, "y": targets}).loss   # (B, 48, 1), (B, 12)
        model.predict(windows).quantiles                         # (B, 12, 3)
        direct = Forecaster(input_size=1, horizon=12, output="gaussian")
        f, state = direct.one_step(series[:, :100])              # f.point (B, 100, 12, 1)
        g, state = direct.one_step(series[:, 100:101], state)    # step 101, as in one pass
    """

    def __init__(
        self, *, horizon: int, input_size: int = 1, output_size: int = 1, cell: str = "lstm",
        hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0,
        mode: str = "direct", output: str = "point", quantiles=(0.1, 0.5, 0.9),
        teacher_forcing: float = 0.0, interval_factors=None, covariates: int = 0,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if output_size + covariates > input_size:
            raise ValueError(
                f"the targets are the first output_size features of x and the covariates "
                f"the last: output_size ({output_size}) + covariates ({covariates}) must be "
                f"<= input_size ({input_size})"
            )
        self.out = make_forecast_output(output, quantiles)
        self.horizon, self.output_size, self.mode = horizon, output_size, mode
        self.teacher_forcing, self.covariates = teacher_forcing, covariates
        self.encoder = SequenceEncoder(
            cell, hidden_size, input_size=input_size, num_layers=num_layers, dropout=dropout,
        )
        n_out = output_size * self.out.n_params
        if mode == "direct":
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(hidden_size + horizon * covariates, horizon * n_out)
        else:
            self.decoder = Decoder(
                cell, hidden_size, n_out, input_size=output_size + covariates,
                num_layers=num_layers, dropout=dropout,
            )
        self._config = dict(
            horizon=horizon, input_size=input_size, output_size=output_size, cell=cell,
            hidden_size=hidden_size, num_layers=num_layers, dropout=dropout, mode=mode,
            output=output, quantiles=list(quantiles),
        )
        if covariates:
            self._config["covariates"] = covariates
        self.interval_factors = None if interval_factors is None else \
            [float(f) for f in interval_factors]
        if self.interval_factors is not None:
            self._config["interval_factors"] = self.interval_factors

    def get_config(self) -> dict:
        return {**self._config, "teacher_forcing": self.teacher_forcing}

    def forward(self, x: Tensor, lengths: Tensor | None = None, y: Tensor | None = None,
                future: Tensor | None = None):
        """Raw output parameters (B, horizon, output_size, n_params). ``y`` (targets) is read
        only for teacher forcing in autoregressive training; ``future`` (B, horizon, J):
        the covariates of the horizon (``covariates`` > 0)."""
        B, P = x.shape[0], self.out.n_params
        future = self._future(future, B)
        _, h_n = self.encoder(x, lengths)
        if self.mode == "direct":
            h = self.dropout(self.encoder.final_hidden(h_n))  # (B, H)
            if future is not None:
                h = torch.cat([h, future.reshape(B, -1).to(h.dtype)], dim=-1)
            params = self.head(h)
            return params.view(B, self.horizon, self.output_size, P)
        last = lengths.to(x.device) - 1 if lengths is not None else \
            torch.full((B,), x.shape[1] - 1, device=x.device)
        first = x[torch.arange(B, device=x.device), last, : self.output_size]  # (B, F)
        use_truth = y is not None and self.training and self.teacher_forcing > 0
        if future is not None:
            return self._roll_out(first, h_n, future, self._targets(y) if use_truth else None)
        if use_truth:
            inputs = torch.cat([first.unsqueeze(1), self._targets(y)[:, :-1]], dim=1)
            ratio = self.teacher_forcing
        else:
            inputs, ratio = first.unsqueeze(1).expand(B, self.horizon, -1), 0.0
        out = self.decoder(
            inputs, self.decoder.start(h_n), teacher_forcing=ratio,
            feedback=lambda o: self.out.point(o.view(B, self.output_size, P)),
        ).outputs  # (B, horizon, F * P)
        return out.view(B, self.horizon, self.output_size, P)

    def _future(self, future: Tensor | None, B: int) -> Tensor | None:
        """The horizon's covariates (B, horizon, J), checked; None without covariates."""
        if not self.covariates:
            return None
        want = (B, self.horizon, self.covariates)
        if future is None or tuple(future.shape) != want:
            got = None if future is None else tuple(future.shape)
            raise ValueError(f"this forecaster reads {self.covariates} covariate(s) over its "
                             f"horizon: give future of shape {want}, got {got}")
        return future

    def _roll_out(self, first: Tensor, h_n, future: Tensor, truth: Tensor | None) -> Tensor:
        """The autoregressive decoder with covariates: step h reads the previous target
        (its own point forecast, or with probability ``teacher_forcing`` the truth) and
        the covariates of step h."""
        B, P, F = first.shape[0], self.out.n_params, self.output_size
        state, prev, outs = self.decoder.start(h_n), first, []
        for h in range(self.horizon):
            u = torch.cat([prev, future[:, h].to(prev.dtype)], dim=-1)  # (B, F + J)
            out, state, _ = self.decoder.step(u, state)  # (B, F * P)
            outs.append(out)
            prev = self.out.point(out.detach().view(B, F, P))  # (B, F)
            if truth is not None:
                use = torch.rand(B, 1, device=prev.device) < self.teacher_forcing
                prev = torch.where(use, truth[:, h].to(prev.dtype), prev)
        return torch.stack(outs, 1).view(B, self.horizon, F, P)

    def _targets(self, y: Tensor) -> Tensor:
        return y.unsqueeze(-1) if y.dim() == 2 else y  # (B, horizon, F)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        y = batch["y"]
        params = self(batch["x"], batch.get("lengths"), y, batch.get("future"))
        target = self._targets(y).to(params.dtype)
        loss = self.out.loss(params, target)
        error = self.out.point(params).detach() - target
        metrics = {"mae": error.abs().mean().item(), "mse": error.pow(2).mean().item()}
        return StepOutput(loss, metrics, count=y.shape[0])

    @torch.no_grad()
    def predict(self, x: Tensor, lengths: Tensor | None = None,
                future: Tensor | None = None) -> Forecast:
        """The forecast for windows x (B, W, input_size) (``future``: the horizon's
        covariates); shapes (B, horizon) for one target, else (B, horizon, output_size)
        (quantiles add a last dim Q)."""
        f = self.out.summary(self(x, lengths, future=future))
        if self.output_size == 1:
            squeeze = {"point": f.point.squeeze(2)}
            if f.quantiles is not None:
                squeeze["quantiles"] = f.quantiles.squeeze(2)
            if f.std is not None:
                squeeze["std"] = f.std.squeeze(2)
            f = Forecast(**{**f.__dict__, **squeeze})
        return f

    @torch.no_grad()
    def step(self, x_t: Tensor, state=None, future: Tensor | None = None
             ) -> tuple[Tensor, object]:
        """One point of a stream: ``x_t`` (B, input_size) from ``state`` (None: a fresh
        one) -> (the raw output parameters (B, horizon, output_size, n_params) of the
        forecast made after it, the new state); ``future`` (B, horizon, J): the covariates
        of its horizon. The numbers of :meth:`one_step` at T = 1 before the output's
        ``summary``, without its per-call work: the encoder's step mode
        (:meth:`SequenceEncoder.step`) and the head. ``mode="direct"`` only."""
        if self.mode != "direct" or self.encoder.directions != 1:
            raise ValueError("step needs mode='direct' and a unidirectional encoder")
        h, state = self.encoder.step(x_t, state)  # (B, H)
        if self.training:
            h = self.dropout(h)
        B = x_t.shape[0]
        if self.covariates:
            h = torch.cat([h, self._future(future, B).reshape(B, -1).to(h.dtype)], -1)
        params = self.head(h)
        return params.view(B, self.horizon, self.output_size, self.out.n_params), state

    @torch.no_grad()
    def one_step(self, x: Tensor, state=None, future: Tensor | None = None
                 ) -> tuple[Forecast, object]:
        """The forecast made after each step of ``x`` (B, T, input_size), the state carried
        from ``state`` (None: a fresh one) -> (forecast, the state after the last step);
        ``future`` (B, T, horizon, J): the covariates of each step's horizon.

        The forecast after step t is what :meth:`predict` returns for a window ending at t
        read from the same state, without re-reading the window: fields (B, T, horizon,
        output_size) (quantiles add Q). One step (T = 1) goes through the encoder's step
        mode (:meth:`SequenceEncoder.step`), the fast path for a stream point by point.
        Feeding a sequence in pieces, each with the state the previous piece returned,
        gives the forecasts of one pass over the whole.
        ``mode="direct"`` only (an autoregressive decoder would have to be rolled out from
        every step)."""
        if self.mode != "direct":
            raise ValueError("one_step needs mode='direct'; an autoregressive forecaster "
                             "forecasts from windows (predict)")
        B, T = x.shape[:2]
        if T == 1 and self.encoder.directions == 1:  # one point of a stream: the step mode
            h, state = self.encoder.step(x[:, 0], state)  # (B, H)
        else:
            out, state = self.encoder(x, hx=state)  # (B, T, H)
            h = out.reshape(B * T, -1)
        if self.training:
            h = self.dropout(h)
        if self.covariates:
            ahead = None if future is None else future.reshape(B * T, *future.shape[2:])
            h = torch.cat([h, self._future(ahead, B * T).reshape(B * T, -1).to(h.dtype)], -1)
        params = self.head(h)  # (B*T, horizon*F*P)
        params = params.view(B, T, self.horizon, self.output_size, self.out.n_params)
        return self.out.summary(params), state
