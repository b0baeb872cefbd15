"""Beam search for one example over a step-wise :class:`~rnnkit.models.Decoder` (with or
without a memory to attend over)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .decoder import Decoder, DecoderState, Memory


@dataclass
class Hypothesis:
    """A finished hypothesis: ``tokens`` (no bos/eos), normalised ``score``, raw
    ``log_prob`` and ``attention`` (len(tokens), S)."""

    tokens: list[int]
    score: float
    log_prob: float
    attention: Tensor


def gnmt_length_penalty(length: int, alpha: float) -> float:
    """GNMT's lp(n) = ((5 + n) / 6) ** alpha (Wu et al. 2016); scores are log_prob / lp."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search_one(
    decoder: Decoder, memory: Memory | None, state: DecoderState, index: int, *, beam_size: int,
    max_len: int, bos_id: int, eos_id: int, length_penalty: float,
) -> Hypothesis:
    """Beam search for example ``index`` of an encoded batch.

    Each step extends every live hypothesis by every token and ranks the ``2 * beam_size``
    best by summed log-probability: candidates ending in eos among the first ``beam_size``
    finish; the best ``beam_size`` others stay live. The search ends when the best candidate
    of a step ends in eos (no live hypothesis can then beat it in log-probability, which
    only falls as it grows), when none is live, or after ``max_len`` steps (live ones then
    count as finished). The finished hypothesis with the best length-normalised score wins.
    With ``beam_size=1`` this takes the argmax at every step: greedy decoding.
    ``memory=None`` for a decoder without attention (``attention`` is then (n, 0)).
    """
    rnn = state.rnn[0] if isinstance(state.rnn, tuple) else state.rnn  # (L, B, H)
    device = rnn.device
    one = torch.tensor([index], device=device)
    state = state.index_select(one)
    memory = memory.index_select(one) if memory is not None else None
    tokens = torch.full((1, 1), bos_id, dtype=torch.long, device=device)  # (k, 1 + t)
    scores = torch.zeros(1, device=device)  # (k,) summed log-probabilities
    S = memory.keys.shape[1] if memory is not None else 0
    attn = rnn.new_zeros(1, 0, S)  # (k, t, S)
    finished: list[Hypothesis] = []

    def finish(row: int, score: float, ended: bool) -> None:
        seq = tokens[row, 1:].tolist()
        lp = gnmt_length_penalty(len(seq) + int(ended), length_penalty)
        finished.append(Hypothesis(seq, score / lp, score, attn[row]))

    for _ in range(max_len):
        k = tokens.shape[0]
        beams = None if memory is None else memory.index_select(
            torch.zeros(k, dtype=torch.long, device=device))
        out, state, w = decoder.step(tokens[:, -1], state, beams)
        logp = scores.unsqueeze(1) + out.log_softmax(-1)  # (k, V)
        V = logp.shape[1]
        top, flat = logp.flatten().topk(min(2 * beam_size, k * V))
        keep, keep_tokens, keep_scores = [], [], []
        for rank, (score, idx) in enumerate(zip(top.tolist(), flat.tolist())):
            row, token = divmod(idx, V)
            if token == eos_id:
                if rank < beam_size:
                    finish(row, score, ended=True)
            elif len(keep) < beam_size:
                keep.append(row)
                keep_tokens.append(token)
                keep_scores.append(score)
        if int(flat[0]) % V == eos_id or not keep:
            break
        rows = torch.tensor(keep, device=device)
        new_tokens = torch.tensor(keep_tokens, device=device).unsqueeze(1)  # (k', 1)
        tokens = torch.cat([tokens.index_select(0, rows), new_tokens], dim=1)
        if w is not None:
            attn = torch.cat([attn.index_select(0, rows), w.index_select(0, rows)[:, None]], 1)
        else:
            attn = attn.index_select(0, rows)
        scores = torch.tensor(keep_scores, device=device, dtype=scores.dtype)
        state = state.index_select(rows)
    else:  # max_len reached: the live hypotheses count as finished
        for row in range(tokens.shape[0]):
            finish(row, float(scores[row]), ended=False)
    return max(finished, key=lambda h: h.score)
