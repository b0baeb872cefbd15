"""Text applications against their peers, same split, same run, same training-time budget.

    python benchmarks/quality_text.py charlm --minutes 8
    python benchmarks/quality_text.py sentiment --folds 10
    python benchmarks/quality_text.py translation --minutes 10

charlm: rnnkit LSTM (examples/shakespeare.toml) vs a plain ``nn.LSTM`` of the same size trained
the same way vs a GPT-style transformer (nanoGPT's CPU size), each for ``--minutes`` of
training on one thread; scored on the same validation characters two ways: ``win64`` (the
validation text cut into 64-character windows, each read from a fresh state / empty
context, nanoGPT's way) and ``full`` (every character with the most context the model can
use: the recurrent models read the text as 16 contiguous streams, the transformer slides
its 64-character context by 32). Steps: a 10-step probe estimates how many fit the budget,
so every model's cosine schedule ends near its time limit (on a busy machine the probe is
only an estimate: the table gives each model's steps and minutes).
sentiment: rnnkit BiLSTM (examples/sentiment.toml) vs TF-IDF 1-2-grams + logistic
regression on the same fold(s): test accuracy, mean and std over folds.
translation: rnnkit Seq2Seq with attention (examples/translate.toml) vs the same without
attention, ``--minutes`` each: test BLEU/chrF (beam 5, all references) and loss.
Needs RNNKIT_DATA (the real data) and scikit-learn (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit.data.text import load_rt_polarity, load_shakespeare
from rnnkit.data.tokenizers import CharTokenizer
from rnnkit.tasks import TASKS, evaluate_run, load_config, open_run, train_run
from rnnkit.tasks.sentiment import splits as sentiment_splits
from rnnkit.training import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from text_peers import PlainLSTMLM, TinyGPT, tfidf_logreg, train_lm_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def probe_seconds(step, n: int = 10) -> float:
    step(0)  # warm-up
    start = time.perf_counter()
    for i in range(1, n + 1):
        step(i)
    return (time.perf_counter() - start) / n


def rnnkit_steps(cfg, minutes: float) -> int:
    """How many optimizer steps of ``cfg`` fit in ``minutes`` (a short probe)."""
    task = TASKS[cfg.task.name]
    model = task.build_model(cfg)
    trainer = Trainer(model, cfg.train, task.data(cfg.task, cfg.seed)["train"], seed=cfg.seed)
    sec = probe_seconds(lambda i: trainer.train_step(trainer.stream.batch(i)))
    return max(50, int(minutes * 60 / sec))


def run_rnnkit(example: str, overrides: list[str], minutes: float, out: Path):
    cfg = load_config(ROOT / "examples" / example, overrides)
    steps = rnnkit_steps(cfg, minutes)
    say(f"  rnnkit {example} {' '.join(overrides)}: {steps} steps in {minutes} min")
    cfg = load_config(ROOT / "examples" / example, [
        *overrides, f"train.steps={steps}", "train.epochs=0", f"train.max_minutes={minutes}",
        f"train.eval_every={max(1, steps // 8)}", "train.progress=off", "diagnostics.every=0"])
    result = train_run(cfg, out, overwrite=True)
    return result, cfg


# -- charlm ---------------------------------------------------------------------------------

@torch.no_grad()
def lm_losses(kind: str, model, val: torch.Tensor) -> dict:
    """Validation nats/char, ``win64`` and ``full`` (see the module docstring)."""
    model.eval()
    n = (len(val) - 1) // 64
    x, y = val[:n * 64].view(n, 64), val[1:n * 64 + 1].view(n, 64)
    logits = model(x) if kind == "gpt" else model(x)[0] if kind == "plain" else model(x).logits
    win = F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
    if kind == "gpt":  # slide a 64-character context by 32, score each window's new half
        total, count = 0.0, 0
        for start in range(0, len(val) - 1, 32):
            xs = val[max(0, start - 32):start + 32]
            ys = val[max(0, start - 32) + 1:start + 33]
            if len(ys) < len(xs):
                xs = xs[:len(ys)]
            logits = model(xs[None])[0]
            keep = slice(0 if start == 0 else 32, len(ys))
            total += F.cross_entropy(logits[keep], ys[keep], reduction="sum").item()
            count += len(ys[keep])
        full = total / count
    else:
        m = (len(val) - 1) // 16
        xs, ys = val[:16 * m].view(16, m), val[1:16 * m + 1].view(16, m)
        logits = model(xs)[0] if kind == "plain" else model(xs).logits
        full = F.cross_entropy(logits.flatten(0, 1), ys.flatten()).item()
    return {"win64": win, "full": full}


def streams(ids: torch.Tensor, batch: int, seq: int):
    length = (len(ids) - 1) // batch
    x = ids[:batch * length].view(batch, length)
    y = ids[1:batch * length + 1].view(batch, length)
    per_epoch = (length - seq) // seq
    return lambda s: (x[:, (s % per_epoch) * seq:(s % per_epoch + 1) * seq],
                      y[:, (s % per_epoch) * seq:(s % per_epoch + 1) * seq], s % per_epoch == 0)


def bench_charlm(args) -> list[dict]:
    train, val = load_shakespeare()
    tok = CharTokenizer.fit(train)
    train_ids = torch.tensor(tok.encode(train))
    val_ids = torch.tensor(tok.encode(val))
    V = len(tok.vocab)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        result, cfg = run_rnnkit("shakespeare.toml", [], args.minutes, Path(tmp) / "lstm")
        model = open_run(result.run_dir).model.cpu()
        params = sum(p.numel() for p in model.parameters())
        rows.append({"model": "rnnkit LSTM 2x256 (stream, tbptt 128)", "params": params,
                     "steps": result.state.step, "minutes": result.state.elapsed / 60,
                     **lm_losses("rnnkit", model, val_ids)})
    torch.manual_seed(0)
    plain = PlainLSTMLM(V)
    batch = streams(train_ids, 64, 128)
    carry = {"state": None}

    def plain_loss(b):
        x, y, fresh = b
        state = None if fresh else carry["state"]
        logits, state = plain(x, state)
        carry["state"] = tuple(s.detach() for s in state)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    rows.append(_peer("plain nn.LSTM 2x256 (stream, tbptt 128)", plain, batch, plain_loss,
                      args.minutes, val_ids, "plain", lr=2e-3))
    torch.manual_seed(0)
    gpt = TinyGPT(V)
    g = torch.Generator().manual_seed(0)
    n = len(train_ids) - 65

    def gpt_batch(step):
        starts = torch.randint(0, n, (32,), generator=g)
        return (torch.stack([train_ids[s:s + 64] for s in starts]),
                torch.stack([train_ids[s + 1:s + 65] for s in starts]), False)

    def gpt_loss(b):
        return F.cross_entropy(gpt(b[0]).flatten(0, 1), b[1].flatten())

    rows.append(_peer("transformer 4L 4H 128w ctx 64 (random windows, batch 32)", gpt,
                      gpt_batch, gpt_loss, args.minutes, val_ids, "gpt", lr=1e-3,
                      weight_decay=0.1, betas=(0.9, 0.99), warmup=100))
    for r in rows:
        r["bits_per_char(full)"] = r["full"] / math.log(2)
    return rows


def _peer(name, model, batch_fn, loss_fn, minutes, val_ids, kind, **opt) -> dict:
    def probe_step(i):  # forward and backward only: the weights do not change
        loss = loss_fn(batch_fn(i))
        loss.backward()
        model.zero_grad()
    steps = max(50, int(minutes * 60 / probe_seconds(probe_step)))
    say(f"  {name}: {steps} steps in {minutes} min")
    info = train_lm_for(model, batch_fn, loss_fn, minutes, steps, **opt)
    return {"model": name, "params": sum(p.numel() for p in model.parameters()), **info,
            **lm_losses(kind, model, val_ids)}


# -- sentiment ------------------------------------------------------------------------------

def bench_sentiment(args) -> list[dict]:
    load_rt_polarity()  # fail early without data
    folds = range(args.folds) if args.folds else [0]
    ours, peer = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in folds:
            over = [f"task.folds={args.folds}", f"task.fold={k}", "train.progress=off",
                    "diagnostics.every=0"]
            cfg = load_config(ROOT / "examples" / "sentiment.toml", over)
            start = time.perf_counter()
            result = train_run(cfg, Path(tmp) / f"fold{k}", overwrite=True)
            ours.append(result.results["test"]["accuracy"])
            parts = sentiment_splits(cfg.task)
            peer.append(tfidf_logreg(parts["train"], parts["val"], parts["test"])["accuracy"])
            say(f"  fold {k}: rnnkit {ours[-1]:.4f}, tf-idf+LR {peer[-1]:.4f} "
                f"({(time.perf_counter() - start) / 60:.1f} min)")
    def row(name, accs):
        return {"model": name, "folds": len(accs), "accuracy": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0, "per_fold": accs}
    return [row("rnnkit BiLSTM + attention (examples/sentiment.toml)", ours),
            row("TF-IDF 1-2-grams + logistic regression", peer)]


# -- translation ----------------------------------------------------------------------------

def bench_translation(args) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, over in (("rnnkit Seq2Seq GRU + Bahdanau attention", []),
                           ("rnnkit Seq2Seq GRU, no attention", ["model.attention=none"])):
            result, cfg = run_rnnkit("translate.toml", over, args.minutes,
                                     Path(tmp) / name.split()[-1])
            figures = evaluate_run(result.run_dir, "test")
            rows.append({"model": name, "steps": result.state.step,
                         "minutes": result.state.elapsed / 60,
                         **{k: figures[k] for k in ("bleu", "chrf", "loss")}})
    return rows


def table(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k != "per_fold"]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("task", choices=("charlm", "sentiment", "translation"))
    p.add_argument("--minutes", type=float, default=8.0, help="training minutes per model")
    p.add_argument("--folds", type=int, default=0, help="sentiment: k-fold CV (0: 90/10)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    rows = {"charlm": bench_charlm, "sentiment": bench_sentiment,
            "translation": bench_translation}[args.task](args)
    print(f"# {args.task}: {' '.join(sys.argv[1:])} ({(time.time() - start) / 60:.1f} min wall)")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
