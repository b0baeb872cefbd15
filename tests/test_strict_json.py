"""``--json`` outputs are strict JSON (RFC 8259): a figure that is NaN or infinite (an anomaly
run without labelled windows has no precision or recall) is null, never the bare ``NaN``
that Python's json writes and JavaScript's ``JSON.parse``, Go or Rust readers reject."""

from __future__ import annotations

import json
import math

import numpy as np

from rnnkit.cli import evaluate as evaluate_cmd
from rnnkit.cli.common import strict
from rnnkit.cli.main import main


def _strict_loads(text: str):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_strict_makes_every_non_finite_float_null_and_keeps_the_rest():
    value = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": {"d": np.float32("nan"),
             "e": np.float64(0.25), "f": "NaN", "g": 3, "h": None, "i": True}}
    assert strict(value) == {"a": None, "b": [1.5, None, [None, 2]],
                             "c": {"d": None, "e": 0.25, "f": "NaN", "g": 3, "h": None,
                                   "i": True}}
    assert type(strict(np.float64(0.25))) is float


def test_evaluate_json_writes_null_for_undefined_figures(tmp_path, monkeypatch, capsys):
    # what evaluate_run gives for an anomaly run whose data has no labelled windows
    figures = {"split": "test", "checkpoint": "best", "step": 60, "loss": 0.5,
               "windows_total": math.nan, "precision": math.nan, "recall": np.float64("nan"),
               "alarm_events": 2, "threshold": 1.25, "mase": math.inf}
    monkeypatch.setattr(evaluate_cmd, "evaluate_run", lambda run, split, checkpoint: figures)
    assert main(["evaluate", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one object, one line
    assert _strict_loads(out) == {"split": "test", "checkpoint": "best", "step": 60,
                                  "loss": 0.5, "windows_total": None, "precision": None,
                                  "recall": None, "alarm_events": 2, "threshold": 1.25,
                                  "mase": None}
