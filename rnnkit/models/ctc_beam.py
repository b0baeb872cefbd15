"""CTC prefix beam search (Graves 2012, ch. 7; Hannun et al. 2014, without a language model)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

_NEG = -math.inf


def _logadd(a: float, b: float) -> float:
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def ctc_beam_decode(scores: Tensor, lengths: Tensor | None = None, *, beam_size: int = 8,
                    blank: int = 0, prune: float = 1e-3) -> list[list[int]]:
    """The most probable label sequences of ``scores`` (B, T, C) (logits or
    log-probabilities) under CTC, by prefix beam search.

    Each prefix keeps two log-probabilities, of its paths ending in blank (p_b) and in its
    last label (p_nb); a repeated label extends a prefix only after a blank. At each step
    classes whose probability is below ``prune`` are skipped (the best one never is).
    ``beam_size=1`` is close to, but not always equal to, best-path (greedy) decoding: it sums
    over the paths of a prefix.

    Example: per-step probabilities that make "1 blank 1" likely decode to ``[1, 1]``.
    """
    log_probs = torch.log_softmax(scores.detach().float(), dim=-1).cpu().numpy()  # (B, T, C)
    B, T, _ = log_probs.shape
    lens = lengths.tolist() if lengths is not None else [T] * B
    return [_beam_one(log_probs[b, :n], beam_size, blank, math.log(prune))
            for b, n in zip(range(B), lens)]


def _add(beams: dict, prefix: tuple, pb: float = _NEG, pnb: float = _NEG) -> None:
    cur = beams.setdefault(prefix, [_NEG, _NEG])
    cur[0], cur[1] = _logadd(cur[0], pb), _logadd(cur[1], pnb)


def _beam_one(lp: np.ndarray, beam_size: int, blank: int, log_prune: float) -> list[int]:
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, _NEG)}  # prefix -> (p_b, p_nb)
    for t in range(lp.shape[0]):
        row = lp[t]
        classes = [c for c in np.flatnonzero(row >= log_prune)] or [int(row.argmax())]
        nxt: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = _logadd(pb, pnb)
            for c in classes:
                p = float(row[c])
                if c == blank:
                    _add(nxt, prefix, pb=total + p)
                    continue
                extended = prefix + (int(c),)
                if prefix and prefix[-1] == c:
                    _add(nxt, extended, pnb=pb + p)  # a repeat needs a blank in between
                    _add(nxt, prefix, pnb=pnb + p)  # or it continues the same label
                else:
                    _add(nxt, extended, pnb=total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)
        beams = {k: (v[0], v[1]) for k, v in ranked[:beam_size]}
    best = max(beams.items(), key=lambda kv: _logadd(*kv[1]))[0]
    return list(best)
