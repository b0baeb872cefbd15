"""What the time-series tasks (:mod:`rnnkit.tasks.forecast`, :mod:`rnnkit.tasks.anomaly`)
are built from, one concept a module:

- :mod:`.source`: where a series comes from (the shared ``[task]`` keys: a named series or
  a user's CSV with one or more value columns and covariates; a predictor's input read by
  the run's columns; test range, timestamps).
- :mod:`.transform`: what a forecaster reads and predicts (scaling, differencing, level)
  and the way back to original units; forecast origins.
- :mod:`.intervals`: 80%/95% bands from a forecaster's quantiles or Gaussian spread.
- :mod:`.calibration`: interval factors from a rolling-origin backtest.
- :mod:`.replays`: rolling-origin replays for a refitted model
  (:func:`~.replays.calibrate_by_replays`).
- :mod:`.forecasting`: a forecast from a history (direct, or sample paths past the horizon).
- :mod:`.forecast_predictor`: the forecast task's predictor and stream (records for the CLI).
- :mod:`.metrics`, :mod:`.scoring`: forecast accuracy and coverage, against baselines.
- :mod:`.detector`, :mod:`.events`: anomaly scores, alarms, and event-level scoring
  against labelled windows.
- :mod:`.report`: report.md sections and plots.
"""
