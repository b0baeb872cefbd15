"""``rnnkit predict RUN_DIR --input FILE | --text TEXT``: one JSON object a line on stdout.

A thin shell over ``rnnkit.load(RUN_DIR).predict(...)``: ``--input FILE`` reads the task's
input format (``predict_file``: text tasks one text a line, ``-`` = stdin; numeric tasks
``.npy``/``.json``/``.csv``); ``--text`` (repeatable) gives texts to tasks that read text.
``--explain`` adds what the model attended to, where the task can show it. When the
file holds the expected outputs (a translation TSV's targets), the predictor's
``corpus_scores`` (corpus BLEU ...) follow on stderr: stdout stays one record a line.
An input that cannot be predicted gets a record with an ``error``; the command then ends
with a line naming those inputs and exit status 1, as ``transcribe`` and ``caption`` do.
"""

from __future__ import annotations

from .._optional import MissingExtraError
from ..tasks import TaskError, load
from .common import add_command, print_records, say


def register(sub) -> None:
    p = add_command(sub, "predict", "Predict with a trained run; prints JSON on stdout (exit "
                    "status 1 when an input gets an error record).",
                    "rnnkit predict runs/sentiment-bilstm --text \"a gripping, beautifully "
                    "acted film\" --explain\n"
                    "  rnnkit predict runs/sentiment-bilstm --input reviews.txt   # - = stdin\n"
                    "  rnnkit predict runs/adding-lstm --input sequences.npy", run)
    p.add_argument("run_dir", help="a run directory written by `rnnkit train`")
    p.add_argument("--input", default=None,
                   help="text tasks: one text a line (- = stdin; translation: also "
                        "source<TAB>target lines, scored against the targets); others: .npy, "
                        ".json (list of sequences) or .csv (one sequence)")
    p.add_argument("--text", action="append", default=None,
                   help="text tasks: a text to predict for (repeatable)")
    p.add_argument("--explain", action="store_true",
                   help="add what the model attended to (tasks that can show it)")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"),
                   help="the checkpoint to load: best (default) or last")


def run(args) -> int:
    if (args.input is None) == (args.text is None):
        raise TaskError("give either --input FILE or --text TEXT")
    p = load(args.run_dir, args.checkpoint)
    options = {}
    if args.explain:
        p.require("explain", "explain its predictions (drop --explain)")
        options["explain"] = True
    if args.text is not None:
        p.require("text", "read text; use --input FILE")
        inputs = p.read_texts(args.text)
    else:
        inputs = p.read_file(args.input)
    for item in inputs:
        problem = getattr(item, "problem", "")
        if problem:
            say(f"warning: {problem}")
    records = p.predict(inputs, **options)
    print_records(records)
    try:
        scores = p.corpus_scores(records)
    except MissingExtraError as e:  # the records are out; only the summary is missing
        say(f"warning: no corpus scores: {e}")
        scores = {}
    if scores:
        say("corpus scores: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()))
    failed = [i for i, r in enumerate(records) if "error" in r]
    if failed:  # (the exit status transcribe and caption give a bad input too)
        say(f"rnnkit predict: error: {len(failed)} of {len(records)} input(s) could not be "
            f"predicted (input {', '.join(str(i + 1) for i in failed[:10])}"
            f"{' ...' if len(failed) > 10 else ''}: their records hold the error)")
        return 1
    return 0
