"""What a tuning session leaves in ``runs/<study>/``: ``best.toml`` (the resolved config
with the best trial's values, ready for ``rnnkit train``), ``report.md`` (the trials table)
and ``plots/`` (Optuna's optimisation history, parameter importances and the validation
curves the pruner saw; the ``plots`` extra)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import tomli_w

from ..._optional import MissingExtraError, pyplot, require
from .study import FINISHED, TuneResult, Tuning


def write_outputs(t: Tuning, study, result: TuneResult) -> None:
    """Fill ``result`` from the study and write best.toml, report.md and plots/."""
    trials = study.get_trials(deepcopy=False)
    result.finished = sum(tr.state.name in FINISHED for tr in trials)
    result.pruned = sum(tr.state.name == "PRUNED" for tr in trials)
    result.failed = sum(tr.state.name == "FAIL" for tr in trials)
    complete = [tr for tr in trials if tr.state.name == "COMPLETE"]
    if complete:
        best = study.best_trial
        result.best_number, result.best_value = best.number, best.value
        result.best_params = dict(best.params)
        result.best_config = write_best_config(t, best, len(complete))
    plots = draw_plots(t.root / "plots", study) if complete else {}
    result.report = write_tune_report(t, trials, result, plots)


def write_best_config(t: Tuning, best, complete: int) -> Path:
    """``best.toml``: every default filled in, the ``[tune]`` table gone, named
    ``<study>-best`` so that training it never overwrites the config's own run."""
    cfg = t.config(dict(best.params), name=f"{t.name}-best")
    head = (f"# The best of {complete} complete trials of study {t.name!r} ({t.source}): "
            f"trial {best.number}, validation {t.metric} = {best.value:.6g}.\n"
            f"#   rnnkit train {t.root / 'best.toml'}\n")
    path = t.root / "best.toml"
    tmp = path.with_name(f"best.toml.tmp-{os.getpid()}")
    tmp.write_text(head + tomli_w.dumps(cfg.to_dict()))
    os.replace(tmp, path)
    return path


def draw_plots(folder: Path, study) -> dict[str, str]:
    """``{title: file name}`` of the plots drawn (none without matplotlib); a plot Optuna
    cannot draw yet (importances need two complete trials that differ) is left out."""
    try:
        plt = pyplot()
        vis = require("optuna.visualization.matplotlib", "tune")
    except MissingExtraError:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for title, name, draw in (("Optimisation history", "history.png",
                               vis.plot_optimization_history),
                              ("Parameter importances", "importances.png",
                               vis.plot_param_importances),
                              ("Validation curves (what the pruner saw)", "intermediate.png",
                               vis.plot_intermediate_values)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError):
            plt.close("all")
            continue
        if name != "importances.png" and _wide(study):
            ax.set_yscale("log")  # MSEs from 0.16 down to 1e-4 read only on a log axis
        fig = ax.figure
        fig.set_size_inches(7, 4.5)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100, bbox_inches="tight")  # legends sit outside
        plt.close(fig)
        out[title] = name
    return out


def _wide(study) -> bool:
    """Whether the figures are positive and span more than two decades."""
    values = [v for t in study.get_trials(deepcopy=False)
              for v in [t.value, *t.intermediate_values.values()] if v is not None]
    return bool(values) and min(values) > 0 and max(values) > 100 * min(values)


def write_tune_report(t: Tuning, trials, result: TuneResult, plots: dict[str, str]) -> Path:
    keys = [p.key for p in t.spec.space]
    s = t.spec.settings
    lines = [f"# Tuning study `{t.name}`", "",
             f"- config: `{t.source}` (task `{t.base.task.name}`, seed {t.base.seed})",
             f"- objective: validation `{t.metric}` ({t.direction}), best checkpoint of each "
             "trial; the test split is never evaluated",
             f"- sampler: TPE ({s.sampler_startup_trials} random start-up trials); pruner: "
             f"{s.pruner}",
             f"- storage: `{t.storage}`",
             f"- trials: {result.finished} finished ({result.pruned} pruned), "
             f"{result.failed} failed", "", "## Space", ""]
    lines += [f"- `{p.key}`: {p.describe()}" for p in t.spec.space]
    lines += ["", "## Best", ""]
    if result.best_number is None:
        lines.append("No complete trial yet.")
    else:
        lines += [f"Trial {result.best_number}: validation `{t.metric}` = "
                  f"{result.best_value:.6g}; config: [best.toml](best.toml) "
                  "(`rnnkit train` it for the test figures)."]
    lines += ["", "## Trials", "",
              "| trial | state | " + t.metric + " | steps | " + " | ".join(keys) + " | s |",
              "|---" * (len(keys) + 5) + "|"]
    for tr in trials:
        value = "" if tr.value is None else f"{tr.value:.5g}"
        seconds = tr.duration.total_seconds() if tr.duration else 0
        cells = [str(tr.number), tr.state.name.lower(), value,
                 str(tr.user_attrs.get("steps", "")),
                 *(_cell(tr.params.get(k)) for k in keys), f"{seconds:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{title}](plots/{name})" for title, name in plots.items()]
    lines += ["", "Each trial's run: `trials/<number>/` (config.toml, metrics.jsonl, "
              "checkpoints, report.md with validation figures only)."]
    path = t.root / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cell(v) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)
