"""Speed of rnnkit's engines against torch.nn's fused kernels.

For each shape, every variant is timed side by side (round-robin over repetitions, median
reported): training step (forward + backward of a sum), inference (eval, no_grad) and peak
memory of a training step (allocations recorded by the torch profiler), with ratios to
torch.nn.LSTM of the same shape.

Engines: ``fused`` (torch.nn), ``loop`` (rnnkit's generic autograd loop), ``compile`` (the
same loop with each cell step compiled by torch.compile), ``kernel`` (rnnkit's hand-derived
BPTT kernels / parallel scan).

    python benchmarks/speed.py                 # all shapes
    python benchmarks/speed.py --quick --no-compile
    python benchmarks/speed.py --markdown /tmp/speed.md   # then paste into RESULTS.md
    python benchmarks/speed.py --device cuda --no-compile # on a GPU, against cuDNN

On CUDA the fused rows are cuDNN's kernels, the times are taken after
``torch.cuda.synchronize()`` and the peak memory is ``torch.cuda.max_memory_allocated``
above what was allocated before the step. Issue 9's targets are CPU targets: on CUDA the
ratios are printed without them.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import rnnkit
from rnnkit.kernels import use_engine
from rnnkit.layers import Recurrent

DEVICE = torch.device("cpu")  # set by --device

SHAPES = {  # name: (B, T, I, H)
    "B32-T256-I128-H256": (32, 256, 128, 256),
    "B8-T1024-I64-H128": (8, 1024, 64, 128),
    **{f"B{b}-T128-I128-H512": (b, 128, 128, 512) for b in (16, 32, 64, 128)},
}
CUDA_SHAPES = {  # added on a GPU, where the shapes above are bound by kernel launches
    "B256-T256-I512-H1024": (256, 256, 512, 1024),
    "B64-T2048-I128-H256": (64, 2048, 128, 256),
}


@dataclass
class Variant:
    name: str
    engine: str
    build: Callable[[int, int], torch.nn.Module]
    result: dict = field(default_factory=dict)


def variants(include_compile: bool, include_loop: bool) -> list[Variant]:
    def rk(cell, **kw):
        return lambda I, H: Recurrent(cell, input_size=I, hidden_size=H, **kw)

    out = [
        Variant("torch.nn.LSTM", "fused", lambda I, H: torch.nn.LSTM(I, H)),
        Variant("torch.nn.GRU", "fused", lambda I, H: torch.nn.GRU(I, H)),
        Variant("rnnkit.LSTM", "default", lambda I, H: rnnkit.LSTM(I, H)),
        Variant("rnnkit.GRU", "default", lambda I, H: rnnkit.GRU(I, H)),
    ]
    slow = [
        ("LSTM", rk("lstm")),
        ("GRU", rk("gru")),
        ("LN-LSTM", rk("lnlstm")),
        ("LSTM+rec.dropout", rk("lstm", recurrent_dropout=0.25)),
        ("LN-GRU", rk("lngru")),
    ]
    for name, build in slow:
        out.append(Variant(name, "kernel", build))
        if include_loop:
            out.append(Variant(name, "loop", build))
        if include_compile:
            out.append(Variant(name, "compile", build))
    out.append(Variant("minGRU", "kernel", rk("mingru")))
    out.append(Variant("minLSTM", "kernel", rk("minlstm")))
    return out


def engine_context(engine: str):
    """The rnnkit engine a row runs on (the compiled rows compile the loop's steps)."""
    if engine in ("fused", "default"):  # default: what the layer picks by itself
        return contextlib.nullcontext()
    return use_engine("kernel" if engine == "kernel" else "loop")


def compile_steps(module: torch.nn.Module) -> None:
    """Compile each cell's step (what the loop calls at every time step)."""
    for cell in getattr(module, "cells", []):
        cell.recurrence = torch.compile(cell.recurrence, dynamic=False)


def train_step(module, x):
    out, _ = module(x)
    out.sum().backward()


def infer(module, x):
    with torch.no_grad():
        module(x)


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def time_once(fn: Callable, *args) -> float:
    synchronize()
    start = time.perf_counter()
    fn(*args)
    synchronize()
    return time.perf_counter() - start


def peak_memory(fn: Callable, *args) -> float:
    """Peak bytes allocated during ``fn`` above what was allocated before it (MiB)."""
    if DEVICE.type == "cuda":
        synchronize()
        before = torch.cuda.memory_allocated(DEVICE)
        torch.cuda.reset_peak_memory_stats(DEVICE)
        fn(*args)
        synchronize()
        return (torch.cuda.max_memory_allocated(DEVICE) - before) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(*args)
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    total = peak = 0
    for e in events:
        total += e.nbytes()
        peak = max(peak, total)
    return peak / 2**20


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    def raise_timeout(*_):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, raise_timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def prepare(v: Variant, shape, compile_timeout: int):
    """Build, warm up (compiling if asked); return the module or None when skipped."""
    B, T, I, H = shape
    torch.manual_seed(0)
    module = v.build(I, H).to(DEVICE)
    x = torch.randn(T, B, I, device=DEVICE)
    try:
        if v.engine == "compile":
            compile_steps(module)
            with time_limit(compile_timeout), engine_context(v.engine):
                train_step(module, x)
                module.eval()
                infer(module, x)
                module.train()
        with engine_context(v.engine):
            train_step(module, x)
    except _Timeout:
        v.result["skipped"] = f"compile > {compile_timeout}s"
        return None, x
    except Exception as err:  # a backend that cannot compile: report, go on
        v.result["skipped"] = f"{type(err).__name__}"
        return None, x
    return module, x


def measure(vs: list[Variant], shape, reps: int, compile_timeout: int) -> None:
    ready = []
    for v in vs:
        module, x = prepare(v, shape, compile_timeout)
        if module is not None:
            ready.append((v, module, x))
            v.result.update(train=[], infer=[])
    for _ in range(reps):  # round-robin: every variant sees the same machine load
        for v, module, x in ready:
            module.train()
            with engine_context(v.engine):
                v.result["train"].append(time_once(train_step, module, x))
            module.eval()
            with engine_context(v.engine):
                v.result["infer"].append(time_once(infer, module, x))
    for v, module, x in ready:
        module.train()
        with engine_context(v.engine):
            v.result["memory"] = peak_memory(train_step, module, x)
        v.result["train"] = statistics.median(v.result["train"])
        v.result["infer"] = statistics.median(v.result["infer"])


TARGETS = [  # (row, engine, reference row, largest ratio allowed, shortest T): issue 9's
    ("LN-LSTM", "kernel", "torch.nn.LSTM", 1.5, 0),
    ("LSTM+rec.dropout", "kernel", "torch.nn.LSTM", 1.5, 0),
    ("GRU", "kernel", "torch.nn.GRU", 0.8, 0),
    ("rnnkit.GRU", "default", "torch.nn.GRU", 0.8, 0),
    ("rnnkit.LSTM", "default", "torch.nn.LSTM", 1.05, 0),
    ("minGRU", "kernel", "torch.nn.GRU", 0.2, 1024),  # >= 5x faster, at T=1024
]


def table(name: str, vs: list[Variant], T: int = 0) -> str:
    ref = next(v.result for v in vs if v.name == "torch.nn.LSTM")
    gru = next(v.result for v in vs if v.name == "torch.nn.GRU")
    lines = [f"### {name}", "",
             "| model | engine | train ms | infer ms | peak MiB | train / nn.LSTM "
             "| infer / nn.LSTM | train / nn.GRU |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for v in vs:
        r = v.result
        if "skipped" in r:
            lines.append(f"| {v.name} | {v.engine} | skipped: {r['skipped']} | | | | | |")
            continue
        lines.append(
            f"| {v.name} | {v.engine} | {r['train'] * 1e3:.1f} | {r['infer'] * 1e3:.1f} | "
            f"{r['memory']:.1f} | {r['train'] / ref['train']:.2f} | "
            f"{r['infer'] / ref['infer']:.2f} | {r['train'] / gru['train']:.2f} |"
        )
    found = {(v.name, v.engine): v.result for v in vs if "train" in v.result}
    checks = []
    for row, engine, against, limit, min_T in TARGETS if DEVICE.type == "cpu" else []:
        mine, theirs = found.get((row, engine)), found.get((against, "fused"))
        if mine and theirs and T >= min_T:
            ratio = mine["train"] / theirs["train"]
            checks.append(f"{row} / {against} = {ratio:.2f} "
                          f"({'met' if ratio <= limit else 'missed'}: <= {limit})")
    if checks:
        lines += ["", "Targets (training step): " + "; ".join(checks) + "."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions, first 2 shapes")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile rows")
    parser.add_argument("--no-loop", action="store_true", help="skip the plain-loop rows")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--compile-timeout", type=int, default=180)
    parser.add_argument("--shapes", nargs="*", choices=sorted({**SHAPES, **CUDA_SHAPES}),
                        default=None)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA GPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    reps = 3 if args.quick else args.reps
    shapes = {**SHAPES, **CUDA_SHAPES}
    names = args.shapes or (list(SHAPES)[:2] if args.quick else list(SHAPES))
    if DEVICE.type == "cuda" and not args.shapes:
        names += list(CUDA_SHAPES)
    where = (torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda"
             else f"{torch.get_num_threads()} threads")
    print(f"torch {torch.__version__}, {where}, reps={reps}", file=sys.stderr)
    tables = []
    for name in names:
        vs = variants(not args.no_compile, not args.no_loop)
        if name not in list(SHAPES)[:2]:  # the sweeps: the fused kernels and the engine only
            vs = [v for v in vs if v.engine in ("fused", "kernel")]
        measure(vs, shapes[name], reps, args.compile_timeout)
        tables.append(table(name, vs, shapes[name][1]))
        print(tables[-1] + "\n", flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(f"# rnnkit speed (benchmarks/speed.py, {where})\n\n"
                    + "\n\n".join(tables) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
