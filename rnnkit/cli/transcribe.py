"""``rnnkit transcribe RUN_DIR FILE.wav [FILE.wav ...] [--beam N] [--json]``: what is spoken
in audio files; a thin shell over ``rnnkit.load(RUN_DIR).predict(files, beam=...)``, each
argument read by the predictor's ``read_file`` (an audio file, or a manifest or folder of
them: a record per utterance or recording).

A missing, empty or non-audio file gets a one-line error on stderr naming the file; the
other files are still transcribed, and the exit status is then 1. A manifest line with an
``offset`` is that segment of its file, printed as ``FILE (OFFSET s + DURATION s)``.
"""

from __future__ import annotations

import sys

from ..tasks import load
from .common import add_command, print_json, say


def register(sub) -> None:
    p = add_command(sub, "transcribe", "Print what is spoken in audio files (speech tasks).",
                    "rnnkit transcribe runs/speech-ctc-bigru one.wav two.wav", run)
    p.add_argument("run_dir", help="a run directory whose task transcribes audio")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio files (WAV, FLAC, OGG ...), JSON-lines manifests (.jsonl, "
                        "or NeMo's .json) or "
                        "folders (root/<label>/*.wav, or audio files alone)")
    p.add_argument("--beam", type=int, default=None,
                   help="beam size where the task decodes by beam search (0 = greedy; "
                        "default the run's beam_size)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--json", action="store_true",
                   help='print one JSON object {"results": [...]} on stdout')


def run(args) -> int:
    p = load(args.run_dir, args.checkpoint)
    p.require("transcribe", "transcribe audio; use a run of a speech task")
    options = {} if args.beam is None else {"beam": args.beam}
    results = p.predict([x for f in args.files for x in p.read_file(f)], **options)
    if args.json:
        print_json({"results": results})
    for item in results:
        if "error" in item:
            say(f"rnnkit transcribe: error: {item['error']}")
        elif not args.json:
            print(f"{_where(item)}\t{item['text']}", file=sys.stdout)
    return 1 if any("error" in item for item in results) else 0


def _where(item: dict) -> str:
    """A record's file, with its segment's seconds when it is one (a manifest's offset)."""
    if "offset" not in item:
        return item["file"]
    return f"{item['file']} ({item['offset']:g} s + {item['duration']:g} s)"
