"""``rnnkit diagnose``'s verdict (rnnkit/diagnostics/summary.py) and the reading of a run's
jsonl files (rnnkit/diagnostics/records.py), on run directories written by hand: every line
and figure is worked out in the comments. Each test fails on a one-line bug that
tests/test_diagnostics.py lets through (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import json
import math

import pytest

from rnnkit.diagnostics.records import finite, read_jsonl, series
from rnnkit.diagnostics.summary import summarize, verdict

UNDEFINED = "undefined (no gradient reached the last step)"


def _write(path, records) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


# ---------------------------------------------------------------- records.py


def test_read_jsonl_skips_blank_and_torn_lines_and_reads_on(tmp_path):
    """A run that crashed mid-line and was resumed has its torn line in the middle: the
    records after it are still read."""
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n\n   \n{"step": 2, "lo\n{"step": 3}\n{"step": 4')
    assert read_jsonl(path) == [{"step": 1}, {"step": 3}]
    assert read_jsonl(str(path)) == [{"step": 1}, {"step": 3}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_series_reads_one_key_of_one_split_in_order():
    records = [{"step": 5, "split": "train", "loss": 2},
               {"step": 5, "split": "val", "loss": 1.5},
               {"step": 9, "split": "train", "accuracy": 0.5},  # no loss: left out
               {"step": 10, "split": "train", "loss": None},  # logged as null: NaN
               {"split": "train", "loss": 0.25}]  # no step: its index in the series
    steps, values = series(records, "loss", "train")
    assert steps == [5, 10, 2]
    assert values[0] == 2.0 and isinstance(values[0], float)
    assert math.isnan(values[1]) and values[2] == 0.25
    steps, values = series(records, "loss")  # every split
    assert steps == [5, 5, 10, 3] and values[:2] == [2.0, 1.5]
    assert series(records, "loss", "test") == ([], [])


def test_finite_keeps_only_finite_numbers():
    assert finite([1.0, None, float("nan"), float("inf"), -float("inf"), -2.5, 0.0]) == [
        1.0, -2.5, 0.0]


# ---------------------------------------------------------------- summary.py


@pytest.mark.parametrize("ratio, name", [
    (None, UNDEFINED), (float("nan"), UNDEFINED), (float("inf"), UNDEFINED),
    (0.0, "vanishing"), (9.99e-4, "vanishing"), (1e-3, "flowing"), (1.0, "flowing"),
    (1e3, "flowing"), (1000.1, "exploding"), (1e9, "exploding")])
def test_verdict_names_the_ratio_with_the_bounds_flowing(ratio, name):
    assert verdict(ratio) == name


def test_an_empty_run_dir_says_there_is_nothing_to_read(tmp_path):
    out = summarize(str(tmp_path))
    assert out.lines == [f"{tmp_path}: no diagnostics.jsonl or metrics.jsonl to read"]
    assert out.data == {"run_dir": str(tmp_path), "records": 0}


def test_first_and_last_records_are_judged(tmp_path):
    _write(tmp_path / "diagnostics.jsonl", [
        {"step": 1, "hidden_grad_ratio": {"rnn.l0": 2e-5, "rnn.l0_reverse": 0.5},
         "saturation": {"rnn.l0": {"sigmoid": 0.0}}, "spectral_radius": {"w": 9.0}},
        {"step": 25, "hidden_grad_ratio": {"rnn.l0": 0.5}, "saturation": {},
         "spectral_radius": {"w": 1.0}},  # (a middle record: not read)
        {"step": 50, "hidden_grad_ratio": {"rnn.l0": None, "rnn.l0_reverse": 5e4},
         "saturation": {"rnn.l0": {"sigmoid": 0.25, "tanh": 0.1, "forget": 1.0},
                        "rnn.l0_reverse": {"sigmoid": 0.5},
                        "rnn.l1": {"tanh": 0.75}, "head": {"update": 0.3}},
         "spectral_radius": {"rnn.weight_hh_l0[i]": 0.5, "rnn.weight_hh_l0[f]": 1.23456,
                             "rnn.weight_hh_l0[g]": 0.75}},
    ])
    out = summarize(tmp_path)
    assert out.lines == [
        "3 diagnostics records, steps 1..50",
        "step 1, rnn.l0: gradient at t=0 is 2.0e-05 of that at t=T: vanishing",
        # the reverse direction reads from t=T back to t=0
        "step 1, rnn.l0_reverse: gradient at t=T is 5.0e-01 of that at t=0: flowing",
        f"step 50, rnn.l0: gradient at t=0 is n/a of that at t=T: {UNDEFINED}",
        "step 50, rnn.l0_reverse: gradient at t=T is 5.0e+04 of that at t=0: exploding",
        "gate saturation, rnn.l0: sigmoid 25%, tanh 10%",  # the kinds, not each gate
        "gate saturation, rnn.l0_reverse: sigmoid 50%",
        "gate saturation, rnn.l1: tanh 75%",
        "largest recurrent spectral radius 1.23 (rnn.weight_hh_l0[f])",  # 3 figures
    ]
    assert out.data == {
        "run_dir": str(tmp_path), "records": 3,
        "gradient_flow_first": {"rnn.l0": {"ratio": 2e-5, "verdict": "vanishing"},
                                "rnn.l0_reverse": {"ratio": 0.5, "verdict": "flowing"}},
        "gradient_flow_last": {"rnn.l0": {"ratio": None, "verdict": UNDEFINED},
                               "rnn.l0_reverse": {"ratio": 5e4, "verdict": "exploding"}},
        "saturation": {"rnn.l0": {"sigmoid": 0.25, "tanh": 0.1, "forget": 1.0},
                       "rnn.l0_reverse": {"sigmoid": 0.5}, "rnn.l1": {"tanh": 0.75},
                       "head": {"update": 0.3}},
        "spectral_radius_max": {"rnn.weight_hh_l0[f]": 1.23456},
    }


def test_a_single_record_is_judged_once_as_the_last(tmp_path):
    _write(tmp_path / "diagnostics.jsonl", [
        {"step": 7, "hidden_grad_ratio": {"enc.l0": 3.0}, "saturation": {}}])  # no radii
    out = summarize(tmp_path)
    assert out.lines == ["1 diagnostics records, steps 7..7",
                         "step 7, enc.l0: gradient at t=0 is 3.0e+00 of that at t=T: flowing"]
    assert out.data == {"run_dir": str(tmp_path), "records": 1, "saturation": {},
                        "gradient_flow_last": {"enc.l0": {"ratio": 3.0, "verdict": "flowing"}}}


def test_two_records_are_judged_as_the_first_and_the_last(tmp_path):
    _write(tmp_path / "diagnostics.jsonl", [
        {"step": 1, "hidden_grad_ratio": {"l0": 1e-4}, "saturation": {}},
        {"step": 2, "hidden_grad_ratio": {"l0": 1e4}, "saturation": {}}])
    out = summarize(tmp_path)
    assert out.lines == ["2 diagnostics records, steps 1..2",
                         "step 1, l0: gradient at t=0 is 1.0e-04 of that at t=T: vanishing",
                         "step 2, l0: gradient at t=0 is 1.0e+04 of that at t=T: exploding"]
    assert out.data["gradient_flow_first"] == {"l0": {"ratio": 1e-4, "verdict": "vanishing"}}
    assert out.data["gradient_flow_last"] == {"l0": {"ratio": 1e4, "verdict": "exploding"}}


def test_a_record_without_ratios_or_radii_gives_no_lines_for_them(tmp_path):
    _write(tmp_path / "diagnostics.jsonl", [
        {"step": 3, "saturation": {"l0": {"sigmoid": None, "tanh": None}},
         "spectral_radius": {}}])
    out = summarize(tmp_path)
    assert out.lines == ["1 diagnostics records, steps 3..3"]
    assert out.data["gradient_flow_last"] == {} and "spectral_radius_max" not in out.data


def test_losses_first_last_divergence_and_best_validation(tmp_path):
    nan = float("nan")
    _write(tmp_path / "metrics.jsonl", [
        {"step": 10, "split": "val", "loss": nan},  # first and NaN: never the best
        {"step": 10, "split": "train", "loss": 2.5},
        {"step": 20, "split": "train", "loss": 1.75},
        {"step": 20, "split": "val", "loss": 2.0},
        {"step": 30, "split": "train", "loss": 1.234567},
        {"step": 30, "split": "val", "loss": 1.5},
        {"step": 40, "split": "train", "loss": nan},
        {"step": 40, "split": "val", "loss": 1.75},
        {"step": 50, "split": "train", "loss": None},
        {"step": 50, "split": "val", "loss": 1.5},  # a tie: the first is kept
    ])
    out = summarize(tmp_path)
    assert out.lines == [
        "train loss 2.5 -> 1.235 over 50 steps",  # the last finite one, to 4 figures
        "train loss non-finite from step 40: diverged",
        "best val loss 1.5 at step 30",
    ]
    assert out.data == {
        "run_dir": str(tmp_path), "records": 0,
        "train_loss": {"first": 2.5, "last": 1.234567, "nonfinite_step": 40},
        "best_val_loss": {"loss": 1.5, "step": 30}}


def test_a_loss_that_is_never_finite(tmp_path):
    _write(tmp_path / "metrics.jsonl", [
        {"step": 5, "split": "train", "loss": None},
        {"step": 5, "split": "val", "loss": None}])
    out = summarize(tmp_path)
    assert out.lines == ["train loss non-finite from step 5: diverged"]
    assert out.data["train_loss"] == {"first": None, "last": None, "nonfinite_step": 5}
    assert "best_val_loss" not in out.data


def test_a_finite_training_has_no_divergence_and_validation_alone_is_read(tmp_path):
    _write(tmp_path / "metrics.jsonl", [
        {"step": 1, "split": "train", "loss": 0.5}, {"step": 2, "split": "train", "loss": 0.25}])
    out = summarize(tmp_path)
    assert out.lines == ["train loss 0.5 -> 0.25 over 2 steps"]
    assert out.data["train_loss"] == {"first": 0.5, "last": 0.25, "nonfinite_step": None}
    _write(tmp_path / "metrics.jsonl", [{"step": 8, "split": "val", "loss": 3.0}])
    out = summarize(tmp_path)
    assert out.lines == ["best val loss 3 at step 8"] and "train_loss" not in out.data
