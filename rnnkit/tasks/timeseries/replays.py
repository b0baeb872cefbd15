"""Rolling-origin replays: interval calibration for a forecaster refitted on every point
before the test range (``task.refit``), which leaves no unseen validation range to
backtest on.

Entry point: :func:`calibrate_by_replays(cfg) <calibrate_by_replays>` -> ``{80: f80, 95:
f95}``. It trains the same config ``task.replays`` times, as separate runs in a temporary
directory: replay ``o`` (:func:`replay_origins`: origins ``replay_every`` points apart,
the last at the start of the validation range) sees the series cut at ``o + horizon``,
trains on the points before ``o`` exactly as the deployed model trains on the points before
the test range (fixed steps, the last checkpoint), and forecasts ``[o, o + horizon)``. The
factors are :func:`~.calibration.backtest_factors` of those forecasts. No point of the test
range is loaded. The forecast task records the factors in the model's config
(``interval_factors``) before the model is built.
"""

from __future__ import annotations

import random
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...data.timeseries import Scaler
from ...training.config import RunConfig
from ..base import TASKS, TaskError
from .calibration import backtest_factors, forecast_bands
from .intervals import COVERAGES, Bands
from .transform import Transform, train_origins

if TYPE_CHECKING:
    from ..forecast import ForecastContext


def replay_origins(ctx: ForecastContext) -> list[int]:
    """The first forecast point of each calibration replay: ``replays`` origins
    ``replay_every`` points apart, the last at the start of the validation range. Replay
    ``o`` trains on ``[0, o)`` and forecasts ``[o, o + horizon)``, which must end before the
    test range."""
    cfg = ctx.task_cfg
    origins = [ctx.val_start - cfg.replay_every * i for i in range(cfg.replays)][::-1]
    if origins and (origins[-1] + cfg.horizon > ctx.test_start
                    or origins[0] <= ctx.transform.first_origin(cfg.window) + cfg.horizon):
        raise TaskError(f"task.replays: origins {origins} with horizon {cfg.horizon} do not "
                        f"fit between the first training window and the test range "
                        f"(point {ctx.test_start}); the validation range must be at least "
                        "horizon long")
    return origins


def replay_config(cfg: RunConfig, origin: int) -> RunConfig:
    """The run config of the replay at ``origin``: the series cut at ``origin + horizon``
    (nothing after it is loaded), trained like the deployed model (``refit``, fixed steps)
    on the points before ``origin``, uncalibrated; the batch at most the number of training
    windows there."""
    h = cfg.task.horizon
    task = replace(cfg.task, cutoff=origin + h, test_size=float(h), val_size=float(h),
                   refit=True, calibrate=False)
    shape = Transform(Scaler("none"), task.season, task.difference, task.level)
    windows = len(train_origins(shape.first_origin(task.window), origin, h))
    train = replace(cfg.train, progress="off", batch_size=min(cfg.train.batch_size, windows))
    return replace(cfg, name=f"{cfg.name}-replay-{origin}", task=task, train=train,
                   diagnostics=replace(cfg.diagnostics, every=0))


def replay_bands(cfg: RunConfig, origin: int, run_dir: Path) -> Bands:
    """Train the replay at ``origin`` into ``run_dir`` and return its forecast (1, H) of
    ``[origin, origin + horizon)`` (original units, uncalibrated)."""
    from ..predictor import open_checkpoint
    from ..runner import train_run

    rcfg = replay_config(cfg, origin)
    train_run(rcfg, run_dir)
    _, _, model = open_checkpoint(run_dir)
    rctx = TASKS[rcfg.task.name].setup(rcfg)
    return forecast_bands(model, rctx.transform, rctx.z, np.array([origin - 1]),
                          cfg.task.window, zc=rctx.zc)


def calibrate_by_replays(cfg: RunConfig) -> dict[int, float]:
    """The interval factors of ``cfg`` from its rolling-origin replays (module docstring).
    The replays reseed the global random generators as runs do; they are restored after,
    so what the caller builds next starts as it would without them."""
    ctx = TASKS[cfg.task.name].setup(cfg)
    origins = replay_origins(ctx)
    with kept_random_state(), tempfile.TemporaryDirectory() as tmp:
        parts = [replay_bands(cfg, o, Path(tmp) / str(o)) for o in origins]
    bands = Bands(np.concatenate([p.point for p in parts]),
                  {c: np.concatenate([p.lower[c] for p in parts]) for c in COVERAGES},
                  {c: np.concatenate([p.upper[c] for p in parts]) for c in COVERAGES})
    return backtest_factors(bands, ctx.series.values[:ctx.test_start],
                            np.array(origins) - 1, ctx.test_start)


@contextmanager
def kept_random_state():
    """Python's, NumPy's and torch's (CPU and CUDA) global random states restored on exit."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
