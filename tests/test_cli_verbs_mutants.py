"""The CLI verbs (evaluate, predict, forecast, detect, generate, translate, train, tune) as
thin shells: each passes the run, split, checkpoint and flags on to ``rnnkit.load``'s
predictor (or evaluate_run, train_run, the tuning functions) unchanged, prints what that
gives back (JSON and CSV on stdout, everything human on stderr) and exits with the status
it documents. A stand-in predictor records every call, so no test trains a model."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from rnnkit._optional import MissingExtraError
from rnnkit.cli import detect as detect_cmd
from rnnkit.cli import evaluate as evaluate_cmd
from rnnkit.cli import forecast as forecast_cmd
from rnnkit.cli import generate as generate_cmd
from rnnkit.cli import predict as predict_cmd
from rnnkit.cli import train as train_cmd
from rnnkit.cli import translate as translate_cmd
from rnnkit.cli import tune as tune_cmd
from rnnkit.cli.main import build_parser, main
from rnnkit.tasks import TaskError


class _Stand:
    """A predictor that records its calls and answers what it was given."""

    task = "stand"

    def __init__(self, capabilities=(), records=None, inputs=("a", "b"), scores=None,
                 generated=None):
        self.capabilities = frozenset(capabilities)
        self.records, self.inputs, self.scores = records, list(inputs), scores
        self.generated = generated
        self.calls: list[tuple] = []

    def require(self, capability, what):
        self.calls.append(("require", capability, what))
        if capability not in self.capabilities:
            raise TaskError(f"task {self.task!r} does not {what}")

    def read_file(self, path, **options):
        self.calls.append(("read_file", path, options))
        return self.inputs

    def read_texts(self, texts):
        self.calls.append(("read_texts", texts))
        return [f"text:{t}" for t in texts]

    def default_inputs(self):
        self.calls.append(("default_inputs",))
        return ["default"]

    def predict(self, inputs, **options):
        self.calls.append(("predict", inputs, options))
        return self.records

    def corpus_scores(self, records):
        self.calls.append(("corpus_scores", records))
        if isinstance(self.scores, Exception):
            raise self.scores
        return self.scores or {}

    def plot(self, record, path):
        self.calls.append(("plot", record, path))
        return f"drawn/{path}"

    def write_report(self):
        self.calls.append(("write_report",))
        return "run/report.md"

    def generate(self, **options):
        self.calls.append(("generate", options))
        return self.generated


@pytest.fixture
def loads():
    return []


def _use(monkeypatch, module, stand, loads):
    def load(run_dir, checkpoint):
        loads.append((run_dir, checkpoint))
        return stand
    monkeypatch.setattr(module, "load", load)
    return stand


def _lines(text):
    return text.splitlines()


# -- evaluate ---------------------------------------------------------------------------

FIGURES = {"split": "val", "checkpoint": "last", "step": 7, "loss": 0.123456789, "mse": 2.5}


def test_evaluate_passes_the_split_and_checkpoint_and_prints_the_figures_on_stderr(
        monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(evaluate_cmd, "evaluate_run",
                        lambda run, split, checkpoint: calls.append((run, split, checkpoint))
                        or FIGURES)
    assert main(["evaluate", "runs/x", "--split", "val", "--checkpoint", "last"]) == 0
    assert calls == [("runs/x", "val", "last")]
    out, err = capsys.readouterr()
    assert out == ""
    assert _lines(err) == ["runs/x (last checkpoint, step 7), val:",
                           "              loss 0.123457",
                           "               mse 2.5"]
    assert main(["evaluate", "runs/y"]) == 0
    assert calls[-1] == ("runs/y", "test", "best")


def test_evaluate_json_is_the_figures_alone_on_stdout(monkeypatch, capsys):
    monkeypatch.setattr(evaluate_cmd, "evaluate_run", lambda run, split, checkpoint: FIGURES)
    assert main(["evaluate", "runs/x", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and _lines(out) == [json.dumps(FIGURES)]


def test_evaluate_refuses_an_unknown_checkpoint(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "runs/x", "--checkpoint", "first"])
    assert e.value.code == 2
    assert "invalid choice: 'first'" in capsys.readouterr().err


# -- predict ----------------------------------------------------------------------------

def test_predict_needs_exactly_one_of_input_and_text(monkeypatch, capsys, loads):
    _use(monkeypatch, predict_cmd, _Stand({"text"}, records=[]), loads)
    for argv in ([], ["--input", "f.txt", "--text", "hi"]):
        assert main(["predict", "runs/x", *argv]) == 1
        assert capsys.readouterr() == (
            "", "rnnkit predict: error: give either --input FILE or --text TEXT\n")
    assert loads == []


def test_predict_text_reads_the_texts_and_prints_one_record_a_line(monkeypatch, capsys, loads):
    records = [{"label": "pos", "p": 0.5}, {"label": "neg", "text": "é"}]
    stand = _use(monkeypatch, predict_cmd, _Stand({"text"}, records=records), loads)
    assert main(["predict", "runs/x", "--text", "good", "--text", "bad",
                 "--checkpoint", "last"]) == 0
    assert loads == [("runs/x", "last")]
    assert stand.calls == [
        ("require", "text", "read text; use --input FILE"),
        ("read_texts", ["good", "bad"]),
        ("predict", ["text:good", "text:bad"], {}),
        ("corpus_scores", records)]
    out, err = capsys.readouterr()
    assert err == ""
    assert out == '{"label": "pos", "p": 0.5}\n{"label": "neg", "text": "é"}\n'


def test_predict_text_on_a_task_without_text_says_to_use_input(monkeypatch, capsys, loads):
    stand = _use(monkeypatch, predict_cmd, _Stand(records=[]), loads)
    assert main(["predict", "runs/x", "--text", "good"]) == 1
    assert capsys.readouterr() == (
        "", "rnnkit predict: error: task 'stand' does not read text; use --input FILE\n")
    assert [c[0] for c in stand.calls] == ["require"]


def test_predict_input_explain_and_the_corpus_scores(monkeypatch, capsys, loads):
    problem = SimpleNamespace(problem="line 2 is empty")
    stand = _use(monkeypatch, predict_cmd, _Stand(
        {"explain"}, records=[{"y": 1}], inputs=["x", problem],
        scores={"bleu": 12.345, "sentences": 3}), loads)
    assert main(["predict", "runs/x", "--input", "f.tsv", "--explain"]) == 0
    assert loads == [("runs/x", "best")]
    assert stand.calls == [
        ("require", "explain", "explain its predictions (drop --explain)"),
        ("read_file", "f.tsv", {}),
        ("predict", ["x", problem], {"explain": True}),
        ("corpus_scores", [{"y": 1}])]
    out, err = capsys.readouterr()
    assert out == '{"y": 1}\n'
    assert _lines(err) == ["warning: line 2 is empty",
                           "corpus scores: bleu 12.35, sentences 3"]


def test_predict_explain_on_a_task_that_cannot_explain_is_an_error(monkeypatch, capsys, loads):
    _use(monkeypatch, predict_cmd, _Stand(records=[]), loads)
    assert main(["predict", "runs/x", "--input", "f.txt", "--explain"]) == 1
    assert capsys.readouterr().err == (
        "rnnkit predict: error: task 'stand' does not explain its predictions (drop "
        "--explain)\n")


def test_predict_without_the_corpus_scores_extra_warns_and_succeeds(monkeypatch, capsys, loads):
    _use(monkeypatch, predict_cmd, _Stand(records=[{"y": 1}], scores=MissingExtraError(
        "sacrebleu", "text")), loads)
    assert main(["predict", "runs/x", "--input", "f.tsv"]) == 0
    out, err = capsys.readouterr()
    assert out == '{"y": 1}\n'
    assert err.startswith("warning: no corpus scores: ") and err.count("\n") == 1
    assert "sacrebleu" in err


@pytest.mark.parametrize("failed, named", [
    ([1], "input 2"),
    ([0, 2], "input 1, 3"),
    (list(range(10)), "input 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"),
    (list(range(11)), "input 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ..."),
])
def test_predict_error_records_end_with_a_line_naming_them_and_status_1(
        monkeypatch, capsys, loads, failed, named):
    records = [{"error": "bad"} if i in failed else {"y": i} for i in range(12)]
    _use(monkeypatch, predict_cmd, _Stand(records=records), loads)
    assert main(["predict", "runs/x", "--input", "f.json"]) == 1
    out, err = capsys.readouterr()
    assert len(_lines(out)) == 12  # every record is printed, the bad ones too
    assert err == (f"rnnkit predict: error: {len(failed)} of 12 input(s) could not be "
                   f"predicted ({named}: their records hold the error)\n")


# -- forecast ---------------------------------------------------------------------------

RECORD = {"columns": {"timestamp": ["t1", "t2"], "forecast": [1.5, None]},
          "alarm_points": 3, "threshold": 2.345678, "warmup_points": 4}


def test_forecast_from_the_training_range_writes_csv_to_stdout(monkeypatch, capsys, loads):
    stand = _use(monkeypatch, forecast_cmd, _Stand({"forecast"}, records=[RECORD]), loads)
    assert main(["forecast", "runs/x"]) == 0
    assert loads == [("runs/x", "best")]
    assert stand.calls == [("require", "forecast", "forecast; use a forecast run"),
                           ("default_inputs",),
                           ("predict", ["default"], {"horizon": None, "samples": 1000})]
    assert capsys.readouterr() == ("timestamp,forecast\nt1,1.5\nt2,\n", "2 rows\n")


def test_forecast_passes_the_input_repair_horizon_samples_and_checkpoint(
        monkeypatch, capsys, loads, tmp_path):
    stand = _use(monkeypatch, forecast_cmd, _Stand({"forecast"}, records=[RECORD]), loads)
    out_csv = tmp_path / "f.csv"
    assert main(["forecast", "runs/x", "--input", "h.csv", "--repair", "sort", "--horizon",
                 "1", "--samples", "1", "--checkpoint", "last", "--output", str(out_csv),
                 "--plot", "f.png", "--report"]) == 0
    assert loads == [("runs/x", "last")]
    assert stand.calls == [("require", "forecast", "forecast; use a forecast run"),
                           ("read_file", "h.csv", {"repair": "sort"}),
                           ("predict", stand.inputs, {"horizon": 1, "samples": 1}),
                           ("plot", RECORD, "f.png"), ("write_report",)]
    assert out_csv.read_text() == "timestamp,forecast\nt1,1.5\nt2,\n"
    assert capsys.readouterr() == (
        "", f"wrote {out_csv}\nwrote drawn/f.png\nwrote run/report.md\n")


@pytest.mark.parametrize("argv, message", [
    (["--horizon", "0"], "--horizon must be >= 1"),
    (["--samples", "0"], "--samples must be >= 1")])
def test_forecast_horizon_and_samples_below_1_are_errors(monkeypatch, capsys, loads, argv,
                                                         message):
    _use(monkeypatch, forecast_cmd, _Stand({"forecast"}, records=[RECORD]), loads)
    assert main(["forecast", "runs/x", *argv]) == 1
    assert capsys.readouterr() == ("", f"rnnkit forecast: error: {message}\n")
    assert loads == []


def test_forecast_on_another_task_is_an_error(monkeypatch, capsys, loads):
    _use(monkeypatch, forecast_cmd, _Stand(records=[RECORD]), loads)
    assert main(["forecast", "runs/x"]) == 1
    assert capsys.readouterr() == (
        "", "rnnkit forecast: error: task 'stand' does not forecast; use a forecast run\n")


# -- detect -----------------------------------------------------------------------------

def test_detect_scores_the_run_series_and_says_the_alarms(monkeypatch, capsys, loads):
    stand = _use(monkeypatch, detect_cmd, _Stand({"detect"}, records=[RECORD]), loads)
    assert main(["detect", "runs/x"]) == 0
    assert loads == [("runs/x", "best")]
    assert stand.calls == [("require", "detect", "detect anomalies; use an anomaly run"),
                           ("default_inputs",), ("predict", ["default"], {"stream": False})]
    out, err = capsys.readouterr()
    assert out == "timestamp,forecast\nt1,1.5\nt2,\n"
    assert _lines(err) == ["2 rows", "3 alarm points, threshold 2.346; the first 4 points are "
                           "the warm-up (scored, never alarmed)"]


def test_detect_passes_the_input_repair_stream_and_checkpoint(monkeypatch, capsys, loads,
                                                              tmp_path):
    stand = _use(monkeypatch, detect_cmd, _Stand({"detect"}, records=[RECORD]), loads)
    out_csv = tmp_path / "a.csv"
    assert main(["detect", "runs/x", "--input", "new.csv", "--repair", "ignore-gaps",
                 "--stream", "--checkpoint", "last", "--output", str(out_csv),
                 "--plot", "a.png", "--report"]) == 0
    assert loads == [("runs/x", "last")]
    assert stand.calls == [("require", "detect", "detect anomalies; use an anomaly run"),
                           ("read_file", "new.csv", {"repair": "ignore-gaps"}),
                           ("predict", stand.inputs, {"stream": True}),
                           ("plot", RECORD, "a.png"), ("write_report",)]
    out, err = capsys.readouterr()
    assert out == "" and out_csv.read_text().startswith("timestamp,forecast\n")
    assert _lines(err)[0] == f"wrote {out_csv}"
    assert _lines(err)[2:] == ["wrote drawn/a.png", "wrote run/report.md"]


def test_detect_on_another_task_is_an_error(monkeypatch, capsys, loads):
    _use(monkeypatch, detect_cmd, _Stand(records=[RECORD]), loads)
    assert main(["detect", "runs/x"]) == 1
    assert capsys.readouterr() == (
        "", "rnnkit detect: error: task 'stand' does not detect anomalies; use an anomaly "
            "run\n")


# -- generate ---------------------------------------------------------------------------

DEFAULTS = {"prompt": None, "max_new": 100, "temperature": 1.0, "top_k": 0, "top_p": 1.0,
            "seed": 0, "output": None, "plot": None, "prime": 0}


def test_generate_text_streams_the_pieces_to_stdout(monkeypatch, capsys, loads):
    stand = _use(monkeypatch, generate_cmd, _Stand({"generate", "text"},
                                                   generated=iter(["RO", "MEO", ":"])), loads)
    assert main(["generate", "runs/x"]) == 0
    assert loads == [("runs/x", "best")]
    assert stand.calls == [("require", "generate", "generate; use `rnnkit predict`"),
                           ("generate", DEFAULTS)]
    assert capsys.readouterr() == ("ROMEO:\n", "")


def test_generate_passes_every_option_and_prints_json_for_other_tasks(monkeypatch, capsys,
                                                                      loads):
    stand = _use(monkeypatch, generate_cmd, _Stand({"generate"},
                                                   generated={"frames": [1, 2]}), loads)
    assert main(["generate", "runs/x", "--prompt", "a.mid", "--steps", "7", "--prime", "8",
                 "--output", "b.mid", "--plot", "b.png", "--temperature", "0.5",
                 "--top-k", "3", "--top-p", "0.9", "--seed", "4", "--checkpoint", "last"]) == 0
    assert loads == [("runs/x", "last")]
    assert stand.calls[-1] == ("generate", {
        "prompt": "a.mid", "max_new": 7, "temperature": 0.5, "top_k": 3, "top_p": 0.9,
        "seed": 4, "output": "b.mid", "plot": "b.png", "prime": 8})
    assert capsys.readouterr() == ('{"frames": [1, 2]}\n', "")


@pytest.mark.parametrize("prime, given", [("-2", -2), ("12", 12), ("a.mid", "a.mid"),
                                          ("-a.mid", "-a.mid"), ("X8", "X8")])
def test_generate_prime_is_a_number_of_steps_or_a_file(monkeypatch, capsys, loads, prime,
                                                       given):
    stand = _use(monkeypatch, generate_cmd, _Stand({"generate"}, generated={}), loads)
    assert main(["generate", "runs/x", f"--prime={prime}", "--max-new", "5"]) == 0
    options = stand.calls[-1][1]
    assert options["prime"] == given and type(options["prime"]) is type(given)
    assert options["max_new"] == 5


def test_generate_on_a_task_that_does_not_generate_is_an_error(monkeypatch, capsys, loads):
    _use(monkeypatch, generate_cmd, _Stand({"text"}, generated=[]), loads)
    assert main(["generate", "runs/x"]) == 1
    assert capsys.readouterr() == (
        "", "rnnkit generate: error: task 'stand' does not generate; use `rnnkit predict`\n")


# -- translate --------------------------------------------------------------------------

def test_translate_prints_the_translation_alone_on_stdout(monkeypatch, capsys, loads):
    record = {"translation": "j'ai froid .", "attention": [[1.0]]}
    stand = _use(monkeypatch, translate_cmd, _Stand({"translate"}, records=[record]), loads)
    assert main(["translate", "runs/x", "I am cold."]) == 0
    assert loads == [("runs/x", "best")]
    assert stand.calls == [("require", "translate", "translate; use a translation run"),
                           ("predict", ["I am cold."], {"beam": None, "explain": True})]
    assert capsys.readouterr() == ("j'ai froid .\n", "")


def test_translate_passes_the_beam_and_checkpoint_and_draws_the_attention(
        monkeypatch, capsys, loads):
    record = {"translation": "bonjour", "error": ""}
    stand = _use(monkeypatch, translate_cmd, _Stand({"translate"}, records=[record]), loads)
    assert main(["translate", "runs/x", "hello", "--beam", "1", "--checkpoint", "last",
                 "--attention-plot", "a.png"]) == 0
    assert loads == [("runs/x", "last")]
    assert stand.calls[1:] == [("predict", ["hello"], {"beam": 1, "explain": True}),
                               ("plot", record, "a.png")]
    assert capsys.readouterr() == ("bonjour\n", "attention plot: drawn/a.png\n")


def test_translate_errors(monkeypatch, capsys, loads):
    stand = _use(monkeypatch, translate_cmd, _Stand(
        {"translate"}, records=[{"translation": "", "error": "no words"}]), loads)
    assert main(["translate", "runs/x", "hi", "--beam", "0"]) == 1
    assert capsys.readouterr() == ("", "rnnkit translate: error: --beam must be >= 1, got 0\n")
    assert loads == []
    assert main(["translate", "runs/x", "hi", "--attention-plot", "a.png"]) == 1
    assert capsys.readouterr() == ("", "rnnkit translate: error: no words\n")
    assert [c[0] for c in stand.calls] == ["require", "predict"]
    stand.capabilities = frozenset()
    assert main(["translate", "runs/x", "hi"]) == 1
    assert capsys.readouterr() == (
        "", "rnnkit translate: error: task 'stand' does not translate; use a translation "
            "run\n")


# -- train ------------------------------------------------------------------------------

class _Trainer:
    """Stand-ins for what `rnnkit train` calls, recording the calls."""

    def __init__(self, monkeypatch, result=None, raises=None, kept=(), early=()):
        self.calls: list[tuple] = []
        self.result, self.raises = result, raises
        self.kept, self.early = {Path(p) for p in kept}, {Path(p) for p in early}
        self.cfg = SimpleNamespace(name="tiny")
        for name in ("load_config", "resume_config", "train_run", "checkpoint_exists",
                     "stopped_before_first_checkpoint"):
            monkeypatch.setattr(train_cmd, name, getattr(self, name))

    def load_config(self, path, overrides):
        self.calls.append(("load_config", path, overrides))
        return self.cfg

    def resume_config(self, run_dir, overrides):
        self.calls.append(("resume_config", run_dir, overrides))
        return self.cfg

    def train_run(self, cfg, run_dir, *, resume, overwrite):
        assert cfg is self.cfg
        self.calls.append(("train_run", run_dir, resume, overwrite))
        if self.raises is not None:
            raise self.raises
        return self.result

    def checkpoint_exists(self, path):
        return Path(path) in self.kept

    def stopped_before_first_checkpoint(self, path):
        return Path(path) in self.early


def _result(reason="max steps", step=10, skipped=0, run_dir="runs/tiny", results=None):
    return SimpleNamespace(interrupted=reason.startswith("interrupted"), run_dir=run_dir,
                           state=SimpleNamespace(stop_reason=reason, step=step,
                                                 skipped=skipped),
                           results=results or {})


def test_train_a_config_passes_the_overrides_and_says_the_results(monkeypatch, capsys):
    t = _Trainer(monkeypatch, _result(results={"test": {"loss": 0.123456, "mse": 2.0},
                                               "val": {"loss": 1.5}}))
    assert main(["train", "c.toml", "--set", "a=1", "--set", "b=2"]) == 0
    assert t.calls == [("load_config", "c.toml", ["a=1", "b=2"]),
                       ("train_run", None, False, False)]
    assert capsys.readouterr() == ("", "max steps after 10 steps; run: runs/tiny\n"
                                       "  best checkpoint, test: loss 0.1235  mse 2\n"
                                       "  best checkpoint, val: loss 1.5\n"
                                       "  report: runs/tiny/report.md\n")


def test_train_to_a_run_dir_with_overwrite_and_skipped_steps(monkeypatch, capsys):
    t = _Trainer(monkeypatch, _result(skipped=2, run_dir="d"))
    assert main(["train", "c.toml", "--run-dir", "d", "--overwrite"]) == 0
    assert t.calls == [("load_config", "c.toml", []), ("train_run", "d", False, True)]
    assert _lines(capsys.readouterr().err)[0] == (
        "max steps after 10 steps (2 skipped: non-finite loss or gradient); run: d")


def test_train_resume_continues_the_run_dir(monkeypatch, capsys):
    t = _Trainer(monkeypatch, _result(run_dir="runs/r"))
    assert main(["train", "--resume", "runs/r", "--set", "train.steps=9"]) == 0
    assert t.calls == [("resume_config", "runs/r", ["train.steps=9"]),
                       ("train_run", "runs/r", True, False)]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv, message", [
    (["c.toml", "--resume", "runs/r"], "give either CONFIG.toml or --resume RUN_DIR, not both"),
    ([], "give a config file (rnnkit train CONFIG.toml) or --resume RUN_DIR")])
def test_train_needs_one_of_a_config_and_resume(monkeypatch, capsys, argv, message):
    t = _Trainer(monkeypatch, _result())
    assert main(["train", *argv]) == 2
    assert capsys.readouterr() == ("", f"rnnkit train: error: {message}\n")
    assert t.calls == []


@pytest.mark.parametrize("reason, status", [("interrupted by SIGTERM", 143),
                                            ("interrupted by SIGINT", 130),
                                            ("interrupted (rnnkit tune)", 130)])
def test_an_interrupted_training_says_how_to_continue_and_exits_128_plus_the_signal(
        monkeypatch, capsys, reason, status):
    _Trainer(monkeypatch, _result(reason=reason, step=5, run_dir="runs/r"))
    assert main(["train", "c.toml"]) == status
    assert capsys.readouterr() == (
        "", f"{reason} at step 5: saved runs/r/checkpoints/last; continue with "
            "`rnnkit train --resume runs/r`\n")


def test_ctrl_c_outside_the_loop_names_what_is_kept(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    _Trainer(monkeypatch, raises=KeyboardInterrupt(), kept=["runs/tiny/checkpoints/last"])
    assert main(["train", "c.toml"]) == 130
    assert capsys.readouterr() == (
        "", "rnnkit train: interrupted by SIGINT; runs/tiny/checkpoints/last is kept: "
            "continue with `rnnkit train --resume runs/tiny`\n")
    stopped = KeyboardInterrupt()
    stopped.signum = signal.SIGTERM
    _Trainer(monkeypatch, raises=stopped, kept=["d/checkpoints/last"])
    assert main(["train", "c.toml", "--run-dir", "d"]) == 143
    assert capsys.readouterr().err == (
        "rnnkit train: interrupted by SIGTERM; d/checkpoints/last is kept: continue with "
        "`rnnkit train --resume d`\n")


def test_ctrl_c_before_the_first_checkpoint_says_to_start_again(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    _Trainer(monkeypatch, raises=KeyboardInterrupt(), early=["runs/tiny"])
    assert main(["train", "c.toml"]) == 130
    assert capsys.readouterr().err == (
        "rnnkit train: interrupted by SIGINT; runs/tiny holds no checkpoint yet: start it "
        "again with --overwrite\n")
    _Trainer(monkeypatch, raises=KeyboardInterrupt(), early=["runs/other"])
    assert main(["train", "c.toml"]) == 130
    assert capsys.readouterr().err == "rnnkit train: interrupted by SIGINT\n"
    # an early-stopped run that is not a folder (never written) has nothing to start again
    _Trainer(monkeypatch, raises=KeyboardInterrupt(), early=["runs/gone"])
    assert main(["train", "c.toml", "--run-dir", "runs/gone"]) == 130
    assert capsys.readouterr().err == "rnnkit train: interrupted by SIGINT\n"


def test_a_failed_write_names_what_is_kept(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    _Trainer(monkeypatch, raises=OSError("No space left on device"),
             kept=["runs/r/checkpoints/last"])
    assert main(["train", "--resume", "runs/r"]) == 1
    assert capsys.readouterr().err == (
        "rnnkit train: error: No space left on device; runs/r/checkpoints/last is kept: "
        "continue with `rnnkit train --resume runs/r` once the cause is removed\n")
    _Trainer(monkeypatch, raises=OSError("No space left on device"))
    assert main(["train", "--resume", "runs/r"]) == 1
    assert capsys.readouterr().err == "rnnkit train: error: No space left on device\n"


# -- tune -------------------------------------------------------------------------------

class _Tuner:
    def __init__(self, monkeypatch, **result):
        self.calls: list[tuple] = []
        self.tuning = SimpleNamespace(name="s-tune", spec=SimpleNamespace(space={"a": 1, "b": 2,
                                                                                 "c": 3}),
                                      storage="sqlite:///s.db", metric="loss")
        fields = dict(name="s-tune", root=Path("runs/s-tune"), storage="sqlite:///s.db",
                      finished=3, pruned=1, failed=0, best_number=2, best_value=0.123456789,
                      best_params={"lr": 0.01, "cell": "gru"}, interrupted=False, signum=0,
                      best_config=Path("runs/s-tune/best.toml"),
                      report=Path("runs/s-tune/report.md"), errors=[])
        fields.update(result)
        self.result = SimpleNamespace(**fields)
        monkeypatch.setattr(tune_cmd, "prepare_tuning", self.prepare_tuning)
        monkeypatch.setattr(tune_cmd, "run_tuning", self.run_tuning)

    def prepare_tuning(self, config, overrides, *, name, storage, runs_dir):
        self.calls.append(("prepare_tuning", config, overrides, name, storage, runs_dir))
        return self.tuning

    def run_tuning(self, tuning, trials, timeout, jobs):
        assert tuning is self.tuning
        self.calls.append(("run_tuning", trials, timeout, jobs))
        return self.result


SUMMARY_LINES = ["study s-tune: 3 dimensions, storage sqlite:///s.db",
                 "best: trial 2, validation loss 0.123457  lr=0.01  cell=gru",
                 "  config: runs/s-tune/best.toml", "  report: runs/s-tune/report.md"]


def test_tune_passes_its_options_on_and_summarises_on_stderr(monkeypatch, capsys):
    t = _Tuner(monkeypatch)
    assert main(["tune", "c.toml"]) == 0
    assert t.calls == [("prepare_tuning", "c.toml", [], None, None, "runs"),
                       ("run_tuning", None, None, 1)]
    out, err = capsys.readouterr()
    assert out == "" and _lines(err) == SUMMARY_LINES
    assert main(["tune", "c.toml", "--trials", "5", "--timeout", "1.5", "--jobs", "2",
                 "--storage", "sqlite:///o.db", "--name", "n", "--runs-dir", "r",
                 "--set", "a=1", "--set", "b=2"]) == 0
    assert t.calls[2:] == [("prepare_tuning", "c.toml", ["a=1", "b=2"], "n", "sqlite:///o.db",
                            "r"), ("run_tuning", 5, 1.5, 2)]


def test_tune_json_is_the_summary_on_stdout(monkeypatch, capsys):
    _Tuner(monkeypatch)
    assert main(["tune", "c.toml", "--json"]) == 0
    out, err = capsys.readouterr()
    assert _lines(err) == SUMMARY_LINES
    assert _lines(out) == [json.dumps({
        "name": "s-tune", "dir": "runs/s-tune", "storage": "sqlite:///s.db", "finished": 3,
        "pruned": 1, "failed": 0, "best_trial": 2, "best_value": 0.123456789,
        "best_params": {"lr": 0.01, "cell": "gru"}, "interrupted": False,
        "best_config": "runs/s-tune/best.toml", "report": "runs/s-tune/report.md"})]


def test_tune_without_a_best_trial_or_report(monkeypatch, capsys):
    _Tuner(monkeypatch, best_number=None, best_value=None, best_params={}, best_config=None,
           report=None, finished=0)
    assert main(["tune", "c.toml", "--json"]) == 0
    out, err = capsys.readouterr()
    assert _lines(err) == [SUMMARY_LINES[0], "  report: None"]
    summary = json.loads(out)
    assert summary["best_config"] is None and summary["report"] is None
    assert summary["best_trial"] is None


def test_tune_interrupted_exits_128_plus_the_signal(monkeypatch, capsys):
    _Tuner(monkeypatch, interrupted=True, signum=signal.SIGTERM)
    assert main(["tune", "c.toml", "--json"]) == 143
    out, err = capsys.readouterr()
    assert _lines(err)[1] == ("interrupted by SIGTERM: the study is kept in sqlite:///s.db; "
                              "the same command continues it")
    assert json.loads(out)["interrupted"] is True


def test_tune_errors_are_named_and_exit_1(monkeypatch, capsys):
    _Tuner(monkeypatch, errors=["trial 3 failed: boom", "trial 4 failed: bang"])
    assert main(["tune", "c.toml"]) == 1
    assert _lines(capsys.readouterr().err)[1:3] == ["rnnkit tune: trial 3 failed: boom",
                                                    "rnnkit tune: trial 4 failed: bang"]
    _Tuner(monkeypatch, errors=["trial 3 failed: boom"], interrupted=True, signum=signal.SIGINT)
    assert main(["tune", "c.toml"]) == 130  # the signal's status before the errors'


# -- the help ---------------------------------------------------------------------------
# What `rnnkit VERB --help` says is part of the command: its one-line description, the
# example it ends with (every example line a command the verb's own parser accepts) and
# the words beside each argument, held here as written.

VERBS = ("evaluate", "predict", "forecast", "detect", "generate", "translate", "train", "tune")
_CHECKPOINT = "the checkpoint to load: best (default) or last"
HELP = {
    "evaluate": ("Evaluate a trained run on one data split.", {
        "run_dir": "a run directory written by `rnnkit train`",
        "split": "train | val | test (default test)",
        "checkpoint": _CHECKPOINT,
        "json": "print one JSON object on stdout"}),
    "predict": ("Predict with a trained run; prints JSON on stdout (exit status 1 when an input "
                "gets an error record).", {
        "run_dir": "a run directory written by `rnnkit train`",
        "input": "text tasks: one text a line (- = stdin; translation: also source<TAB>target "
                 "lines, scored against the targets); others: .npy, .json (list of sequences) "
                 "or .csv (one sequence)",
        "text": "text tasks: a text to predict for (repeatable)",
        "explain": "add what the model attended to (tasks that can show it)",
        "checkpoint": _CHECKPOINT}),
    "forecast": ("Forecast a trained forecast run, with 80%/95% intervals.", {
        "run_dir": "a run directory whose task forecasts",
        "horizon": "steps to forecast (default: the model's task.horizon)",
        "input": "history CSV (default: the run's training range)",
        "repair": "read_csv repairs for --input, e.g. sort,interpolate",
        "output": "CSV file to write (default: stdout)",
        "plot": "PNG of history, truth, forecast and intervals",
        "samples": "sample paths when --horizon exceeds the model's horizon",
        "report": "add test figures vs baselines and plots to the run's report.md",
        "checkpoint": _CHECKPOINT}),
    "detect": ("Score a series for anomalies with a trained anomaly run.", {
        "run_dir": "a run directory whose task detects anomalies",
        "input": "CSV to score (default: the run's whole series)",
        "repair": "read_csv repairs for --input, e.g. ignore-gaps,keep-order",
        "output": "CSV file to write (default: stdout)",
        "plot": "PNG of values, alarms, scores and labelled windows",
        "stream": "score one point at a time",
        "report": "add the labelled-window figures and plot to the run's report.md",
        "checkpoint": _CHECKPOINT}),
    "generate": ("Generate from a trained generative model: text tasks stream text to stdout, "
                 "the others print JSON.", {
        "run_dir": "a run directory written by `rnnkit train`",
        "prompt": "what to start from (charlm: text, default a newline; music: a MIDI file)",
        "max_new": "how many steps (characters, frames ...) to generate",
        "prime": "music: prime with all of FILE.mid, or with the first N steps of --prompt "
                 "FILE.mid (or of the run's first test piece)",
        "output": "music: write the result to this MIDI file",
        "plot": "music: draw the piano roll to this PNG",
        "temperature": "sampling temperature; 0 = greedy (default 1)",
        "top_k": "sample among the k most likely tokens (0 = all)",
        "top_p": "nucleus sampling mass (1 = off)",
        "seed": "a fixed seed repeats exactly",
        "checkpoint": _CHECKPOINT}),
    "translate": ("Translate a sentence with a trained translation run; prints the translation "
                  "on stdout.", {
        "run_dir": "a run directory whose task translates",
        "sentence": "the sentence to translate",
        "beam": "beam size (default: the run's task.beam; 1 = greedy)",
        "attention_plot": "draw the attention weights (source words x target words)",
        "checkpoint": _CHECKPOINT}),
    "train": ("Train a model from a TOML config into a run directory.", {
        "config": "the config file (TOML); omit with --resume",
        "overrides": "override a config key, e.g. train.lr=3e-4 (repeatable)",
        "run_dir": "where to write the run (default runs/<name>)",
        "resume": "continue a run from checkpoints/last",
        "overwrite": "replace an existing run in the run directory"}),
    "tune": ("Search the config's [tune] space with Optuna (TPE, pruning on the validation "
             "metric); writes runs/<name>/best.toml, report.md and plots/. Rerunning "
             "continues the study.", {
        "config": "a config file with a [tune] table (TOML)",
        "trials": "finished trials the study should hold (default: [tune] trials)",
        "timeout": "start no new trial after MIN minutes",
        "jobs": "worker processes running trials against the same study (default 1)",
        "storage": "SQLAlchemy URL of the study's storage (default "
                   "sqlite:///runs/<name>/study.db)",
        "name": "the study's name and folder (default <config name>-tune)",
        "runs_dir": "where the study folder goes (runs)",
        "overrides": "override a config key for every trial (repeatable)",
        "json": "the summary as JSON on stdout"}),
}
METAVARS = {("generate", "prime"): "N|FILE.mid", ("translate", "attention_plot"): "FILE.png",
            ("train", "overrides"): "KEY=VALUE", ("train", "resume"): "RUN_DIR",
            ("tune", "trials"): "N", ("tune", "timeout"): "MIN", ("tune", "jobs"): "J",
            ("tune", "storage"): "URL", ("tune", "overrides"): "KEY=VALUE"}
EXAMPLES = {
    "evaluate": ["rnnkit evaluate runs/adding-lstm --split test --json"],
    "predict": ['rnnkit predict runs/sentiment-bilstm --text "a gripping, beautifully acted '
                'film" --explain',
                "rnnkit predict runs/sentiment-bilstm --input reviews.txt   # - = stdin",
                "rnnkit predict runs/adding-lstm --input sequences.npy"],
    "forecast": ["rnnkit forecast runs/airline --horizon 24 --output airline.csv --plot "
                 "airline.png",
                 "rnnkit forecast runs/temperatures --horizon 30 --input recent.csv"],
    "detect": ["rnnkit detect runs/anomaly-taxi --input nyc_taxi.csv --output alarms.csv "
               "--plot taxi.png",
               "rnnkit detect runs/anomaly-taxi --input new.csv --stream"],
    "generate": ['rnnkit generate runs/charlm-lstm --prompt "ROMEO:" --max-new 500 '
                 "--temperature 0.8 --top-k 40 --seed 0",
                 "rnnkit generate runs/sine --max-new 50",
                 "rnnkit generate runs/music-gru --steps 64 --prime 8 --output a.mid"],
    "translate": ['rnnkit translate runs/translation-gru "I am cold." --beam 5 '
                  "--attention-plot cold.png"],
    "train": ["rnnkit train examples/adding.toml --set train.steps=500 --set model.cell=gru",
              "rnnkit train --resume runs/adding-lstm --set train.steps=4000"],
    "tune": ["rnnkit tune examples/adding-tune.toml --trials 20 && rnnkit train "
             "runs/adding-lstm-tune/best.toml",
             "rnnkit tune examples/adding-tune.toml --trials 40 --jobs 2   # continue, 2 "
             "processes",
             "rnnkit tune CONFIG.toml --storage postgresql://host/db --name shared  # on every "
             "machine"],
}


def _verb_parsers():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {verb: sub.choices[verb] for verb in VERBS}


def _arguments(parser):
    return {a.dest: a for a in parser._actions if not isinstance(a, argparse._HelpAction)}


@pytest.mark.parametrize("verb", VERBS)
def test_the_help_says_what_each_argument_is(verb):
    parser = _verb_parsers()[verb]
    description, helps = HELP[verb]
    assert parser.description == description
    arguments = _arguments(parser)
    assert {dest: a.help for dest, a in arguments.items()} == helps
    assert {dest: a.metavar for dest, a in arguments.items() if a.metavar} == {
        dest: m for (v, dest), m in METAVARS.items() if v == verb}


@pytest.mark.parametrize("verb", VERBS)
def test_the_help_ends_with_examples_the_verb_accepts(verb):
    parser = _verb_parsers()[verb]
    assert parser.epilog == "example:\n" + "\n".join(f"  {line}" for line in EXAMPLES[verb])
    root = build_parser()
    for line in EXAMPLES[verb]:
        for command in line.split("#")[0].split("&&"):
            words = shlex.split(command)
            assert words[0] == "rnnkit"
            args = root.parse_args(words[1:])  # (exits 2 on an argument it does not know)
            assert args.command == words[1]


@pytest.mark.parametrize("verb", [v for v in VERBS if v not in ("train", "tune")])
def test_every_inference_verb_takes_best_or_last_checkpoint(verb, capsys):
    root = build_parser()
    extra = ["hi"] if verb == "translate" else []
    for name in ("best", "last"):
        assert root.parse_args([verb, "runs/x", *extra, "--checkpoint", name]).checkpoint == name
    assert root.parse_args([verb, "runs/x", *extra]).checkpoint == "best"
    with pytest.raises(SystemExit) as e:
        root.parse_args([verb, "runs/x", *extra, "--checkpoint", "first"])
    assert e.value.code == 2
    assert "invalid choice: 'first' (choose from" in capsys.readouterr().err
