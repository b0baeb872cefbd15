"""``ConditionalGenerator`` (rnnkit/models/generator.py) against ``nn.GRU``/``nn.LSTM`` and a
linear head holding its decoder's weights, started from h_0 = tanh(W_c c + b) worked out by
hand: teacher forcing, the three losses, greedy and sampled generation and beam search
(found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models import ConditionalGenerator, sample_logits
from rnnkit.models import generator as generator_module

TORCH = {"gru": nn.GRU, "lstm": nn.LSTM}


def _gen(cell="gru", seed=0, **options) -> ConditionalGenerator:
    torch.manual_seed(seed)
    options = {"condition_size": 4, "hidden_size": 6, **options}
    if options.get("output", "tokens") == "tokens":
        options.setdefault("vocab_size", 7)
    gen = ConditionalGenerator(cell=cell, **options)
    with torch.no_grad():  # a livelier head than the default initialisation
        gen.decoder.head.weight.mul_(4.0)
        gen.init.weight.mul_(2.0)
    return gen.eval()


def _h0(gen: ConditionalGenerator, c: torch.Tensor):
    """tanh(W_c c + b), cut into (state tensor, layer, H) blocks: each (L, B, H)."""
    z = torch.tanh(c @ gen.init.weight.T + gen.init.bias)  # (B, S*L*H)
    z = z.view(c.shape[0], gen.n_states, gen.num_layers, gen.hidden_size)
    parts = [z[:, i].transpose(0, 1) for i in range(gen.n_states)]
    return tuple(parts) if len(parts) > 1 else parts[0]


def _logits(gen: ConditionalGenerator, cell: str, inputs, state):
    """The decoder without attention by hand: embedding (tokens), torch's layer, head."""
    rnn = gen.decoder.rnn
    layer = TORCH[cell](rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers,
                        batch_first=True)
    layer.load_state_dict(rnn.state_dict())
    x = F.embedding(inputs, gen.decoder.embedding.weight) if gen.output == "tokens" else inputs
    h, state = layer(x, state)
    return h @ gen.decoder.head.weight.T + gen.decoder.head.bias, state


def _free_run(gen, cell, c, steps, choose):
    """Generation by hand: feed each step's choice back into the layer."""
    B = c.shape[0]
    x = (torch.full((B, 1), gen.bos_id) if gen.output == "tokens"
         else torch.zeros(B, 1, gen.size))
    state, out = _h0(gen, c), []
    for _ in range(steps):
        logits, state = _logits(gen, cell, x, state)
        x = choose(logits[:, 0])
        out.append(x)
        x = x[:, None]
    return torch.stack(out, 1)


@pytest.mark.parametrize("options, problem", [
    ({"output": "words", "vocab_size": 5}, "^output must be one of \\('tokens', 'real', "
                                           "'binary'\\), got 'words'$"),
    ({}, "^output='tokens' needs vocab_size; 'real'/'binary' need output_size$"),
    ({"output": "real", "vocab_size": 5, "output_size": 2}, "needs vocab_size"),
    ({"output": "binary"}, "need output_size"),
])
def test_bad_output_arguments_are_refused(options, problem):
    with pytest.raises(ValueError, match=problem):
        ConditionalGenerator(condition_size=3, **options)


def test_defaults():
    gen = ConditionalGenerator(condition_size=3, vocab_size=9)
    assert gen.get_config() == {
        "condition_size": 3, "vocab_size": 9, "output_size": None, "cell": "gru",
        "hidden_size": 128, "num_layers": 1, "embedding_dim": 128, "dropout": 0.0,
        "output": "tokens", "bos_id": 1, "eos_id": None, "attention": "none",
        "memory_size": None, "teacher_forcing": 1.0}
    dec = gen.decoder
    assert isinstance(dec.rnn, nn.GRU) and dec.rnn.num_layers == 1
    assert dec.rnn.input_size == 128 and dec.rnn.hidden_size == 128
    assert dec.attention is None and dec.dropout.p == 0.0
    assert dec.head.out_features == 9 and gen.init.weight.shape == (128, 3)


def test_options_reach_the_decoder():
    gen = ConditionalGenerator(condition_size=3, vocab_size=9, cell="lstm", hidden_size=5,
                               num_layers=2, embedding_dim=4, dropout=0.25, bos_id=2,
                               eos_id=3, attention="bahdanau", memory_size=7,
                               teacher_forcing=0.5)
    assert gen.get_config() == {
        "condition_size": 3, "vocab_size": 9, "output_size": None, "cell": "lstm",
        "hidden_size": 5, "num_layers": 2, "embedding_dim": 4, "dropout": 0.25,
        "output": "tokens", "bos_id": 2, "eos_id": 3, "attention": "bahdanau",
        "memory_size": 7, "teacher_forcing": 0.5}
    dec = gen.decoder
    assert isinstance(dec.rnn, nn.LSTM) and dec.rnn.num_layers == 2
    assert dec.rnn.input_size == 4 + 5 and dec.rnn.dropout == 0.25  # (input feeding)
    assert dec.embedding.weight.shape == (9, 4) and dec.dropout.p == 0.25
    assert dec.attention is not None and dec.combine.in_features == 5 + 7
    assert gen.init.weight.shape == (2 * 2 * 5, 3)  # (h, c) for each of 2 layers
    gen.teacher_forcing = 1.0  # (read when saved)
    assert gen.get_config()["teacher_forcing"] == 1.0


@pytest.mark.parametrize("output", ["real", "binary"])
def test_frame_outputs_read_and_emit_frames(output):
    gen = ConditionalGenerator(condition_size=3, output_size=4, output=output, hidden_size=5)
    dec = gen.decoder
    assert dec.embedding is None and dec.rnn.input_size == 4 and dec.head.out_features == 4
    config = gen.get_config()
    assert (config["vocab_size"], config["output_size"], config["embedding_dim"]) == (None, 4,
                                                                                       None)


@pytest.mark.parametrize("cell, layers", [("gru", 1), ("lstm", 2)])
def test_teacher_forcing_reads_bos_then_the_targets_from_the_tanh_state(cell, layers):
    gen = _gen(cell, num_layers=layers, bos_id=2)
    c, y = torch.randn(3, 4), torch.randint(0, 7, (3, 5))
    got = gen(c, y).outputs
    inputs = torch.cat([torch.full((3, 1), 2), y[:, :-1]], dim=1)
    want, _ = _logits(gen, cell, inputs, _h0(gen, c))
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("output", ["real", "binary"])
def test_teacher_forcing_of_frames_starts_from_a_zero_frame(output):
    gen = _gen(output=output, output_size=3)
    c, y = torch.randn(2, 4), torch.randn(2, 5, 3)
    got = gen(c, y).outputs
    want, _ = _logits(gen, "gru", torch.cat([torch.zeros(2, 1, 3), y[:, :-1]], 1), _h0(gen, c))
    assert torch.allclose(got, want, atol=1e-5)


def test_token_loss_is_the_cross_entropy_over_valid_steps():
    gen = _gen("lstm")
    c, y = torch.randn(3, 4), torch.randint(0, 7, (3, 5))
    lengths = torch.tensor([5, 2, 3])
    logits = gen(c, y).outputs
    total = sum(F.cross_entropy(logits[b, :n], y[b, :n], reduction="sum")
                for b, n in enumerate(lengths.tolist()))
    out = gen.compute_loss({"c": c, "y": y, "lengths": lengths})
    assert out.count == 10
    assert out.loss.item() == pytest.approx(total.item() / 10, rel=1e-5)
    assert out.metrics == {"tokens_loss": pytest.approx(total.item() / 10, rel=1e-5)}
    every = gen.compute_loss({"c": c, "y": y})
    assert every.count == 15
    assert every.loss.item() == pytest.approx(
        F.cross_entropy(logits.reshape(15, 7), y.reshape(15)).item(), rel=1e-5)


def test_real_loss_is_the_squared_error_averaged_over_features_and_valid_steps():
    gen = _gen(output="real", output_size=3)
    c, y = torch.randn(2, 4), torch.randn(2, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 1])
    pred = gen(c, y.float()).outputs.double()
    want = (((pred[0] - y[0]) ** 2).mean(-1).sum() + ((pred[1, :1] - y[1, :1]) ** 2).mean())
    out = gen.compute_loss({"c": c, "y": y, "lengths": lengths})
    assert out.count == 5 and out.loss.dtype == torch.float32
    assert out.loss.item() == pytest.approx(want.item() / 5, rel=1e-5)
    assert out.metrics == {"real_loss": pytest.approx(want.item() / 5, rel=1e-5)}


def test_binary_loss_is_the_bernoulli_nll_averaged_over_units():
    gen = _gen(output="binary", output_size=3)
    c = torch.randn(2, 4)
    y = (torch.rand(2, 4, 3) < 0.5).long()  # integer frames
    lengths = torch.tensor([2, 4])
    p = torch.sigmoid(gen(c, y.float()).outputs).double()
    t = y.double()
    nll = -(t * p.log() + (1 - t) * (1 - p).log()).mean(-1)  # (B, T)
    want = (nll[0, :2].sum() + nll[1].sum()).item() / 6
    out = gen.compute_loss({"c": c, "y": y, "lengths": lengths})
    assert out.count == 6 and out.loss.item() == pytest.approx(want, rel=1e-5)
    assert out.metrics == {"binary_loss": pytest.approx(want, rel=1e-5)}


def test_one_valid_step_is_the_loss_of_that_step():
    gen = _gen(seed=9)
    c, y = torch.randn(2, 4), torch.randint(0, 7, (2, 3))
    logits = gen(c, y).outputs
    out = gen.compute_loss({"c": c, "y": y, "lengths": torch.tensor([0, 1])})
    want = F.cross_entropy(logits[1, :1], y[1, :1]).item()
    assert out.count == 1 and out.loss.item() == pytest.approx(want, rel=1e-5)


def test_an_empty_batch_of_steps_has_loss_0():
    gen = _gen()
    out = gen.compute_loss({"c": torch.randn(2, 4), "y": torch.randint(0, 7, (2, 3)),
                            "lengths": torch.tensor([0, 0])})
    assert out.count == 0 and out.loss.item() == 0.0


@pytest.mark.parametrize("cell, layers", [("gru", 2), ("lstm", 1)])
def test_greedy_generation_feeds_back_the_argmax(cell, layers):
    gen = _gen(cell, num_layers=layers, bos_id=3)
    c = torch.randn(4, 4)
    got = gen.generate(c, 6)
    want = _free_run(gen, cell, c, 6, lambda logits: logits.argmax(-1))
    assert got.shape == (4, 6) and torch.equal(got, want)
    assert len(set(want.flatten().tolist())) > 2


def test_after_eos_every_token_is_eos():
    gen = _gen(seed=1)
    c = torch.randn(6, 4)
    free = gen.generate(c, 8)  # no eos_id: the argmax throughout
    eos = int(free[0, 2])
    gen.eos_id = eos
    got = gen.generate(c, 8)
    for row, seq in zip(got.tolist(), free.tolist(), strict=True):
        end = seq.index(eos) + 1 if eos in seq else len(seq)
        assert row == seq[:end] + [eos] * (8 - end)
    assert not torch.equal(got, free)  # a row left eos after it and is cut
    assert any(eos not in seq for seq in free.tolist())


def test_sampled_tokens_draw_with_the_options_given():
    gen = _gen("lstm", seed=2)
    c = torch.randn(5, 4)
    got = gen.generate(c, 6, temperature=0.8, top_k=4, top_p=0.6,
                       generator=torch.Generator().manual_seed(5))

    def draws(**options):
        g = torch.Generator().manual_seed(5)
        return _free_run(gen, "lstm", c, 6, lambda logits: sample_logits(
            logits, temperature=0.8, generator=g, **options))
    assert torch.equal(got, draws(top_k=4, top_p=0.6))
    # (each option changes the draws here, so each must have reached sample_logits)
    assert not torch.equal(got, draws(top_p=0.6)) and not torch.equal(got, draws(top_k=4))
    greedy = _free_run(gen, "lstm", c, 6, lambda logits: logits.argmax(-1))
    assert not torch.equal(got, greedy)


def test_binary_frames_are_thresholded_or_drawn():
    gen = _gen(output="binary", output_size=5, seed=3)
    c = torch.randn(3, 4)
    got = gen.generate(c, 4)
    want = _free_run(gen, "gru", c, 4, lambda logits: (logits > 0).float())
    assert got.shape == (3, 4, 5) and torch.equal(got, want)
    got = gen.generate(c, 4, temperature=0.7, generator=torch.Generator().manual_seed(8))
    g = torch.Generator().manual_seed(8)
    want = _free_run(gen, "gru", c, 4, lambda logits: torch.bernoulli(
        torch.sigmoid(logits / 0.7), generator=g))
    assert torch.equal(got, want)


def test_a_binary_unit_at_probability_one_half_is_off_when_greedy():
    gen = _gen(output="binary", output_size=3)
    with torch.no_grad():
        gen.decoder.head.weight.zero_()
        gen.decoder.head.bias.copy_(torch.tensor([0.0, 0.5, -0.5]))  # logits exactly these
    c = torch.randn(2, 4)
    assert gen.generate(c, 3).tolist() == [[[0.0, 1.0, 0.0]] * 3] * 2
    assert gen.generate(c, 3, temperature=0.0).tolist() == [[[0.0, 1.0, 0.0]] * 3] * 2


def test_real_frames_feed_back_the_prediction_at_any_temperature():
    gen = _gen(output="real", output_size=3, seed=4)
    c = torch.randn(2, 4)
    want = _free_run(gen, "gru", c, 5, lambda logits: logits)
    assert torch.allclose(gen.generate(c, 5), want, atol=1e-5)
    assert torch.allclose(gen.generate(c, 5, temperature=1.0), want, atol=1e-5)


@pytest.mark.parametrize("output", ["tokens", "binary", "real"])
def test_without_teacher_forcing_the_model_reads_its_own_outputs(output):
    options = {"output_size": 3} if output != "tokens" else {}
    gen = _gen(output=output, teacher_forcing=0.0, seed=5, **options)
    c = torch.randn(3, 4)
    y = (torch.randint(0, 7, (3, 5)) if output == "tokens"
         else torch.randn(3, 5, 3))  # only the first step (bos or zeros) is read
    choose = {"tokens": lambda o: o.argmax(-1), "binary": lambda o: (o > 0).float(),
              "real": lambda o: o}[output]
    got = gen(c, y).outputs
    B = 3
    x = torch.full((B, 1), 1) if output == "tokens" else torch.zeros(B, 1, 3)
    state, outs = _h0(gen, c), []
    for _ in range(5):
        logits, state = _logits(gen, "gru", x, state)
        outs.append(logits[:, 0])
        x = choose(logits[:, 0])[:, None]
    assert torch.allclose(got, torch.stack(outs, 1), atol=1e-5)


def _attending(seed=6):
    return _gen("gru", seed=seed, attention="luong", memory_size=3, eos_id=4)


def _attended_run(gen, c, memory, mask, steps):
    """Greedy generation through the decoder's own step, from the tanh state."""
    state = gen.decoder.start(_h0(gen, c))
    mem = gen.decoder.memory(memory, mask)
    x, ids = torch.full((c.shape[0],), gen.bos_id), []
    for _ in range(steps):
        out, state, _ = gen.decoder.step(x, state, mem)
        x = out.argmax(-1)
        ids.append(x)
    return torch.stack(ids, 1)


def test_attention_reads_the_memory_and_its_mask():
    gen = _attending()
    with torch.no_grad():
        gen.decoder.head.bias[4] = -50.0  # no eos: every step is free
    c, memory = torch.randn(3, 4), torch.randn(3, 5, 3) * 3
    full = torch.ones(3, 5, dtype=torch.bool)
    assert torch.equal(gen.generate(c, 6, memory=memory), _attended_run(gen, c, memory, full, 6))
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    got = gen.generate(c, 6, memory=memory, memory_mask=mask)
    assert torch.equal(got, _attended_run(gen, c, memory, mask, 6))
    y = torch.randint(0, 7, (3, 4))
    masked = gen.compute_loss({"c": c, "y": y, "memory": memory, "memory_mask": mask}).loss
    unmasked = gen.compute_loss({"c": c, "y": y, "memory": memory}).loss
    assert masked.item() != pytest.approx(unmasked.item())
    with pytest.raises(ValueError, match="^this model attends: pass memory \\(B, S, "
                                         "memory_size\\)$"):
        gen.generate(c, 3)


def _log_prob(gen, cell, c, tokens):
    """Sum of log-probabilities of tokens + [eos] read from bos, by hand (one example)."""
    seq = [gen.bos_id, *tokens, gen.eos_id]
    logits, _ = _logits(gen, cell, torch.tensor([seq[:-1]]), _h0(gen, c[None]))
    logp = logits[0].log_softmax(-1)
    return sum(logp[t, tok].item() for t, tok in enumerate(seq[1:]))


def test_beam_size_1_is_greedy_with_its_log_probability_and_gnmt_score():
    gen = _gen("lstm", seed=10, bos_id=2, eos_id=6)
    c = torch.randn(4, 4, generator=torch.Generator().manual_seed(10))
    ids = gen.generate(c, 12).tolist()
    assert all(6 in s for s in ids)  # (eos after 4, 2, 1 and 4 tokens)
    greedy = [s[:s.index(6)] for s in ids]
    assert len({len(t) for t in greedy}) > 2
    got = gen.beam_search(c, beam_size=1, max_len=12, length_penalty=0.3)
    assert got.tokens == greedy and got.attention is None
    want = torch.tensor([_log_prob(gen, "lstm", c[b], t) for b, t in enumerate(greedy)])
    assert torch.allclose(got.log_probs, want, atol=1e-4)
    lp = torch.tensor([((5 + len(t) + 1) / 6) ** 0.3 for t in greedy])
    assert torch.allclose(got.scores, want / lp, atol=1e-4)
    wide = gen.beam_search(c, beam_size=3, max_len=12, length_penalty=0.0)
    assert torch.all(wide.log_probs >= got.log_probs - 1e-4)


def test_beam_search_attends_and_returns_the_attention():
    gen = _attending(seed=8)
    c, memory = torch.randn(2, 4), torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    got = gen.beam_search(c, beam_size=1, max_len=6, memory=memory, memory_mask=mask)
    ids = _attended_run(gen, c, memory, mask, 6).tolist()
    assert got.tokens == [s[:s.index(4)] if 4 in s else s for s in ids]
    assert [tuple(a.shape) for a in got.attention] == [(len(t), 5) for t in got.tokens]
    for a in got.attention:
        assert torch.allclose(a.sum(-1), torch.ones(len(a)), atol=1e-5)
    assert all(torch.all(a[:, 3:] == 0) for a in got.attention[:1])


def test_beam_search_defaults_reach_the_search(monkeypatch):
    seen = []
    real = generator_module.beam_search_one

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)
    monkeypatch.setattr(generator_module, "beam_search_one", spy)
    gen = _gen(bos_id=2, eos_id=3)
    gen.beam_search(torch.randn(2, 4))
    assert seen == [{"beam_size": 5, "max_len": 50, "bos_id": 2, "eos_id": 3,
                     "length_penalty": 0.6}] * 2


@pytest.mark.parametrize("options", [{"eos_id": None}, {"output": "real", "output_size": 2,
                                                         "eos_id": 1}])
def test_beam_search_needs_tokens_and_an_eos(options):
    with pytest.raises(ValueError, match="^beam search needs output='tokens' and an eos_id$"):
        _gen(**options).beam_search(torch.randn(1, 4))
