"""``rnnkit caption RUN_DIR IMAGE [IMAGE ...] [--beam N] [--attention-plot FILE.png]
[--json]``: one caption per image; a thin shell over
``rnnkit.load(RUN_DIR).predict(images, beam=...)``.

A missing or unreadable file gets a one-line error on stderr naming the file; the other
images are still captioned, and the exit status is then 1. ``--attention-plot FILE.png``
draws each word's attention over its image (with several images: FILE-1.png, FILE-2.png).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..tasks import load
from .common import add_command, print_json, say


def register(sub) -> None:
    p = add_command(sub, "caption", "Caption image files with a trained captioning run.",
                    "rnnkit caption runs/captioning-shapes scene.png --beam 5 "
                    "--attention-plot attention.png", run)
    p.add_argument("run_dir", help="a run directory whose task captions images")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files (PNG, JPEG ...) or folders of them")
    p.add_argument("--beam", type=int, default=None,
                   help="beam size (1 = greedy; default the run's task.beam_size)")
    p.add_argument("--attention-plot", metavar="FILE.png", default=None,
                   help="draw each word's attention over the image into this file")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--json", action="store_true",
                   help='print one JSON object {"results": [{"file", "caption"}, ...]}')


def _plot_path(base: str, k: int, n: int) -> Path:
    path = Path(base)
    return path if n == 1 else path.with_name(f"{path.stem}-{k}{path.suffix or '.png'}")


def run(args) -> int:
    p = load(args.run_dir, args.checkpoint)
    p.require("caption", "caption images; use a captioning run")
    results = p.predict([x for f in args.images for x in p.read_file(f)], beam=args.beam)
    for k, item in enumerate(results, 1):
        if "error" in item:
            say(f"rnnkit caption: error: {item['error']}")
            continue
        if not args.json:
            print(f"{item['file']}\t{item['caption']}", file=sys.stdout)
        if args.attention_plot:
            path = p.plot(item, _plot_path(args.attention_plot, k, len(results)))
            say(f"attention of {item['file']} -> {path}")
    if args.json:
        print_json({"results": results})
    return 1 if any("error" in item for item in results) else 0
