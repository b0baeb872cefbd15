"""The predictor protocol's shared code (rnnkit/tasks/predictor.py) and the Task base class's
defaults (rnnkit/tasks/base.py), unit by unit: reading input files, turning inputs into a
padded batch, strict JSON, opening a run, the default methods' messages, export's
preprocessing.json, task registration and the generic evaluate. (What mutation testing of
the two modules found unchecked by fast tests.)"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
import rnnkit.export
from rnnkit.cli.main import main
from rnnkit.tasks import TASKS, Predictor, TaskError
from rnnkit.tasks.base import CAPABILITIES, Task, register
from rnnkit.tasks.predictor import _finite_record, as_sequences, load, open_checkpoint, read_arrays
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.text_common import TextLine
from rnnkit.training.config_io import ConfigError

SINE = """
name = "unit-sine"
[task]
name = "sine"
window = 8
horizon = 2
train_size = 32
val_size = 16
test_size = 16
[model]
cell = "gru"
hidden_size = 6
output = "point"
[train]
steps = 4
batch_size = 16
eval_every = 2
threads = 1
progress = "off"
"""


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    threads = torch.get_num_threads()
    tmp = tmp_path_factory.mktemp("sine")
    (tmp / "sine.toml").write_text(SINE)
    assert main(["train", str(tmp / "sine.toml"), "--run-dir", str(tmp / "run")]) == 0
    yield tmp / "run"
    torch.set_num_threads(threads)  # load() sets the run's train.threads


# -- read_arrays ------------------------------------------------------------------------------


def test_npy_files_one_sequence_or_a_batch(tmp_path):
    seq = np.arange(12.0).reshape(6, 2)
    np.save(tmp_path / "one.npy", seq)
    [got] = read_arrays(tmp_path / "one.npy")
    np.testing.assert_array_equal(got, seq)
    batch = np.arange(24.0).reshape(2, 6, 2)  # rank 3: N sequences
    np.save(tmp_path / "batch.npy", batch)
    got = read_arrays(str(tmp_path / "batch.npy"))
    assert len(got) == 2
    np.testing.assert_array_equal(got[1], batch[1])
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))  # needs pickle
    with pytest.raises(TaskError, match=r"objects\.npy: cannot read inputs: .*allow_pickle"):
        read_arrays(tmp_path / "objects.npy")
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(TaskError, match=r"words\.npy: inputs must be numbers, got <U1$"):
        read_arrays(tmp_path / "words.npy")


def test_json_files_rectangular_ragged_and_bad(tmp_path):
    (tmp_path / "ints.json").write_text("[1, 2, 3]")
    [got] = read_arrays(tmp_path / "ints.json")
    assert got.dtype == np.float64 and got.tolist() == [1.0, 2.0, 3.0]
    (tmp_path / "ragged.json").write_text("[[1, 2, 3], [4]]")
    got = read_arrays(tmp_path / "ragged.json")
    assert [a.tolist() for a in got] == [[1.0, 2.0, 3.0], [4.0]]
    assert all(a.dtype == np.float64 for a in got)
    (tmp_path / "words.json").write_text('[["a", "b"], ["c"]]')
    with pytest.raises(TaskError, match=r"words\.json: cannot read inputs: could not convert "
                                        r"string to float"):
        read_arrays(tmp_path / "words.json")
    (tmp_path / "word.json").write_text('"abc"')  # not a list: no per-sequence retry
    with pytest.raises(TaskError, match=r"word\.json: cannot read inputs: could not convert"):
        read_arrays(tmp_path / "word.json")
    (tmp_path / "broken.json").write_text("[1, 2")
    with pytest.raises(TaskError, match=r"broken\.json: cannot read inputs: Expecting"):
        read_arrays(tmp_path / "broken.json")


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_csv_is_one_sequence_a_row_per_step(tmp_path, suffix):
    path = tmp_path / f"series{suffix}"
    path.write_text("1,2\n3,4\n5,6\n")
    [got] = read_arrays(path)
    assert got.shape == (3, 2) and got.tolist() == [[1, 2], [3, 4], [5, 6]]
    path.write_text("1.5\n2.5\n")  # one column: (T, 1)
    [got] = read_arrays(path)
    assert got.shape == (2, 1)
    path.write_text("7\n")  # one step, one feature: still (1, 1)
    [got] = read_arrays(path)
    assert got.shape == (1, 1)


def test_unknown_suffixes_and_missing_files_are_named(tmp_path):
    for name in ("x.parquet", "x.tsv", "x"):  # (upper-case known suffixes are read)
        with pytest.raises(TaskError, match=re.escape(
                f"{tmp_path / name}: unknown input format {Path(name).suffix!r} "
                "(use .npy, .json or .csv)") + "$"):
            read_arrays(tmp_path / name)
    with pytest.raises(TaskError, match=r"gone\.npy: cannot read inputs: .*No such file"):
        read_arrays(tmp_path / "gone.npy")


# -- as_sequences -----------------------------------------------------------------------------


def test_sequences_become_a_padded_batch_with_lengths():
    x, lengths = as_sequences([np.ones((3, 2)), [[1, 2]], torch.zeros(2, 2)], 2, "w")
    assert x.shape == (3, 3, 2) and x.dtype == torch.float32
    assert lengths.tolist() == [3, 1, 2]
    torch.testing.assert_close(x[1], torch.tensor([[1.0, 2.0], [0, 0], [0, 0]]))
    x, lengths = as_sequences(np.arange(12.0).reshape(2, 3, 2), None, "w", dtype=torch.float64)
    assert x.dtype == torch.float64 and lengths.tolist() == [3, 3]  # rank 3: N sequences
    torch.testing.assert_close(x[1, 2], torch.tensor([10.0, 11.0], dtype=torch.float64))


def test_one_feature_takes_flat_sequences_and_rows_of_them():
    x, lengths = as_sequences([[1, 2, 3], [4, 5]], 1, "w")
    assert x.shape == (2, 3, 1) and lengths.tolist() == [3, 2]
    x, lengths = as_sequences([np.arange(6.0).reshape(2, 3)], 1, "w")  # (N, T): N sequences
    assert x.shape == (2, 3, 1) and x[1, :, 0].tolist() == [3.0, 4.0, 5.0]
    x, lengths = as_sequences([np.arange(3.0).reshape(3, 1)], 1, "w")  # (T, 1): one sequence
    assert x.shape == (1, 3, 1) and lengths.tolist() == [3]
    x, _ = as_sequences(np.arange(6.0).reshape(1, 3, 2), None, "w")  # an array of rank 3
    assert x.shape == (1, 3, 2)


@pytest.mark.parametrize("inputs,features,message", [
    ([], 1, "w: give a non-empty list of sequences"),
    ("abc", 1, "w: give a non-empty list of sequences"),
    (np.ones((3, 2)), 2, "w: give a non-empty list of sequences"),  # rank 2: not a list
    ([[1.0], ["a", "b"]], 1, "w: input 1 is not a sequence of numbers (could not convert "
                             "string to float: 'a')"),
    ([[1.0, 2.0]], 2, "w: input 0 must have shape (T, 2) with T >= 1, got (2,)"),
    ([np.ones((3, 3))], 2, "w: input 0 must have shape (T, 2) with T >= 1, got (3, 3)"),
    ([np.ones((0, 2))], 2, "w: input 0 must have shape (T, 2) with T >= 1, got (0, 2)"),
    ([np.ones((0, 2))], None, "w: input 0 must have shape (T, F) with T >= 1, got (0, 2)"),
    ([[1.0, 2.0]], None, "w: input 0 must have shape (T, F) with T >= 1, got (2,)"),
    ([np.ones((2, 2, 2))], None, "w: input 0 must have shape (T, F) with T >= 1, got (2, 2, 2)"),
    ([[1.0], [np.nan]], 1, "w: input 1 holds NaN or infinite values"),
    ([np.ones((2, 2)), np.ones((2, 3))], None, "w: inputs have different numbers of features"),
    ([np.ones((2, 2)), np.ones((2, 3)), np.ones((2, 4))], None,
     "w: inputs have different numbers of features"),
])
def test_bad_inputs_are_named(inputs, features, message):
    with pytest.raises(TaskError, match="^" + re.escape(message) + "$"):
        as_sequences(inputs, features, "w")


# -- strict JSON ------------------------------------------------------------------------------


def test_finite_records_pass_through_untouched():
    record = {"label": "pos", "scores": [0.5, 1, None, True], "top": [["a", 0.2]], "n": 3}
    assert _finite_record(record) is record


def test_non_finite_values_become_null_and_the_warning_names_them():
    record = {"a": {"b": float("nan"), "c": 1.0}, "d": [1.0, float("inf")],
              "e": {"f": {"g": -float("inf")}}}
    out = _finite_record(record)
    assert out["a"] == {"b": None, "c": 1.0} and out["d"] == [1.0, None]
    assert out["e"] == {"f": {"g": None}}
    assert out["warning"] == ("non-finite values (NaN or infinity) in a.b, d, e.f.g written as "
                              "null: the model's output is not usable")
    old = _finite_record({"x": float("nan"), "warning": "input truncated"})
    assert old["warning"] == ("input truncated; non-finite values (NaN or infinity) in x "
                              "written as null: the model's output is not usable")


# -- opening a run ----------------------------------------------------------------------------


def test_load_opens_the_best_checkpoint_with_the_runs_threads(sine_run):
    torch.set_num_threads(2)
    p = load(sine_run)
    assert torch.get_num_threads() == 1  # the run's train.threads
    assert isinstance(p, Predictor) and p.task == "sine" and p.run_dir == Path(sine_run)
    assert p.info["task"]["window"] == 8 and p.config.task.window == 8
    assert not p.model.training and p.device == torch.device("cpu")
    _, ckpt, model = open_checkpoint(sine_run)
    _, last_ckpt, _ = open_checkpoint(sine_run, "last")
    assert ckpt.path.name == "best" and last_ckpt.path.name == "last"
    assert ckpt.state == {} and ckpt.tensors == {}  # no optimizer state read to predict
    assert ckpt.info == p.info and last_ckpt.info["step"] == 4
    # the context reads the data as the run did: its model.json (scalers, labels, ...)
    assert p.context.saved is p.info
    for a, b in zip(model.state_dict().values(), p.model.state_dict().values()):
        torch.testing.assert_close(a, b)
    last = load(sine_run, checkpoint="last")
    window = [np.sin(np.arange(8) / 3.0)]
    assert len(last.predict(window)[0]["forecast"]) == 2
    assert p.predict(window) == rnnkit.load(str(sine_run)).predict(window)


def test_opening_something_else_is_named(sine_run, tmp_path):
    with pytest.raises(ConfigError, match=r"^checkpoint = 'newest': choose 'best' or 'last'$"):
        load(sine_run, "newest")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path}: not a run directory (no "
                                                    "config.toml)") + "$"):
        load(tmp_path)


def test_a_run_with_one_checkpoint_names_the_other(sine_run, tmp_path):
    """A run stopped before its first validation has only ``last``: opening ``best`` says
    to open ``last`` (and the other way round); with neither, the plain error."""
    import shutil

    from rnnkit.training.checkpoint import CheckpointError

    run = tmp_path / "run"
    shutil.copytree(sine_run, run)
    shutil.rmtree(run / "checkpoints" / "best")
    with pytest.raises(CheckpointError, match=re.escape(
            f"no checkpoint at {run / 'checkpoints' / 'best'} (the run saved only "
            "checkpoints/last): open it with checkpoint='last' (--checkpoint last)")):
        load(run)
    assert load(run, "last").predict([np.zeros(8)])[0]["forecast"]
    (run / "checkpoints" / "last").rename(run / "checkpoints" / "best")
    with pytest.raises(CheckpointError, match=r"checkpoints/best\): open it with "
                                              r"checkpoint='best' \(--checkpoint best\)$"):
        load(run, "last")
    shutil.rmtree(run / "checkpoints" / "best")
    with pytest.raises(CheckpointError, match=r"^no checkpoint at .*best$"):
        load(run)


def test_predict_file_reads_the_tasks_format(sine_run, tmp_path):
    p = load(sine_run)
    window = np.sin(np.arange(8) / 3.0)
    np.save(tmp_path / "w.npy", window[None, :, None])
    assert p.predict_file(tmp_path / "w.npy") == p.predict([window])


# -- the default methods ----------------------------------------------------------------------


class _Bare(Predictor):
    def predict(self, inputs, **options):
        return [{"n": len(inputs), **options}]


def _bare(capabilities=frozenset(), info=None):
    task = type("T", (), {"name": "demo", "capabilities": frozenset(capabilities)})()
    model = torch.nn.Linear(2, 2).train()
    return _Bare(task, object(), model, info or {}, run_dir=Path("runs/demo"))


def test_what_a_task_does_not_offer_is_refused_by_name():
    p = _bare()
    assert not p.model.training and p.run_dir == Path("runs/demo")
    for call, message in [(p.stream, "task 'demo' does not stream"),
                          (p.generate, "task 'demo' does not generate; use predict"),
                          (lambda: p.plot({}, "x.png"), "task 'demo' has nothing to plot"),
                          (p.default_inputs, "task 'demo' needs inputs (give a file)"),
                          (p.write_report, "task 'demo' has no report section to add"),
                          (lambda: p.require("stream", "stream here"),
                           "task 'demo' does not stream here")]:
        with pytest.raises(TaskError, match="^" + re.escape(message) + "$"):
            call()
    _bare({"stream"}).require("stream", "stream")  # declared: no error


def test_text_tasks_read_a_line_per_input(tmp_path):
    (tmp_path / "in.txt").write_text("good film\nbad film\n")
    p = _bare({"text"})
    lines = p.read_file(tmp_path / "in.txt")
    assert lines == [TextLine("good film"), TextLine("bad film")]
    assert p.predict_file(tmp_path / "in.txt") == [{"n": 2}]
    assert p.predict_file(tmp_path / "in.txt", top=3) == [{"n": 2, "top": 3}]
    texts = p.read_texts(["a b", "c"])
    assert texts == [TextLine("a b"), TextLine("c")]


def test_export_writes_preprocessing_beside_the_graphs(tmp_path, monkeypatch):
    seen = {}

    def fake_export(model, directory, *, verify, quantize):
        seen.update(verify=verify, quantize=quantize, device=next(model.parameters()).device)
        directory.mkdir(parents=True, exist_ok=True)
        return {"sequence": directory / "sequence.onnx"}

    monkeypatch.setattr(rnnkit.export, "export_model", fake_export)
    info = {"format": "rnnkit", "format_version": 1, "model_config": {}, "step": 3, "epoch": 1,
            "labels": ["négatif", "pos"], "scaler": {"mean": 0.5}}
    _bare(info=info).export(tmp_path / "default")
    assert seen == {"verify": True, "quantize": None, "device": torch.device("cpu")}
    paths = _bare(info=info).export(tmp_path / "out", verify=False, quantize="dynamic")
    assert seen == {"verify": False, "quantize": "dynamic", "device": torch.device("cpu")}
    assert paths["preprocessing"].read_text(encoding="utf-8") == (
        '{\n "labels": [\n  "négatif",\n  "pos"\n ],\n "scaler": {\n  "mean": 0.5\n },\n'
        ' "graphs": {\n  "sequence": "sequence.onnx"\n }\n}\n')  # readable: indented, UTF-8
    assert paths["preprocessing"] == tmp_path / "out" / "preprocessing.json"
    assert paths["sequence"] == tmp_path / "out" / "sequence.onnx"
    written = json.loads(paths["preprocessing"].read_text())
    assert written == {"labels": ["négatif", "pos"], "scaler": {"mean": 0.5},
                       "graphs": {"sequence": "sequence.onnx"}}


def test_export_refusals_are_task_errors(tmp_path, monkeypatch):
    with pytest.raises(TaskError, match=r"^export format 'ONNX': only 'onnx' is supported$"):
        _bare().export(tmp_path, "ONNX")

    def failing(model, directory, *, verify, quantize):
        raise rnnkit.export.ExportError("a custom cell has no graph")

    monkeypatch.setattr(rnnkit.export, "export_model", failing)
    with pytest.raises(TaskError, match=r"^Linear cannot be exported: a custom cell has no "
                                        r"graph$"):
        _bare().export(tmp_path)


# -- the Task base class ----------------------------------------------------------------------


def test_register_refuses_unknown_capabilities_and_registers_the_rest():
    class Odd(Task):
        name = "odd-unit-task"
        capabilities = frozenset({"stream", "telepathy", "fly"})

    with pytest.raises(ValueError, match=r"^task 'odd-unit-task' declares unknown capabilities "
                                         r"\['fly', 'telepathy'\]$"):
        register(Odd())
    assert "odd-unit-task" not in TASKS

    class Fine(Task):
        name = "fine-unit-task"
        capabilities = frozenset(CAPABILITIES) - {"text"}

    task = Fine()
    try:
        assert register(task) is task and TASKS["fine-unit-task"] is task
    finally:
        TASKS.pop("fine-unit-task", None)


def test_setup_refuses_another_tasks_config():
    cfg = config_from_raw({"task": {"name": "sine"}}, "t")
    with pytest.raises(TaskError, match=r"^config of task 'sine' given to task 'copy'$"):
        TASKS["copy"].setup(cfg)


def test_model_keys_and_their_checks():
    task = TASKS["sine"]
    keys = task.model_keys()
    assert "hidden_size" in keys and not keys & {"input_size", "output_size"}
    cfg = config_from_raw({"task": {"name": "sine"}, "model": {"hidden_size": 12}}, "t")
    assert task.check(cfg) == []
    kwargs = task._model_kwargs(cfg)
    assert kwargs["hidden_size"] == 12
    assert "bidirectional" not in kwargs  # a common key the model lacks, at its default
    cfg.model.options = {"colour": None}  # an option key the model lacks: kept, and refused
    assert task._model_kwargs(cfg)["colour"] is None
    assert task.check(cfg) == ["model.colour = None: Forecaster (task 'sine') does not take it"]
    cfg.model.options = {}
    cfg.model.bidirectional, cfg.model.hidden_size = True, 0
    assert task.check(cfg) == [
        "model.hidden_size = 0: a count or size must be >= 1",
        "model.bidirectional = True: Forecaster (task 'sine') does not take it"]

    def built(hidden):
        cfg = config_from_raw({"task": {"name": "sine"}, "model": {"hidden_size": hidden}}, "t")
        return task.build_model(task.setup(cfg))

    # the [model] keys reach the model (the default cell: an LSTM, 4 gates)
    assert built(12).encoder.rnn.weight_hh_l0.shape == (48, 12)
    assert built(4).encoder.rnn.weight_hh_l0.shape == (16, 4)


def test_evaluate_unknown_split_and_the_generic_loss(sine_run):
    p = load(sine_run)
    task, ctx = TASKS["sine"], p.context
    with pytest.raises(TaskError, match=r"^unknown split 'dev'; choose one of \['test', "
                                        r"'train', 'val'\]$"):
        task.evaluate(ctx, p.model, "dev")
    figures = task.evaluate(ctx, p.model, "val")
    data = task.batches(ctx)["val"]
    with torch.no_grad():
        out = task.loss(ctx, p.model, data)
    assert figures["loss"] == pytest.approx(float(out.loss), rel=1e-5)
    assert task.info(ctx, p.model) == {"task": p.info["task"]}


def test_evaluate_uses_the_tasks_own_loss(sine_run):
    p = load(sine_run)
    base = TASKS["sine"]
    seen = []

    class Doubled(type(base)):
        def loss(self, ctx, model, batch, state=None):
            seen.append(ctx)
            out = super().loss(ctx, model, batch, state)
            return type(out)(out.loss * 2, out.metrics, out.count, out.state)

    plain = base.evaluate(p.context, p.model, "val")["loss"]
    assert Doubled().evaluate(p.context, p.model, "val")["loss"] == pytest.approx(2 * plain)
    assert seen and all(ctx is p.context for ctx in seen)


def test_the_default_loss_is_the_models_with_the_carried_state():
    class Recorder:
        def compute_loss(self, batch, state):
            return ("loss of", batch, state)

    assert Task().loss(None, Recorder(), {"x": 1}, state="carried") == ("loss of", {"x": 1},
                                                                       "carried")
    assert Task().loss(None, Recorder(), {"x": 1}) == ("loss of", {"x": 1}, None)


def test_files_in_lists_a_folders_files_of_the_suffixes_in_name_order(tmp_path):
    from rnnkit.tasks.predictor import files_in

    for name in ("b.WAV", "a.wav", "c.flac", "notes.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "sub.wav").mkdir()  # a folder is not a file, whatever its name
    assert files_in(tmp_path, (".wav", ".flac"), "audio") == [
        str(tmp_path / n) for n in ("a.wav", "b.WAV", "c.flac")]
    with pytest.raises(TaskError) as err:
        files_in(tmp_path, (".mid", ".midi"), "MIDI", " and no label folder")
    assert str(err.value) == f"{tmp_path}: no MIDI file (.mid, .midi) and no label folder in it"


@pytest.mark.parametrize("name", ["X.NPY", "x.Json", "x.CSV"])
def test_read_arrays_reads_a_suffix_in_any_case(tmp_path, name):
    x = np.arange(6.0).reshape(3, 2)
    path = tmp_path / name
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(tmp_path / "tmp.npy", x)
        (tmp_path / "tmp.npy").rename(path)
    elif suffix == ".json":
        path.write_text(json.dumps(x.tolist()))
    else:
        path.write_text("\n".join(",".join(str(v) for v in row) for row in x) + "\n")
    [got] = read_arrays(path)
    np.testing.assert_array_equal(got, x)


def test_small_helpers_ndim_empty_arrays_and_empty_folders(tmp_path):
    from rnnkit.tasks.predictor import _ndim, files_in

    assert _ndim([[1, 2], [3]]) == -1 and _ndim([[1, 2]]) == 2 and _ndim(3.0) == 0
    with pytest.raises(TaskError, match=r"^windows: no sequences \(an array with no rows\)$"):
        as_sequences([np.zeros((0, 5))], features=1, what="windows")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TaskError) as err:
        files_in(tmp_path, (".mid", ".midi"), "MIDI")
    assert str(err.value) == f"{tmp_path}: no MIDI file (.mid, .midi) in it"
    (tmp_path / "b.MID").write_bytes(b"")
    (tmp_path / "a.mid").write_bytes(b"")
    assert files_in(tmp_path, (".mid",), "MIDI") == [str(tmp_path / "a.mid"),
                                                   str(tmp_path / "b.MID")]
