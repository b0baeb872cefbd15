"""Reading a run directory's ``metrics.jsonl`` and ``diagnostics.jsonl``."""

from __future__ import annotations

import json
import math
from pathlib import Path


def read_jsonl(path: str | Path) -> list[dict]:
    """One dict per line; a missing file gives [] and a torn last line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def series(records: list[dict], key: str, split: str | None = None) -> tuple[list, list]:
    """(steps, values) of ``key`` over ``records`` (optionally only one ``split``)."""
    steps, values = [], []
    for r in records:
        if key in r and (split is None or r.get("split") == split):
            value = r[key]
            steps.append(r.get("step", len(steps)))
            values.append(float("nan") if value is None else float(value))
    return steps, values


def finite(values: list[float]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]
