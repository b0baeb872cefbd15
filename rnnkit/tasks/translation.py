"""English -> French translation (Tatoeba eng-fra), word-level Seq2Seq with attention.

Split: ``test_sources`` English sentences (seeded) are held out with *all* their French
translations as references and never trained on; ``val_sources`` more are held out the
same way to pick the best checkpoint. Tokenizers (English lower-cased; French cased by
default, so BLEU is cased) are fitted on the training pairs and saved in model.json.

``evaluate --json`` reports ``loss`` (teacher-forced cross-entropy over every reference),
and corpus ``bleu`` and ``chrf`` (sacrebleu, the ``text`` extra; all references) of
beam-search translations (``beam``, GNMT length normalisation ``length_penalty``). A
``<unk>`` in a translation is replaced by the source word it attends to most (Luong et al.
2015), so unknown words pass through instead of failing.

Predictor (``rnnkit.load(run)``): ``predict(sentences, beam=None, explain=False)`` ->
``{"source", "translation"}`` per sentence (``error`` instead for an empty one), with
``explain=True`` also ``source_tokens``, ``target_tokens`` and ``attention`` (one row of
weights over the source tokens per target token; None for a model without attention);
``plot(record, path)`` draws that attention. ``rnnkit translate RUN "I am cold." [--beam 5]
[--attention-plot FILE.png]`` prints one translation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from .._optional import MissingExtraError, pyplot, require
from ..data.text import load_eng_fra, split_eng_fra
from ..data.tokenizers import BOS, EOS, PAD, UNK, WordTokenizer, detokenize
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .predictor import Predictor
from .text_common import as_lines, clip_tokens, pad_ids, saved_tokenizer

HELD_OUT = ("val", "test")


@dataclass
class TranslationConfig(TaskConfig):
    name: str = "translation"
    test_sources: int = number(2000, 1)  # English sentences held out for the test set
    val_sources: int = number(500, 1)  # and for validation (best checkpoint)
    split_seed: int = 0
    min_freq: int = number(2, 1)  # rarer words become <unk> (both languages)
    max_vocab: int = number(0, 0)  # 0 = no limit
    lower_target: bool = False  # False: French keeps its case (cased BLEU)
    beam: int = number(5, 1)  # beam size for evaluation and translate
    length_penalty: float = number(0.6, 0.0)  # GNMT alpha; 0 = raw log-probability
    max_tokens: int = number(100, 1)  # longer inputs are cut (predict/translate say so)
    bleu_sentences: int = number(0, 0)  # > 0: BLEU on the first n sources only (quick tests)


class TranslationContext(Context):
    """The run's sentence pairs by split and the tokenizers fitted on the training pairs."""

    @cached_property
    def pairs(self) -> dict[str, list]:
        """``train``: (English, French) pairs; ``val``/``test``: (English, [every French
        reference]) per held-out source (deterministic given ``split_seed``)."""
        cfg = self.task_cfg
        train, test = split_eng_fra(load_eng_fra(), test_sources=cfg.test_sources,
                                    seed=cfg.split_seed)
        train, val = split_eng_fra(train, test_sources=cfg.val_sources, seed=cfg.split_seed + 1)
        return {"train": train, "val": val, "test": test}

    @cached_property
    def source_tokenizer(self) -> WordTokenizer:
        cfg = self.task_cfg
        return WordTokenizer.fit([en for en, _ in self.pairs["train"]], min_freq=cfg.min_freq,
                                 max_size=cfg.max_vocab or None)

    @cached_property
    def target_tokenizer(self) -> WordTokenizer:
        cfg = self.task_cfg
        return WordTokenizer.fit([fr for _, fr in self.pairs["train"]], min_freq=cfg.min_freq,
                                 max_size=cfg.max_vocab or None, lower=cfg.lower_target)

    def bleu_set(self, split: str) -> tuple[list[str], list[list[str]]]:
        """(sources, their references) of a held-out split that BLEU is computed on: the
        first ``bleu_sentences`` sources, or all."""
        n = self.task_cfg.bleu_sentences or None
        held = self.pairs[split][:n]
        return [en for en, _ in held], [refs for _, refs in held]


def to_tensors(pairs, src: WordTokenizer, tgt: WordTokenizer, limit: int):
    """(English, French) pairs -> ``x``/``lengths`` (source ids, cut at ``limit``) and
    ``y``/``y_lengths`` (target ids between <bos> and <eos>)."""
    x, lengths = pad_ids([clip_tokens(src.encode(en), limit)[0] for en, _ in pairs])
    y, y_lengths = pad_ids([tgt.encode(fr, bos=True, eos=True) for _, fr in pairs])
    return {"x": x, "lengths": lengths, "y": y, "y_lengths": y_lengths}


@dataclass
class Translation:
    source_tokens: list[str]
    target_tokens: list[str]
    text: str
    attention: list[list[float]] | None  # (target tokens, source tokens)
    truncated: bool = False


@torch.no_grad()
def translate(model, src: WordTokenizer, tgt: WordTokenizer, sentences: list[str], *,
              beam: int = 5, length_penalty: float = 0.6, limit: int = 100,
              batch_size: int = 64) -> list[Translation]:
    """Beam-search translations of ``sentences`` (non-empty), in order. Sentences are
    decoded ``batch_size`` at a time, sorted by length so a batch pads little; each is cut
    at ``limit`` tokens; a translation may be up to twice its source's length + 10."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[Translation | None] = [None] * len(sentences)
    unk = tgt.vocab.stoi[UNK]
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        encoded = [clip_tokens(src.encode(sentences[i]), limit) for i in chunk]
        x, lengths = pad_ids([ids for ids, _ in encoded])
        result = model.beam_search(x.to(device), lengths, beam_size=beam,
                                   max_len=2 * int(lengths.max()) + 10,
                                   length_penalty=length_penalty)
        for j, i in enumerate(chunk):
            words = WordTokenizer.split(sentences[i], lower=False)[:limit]
            att = result.attention[j] if result.attention is not None else None
            tokens = []
            for t, tok_id in enumerate(result.tokens[j]):
                if tok_id == unk and att is not None and len(words) == att.shape[1]:
                    tokens.append(words[int(att[t].argmax())])  # copy the attended word
                else:
                    tokens.append(tgt.vocab.itos[tok_id])
            out[i] = Translation(
                src.split(sentences[i], src.lower)[:limit], tokens, detokenize(tokens),
                att.tolist() if att is not None else None, encoded[j][1])
    return out


def bleu_chrf(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu, the ``text`` extra) with every reference of each
    source."""
    sacrebleu = require("sacrebleu", "text")
    width = max(len(r) for r in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references]
               for k in range(width)]
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, streams).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, streams).score}


class TranslationTask(Task):
    name = "translation"
    config_class = TranslationConfig
    model_class = "Seq2Seq"
    context_class = TranslationContext
    capabilities = frozenset({"text", "translate", "explain", "plot"})
    fixed_model_args = frozenset({"src_vocab_size", "tgt_vocab_size", "bos_id", "eos_id",
                                  "pad_id"})

    def make_splits(self, ctx: TranslationContext):
        """``train``: one row per pair; ``val``/``test``: one row per (source, reference)
        pair, so the loss counts every reference."""
        src, tgt, limit = ctx.source_tokenizer, ctx.target_tokenizer, ctx.task_cfg.max_tokens
        out = {"train": to_tensors(ctx.pairs["train"], src, tgt, limit)}
        for split in HELD_OUT:
            pairs = [(en, fr) for en, refs in ctx.pairs[split] for fr in refs]
            out[split] = to_tensors(pairs, src, tgt, limit)
        return out

    def model_args(self, ctx: TranslationContext) -> dict[str, Any]:
        src, tgt = ctx.source_tokenizer, ctx.target_tokenizer
        return {"src_vocab_size": len(src.vocab), "tgt_vocab_size": len(tgt.vocab),
                "bos_id": tgt.vocab.stoi[BOS], "eos_id": tgt.vocab.stoi[EOS],
                "pad_id": tgt.vocab.stoi[PAD]}

    def info(self, ctx: TranslationContext, model):
        return {**super().info(ctx, model), "source_tokenizer": ctx.source_tokenizer.to_dict(),
                "target_tokenizer": ctx.target_tokenizer.to_dict()}

    def extra_metrics(self, ctx: TranslationContext, model, split: str) -> dict[str, Any]:
        """``bleu`` and ``chrf`` of beam-search translations (held-out splits; skipped with a
        warning when sacrebleu is not installed, so a finished training still reports)."""
        if split not in HELD_OUT:
            return {}
        try:
            require("sacrebleu", "text")
        except MissingExtraError as e:
            print(f"warning: bleu and chrf skipped: {e}", file=sys.stderr)
            return {}
        cfg = ctx.task_cfg
        sources, references = ctx.bleu_set(split)
        hyps = translate(model, ctx.source_tokenizer, ctx.target_tokenizer, sources,
                         beam=cfg.beam, length_penalty=cfg.length_penalty, limit=cfg.max_tokens)
        return bleu_chrf([h.text for h in hyps], references)

    def report_sections(self, ctx: TranslationContext, model) -> list[str]:
        """The first 12 test sources with rnnkit's translation and the references."""
        cfg = ctx.task_cfg
        test = ctx.pairs["test"][:12]
        hyps = translate(model, ctx.source_tokenizer, ctx.target_tokenizer,
                         [en for en, _ in test], beam=cfg.beam, length_penalty=cfg.length_penalty)
        lines = ["## Example test translations", "",
                 "| English | rnnkit | references |", "|---|---|---|"]
        for (en, refs), h in zip(test, hyps):
            lines.append(f"| {en} | {h.text} | {' / '.join(refs)} |".replace("\n", " "))
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return TranslationPredictor(self, ctx, model, info, run_dir)


class TranslationPredictor(Predictor):
    """Inputs: sentences (str or :class:`~rnnkit.tasks.text_common.TextLine`); records as
    the module docstring says."""

    @cached_property
    def source_tokenizer(self) -> WordTokenizer:
        return saved_tokenizer(self.info, "source_tokenizer")

    @cached_property
    def target_tokenizer(self) -> WordTokenizer:
        return saved_tokenizer(self.info, "target_tokenizer")

    def predict(self, inputs, beam: int | None = None, explain: bool = False,
                **options) -> list[dict[str, Any]]:
        """Beam-search translations, one record per sentence. ``beam``: the beam size
        (None: the run's ``task.beam``; 1 = greedy); a wider beam finds likelier
        translations at that many times the decoding work. ``explain=True`` adds the tokens
        and the attention weights (what :meth:`plot` draws)."""
        cfg = self.config.task
        beam = cfg.beam if beam is None else int(beam)
        if beam < 1:
            raise TaskError(f"beam must be >= 1, got {beam}")
        lines = as_lines(inputs)
        src = self.source_tokenizer
        usable = [i for i, line in enumerate(lines) if src.split(line.text)]
        results = translate(self.model, src, self.target_tokenizer,
                            [lines[i].text for i in usable], beam=beam,
                            length_penalty=cfg.length_penalty, limit=cfg.max_tokens)
        by_line = dict(zip(usable, results))
        out = []
        for i, line in enumerate(lines):
            record: dict[str, Any] = {"source": line.text}
            if line.problem:
                record["warning"] = line.problem
            if i not in by_line:
                record.update(translation=None, error="empty line: nothing to translate")
                out.append(record)
                continue
            t = by_line[i]
            record["translation"] = t.text
            if t.truncated:
                record["truncated"] = f"read the first {cfg.max_tokens} tokens"
            if explain:
                record.update(source_tokens=t.source_tokens, target_tokens=t.target_tokens,
                              attention=t.attention)
            out.append(record)
        return out

    def plot(self, record: dict[str, Any], path: str | Path) -> Path:
        """The attention of one record from ``predict(..., explain=True)`` as a heat map
        (source words across, target words down), written to ``path`` (the ``plots``
        extra)."""
        if record.get("error"):
            raise TaskError(f"nothing to plot: {record['error']}")
        if "attention" not in record:
            raise TaskError("the record holds no attention: predict with explain=True")
        if record["attention"] is None:
            raise TaskError("this model has no attention (model.attention = \"none\")")
        if not record["target_tokens"]:
            raise TaskError("the translation is empty: no attention to plot")
        return plot_attention(record["source_tokens"], record["target_tokens"],
                              record["attention"], path)


def plot_attention(source: list[str], target: list[str], weights: list[list[float]],
                   path: str | Path) -> Path:
    """Heat map of attention weights: source words across, target words down."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1 + 0.5 * max(len(source), 2), 1 + 0.4 * max(len(target), 2)))
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), source, rotation=45, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


register(TranslationTask())
