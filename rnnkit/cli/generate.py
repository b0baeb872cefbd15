"""``rnnkit generate RUN_DIR [--prompt P] [--max-new N] ...``: for generative tasks.

A thin shell over ``rnnkit.load(RUN_DIR).generate(...)``: text tasks stream the prompt and
the new text to stdout as it is produced; the others print one JSON object.
"""

from __future__ import annotations

import sys

from ..tasks import load
from .common import add_command, print_json


def register(sub) -> None:
    p = add_command(sub, "generate", "Generate from a trained generative model: text tasks "
                    "stream text to stdout, the others print JSON.",
                    "rnnkit generate runs/charlm-lstm --prompt \"ROMEO:\" --max-new 500 "
                    "--temperature 0.8 --top-k 40 --seed 0\n"
                    "  rnnkit generate runs/sine --max-new 50\n"
                    "  rnnkit generate runs/music-gru --steps 64 --prime 8 --output a.mid", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train`")
    p.add_argument("--prompt", default=None,
                   help="what to start from (charlm: text, default a newline; music: a MIDI "
                        "file)")
    p.add_argument("--max-new", "--steps", dest="max_new", type=int, default=100,
                   help="how many steps (characters, frames ...) to generate")
    p.add_argument("--prime", default="0", metavar="N|FILE.mid",
                   help="music: prime with all of FILE.mid, or with the first N steps of "
                        "--prompt FILE.mid (or of the run's first test piece)")
    p.add_argument("--output", default=None, help="music: write the result to this MIDI file")
    p.add_argument("--plot", default=None, help="music: draw the piano roll to this PNG")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature; 0 = greedy (default 1)")
    p.add_argument("--top-k", type=int, default=0,
                   help="sample among the k most likely tokens (0 = all)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    p.add_argument("--seed", type=int, default=0, help="a fixed seed repeats exactly")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="the checkpoint to load: best (default) or last")


def run(args) -> int:
    p = load(args.run_dir, args.checkpoint)
    p.require("generate", "generate; use `rnnkit predict`")
    options = {k: getattr(args, k) for k in ("prompt", "max_new", "temperature", "top_k",
                                             "top_p", "seed", "output", "plot")}
    options["prime"] = int(args.prime) if args.prime.lstrip("-").isdigit() else args.prime
    result = p.generate(**options)
    if "text" in p.capabilities:
        for piece in result:
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    print_json(result)
    return 0
