"""Training-step time (forward + backward) of rnnkit's layers next to torch.nn's, one run.

    python benchmarks/layers.py [--batch 32 --seq 256 --input 128 --hidden 256 --repeats 7]

Each pair is timed in interleaved rounds (ours, theirs, ours, theirs, ...) so that machine
noise hits both alike; the table gives medians and the ratio ours / torch.nn.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rnnkit


def step_time(layer, x, forward) -> float:
    start = time.perf_counter()
    out, _ = forward(layer, x)
    out.sum().backward()
    return time.perf_counter() - start


def compare(name, ours, theirs, x, repeats, forward_ours=None):
    forward_ours = forward_ours or (lambda layer, x: layer(x))
    plain = lambda layer, x: layer(x)  # noqa: E731
    for _ in range(2):  # warm-up
        step_time(ours, x, forward_ours)
        step_time(theirs, x, plain)
    a, b = [], []
    for _ in range(repeats):
        a.append(step_time(ours, x, forward_ours))
        b.append(step_time(theirs, x, plain))
    ta, tb = statistics.median(a), statistics.median(b)
    return name, ta * 1e3, tb * 1e3, ta / tb


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--input", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    I, H = args.input, args.hidden
    x = torch.randn(args.seq, args.batch, I)
    rows = []
    for ours_cls, theirs_cls in [(rnnkit.RNN, torch.nn.RNN), (rnnkit.LSTM, torch.nn.LSTM),
                                 (rnnkit.GRU, torch.nn.GRU)]:
        theirs = theirs_cls(I, H)
        ours = ours_cls(I, H)
        ours.load_state_dict(theirs.state_dict())
        rows.append(compare(f"rnnkit.{ours_cls.__name__} (default)", ours, theirs, x,
                            args.repeats))
    lstm = torch.nn.LSTM(I, H)
    rows.append(compare("rnnkit.LSTM(layer_norm=True)", rnnkit.LSTM(I, H, layer_norm=True),
                        lstm, x, max(3, args.repeats // 2)))
    rows.append(compare("rnnkit.LSTM non-fused path", rnnkit.LSTM(I, H), lstm, x,
                        max(3, args.repeats // 2),
                        forward_ours=lambda layer, x: layer.forward_loop(x)))
    print(f"training step, B={args.batch} T={args.seq} I={I} H={H}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"| {'layer':32} | {'ours ms':>8} | {'torch.nn ms':>11} | {'ratio':>6} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 13}|{'-' * 8}|")
    for name, ta, tb, r in rows:
        print(f"| {name:32} | {ta:8.1f} | {tb:11.1f} | {r:6.2f} |")
    print("(the last two rows compare against torch.nn.LSTM)")


if __name__ == "__main__":
    main()
