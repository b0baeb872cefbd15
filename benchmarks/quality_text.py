"""Text applications against their peers, same split, same run, same training-time budget.

    python benchmarks/quality_text.py charlm --minutes 8
    python benchmarks/quality_text.py sentiment --folds 10 [--jobs 2] [--seeds 3]
        [--set task.ensemble=5]
    python benchmarks/quality_text.py translation --minutes 8
    python benchmarks/quality_text.py levers --minutes 20 --clock cpu
        [--variant NAME:KEY=VALUE,... --which NAME ...]
    python benchmarks/quality_text.py tokenizers --minutes 8 --clock cpu
    python benchmarks/quality_text.py targets --minutes 30 --clock cpu

charlm and translation race their models: each model trains in its own process (one thread),
all started together (a barrier after data loading and model building) and stopped by the
same training-time limit, with a cosine learning-rate schedule that runs over that time
(rnnkit's ``train.schedule_clock = "time"``; the peers the same), so every model sees the
same machine load and ends its decay however many steps it managed. The table gives each
model's steps and the 1-minute load average at its start and end of training; the header
gives the load average sampled every 5 s over the race. The final weights are evaluated
(no checkpoint choice, no validation during training).

charlm: rnnkit LSTM (examples/shakespeare.toml) vs a GPT-style transformer (nanoGPT's CPU
size: 4 layers, 4 heads, width 128, context 64). Both scored on the same validation
characters two ways: ``win64`` (the validation text cut into 64-character windows, each
read from a fresh state / empty context, nanoGPT's way and the issue's peer figures') and
``full`` (every character with the most context the model can use: the LSTM reads the text
as 16 contiguous streams, the transformer slides its 64-character context by 32).
sentiment: rnnkit BiLSTM (examples/sentiment.toml) vs TF-IDF 1-2-grams + logistic
regression on the same fold(s): test accuracy, mean and std over folds. ``--seeds N`` runs
N independent seeds and scores their probabilities averaged here; ``--set task.ensemble=N``
trains the library's seed ensemble (``ClassifierEnsemble``) as one run per fold instead.
translation: rnnkit Seq2Seq with attention (examples/translate.toml) vs the same without
attention vs a ``torch.nn.Transformer`` of similar parameter count: test BLEU/chrF (beam 5,
GNMT length normalisation, the same beam-search code, all references) and loss.
levers: the attention GRU as it is, with label smoothing, with label smoothing and tied decoder
embeddings, and the transformer with and without label smoothing, validation and test
figures for each (choose on validation).
tokenizers: examples/translate.toml with each ``task.tokenizer`` (word vocabulary,
sentencepiece BPE or unigram pieces): validation and test BLEU/chrF and loss (choose on
validation). Hugging Face ``tokenizers`` (byte-level BPE) was raced too and lost to
sentencepiece's BPE on validation; its variant is in commit 3a1ddc3 (``--which hfbpe``).
targets: examples/translate.toml French -> English (``task.reverse = true``, the same config)
and English -> French with subwords, each for ``--minutes`` of training with the config's own
validation every 200 steps choosing the checkpoint: test BLEU/chrF.

``--clock cpu`` measures each model's training time as its own process's CPU time (the
validation excluded) instead of wall time: the time limit and the cosine over it then mean
the same work however many other jobs share the machine.
Needs RNNKIT_DATA (the real data) and scikit-learn (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.data.batches import BucketStream
from rnnkit.data.text import load_rt_polarity
from rnnkit.data.tokenizers import BOS, EOS, PAD, UNK, detokenize
from rnnkit.tasks import TASKS, load_config, train_run
from rnnkit.tasks.text_common import clip_tokens, pad_ids
from rnnkit.tasks.translation import bleu_chrf
from rnnkit.training import Callback
from rnnkit.training.callbacks import TimeLimit

sys.path.insert(0, str(Path(__file__).parent))
from text_peers import (  # noqa: E402
    TinyGPT,
    TransformerMT,
    tfidf_logreg,
    train_for,
    transformer_translate,
)

ROOT = Path(__file__).resolve().parent.parent


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def finished(result):
    """``result`` of a run that trained to its end: a run stopped by a signal (the trainer
    ends SIGINT/SIGTERM cleanly, e.g. when a pool of folds is killed) raises instead of
    being scored as if it had finished."""
    if result.interrupted:
        raise RuntimeError(f"{result.run_dir}: {result.state.stop_reason} at step "
                           f"{result.state.step}; not scored")
    return result


def load1() -> float:
    return os.getloadavg()[0]


# -- the race: one process per model, started together, the same training time ---------------

class Gate:
    """What a racing job calls around its training: ``start()`` waits for every model to be
    ready, ``end()`` notes the time; both note the load average."""

    def __init__(self, barrier):
        self.barrier, self.marks = barrier, {}

    def start(self) -> None:
        self.barrier.wait()
        self.marks.update(t_start=time.time(), load_start=load1())

    def end(self) -> None:
        self.marks.update(t_end=time.time(), load_end=load1())


class CPUClock(Callback):
    """``--clock cpu``: the trainer's training time (``state.elapsed``, what the
    time-clocked cosine reads) becomes this process's CPU seconds spent in training steps
    (validation and checkpointing not counted), and this callback stops training at
    ``train.max_minutes`` of it in place of the trainer's wall-clock time limit."""

    def on_train_start(self, trainer):
        for cb in trainer.callbacks:
            if isinstance(cb, TimeLimit):
                cb.seconds = math.inf
        self.cpu, self.mark = trainer.state.elapsed, time.process_time()

    def on_step_end(self, trainer, record):
        now = time.process_time()
        self.cpu, self.mark = self.cpu + now - self.mark, now
        trainer.state.elapsed = self.cpu
        if self.cpu >= trainer.cfg.max_minutes * 60:
            trainer.stop(f"time limit: {trainer.cfg.max_minutes:g} CPU minutes")

    def on_eval_end(self, trainer, record, improved):
        self.mark = time.process_time()


class ValidateLast(Callback):
    """Validates the step the time limit stops training at (the trainer validates every
    ``eval_every`` steps only), so the final weights are among the checkpoints chosen from."""

    def on_step_end(self, trainer, record):
        limit = trainer.cfg.max_minutes * 60
        if trainer.state.elapsed >= limit and trainer.state.step % trainer.cfg.eval_every:
            trainer.validate()


class GateCallback(Callback):
    """The gate as a Trainer callback (rnnkit's own models train through ``train_run``)."""

    def __init__(self, gate: Gate):
        self.gate = gate

    def on_train_start(self, trainer):
        self.gate.start()

    def on_train_end(self, trainer):
        self.gate.end()


def race(jobs: dict, threads: int) -> tuple[list[dict], dict]:
    """Run ``jobs`` (name -> ``job(gate) -> row``) in parallel processes (forked after the
    data is loaded, ``threads`` torch threads each); returns the rows (in ``jobs`` order)
    and the load average over the race."""
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(len(jobs)), ctx.Queue()

    def child(name, job):
        torch.set_num_threads(threads)
        gate = Gate(barrier)
        try:
            row = job(gate)
            queue.put((name, {**row, **gate.marks}, None))
        except BaseException:
            barrier.abort()
            queue.put((name, None, traceback.format_exc()))

    samples, done = [], threading.Event()

    def sample():
        while not done.wait(5.0):
            samples.append((time.time(), load1()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    procs = [ctx.Process(target=child, args=(n, j)) for n, j in jobs.items()]
    for p in procs:
        p.start()
    rows, errors = {}, []
    while len(rows) + len(errors) < len(procs):
        name, row, err = queue.get()
        if err:
            errors.append(f"{name}:\n{err}")
        else:
            rows[name] = row
            say(f"  {name}: done ({row['steps']} steps)")
    for p in procs:
        p.join()
    done.set()
    if errors:
        raise RuntimeError("a racing model failed:\n" + "\n".join(errors))
    t0 = min(r["t_start"] for r in rows.values())
    t1 = max(r["t_end"] for r in rows.values())
    during = [v for t, v in samples if t0 <= t <= t1] or [load1()]
    load = {"mean": statistics.mean(during), "min": min(during), "max": max(during),
            "samples": len(during), "train_wall_min": (t1 - t0) / 60}
    out = []
    for name in jobs:
        r = rows[name]
        out.append({"model": name, **{k: v for k, v in r.items() if not k.startswith("t_")}})
    return out, load


def rnnkit_job(example: str, overrides: list[str], minutes: float, out: Path, finish,
               clock: str = "wall", validate: bool = False):
    """A racing job that trains ``examples/<example>`` for ``minutes`` of training time
    (``clock``: wall or CPU) through ``train_run`` (cosine over the time) and returns
    ``finish(result, model)``. ``validate``: the config's validation picks the checkpoint
    evaluated; otherwise none runs during training and the final weights are evaluated."""
    cfg = load_config(ROOT / "examples" / example, [
        *overrides, "train.steps=1000000000", "train.epochs=0", f"train.max_minutes={minutes}",
        "train.schedule_clock=time", "train.progress=off", "train.threads=1",
        "diagnostics.every=0", *([] if validate else ["train.eval_every=1000000000"])])

    def job(gate: Gate) -> dict:
        cbs = [GateCallback(gate), *([CPUClock()] if clock == "cpu" else []),
               *([ValidateLast()] if validate else [])]
        result = finished(train_run(cfg, out, overwrite=True, callbacks=cbs))
        model = rnnkit.load(result.run_dir, "best" if validate else "last").model.cpu()
        return {"params": sum(p.numel() for p in model.parameters()),
                "steps": result.state.step, "train_min": result.state.elapsed / 60,
                **finish(result, model)}
    return job


# -- charlm ---------------------------------------------------------------------------------

@torch.no_grad()
def lm_losses(kind: str, model, val: torch.Tensor) -> dict:
    """Validation nats/char, ``win64`` and ``full`` (see the module docstring)."""
    model.eval()
    n = (len(val) - 1) // 64
    x, y = val[:n * 64].view(n, 64), val[1:n * 64 + 1].view(n, 64)
    logits = model(x) if kind == "gpt" else model(x).logits
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
        full = F.cross_entropy(model(xs).logits.flatten(0, 1), ys.flatten()).item()
    return {"win64": win, "full": full, "bits_per_char(full)": full / math.log(2)}


def bench_charlm(args, tmp: Path) -> tuple[list[dict], dict]:
    ctx = TASKS["charlm"].setup(load_config(ROOT / "examples" / "shakespeare.toml"))
    train, val = ctx.text  # the task's own split and tokenizer
    tok = ctx.tokenizer
    train_ids = torch.tensor(tok.encode(train))
    val_ids = torch.tensor(tok.encode(val))

    def gpt_job(gate: Gate) -> dict:
        torch.manual_seed(0)
        gpt = TinyGPT(len(tok.vocab))
        g = torch.Generator().manual_seed(0)
        n = len(train_ids) - 65

        def batch(step):
            starts = torch.randint(0, n, (32,), generator=g)
            return (torch.stack([train_ids[s:s + 64] for s in starts]),
                    torch.stack([train_ids[s + 1:s + 65] for s in starts]))

        def loss(b):
            return F.cross_entropy(gpt(b[0]).flatten(0, 1), b[1].flatten())

        gate.start()
        info = train_for(gpt, batch, loss, args.minutes, lr=1e-3, weight_decay=0.1,
                         betas=(0.9, 0.99), warmup=100)
        gate.end()
        return {"params": sum(p.numel() for p in gpt.parameters()), "steps": info["steps"],
                "train_min": info["minutes"], **lm_losses("gpt", gpt, val_ids)}

    return race({
        "rnnkit LSTM 2x256 (stream, tbptt 64, batch 32)": rnnkit_job(
            "shakespeare.toml", [], args.minutes, tmp / "lstm",
            lambda result, model: lm_losses("rnnkit", model, val_ids)),
        "transformer 4L 4H 128w ctx 64 (random windows, batch 32)": gpt_job,
    }, args.threads)


# -- sentiment ------------------------------------------------------------------------------

def sentiment_member(args, tmp: Path, k: int, i: int) -> dict:
    """rnnkit's model with seed ``seed + i`` on fold ``k``: its test accuracy and its test
    class probabilities (for the seed ensemble)."""
    torch.set_num_threads(args.threads)
    over = [f"task.folds={args.folds}", f"task.fold={k}", "train.progress=off",
            "diagnostics.every=0", *args.set]
    cfg = load_config(ROOT / "examples" / "sentiment.toml", over)
    cfg = dataclasses.replace(cfg, seed=cfg.seed + i)
    start = time.perf_counter()
    result = finished(train_run(cfg, tmp / f"fold{k}-seed{i}", overwrite=True))
    test = TASKS["sentiment"].setup(cfg).splits["test"]
    model = rnnkit.load(result.run_dir).model.cpu().eval()
    probs = model.predict_proba(test["x"], test.get("lengths"))
    acc = float((probs.argmax(-1) == test["y"]).float().mean())
    members = [float((m.predict_proba(test["x"], test.get("lengths")).argmax(-1)
                      == test["y"]).float().mean())
               for m in getattr(model, "members", [])]  # task.ensemble: each member alone
    alone = f" (members alone: {', '.join(f'{a:.4f}' for a in members)})" if members else ""
    say(f"  fold {k}, seed {cfg.seed}: rnnkit {acc:.4f}{alone} "
        f"({(time.perf_counter() - start) / 60:.1f} min)")
    return {"fold": k, "accuracy": acc, "probs": probs, "y": test["y"], "members": members}


def sentiment_peer(args, k: int) -> float:
    """TF-IDF + logistic regression's test accuracy on fold ``k`` (the runs' own split)."""
    cfg = load_config(ROOT / "examples" / "sentiment.toml",
                      [f"task.folds={args.folds}", f"task.fold={k}", *args.set])
    parts = TASKS["sentiment"].setup(cfg).items
    return tfidf_logreg(parts["train"], parts["val"], parts["test"])["accuracy"]


def bench_sentiment(args, tmp: Path) -> tuple[list[dict], None]:
    """Per fold: rnnkit's model (``--seeds N``: N seeds, and their seed ensemble, the
    members' test probabilities averaged) and the peer, all on the fold's split."""
    load_rt_polarity()  # fail early without data
    folds = list(range(args.folds)) if args.folds else [0]
    work = [(args, tmp, k, i) for k in folds for i in range(args.seeds)]
    if args.jobs > 1:  # runs in parallel processes, ``threads`` each
        with mp.get_context("fork").Pool(args.jobs) as pool:
            members = pool.starmap(sentiment_member, work)
    else:
        members = [sentiment_member(*w) for w in work]
    peer = [sentiment_peer(args, k) for k in folds]
    by_fold = {k: [m for m in members if m["fold"] == k] for k in folds}
    first = [by_fold[k][0]["accuracy"] for k in folds]
    mean_single = [statistics.mean(m["accuracy"] for m in by_fold[k]) for k in folds]
    ensemble = []
    for k in folds:  # the split does not depend on the seed: the same test rows
        assert all(torch.equal(m["y"], by_fold[k][0]["y"]) for m in by_fold[k])
        probs = torch.stack([m["probs"] for m in by_fold[k]]).mean(0)
        ensemble.append(float((probs.argmax(-1) == by_fold[k][0]["y"]).float().mean()))

    def row(name, accs):
        return {"model": name, "folds": len(accs), "accuracy": statistics.mean(accs),
                "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                "per_fold": [round(a, 4) for a in accs]}
    label = "rnnkit BiLSTM + attention (examples/sentiment.toml" + (
        f" with {', '.join(args.set)})" if args.set else ")")
    rows = [row(label, first)]
    if by_fold[folds[0]][0]["members"]:  # task.ensemble: the members' mean accuracy
        rows.append(row(f"{label}, its members alone (mean)",
                        [statistics.mean(by_fold[k][0]["members"]) for k in folds]))
    if args.seeds > 1:
        rows += [row(f"{label}, mean of {args.seeds} seeds", mean_single),
                 row(f"{label}, seed ensemble of {args.seeds} (probabilities averaged)",
                     ensemble)]
    return [*rows, row("TF-IDF 1-2-grams + logistic regression", peer)], None


# -- translation ----------------------------------------------------------------------------

def transformer_job(cfg, minutes: float, clock: str = "wall", label_smoothing: float = 0.0,
                    splits: tuple[str, ...] = ("test",)):
    """A racing job: ``TransformerMT`` on the task's training pairs (the same bucketed
    batches of 128 as rnnkit's models), loss and beam-search BLEU on ``splits`` (keys
    prefixed with the split when there are several). ``label_smoothing`` applies to the
    training loss only. The data are built here, before the fork, so the child starts with
    them."""
    task = cfg.task
    ctx = TASKS["translation"].setup(cfg)
    data = ctx.splits
    src, tgt = ctx.source_tokenizer, ctx.target_tokenizer
    pad, bos, eos = (tgt.vocab.stoi[t] for t in (PAD, BOS, EOS))

    def loss_of(model, b):
        x, y = b["x"][:, :int(b["lengths"].max())], b["y"][:, :int(b["y_lengths"].max())]
        targets = y[:, 1:]  # (B, T-1); rows are padded with pad (id 0) past their length
        return F.cross_entropy(model(x, y[:, :-1]).flatten(0, 1), targets.flatten(),
                               ignore_index=pad, reduction="sum"), int((targets != pad).sum())

    def job(gate: Gate) -> dict:
        torch.manual_seed(cfg.seed)
        model = TransformerMT(len(src.vocab), len(tgt.vocab), pad_id=pad)
        stream = BucketStream(data["train"], cfg.train.batch_size, seed=cfg.seed)

        def loss(b):
            x, y = b["x"][:, :int(b["lengths"].max())], b["y"][:, :int(b["y_lengths"].max())]
            return F.cross_entropy(model(x, y[:, :-1]).flatten(0, 1), y[:, 1:].flatten(),
                                   ignore_index=pad, label_smoothing=label_smoothing)

        gate.start()
        info = train_for(model, stream.batch, loss, minutes, lr=1e-3, weight_decay=0.01,
                         betas=(0.9, 0.98), warmup=100, floor=0.05, clock=clock)
        gate.end()
        model.eval()
        out = {"params": sum(p.numel() for p in model.parameters()), "steps": info["steps"],
               "train_min": info["minutes"]}
        for split in splits:
            figures = evaluate(model, split)
            out.update(figures if len(splits) == 1 else
                       {f"{split} {k}": v for k, v in figures.items()})
        return out

    def evaluate(model, split: str) -> dict:
        held = data[split]
        sources, references = ctx.bleu_set(split)
        with torch.no_grad():
            sums = [loss_of(model, {k: v[i:i + 256] for k, v in held.items()})
                    for i in range(0, len(held["x"]), 256)]
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
        hyps = [""] * len(order)
        for start in range(0, len(order), 64):
            chunk = order[start:start + 64]
            ids = [clip_tokens(src.encode(sources[i]), task.max_tokens)[0] for i in chunk]
            x, lengths = pad_ids(ids)
            out = transformer_translate(model, x, lengths, bos_id=bos, eos_id=eos,
                                        beam=task.beam, length_penalty=task.length_penalty)
            for i, toks in zip(chunk, out):  # <unk> dropped (no attention to copy from)
                hyps[i] = detokenize([t for t in tgt.vocab.decode(toks) if t != UNK])
        return {**bleu_chrf(hyps, references),
                "loss": float(sum(s for s, _ in sums)) / sum(c for _, c in sums)}
    return job


def bench_translation(args, tmp: Path) -> tuple[list[dict], dict]:
    cfg = load_config(ROOT / "examples" / "translate.toml")

    def test_figures(result, model):
        return {k: result.results["test"][k] for k in ("bleu", "chrf", "loss")}

    models = {
        "attention": ("rnnkit Seq2Seq BiGRU/GRU 256 + Bahdanau attention", lambda: rnnkit_job(
            "translate.toml", list(args.set), args.minutes, tmp / "attention", test_figures,
            args.clock)),
        "none": ("rnnkit Seq2Seq BiGRU/GRU 256, no attention", lambda: rnnkit_job(
            "translate.toml", [*args.set, "model.attention=none"], args.minutes, tmp / "none",
            test_figures, args.clock)),
        "transformer": ("torch.nn.Transformer 2+2 layers, width 256, 4 heads, ff 256",
                        lambda: transformer_job(cfg, args.minutes, args.clock)),
    }
    return race({models[k][0]: models[k][1]() for k in args.which or list(models)},
                args.threads)


def bench_levers(args, tmp: Path) -> tuple[list[dict], dict]:
    """Issue 21's translation levers raced at equal time, each figure on the validation
    and the test split (choose on validation): the attention GRU as it is, with label
    smoothing 0.1, and with label smoothing and tied decoder embeddings; the transformer
    with and without label smoothing 0.1 (its usual setting), so the peer gets the same
    lever."""
    cfg = load_config(ROOT / "examples" / "translate.toml", list(args.set))

    def figures(result, model):
        return {f"{split} {k}": result.results[split][k] for split in ("val", "test")
                for k in ("bleu", "chrf", "loss")}

    rnn = {"gru": ("attention GRU (examples/translate.toml)", []),
           "gru-ls": ("attention GRU, model.label_smoothing=0.1",
                      ["model.label_smoothing=0.1"]),
           "gru-ls-tied": ("attention GRU, label_smoothing=0.1, tie_embeddings=true",
                           ["model.label_smoothing=0.1", "model.tie_embeddings=true"]),
           "gru-tied": ("attention GRU, model.tie_embeddings=true",
                        ["model.tie_embeddings=true"])}
    peers = {"transformer": ("torch.nn.Transformer 2+2, width 256", 0.0),
             "transformer-ls": ("torch.nn.Transformer 2+2, width 256, label smoothing 0.1",
                                0.1)}
    for spec in args.variant:  # "NAME:KEY=VALUE,KEY=VALUE": one more GRU in the race
        key, _, sets = spec.partition(":")
        if not key or not sets:
            raise SystemExit(f"--variant {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE...]")
        rnn[key] = (f"attention GRU, {sets}", sets.split(","))
    jobs = {}
    for key in args.which or ["gru", "gru-ls", "gru-ls-tied", "transformer", "transformer-ls"]:
        if key in rnn:
            name, extra = rnn[key]
            jobs[name] = rnnkit_job("translate.toml", [*args.set, *extra], args.minutes,
                                    tmp / key, figures, args.clock)
        else:
            name, eps = peers[key]
            jobs[name] = transformer_job(cfg, args.minutes, args.clock, label_smoothing=eps,
                                         splits=("val", "test"))
    return race(jobs, args.threads)


def bench_tokenizers(args, tmp: Path) -> tuple[list[dict], dict]:
    """examples/translate.toml raced with each tokenizer (``--set`` overrides all)."""
    def figures(result, model):
        return {f"{split} {k}": result.results[split][k] for split in ("val", "test")
                for k in ("bleu", "chrf", "loss")}

    variants = {"word": ("word vocabulary (task.tokenizer=word)", ["task.tokenizer=word"]),
                "bpe": ("sentencepiece BPE (task.tokenizer=subword, subword_model=bpe)",
                        ["task.tokenizer=subword", "task.subword_model=bpe"]),
                "unigram": ("sentencepiece unigram (task.tokenizer=subword, "
                            "subword_model=unigram)",
                            ["task.tokenizer=subword", "task.subword_model=unigram"])}
    which = args.which or list(variants)
    return race({variants[k][0]: rnnkit_job("translate.toml", [*variants[k][1], *args.set],
                                            args.minutes, tmp / k, figures, args.clock)
                 for k in which}, args.threads)


def bench_targets(args, tmp: Path) -> tuple[list[dict], dict]:
    """The issue's translation targets: fra->eng with the same config, eng->fra with
    subwords (and, with ``--which eng-fra-word``, the word-level config as it is, to compare
    at the same budget), each ``--minutes`` of training (the best validation checkpoint
    scored)."""
    def figures(result, model):
        return {"best step": result.state.best_step,
                **{f"test {k}": result.results["test"][k] for k in ("bleu", "chrf", "loss")}}

    jobs = {"fra->eng, examples/translate.toml with task.reverse=true": ["task.reverse=true"],
            "eng->fra, examples/translate.toml with task.tokenizer=subword":
                ["task.tokenizer=subword"],
            "eng->fra, examples/translate.toml as it is (word vocabulary)": []}
    keys = dict(zip(("fra-eng", "eng-fra", "eng-fra-word"), jobs))
    return race({keys[k]: rnnkit_job("translate.toml", [*jobs[keys[k]], *args.set],
                                     args.minutes, tmp / k, figures, args.clock, validate=True)
                 for k in args.which or list(keys)[:2]}, args.threads)


def table(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k != "per_fold"]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("task", choices=("charlm", "sentiment", "translation", "levers",
                                    "tokenizers", "targets"))
    p.add_argument("--minutes", type=float, default=8.0, help="training minutes per model")
    p.add_argument("--folds", type=int, default=0, help="sentiment: k-fold CV (0: 90/10)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--which", action="append", default=[],
                   help="translation: attention, none, transformer (default all); levers: gru, "
                   "gru-ls, gru-ls-tied, gru-tied, transformer, transformer-ls; tokenizers: "
                   "word, bpe, unigram (default all); targets: fra-eng, eng-fra (default "
                   "both), eng-fra-word; repeatable")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="translation, tokenizers, targets: training time as wall or the "
                   "process's CPU time")
    p.add_argument("--jobs", type=int, default=1,
                   help="sentiment: runs trained in this many parallel processes")
    p.add_argument("--seeds", type=int, default=1,
                   help="sentiment: seeds per fold (seed, seed+1, ...), also scored as a seed "
                   "ensemble")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="sentiment, translation, tokenizers: override a key of the rnnkit "
                   "example config (the transformer keeps the example's data settings) "
                   "(repeatable)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                   help="levers: one more GRU variant, the example config with these overrides, "
                   "raced when --which NAME is given (repeatable)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        rows, load = {"charlm": bench_charlm, "sentiment": bench_sentiment,
                      "translation": bench_translation, "levers": bench_levers,
                      "tokenizers": bench_tokenizers,
                      "targets": bench_targets}[args.task](args, Path(tmp))
    print(f"# {args.task}: {' '.join(sys.argv[1:])} ({(time.time() - start) / 60:.1f} min wall)")
    if load:
        print(f"# load average (1 min) over the race, sampled every 5 s: mean {load['mean']:.2f}"
              f", min {load['min']:.2f}, max {load['max']:.2f} (2 cores; training spanned "
              f"{load['train_wall_min']:.1f} min of wall time)")
    print(table(rows))
    for r in rows:
        if "per_fold" in r:
            print(f"per fold, {r['model']}: {r['per_fold']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "load": load}, indent=1))

if __name__ == "__main__":
    main()
