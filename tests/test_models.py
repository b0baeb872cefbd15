"""Models: training on tiny synthetic tasks, config round trips, equivalences with
independent references (unpadded runs, full-prefix reruns, hand formulas)."""

import json
import math

import pytest
import torch

from rnnkit.models import (
    MODELS,
    BahdanauAttention,
    ConditionalGenerator,
    Decoder,
    FeedForward,
    Forecaster,
    LanguageModel,
    LuongAttention,
    Seq2Seq,
    SequenceClassifier,
    SequenceRegressor,
    SequenceTagger,
    ctc_greedy_decode,
    pinball_loss,
    sample_logits,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and do not fight parallel test runs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train(model, batch, steps, lr=1e-2):
    """Adam on one fixed batch; returns (first loss, last loss)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = model.compute_loss(batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], model.compute_loss(batch).loss.item()


def padded_ids(B=6, T=9, vocab=12, min_len=2):
    lengths = torch.randint(min_len, T + 1, (B,))
    lengths[0] = T
    x = torch.randint(1, vocab, (B, T))  # garbage (non-pad) after each length on purpose
    return x, lengths


# ---------------------------------------------------------------- many-to-one


@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_classifier_with_lengths_equals_each_sequence_alone(pooling, bidirectional, cell):
    model = SequenceClassifier(
        num_classes=3, vocab_size=12, cell=cell, hidden_size=8, num_layers=2,
        bidirectional=bidirectional, pooling=pooling,
    ).eval()
    x, lengths = padded_ids()
    out = model(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = model(x[i : i + 1, :n])
        torch.testing.assert_close(out.logits[i : i + 1], alone.logits, atol=1e-5, rtol=1e-5)
        if pooling == "attention":
            torch.testing.assert_close(out.weights[i, :n], alone.weights[0], atol=1e-6, rtol=0)
            assert torch.all(out.weights[i, n:] == 0)
            torch.testing.assert_close(out.weights[i].sum(), torch.tensor(1.0))


def test_last_pooling_bidirectional_reads_forward_end_and_backward_start():
    model = SequenceClassifier(
        num_classes=2, input_size=3, cell="gru", hidden_size=5, bidirectional=True,
        num_layers=2,
    ).eval()
    x, lengths = torch.randn(4, 7, 3), torch.tensor([7, 2, 5, 4])
    output, h_n = model.encoder(x, lengths)
    pooled, _ = model.pool(output, h_n, None)
    rows = torch.arange(4)
    expected = torch.cat([output[rows, lengths - 1, :5], output[:, 0, 5:]], dim=-1)
    torch.testing.assert_close(pooled, expected)


def test_classifier_learns_and_predict_proba():
    x, lengths = padded_ids(B=32, T=8, vocab=8)
    mask = torch.arange(8) < lengths[:, None]
    y = ((x == 3) & mask).any(1).long()  # does token 3 occur (within the valid steps)?
    model = SequenceClassifier(
        num_classes=2, vocab_size=8, cell="gru", hidden_size=16, pooling="attention",
    )
    first, last = train(model, {"x": x, "y": y, "lengths": lengths}, 80)
    assert last < 0.3 * first
    proba = model.predict_proba(x, lengths)
    torch.testing.assert_close(proba.sum(-1), torch.ones(32))
    assert model.compute_loss({"x": x, "y": y, "lengths": lengths}).metrics["accuracy"] > 0.9


def test_regressor_learns_a_sum():
    x = torch.randn(32, 6, 2)
    y = x.sum((1, 2)) / 4
    model = SequenceRegressor(input_size=2, cell="lstm", hidden_size=16, pooling="mean")
    first, last = train(model, {"x": x, "y": y}, 100)
    assert last < 0.3 * first
    assert model.predict(x).shape == (32, 1)


# ---------------------------------------------------------------- aligned many-to-many


def test_tagger_learns_previous_token():
    x, lengths = padded_ids(B=16, T=8, vocab=6)
    y = torch.cat([torch.zeros(16, 1, dtype=torch.long), x[:, :-1]], dim=1)
    model = SequenceTagger(num_tags=6, vocab_size=6, cell="lstm", hidden_size=16)
    first, last = train(model, {"x": x, "y": y, "lengths": lengths}, 80)
    assert last < 0.3 * first
    decoded = model.decode(x, lengths)
    assert [len(d) for d in decoded] == lengths.tolist()


def test_tagger_truncated_chunks_with_carried_state_equal_the_full_sequence():
    model = SequenceTagger(num_tags=4, input_size=3, cell="lstm", hidden_size=8, num_layers=2)
    x, y = torch.randn(3, 10, 3), torch.randint(0, 4, (3, 10))
    full = model.compute_loss({"x": x, "y": y})
    a = model.compute_loss({"x": x[:, :4], "y": y[:, :4]})
    b = model.compute_loss({"x": x[:, 4:], "y": y[:, 4:]}, state=a.state)
    assert a.count == 12 and b.count == 18
    assert not a.state[0].requires_grad  # detached at the truncation boundary
    mean = (a.loss * a.count + b.loss * b.count) / (a.count + b.count)
    torch.testing.assert_close(mean, full.loss)
    torch.testing.assert_close(b.state, full.state)


def test_ctc_greedy_decode_of_a_hand_made_posteriorgram():
    # frames' best classes: b b 1 1 b 1 2 2 b 3 | padding   ->  "1 1 2 3"
    best = [0, 0, 1, 1, 0, 1, 2, 2, 0, 3, 2, 2]
    probs = torch.full((1, 12, 4), 0.1)
    probs[0, torch.arange(12), torch.tensor(best)] = 0.7
    assert ctc_greedy_decode(probs.log(), torch.tensor([10])) == [[1, 1, 2, 3]]
    assert ctc_greedy_decode(probs.log()) == [[1, 1, 2, 3, 2]]
    assert ctc_greedy_decode(probs.log(), blank=2) == [[0, 1, 0, 1, 0, 3]]


def test_ctc_tagger_learns_to_transcribe():
    torch.manual_seed(1)
    B, S, C = 8, 3, 5
    labels = torch.randint(1, C, (B, S))
    frames = []  # each label 2 frames, then a blank frame; one-hot features plus noise
    for row in labels.tolist():
        seq = [c for lab in row for c in (lab, lab, 0)]
        frames.append(torch.nn.functional.one_hot(torch.tensor(seq), C).float())
    x = torch.stack(frames) + 0.05 * torch.randn(B, 3 * S, C)
    batch = {"x": x, "y": labels, "target_lengths": torch.full((B,), S)}
    model = SequenceTagger(
        num_tags=C, input_size=C, cell="gru", hidden_size=16, bidirectional=True, loss="ctc",
    )
    assert model.time_keys == ()
    first, last = train(model, batch, 150, lr=2e-2)
    assert last < 0.3 * first
    assert model.decode(x) == labels.tolist()


# ---------------------------------------------------------------- language model


def cyclic_batch(B=8, T=12, vocab=7):
    start = torch.randint(0, vocab, (B, 1))
    seq = (start + torch.arange(T + 1)) % vocab
    return {"x": seq[:, :-1], "y": seq[:, 1:]}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_lm_learns_and_reports_bits(cell):
    model = LanguageModel(vocab_size=7, cell=cell, hidden_size=16)
    batch = cyclic_batch()
    first, last = train(model, batch, 60)
    assert last < 0.3 * first
    out = model.compute_loss(batch)
    assert out.metrics["bits_per_token"] == pytest.approx(out.loss.item() / math.log(2))


def test_lm_tied_weights_share_the_embedding():
    model = LanguageModel(vocab_size=9, hidden_size=8, tie_weights=True)
    assert model.head.weight is model.encoder.embedding.weight
    with pytest.raises(ValueError, match="embedding_dim"):
        LanguageModel(vocab_size=9, hidden_size=8, embedding_dim=4, tie_weights=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_lm_step_equals_running_the_whole_prefix(cell):
    model = LanguageModel(vocab_size=11, cell=cell, hidden_size=8, num_layers=2).eval()
    ids = torch.randint(0, 11, (3, 7))
    full = model(ids).logits  # (3, 7, 11)
    state = None
    for t in range(7):
        logits, state = model.step(ids[:, t], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def test_lm_loss_ignores_steps_past_lengths():
    model = LanguageModel(vocab_size=7, hidden_size=8).eval()
    batch = cyclic_batch(B=2, T=6)
    lengths = torch.tensor([6, 3])
    out = model.compute_loss({**batch, "lengths": lengths})
    logits = model(batch["x"]).logits
    ref = torch.cat([
        torch.nn.functional.cross_entropy(logits[0], batch["y"][0], reduction="none"),
        torch.nn.functional.cross_entropy(logits[1, :3], batch["y"][1, :3], reduction="none"),
    ]).mean()
    torch.testing.assert_close(out.loss, ref)
    assert out.count == 9


def test_lm_generate_is_repeatable_and_top_k_1_is_greedy():
    model = LanguageModel(vocab_size=13, hidden_size=8).eval()
    prompt = torch.tensor([1, 4, 2])

    def sample(seed):
        g = torch.Generator().manual_seed(seed)
        return model.generate(prompt, 12, temperature=1.3, top_p=0.9, generator=g)

    assert sample(5).shape == (12,)
    assert torch.equal(sample(5), sample(5))
    assert not torch.equal(sample(5), sample(6))
    greedy = model.generate(prompt, 8, top_k=1)
    seq = prompt.clone()  # reference: rerun the whole prefix, take the argmax
    for _ in range(8):
        nxt = model(seq[None]).logits[0, -1].argmax()
        seq = torch.cat([seq, nxt[None]])
    assert torch.equal(greedy, seq[3:])
    streamed = [int(t) for t in model.iter_generate(prompt, 8, top_k=1)]
    assert streamed == greedy.tolist()
    batched = model.generate(torch.stack([prompt, prompt]), 8, temperature=0)
    assert torch.equal(batched, torch.stack([greedy, greedy]))


def test_sampling_respects_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(400, 4)
    g = torch.Generator().manual_seed(0)
    top2 = sample_logits(logits, top_k=2, generator=g)
    assert set(top2.tolist()) == {0, 1}
    nucleus = sample_logits(logits, top_p=0.75, generator=g)  # 0.5 + 0.3 reach 0.75
    assert set(nucleus.tolist()) == {0, 1}
    assert set(sample_logits(logits, top_p=0.4, generator=g).tolist()) == {0}


# ---------------------------------------------------------------- attention and seq2seq


@pytest.mark.parametrize("attn", [
    BahdanauAttention(6, 5), LuongAttention(6, 5, "general"), LuongAttention(5, 5, "dot"),
])
def test_attention_is_a_masked_softmax_over_valid_positions(attn):
    q_size = 6 if not isinstance(attn, LuongAttention) or attn.method == "general" else 5
    query, keys = torch.randn(3, q_size), torch.randn(3, 7, 5)
    mask = torch.arange(7) < torch.tensor([7, 2, 4])[:, None]
    context, weights = attn(query, keys, mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    assert torch.all(weights[~mask] == 0) and torch.all(weights[mask] > 0)
    torch.testing.assert_close(context, torch.einsum("bs,bsk->bk", weights, keys))
    garbage = keys.masked_fill(~mask[..., None], 100.0)  # padding must not matter
    torch.testing.assert_close(attn(query, garbage, mask)[0], context)
    if isinstance(attn, LuongAttention) and attn.method == "dot":
        ref = torch.softmax((keys[1, :2] @ query[1]), -1)  # by hand, valid part only
        torch.testing.assert_close(weights[1, :2], ref)


def s2s_pairs(reverse=True):
    """Six short source/target pairs: the target is the source reversed (or copied)."""
    srcs = [[4, 5, 6], [7, 8], [5, 9, 4, 7], [6, 6, 8], [9, 7], [8, 4, 5, 9]]
    tgts = [s[::-1] if reverse else s for s in srcs]
    S, T = max(map(len, srcs)), max(map(len, tgts)) + 2
    x = torch.tensor([s + [0] * (S - len(s)) for s in srcs])
    y = torch.tensor([[2, *t, 3] + [0] * (T - len(t) - 2) for t in tgts])
    return {"x": x, "lengths": torch.tensor([len(s) for s in srcs]), "y": y,
            "y_lengths": torch.tensor([len(t) + 2 for t in tgts])}, tgts


@pytest.mark.parametrize("attention,cell,reverse", [
    ("bahdanau", "gru", True), ("luong", "lstm", True), ("none", "lstm", False),
])
def test_seq2seq_overfits_pairs_until_decoding_is_exact(attention, cell, reverse):
    batch, tgts = s2s_pairs(reverse)
    model = Seq2Seq(src_vocab_size=10, tgt_vocab_size=10, cell=cell, hidden_size=32,
                    attention=attention, embedding_dim=16)
    first, last = train(model, batch, 150, lr=2e-2)
    assert last < 0.05 * first
    model.eval()
    assert model.greedy(batch["x"], batch["lengths"], max_len=8).tokens == tgts
    assert model.beam_search(batch["x"], batch["lengths"], beam_size=3, max_len=8).tokens == tgts


@pytest.mark.parametrize("attention,cell", [("bahdanau", "lstm"), ("luong", "gru"),
                                            ("none", "rnn")])
def test_beam_size_1_equals_greedy(attention, cell):
    model = Seq2Seq(src_vocab_size=12, tgt_vocab_size=9, cell=cell, hidden_size=16,
                    num_layers=2, attention=attention).eval()
    x, lengths = padded_ids(B=5, T=7, vocab=12, min_len=1)
    greedy = model.greedy(x, lengths, max_len=10)
    beam = model.beam_search(x, lengths, beam_size=1, max_len=10, length_penalty=0.7)
    assert beam.tokens == greedy.tokens
    torch.testing.assert_close(beam.log_probs, greedy.log_probs, atol=1e-4, rtol=0)
    lens = torch.tensor([len(t) + (len(t) < 10) for t in greedy.tokens]).float()
    torch.testing.assert_close(beam.scores, beam.log_probs / ((5 + lens) / 6) ** 0.7)
    if attention != "none":
        for g, b, n, t in zip(greedy.attention, beam.attention, lengths, greedy.tokens):
            assert g.shape == b.shape == (len(t), n)
            torch.testing.assert_close(g, b, atol=1e-5, rtol=0)
    wide = model.beam_search(x, lengths, beam_size=4, max_len=10, length_penalty=0.0)
    assert torch.all(wide.log_probs >= greedy.log_probs - 1e-4)


def test_seq2seq_without_teacher_forcing_follows_its_own_argmax():
    batch, _ = s2s_pairs()
    model = Seq2Seq(src_vocab_size=10, tgt_vocab_size=10, cell="gru", hidden_size=16).eval()
    model.teacher_forcing = 0.0
    steps = 6
    y_in = torch.full((6, steps), 2)  # only the first (bos) column is read
    logits = model(batch["x"], batch["lengths"], y_in).outputs
    greedy = model.greedy(batch["x"], batch["lengths"], max_len=steps)
    for row, toks in zip(logits.argmax(-1).tolist(), greedy.tokens):
        assert row[: len(toks)] == toks


def test_decoder_whole_sequence_path_equals_the_step_loop():
    dec = Decoder("lstm", 8, 5, vocab_size=5, num_layers=2).eval()
    ids = torch.randint(0, 5, (3, 6))
    state = dec.start((torch.randn(2, 3, 8), torch.randn(2, 3, 8)))
    fast = dec(ids, state).outputs
    outs, s = [], state
    for t in range(6):
        o, s, _ = dec.step(ids[:, t], s)
        outs.append(o)
    torch.testing.assert_close(fast, torch.stack(outs, 1), atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- one-to-many


def test_conditional_generator_learns_a_sequence_per_condition():
    c = torch.eye(4)
    y = torch.tensor([[3, 4, 5, 2], [6, 6, 3, 2], [5, 4, 3, 2], [7, 3, 7, 2]])
    model = ConditionalGenerator(condition_size=4, vocab_size=8, cell="lstm", hidden_size=16,
                                 eos_id=2, num_layers=2)
    first, last = train(model, {"c": c, "y": y}, 100, lr=2e-2)
    assert last < 0.1 * first
    assert torch.equal(model.eval().generate(c, 6)[:, :4], y)
    assert torch.all(model.generate(c, 6)[:, 4:] == 2)  # eos repeats after the end
    g1, g2 = (torch.Generator().manual_seed(3) for _ in range(2))
    assert torch.equal(model.generate(c, 6, temperature=1.0, generator=g1),
                       model.generate(c, 6, temperature=1.0, generator=g2))


@pytest.mark.parametrize("output", ["real", "binary"])
def test_conditional_generator_frames(output):
    c = torch.randn(8, 3)
    t = torch.linspace(0, 3, 10)
    y = torch.sin(t[None, :, None] * (1 + c[:, None, :1]))  # (8, 10, 1) waves set by c
    y = torch.cat([y, -y], dim=-1)
    if output == "binary":
        y = (y > 0).float()
    model = ConditionalGenerator(condition_size=3, output_size=2, cell="gru", hidden_size=16,
                                 output=output)
    first, last = train(model, {"c": c, "y": y}, 100, lr=2e-2)
    assert last < 0.3 * first
    assert model.eval().generate(c, 10).shape == (8, 10, 2)


# ---------------------------------------------------------------- forecasting


def sine_windows(B=32, W=20, horizon=5):
    phase = torch.rand(B, 1) * 2 * math.pi
    t = torch.arange(W + horizon) * 0.3
    s = torch.sin(t + phase)  # (B, W + horizon)
    return {"x": s[:, :W, None], "y": s[:, W:]}


@pytest.mark.parametrize("mode", ["direct", "autoregressive"])
def test_forecaster_fits_a_noiseless_sine(mode):
    batch = sine_windows()
    model = Forecaster(horizon=5, cell="gru", hidden_size=24, mode=mode)
    first, last = train(model, batch, 150, lr=1e-2)
    assert last < 0.03 * first and last < 0.01
    pred = model.eval().predict(batch["x"])
    assert pred.point.shape == (32, 5)
    assert (pred.point - batch["y"]).pow(2).mean() < 0.01


@pytest.mark.parametrize("output", ["quantile", "gaussian"])
def test_forecaster_probabilistic_outputs_train(output):
    batch = sine_windows()
    model = Forecaster(horizon=5, cell="lstm", hidden_size=16, mode="autoregressive",
                       output=output, teacher_forcing=0.5)
    first, last = train(model, batch, 100, lr=1e-2)
    assert last < 0.3 * first if output == "quantile" else last < first - 1.0
    pred = model.eval().predict(batch["x"])
    if output == "quantile":
        assert pred.quantiles.shape == (32, 5, 3) and pred.levels == (0.1, 0.5, 0.9)
        torch.testing.assert_close(pred.point, pred.quantiles[..., 1])
    else:
        assert pred.std.shape == (32, 5) and torch.all(pred.std > 0)


def test_pinball_loss_matches_the_formula_by_hand():
    levels = [0.1, 0.5, 0.9]
    pred = torch.tensor([[0.0, 1.0, 2.0], [1.5, -1.0, 0.5]])
    y = torch.tensor([1.2, -0.3])
    total = 0.0
    for i in range(2):
        for j, q in enumerate(levels):
            e = y[i].item() - pred[i, j].item()
            total += q * e if e >= 0 else (q - 1) * e
    loss = pinball_loss(pred, y, torch.tensor(levels))
    assert loss.item() == pytest.approx(total / 6)
    model = Forecaster(horizon=2, output="quantile", quantiles=levels, hidden_size=4)
    params = pred.view(1, 2, 1, 3)
    assert model.out.loss(params, y.view(1, 2, 1)).item() == pytest.approx(total / 6)


def test_forecaster_multivariate_targets():
    x, y = torch.randn(4, 10, 3), torch.randn(4, 6, 2)
    model = Forecaster(horizon=6, input_size=3, output_size=2, mode="autoregressive",
                       output="gaussian", hidden_size=8)
    out = model.compute_loss({"x": x, "y": y, "lengths": torch.tensor([10, 4, 7, 9])})
    assert out.loss.isfinite()
    assert model.predict(x).point.shape == (4, 6, 2)


# ---------------------------------------------------------------- one-to-one


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_feedforward_learns(task):
    x = torch.randn(64, 3, 2)  # flattened to 6 features
    w = torch.randn(6)
    y = (x.flatten(1) @ w > 0).long() if task == "classification" else x.flatten(1) @ w
    model = FeedForward(input_size=6, hidden_sizes=[16], output_size=2 if y.dtype ==
                        torch.long else 1, task=task)
    first, last = train(model, {"x": x, "y": y}, 100)
    assert last < 0.3 * first


# ---------------------------------------------------------------- config round trip


def example_models_and_batches():
    ids, lengths = padded_ids(B=4, T=6, vocab=10)
    s2s, _ = s2s_pairs()
    return [
        (SequenceClassifier(num_classes=3, vocab_size=10, hidden_size=8, bidirectional=True,
                            pooling="attention", dropout=0.1, num_layers=2),
         {"x": ids, "lengths": lengths, "y": torch.tensor([0, 1, 2, 1])}),
        (SequenceRegressor(input_size=2, output_size=2, cell="lngru", hidden_size=8),
         {"x": torch.randn(4, 5, 2), "y": torch.randn(4, 2)}),
        (SequenceTagger(num_tags=4, vocab_size=10, cell="lnlstm", hidden_size=8),
         {"x": ids, "lengths": lengths, "y": torch.randint(0, 4, (4, 6))}),
        (LanguageModel(vocab_size=10, hidden_size=8, tie_weights=True, num_layers=2),
         {"x": ids, "y": ids.roll(-1, 1), "lengths": lengths}),
        (Seq2Seq(src_vocab_size=10, tgt_vocab_size=10, hidden_size=8, num_layers=2), s2s),
        (ConditionalGenerator(condition_size=3, vocab_size=10, hidden_size=8, eos_id=3,
                              attention="bahdanau", memory_size=5),
         {"c": torch.randn(4, 3), "y": ids, "memory": torch.randn(4, 7, 5)}),
        (Forecaster(horizon=3, input_size=2, hidden_size=8, mode="autoregressive",
                    output="quantile", quantiles=[0.25, 0.5, 0.75]),
         {"x": torch.randn(4, 8, 2), "y": torch.randn(4, 3)}),
        (FeedForward(input_size=6, hidden_sizes=[8, 8], output_size=3),
         {"x": torch.randn(4, 6), "y": torch.tensor([0, 1, 2, 0])}),
    ]


def test_every_model_is_covered_and_registered():
    names = {type(m).__name__ for m, _ in example_models_and_batches()}
    core = {n for n, cls in MODELS.items() if cls.__module__.split(".")[-1] in CORE_MODULES}
    assert names == core


CORE_MODULES = {"classifier", "tagger", "language_model", "seq2seq", "generator", "forecaster",
                "feedforward"}


@pytest.mark.parametrize("index", range(8))
def test_get_config_round_trip_rebuilds_an_identical_model(index):
    model, batch = example_models_and_batches()[index]
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = MODELS[type(model).__name__](**config)
    assert rebuilt.get_config() == config
    rebuilt.load_state_dict(model.state_dict())
    model.eval(), rebuilt.eval()
    a, b = model.compute_loss(batch), rebuilt.compute_loss(batch)
    assert torch.equal(a.loss, b.loss)
    assert a.metrics == b.metrics and a.count == b.count


def test_lm_chunk_where_a_sequence_has_ended_is_masked_not_an_error():
    model = LanguageModel(vocab_size=7, hidden_size=8)
    batch = cyclic_batch(B=3, T=4)
    out = model.compute_loss({**batch, "lengths": torch.tensor([4, 0, 2])})
    assert out.count == 6 and out.loss.isfinite()
    empty = model.compute_loss({**batch, "lengths": torch.tensor([0, 0, 0])})
    assert empty.count == 0 and empty.loss.item() == 0.0
