"""The shared recurrent decoder (rnnkit/models/decoder.py): ``forward`` against ``step``
run by hand (with and without attention, teacher forcing and feedback), the options that
shape it, and tied embeddings (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.decoder import Decoder, DecoderState


def _state(dec, B, cell, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(dec.rnn.num_layers, B, dec.hidden_size, generator=g)
    return dec.start((h, torch.randn(h.shape, generator=g)) if cell == "lstm" else h)


def _by_steps(dec, inputs, state, memory=None, choose=None):
    outs, weights = [], []
    out = None
    for t in range(inputs.shape[1]):
        x = inputs[:, t] if choose is None or out is None else choose(t, inputs[:, t], out)
        out, state, w = dec.step(x, state, memory)
        outs.append(out)
        weights.append(w)
    return torch.stack(outs, 1), state, weights


def _same_state(a, b):
    pa = a.rnn if isinstance(a.rnn, tuple) else (a.rnn,)
    pb = b.rnn if isinstance(b.rnn, tuple) else (b.rnn,)
    for x, y in zip(pa, pb):
        torch.testing.assert_close(x, y)
    if a.feed is None or b.feed is None:
        assert a.feed is None and b.feed is None
    else:
        torch.testing.assert_close(a.feed, b.feed)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_forward_without_attention_is_the_steps_from_the_given_state(cell):
    torch.manual_seed(0)
    dec = Decoder(cell, 6, 9, vocab_size=9, num_layers=2).eval()
    ids = torch.randint(0, 9, (3, 5))
    state = _state(dec, 3, cell)
    got = dec(ids, state)
    want, final, _ = _by_steps(dec, ids, state)
    torch.testing.assert_close(got.outputs, want)
    _same_state(got.state, final)
    assert got.weights is None and got.state.feed is None
    fresh = dec(ids, _state(dec, 3, cell, seed=1))
    assert not torch.allclose(fresh.outputs, got.outputs)  # the state is read


def test_forward_with_attention_feeds_the_attentional_vector_and_stacks_weights():
    torch.manual_seed(1)
    dec = Decoder("gru", 6, 9, vocab_size=9, attention="bahdanau", memory_size=4).eval()
    keys, mask = torch.randn(3, 7, 4), torch.arange(7)[None] < torch.tensor([[7], [3], [5]])
    memory = dec.memory(keys, mask)
    ids = torch.randint(0, 9, (3, 5))
    state = _state(dec, 3, "gru")
    assert state.feed.shape == (3, 6) and torch.all(state.feed == 0)
    got = dec(ids, state, memory)
    want, final, weights = _by_steps(dec, ids, state, memory)
    torch.testing.assert_close(got.outputs, want)
    torch.testing.assert_close(got.weights, torch.stack(weights, 1))
    assert got.weights.shape == (3, 5, 7)
    _same_state(got.state, final)
    assert final.feed is not None


def test_teacher_forcing_below_one_feeds_back_the_model_s_own_output():
    torch.manual_seed(2)
    dec = Decoder("gru", 6, 9, vocab_size=9).eval()
    ids = torch.randint(0, 9, (4, 6))
    state = _state(dec, 4, "gru")

    def feedback(out):
        return out.argmax(-1)

    never = dec(ids, state, teacher_forcing=0.0, feedback=feedback)
    want, _, _ = _by_steps(dec, ids, state, choose=lambda t, x, out: feedback(out))
    torch.testing.assert_close(never.outputs, want)
    always = dec(ids, state, teacher_forcing=1.0, feedback=feedback)
    torch.testing.assert_close(always.outputs, _by_steps(dec, ids, state)[0])
    torch.manual_seed(5)
    half = dec(ids, state, teacher_forcing=0.5, feedback=feedback)
    torch.manual_seed(5)

    def coin(t, x, out):
        own = torch.rand(x.shape[0]) >= 0.5
        return torch.where(own, feedback(out), x)

    torch.testing.assert_close(half.outputs, _by_steps(dec, ids, state, choose=coin)[0])


def test_options_shape_the_decoder():
    plain = Decoder("lstm", 6, 9, vocab_size=9)
    assert plain.embedding.embedding_dim == 6 and plain.dropout.p == 0.0
    assert plain.embedding.padding_idx is None and plain.attention is None
    assert plain.rnn.dropout == 0.0 and plain.project is None and plain.rnn.num_layers == 1
    deep = Decoder("lstm", 6, 9, vocab_size=9, num_layers=2, dropout=0.3, embedding_dim=4)
    assert deep.rnn.dropout == 0.3 and deep.dropout.p == 0.3
    assert deep.embedding.embedding_dim == 4 and deep.rnn.input_size == 4
    one = Decoder("lstm", 6, 9, vocab_size=9, num_layers=1, dropout=0.3)
    assert one.rnn.dropout == 0.0 and one.dropout.p == 0.3  # no dropout between 1 layer
    frames = Decoder("gru", 6, 2, input_size=3, attention="luong", memory_size=5)
    assert frames.embedding is None and frames.rnn.input_size == 3 + 6  # input feeding
    assert frames.combine.in_features == 6 + 5


def test_tied_embeddings():
    torch.manual_seed(3)
    same = Decoder("gru", 6, 9, vocab_size=9, tie_embeddings=True)
    assert isinstance(same.project, torch.nn.Identity)
    assert same.head.weight is same.embedding.weight
    narrow = Decoder("gru", 6, 9, vocab_size=9, embedding_dim=4, tie_embeddings=True).eval()
    assert narrow.project.in_features == 6 and narrow.project.out_features == 4
    assert narrow.project.bias is None
    h = torch.randn(2, 6)
    torch.testing.assert_close(narrow.output(h), narrow.head(narrow.project(h)))
    torch.testing.assert_close(
        narrow.output(h), narrow.project(h) @ narrow.embedding.weight.T + narrow.head.bias)
    for kw in ({"vocab_size": 8}, {"input_size": 3}):
        with pytest.raises(ValueError) as err:
            Decoder("gru", 6, 9, tie_embeddings=True, **kw)
        got = kw.get("vocab_size")
        assert str(err.value) == ("tie_embeddings needs token inputs from the output "
                                  f"vocabulary, got vocab_size {got} and output_size 9")


def test_without_attention_a_step_feeds_nothing_forward():
    dec = Decoder("gru", 4, 5, vocab_size=5)
    out, state, w = dec.step(torch.tensor([1, 2]), DecoderState(None))
    assert out.shape == (2, 5) and state.feed is None and w is None
