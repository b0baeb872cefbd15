"""``rnnkit transcribe RUN_DIR FILE.wav [FILE.wav ...] [--beam N] [--json]``: the digits
spoken in audio files, for runs of the ``speech-ctc`` and ``speech-digits`` tasks.

Each file is read with soundfile: several channels are averaged to mono, another sample rate
(e.g. 44.1 kHz) is resampled to 8 kHz. A missing, empty or non-audio file gets a one-line
error on stderr naming the file; the other files are still transcribed, and the exit status
is then 1.
"""

from __future__ import annotations

import json
import sys

from ..tasks import TaskError, open_run
from .common import add_command, say


def register(sub) -> None:
    p = add_command(sub, "transcribe", "Print the digits spoken in audio files (speech tasks).",
                    "rnnkit transcribe runs/speech-ctc-bigru one.wav two.wav", run)
    p.add_argument("run_dir", help="a run directory of task speech-ctc or speech-digits")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG ...)")
    p.add_argument("--beam", type=int, default=None,
                   help="speech-ctc: beam size (0 = greedy; default the run's beam_size)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--json", action="store_true",
                   help='print one JSON object {"results": [...]} on stdout')


def run(args) -> int:
    r = open_run(args.run_dir, args.checkpoint)
    transcribe = getattr(r.task, "transcribe", None)
    if transcribe is None:
        raise TaskError(f"task {r.task.name!r} does not transcribe audio; use a run of "
                        "speech-ctc or speech-digits")
    options = {} if args.beam is None else {"beam_size": args.beam}
    if args.beam is not None and r.task.name != "speech-ctc":
        raise TaskError("--beam applies to speech-ctc runs only")
    results = transcribe(r.model, r.cfg.task, args.files, **options)
    if args.json:
        print(json.dumps({"results": results}))
    for item in results:
        if "error" in item:
            say(f"rnnkit transcribe: error: {item['error']}")
        elif not args.json:
            print(f"{item['file']}\t{item['text']}", file=sys.stdout)
    return 1 if any("error" in item for item in results) else 0
