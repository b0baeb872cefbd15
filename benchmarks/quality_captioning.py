"""Captioning quality on the generated shapes set: attention beside no attention.

Both variants train from the same config (default ``examples/captioning.toml``), on the
same data, seed, steps and time limit; only ``model.attention`` differs (``none``: the
decoder sees the image only through its first state). They train at the same time, one
process each (one torch thread each). Test figures: corpus BLEU (sacrebleu, 5 references)
and exact attribute accuracy (caption parses under the grammar; shapes, colours, sizes
given and relations all right), greedy and with beam 5.

    python benchmarks/quality_captioning.py [--config examples/captioning.toml]
        [--attention luong] [--set train.max_minutes=18 ...] [--out runs/bench-captioning]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

import rnnkit
from rnnkit.data import shapes
from rnnkit.data.batches import batches
from rnnkit.tasks import evaluate_run
from rnnkit.tasks.captioning import SHAPES_TOKENIZER, corpus_bleu


def beam_figures(run_dir: Path, beam: int) -> dict[str, float]:
    """Test BLEU and exact attribute accuracy with beam search of width ``beam``."""
    p = rnnkit.load(run_dir)
    data = p.context.splits["test"]
    hyps = []
    with torch.no_grad():
        for b in batches(data, 64):
            hyps += p.model.caption(b["image"].to(p.device), beam_size=beam,
                                    max_len=p.config.task.max_tokens).tokens
    tok = SHAPES_TOKENIZER
    text = [tok.decode(h) for h in hyps]
    refs = [[tok.decode(data["y"][i, k, :n - 1].tolist())
             for k, n in enumerate(data["lengths"][i].tolist()) if n > 0]
            for i in range(len(hyps))]
    scenes = shapes.scenes_from_array(data["scene"].numpy())
    exact = sum(shapes.caption_correct(h, s) for h, s in zip(text, scenes)) / len(scenes)
    return {"bleu": corpus_bleu(text, refs), "exact_attribute_accuracy": exact}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="examples/captioning.toml")
    ap.add_argument("--attention", default="luong", help="the attending variant's kind")
    ap.add_argument("--set", action="append", default=[], help="extra config overrides")
    ap.add_argument("--out", default="runs/bench-captioning")
    ap.add_argument("--beam", type=int, default=5)
    args = ap.parse_args()
    out = Path(args.out)
    variants = {f"attention={args.attention}": args.attention, "no attention": "none"}
    procs, dirs, start = {}, {}, time.time()
    for label, kind in variants.items():
        dirs[label] = out / kind
        cmd = [sys.executable, "-m", "rnnkit.cli.main", "train", args.config, "--overwrite",
               "--run-dir", str(dirs[label]), "--set", f"model.attention={kind}"]
        for s in args.set:
            cmd += ["--set", s]
        out.parent.mkdir(parents=True, exist_ok=True)
        log = open(out.with_suffix(f".{kind}.log"), "w")  # closed when the process exits
        procs[label] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    for label, p in procs.items():
        if p.wait() != 0:
            sys.exit(f"{label}: training failed (see {out}.*.log)")
    wall = time.time() - start
    rows = {}
    for label in variants:
        greedy = evaluate_run(dirs[label], "test")
        beam = beam_figures(dirs[label], args.beam)
        rows[label] = {"step": greedy["step"], "loss": greedy["loss"],
                       "bleu": greedy["bleu"], "exact": greedy["exact_attribute_accuracy"],
                       "bleu_beam": beam["bleu"], "exact_beam": beam["exact_attribute_accuracy"]}
    print(f"| shapes test (1,000 images) | best step | test loss | BLEU greedy | exact greedy "
          f"| BLEU beam {args.beam} | exact beam {args.beam} |")
    print("|---|---|---|---|---|---|---|")
    for label, r in rows.items():
        print(f"| {label} | {r['step']} | {r['loss']:.3f} | {r['bleu']:.1f} | "
              f"{r['exact']:.1%} | {r['bleu_beam']:.1f} | {r['exact_beam']:.1%} |")
    print(f"\nboth trained side by side in {wall / 60:.1f} min wall-clock")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
