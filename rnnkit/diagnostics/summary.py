"""A short text verdict on a run's gradient flow, gates, weights and losses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .records import finite, read_jsonl, series

VANISHING, EXPLODING = 1e-3, 1e3  # first/last-step gradient ratios that earn the names


@dataclass
class Summary:
    """``lines``: the human summary; ``data``: the same figures, JSON-able."""

    lines: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


def verdict(ratio: float | None) -> str:
    """Name a first-step / last-step gradient ratio."""
    if ratio is None or not math.isfinite(ratio):
        return "undefined (no gradient reached the last step)"
    if ratio < VANISHING:
        return "vanishing"
    if ratio > EXPLODING:
        return "exploding"
    return "flowing"


def _flow_lines(record: dict, when: str) -> tuple[list[str], dict]:
    lines, data = [], {}
    for layer, ratio in record.get("hidden_grad_ratio", {}).items():
        name = verdict(ratio)
        data[layer] = {"ratio": ratio, "verdict": name}
        first, last = ("T", "0") if layer.endswith("_reverse") else ("0", "T")
        shown = "n/a" if ratio is None else f"{ratio:.1e}"
        lines.append(f"{when}, {layer}: gradient at t={first} is {shown} of that at "
                     f"t={last}: {name}")
    return lines, data


def summarize(run_dir: str | Path) -> Summary:
    """Read ``diagnostics.jsonl`` and ``metrics.jsonl`` of ``run_dir`` and judge them."""
    run_dir = Path(run_dir)
    diags = read_jsonl(run_dir / "diagnostics.jsonl")
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    out = Summary(data={"run_dir": str(run_dir), "records": len(diags)})
    if not diags and not metrics:
        out.lines.append(f"{run_dir}: no diagnostics.jsonl or metrics.jsonl to read")
        return out
    if diags:
        first, last = diags[0], diags[-1]
        out.lines.append(f"{len(diags)} diagnostics records, steps {first['step']}..{last['step']}")
        for when, rec in (("first", first), ("last", last)) if len(diags) > 1 else (("", last),):
            lines, data = _flow_lines(rec, f"step {rec['step']}")
            out.lines += lines
            out.data[f"gradient_flow_{when or 'last'}"] = data
        sat = {layer: (g.get("sigmoid"), g.get("tanh")) for layer, g in last["saturation"].items()}
        for layer, (sig, tanh) in sat.items():
            parts = [f"{kind} {v:.0%}" for kind, v in (("sigmoid", sig), ("tanh", tanh))
                     if v is not None]
            if parts:
                out.lines.append(f"gate saturation, {layer}: " + ", ".join(parts))
        out.data["saturation"] = last["saturation"]
        radii = last.get("spectral_radius", {})
        if radii:  # a non-finite radius (null in the file: the weights diverged) is the largest
            name = max(radii, key=lambda k: math.inf if radii[k] is None else radii[k])
            shown = "non-finite" if radii[name] is None else f"{radii[name]:.3g}"
            out.lines.append(f"largest recurrent spectral radius {shown} ({name})")
            out.data["spectral_radius_max"] = {name: radii[name]}
    out.lines += _loss_lines(metrics, out.data)
    return out


def _loss_lines(metrics: list[dict], data: dict) -> list[str]:
    lines = []
    steps, train = series(metrics, "loss", "train")
    if train:
        bad = [s for s, v in zip(steps, train) if not math.isfinite(v)]
        good = finite(train)
        if good:
            lines.append(f"train loss {good[0]:.4g} -> {good[-1]:.4g} over {steps[-1]} steps")
        if bad:
            lines.append(f"train loss non-finite from step {bad[0]}: diverged")
        data["train_loss"] = {"first": good[0] if good else None,
                              "last": good[-1] if good else None, "nonfinite_step": bad[0]
                              if bad else None}
    vsteps, val = series(metrics, "loss", "val")
    if finite(val):
        i = min((i for i, v in enumerate(val) if math.isfinite(v)), key=val.__getitem__)
        lines.append(f"best val loss {val[i]:.4g} at step {vsteps[i]}")
        data["best_val_loss"] = {"loss": val[i], "step": vsteps[i]}
    return lines
