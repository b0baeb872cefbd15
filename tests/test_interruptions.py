"""Faults outside the training loop: Ctrl-C or SIGTERM while a run is set up, scored or
reported, or during another command; a full disk on the files a run writes beside its
checkpoints; a validation figure that is not finite. Each ends in one line naming what
failed and where, the shell's exit code, and a run that --resume finishes. (Ctrl-C inside
the loop and a full disk on a checkpoint: tests/test_cli.py, tests/test_run_dirs.py.)"""

import dataclasses
import errno
import json
import math
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from _tiny import TinyTagger, tiny_adding_toml, tiny_data

from rnnkit.cli.main import main
from rnnkit.tasks import TASKS
from rnnkit.training import TrainConfig, Trainer
from rnnkit.training import callbacks as callbacks_mod
from rnnkit.training.checkpoint import load_checkpoint

CONFIG = tiny_adding_toml()
RESUME = "continue with `rnnkit train --resume runs/tiny`"


class Unhandled(Exception):
    """SIGTERM reached the test's own handler: the command did not handle it."""


@pytest.fixture
def sigterm_guard():
    """SIGTERM that the code under test leaves unhandled fails the test (its default would
    end pytest)."""
    def unhandled(signum, frame):
        raise Unhandled
    old = signal.signal(signal.SIGTERM, unhandled)
    yield
    signal.signal(signal.SIGTERM, old)


@pytest.fixture
def here(tmp_path, monkeypatch, sigterm_guard):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(CONFIG)
    return tmp_path


def _during_scoring(monkeypatch, fault):
    """``fault()`` once, when the finished run's best checkpoint is scored."""
    task = type(TASKS["adding"])  # (the class: an instance attribute would outlive the test)
    evaluate = task.evaluate
    calls = []

    def faulty(self, ctx, model, split):
        calls.append(split)
        if len(calls) == 1:
            fault()
        return evaluate(self, ctx, model, split)

    monkeypatch.setattr(task, "evaluate", faulty)
    return evaluate


def _sigterm():
    os.kill(os.getpid(), signal.SIGTERM)


def _ctrl_c():
    raise KeyboardInterrupt


def _main(argv: list[str]) -> int:
    """main(argv), failing the test (not ending the session) when Ctrl-C escapes it."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped: a traceback for the user")


def _last_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("fault, code, name", [(_ctrl_c, 130, "SIGINT"),
                                               (_sigterm, 143, "SIGTERM")])
def test_a_signal_while_the_run_is_scored_is_one_line_and_resume_finishes_it(
        here, capsys, monkeypatch, fault, code, name):
    evaluate = _during_scoring(monkeypatch, fault)
    assert _main(["train", "tiny.toml"]) == code
    assert _last_line(capsys) == (f"rnnkit train: interrupted by {name}; "
                                  f"runs/tiny/checkpoints/last is kept: {RESUME}")
    assert not (here / "runs" / "tiny" / "report.md").exists()
    monkeypatch.setattr(type(TASKS["adding"]), "evaluate", evaluate)
    assert main(["train", "--resume", "runs/tiny"]) == 0
    assert "- training: 4 steps" in (here / "runs" / "tiny" / "report.md").read_text()


def test_ctrl_c_before_the_first_checkpoint_says_only_that_it_was_interrupted(
        here, capsys, monkeypatch):
    def setup(self, cfg):
        raise KeyboardInterrupt
    monkeypatch.setattr(type(TASKS["adding"]), "setup", setup)
    assert _main(["train", "tiny.toml"]) == 130
    assert _last_line(capsys) == "rnnkit train: interrupted by SIGINT"


def test_ctrl_c_in_a_pretrain_stage_says_to_start_again_with_overwrite(here, capsys,
                                                                        monkeypatch):
    def pretrain(self, ctx, model, run_dir, say):
        raise KeyboardInterrupt
    monkeypatch.setattr(type(TASKS["adding"]), "pretrain", pretrain)
    assert _main(["train", "tiny.toml"]) == 130
    assert _last_line(capsys) == ("rnnkit train: interrupted by SIGINT; runs/tiny holds no "
                                  "checkpoint yet: start it again with --overwrite")
    monkeypatch.setattr(type(TASKS["adding"]), "pretrain", lambda *args, **kw: None)
    assert main(["train", "tiny.toml", "--overwrite"]) == 0


def test_sigterm_in_the_training_loop_exits_143(here, capsys, monkeypatch):
    step = Trainer.train_step

    def killed_at_2(self, batch):
        record = step(self, batch)
        if record["step"] == 2:
            _sigterm()
        return record

    monkeypatch.setattr(Trainer, "train_step", killed_at_2)
    assert main(["train", "tiny.toml", "--set", "train.steps=100"]) == 143
    assert _last_line(capsys) == ("interrupted by SIGTERM at step 2: saved runs/tiny/"
                                  "checkpoints/last; continue with `rnnkit train --resume "
                                  "runs/tiny`")


@pytest.mark.parametrize("fault, code, name", [(_ctrl_c, 130, "SIGINT"),
                                               (_sigterm, 143, "SIGTERM")])
def test_a_signal_during_evaluate_is_one_line(here, capsys, monkeypatch, fault, code, name):
    assert main(["train", "tiny.toml"]) == 0
    _during_scoring(monkeypatch, fault)
    assert _main(["evaluate", "runs/tiny"]) == code
    assert _last_line(capsys) == f"rnnkit evaluate: interrupted by {name}"
    assert signal.getsignal(signal.SIGTERM).__name__ == "unhandled"  # handler put back


def _full_disk():
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_writing_the_report_names_it_and_resume_finishes(here, capsys,
                                                                     monkeypatch):
    write_text = pathlib.Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "report.md":
            _full_disk()
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    assert main(["train", "tiny.toml"]) == 1
    assert _last_line(capsys) == ("rnnkit train: error: [Errno 28] No space left on device: "
                                  "'runs/tiny/report.md'; runs/tiny/checkpoints/last is kept: "
                                  f"{RESUME} once the cause is removed")
    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    assert main(["train", "--resume", "runs/tiny"]) == 0
    assert "- training: 4 steps" in (here / "runs" / "tiny" / "report.md").read_text()


def test_a_full_disk_writing_metrics_names_the_file(here, capsys, monkeypatch):
    class FullFile:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def seek(self, *args):
            return self.f.seek(*args)

        def write(self, data):
            _full_disk()

    monkeypatch.setattr(callbacks_mod, "open", lambda *a: FullFile(open(*a)), raising=False)
    assert main(["train", "tiny.toml", "--set", "diagnostics.every=1"]) == 1
    assert _last_line(capsys) == ("rnnkit train: error: [Errno 28] No space left on device: "
                                  "'runs/tiny/metrics.jsonl'; runs/tiny holds no checkpoint "
                                  "yet: start it again with --overwrite once the cause is "
                                  "removed")
    assert (here / "runs/tiny/diagnostics.jsonl").exists()  # written before the first step's
    monkeypatch.undo()  # room again; (and back to tmp_path's parent: the run is runs/tiny)
    monkeypatch.chdir(here)
    assert main(["train", "tiny.toml", "--overwrite"]) == 0


def test_an_error_without_a_number_is_left_as_it_is():
    from rnnkit._files import naming

    with pytest.raises(OSError) as e, naming("x.txt"):
        raise OSError("plain")
    assert str(e.value) == "plain" and e.value.filename is None
    with pytest.raises(OSError) as e, naming("x.txt"):
        raise FileNotFoundError(errno.ENOENT, "gone", "other.txt")
    assert e.value.filename == "other.txt"


def test_a_validation_figure_that_is_not_finite_never_becomes_the_best():
    cfg = TrainConfig(steps=3, batch_size=4, eval_every=1, lr=1e-2, device="cpu")
    t = Trainer(TinyTagger(), cfg, tiny_data(8, 6), tiny_data(4, 6, seed=1))
    figures = iter([math.nan, 0.5, math.inf, 0.7, 0.4])
    seen = []
    t.evaluate = lambda data, split: {"step": t.state.step, "split": split,
                                      "loss": next(figures), "mse": 1.0}
    t._call = lambda hook, *args: seen.append(args[1]) if hook == "on_eval_end" else None
    for step in range(1, 6):
        t.state.step = step
        t.validate()
    assert seen == [False, True, False, False, True]
    assert (t.state.best, t.state.best_step) == (0.4, 5)


def test_a_run_whose_steps_were_skipped_says_how_many(here, capsys, monkeypatch):
    step = Trainer.train_step

    def skipped_2(self, batch):
        record = step(self, batch)
        if record["step"] in (2, 3):
            self.state.skipped += 1
        return record

    monkeypatch.setattr(Trainer, "train_step", skipped_2)
    assert main(["train", "tiny.toml", "--set", "train.on_nonfinite=skip"]) == 0
    err = capsys.readouterr().err
    assert "done after 4 steps (2 skipped: non-finite loss or gradient); run: runs/tiny" in err


def test_sigterm_to_tune_is_passed_on_to_its_workers_as_ctrl_c(here, monkeypatch, capsys):
    """``kill PID`` of `rnnkit tune --jobs 2` reaches the parent alone: its workers (one
    running, one done, one never started) must stop too, not go on with the study."""
    pytest.importorskip("optuna", reason="rnnkit tune needs optuna (the tune extra)")
    from _tune_configs import tiny_adding_toml

    from rnnkit.tasks.tuning import prepare_tuning
    from rnnkit.tasks.tuning import study as S

    (here / "t.toml").write_text(tiny_adding_toml() + '[tune]\n"train.lr" = [1e-3, 1e-2]\n')
    kills, made = [], []

    class Context:
        def Event(self):
            return SimpleEvent()

        def Process(self, target, args):
            made.append(Proc(100 + len(made)))
            return made[-1]

    class SimpleEvent:
        is_set_ = False

        def set(self):
            self.is_set_ = True

    class Proc:
        def __init__(self, pid):
            self.pid, self.exitcode = pid, None

        def start(self):
            if self.pid == 102:
                self.pid = None  # not started yet
            if self.pid == 101:
                self.exitcode = 0  # done already

        def is_alive(self):
            if self.pid == 100 and self.exitcode is None:
                signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # kill PID
                self.exitcode = 130
            if self.pid is None:
                self.exitcode = 0  # started after all, saw the event and ended
            return False

        def join(self, timeout):
            pass

    monkeypatch.setattr(S.multiprocessing, "get_context", lambda method: Context())
    monkeypatch.setattr(S.os, "kill", lambda pid, signum: kills.append((pid, signum)))
    t = prepare_tuning(str(here / "t.toml"))
    before = signal.getsignal(signal.SIGTERM)
    assert S._run_processes(t, 2, None, 3) == (signal.SIGTERM, [])  # the parent's signal
    assert kills == [(100, signal.SIGINT)]
    assert signal.getsignal(signal.SIGTERM) is before
    assert capsys.readouterr().err == "rnnkit tune: stopping after the trials in progress ...\n"


def test_a_second_signal_does_not_cut_the_last_checkpoint_short(sigterm_guard):
    """Ctrl-C ends the loop; a second one (or SIGTERM) while the end's checkpoint is saved
    is only one more stop request: the save finishes, no KeyboardInterrupt escapes."""
    from rnnkit.training import Callback

    saved = []

    class Impatient(Callback):
        def on_step_end(self, trainer, record):
            if record["step"] == 2:
                os.kill(os.getpid(), signal.SIGINT)

        def on_train_end(self, trainer):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            saved.append(trainer.state.step)

    cfg = TrainConfig(steps=5, batch_size=4, eval_every=100, lr=1e-2, device="cpu")
    t = Trainer(TinyTagger(), cfg, tiny_data(8, 6), callbacks=[Impatient()])
    try:
        state = t.fit()
    except (KeyboardInterrupt, Unhandled):
        pytest.fail("the second signal cut on_train_end short")
    assert (state.step, state.stop_reason, saved) == (2, "interrupted by SIGINT", [2])


@pytest.mark.parametrize("mode, what", [
    ("stop", "non-finite loss = nan at step 3; training stopped"),
    ("skip", "non-finite loss = nan at step 5: 3 consecutive steps (from step 3) had a "
             "non-finite loss or gradient")])
def test_skipping_that_never_ends_stops_the_run_as_on_nonfinite_stop_does(here, capsys,
                                                                         monkeypatch, mode,
                                                                         what):
    """Every step from 3 on has a NaN loss: "skip" skips 3 in a row, then ends the run as
    "stop" does at once: one error line, exit status 1, checkpoints/last kept for --resume,
    instead of skipping the rest of its 1000 steps."""
    loss = Trainer._loss

    def nan_from_3(self, batch, state):
        out = loss(self, batch, state)
        if self.state.step + 1 >= 3:
            out = dataclasses.replace(out, loss=out.loss * math.nan)
        return out

    monkeypatch.setattr(Trainer, "_loss", nan_from_3)
    assert main(["train", "tiny.toml", "--set", "train.steps=1000", "--set",
                 f"train.on_nonfinite={mode}", "--set", "train.max_consecutive_skips=3"]) == 1
    line = _last_line(capsys)
    assert line.startswith(f"rnnkit train: error: {what}")
    assert line.endswith("the last good checkpoint is kept (lower train.lr, set "
                         "train.clip_norm, or " + ("train.on_nonfinite = \"skip\")"
                                                   if mode == "stop" else
                                                   "check the data for NaN or infinite "
                                                   "values)"))
    run = here / "runs" / "tiny"
    last = load_checkpoint(run / "checkpoints" / "last", training_state=False).info["step"]
    assert last == (2 if mode == "stop" else 4)  # (skipped steps leave the weights good)
    assert (run / "checkpoints" / "best").is_dir() and not (run / "report.md").exists()


def test_ctrl_c_while_the_commands_and_torch_load_is_one_line(here, capsys, monkeypatch):
    """The first second of `rnnkit ...` loads the subcommands and torch: a Ctrl-C (a real
    SIGINT, sent while the first subcommand module is imported) is one line and 130 there
    too, not a KeyboardInterrupt traceback."""
    import importlib

    from rnnkit.cli import main as main_mod

    real = importlib.import_module

    def ctrl_c_while_importing(name, package=None):
        os.kill(os.getpid(), signal.SIGINT)
        return real(name, package)

    monkeypatch.setattr(main_mod.importlib, "import_module", ctrl_c_while_importing)
    assert _main(["train", "tiny.toml"]) == 130
    assert capsys.readouterr().err == "rnnkit: interrupted by SIGINT\n"
    assert not (here / "runs").exists()


def test_the_console_script_loads_torch_only_inside_main():
    """The console script's first line (`from rnnkit.cli.main import main`, the entry point
    of pyproject.toml) runs before any handler of ours: it must not import torch, whose
    loading is where a Ctrl-C lands."""
    from rnnkit.training.config_io import read_toml

    root = pathlib.Path(__file__).resolve().parents[1]
    entry = read_toml(root / "pyproject.toml")["project"]["scripts"]["rnnkit"]
    module, function = entry.split(":")
    code = (f"import sys; from {module} import {function}; "
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == "[]\n"


def test_the_first_loss_logged_after_a_resume_averages_the_steps_run_since(here, monkeypatch,
                                                                            capsys):
    """log_every = 4 of 12 steps. Resumed at a log line (step 4), the next line is the
    uninterrupted run's figure; resumed between two (step 6), it is the mean of steps 7-8
    alone (the steps run since the resume), never of steps the interrupted session ran,
    whose last steps (5-6) it logged at step 6 when it stopped."""
    step, losses, stop_at = Trainer.train_step, {}, []

    def recorded(self, batch):
        record = step(self, batch)
        losses[record["step"]] = record["loss"]
        if stop_at and record["step"] == stop_at[0]:
            _sigterm()
        return record

    def train_lines(run):
        return {r["step"]: r["loss"] for r in map(json.loads, (here / run / "metrics.jsonl")
                                                   .read_text().splitlines())
                if r["split"] == "train"}

    monkeypatch.setattr(Trainer, "train_step", recorded)
    args = ["--set", "train.steps=12", "--set", "train.log_every=4"]
    assert main(["train", "tiny.toml", "--run-dir", "full", *args]) == 0
    full, per_step = train_lines("full"), dict(losses)
    for cut in (4, 6):
        stop_at[:] = [cut]
        assert main(["train", "tiny.toml", "--run-dir", f"cut{cut}", *args]) == 143
        stop_at.clear()
        assert main(["train", "--resume", f"cut{cut}"]) == 0
        lines = train_lines(f"cut{cut}")
        assert list(lines) == ([4, 8, 12] if cut == 4 else [4, 6, 8, 12])
        assert lines[4] == full[4] and lines[12] == full[12]
        expected = full[8] if cut == 4 else (per_step[7] + per_step[8]) / 2
        assert lines[8] == pytest.approx(expected, rel=1e-6)
        if cut == 6:  # the interrupted session's last steps, logged where it stopped
            assert lines[6] == pytest.approx((per_step[5] + per_step[6]) / 2, rel=1e-6)
