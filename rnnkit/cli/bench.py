"""``rnnkit bench``: training-step time of an rnnkit layer next to torch.nn's, one run.

The full speed and quality tables live in ``benchmarks/`` (see benchmarks/RESULTS.md); this
command answers the everyday question "how fast is this layer, with these options, here?".
"""

from __future__ import annotations

import statistics
import time

import torch

from ..tasks import TaskError
from .common import add_command, print_json, say

EXAMPLE = ("rnnkit bench --cell lstm --layer-norm --batch 32 --seq 256 --input 128 "
           "--hidden 256\n  rnnkit bench --cell gru --recurrent-dropout 0.25 --json")
_TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def register(sub) -> None:
    p = add_command(sub, "bench", "Time a layer's training step against torch.nn.", EXAMPLE,
                    run)
    p.add_argument("--cell", choices=sorted(_TORCH), default="lstm")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--layer-norm", action="store_true", help="rnnkit's layer-norm variant")
    p.add_argument("--recurrent-dropout", type=float, default=0.0)
    p.add_argument("--zoneout", type=float, default=0.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _step(layer, x) -> float:
    start = time.perf_counter()
    out, _ = layer(x)
    out.sum().backward()
    return time.perf_counter() - start


def run(args) -> int:
    import rnnkit

    if min(args.batch, args.seq, args.input, args.hidden, args.layers, args.repeats) < 1:
        raise TaskError("sizes, --layers and --repeats must be >= 1")
    if args.threads < 0:
        raise TaskError(f"--threads must be >= 0 (0: torch's default), got {args.threads}")
    common = dict(num_layers=args.layers, bidirectional=args.bidirectional)
    try:  # the layer checks its options (--recurrent-dropout, --zoneout)
        ours = getattr(rnnkit, args.cell.upper())(
            args.input, args.hidden, layer_norm=args.layer_norm, zoneout=args.zoneout,
            recurrent_dropout=args.recurrent_dropout, **common)
    except ValueError as e:
        raise TaskError(str(e)) from None
    theirs = _TORCH[args.cell](args.input, args.hidden, **common)
    if args.threads:
        torch.set_num_threads(args.threads)
    x = torch.randn(args.seq, args.batch, args.input)
    for layer in (ours, theirs):  # warm-up
        _step(layer, x)
    a, b = [], []
    for _ in range(args.repeats):  # interleaved, so load hits both alike
        a.append(_step(ours, x))
        b.append(_step(theirs, x))
    ta, tb = statistics.median(a) * 1e3, statistics.median(b) * 1e3
    path = ("rnnkit engine" if ours.uses_loop or ours._engine_is_faster(x)
            else "torch's fused kernel")
    result = {"cell": args.cell, "path": path,
              "rnnkit_ms": round(ta, 2), "torch_ms": round(tb, 2), "ratio": round(ta / tb, 3),
              "shape": [args.batch, args.seq, args.input, args.hidden],
              "threads": torch.get_num_threads()}
    if args.json:
        print_json(result)
    else:
        say(f"rnnkit.{args.cell.upper()} ({result['path']}): {ta:.1f} ms  "
            f"torch.nn: {tb:.1f} ms  ratio {ta / tb:.2f}  (training step, "
            f"B={args.batch} T={args.seq} I={args.input} H={args.hidden})")
    return 0
