"""Hyperparameter search (``rnnkit tune``): the ``[tune]`` table of a config
(:mod:`.space`), the Optuna study and its trials (:mod:`.study`), and what a session
leaves in ``runs/<study>/`` (:mod:`.report`). Optuna is the ``tune`` extra."""

from .space import Param, TuneSettings, TuneSpec, parse_tune_table
from .study import (
    PruningCallback,
    TuneInterrupted,
    TuneResult,
    Tuning,
    open_study,
    prepare_tuning,
    run_tuning,
)

__all__ = ["Param", "PruningCallback", "TuneInterrupted", "TuneResult", "TuneSettings",
           "TuneSpec", "Tuning", "open_study", "parse_tune_table", "prepare_tuning",
           "run_tuning"]
