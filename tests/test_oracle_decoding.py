"""Beam search and translation's ``<unk>`` copy on toy models whose answers are known.

The toy decoder's next-token distribution is a table over the prefix, so every sequence's
probability is a product read off the table: the test enumerates them all and knows which
one wins by length-normalised score (GNMT, Wu et al. 2016) and which by raw
log-probability, and the table is made so that the two differ.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from rnnkit.data.tokenizers import UNK, WordTokenizer
from rnnkit.models.beam import beam_search_one
from rnnkit.models.decoder import DecoderState
from rnnkit.models.seq2seq import DecodeResult
from rnnkit.tasks.translation import translate

BOS, EOS, A, B = 0, 1, 2, 3
# P(next | prefix) over (bos, eos, a, b). "a <eos>" is the likeliest sequence (0.2375);
# "b b b <eos>" (0.2016) is less likely but longer, and wins once length is normalised.
TABLE = {
    (): (0.0, 0.05, 0.25, 0.70),
    (A,): (0.0, 0.95, 0.025, 0.025),
    (B,): (0.0, 0.10, 0.10, 0.80),
    (B, B): (0.0, 0.20, 0.20, 0.60),
    (B, B, B): (0.0, 0.60, 0.20, 0.20),
}
OTHER = (0.0, 0.50, 0.25, 0.25)
MAX_LEN = 5


def prob(prefix, token):
    return TABLE.get(tuple(prefix), OTHER)[token]


class TableDecoder(nn.Module):
    """``step(last token, state, memory)``: the state holds each row's prefix as a base-4
    number (its tokens, bos left out), so reordering rows reorders prefixes."""

    def step(self, tokens, state, memory):
        codes = state.rnn[0, :, 0].tolist()  # (k,)
        rows, new = [], []
        for code, token in zip(codes, tokens.tolist()):
            code = int(code) if token == BOS else int(code) * 4 + token
            new.append(code)
            prefix = []
            c = code
            while c:
                c, t = divmod(c, 4)
                prefix.insert(0, t)
            probs = torch.tensor(TABLE.get(tuple(prefix), OTHER), dtype=torch.float64)
            rows.append(torch.log(probs.clamp_min(1e-300)))
        rnn = torch.tensor(new, dtype=torch.float64).view(1, -1, 1)
        return torch.stack(rows), DecoderState(rnn), None


def search(beam_size, length_penalty):
    state = DecoderState(torch.zeros(1, 1, 1, dtype=torch.float64))
    return beam_search_one(TableDecoder(), None, state, 0, beam_size=beam_size,
                           max_len=MAX_LEN, bos_id=BOS, eos_id=EOS,
                           length_penalty=length_penalty)


def enumerate_sequences():
    """Every (tokens, log-probability, n) the decoder can produce in MAX_LEN steps: ended by
    eos (n counts it) or cut at MAX_LEN tokens."""
    out = []
    for length in range(MAX_LEN + 1):
        for seq in itertools.product((A, B), repeat=length):
            logp = sum(math.log(prob(seq[:i], t)) for i, t in enumerate(seq))
            if length < MAX_LEN:
                out.append((list(seq), logp + math.log(prob(seq, EOS)), length + 1))
            else:
                out.append((list(seq), logp, length))
    return out


def best(alpha):
    return max(enumerate_sequences(), key=lambda s: s[1] / ((5 + s[2]) / 6) ** alpha)


def test_the_table_separates_the_two_rankings():
    """Guards the tests below: raw log-probability and the normalised score disagree."""
    raw = max(enumerate_sequences(), key=lambda s: s[1])
    assert raw[0] == [A] and best(1.0)[0] == best(0.6)[0] == [B, B, B]


@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_beam_search_returns_the_best_length_normalised_sequence(alpha):
    want, logp, n = best(alpha)
    got = search(beam_size=2, length_penalty=alpha)
    assert got.tokens == want
    assert got.log_prob == pytest.approx(math.log(0.7 * 0.8 * 0.6 * 0.6))
    assert logp == pytest.approx(got.log_prob)
    assert got.score == pytest.approx(logp / ((5 + n) / 6) ** alpha)  # n = 4, eos counted


def test_without_length_penalty_the_likeliest_sequence_wins():
    got = search(beam_size=2, length_penalty=0.0)
    assert got.tokens == [A]
    assert got.log_prob == pytest.approx(math.log(0.25 * 0.95)) == got.score


def test_seq2seq_beam_search_ranks_each_example_by_its_normalised_score():
    """Through the model's own method (toy table decoder, encoder stubbed to the empty
    prefix): the length penalty reaches the search, and scores and log_probs come back."""
    from rnnkit.models.seq2seq import Seq2Seq

    model = Seq2Seq(src_vocab_size=5, tgt_vocab_size=4, hidden_size=4, bos_id=BOS,
                    eos_id=EOS, pad_id=BOS)
    model.decoder = TableDecoder()
    model.decoder.attention = None
    model.encode = lambda x, lengths: (None, DecoderState(
        torch.zeros(1, x.shape[0], 1, dtype=torch.float64)))
    x = torch.ones(2, 3, dtype=torch.long)
    for alpha, want in ((1.0, [B, B, B]), (0.0, [A])):
        result = model.beam_search(x, beam_size=2, max_len=MAX_LEN, length_penalty=alpha)
        assert result.tokens == [want, want]
        tokens, logp, n = next(s for s in enumerate_sequences() if s[0] == want)
        torch.testing.assert_close(result.log_probs, torch.tensor([logp, logp]))
        torch.testing.assert_close(result.scores,
                                   torch.tensor([logp, logp]) / ((5 + n) / 6) ** alpha)


def test_beam_size_one_is_greedy():
    """Greedy: b (0.7), b (0.8), b (0.6), eos (0.6)."""
    assert search(beam_size=1, length_penalty=0.0).tokens == [B, B, B]


# -- translation: <unk> copies the source word it attends to --------------------------------

SRC = WordTokenizer.fit(["I love Paris .", "I love you ."])
TGT = WordTokenizer.fit(["j'aime Paris .", "je t'aime ."], lower=False)
WORDS = {"i": "je", "love": "aime", "paris": "Paris", ".": "."}


class WordByWord(nn.Module):
    """Translates word by word through WORDS (anything else: <unk>), attending to exactly
    the source word it translates."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def beam_search(self, x, lengths, beam_size, max_len, length_penalty):
        tokens, attention = [], []
        for row, n in zip(x.tolist(), lengths.tolist()):
            words = SRC.vocab.decode(row[:n])
            tokens.append([TGT.vocab.stoi.get(WORDS.get(w, UNK), TGT.vocab.stoi[UNK])
                           for w in words])
            attention.append(torch.eye(n))  # target token t attends to source word t
        scores = torch.zeros(len(tokens))
        return DecodeResult(tokens, scores, scores, attention)


def test_unknown_target_words_copy_the_attended_source_word():
    sentences = ["I love Zanzibar .", "I love Paris .", "I love Oslo and Zanzibar ."]
    out = translate(WordByWord(), SRC, TGT, sentences, beam=2)
    assert [t.text for t in out] == ["je aime Zanzibar.", "je aime Paris.",
                                     "je aime Oslo and Zanzibar."]
    assert out[0].target_tokens == ["je", "aime", "Zanzibar", "."]  # the source's case kept

