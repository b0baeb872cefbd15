"""Event-level scoring of anomaly alarms against NAB's labelled windows, and the rolling
z-score detector they are compared to.

An alarm event is a run of consecutive alarm points. A window (inclusive at both ends) is
detected when an event overlaps it; an event overlapping no window is a false positive.
``precision`` = events overlapping a window / events, ``recall`` = windows detected /
windows, ``f1`` their harmonic mean.
"""

from __future__ import annotations

import json

import numpy as np

from ...data.datasets import DataError, fetch


def nab_windows(name: str) -> list[tuple[np.datetime64, np.datetime64]]:
    """NAB's labelled anomaly windows of series ``name`` (``realKnownCause/<name>.csv``)."""
    (path,) = fetch("nab-windows")
    windows = json.loads(path.read_text())
    key = f"realKnownCause/{name}.csv"
    if key not in windows:
        raise DataError(f"NAB has no labelled windows for {name!r}")
    return [(_time(a), _time(b)) for a, b in windows[key]]


def _time(text: str) -> np.datetime64:
    return np.datetime64(text.replace(" ", "T"), "s")


def window_indices(timestamps: np.ndarray, windows) -> list[tuple[int, int]]:
    """Each window as inclusive point indices (first, last); windows with no point dropped."""
    t = timestamps.astype("datetime64[s]")
    out = []
    for a, b in windows:
        first, last = np.searchsorted(t, a, "left"), np.searchsorted(t, b, "right") - 1
        if first <= last:
            out.append((int(first), int(last)))
    return out


def events(alarms: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive True points as inclusive (first, last) indices."""
    a = np.concatenate([[False], np.asarray(alarms, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(a.astype(np.int8)))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]


def event_scores(alarms: np.ndarray, windows: list[tuple[int, int]]) -> dict[str, float]:
    """windows_detected, windows_total, false_positives (events outside every window),
    alarm_events, alarm_points_outside, precision, recall, f1."""
    evs = events(alarms)
    overlaps = [[s <= wl and e >= wf for (wf, wl) in windows] for s, e in evs]
    detected = sum(any(o[j] for o in overlaps) for j in range(len(windows)))
    true_events = sum(any(o) for o in overlaps)
    inside = np.zeros(len(alarms), dtype=bool)
    for wf, wl in windows:
        inside[wf:wl + 1] = True
    precision = true_events / len(evs) if evs else 0.0
    recall = detected / len(windows) if windows else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"windows_detected": detected, "windows_total": len(windows),
            "false_positives": len(evs) - true_events, "alarm_events": len(evs),
            "alarm_points_outside": int((np.asarray(alarms, bool) & ~inside).sum()),
            "precision": precision, "recall": recall, "f1": f1}


def rolling_zscore(x: np.ndarray, window: int) -> np.ndarray:
    """z[t] = (x[t] - mean) / std over the trailing ``window`` points before t (sample std,
    ddof 1; 0 where fewer than ``window`` points precede t, or the std is 0)."""
    x = np.asarray(x, dtype=np.float64)
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    z = np.zeros_like(x)
    t = np.arange(window, len(x))
    mean = (c1[t] - c1[t - window]) / window
    var = np.maximum((c2[t] - c2[t - window] - window * mean**2) / (window - 1), 0.0)
    std = np.sqrt(var)
    ok = std > 0
    z[t[ok]] = (x[t[ok]] - mean[ok]) / std[ok]
    return z
