"""Property-based test of the predictor protocol (DESIGN.md "Using a trained model from
Python"): whatever a caller passes to ``rnnkit.load(run).predict`` — texts, paths, numbers,
arrays of any shape, NaN, nested lists, None — gives strict-JSON records or a TaskError
saying what was wrong, never another exception. One tiny run per kind of input (texts,
sentence pairs, MIDI paths, audio paths or signals, series, sequences), trained for a step
or two from the example configs and their example data.

``RNNKIT_FUZZ_EXAMPLES=2000`` runs the long search."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rnnkit
from rnnkit.cli.main import main
from rnnkit.tasks import TaskError

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "40")),
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

TINY = ["model.hidden_size=8", "train.progress=off"]
RUNS = {  # example config -> overrides for a run of a step or two
    "topics": ["train.epochs=1"],
    "translate-tsv": ["train.steps=1", "train.eval_every=1"],
    "music-folder": ["train.steps=1", "train.eval_every=1"],
    "keywords-folder": ["train.epochs=1"],
    "forecast-grid": ["train.steps=1", "train.eval_every=1"],
    "anomaly-sensors": ["train.steps=1", "train.eval_every=1"],
    "classify-csv": ["train.epochs=1"],
    "sine": ["train.steps=1", "train.eval_every=1"],
}
EXTRAS = {"translate-tsv": "sentencepiece", "music-folder": "mido",
          "keywords-folder": "soundfile"}


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    """``load(name)``: the predictor of a tiny run of ``examples/<name>.toml``, trained once."""
    loaded = {}

    def load(name):
        if name not in loaded:
            if name in EXTRAS:
                pytest.importorskip(EXTRAS[name], reason=f"{name} needs {EXTRAS[name]}")
            run = tmp_path_factory.mktemp("runs") / name
            args = ["train", str(ROOT / "examples" / f"{name}.toml"), "--run-dir", str(run)]
            for override in TINY + RUNS[name]:
                args += ["--set", override]
            assert main(args) == 0
            loaded[name] = rnnkit.load(run)
        return loaded[name]
    return load


@pytest.fixture(scope="module", params=sorted(RUNS))
def predictor(request, load):
    return load(request.param)


floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), floats,
    st.text(max_size=12),  # (lone surrogates included: str that no encoding can write)
    st.sampled_from(["", "a" * 5000, "/dev/null", "/", "no/such/file.wav", "x.mid",
                     "~nobody_here/a.wav", "\x00"]),
    st.binary(max_size=6),
    arrays(np.float64, st.tuples(*[st.integers(0, 4)] * 2), elements=floats),
    arrays(np.float64, st.tuples(st.integers(0, 6)), elements=floats),
    arrays(np.float64, st.tuples(*[st.integers(0, 3)] * 3), elements=floats),
)
junk = st.one_of(leaves, st.lists(st.one_of(leaves, st.lists(leaves, max_size=4)), max_size=4),
                 st.dictionaries(st.text(max_size=3), leaves, max_size=2))


@FUZZ
@given(inputs=junk)
def test_predict_gives_strict_json_records_or_a_task_error(predictor, inputs):
    try:
        records = predictor.predict(inputs)
    except TaskError as e:
        assert str(e)
        return
    assert isinstance(records, list) and all(isinstance(r, dict) for r in records)
    json.dumps(records, allow_nan=False)  # strict JSON: no NaN, no infinity, no arrays
    if isinstance(inputs, list) and inputs and not isinstance(inputs[0], (int, float)):
        assert len(records) >= 1


# -- what the search found (each failed before its fix) -------------------------------------
@pytest.mark.parametrize("inputs", [None, 42, 2.5, True])
@pytest.mark.parametrize("name", ["topics", "music-folder", "keywords-folder"])
def test_a_single_number_or_none_is_a_task_error(load, name, inputs):
    with pytest.raises(TaskError, match="predict takes a list of inputs"):
        load(name).predict(inputs)


def test_an_array_with_no_rows_is_a_task_error(load):
    with pytest.raises(TaskError, match="no sequences"):
        load("sine").predict([np.zeros((0, 0))])


@pytest.mark.parametrize("inputs", [[None], [42], b"ab"])
def test_a_series_given_as_one_number_is_a_task_error(load, inputs):
    with pytest.raises(TaskError, match="one number"):
        load("anomaly-sensors").predict(inputs)


@pytest.mark.parametrize("name", ["music-folder", "keywords-folder"])
def test_a_path_too_long_for_the_system_is_a_record_error_or_task_error(load, name):
    path = "a" * 5000  # (Path.is_file raises OSError: file name too long)
    try:
        records = load(name).predict([path])
    except TaskError as e:
        assert "no such" in str(e)
    else:
        assert "no such" in records[0]["error"]


@pytest.mark.parametrize("name", ["topics", "translate-tsv"])
def test_text_with_lone_surrogates_is_read_with_a_warning(load, name):
    records = load(name).predict(["go \ud800 home", "go home"])
    assert len(records) == 2
    assert "lone surrogate" in records[0]["warning"]
    assert "warning" not in records[1] or "surrogate" not in records[1]["warning"]


def test_ragged_nested_lists_are_a_task_error(load):
    with pytest.raises(TaskError, match="not a sequence of numbers"):
        load("sine").predict([[None, np.zeros((0, 0))]])
