"""Decoding against references written out independently (issue 20's mutation survivors of
rnnkit/models/ctc_beam.py, sampling.py and seq2seq.py's decoding).

CTC prefix beam search is compared with an enumeration of every frame-level path of a tiny
posteriorgram: a prefix's probability is the sum over the paths that collapse to it, and a
beam of k keeps, at each frame, only the paths whose prefix is among the k likeliest so far.
Sampling is compared with the closed-form distributions (softmax(logits / T), renormalised
over the top k or the nucleus) over many seeded draws; greedy decoding with the decoder's
step run by hand.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from rnnkit.models import Seq2Seq, ctc_beam_decode, sample_logits
from rnnkit.models import seq2seq as seq2seq_module

# ---------------------------------------------------------------- CTC prefix beam search


def collapse(path, blank):
    """CTC's many-to-one map: merge repeated classes, then drop blanks."""
    return tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c))


def path_beam(probs: np.ndarray, beam: int, blank: int = 0, prune: float = 0.0):
    """The prefix beam search's answer by enumerating paths (probs: (T, C), float64).

    At frame t the live paths are extended by every class whose probability is at least
    ``prune`` (the likeliest one if none is); each prefix scores the total probability of
    its live paths; paths whose prefix is not among the ``beam`` best die. Returns the best
    prefix and the sorted scores of the prefixes alive at the end."""
    paths = {(): 1.0}
    for row in probs:
        allowed = [c for c in range(len(row)) if row[c] >= prune] or [int(row.argmax())]
        paths = {p + (c,): v * row[c] for p, v in paths.items() for c in allowed}
        totals: dict[tuple, float] = {}
        for p, v in paths.items():
            totals[collapse(p, blank)] = totals.get(collapse(p, blank), 0.0) + v
        keep = sorted(totals, key=totals.get, reverse=True)[:beam]
        paths = {p: v for p, v in paths.items() if collapse(p, blank) in keep}
    return max(keep, key=totals.get), sorted((totals[k] for k in keep), reverse=True)


def random_posteriorgram(rng, T, C, peak=1.0):
    return rng.dirichlet(np.full(C, peak), size=T)  # (T, C), rows sum to 1


def decode(probs, **kw):
    scores = torch.tensor(np.log(probs), dtype=torch.float32)[None]
    return tuple(ctc_beam_decode(scores, **kw)[0])


def well_separated(scores, beam):
    """True when the reference's ranking has no near-tie the float32 decoder could swap."""
    gaps = [a - b for a, b in itertools.pairwise(scores)]
    return all(g > 1e-4 * scores[0] for g in gaps[: beam + 1])


@pytest.mark.parametrize("beam", [1, 2, 3, 64])
def test_ctc_beam_search_equals_the_enumeration_of_paths(beam):
    rng = np.random.default_rng(beam)
    checked = 0
    for _ in range(60):
        T, C = int(rng.integers(1, 6)), int(rng.integers(2, 4))
        probs = random_posteriorgram(rng, T, C, peak=0.7)
        best, scores = path_beam(probs, beam)
        if len(scores) > 1 and not well_separated(scores, beam):
            continue
        assert decode(probs, beam_size=beam, prune=1e-9) == best, (probs, beam)
        checked += 1
    assert checked >= 40


def test_a_wide_beam_finds_the_likeliest_label_sequence_over_all_paths():
    """With beam 64 on 4 frames of 3 classes no prefix is ever dropped: the answer is the
    label sequence with the largest total path probability."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        probs = random_posteriorgram(rng, 4, 3)
        totals: dict[tuple, float] = {}
        for path in itertools.product(range(3), repeat=4):
            key = collapse(path, 0)
            totals[key] = totals.get(key, 0.0) + math.prod(probs[t, c] for t, c in enumerate(path))
        assert decode(probs, beam_size=64, prune=1e-9) == max(totals, key=totals.get)


def test_a_repeated_label_needs_a_blank_between():
    """'1 1' has one path over two frames (1 _ 1 needs three): 1,1 collapses to '1'."""
    probs = np.array([[0.1, 0.9], [0.1, 0.9]])
    assert decode(probs, beam_size=8) == (1,)
    probs3 = np.array([[0.05, 0.95], [0.9, 0.1], [0.05, 0.95]])
    assert decode(probs3, beam_size=8) == (1, 1)


@pytest.mark.parametrize("blank", [1, 2])
def test_another_blank_index(blank):
    rng = np.random.default_rng(blank)
    for _ in range(30):
        probs = random_posteriorgram(rng, 4, 3, peak=0.7)
        best, scores = path_beam(probs, 64, blank=blank)
        if well_separated(scores, 64):
            assert decode(probs, beam_size=64, blank=blank, prune=1e-9) == best


def test_pruning_skips_unlikely_classes_but_never_the_best():
    rng = np.random.default_rng(3)
    for prune in (0.05, 0.2, 0.45, 0.9):  # 0.9: no class reaches it: the best one stays
        for _ in range(20):
            probs = random_posteriorgram(rng, 4, 4, peak=0.5)
            best, scores = path_beam(probs, 64, prune=prune)
            if well_separated(scores, 64):
                assert decode(probs, beam_size=64, prune=prune) == best, (prune, probs)


def test_a_class_at_exactly_the_threshold_is_kept():
    """prune = 0.25 keeps the classes of probability exactly 0.25 (exact in float32): the
    answer is (2,), where skipping them would give (2, 2)."""
    probs = np.array([[0.25, 0.25, 0.5], [0.5, 0.25, 0.25], [0.25, 0.25, 0.5]])
    assert path_beam(probs, 64, prune=0.25)[0] == (2,)
    assert path_beam(probs, 64, prune=0.2500001)[0] == (2, 2)
    assert decode(probs, beam_size=64, prune=0.25) == (2,)


def test_logits_are_normalised_per_frame_and_lengths_cut_each_example():
    rng = np.random.default_rng(11)
    a, b = random_posteriorgram(rng, 5, 3, 0.7), random_posteriorgram(rng, 5, 3, 0.7)
    shift = torch.tensor(rng.normal(size=(2, 5, 1)) * 3, dtype=torch.float32)
    logits = torch.tensor(np.log(np.stack([a, b])), dtype=torch.float32) + shift
    out = ctc_beam_decode(logits.double(), torch.tensor([5, 3]), beam_size=64, prune=1e-9)
    assert out == [list(path_beam(a, 64)[0]), list(path_beam(b[:3], 64)[0])]
    assert ctc_beam_decode(logits, beam_size=64, prune=1e-9)[1] == list(path_beam(b, 64)[0])


def test_the_default_beam_is_8():
    """A posteriorgram where beams of 8 and 9 give different answers (the enumeration says
    which): the defaults decode as beam 8 (with prune 1e-3)."""
    probs = np.array([[0.451, 0.339, 0.21], [0.12, 0.359, 0.521], [0.253, 0.042, 0.705],
                      [0.074, 0.689, 0.237], [0.222, 0.259, 0.519], [0.401, 0.278, 0.321]])
    probs /= probs.sum(1, keepdims=True)
    assert path_beam(probs, 8, prune=1e-3)[0] != path_beam(probs, 9, prune=1e-3)[0]
    assert decode(probs) == path_beam(probs, 8, prune=1e-3)[0]

# ---------------------------------------------------------------- sampling

def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def closed_form(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution sample_logits draws from, written out for one row of logits."""
    p = softmax(np.asarray(logits, dtype=np.float64) / temperature)
    if top_k is not None:
        p = np.where(p >= np.sort(p)[::-1][min(top_k, len(p)) - 1], p, 0.0)
        p = p / p.sum()
    if top_p is not None:
        order = np.argsort(-p, kind="stable")
        before = np.cumsum(p[order]) - p[order]
        keep = np.zeros(len(p), bool)
        keep[order[before < top_p]] = True
        p = np.where(keep, p, 0.0) / p[keep].sum()
    return p


def draw_frequencies(rows, n=20000, seed=0, **kw):
    """Per distinct row of ``rows`` (R, V): the frequency of each id over n draws each."""
    rows = torch.tensor(rows, dtype=torch.float32)
    logits = rows.repeat(n, 1)  # (n*R, V): row i is rows[i % R]
    ids = sample_logits(logits, generator=torch.Generator().manual_seed(seed), **kw)
    assert ids.shape == (len(logits),) and ids.dtype == torch.int64
    ids = ids.view(n, len(rows))
    V = rows.shape[1]
    return np.stack([np.bincount(ids[:, r].numpy(), minlength=V) / n for r in range(len(rows))])


def assert_frequencies(freq, p, n=20000):
    """Each frequency within 5 standard errors of its probability; zero ones exactly 0."""
    tol = 5 * np.sqrt(p * (1 - p) / n) + 1e-12
    assert np.all(np.abs(freq - p) <= tol), (freq, p)
    assert np.all(freq[p == 0] == 0)


ROWS = [[0.3, -1.0, 2.0, 0.9, -0.4], [1.5, 1.4, -2.0, 0.0, 0.7]]  # not sorted, two shapes


@pytest.mark.parametrize("kw", [
    {}, {"temperature": 0.5}, {"temperature": 2.5}, {"top_k": 2}, {"top_k": 3, "temperature": 3.0},
    {"top_k": 5}, {"top_k": 9}, {"top_p": 0.6}, {"top_p": 0.9, "temperature": 1.7},
    {"top_k": 4, "top_p": 0.7}, {"top_p": 1.0},
])
def test_draws_follow_the_closed_form_distribution(kw):
    freq = draw_frequencies(ROWS, **kw)
    for r, row in enumerate(ROWS):
        assert_frequencies(freq[r], closed_form(row, **kw))


def test_greedy_settings_and_ties_at_the_kth_logit():
    rows = torch.tensor(ROWS)
    for kw in ({"temperature": 0}, {"top_k": 1}, {"top_k": 1, "temperature": 5.0}):
        assert sample_logits(rows, **kw).tolist() == [2, 0]
    tied = [[1.0, 2.0, 2.0, 0.5]]  # top_k=1 is argmax; top_k=2 keeps both tied ones
    assert_frequencies(draw_frequencies(tied, top_k=2)[0], np.array([0, 0.5, 0.5, 0]))
    # a tie at the k-th logit keeps every tied token (ranked by logits, not by position)
    assert_frequencies(draw_frequencies([[2.0, 1.0, 1.0, 0.0]], top_k=2)[0],
                       closed_form([2.0, 1.0, 1.0, 0.0], top_k=2))


def test_the_nucleus_stops_at_the_token_that_reaches_top_p():
    """Masses 1/2, 1/4, 1/8, 1/8 (exact in binary): top_p = 0.75 is reached by the second
    token, so the third (mass before it: exactly 0.75) is dropped; 0.5 keeps only the first;
    just above 0.5 the first two."""
    logits = [[math.log(4), math.log(2), 0.0, 0.0]]
    for top_p, keep in ((0.75, [0.5, 0.25]), (0.5, [1.0]), (0.5001, [0.5, 0.25])):
        p = np.zeros(4)
        p[: len(keep)] = keep
        assert_frequencies(draw_frequencies(logits, n=4000, top_p=top_p)[0], p / p.sum(), 4000)


def test_a_seed_repeats_and_low_precision_logits_are_sampled_in_float32():
    logits = torch.tensor(ROWS).repeat(50, 1)
    a = sample_logits(logits, top_p=0.9, generator=torch.Generator().manual_seed(5))
    b = sample_logits(logits, top_p=0.9, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    half = sample_logits(logits.half(), temperature=0.7, generator=torch.Generator().manual_seed(1))
    full = sample_logits(logits.half().float(), temperature=0.7,
                         generator=torch.Generator().manual_seed(1))
    assert torch.equal(half, full)


@pytest.mark.parametrize("kw, message", [
    ({"temperature": -0.1}, "temperature must be a number >= 0, got -0.1"),
    ({"temperature": float("nan")}, "temperature must be a number >= 0, got nan"),
    ({"temperature": float("inf")}, "temperature must be a number >= 0, got inf"),
    ({"top_k": 0}, "top_k must be >= 1, got 0"),
    ({"top_p": 0.0}, r"top_p must be in \(0, 1\], got 0.0"),
    ({"top_p": 1.01}, r"top_p must be in \(0, 1\], got 1.01"),
    ({"logits": torch.zeros(3)}, r"logits must be \(batch, vocabulary\), got shape \(3,\)"),
    ({"logits": torch.zeros(2, 1, 3), "temperature": 0},
     r"logits must be \(batch, vocabulary\), got shape \(2, 1, 3\)"),
])
def test_settings_out_of_range_are_errors(kw, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        kw = dict(kw)  # (the parameters are shared by repeated runs)
        sample_logits(kw.pop("logits", torch.zeros(1, 3)), **kw)


def test_a_batch_smaller_than_top_k_is_restricted_by_the_vocabulary():
    """Two rows, top_k = 3 of 5 tokens: the k-th largest is taken per row, along the
    vocabulary."""
    rows = torch.tensor(ROWS, dtype=torch.float32)
    g = torch.Generator().manual_seed(2)
    counts = np.zeros((2, 5))
    for _ in range(3000):
        ids = sample_logits(rows, top_k=3, generator=g)
        counts[[0, 1], ids.numpy()] += 1
    for r, row in enumerate(ROWS):
        assert_frequencies(counts[r] / 3000, closed_form(row, top_k=3), 3000)


# ---------------------------------------------------------------- seq2seq greedy decoding

def s2s(attention="bahdanau", seed=0, eos_bias=0.0, scale=1.0, **kw):
    """A random model; ``scale`` sharpens its choices (weights times scale), ``eos_bias``
    makes it end sooner."""
    torch.manual_seed(seed)
    model = Seq2Seq(src_vocab_size=9, tgt_vocab_size=7, hidden_size=8, embedding_dim=6,
                    attention=attention, **kw).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
        model.decoder.head.bias[model.eos_id] += eos_bias
    return model


@torch.no_grad()
def greedy_by_hand(model, src, max_len):
    """One source sentence alone (no padding): argmax step by step from bos until eos."""
    memory, state = model.encode(torch.tensor([src]), torch.tensor([len(src)]))
    token, tokens, logp, rows = torch.tensor([model.bos_id]), [], 0.0, []
    for _ in range(max_len):
        out, state, w = model.decoder.step(token, state, memory)
        lp = torch.log_softmax(out[0].double(), -1)
        token = lp.argmax()[None]
        logp += float(lp[token])
        if int(token) == model.eos_id:
            break
        tokens.append(int(token))
        rows.append(w[0] if w is not None else None)
    return tokens, logp, rows


SOURCES = [[4, 5, 6, 7, 8, 1], [5, 5, 1], [8, 7], [6, 1, 4, 4, 2], [1]]


def pad(sources):
    S = max(map(len, sources))
    x = torch.tensor([s + [0] * (S - len(s)) for s in sources])
    return x, torch.tensor([len(s) for s in sources])


@pytest.mark.parametrize("attention, cell", [("bahdanau", "lstm"), ("luong", "gru"),
                                             ("none", "gru")])
def test_seq2seq_greedy_decodes_each_sentence_as_the_step_loop_by_hand(attention, cell):
    for seed in range(20):  # a model whose sentences end at different steps
        model = s2s(attention, seed, scale=5.0, cell=cell, num_layers=2)
        refs = [greedy_by_hand(model, s, 8) for s in SOURCES]
        if len({len(r[0]) for r in refs}) >= 3:
            break
    else:
        pytest.fail("no seed gives sentences of several lengths")
    x, lengths = pad(SOURCES)
    calls = []
    step = model.decoder.step
    model.decoder.step = lambda *a: calls.append(1) or step(*a)
    got = model.greedy(x, lengths, max_len=8)
    assert got.tokens == [r[0] for r in refs]
    want = torch.tensor([r[1] for r in refs], dtype=torch.float64)
    torch.testing.assert_close(got.log_probs.double(), want, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.scores, got.log_probs)
    # every sentence ended (eos) or reached max_len: no step after the last one ends
    assert len(calls) == max(min(len(r[0]) + 1, 8) for r in refs)
    if attention == "none":
        assert got.attention is None
        return
    for (tokens, _, rows), att, n in zip(refs, got.attention, lengths.tolist()):
        assert att.shape == (len(tokens), n)
        if tokens:
            torch.testing.assert_close(att, torch.stack(rows)[:, :n], atol=1e-6, rtol=0)


def test_seq2seq_greedy_stops_at_the_first_eos_and_without_lengths_reads_the_whole_source():
    model = s2s(eos_bias=20.0)  # eos first for every sentence
    x, lengths = pad(SOURCES)
    got = model.greedy(x, lengths, max_len=5)
    assert got.tokens == [[]] * len(SOURCES)
    assert [a.shape for a in got.attention] == [(0, n) for n in lengths.tolist()]
    want = [greedy_by_hand(model, s, 5)[1] for s in SOURCES]
    torch.testing.assert_close(got.log_probs.double(), torch.tensor(want).double(), atol=1e-6,
                               rtol=0)
    full = s2s(seed=3)
    x = torch.tensor(SOURCES[:1] * 2)
    a, b = full.greedy(x, max_len=4), full.greedy(x, torch.tensor([6, 6]), max_len=4)
    assert a.tokens == b.tokens and [t.shape for t in a.attention] == [(len(a.tokens[0]), 6)] * 2
    torch.testing.assert_close(a.log_probs, b.log_probs)


def test_seq2seq_greedy_stops_once_every_sentence_has_ended():
    model = s2s("bahdanau", 5, scale=5.0, cell="lstm", num_layers=2)
    refs = [greedy_by_hand(model, s, 20) for s in SOURCES]
    ends = [len(r[0]) + 1 for r in refs]  # steps to each eos
    assert max(ends) < 20 and len(set(ends)) >= 3  # all end, at different steps
    calls = []
    step = model.decoder.step
    model.decoder.step = lambda *a: calls.append(1) or step(*a)
    assert model.greedy(*pad(SOURCES), max_len=20).tokens == [r[0] for r in refs]
    assert len(calls) == max(ends)


# ---------------------------------------------------------------- seq2seq encode and loss

@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_seq2seq_the_bridge_joins_each_layer_s_two_directions(cell):
    """Decoder state of layer l = tanh(W [forward final of l; backward final of l] + b),
    per state tensor (h, and c for the LSTM); the memory is the encoder's outputs with the
    padding masked."""
    model = s2s(cell=cell, num_layers=2)
    x, lengths = pad(SOURCES)
    memory, state = model.encode(x, lengths)
    output, h_n = model.encoder(x, lengths)
    parts = h_n if isinstance(h_n, tuple) else (h_n,)
    want = tuple(torch.stack([torch.tanh(lin(torch.cat([p[2 * layer], p[2 * layer + 1]], -1)))
                              for layer in range(2)]) for lin, p in zip(model.bridge, parts))
    got = state.rnn if isinstance(state.rnn, tuple) else (state.rnn,)
    assert len(got) == len(want) == (2 if cell == "lstm" else 1)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    torch.testing.assert_close(memory.keys, output)
    assert memory.mask.tolist() == [[t < n for t in range(6)] for n in lengths.tolist()]
    assert torch.equal(state.feed, torch.zeros(5, 8))


def test_seq2seq_a_unidirectional_encoder_hands_its_state_over_as_it_is():
    model = s2s(cell="lstm", num_layers=2, bidirectional_encoder=False)
    assert model.bridge is None
    x, lengths = pad(SOURCES)
    (h, c), (h_n, c_n) = model.encode(x, lengths)[1].rnn, model.encoder(x, lengths)[1]
    assert torch.equal(h, h_n) and torch.equal(c, c_n)


def test_seq2seq_loss_accuracy_and_perplexity_by_hand():
    """Cross-entropy of y[:, 1:] given y[:, :-1], over the tokens before each y_length (the
    garbage after it is not counted), accuracy of the argmax on the same tokens."""
    model = s2s(seed=4, attention="luong", cell="gru", scale=3.0)
    x, lengths = pad(SOURCES[:3])
    y = torch.tensor([[2, 4, 5, 6, 3], [2, 6, 3, 5, 5], [2, 3, 1, 1, 1]])
    y_lengths = torch.tensor([5, 3, 2])
    batch = {"x": x, "lengths": lengths, "y": y, "y_lengths": y_lengths}
    out = model.compute_loss(batch)
    logp = torch.log_softmax(model(x, lengths, y[:, :-1]).outputs.detach().double(), -1)
    terms, hits = [], []
    for b in range(3):
        for t in range(int(y_lengths[b]) - 1):
            terms.append(-float(logp[b, t, y[b, t + 1]]))
            hits.append(int(logp[b, t].argmax()) == int(y[b, t + 1]))
    assert out.count == len(terms) == 7
    assert out.loss.item() == pytest.approx(sum(terms) / 7, rel=1e-5)
    assert out.metrics["accuracy"] == pytest.approx(sum(hits) / 7)
    assert 0 < sum(hits) < 7  # (the check can tell a wrong count)
    assert out.metrics["perplexity"] == pytest.approx(math.exp(sum(terms) / 7), rel=1e-5)
    # without y_lengths, the pad id ends each target
    y_pad = torch.tensor([[2, 4, 5, 6, 3], [2, 6, 3, 0, 0], [2, 3, 0, 0, 0]])
    same = model.compute_loss({"x": x, "lengths": lengths, "y": y_pad})
    assert same.count == 7 and same.loss.item() == pytest.approx(out.loss.item(), rel=1e-6)
    with torch.no_grad():
        model.decoder.head.bias[1] = 300.0  # every target is ~300 nats away
    big = model.compute_loss(batch)
    assert big.loss.item() > 100 and big.metrics["perplexity"] == pytest.approx(math.exp(50))
    assert big.metrics["accuracy"] == 0.0


def test_seq2seq_targets_that_are_all_padding_have_zero_accuracy():
    model = s2s()
    x, lengths = pad(SOURCES[:2])
    out = model.compute_loss({"x": x, "lengths": lengths, "y": torch.tensor([[2, 0], [2, 0]])})
    assert out.count == 0 and out.metrics["accuracy"] == 0.0


def test_seq2seq_config_round_trip_and_the_ids():
    model = s2s(cell="gru", num_layers=2, bos_id=1, eos_id=6, pad_id=5, dropout=0.25,
                teacher_forcing=0.5, label_smoothing=0.1, tie_embeddings=True)
    model.teacher_forcing = 0.75  # a schedule changed it: the config says so
    want = dict(src_vocab_size=9, tgt_vocab_size=7, cell="gru", hidden_size=8, num_layers=2,
                embedding_dim=6, attention="bahdanau", bidirectional_encoder=True, dropout=0.25,
                bos_id=1, eos_id=6, pad_id=5, teacher_forcing=0.75, label_smoothing=0.1,
                tie_embeddings=True)
    assert model.get_config() == want
    assert (model.bos_id, model.eos_id, model.pad_id) == (1, 6, 5)
    default = Seq2Seq(src_vocab_size=9, tgt_vocab_size=7, hidden_size=8).get_config()
    assert default == dict(src_vocab_size=9, tgt_vocab_size=7, cell="lstm", hidden_size=8,
                           num_layers=1, embedding_dim=8, attention="bahdanau",
                           bidirectional_encoder=True, dropout=0.0, bos_id=2, eos_id=3,
                           pad_id=0, teacher_forcing=1.0, label_smoothing=0.0,
                           tie_embeddings=False)
    rebuilt = Seq2Seq(**model.get_config())
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


def test_seq2seq_beam_search_attention_covers_each_source_and_greedy_stops_at_100_tokens():
    model = s2s("luong", 2, scale=5.0, cell="gru", num_layers=2)
    x, lengths = pad(SOURCES)
    got = model.beam_search(x, lengths, beam_size=2, max_len=8)
    assert [a.shape for a in got.attention] == [(len(t), n) for t, n in
                                                zip(got.tokens, lengths.tolist())]
    whole = model.beam_search(x, beam_size=2, max_len=8)  # no lengths: the whole rows
    assert [a.shape[1] for a in whole.attention] == [6] * 5
    assert s2s("none").beam_search(x, lengths, beam_size=2, max_len=3).attention is None
    endless = s2s(eos_bias=-100.0)
    assert [len(t) for t in endless.greedy(x[:1], lengths[:1]).tokens] == [100]


def test_seq2seq_pad_embeddings_stay_zero_and_masks_follow_the_input_s_device(monkeypatch):
    """pad_id 5: its embedding rows (source and target) are zeros and get no gradient; the
    masks are made on the batch's device."""
    model = s2s(pad_id=5, bos_id=2, eos_id=3)
    x, lengths = pad(SOURCES[:2])
    y = torch.tensor([[2, 4, 5, 3], [2, 5, 5, 5]])
    model.compute_loss({"x": x.masked_fill(x == 0, 5), "lengths": lengths, "y": y}).loss.backward()
    for emb in (model.encoder.embedding, model.decoder.embedding):
        assert torch.equal(emb.weight[5], torch.zeros(6))
        assert torch.equal(emb.weight.grad[5], torch.zeros(6))
    seen = []
    real = seq2seq_module.length_mask
    monkeypatch.setattr(seq2seq_module, "length_mask",
                        lambda *a, **kw: seen.append(a[3] if len(a) > 3 else kw.get("device"))
                        or real(*a, **kw))
    model.compute_loss({"x": x, "lengths": lengths, "y": y, "y_lengths": torch.tensor([4, 2])})
    assert seen == [x.device, y.device]


def test_seq2seq_accuracy_of_a_single_target_token():
    """With a single target token predicted right, accuracy is 1 (not a mean over 2)."""
    model = s2s(seed=4, attention="luong", cell="gru", scale=3.0)
    x, lengths = pad(SOURCES[:1])
    first = int(model(x, lengths, torch.tensor([[2]])).outputs[0, 0].argmax())
    out = model.compute_loss({"x": x, "lengths": lengths, "y": torch.tensor([[2, first]])})
    assert first != 0 and out.count == 1 and out.metrics["accuracy"] == 1.0
