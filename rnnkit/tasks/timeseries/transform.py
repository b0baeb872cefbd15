"""The forecasting task's data side: what the model reads and predicts, in scaled units, and
the way back to the series' original units.

With scaler ``S`` (fitted on the training range only), season ``m`` and a forecast origin
``T`` (the last observed point):

- ``z = S(x)``; the model reads the window ``f[T-W+1 .. T]`` where ``f = z`` or, with
  ``difference``, the seasonal differences ``f[i] = z[i] - z[i-m]``.
- it predicts, for ``h = 1..H``, ``y_h = z[T+h] - z[a_h]`` where ``a_h = T - m + 1 +
  (h-1) mod m`` is the last observed point of the same season (``y_h = z[T+h]`` without
  differencing): a correction to the seasonal-naive forecast.
- with ``level`` instead (window normalisation, as in N-BEATS and DeepAR's scaling): the
  window and the targets are taken relative to the local level ``L_T``, the mean of
  ``z[T-m+1 .. T]`` (the last season): the model reads ``z[T-W+1 .. T] - L_T`` and predicts
  ``y_h = z[T+h] - L_T``, so it sees the season's shape and forecasts the trend from it.
- back: ``x[T+h] = S^-1(y_h + z[a_h])`` (``+ L_T``); ``S^-1`` is increasing, so quantiles
  and interval bounds map back exactly, and so do scaling and differencing (tested).

Several value columns (K targets): each column is scaled with its own statistics and
differenced or levelled alike; the scaled series is ``z`` (K, N) (time last, as for one
column (N,)), the model reads windows (B, W, K) and predicts (B, H, K). Covariates (known in
advance, scaled by their own standard scaler) follow the targets in every window step
(:func:`model_inputs`: ``x`` (B, W, K + J)) and are given for the horizon as ``future``
(B, H, J).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...data.timeseries import Scaler


@dataclass
class Transform:
    """Scaling and (optional) seasonal differencing or level normalisation; saved in
    model.json (``to_dict``)."""

    scaler: Scaler
    season: int = 1
    difference: bool = False
    level: bool = False

    def __post_init__(self):
        if self.difference and self.level:
            raise ValueError("difference and level both set the targets' reference point; "
                             "choose one")

    @classmethod
    def fit(cls, train: np.ndarray, kind: str, season: int, difference: bool,
            level: bool = False) -> Transform:
        """Fitted on training values (N,) or (N, K) (one scale per column)."""
        return cls(Scaler(kind).fit(np.asarray(train, dtype=np.float64)), season, difference,
                   level)

    def to_dict(self) -> dict:
        return {"scaler": self.scaler.to_dict(), "season": self.season,
                "difference": self.difference, "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> Transform:
        return cls(Scaler.from_dict(d["scaler"]), int(d["season"]), bool(d["difference"]),
                   bool(d.get("level", False)))

    @property
    def lag(self) -> int:
        """How many leading points have no feature (the differencing lag)."""
        return self.season if self.difference else 0

    def levels(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(..., N) the local levels ``L_T`` of ``z`` (..., T): means of the last ``season``
        points up to each origin (zeros without ``level``)."""
        origins = np.asarray(origins, dtype=np.int64)
        if not self.level:
            return np.zeros(z.shape[:-1] + (len(origins),))
        idx = origins[:, None] + np.arange(-self.season + 1, 1)[None, :]
        return z[..., idx].mean(axis=-1)

    def scaled(self, x: np.ndarray) -> np.ndarray:
        """Values (N,) or (N, K) -> the scaled series (N,) or (K, N) (time last)."""
        z = self.scaler.transform(np.asarray(x, dtype=np.float64))
        return z.T if z.ndim > 1 else z

    def features(self, z: np.ndarray) -> np.ndarray:
        """(..., N) scaled values -> model inputs (NaN where the lag reaches before 0)."""
        if not self.difference:
            return z
        f = np.full_like(z, np.nan)
        f[..., self.season:] = z[..., self.season:] - z[..., :-self.season]
        return f

    def first_origin(self, window: int) -> int:
        """The earliest origin with a full window of features (and a full season for the
        level)."""
        return max(self.lag + window, self.season if self.level else 0) - 1

    def anchor_index(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        """(N, H) indices a_h of the values the targets are relative to."""
        h = np.arange(horizon)
        m = self.season
        return np.asarray(origins)[:, None] - m + 1 + (h % m)[None, :]

    def anchors(self, z: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """(N, H) (K columns: (N, H, K)) the values the targets are relative to: ``z[a_h]``
        with differencing, ``L_T`` with level, else zeros."""
        if self.difference:
            a = z[..., self.anchor_index(origins, horizon)]
        else:
            a = np.repeat(self.levels(z, origins)[..., None], horizon, axis=-1)
        return _columns_last(a, z)

    def windows(self, z: np.ndarray, origins: np.ndarray, window: int, horizon: int,
                with_targets: bool = True):
        """Inputs (N, W) and targets (N, H) (scaled) for forecasts made at ``origins``; of
        K columns ``z`` (K, T): (N, W, K) and (N, H, K)."""
        origins = np.asarray(origins, dtype=np.int64)
        if len(origins) and origins.min() < self.first_origin(window):
            raise ValueError(f"origin {origins.min()} has less than a full window of history")
        f = self.features(z)
        idx = origins[:, None] + np.arange(-window + 1, 1)[None, :]
        inputs = _columns_last(f[..., idx] - self.levels(z, origins)[..., None], z)
        if not with_targets:
            return inputs, None
        tidx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
        return inputs, _columns_last(z[..., tidx], z) - self.anchors(z, origins, horizon)

    def to_original(self, y: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """Predicted targets (N, H) or (N, H, K) and their anchors (the same shape) ->
        original units (one column: y (N, H, ...) with anchors (N, H))."""
        a = anchors.reshape(anchors.shape + (1,) * (y.ndim - anchors.ndim))
        return self.scaler.inverse(y + a)


def saved_covariate_scaler(info: dict) -> Scaler | None:
    """The covariates' scaler a run saved in model.json (None: the run has no covariates)."""
    d = info.get("covariate_scaler")
    return None if d is None else Scaler.from_dict(d)


def saved_value_columns(info: dict) -> list[str]:
    """The value columns (targets, sensors) a run saved in model.json."""
    return info.get("columns", {}).get("values", ["value"])


def _columns_last(a: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(K, N, ...) -> (N, ..., K) where ``z`` holds K columns (K, T); else ``a`` itself."""
    return np.moveaxis(a, 0, -1) if z.ndim > 1 else a


def model_inputs(transform: Transform, z: np.ndarray, zc: np.ndarray | None,
                 origins: np.ndarray, window: int, horizon: int,
                 with_targets: bool = True) -> dict[str, np.ndarray]:
    """What a forecaster reads at ``origins``: ``x`` (N, W, K + J) (the targets' features,
    then the scaled covariates ``zc`` (T', J) of the same steps), ``future`` (N, H, J) (the
    covariates of the horizon; only with covariates) and ``y`` (N, H) or (N, H, K)
    (``with_targets``). Covariates must be known to ``origin + horizon``."""
    inputs, targets = transform.windows(z, origins, window, horizon, with_targets)
    x = inputs if inputs.ndim == 3 else inputs[..., None]  # (N, W, K)
    out = {"x": x}
    if zc is not None:
        origins = np.asarray(origins, dtype=np.int64)
        if len(origins) and origins.max() + horizon >= len(zc):
            raise ValueError(f"covariates known for {len(zc)} points; a forecast from point "
                             f"{origins.max()} reads them up to point {origins.max() + horizon}")
        past = zc[origins[:, None] + np.arange(-window + 1, 1)[None, :]]  # (N, W, J)
        out["x"] = np.concatenate([x, past], axis=-1)
        out["future"] = zc[origins[:, None] + np.arange(1, horizon + 1)[None, :]]  # (N, H, J)
    if with_targets:
        out["y"] = targets
    return out


def train_origins(first: int, end: int, horizon: int) -> np.ndarray:
    """Origins whose ``horizon`` targets all lie before ``end`` (nothing at or after it is
    read), starting at ``first``."""
    last = end - 1 - horizon
    return np.arange(first, last + 1) if last >= first else np.zeros(0, dtype=np.int64)


def range_origins(start: int, end: int, horizon: int, protocol: str) -> np.ndarray:
    """Forecast origins that score the range [start, end): ``multistep``: one forecast from
    ``start - 1`` of all ``end - start`` points (needs ``horizon >= end - start``);
    ``rolling``: one step ahead from every origin ``start - 1 .. end - 2``."""
    if protocol == "multistep":
        if horizon < end - start:
            raise ValueError(f"a multistep forecast of {end - start} points needs "
                             f"horizon >= {end - start}, got {horizon}")
        return np.array([start - 1])
    return np.arange(start - 1, end - 1)
