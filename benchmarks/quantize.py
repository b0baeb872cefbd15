"""Dynamic int8 quantisation: what it costs in accuracy on a text and a time-series task.

Trains (or takes) the sentiment example (examples/sentiment.toml) and the temperatures
example (examples/temperatures.toml), exports each model as float and int8 ONNX
(``rnnkit.export.export_model(..., quantize="dynamic")``) and scores both in onnxruntime
on the run's test split:

- sentiment: accuracy on the test sentences, tokenized with the run's saved tokenizer and
  padded as the task pads them (``rnnkit.tasks.sentiment.to_tensors``);
- temperatures: RMSE (original units, degrees C) of the rolling one-step forecasts over the
  test range, from the same windows and back through the same transform as
  ``rnnkit evaluate`` (the point forecast is the median of the sorted quantiles).

The float ONNX figure is checked against ``rnnkit.evaluate_run`` (the torch model): the
two pipelines must agree (relative 1e-4; else a warning and exit status 1), so that the
int8 figure is measured exactly as rnnkit scores the task. Latency: the scored graph over the
whole test split, and the step graph at batch 1 where there is one; onnxruntime on one
thread, best of ``--repeats``.

    RNNKIT_DATA=../shared/data nice python benchmarks/quantize.py
    RNNKIT_DATA=../shared/data nice python benchmarks/quantize.py --sentiment-epochs 3
    python benchmarks/quantize.py --sentiment-run runs/sentiment-bilstm \\
        --temperatures-run runs/temperatures
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import rnnkit
from rnnkit.export import export_model
from rnnkit.tasks import evaluate_run, load_config, train_run
from rnnkit.tasks.sentiment import to_tensors
from rnnkit.tasks.text_common import saved_tokenizer
from rnnkit.tasks.timeseries.intervals import bands_from
from rnnkit.tasks.timeseries.transform import model_inputs, range_origins

ROOT = Path(__file__).resolve().parent.parent
BATCH = 256  # sentences per onnxruntime call


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def trained(example: str, run: str | None, root: Path, overrides: list[str]) -> Path:
    if run:
        return Path(run)
    cfg = load_config(ROOT / "examples" / example, overrides)
    print(f"training {example} {' '.join(overrides)} ...", file=sys.stderr, flush=True)
    return train_run(cfg, root / cfg.name).run_dir


def exported(run_dir: Path, out: Path):
    """The run's predictor and its float and int8 graphs (``export_model``)."""
    p = rnnkit.load(run_dir)
    files = export_model(p.model.cpu().float().eval(), out, verify=True, quantize="dynamic")
    return p, files, json.loads(files["manifest"].read_text())["quantized"]["graphs"]


# --- sentiment ------------------------------------------------------------------------------

def sentiment(run_dir: Path, out: Path, repeats: int) -> dict:
    p, files, int8 = exported(run_dir, out)
    items = p.context.items["test"]
    data = to_tensors(items, saved_tokenizer(p.info), p.config.task.max_tokens)
    x, lengths, y = data["x"].numpy(), data["lengths"].numpy(), data["y"].numpy()
    chunks = []
    for i in range(0, len(x), BATCH):
        n = lengths[i:i + BATCH]
        chunks.append({"x": x[i:i + BATCH, :n.max()], "lengths": n})

    def predict(s):
        return np.concatenate([s.run(["logits"], c)[0] for c in chunks]).argmax(-1)

    reference = evaluate_run(run_dir)["accuracy"]
    row = {"task": "sentiment", "metric": "accuracy", "reference": reference, "n": len(items)}
    labels = {}
    for kind, name in (("float", "sequence"), ("int8", "sequence.int8")):
        s = session(files[name])
        labels[kind] = predict(s)
        row[kind] = float((labels[kind] == y).mean())
        row[f"{kind}_ms"] = best_ms(lambda s=s: predict(s), repeats)
    row["change"] = row["int8"] - row["float"]
    row["change_text"] = f"{100 * row['change']:+.2f} points"
    row["detail"] = (f"{int((labels['float'] != labels['int8']).sum())} of {len(y)} "
                     "predicted labels differ")
    return {**row, "graphs": graph_rows("sentiment", files, int8, None, repeats)}


# --- temperatures ---------------------------------------------------------------------------

def temperatures(run_dir: Path, out: Path, repeats: int) -> dict:
    p, files, int8 = exported(run_dir, out)
    ctx, model = p.context, p.model
    cfg = ctx.task_cfg
    start, end = ctx.range("test")
    origins = range_origins(start, end, model.horizon, ctx.protocol)
    data = model_inputs(ctx.transform, ctx.z, ctx.zc, origins, cfg.window, model.horizon,
                        with_targets=False)
    x = np.asarray(data["x"], dtype=np.float32)
    x = x[..., None] if x.ndim == 2 else x  # (N, W, F)
    feed = {"x": x, "lengths": np.full(len(x), x.shape[1], dtype=np.int64)}
    steps = end - start if ctx.protocol == "multistep" else 1
    truth = ctx.series.values[start:end]
    anchors = ctx.transform.anchors(ctx.z, origins, model.horizon)

    def forecasts(s) -> np.ndarray:
        point, quantiles = s.run(["point", "quantiles"], feed)
        bands = bands_from(point.astype(float), quantiles.astype(float),
                           model.out.sorted_levels)  # the graph sorts them, as predict does
        forecast = ctx.transform.to_original(bands.point.reshape(point.shape), anchors)
        return forecast[:, :steps].reshape(truth.shape)

    reference = evaluate_run(run_dir)["rmse"]
    row = {"task": "temperatures", "metric": "rmse", "reference": reference, "n": len(truth)}
    points = {}
    for kind, name in (("float", "sequence"), ("int8", "sequence.int8")):
        s = session(files[name])
        points[kind] = forecasts(s)
        row[kind] = float(np.sqrt(np.mean((points[kind] - truth) ** 2)))
        row[f"{kind}_ms"] = best_ms(lambda s=s: s.run(None, feed), repeats)
    row["change"] = row["int8"] / row["float"] - 1
    row["change_text"] = f"{100 * row['change']:+.2f}%"
    row["detail"] = (f"forecasts differ by at most "
                     f"{np.abs(points['float'] - points['int8']).max():.3f} (original units)")
    return {**row, "graphs": graph_rows("temperatures", files, int8, x.shape[-1], repeats)}


# --- both -----------------------------------------------------------------------------------

def graph_rows(task: str, files: dict, int8: dict, features: int | None, repeats: int):
    """Every graph's sizes, the share of int8 weights, max abs diff on random inputs (from
    export.json) and, for a step graph, its latency at batch 1."""
    rows = []
    for name, entry in int8.items():
        row = {"task": task, "graph": name, "float_kib": entry["float_bytes"] / 1024,
               "int8_kib": entry["bytes"] / 1024, "int8_share": entry["int8_weight_share"],
               "max_abs_diff": entry["max_abs_diff"],
               "recurrence": "Loop" if "recurrence" in entry else "as in float"}
        if name == "step" and features:
            for kind, key in (("float", "step"), ("int8", "step.int8")):
                s = session(files[key])
                feed = {i.name: np.zeros([1 if not isinstance(d, int) else d for d in i.shape],
                                         dtype=np.float32) for i in s.get_inputs()}
                feed["x"] = np.ones((1, features), dtype=np.float32)
                row[f"{kind}_ms"] = best_ms(lambda s=s, f=feed: s.run(None, f), repeats * 50)
        rows.append(row)
    return rows


def tables(results: list[dict]) -> str:
    lines = ["| task (test split) | metric | float ONNX | int8 ONNX | change | rnnkit evaluate "
             "| ms float (split) | ms int8 | int8 vs float |", "|---" * 9 + "|"]
    for r in results:
        lines.append(f"| {r['task']} ({r['n']}) | {r['metric']} | {r['float']:.4f} | "
                     f"{r['int8']:.4f} | {r['change_text']} | {r['reference']:.4f} | "
                     f"{r['float_ms']:.1f} | {r['int8_ms']:.1f} | {r['detail']} |")
    lines += ["", "| task | graph | float KiB | int8 KiB | int8 share of weights | max abs "
              "diff (random inputs) | int8 recurrence | step ms float / int8 (batch 1) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in (g for res in results for g in res["graphs"]):
        step = f"{r['float_ms']:.3f} / {r['int8_ms']:.3f}" if "float_ms" in r else "-"
        lines.append(f"| {r['task']} | {r['graph']} | {r['float_kib']:.1f} | "
                     f"{r['int8_kib']:.1f} | {r['int8_share']:.3f} | {r['max_abs_diff']:.2g} | "
                     f"{r['recurrence']} | {step} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sentiment-run", help="a trained sentiment run (default: train one)")
    p.add_argument("--temperatures-run", help="a trained temperatures run (default: train)")
    p.add_argument("--sentiment-epochs", type=int,
                   help="train.epochs for the sentiment run trained here (default: the "
                        "example's)")
    p.add_argument("--repeats", type=int, default=5, help="timing repeats (best is kept)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
          file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        epochs = [f"train.epochs={args.sentiment_epochs}"] if args.sentiment_epochs else []
        runs = {"sentiment": trained("sentiment.toml", args.sentiment_run, root, epochs),
                "temperatures": trained("temperatures.toml", args.temperatures_run, root, [])}
        results = [sentiment(runs["sentiment"], root / "sentiment-onnx", args.repeats),
                   temperatures(runs["temperatures"], root / "temperatures-onnx",
                                args.repeats)]
    status = 0
    for r in results:
        if abs(r["float"] - r["reference"]) > 1e-4 * max(1.0, abs(r["reference"])):
            status = 1
            print(f"warning: {r['task']}: float ONNX {r['metric']} {r['float']:.6g} differs "
                  f"from rnnkit evaluate's {r['reference']:.6g}", file=sys.stderr)
    print(tables(results))
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
          file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
