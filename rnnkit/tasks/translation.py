"""Translation between any two languages: Seq2Seq with attention over word or subword ids.

Data: a TSV parallel corpus, ``source<TAB>target[<TAB>ignored...]`` a line (the
Tatoeba/Anki layout), named by ``task.data`` (one file, split by ``split_seed``) or
``task.train_data``/``val_data``/``test_data`` (:mod:`rnnkit.tasks.datafiles`);
``task.reverse = true`` swaps the columns (French -> English from ``eng-fra.txt``). Without
them: Tatoeba English -> French (``eng-fra``). A line without a tab, with an empty side or
with bytes that are not UTF-8 is an error naming the file and line; blank lines are
skipped and reported.

Split: held-out sources come with *all* their targets as references, and no held-out
source is trained on: ``test_sources`` source sentences (seeded) for the test part and
``val_sources`` more for validation (the best checkpoint). 0 takes the data's default:
2,000 and 500 for eng-fra; ``test_fraction`` of the distinct sources and ``val_fraction``
of the remaining ones for a user's file.

Tokens (``task.tokenizer``), fitted on the training part only and saved in model.json:
``word`` (words and punctuation, suited to English and French; rarer than ``min_freq``
becomes ``<unk>``, copied through from the source word it attends to most, Luong et al.
2015) or ``subword`` (a sentencepiece model, ``subword_model`` BPE or unigram, of at most
``vocab_size`` pieces per language, for any language and script: no unknown tokens,
characters never seen are spelt as bytes; the ``text`` extra). On eng-fra the word
vocabulary translates better for the same training time; subwords are for languages the
word rules do not fit (no spaces between words, rich morphology, other scripts). The
source is lower-cased; the target keeps its case unless ``lower_target`` (so BLEU is
cased).

``evaluate --json`` reports ``loss`` (teacher-forced cross-entropy over every reference),
and corpus ``bleu`` and ``chrf`` (sacrebleu, the ``text`` extra; all references; BLEU's
tokenizer ``bleu_tokenize``) of beam-search translations (``beam``, GNMT length
normalisation ``length_penalty``), scored as detokenised text against the raw references
(both in Unicode NFC).

Predictor (``rnnkit.load(run)``): ``predict(sentences, beam=None, explain=False)`` ->
``{"source", "translation"}`` per sentence (``error`` instead for an empty one), with
``explain=True`` also ``source_tokens``, ``target_tokens`` and ``attention`` (one row of
weights over the source tokens per target token; None for a model without attention);
``plot(record, path)`` draws that attention. ``predict_file(path)`` reads a sentence a
line, or a file in the training layout (:func:`~rnnkit.tasks.translation_data.read_inputs`:
``source<TAB>target``, swapped with ``task.reverse``; blank lines skipped with a warning, a
line without a tab or with an empty side an error naming the file and line): its sources
are translated and each record also holds the line's target as ``"reference"``.
``corpus_scores(records)`` gives corpus ``bleu`` and ``chrf`` of such records as evaluate
computes them (each distinct source once, against every reference the file gives it);
``rnnkit predict RUN --input FILE.tsv`` prints them on stderr after the records.
``rnnkit translate RUN "I am cold." [--beam 5] [--attention-plot FILE.png]`` prints one
translation.
"""

from __future__ import annotations

import itertools
import sys
import unicodedata
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from .._optional import MissingExtraError, require
from ..data.tokenizers import BOS, EOS, PAD, UNK, WordTokenizer, detokenize
from ..training.config import TaskConfig, choice, number
from .attention_plot import plot_attention
from .base import Context, Task, TaskError, register
from .datafiles import DataFilesConfig, data_errors
from .predictor import Predictor
from .text_common import TextLine, as_lines, clip_tokens, pad_ids, saved_tokenizer
from .translation_data import HELD_OUT, Tokenizer, fit_tokenizer, read_inputs, split_pairs


@dataclass
class TranslationConfig(DataFilesConfig, TaskConfig):
    name: str = "translation"
    reverse: bool = False  # swap the columns: translate column 2 into column 1
    test_sources: int = number(0, 0)  # sources held out for the test set (0: the data's default)
    val_sources: int = number(0, 0)  # and for validation (best checkpoint)
    tokenizer: str = choice("word", "word", "subword")  # subword: any language
    vocab_size: int = number(8000, 300)  # subword: at most this many pieces per language
    subword_model: str = choice("bpe", "unigram", "bpe")  # sentencepiece's algorithm
    min_freq: int = number(2, 1)  # word: rarer words become <unk> (both languages)
    max_vocab: int = number(0, 0)  # word: 0 = no limit
    lower_target: bool = False  # False: the target keeps its case (cased BLEU)
    beam: int = number(5, 1)  # beam size for evaluation and translate
    length_penalty: float = number(0.6, 0.0)  # GNMT alpha; 0 = raw log-probability
    max_tokens: int = number(100, 1)  # longer inputs are cut (predict/translate say so)
    bleu_sentences: int = number(0, 0)  # > 0: BLEU on the first n sources only (quick tests)
    bleu_tokenize: str = choice("13a", "13a", "intl", "zh", "char", "none")  # sacrebleu's


class TranslationContext(Context):
    """The run's sentence pairs by split and the tokenizers fitted on the training pairs (a
    trained run's own from its model.json, ``saved``: the ids its model learnt, whatever
    the data or the fitting rules are now)."""

    @cached_property
    def pairs(self) -> dict[str, list]:
        """``train``/``val``/``test`` as :func:`split_pairs` gives them."""
        return split_pairs(self.task_cfg)

    @cached_property
    def source_tokenizer(self) -> Tokenizer:
        if "source_tokenizer" in self.saved:
            return saved_tokenizer(self.saved, "source_tokenizer")
        return fit_tokenizer(self.task_cfg, [s for s, _ in self.pairs["train"]], lower=True)

    @cached_property
    def target_tokenizer(self) -> Tokenizer:
        if "target_tokenizer" in self.saved:
            return saved_tokenizer(self.saved, "target_tokenizer")
        cfg = self.task_cfg
        return fit_tokenizer(cfg, [t for _, t in self.pairs["train"]], lower=cfg.lower_target)

    def bleu_set(self, split: str) -> tuple[list[str], list[list[str]]]:
        """(sources, their references) of a held-out split that BLEU is computed on: the
        first ``bleu_sentences`` sources, or all."""
        n = self.task_cfg.bleu_sentences or None
        held = self.pairs[split][:n]
        return [src for src, _ in held], [refs for _, refs in held]


def to_tensors(pairs, src: Tokenizer, tgt: Tokenizer, limit: int):
    """(source, target) pairs -> ``x``/``lengths`` (source ids, cut at ``limit``) and
    ``y``/``y_lengths`` (target ids between <bos> and <eos>)."""
    x, lengths = pad_ids([clip_tokens(src.encode(s), limit)[0] for s, _ in pairs])
    y, y_lengths = pad_ids([tgt.encode(t, bos=True, eos=True) for _, t in pairs])
    return {"x": x, "lengths": lengths, "y": y, "y_lengths": y_lengths}


@dataclass
class Translation:
    source_tokens: list[str]
    target_tokens: list[str]
    text: str
    attention: list[list[float]] | None  # (target tokens, source tokens)
    truncated: bool = False


@torch.no_grad()
def translate(model, src: Tokenizer, tgt: Tokenizer, sentences: list[str], *,
              beam: int = 5, length_penalty: float = 0.6, limit: int = 100,
              batch_size: int = 64) -> list[Translation]:
    """Beam-search translations of ``sentences`` (non-empty), in order. Each is cut at
    ``limit`` tokens; its translation may be up to twice its length + 10 tokens. Sentences
    of the same length are decoded together, ``batch_size`` at a time: no padding, so a
    sentence gets the same translation alone as in any list. The text is the detokenised
    output (word: a ``<unk>`` replaced by the source word it attends to most)."""
    model.eval()
    device = next(model.parameters()).device
    encoded = [clip_tokens(src.encode(s), limit) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: len(encoded[i][0]))
    chunks = []
    for _, group in itertools.groupby(order, key=lambda i: len(encoded[i][0])):
        group = list(group)
        chunks += [group[k:k + batch_size] for k in range(0, len(group), batch_size)]
    out: list[Translation | None] = [None] * len(sentences)
    unk = tgt.vocab.stoi[UNK]
    for chunk in chunks:
        x, lengths = pad_ids([encoded[i][0] for i in chunk])  # (B, T), all of length T
        result = model.beam_search(x.to(device), lengths, beam_size=beam,
                                   max_len=2 * int(lengths.max()) + 10,
                                   length_penalty=length_penalty)
        for j, i in enumerate(chunk):
            att = result.attention[j] if result.attention is not None else None
            ids = result.tokens[j]
            tokens = tgt.vocab.decode(ids)
            if tgt.kind == "word":
                words = WordTokenizer.split(sentences[i], lower=False)[:limit]
                if src.kind == "word" and att is not None and len(words) == att.shape[1]:
                    tokens = [words[int(att[t].argmax())] if tok_id == unk else tokens[t]
                              for t, tok_id in enumerate(ids)]  # copy the attended word
                text = detokenize(tokens)
            else:
                text = tgt.decode(ids)
            out[i] = Translation(
                src.split(sentences[i], src.lower)[:limit], tokens, text,
                att.tolist() if att is not None else None, encoded[i][1])
    return out


def bleu_chrf(hypotheses: list[str], references: list[list[str]],
              tokenize: str = "13a") -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu, the ``text`` extra) with every reference of each
    source; ``tokenize``: how BLEU splits words ("13a": sacrebleu's default, for languages
    that put spaces between words; "zh" for Chinese, "char" for other scripts without).
    Both sides are read in Unicode NFC, as the tokenizers read text (so references written
    decomposed, NFD, still match)."""
    sacrebleu = require("sacrebleu", "text")
    hypotheses = [unicodedata.normalize("NFC", h) for h in hypotheses]
    width = max(len(r) for r in references)
    streams = [[unicodedata.normalize("NFC", refs[k]) if k < len(refs) else None
                for refs in references] for k in range(width)]
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, streams, tokenize=tokenize).score,
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
            pairs = [(s, ref) for s, refs in ctx.pairs[split] for ref in refs]
            out[split] = to_tensors(pairs, src, tgt, limit)
        for split, name in (("train", "training"), ("val", "validation"), ("test", "test")):
            long = int((out[split]["lengths"] >= limit).sum())  # (a longer source was cut)
            if long:
                warnings.warn(f"{long} of the {len(out[split]['lengths'])} {name} pairs: a "
                              f"source of task.max_tokens = {limit} tokens or more; longer "
                              "sources are cut to it (their targets are not), so the model "
                              "learns to say what it never read; raise task.max_tokens to "
                              "keep them whole", stacklevel=2)
        return out

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg) + data_errors(cfg.task)
        if cfg.task.test_data and cfg.task.test_sources:
            errors.append("task.test_sources: task.test_data names the test sentences; set "
                          "one or the other")
        if cfg.task.val_data and cfg.task.val_sources:
            errors.append("task.val_sources: task.val_data names the validation sentences; "
                          "set one or the other")
        return errors

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
        return bleu_chrf([h.text for h in hyps], references, cfg.bleu_tokenize)

    def report_sections(self, ctx: TranslationContext, model) -> list[str]:
        """The first 12 test sources with rnnkit's translation and the references."""
        cfg = ctx.task_cfg
        test = ctx.pairs["test"][:12]
        hyps = translate(model, ctx.source_tokenizer, ctx.target_tokenizer,
                         [src for src, _ in test], beam=cfg.beam,
                         length_penalty=cfg.length_penalty, limit=cfg.max_tokens)
        lines = ["## Example test translations", "",
                 "| source | rnnkit | references |", "|---|---|---|"]
        for (src, refs), h in zip(test, hyps):
            row = [src, h.text, " / ".join(refs)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return TranslationPredictor(self, ctx, model, info, run_dir)


class TranslationPredictor(Predictor):
    """Inputs: sentences (str or :class:`~rnnkit.tasks.text_common.TextLine`); records as
    the module docstring says."""

    @cached_property
    def source_tokenizer(self) -> Tokenizer:
        return saved_tokenizer(self.info, "source_tokenizer")

    def read_file(self, path, **options) -> list[TextLine]:
        """A sentence a line, or pairs in the training layout whose targets are kept as the
        lines' ``reference`` (:func:`~rnnkit.tasks.translation_data.read_inputs`)."""
        return read_inputs(path, self.config.task.reverse)

    @cached_property
    def target_tokenizer(self) -> Tokenizer:
        return saved_tokenizer(self.info, "target_tokenizer")

    def predict(self, inputs, beam: int | None = None, explain: bool = False,
                **options) -> list[dict[str, Any]]:
        """Beam-search translations, one record per sentence. ``beam``: the beam size
        (None: the run's ``task.beam``; 1 = greedy); a wider beam finds likelier
        translations at that many times the decoding work. ``explain=True`` adds the tokens
        and the attention weights (what :meth:`plot` draws). A
        :class:`~rnnkit.tasks.text_common.TextLine` with a ``reference`` (a line of a file
        in the training layout) puts it in its record as ``"reference"``."""
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
            if line.reference is not None:
                record["reference"] = line.reference
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

    def corpus_scores(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Corpus ``bleu`` and ``chrf`` (:func:`bleu_chrf`, the run's ``bleu_tokenize``) of
        the records that hold a ``"reference"``, as evaluate scores a test set: each distinct
        source once, against every reference given for it (a source that could not be
        translated counts as an empty translation); with ``sources`` and ``references``, how
        many were scored. {} when no record holds a reference."""
        refs: dict[str, list[str]] = {}
        hyps: dict[str, str] = {}
        for r in records:
            if r.get("reference") is not None:
                refs.setdefault(r["source"], []).append(r["reference"])
                hyps.setdefault(r["source"], r.get("translation") or "")
        if not refs:
            return {}
        tokenize = self.config.task.bleu_tokenize
        scores = bleu_chrf([hyps[s] for s in refs], list(refs.values()), tokenize)
        return {**scores, "sources": len(refs), "references": sum(map(len, refs.values())),
                "bleu_tokenize": tokenize}

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


register(TranslationTask())
