"""English -> French translation (Tatoeba eng-fra), word-level Seq2Seq with attention.

Split: ``test_sources`` English sentences (seeded) are held out with *all* their French
translations as references and never trained on; ``val_sources`` more are held out the
same way to pick the best checkpoint. Tokenizers (English lower-cased; French cased by
default, so BLEU is cased) are fitted on the training pairs and saved in model.json.

``evaluate --json`` reports ``loss`` (teacher-forced cross-entropy over every reference),
and corpus ``bleu`` and ``chrf`` (sacrebleu, all references) of beam-search translations
(``beam``, GNMT length normalisation ``length_penalty``). A ``<unk>`` in a translation is
replaced by the source word it attends to most (Luong et al. 2015), so unknown words pass
through instead of failing. ``rnnkit translate RUN "I am cold." [--beam 5]
[--attention-plot FILE.png]`` prints one translation.
"""

from __future__ import annotations

import sys
from dataclasses import astuple, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..data.text import load_eng_fra, split_eng_fra
from ..data.tokenizers import BOS, EOS, PAD, UNK, WordTokenizer, detokenize
from ..training.config import TaskConfig, number
from .base import Task, register
from .text_common import clip_tokens, model_keys_except, pad_ids, saved_tokenizer


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
    bleu_sentences: int = number(0, 0)  # > 0: BLEU on the first n sources only (tests)


class EvalSplit(dict):
    """Tensors of a held-out split (one row per reference pair), with the unique
    ``sources`` and their ``references`` for BLEU."""

    sources: list[str]
    references: list[list[str]]
    decoding: dict[str, Any]  # translate()'s options: tokenizers, beam, ...


def splits(cfg: TranslationConfig):
    """(train pairs, val [(en, refs)], test [(en, refs)]), deterministic."""
    return _splits(astuple(cfg))


@lru_cache(maxsize=8)
def _splits(key: tuple):
    cfg = TranslationConfig(*key)
    train, test = split_eng_fra(load_eng_fra(), test_sources=cfg.test_sources,
                                seed=cfg.split_seed)
    train, val = split_eng_fra(train, test_sources=cfg.val_sources, seed=cfg.split_seed + 1)
    return train, val, test


def tokenizers(cfg: TranslationConfig) -> tuple[WordTokenizer, WordTokenizer]:
    return _tokenizers(astuple(cfg))


@lru_cache(maxsize=8)
def _tokenizers(key: tuple):
    cfg = TranslationConfig(*key)
    train = splits(cfg)[0]
    size = cfg.max_vocab or None
    src = WordTokenizer.fit([en for en, _ in train], min_freq=cfg.min_freq, max_size=size)
    tgt = WordTokenizer.fit([fr for _, fr in train], min_freq=cfg.min_freq, max_size=size,
                            lower=cfg.lower_target)
    return src, tgt


def to_tensors(pairs, src: WordTokenizer, tgt: WordTokenizer, limit: int):
    x, lengths = pad_ids([clip_tokens(src.encode(en), limit)[0] for en, _ in pairs])
    y, y_lengths = pad_ids([tgt.encode(fr, bos=True, eos=True) for _, fr in pairs])
    return {"x": x, "lengths": lengths, "y": y, "y_lengths": y_lengths}


def eval_split(held, cfg: TranslationConfig) -> EvalSplit:
    src, tgt = tokenizers(cfg)
    pairs = [(en, fr) for en, refs in held for fr in refs]
    out = EvalSplit(to_tensors(pairs, src, tgt, cfg.max_tokens))
    n = cfg.bleu_sentences or None
    out.sources = [en for en, _ in held][:n]
    out.references = [refs for _, refs in held][:n]
    out.decoding = {"src": src, "tgt": tgt, "beam": cfg.beam,
                    "length_penalty": cfg.length_penalty, "limit": cfg.max_tokens}
    return out


@lru_cache(maxsize=2)
def _data(key: tuple) -> dict[str, dict]:
    cfg = TranslationConfig(*key)
    train, val, test = splits(cfg)
    src, tgt = tokenizers(cfg)
    return {"train": to_tensors(train, src, tgt, cfg.max_tokens),
            "val": eval_split(val, cfg), "test": eval_split(test, cfg)}


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
    """Beam-search translations of ``sentences`` (non-empty), in order."""
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
    """Corpus BLEU and chrF (sacrebleu) with every reference of each source."""
    import sacrebleu

    width = max(len(r) for r in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references]
               for k in range(width)]
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, streams).score,
            "chrf": sacrebleu.corpus_chrf(hypotheses, streams).score}


class TranslationTask(Task):
    name = "translation"
    config_class = TranslationConfig
    model_class = "Seq2Seq"
    text_io = True

    def model_keys(self) -> set[str]:
        return model_keys_except(self.model_class, {"src_vocab_size", "tgt_vocab_size",
                                                    "bos_id", "eos_id", "pad_id"})

    def data(self, cfg: TranslationConfig, seed: int):
        return dict(_data(astuple(cfg)))  # the split does not depend on the run's seed

    def model_args(self, cfg: TranslationConfig) -> dict[str, Any]:
        src, tgt = tokenizers(cfg)
        return {"src_vocab_size": len(src.vocab), "tgt_vocab_size": len(tgt.vocab),
                "bos_id": tgt.vocab.stoi[BOS], "eos_id": tgt.vocab.stoi[EOS],
                "pad_id": tgt.vocab.stoi[PAD]}

    def info(self, cfg):
        src, tgt = tokenizers(cfg.task)
        return {**super().info(cfg), "source_tokenizer": src.to_dict(),
                "target_tokenizer": tgt.to_dict()}

    def extra_metrics(self, model, data, batch_size):
        """``bleu`` and ``chrf`` of beam-search translations (held-out splits)."""
        if not isinstance(data, EvalSplit):
            return {}
        try:
            import sacrebleu  # noqa: F401
        except ImportError:
            print("warning: bleu and chrf need sacrebleu (pip install 'rnnkit[all]')",
                  file=sys.stderr)
            return {}
        hyps = translate(model, sentences=data.sources, **data.decoding)
        return bleu_chrf([h.text for h in hyps], data.references)

    def report_sections(self, model, cfg, data) -> list[str]:
        src, tgt = tokenizers(cfg.task)
        test = splits(cfg.task)[2][:12]
        hyps = translate(model, src, tgt, [en for en, _ in test], beam=cfg.task.beam,
                         length_penalty=cfg.task.length_penalty)
        lines = ["## Example test translations", "",
                 "| English | rnnkit | references |", "|---|---|---|"]
        for (en, refs), h in zip(test, hyps):
            lines.append(f"| {en} | {h.text} | {' / '.join(refs)} |".replace("\n", " "))
        return lines

    def predict_text(self, run, lines, options: dict[str, Any]) -> list[dict[str, Any]]:
        """``{"text", "translation"}`` per line (``attention`` too with ``explain``)."""
        src = saved_tokenizer(run, "source_tokenizer")
        tgt = saved_tokenizer(run, "target_tokenizer")
        cfg = run.cfg.task
        usable = [i for i, line in enumerate(lines) if src.split(line.text)]
        results = translate(run.model, src, tgt, [lines[i].text for i in usable],
                            beam=int(options.get("beam") or cfg.beam),
                            length_penalty=cfg.length_penalty, limit=cfg.max_tokens)
        by_line = dict(zip(usable, results))
        out = []
        for i, line in enumerate(lines):
            record: dict[str, Any] = {"text": line.text}
            if line.problem:
                record["warning"] = line.problem
            if i not in by_line:
                record.update(translation=None, error="empty line: nothing to translate")
            else:
                t = by_line[i]
                record["translation"] = t.text
                if t.truncated:
                    record["truncated"] = f"read the first {cfg.max_tokens} tokens"
                if options.get("explain"):
                    record.update(source_tokens=t.source_tokens, target_tokens=t.target_tokens,
                                  attention=t.attention)
            out.append(record)
        return out


def plot_attention(source: list[str], target: list[str], weights: list[list[float]],
                   path: str | Path) -> Path:
    """Heat map of attention weights: source words across, target words down."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
