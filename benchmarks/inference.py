"""Inference speed side by side: one step at batch 1 (streaming) and whole sequences, rnnkit
against torch eager and onnxruntime on the same model, in one run, on one thread.

The model is a ``SequenceTagger`` (float features in, 16 scores out at every step) whose
recurrent layer has 2 layers of 256 units over 64 inputs: LSTM, GRU, or rnnkit's layer-norm
LSTM (torch has none; its "torch eager" rows run rnnkit's own cells op by op, in torch).

- Step latency at batch 1, the state carried from step to step (per step, over a stream of
  ``--steps`` inputs): ``torch nn.LSTM T=1`` (torch's layer called on a length-1 sequence
  with the state), ``torch LSTMCell loop`` (one ``torch.nn.LSTMCell`` per layer),
  ``rnnkit step`` (``layer.step``), ``onnxruntime`` (the step graph that
  ``rnnkit.export.export_model`` writes). The same linear head follows in every variant.
- Whole sequences, B=32, T=128: ``torch eager`` (torch's layer, eval, no_grad),
  ``rnnkit engine`` (the layer's ``forward_loop``: rnnkit's engine over its cells, which
  without gradients runs the compiled inference plan; the drop-in ``rnnkit.LSTM``'s own
  forward keeps torch's fused kernel, so it times as ``torch eager``), ``onnxruntime``
  (the sequence graph).
- ``--speed-shapes``: the engine's whole-sequence inference at every shape of
  benchmarks/speed.py against ``torch.nn.LSTM``/``GRU`` in eval mode (layers only).

Every round runs every variant of a table once (side by side, so all see the same machine
load); the medians over rounds are reported, as wall-clock and as CPU time of this process
(the CPU time is what a shared, loaded machine distorts least). Ratios are of the wall-clock
medians, with the CPU-time ratio beside them.

    nice python benchmarks/inference.py
    nice python benchmarks/inference.py --quick --markdown /tmp/inference.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

import rnnkit
from rnnkit.cells import LayerNormLSTMCell
from rnnkit.export import export_model
from rnnkit.kernels import use_engine
from rnnkit.layers import Recurrent
from rnnkit.models import SequenceTagger

sys.path.insert(0, str(Path(__file__).parent))
from speed import SHAPES  # noqa: E402  (benchmarks/ is not a package)

I, H, LAYERS, TAGS = 64, 256, 2, 16
CELLS = {"LSTM": "lstm", "GRU": "gru", "LN-LSTM": "lnlstm"}


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def side_by_side(variants: dict[str, Callable], rounds: int) -> dict[str, tuple[float, float]]:
    """name -> (median wall s, median CPU s) of one call, all variants called in turn."""
    for fn in variants.values():
        fn()  # warm up (packing, allocations, onnxruntime's first run)
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            times[name].append(timed(fn))
    return {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
            for name, t in times.items()}


def session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def torch_layer(kind: str, layer: torch.nn.Module) -> torch.nn.Module | None:
    """torch.nn's layer with the same weights (None for the layer-norm LSTM)."""
    if kind == "lnlstm":
        return None
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    ref = cls(I, H, LAYERS, batch_first=True).eval()
    ref.load_state_dict(layer.state_dict())
    return ref


def eager_cells(kind: str, layer: torch.nn.Module) -> list[torch.nn.Module]:
    """One eager cell per layer with the layer's weights: torch.nn.LSTMCell / GRUCell, or
    rnnkit's LayerNormLSTMCell (op by op in torch) for the layer-norm LSTM."""
    weights = layer.state_dict()
    cells = []
    for k in range(LAYERS):
        n_in = I if k == 0 else H
        cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell,
               "lnlstm": LayerNormLSTMCell}[kind]
        cell = cls(n_in, H)
        cell.load_state_dict({name: weights[f"{name}_l{k}"] for name in cell.state_dict()})
        cells.append(cell.eval())
    return cells


def step_variants(kind: str, model, xs: torch.Tensor, onnx_dir: Path) -> dict[str, Callable]:
    """Each variant streams xs (N, 1, I) from a zero state; returns the last scores."""
    layer, head = model.encoder.rnn, model.head
    ref, cells = torch_layer(kind, layer), eager_cells(kind, layer)
    has_c = kind != "gru"
    zeros = torch.zeros(LAYERS, 1, H)
    sess = session(onnx_dir / "step.onnx")
    np_xs = xs.numpy()

    def torch_t1():
        state = (zeros, zeros) if has_c else zeros
        for x in xs:
            if ref is None:  # rnnkit's layer on a length-1 sequence, op by op (loop engine)
                with use_engine("loop"):
                    out, state = layer(x[None], state)
            else:
                out, state = ref(x[None], state)
        return head(out[:, 0])

    def cell_loop():
        states = [(zeros[0], zeros[0]) if has_c else zeros[0] for _ in cells]
        for x in xs:
            inp = x
            for k, cell in enumerate(cells):
                if kind == "lnlstm":
                    inp, states[k] = cell(inp, states[k])
                else:
                    states[k] = cell(inp, states[k])
                    inp = states[k][0] if has_c else states[k]
        return head(inp)

    def rnnkit_step():
        state = None
        for x in xs:
            y, state = layer.step(x, state)
        return head(y)

    def onnxruntime():
        feed = {"h": zeros.numpy(), **({"c": zeros.numpy()} if has_c else {})}
        for x in np_xs:
            out = sess.run(None, {"x": x, **feed})
            feed = {"h": out[1], **({"c": out[2]} if has_c else {})}
        return torch.from_numpy(out[0])

    name_t1 = "torch nn.LSTM T=1" if kind == "lstm" else (
        "torch nn.GRU T=1" if kind == "gru" else "rnnkit forward T=1 (loop engine, eager ops)")
    name_cell = {"lstm": "torch LSTMCell loop", "gru": "torch GRUCell loop",
                 "lnlstm": "rnnkit LayerNormLSTMCell loop (eager)"}[kind]
    return {name_t1: torch_t1, name_cell: cell_loop, "rnnkit step": rnnkit_step,
            "onnxruntime step graph": onnxruntime}


def sequence_variants(kind: str, model, x: torch.Tensor, onnx_dir: Path) -> dict[str, Callable]:
    layer, head = model.encoder.rnn, model.head
    ref = torch_layer(kind, layer)
    sess = session(onnx_dir / "sequence.onnx")
    feed = {"x": x.numpy(), "lengths": torch.full((x.shape[0],), x.shape[1]).numpy()}

    def torch_eager():
        if ref is None:  # rnnkit's layer on its generic autograd loop: op by op in torch
            with use_engine("loop"):
                return head(layer(x)[0])
        return head(ref(x)[0])

    name = "torch eager" if ref is not None else "rnnkit loop engine (eager ops)"
    return {name: torch_eager, "rnnkit engine": lambda: head(layer.forward_loop(x)[0]),
            "onnxruntime sequence graph": lambda: torch.from_numpy(sess.run(None, feed)[0])}


def ratio_table(title: str, results: dict, per: float, unit: str, refs: list[str]) -> str:
    names = list(results)
    head = f"| variant | {unit} (wall) | {unit} (CPU) | " + " | ".join(
        f"/ {r} (wall, CPU)" for r in refs) + " |"
    lines = [f"#### {title}", "", head, "|---|---:|---:|" + "---:|" * len(refs)]
    for n in names:
        w, c = results[n]
        cells = [f"{w / results[r][0]:.3f}, {c / results[r][1]:.3f}" for r in refs]
        lines.append(f"| {n} | {w * per:.1f} | {c * per:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check(outputs: dict[str, torch.Tensor]) -> str:
    ref = outputs["rnnkit"]
    diffs = {k: (v - ref).abs().max().item() for k, v in outputs.items() if k != "rnnkit"}
    return "max abs difference of the last scores from rnnkit's: " + ", ".join(
        f"{k} {v:.1e}" for k, v in diffs.items())


def run_model(name: str, kind: str, args, work: Path) -> list[str]:
    torch.manual_seed(0)
    model = SequenceTagger(num_tags=TAGS, input_size=I, cell=kind, hidden_size=H,
                           num_layers=LAYERS).eval()
    export_model(model, work / kind)
    xs = torch.randn(args.steps, 1, I)
    x = torch.randn(32, 128, I)
    with torch.no_grad():
        steps = step_variants(kind, model, xs, work / kind)
        outs = {k: fn() for k, fn in steps.items()}
        outs["rnnkit"] = outs.pop("rnnkit step")
        step_check = check(outs)
        step_times = side_by_side(steps, args.rounds)
        seqs = sequence_variants(kind, model, x, work / kind)
        outs = {k: fn()[:, -1] for k, fn in seqs.items()}
        outs["rnnkit"] = outs.pop("rnnkit engine")
        seq_check = check(outs)
        seq_times = side_by_side(seqs, args.rounds)
    t1, ort_step = next(iter(step_times)), "onnxruntime step graph"
    eager = next(iter(seq_times))
    tables = [
        ratio_table(f"{name} {LAYERS}x{H}, input {I}: one step at batch 1", step_times,
                    1e6 / args.steps, "µs/step", [ort_step, t1]) + f"\n\n{step_check}.",
        ratio_table(f"{name} {LAYERS}x{H}, input {I}: whole sequences B=32 T=128", seq_times,
                    1e3, "ms", [eager]) + f"\n\n{seq_check}.",
    ]
    s, o = step_times["rnnkit step"], step_times[ort_step]
    e, oe = seq_times["rnnkit engine"], seq_times["onnxruntime sequence graph"]
    tables.append(
        f"Targets ({name}, wall / CPU): rnnkit step / onnxruntime = {s[0] / o[0]:.2f} / "
        f"{s[1] / o[1]:.2f} (<= 1.5); rnnkit step / {t1} = {s[0] / step_times[t1][0]:.3f} / "
        f"{s[1] / step_times[t1][1]:.3f} (<= 0.1); rnnkit engine / {eager} = "
        f"{e[0] / seq_times[eager][0]:.2f} / {e[1] / seq_times[eager][1]:.2f} (<= 1.0); "
        f"onnxruntime / {eager} = {oe[0] / seq_times[eager][0]:.2f} / "
        f"{oe[1] / seq_times[eager][1]:.2f} (<= 0.9).")
    return tables


def _caller(module, x):
    return lambda: module(x)


def _rel(r: dict, a: str, b: str) -> str:
    return f"{r[a][0] / r[b][0]:.2f}, {r[a][1] / r[b][1]:.2f}"


def speed_shapes(rounds: int) -> str:
    """rnnkit's engine (inference) against torch.nn at benchmarks/speed.py's shapes."""
    lines = ["#### Whole-sequence inference at benchmarks/speed.py's shapes (eval, no_grad)", "",
             "| shape | nn.LSTM ms | LSTM engine / nn.LSTM (wall, CPU) | nn.GRU ms "
             "| GRU engine / nn.GRU | LN-LSTM engine / nn.LSTM |", "|---|---:|---:|---:|---:|---:|"]
    for shape, (B, T, n_in, n_h) in SHAPES.items():
        torch.manual_seed(0)
        x = torch.randn(T, B, n_in)
        mods = {"nn.LSTM": torch.nn.LSTM(n_in, n_h), "nn.GRU": torch.nn.GRU(n_in, n_h),
                **{k: Recurrent(c, input_size=n_in, hidden_size=n_h) for k, c in CELLS.items()}}
        with torch.no_grad():
            r = side_by_side({k: _caller(m.eval(), x) for k, m in mods.items()}, rounds)
        lines.append(f"| {shape} | {r['nn.LSTM'][0] * 1e3:.1f} | {_rel(r, 'LSTM', 'nn.LSTM')} | "
                     f"{r['nn.GRU'][0] * 1e3:.1f} | {_rel(r, 'GRU', 'nn.GRU')} | "
                     f"{_rel(r, 'LN-LSTM', 'nn.LSTM')} |")
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def ort_variants(kind: str, rounds: int, work: Path) -> str:
    """onnxruntime's whole-sequence graph (B=32, T=128) in its variants against torch eager:
    the recurrences as ONNX's own LSTM/GRU op or as a Loop over the cell step, graph
    optimisation basic or all, intra-op spinning on or off (one thread each)."""
    import numpy as np
    import onnxruntime as ort

    from rnnkit.export.layer import use_native_ops

    torch.manual_seed(0)
    model = SequenceTagger(num_tags=TAGS, input_size=I, cell=kind, hidden_size=H,
                           num_layers=LAYERS).eval()
    export_model(model, work / f"{kind}-native")
    with use_native_ops(False):
        export_model(model, work / f"{kind}-loop")
    x = torch.randn(32, 128, I)
    feed = {"x": x.numpy(), "lengths": np.full((32,), 128, dtype=np.int64)}
    ref, head = torch_layer(kind, model.encoder.rnn), model.head
    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    variants: dict[str, Callable] = {"torch eager": lambda: head(ref(x)[0])}
    for graph, level, spin in (("native", "basic", "1"), ("native", "all", "1"),
                               ("native", "all", "0"), ("loop", "all", "1")):
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.graph_optimization_level = levels[level]
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        sess = ort.InferenceSession(str(work / f"{kind}-{graph}" / "sequence.onnx"), options,
                                    providers=["CPUExecutionProvider"])
        name = (f"onnxruntime {'LSTM/GRU op' if graph == 'native' else 'Loop graph'}, "
                f"{level}" + ("" if spin == "1" else ", no spinning"))
        variants[name] = lambda sess=sess: torch.from_numpy(sess.run(None, feed)[0])
    with torch.no_grad():
        outs = {k: fn()[:, -1] for k, fn in variants.items()}
        outs["rnnkit"] = outs.pop("torch eager")
        parity = check(outs).replace("rnnkit's", "torch eager's")
        times = side_by_side(variants, rounds)
    return ratio_table(f"{kind.upper()} {LAYERS}x{H}: onnxruntime variants, whole sequences "
                       "B=32 T=128", times, 1e3, "ms", ["torch eager"]) + f"\n\n{parity}."


def anomaly_per_point(run: str | None, points: int, rounds: int, work: Path) -> str:
    """The anomaly detector's cost per streamed point: ``predictor.stream().push((t, v))``
    over the first ``points`` points of the run's series (``run``: a trained anomaly run;
    default: examples/anomaly-machine.toml trained for 20 steps here, the cost does not
    depend on training), and the largest difference of the streamed scores from the batch
    pass's."""
    if run is None:
        from rnnkit.cli.main import main as cli

        run = str(work / "anomaly-machine")
        example = Path(__file__).parent.parent / "examples" / "anomaly-machine.toml"
        if cli(["train", str(example), "--run-dir", run, "--set", "train.steps=20",
                "--set", "train.eval_every=10"]) != 0:
            raise SystemExit("training the anomaly example failed (RNNKIT_DATA set?)")
    p = rnnkit.load(run)
    series = p.context.series
    pts = list(zip(series.timestamps[:points], series.values[:points]))
    (batch,) = p.predict([series.head(points)])

    def stream():
        s = p.stream()
        return [s.push(pt)["score"] for pt in pts]

    diff = max(abs(a - b) for a, b in zip(stream(), batch["columns"]["score"]))
    (w, c), = side_by_side({"push": stream}, rounds).values()
    cfg, rnn = p.config, p.model.encoder.rnn
    return "\n".join([
        f"#### Anomaly detector, per streamed point ({cfg.name}: {type(rnn).__name__} "
        f"{rnn.num_layers}x{rnn.hidden_size}, smooth {cfg.task.smooth})", "",
        "| variant | µs/point (wall) | µs/point (CPU) |", "|---|---:|---:|",
        f"| predictor.stream().push((t, v)) | {w / points * 1e6:.1f} | {c / points * 1e6:.1f} |",
        "", f"{points} points a round; max abs difference of the streamed scores from the "
        f"batch pass's {diff:.1e}; target <= 500 µs/point."])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="stream length per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="5 rounds of 50 steps")
    parser.add_argument("--models", nargs="*", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--speed-shapes", action="store_true",
                        help="also the engine at every shape of benchmarks/speed.py")
    parser.add_argument("--anomaly-run", help="a trained anomaly run for the per-point row "
                        "(default: examples/anomaly-machine.toml trained for 20 steps)")
    parser.add_argument("--anomaly-points", type=int, default=2000)
    parser.add_argument("--no-anomaly", action="store_true", help="skip the per-point row")
    parser.add_argument("--ort-variants", action="store_true",
                        help="also onnxruntime's whole-sequence variants (LSTM, GRU)")
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 50, 5
    torch.set_num_threads(1)
    header = (f"torch {torch.__version__}, rnnkit {rnnkit.__version__}, 1 thread, "
              f"{args.rounds} rounds, {args.steps} steps a round; load average at start "
              f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(header, file=sys.stderr, flush=True)
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for table in run_model(name, CELLS[name], args, Path(tmp)):
                tables.append(table)
                print(table + "\n", flush=True)
        if args.ort_variants:
            for kind in ("lstm", "gru"):
                tables.append(ort_variants(kind, args.rounds, Path(tmp)))
                print(tables[-1] + "\n", flush=True)
        if not args.no_anomaly:
            tables.append(anomaly_per_point(args.anomaly_run, args.anomaly_points,
                                            max(3, args.rounds // 3), Path(tmp)))
            print(tables[-1] + "\n", flush=True)
    if args.speed_shapes:
        tables.append(speed_shapes(max(3, args.rounds // 3)))
        print(tables[-1] + "\n", flush=True)
    footer = f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    print(footer, file=sys.stderr)
    if args.markdown:
        Path(args.markdown).write_text("# rnnkit inference (benchmarks/inference.py)\n\n"
                                       + header + "\n\n" + "\n\n".join(tables) + "\n\n"
                                       + footer + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
