"""The diagnostics plots (``rnnkit/diagnostics/plots.py``) on stand-in records: what each
figure draws (the heatmap's log10 grid and its axes, one line per layer or gate with the
steps that have a value, the scales, titles and labels), which records make the loss curves,
and which files draw_plots writes (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from rnnkit.diagnostics import plots  # noqa: E402


@pytest.fixture
def figures(monkeypatch):
    drawn = []

    def keep(fig, path):
        drawn.append(fig)
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    yield drawn
    for fig in drawn:  # (kept open by keep)
        plots.plt.close(fig)


def _legend(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_save_writes_a_png_at_100_dpi_closes_the_figure_and_names_the_file(tmp_path,
                                                                           monkeypatch):
    import matplotlib

    with matplotlib.rc_context({"figure.dpi": 50}):  # (a user's matplotlibrc)
        fig = plots.plt.figure(figsize=(3, 2))
    fig.add_axes((0, 0, 1, 1)).axis("off")
    fig.patches.append(plots.plt.Rectangle((0, 0), 1, 1, transform=fig.transFigure))
    other = plots.plt.figure()  # the current figure is not the one saved
    path = plots._save(fig, tmp_path / "new" / "dir" / "f.png")
    assert path == tmp_path / "new" / "dir" / "f.png"
    data = path.read_bytes()
    assert data[:4] == b"\x89PNG"
    size = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert size == (320, 220)  # 3 x 2 inches and 0.1 inch of padding (tight) at 100 dpi
    assert not plots.plt.fignum_exists(fig.number) and plots.plt.fignum_exists(other.number)
    plots.plt.close(other)

    fig = plots.plt.figure()

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fig, "savefig", full)
    with pytest.raises(OSError) as e:
        plots._save(fig, tmp_path / "g.png")
    assert e.value.filename == str(tmp_path / "g.png")


def test_gradient_flow_is_a_log10_heatmap_per_layer(figures, tmp_path):
    records = [{"step": 10 * (i + 1), "hidden_grad_norms": {
        "l0": [10.0 ** (i - 1), 0.0, 100.0][: 3 - (i == 2)], **({"l1": [1.0]} if i else {})}}
        for i in range(8)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (log10 of a zero norm warns nothing)
        path = plots.plot_gradient_flow(records, tmp_path / "g.png")
    assert path == tmp_path / "g.png"
    (fig,) = figures
    top, bottom = fig.axes[:2]  # then the two colour bars
    assert len(fig.axes) == 4
    (image,) = top.get_images()
    grid = image.get_array().filled(np.nan) if np.ma.isMaskedArray(image.get_array()) else \
        image.get_array()
    assert grid.shape == (8, 3)
    np.testing.assert_array_equal(grid[:, 0], np.arange(-1.0, 7.0))
    assert np.isnan(grid[:, 1]).all()  # a zero norm: no log
    np.testing.assert_array_equal(np.isnan(grid[:, 2]), np.arange(8) == 2)  # a shorter row
    assert grid[0, 2] == 2.0
    assert image.get_extent() == [-0.5, 2.5, -0.5, 7.5]
    assert image.origin == "lower" and image.get_interpolation() == "nearest"
    assert top.get_aspect() == "auto"
    fig.canvas.draw()  # (the constrained layout places each colour bar beside its panel)
    for ax in (top, bottom):
        bar, panel = ax.get_images()[0].colorbar.ax.get_position(), ax.get_position()
        assert bar.x0 > panel.x1 and abs(bar.y0 - panel.y0) < 0.05
    assert image.get_cmap().name == "viridis"
    assert list(top.get_yticks()) == [0, 1, 3, 4, 6, 7]
    assert [t.get_text() for t in top.get_yticklabels()] == ["10", "20", "40", "50", "70", "80"]
    assert top.get_ylabel() == "training step" and bottom.get_ylabel() == "training step"
    assert top.get_title() == "log10 ||dL/dh_t||  (l0)"
    assert bottom.get_title() == "log10 ||dL/dh_t||  (l1)"
    assert top.get_xlabel() == "" and bottom.get_xlabel() == "time step t"
    low = bottom.get_images()[0].get_array()
    assert low.shape == (8, 1) and np.ma.is_masked(low[0, 0]) or np.isnan(low[0, 0])
    assert [float(v) for v in low[1:, 0]] == [0.0] * 7


def test_a_few_records_get_a_tick_each(figures, tmp_path):
    records = [{"step": s, "hidden_grad_norms": {"l0": [1.0, 1.0]}} for s in (3, 5)]
    plots.plot_gradient_flow(records, tmp_path / "g.png")
    assert [t.get_text() for t in figures[0].axes[0].get_yticklabels()] == ["3", "5"]


def _line_records():
    return [{"step": 1, "layer_grad_norms": {"a": 1.0, "b": 2.0}, "spectral_radius": {"a": 0.5}},
            {"step": 2, "layer_grad_norms": {"a": None, "b": 4.0}},
            {"step": 3, "layer_grad_norms": {"a": 8.0}, "spectral_radius": {"a": 1.5,
                                                                            "b": 0.9}}]


def test_layer_grad_norms_one_line_per_layer_on_a_log_scale(figures, tmp_path):
    assert plots.plot_layer_grad_norms(_line_records(), tmp_path / "n.png") == tmp_path / "n.png"
    ((ax,),) = [fig.axes for fig in figures]
    a, b = ax.get_lines()
    assert (a.get_label(), list(a.get_xdata()), list(a.get_ydata())) == ("a", [1, 3], [1.0, 8.0])
    assert (b.get_label(), list(b.get_xdata()), list(b.get_ydata())) == ("b", [1, 2], [2.0, 4.0])
    assert a.get_marker() == "."
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "||dL/dθ|| per layer"
    assert ax.get_title() == "gradient norm per layer"
    assert _legend(ax) == ["a", "b"]


def test_spectral_radius_lines_and_the_unit_line(figures, tmp_path):
    plots.plot_spectral_radius(_line_records(), tmp_path / "s.png")
    ((ax,),) = [fig.axes for fig in figures]
    a, b, unit = ax.get_lines()
    assert (list(a.get_xdata()), list(a.get_ydata())) == ([1, 3], [0.5, 1.5])
    assert (b.get_label(), list(b.get_xdata()), list(b.get_ydata())) == ("b", [3], [0.9])
    assert list(unit.get_ydata()) == [1.0, 1.0] and unit.get_linestyle() == "--"
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "training step" and ax.get_ylabel() == "spectral radius"
    assert ax.get_title() == "recurrent weights: spectral radius"
    assert _legend(ax) == ["a", "b"]


def test_gate_saturation_one_panel_per_layer_one_line_per_gate(figures, tmp_path):
    records = [{"step": 1, "saturation": {"l0": {"sigmoid": 0.1, "tanh": 0.2, "input": 0.3}}},
               {"step": 2, "saturation": {"l0": {"sigmoid": None, "tanh": 0.4},
                                          "l1": {"forget": 0.5}}},
               {"step": 3}]
    plots.plot_gate_saturation(records, tmp_path / "s.png")
    (fig,) = figures
    top, bottom = fig.axes
    sig, tanh, inp = top.get_lines()
    assert (sig.get_label(), list(sig.get_xdata()), list(sig.get_ydata())) == (
        "sigmoid", [1], [0.1])
    assert (list(tanh.get_xdata()), list(tanh.get_ydata())) == ([1, 2], [0.2, 0.4])
    assert (inp.get_label(), list(inp.get_xdata())) == ("input", [1])
    assert [ln.get_linewidth() for ln in (sig, tanh, inp)] == [2.5, 2.5, 1.0]
    assert sig.get_marker() == "."
    (forget,) = bottom.get_lines()
    assert (forget.get_label(), list(forget.get_xdata()), list(forget.get_ydata())) == (
        "forget", [2], [0.5])
    for ax, layer in ((top, "l0"), (bottom, "l1")):
        assert ax.get_ylim() == (-0.02, 1.02)
        assert ax.get_ylabel() == "saturated fraction"
        assert ax.get_title() == f"gate saturation ({layer})"
    assert _legend(top) == ["sigmoid", "tanh", "input"] and _legend(bottom) == ["forget"]
    assert top.get_xlabel() == "" and bottom.get_xlabel() == "training step"


def test_gate_saturation_without_gates_is_one_empty_panel(figures, tmp_path):
    plots.plot_gate_saturation([{"step": 1}], tmp_path / "s.png")
    ((ax,),) = [fig.axes for fig in figures]
    assert ax.get_title() == "gate saturation ((none))" and ax.get_lines() == []
    assert ax.get_legend() is None and ax.get_xlabel() == "training step"


METRICS = [{"split": "train", "step": 1, "loss": 2.0}, {"split": "val", "step": 2, "loss": 1.0},
           {"split": "train", "step": 3, "loss": 0.5}, {"split": "test", "step": 3, "loss": 9.0},
           {"split": "val", "step": 3, "loss": 7.0, "checkpoint": "best"},
           {"split": "train", "step": 4, "accuracy": 0.5},
           {"split": "val", "step": 4, "loss": 0.25, "checkpoint": None}]


def test_loss_records_are_the_training_and_validation_losses_logged_during_training():
    assert plots.loss_records(METRICS) == [METRICS[i] for i in (0, 1, 2, 6)]


def test_loss_plot_train_and_val_on_a_log_scale_when_positive(figures, tmp_path):
    assert plots.plot_loss(METRICS, tmp_path / "l.png") == tmp_path / "l.png"
    ((ax,),) = [fig.axes for fig in figures]
    train, val = ax.get_lines()
    assert (train.get_label(), list(train.get_xdata()), list(train.get_ydata())) == (
        "train", [1, 3], [2.0, 0.5])
    assert (val.get_label(), list(val.get_xdata()), list(val.get_ydata())) == (
        "val", [2, 4], [1.0, 0.25])
    assert train.get_marker() == "None" and val.get_marker() == "."
    assert ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("training step", "loss", "loss")
    assert _legend(ax) == ["train", "val"]


@pytest.mark.parametrize("losses, scale", [([1.0, 0.0], "linear"), ([1.0, -0.5], "linear"),
                                           ([1.0, math.nan, 0.5], "log"),
                                           ([math.inf, 2.0], "log"), ([math.nan], "linear")])
def test_loss_plot_is_linear_when_a_finite_loss_is_not_positive(figures, tmp_path, losses,
                                                                 scale):
    metrics = [{"split": "val", "step": i, "loss": v} for i, v in enumerate(losses)]
    plots.plot_loss(metrics, tmp_path / "l.png")
    ((ax,),) = [fig.axes for fig in figures]
    assert ax.get_yscale() == scale
    assert [ln.get_label() for ln in ax.get_lines()] == ["val"]


def test_draw_plots_draws_what_the_files_allow(tmp_path):
    assert plots.draw_plots(tmp_path) == []
    (tmp_path / "metrics.jsonl").write_text(
        "\n".join(json.dumps(r) for r in [{"split": "test", "loss": 1.0}]) + "\n")
    assert plots.draw_plots(str(tmp_path)) == []
    (tmp_path / "metrics.jsonl").write_text(
        "\n".join(json.dumps(r) for r in METRICS) + "\n")
    assert plots.draw_plots(str(tmp_path)) == [tmp_path / "plots" / "loss.png"]
    diag = {"step": 1, "hidden_grad_norms": {"l0": [1.0, 0.5]}, "layer_grad_norms": {"l0": 1.0},
            "saturation": {"l0": {"sigmoid": 0.1}}, "spectral_radius": {"l0": 0.9}}
    (tmp_path / "diagnostics.jsonl").write_text(json.dumps(diag) + "\n")
    (tmp_path / "metrics.jsonl").unlink()
    names = ["gradient_flow.png", "layer_grad_norms.png", "gate_saturation.png",
             "spectral_radius.png"]
    assert plots.draw_plots(tmp_path) == [tmp_path / "plots" / n for n in names]
    (tmp_path / "metrics.jsonl").write_text(json.dumps(METRICS[0]) + "\n")
    paths = plots.draw_plots(tmp_path)
    assert paths == [tmp_path / "plots" / n for n in [*names, "loss.png"]]
    for p in paths:
        assert p.read_bytes()[:4] == b"\x89PNG"
