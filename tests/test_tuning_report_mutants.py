"""What ``rnnkit tune`` leaves in ``runs/<study>/`` (rnnkit/tasks/tuning/report.py) on its
own: the counts and best trial taken from the study, best.toml parsed back and loaded as
``rnnkit train`` loads it, report.md line by line, and the plots (found by mutation testing,
benchmarks/mutation.py). Studies are made by hand with Optuna's ``create_trial``."""

from __future__ import annotations

import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib

optuna = pytest.importorskip("optuna", reason="rnnkit tune needs optuna (the tune extra)")

from _tune_configs import tiny_adding_toml  # noqa: E402

from rnnkit._optional import MissingExtraError  # noqa: E402
from rnnkit.tasks import load_config, prepare_tuning  # noqa: E402
from rnnkit.tasks.tuning import TuneResult, open_study  # noqa: E402
from rnnkit.tasks.tuning import report as R  # noqa: E402

BASE = tiny_adding_toml(seed=4, quiet=False)

SPACE = """
[tune]
sampler_startup_trials = 3
pruner = "halving"
"model.hidden_size" = [4, 8]
"train.lr" = {low = 1e-3, high = 1e-1, log = true}
"train.batch_size" = {low = 8, high = 16, step = 8}
"""

TS = optuna.trial.TrialState
D = optuna.distributions
DISTS = {"model.hidden_size": D.CategoricalDistribution([4, 8]),
         "train.lr": D.FloatDistribution(1e-3, 1e-1, log=True),
         "train.batch_size": D.IntDistribution(8, 16, step=8)}
START = datetime.datetime(2024, 5, 1, 9, 0, 0)


@pytest.fixture
def t(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(BASE + SPACE)
    return prepare_tuning("tiny.toml")


def add(study, state, value=None, params=None, seconds=None, curve=None, **attrs):
    params = params or {}
    study.add_trial(optuna.trial.create_trial(
        state=state, value=value, params=params, distributions={k: DISTS[k] for k in params},
        user_attrs=attrs, intermediate_values=curve or {}))
    if seconds is not None:  # create_trial stamps now: set the duration by hand
        trial = study.get_trials(deepcopy=False)[-1]
        trial.datetime_start = START
        trial.datetime_complete = START + datetime.timedelta(seconds=seconds)


def stub_plots(monkeypatch, plots=None):
    calls = []
    monkeypatch.setattr(R, "draw_plots", lambda folder, study: calls.append(
        (folder, study)) or (plots or {}))
    return calls


def filled(t, monkeypatch, direction_max=False):
    study = open_study(t)
    add(study, TS.COMPLETE, 0.25, {"model.hidden_size": 4, "train.lr": 0.01,
                                   "train.batch_size": 8}, steps=4)
    add(study, TS.PRUNED, None, {"model.hidden_size": 8, "train.lr": 0.002,
                                 "train.batch_size": 16}, steps=2)
    add(study, TS.COMPLETE, 0.125, {"model.hidden_size": 8, "train.lr": 0.05,
                                    "train.batch_size": 16}, steps=4)
    add(study, TS.FAIL)
    add(study, TS.COMPLETE, 0.5, {"model.hidden_size": 4, "train.lr": 0.003,
                                  "train.batch_size": 16}, steps=4)
    return study


# -- write_outputs ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_outputs_count_the_trials_and_take_the_best(t, monkeypatch):
    calls = stub_plots(monkeypatch, {"Optimisation history": "history.png"})
    study = filled(t, monkeypatch)
    study.ask()  # a running trial counts nowhere
    result = TuneResult(t.name, t.root, t.storage)
    R.write_outputs(t, study, result)
    assert (result.finished, result.pruned, result.failed) == (4, 1, 1)
    assert (result.best_number, result.best_value) == (2, 0.125)
    assert result.best_params == {"model.hidden_size": 8, "train.lr": 0.05,
                                  "train.batch_size": 16}
    assert result.best_config == t.root / "best.toml" and result.best_config.is_file()
    assert result.report == t.root / "report.md"
    assert calls == [(t.root / "plots", study)]
    assert "![Optimisation history](plots/history.png)" in result.report.read_text()
    assert "# The best of 3 complete trials" in result.best_config.read_text()


def test_outputs_of_a_maximised_study_take_the_largest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(BASE + SPACE + 'direction = "maximize"\n')
    t = prepare_tuning("tiny.toml")
    stub_plots(monkeypatch)
    result = TuneResult(t.name, t.root, t.storage)
    R.write_outputs(t, filled(t, monkeypatch), result)
    assert (result.best_number, result.best_value) == (4, 0.5)


def test_outputs_without_a_complete_trial(t, monkeypatch):
    calls = stub_plots(monkeypatch)
    study = open_study(t)
    add(study, TS.PRUNED, curve={2: 0.5})
    add(study, TS.FAIL)
    result = TuneResult(t.name, t.root, t.storage)
    R.write_outputs(t, study, result)
    assert (result.finished, result.pruned, result.failed) == (1, 1, 1)
    assert (result.best_number, result.best_value, result.best_params, result.best_config) == (
        None, None, {}, None)
    assert calls == [] and not (t.root / "best.toml").exists()
    assert "No complete trial yet." in result.report.read_text()


# -- best.toml -------------------------------------------------------------------------------

def test_best_toml_is_the_config_with_the_best_values_and_trains(t, tmp_path, monkeypatch):
    best = SimpleNamespace(number=7, value=0.0123456789,
                           params={"model.hidden_size": 4, "train.lr": 0.05,
                                   "train.batch_size": 16})
    t.root.mkdir(parents=True)
    path = R.write_best_config(t, best, 9)
    assert path == t.root / "best.toml"
    text = path.read_text()
    lines = text.splitlines()
    assert lines[:2] == [
        "# The best of 9 complete trials of study 'tiny-tune' (tiny.toml): trial 7, "
        "validation mse = 0.0123457.",
        f"#   rnnkit train {Path('runs/tiny-tune/best.toml')}"]
    parsed = tomllib.loads(text)
    assert "tune" not in parsed and parsed["name"] == "tiny-tune-best"
    assert (parsed["model"]["hidden_size"], parsed["train"]["lr"],
            parsed["train"]["batch_size"], parsed["seed"]) == (4, 0.05, 16, 4)
    (tmp_path / "plain.toml").write_text(BASE)
    expected = load_config("plain.toml", ["model.hidden_size=4", "train.lr=0.05",
                                          "train.batch_size=16", "name=tiny-tune-best"])
    assert load_config(path) == expected  # what `rnnkit train best.toml` trains
    assert sorted(p.name for p in t.root.iterdir()) == ["best.toml"]  # no temporary file left
    best.params["model.hidden_size"] = 8  # a later session replaces it
    R.write_best_config(t, best, 10)
    assert tomllib.loads(path.read_text())["model"]["hidden_size"] == 8
    assert sorted(p.name for p in t.root.iterdir()) == ["best.toml"]


def test_best_toml_names_a_custom_metric(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(BASE + SPACE + 'metric = "loss"\n')
    t = prepare_tuning("tiny.toml", name="s2")
    t.root.mkdir(parents=True)
    best = SimpleNamespace(number=0, value=2.0, params={"model.hidden_size": 8})
    first = R.write_best_config(t, best, 1).read_text().splitlines()[0]
    assert first == ("# The best of 1 complete trials of study 's2' (tiny.toml): trial 0, "
                     "validation loss = 2.")


# -- report.md -------------------------------------------------------------------------------

def test_the_report_line_by_line(t, monkeypatch):
    study = open_study(t)
    add(study, TS.COMPLETE, 0.123456789, {"model.hidden_size": 4, "train.lr": 0.0123456,
                                          "train.batch_size": 8}, seconds=12.6, steps=4)
    add(study, TS.PRUNED, None, {"model.hidden_size": 8, "train.lr": 0.002,
                                 "train.batch_size": 16}, seconds=3.2, steps=2)
    add(study, TS.FAIL, None, {"model.hidden_size": 8})
    trials = study.get_trials(deepcopy=False)
    trials[2].datetime_complete = None  # a failed trial without an end: 0 s
    result = TuneResult(t.name, t.root, t.storage, finished=2, pruned=1, failed=1,
                        best_number=0, best_value=0.123456789)
    t.root.mkdir(parents=True, exist_ok=True)
    path = R.write_tune_report(t, trials, result, {"Optimisation history": "history.png",
                                                   "Parameter importances": "importances.png"})
    assert path == t.root / "report.md"
    assert path.read_text() == "\n".join([
        "# Tuning study `tiny-tune`",
        "",
        "- config: `tiny.toml` (task `adding`, seed 4)",
        "- objective: validation `mse` (minimize), best checkpoint of each trial; the test "
        "split is never evaluated",
        "- sampler: TPE (3 random start-up trials); pruner: halving",
        f"- storage: `{t.storage}`",
        "- trials: 2 finished (1 pruned), 1 failed",
        "",
        "## Space",
        "",
        "- `model.hidden_size`: one of 4, 8",
        "- `train.lr`: float 0.001..0.1, log",
        "- `train.batch_size`: int 8..16, step 8",
        "",
        "## Best",
        "",
        "Trial 0: validation `mse` = 0.123457; config: [best.toml](best.toml) (`rnnkit train` "
        "it for the test figures).",
        "",
        "## Trials",
        "",
        "| trial | state | mse | steps | model.hidden_size | train.lr | train.batch_size | s |",
        "|---|---|---|---|---|---|---|---|",
        "| 0 | complete | 0.12346 | 4 | 4 | 0.01235 | 8 | 13 |",
        "| 1 | pruned |  | 2 | 8 | 0.002 | 16 | 3 |",
        "| 2 | fail |  |  | 8 |  |  | 0 |",
        "",
        "## Plots",
        "",
        "![Optimisation history](plots/history.png)",
        "![Parameter importances](plots/importances.png)",
        "",
        "Each trial's run: `trials/<number>/` (config.toml, metrics.jsonl, checkpoints, "
        "report.md with validation figures only).",
        ""])


def test_the_report_without_a_best_or_plots(t):
    t.root.mkdir(parents=True)
    result = TuneResult(t.name, t.root, t.storage)
    text = R.write_tune_report(t, [], result, {}).read_text()
    assert "\n## Best\n\nNo complete trial yet.\n\n## Trials\n" in text
    assert "- trials: 0 finished (0 pruned), 0 failed\n" in text
    assert "Plots" not in text and "![" not in text
    assert text.endswith("|---|---|---|---|---|---|---|---|\n\nEach trial's run: `trials/"
                         "<number>/` (config.toml, metrics.jsonl, checkpoints, report.md "
                         "with validation figures only).\n")


def test_cells():
    assert [R._cell(v) for v in (None, 0.000123456, 3.0, 16, "gru", False)] == [
        "", "0.0001235", "3", "16", "gru", "False"]


# -- plots -----------------------------------------------------------------------------------

def fake_study(values, steps=()):
    trials = [SimpleNamespace(value=v, intermediate_values=dict(s))
              for v, s in zip(values, list(steps) + [{}] * len(values), strict=False)]
    return SimpleNamespace(get_trials=lambda deepcopy=True: trials)


@pytest.mark.parametrize("values, steps, wide", [
    ([], (), False),
    ([None], (), False),
    ([1.0, 100.0], (), False),  # two decades exactly: not more
    ([1.0, 100.001], (), True),
    ([0.5, None, 0.001], (), True),
    ([0.0, 5.0], (), False),
    ([-1.0, 500.0], (), False),
    ([None, 0.5], ({1: 100.0},), True),  # the intermediate values count
    ([1.0, 1.0], ({1: 0.001},), True),
    ([1.0, 1.0], ({1: 0.0},), False),
])
def test_wide_means_positive_over_two_decades(values, steps, wide):
    assert R._wide(fake_study(values, steps)) is wide


@pytest.fixture
def plt():
    pytest.importorskip("matplotlib")
    from rnnkit._optional import pyplot

    plt = pyplot()
    plt.close("all")
    yield plt
    plt.close("all")


def stand_ins(monkeypatch, plt, the_study, failing=()):
    """Optuna's three plot functions replaced by quick ones (a line and a legend outside the
    axes, on a 72-dpi figure) that check they are given the study; those named in
    ``failing`` make two figures and raise."""
    vis = __import__("optuna.visualization.matplotlib", fromlist=["x"])
    axes = {}
    names = ("plot_optimization_history", "plot_param_importances", "plot_intermediate_values")
    for name in names:
        def draw(study, name=name):
            assert study is the_study
            if name in failing:  # (Optuna may fail after making figures)
                plt.subplots()
                plt.subplots()
                raise failing[name]
            fig, ax = plt.subplots(dpi=72)  # saved at 100 dpi all the same
            ax.plot([0, 1], [1, 2], label="a long legend entry")
            ax.legend(loc="upper left", bbox_to_anchor=(1.5, 1.0))
            axes[name] = ax
            return ax
        monkeypatch.setattr(vis, name, draw)
    return axes


def test_plots_are_drawn_sized_and_saved_with_their_legends(tmp_path, monkeypatch, plt):
    from PIL import Image

    study = fake_study([0.5, 0.6])
    axes = stand_ins(monkeypatch, plt, study)
    folder = tmp_path / "a" / "plots"
    out = R.draw_plots(folder, study)
    assert list(out.items()) == [("Optimisation history", "history.png"),
                                 ("Parameter importances", "importances.png"),
                                 ("Validation curves (what the pruner saw)",
                                  "intermediate.png")]
    assert sorted(p.name for p in folder.iterdir()) == sorted(out.values())
    for ax in axes.values():
        assert ax.get_yscale() == "linear"
        assert tuple(ax.figure.get_size_inches()) == (7.0, 4.5)
        assert ax.get_position().x0 < 0.1  # tight_layout moved the axes from 0.125
    for name in out.values():
        with Image.open(folder / name) as img:
            assert img.info["dpi"] == pytest.approx((100, 100), abs=0.01)
            assert img.size[0] < 700 and img.size[1] < 450  # cropped to what is drawn
    assert plt.get_fignums() == []  # every figure closed
    assert R.draw_plots(folder, study) == out  # the folder exists: fine


def test_wide_figures_get_a_log_axis_but_not_the_importances(tmp_path, monkeypatch, plt):
    study = fake_study([0.16, 1e-4])
    axes = stand_ins(monkeypatch, plt, study)
    R.draw_plots(tmp_path / "p", study)
    assert {k: ax.get_yscale() for k, ax in axes.items()} == {
        "plot_optimization_history": "log", "plot_param_importances": "linear",
        "plot_intermediate_values": "log"}


@pytest.mark.parametrize("error", [ValueError("no trials"), RuntimeError("x"),
                                   ZeroDivisionError()])
def test_a_plot_optuna_cannot_draw_is_left_out(tmp_path, monkeypatch, plt, error):
    study = fake_study([0.5, 0.6])
    stand_ins(monkeypatch, plt, study, failing={"plot_param_importances": error})
    out = R.draw_plots(tmp_path / "p", study)
    assert out == {"Optimisation history": "history.png",
                   "Validation curves (what the pruner saw)": "intermediate.png"}
    assert not (tmp_path / "p" / "importances.png").exists()
    assert plt.get_fignums() == []


def test_other_errors_are_not_swallowed(tmp_path, monkeypatch, plt):
    study = fake_study([0.5])
    stand_ins(monkeypatch, plt, study, failing={"plot_optimization_history": KeyError("k")})
    with pytest.raises(KeyError):
        R.draw_plots(tmp_path / "p", study)


@pytest.mark.parametrize("missing", ["pyplot", "require"])
def test_no_plots_without_matplotlib(tmp_path, monkeypatch, missing):
    def absent(*args):
        raise MissingExtraError("pip install 'rnnkit[plots]'")

    monkeypatch.setattr(R, missing, absent)
    assert R.draw_plots(tmp_path / "p", fake_study([0.5])) == {}
    assert not (tmp_path / "p").exists()


def test_optunas_own_plots_of_a_real_study(t, monkeypatch, plt):
    study = open_study(t)
    add(study, TS.COMPLETE, 0.16, {"model.hidden_size": 4, "train.lr": 0.01,
                                   "train.batch_size": 8}, curve={2: 0.2, 4: 0.16})
    add(study, TS.COMPLETE, 0.0001, {"model.hidden_size": 8, "train.lr": 0.05,
                                     "train.batch_size": 16}, curve={2: 0.01, 4: 0.0001})
    out = R.draw_plots(t.root / "plots", study)
    assert set(out.values()) == {"history.png", "importances.png", "intermediate.png"}
    assert all((t.root / "plots" / name).stat().st_size > 1000 for name in out.values())
    assert plt.get_fignums() == []
