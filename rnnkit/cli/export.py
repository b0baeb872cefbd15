"""``rnnkit export RUN_DIR --format onnx [--output DIR]``: the run's model as ONNX graphs
that onnxruntime runs with rnnkit's numbers, and the predictor's preprocessing as JSON.

A thin shell over ``rnnkit.load(RUN_DIR).export(DIR)``. Writes (default DIR:
``RUN_DIR/export/``): ``sequence.onnx`` (whole sequences, dynamic batch and time, masked by
``lengths``) and ``step.onnx`` (one step, the recurrent state in and out, for streaming) —
or ``encoder.onnx`` and ``decoder_step.onnx`` for encoder-decoder models — ``export.json``
(every input and output: shape, dtype, meaning) and ``preprocessing.json`` (tokenizer,
labels, scaler ...: what the predictor does outside the graphs).
"""

from __future__ import annotations

from pathlib import Path

from ..tasks import load
from .common import add_command, print_json, say


def register(sub) -> None:
    p = add_command(sub, "export", "Export a trained run's model to ONNX (graphs + "
                    "preprocessing JSON).",
                    "rnnkit export runs/sentiment-bilstm --format onnx --output deploy/", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train`")
    p.add_argument("--format", default="onnx", choices=("onnx",))
    p.add_argument("--output", default=None, help="folder to write (default RUN_DIR/export)")
    p.add_argument("--quantize", choices=("dynamic",), default=None,
                   help="also write int8 graphs (<graph>.int8.onnx), weights quantised")
    p.add_argument("--no-verify", action="store_true",
                   help="skip running the graphs in onnxruntime against torch")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--json", action="store_true", help="print the written paths as JSON")


def run(args) -> int:
    p = load(args.run_dir, args.checkpoint)
    out = Path(args.output) if args.output else Path(args.run_dir) / "export"
    paths = p.export(out, args.format, verify=not args.no_verify, quantize=args.quantize)
    if args.json:
        print_json({k: str(v) for k, v in paths.items()})
    else:
        for name, path in paths.items():
            say(f"{name}: {path}")
    return 0
