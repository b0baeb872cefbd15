"""Beam search on a toy decoder whose next-token probabilities are a hand-written table over
prefixes, so the hypotheses, their log-probabilities and the winner are known by hand."""

import math

import pytest
import torch

from rnnkit.models.beam import beam_search_one, gnmt_length_penalty
from rnnkit.models.decoder import DecoderState, Memory

BOS, EOS, V, S = 1, 2, 5, 3  # tokens 0, 3, 4 are words


class TableDecoder:
    """step(last tokens (k,), state, memory) -> log-probabilities from TABLE[prefix] (a
    uniform distribution for prefixes not listed); the state holds each row's prefix; the
    attention weights are one-hot at (last token % S)."""

    def __init__(self, table):
        self.table, self.seen = table, []

    def step(self, inputs, state, memory=None):
        prefix = state.rnn  # (1, k, 16): tokens so far, -1 = none
        rows = []
        for i, tok in enumerate(inputs.tolist()):
            past = [int(t) for t in prefix[0, i].tolist() if t >= 0]
            words = tuple(past[1:] + [tok]) if past else ()  # without bos
            self.seen.append(words)
            probs = self.table.get(words, [1.0 / V] * V)
            rows.append([math.log(p) if p > 0 else -1e9 for p in probs])
        out = torch.tensor(rows, dtype=torch.float64)
        new = prefix.clone()
        n = (prefix[0] >= 0).sum(-1)  # (k,)
        for i, tok in enumerate(inputs.tolist()):
            new[0, i, n[i]] = tok
        w = None if memory is None else torch.nn.functional.one_hot(inputs % S, S).double()
        return out, DecoderState(new), w


def dist(**p):
    """A distribution over V tokens from {"eos": p, "w0": p, "w3": p, "w4": p}."""
    names = {"w0": 0, "eos": EOS, "w3": 3, "w4": 4}
    probs = [0.0] * V
    for k, v in p.items():
        probs[names[k]] = v
    return probs


def search(table, beam_size=2, max_len=6, alpha=1.0, memory=True, batch=1, index=0):
    start = torch.full((1, batch, 16), -1.0, dtype=torch.float64)
    mem = Memory(torch.zeros(batch, S, 1), torch.ones(batch, S, dtype=torch.bool)) \
        if memory else None
    return beam_search_one(TableDecoder(table), mem, DecoderState(start), index,
                           beam_size=beam_size, max_len=max_len, bos_id=BOS, eos_id=EOS,
                           length_penalty=alpha)


# "" (eos at once): log p = -1.0, lp(1) = 1: score -1.0
# "3 4": log p = log .5 + log(e^-1.2 / .5) + log .999 ~ -1.201, lp(3) = 8/6: score ~ -0.901
NORMALISED = {
    (): dist(eos=math.exp(-1.0), w3=0.5, w0=1 - 0.5 - math.exp(-1.0)),
    (3,): dist(w4=math.exp(-1.2) / 0.5, eos=0.05, w0=1 - 0.05 - math.exp(-1.2) / 0.5),
    (3, 4): dist(eos=0.999, w0=0.001),
    (3, 0): dist(eos=0.01, w0=0.99),
}


def test_the_winner_is_the_best_length_normalised_hypothesis():
    h = search(NORMALISED)
    assert h.tokens == [3, 4]
    assert h.log_prob == pytest.approx(-1.2 + math.log(0.999))
    assert h.score == pytest.approx(h.log_prob / ((5 + 3) / 6))
    # without normalisation the short hypothesis wins
    short = search(NORMALISED, alpha=0.0)
    assert short.tokens == [] and short.score == pytest.approx(-1.0)
    assert short.log_prob == pytest.approx(-1.0)


def test_attention_follows_the_winner_s_path():
    h = search(NORMALISED)
    # inputs at the two steps that made "3 4": bos (1) then 3 -> one-hot at 1 and 0
    torch.testing.assert_close(h.attention, torch.tensor([[0.0, 1, 0], [1, 0, 0]],
                                                         dtype=torch.float64))
    plain = search(NORMALISED, memory=False)
    assert plain.tokens == [3, 4] and plain.attention.shape[-1] == 0


def test_the_search_stops_once_the_best_candidate_ends():
    # step 1: eos (.5) is the best candidate: "" finishes and the search stops, although
    # "3 eos" (.4 * .99) would score better with alpha = 2 (log .396 / (7/6)^2 > log .5)
    table = {(): dist(eos=0.5, w3=0.4, w4=0.1), (3,): dist(eos=0.99, w0=0.01)}
    h = search(table, beam_size=2, alpha=2.0)
    assert h.tokens == [] and h.score == pytest.approx(math.log(0.5))


def test_max_len_finishes_the_live_hypotheses_without_an_eos():
    table = {(): dist(w3=0.6, w4=0.3, eos=0.1), (3,): dist(w4=0.7, w3=0.2, eos=0.1),
             (4,): dist(w4=0.9, eos=0.1)}
    h = search(table, beam_size=2, max_len=2)
    # live after 2 steps: "3 4" (.6 * .7 = .42), "4 4" (.3 * .9 = .27); lp(2) = (7/6)
    assert h.tokens == [3, 4]
    assert h.log_prob == pytest.approx(math.log(0.42))
    assert h.score == pytest.approx(math.log(0.42) / (7 / 6))


def test_an_eos_among_the_top_candidates_does_not_shrink_the_beam():
    # step 1 ranks: w3 (.5), eos (.3), w4 (.2): "" finishes and both 3 and 4 stay live
    # (2 * beam_size candidates are ranked); every continuation of 3 is poor
    table = {(): dist(w3=0.5, eos=0.3, w4=0.2), (3,): dist(w0=0.34, w3=0.33, w4=0.33),
             (4,): dist(eos=1.0)}
    h = search(table, beam_size=2, alpha=0.0)
    assert h.tokens == [] and h.log_prob == pytest.approx(math.log(0.3))
    h = search(table, beam_size=2, alpha=2.0)  # "4": log .2 / (7/6)^2 beats "": log .3 / 1
    assert h.tokens == [4] and h.score == pytest.approx(math.log(0.2) / (7 / 6) ** 2)


def test_a_low_ranked_eos_is_not_a_finished_hypothesis():
    # step 1: w3 (.5), eos (.45), w4 (.05): with beam 1 the eos (rank 1) is not finished and
    # "3 eos" (.5 * .6) wins, as greedy decoding would; with beam 2 it finishes and wins
    table = {(): dist(w3=0.5, eos=0.45, w4=0.05), (3,): dist(eos=0.6, w0=0.4)}
    h = search(table, beam_size=1, alpha=0.0)
    assert h.tokens == [3] and h.log_prob == pytest.approx(math.log(0.3))
    h = search(table, beam_size=2, alpha=0.0)
    assert h.tokens == [] and h.log_prob == pytest.approx(math.log(0.45))


def test_the_search_runs_the_example_it_is_given():
    decoder = TableDecoder(NORMALISED)
    start = torch.full((1, 3, 16), -1.0, dtype=torch.float64)
    start[0, 0, 0], start[0, 0, 1] = BOS, 4.0  # example 0 already holds a different prefix
    h = beam_search_one(decoder, None, DecoderState(start), 2, beam_size=2, max_len=6,
                        bos_id=BOS, eos_id=EOS, length_penalty=1.0)
    assert h.tokens == [3, 4] and decoder.seen[0] == ()


def test_gnmt_length_penalty():
    assert gnmt_length_penalty(7, 0.6) == pytest.approx((12 / 6) ** 0.6)
    assert gnmt_length_penalty(3, 0.0) == 1.0
