"""``SequenceEncoder`` (rnnkit/models/encoder.py) against torch.nn: the embedding, the
layer it builds, dropout, lengths, ``step`` and ``final_hidden``, each checked with
``nn.Embedding`` and ``nn.GRU``/``nn.LSTM`` holding the encoder's own weights (found by
mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models import SequenceEncoder

TORCH = {"gru": nn.GRU, "lstm": nn.LSTM}


def _reference(enc: SequenceEncoder, cell: str) -> nn.Module:
    """torch.nn's layer with the encoder's weights (the drop-ins share torch's names)."""
    rnn = enc.rnn
    ref = TORCH[cell](rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers,
                      bidirectional=rnn.bidirectional, batch_first=True)
    ref.load_state_dict(rnn.state_dict())
    return ref.eval()


def _states_close(a, b) -> bool:
    if isinstance(a, tuple):
        return all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b, strict=True))
    return torch.allclose(a, b, atol=1e-6)


def test_exactly_one_input_kind_is_required():
    message = ("^give exactly one of vocab_size \\(token ids\\) or input_size \\(float "
               "features\\), got vocab_size={}, input_size={}$")
    with pytest.raises(ValueError, match=message.format("None", "None")):
        SequenceEncoder("gru", 4)
    with pytest.raises(ValueError, match=message.format(5, 3)):
        SequenceEncoder("gru", 4, vocab_size=5, input_size=3)


def test_defaults_one_unidirectional_layer_with_a_padding_row_of_hidden_size():
    enc = SequenceEncoder("lstm", 6, vocab_size=9)
    assert enc.embedding_dim == 6 and enc.embedding.weight.shape == (9, 6)
    assert enc.embedding.padding_idx == 0
    assert torch.equal(enc.embedding.weight[0], torch.zeros(6))
    rnn = enc.rnn
    assert isinstance(rnn, nn.LSTM)
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers) == (6, 6, 1)
    assert not rnn.bidirectional and rnn.dropout == 0.0 and enc.dropout.p == 0.0
    assert enc.directions == 1 and enc.output_size == 6


def test_options_reach_the_embedding_and_the_layer():
    enc = SequenceEncoder("gru", 5, vocab_size=9, embedding_dim=3, num_layers=2,
                          bidirectional=True, dropout=0.25, padding_idx=None)
    assert enc.embedding_dim == 3 and enc.embedding.weight.shape == (9, 3)
    assert enc.embedding.padding_idx is None
    assert enc.embedding.weight[0].abs().sum() > 0  # no padding row: row 0 is drawn
    rnn = enc.rnn
    assert isinstance(rnn, nn.GRU)
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers) == (3, 5, 2)
    assert rnn.bidirectional and rnn.dropout == 0.25 and enc.dropout.p == 0.25
    assert enc.directions == 2 and enc.output_size == 10
    padded = SequenceEncoder("gru", 5, vocab_size=9, padding_idx=4)
    assert padded.embedding.padding_idx == 4


def test_one_layer_has_no_dropout_between_layers():
    # (torch.nn warns about dropout > 0 with one layer: it would never act)
    enc = SequenceEncoder("gru", 5, input_size=3, dropout=0.5)
    assert enc.rnn.dropout == 0.0 and enc.dropout.p == 0.5


def test_float_features_have_no_embedding():
    enc = SequenceEncoder("gru", 5, input_size=3)
    assert enc.embedding is None and enc.embedding_dim is None
    assert enc.rnn.input_size == 3


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_token_ids_equal_torch_embedding_then_torch_layer(cell):
    torch.manual_seed(0)
    enc = SequenceEncoder(cell, 4, vocab_size=7, embedding_dim=3, num_layers=2,
                          bidirectional=True).eval()
    ref = _reference(enc, cell)
    x = torch.randint(0, 7, (3, 5))
    out, h_n = enc(x)
    want, want_h = ref(F.embedding(x, enc.embedding.weight))
    assert torch.allclose(out, want, atol=1e-6) and _states_close(h_n, want_h)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_given_state_is_where_the_layer_starts(cell):
    torch.manual_seed(1)
    enc = SequenceEncoder(cell, 4, input_size=3, num_layers=2).eval()
    ref = _reference(enc, cell)
    x = torch.randn(2, 5, 3)
    h0 = torch.randn(2, 2, 4)
    hx = (h0, torch.randn(2, 2, 4)) if cell == "lstm" else h0
    out, h_n = enc(x, hx=hx)
    want, want_h = ref(x, hx)
    assert torch.allclose(out, want, atol=1e-6) and _states_close(h_n, want_h)
    assert not torch.allclose(out, enc(x)[0])


def test_lengths_keep_padding_out_and_a_zero_length_runs_one_step():
    torch.manual_seed(2)
    enc = SequenceEncoder("gru", 4, input_size=3).eval()
    ref = _reference(enc, "gru")
    x = torch.randn(3, 6, 3)
    out, h_n = enc(x, torch.tensor([6, 2, 0]))
    for b, n in enumerate([6, 2, 1]):  # (a sequence of 0 steps is read for one)
        want, want_h = ref(x[b:b + 1, :n])
        assert torch.allclose(out[b, :n], want[0], atol=1e-6)
        assert torch.equal(out[b, n:], torch.zeros(6 - n, 4))
        assert torch.allclose(h_n[:, b], want_h[:, 0], atol=1e-6)


def test_lengths_are_not_changed_in_place():
    enc = SequenceEncoder("gru", 4, input_size=3).eval()
    lengths = torch.tensor([3, 0])
    enc(torch.randn(2, 3, 3), lengths)
    assert lengths.tolist() == [3, 0]


def test_dropout_follows_the_embedding_in_training_only():
    torch.manual_seed(3)
    enc = SequenceEncoder("gru", 4, vocab_size=7, dropout=0.5)
    ref = _reference(enc, "gru")
    x = torch.randint(1, 7, (2, 5))
    torch.manual_seed(11)
    out, _ = enc(x)
    torch.manual_seed(11)
    want, _ = ref(F.dropout(F.embedding(x, enc.embedding.weight), 0.5, training=True))
    assert torch.allclose(out, want, atol=1e-6)
    enc.eval()
    out, _ = enc(x)
    want, _ = ref(F.embedding(x, enc.embedding.weight))
    assert torch.allclose(out, want, atol=1e-6)
    assert torch.equal(enc.embed(x), F.embedding(x, enc.embedding.weight))


def test_features_pass_through_embed_and_the_wrong_dtype_is_refused():
    feats = SequenceEncoder("gru", 4, input_size=3).eval()
    x = torch.randn(2, 5, 3)
    assert torch.equal(feats.embed(x), x)
    with pytest.raises(TypeError, match="^this model takes float features, got dtype "
                                        "torch.int64$"):
        feats(torch.ones(2, 5, 3, dtype=torch.long))
    ids = SequenceEncoder("gru", 4, vocab_size=7)
    with pytest.raises(TypeError, match="^this model takes token ids \\(integers\\), got "
                                        "dtype torch.float32$"):
        ids(x)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_step_continues_forward_from_its_state(cell):
    torch.manual_seed(4)
    enc = SequenceEncoder(cell, 4, vocab_size=7, num_layers=2).eval()
    ref = _reference(enc, cell)
    x = torch.randint(0, 7, (3, 6))
    _, state = enc(x[:, :4])
    y_t, state = enc.step(x[:, 4], state)
    want, want_h = ref(F.embedding(x[:, :5], enc.embedding.weight))
    assert torch.allclose(y_t, want[:, 4], atol=1e-6) and _states_close(state, want_h)
    y0, _ = enc.step(x[:, 0])  # from the zero state
    assert torch.allclose(y0, want[:, 0], atol=1e-6)


def test_final_hidden_is_the_top_layers_directions_side_by_side():
    torch.manual_seed(5)
    enc = SequenceEncoder("lstm", 4, input_size=3, num_layers=2, bidirectional=True).eval()
    ref = _reference(enc, "lstm")
    x = torch.randn(2, 5, 3)
    out, h_n = enc(x)
    _, (h, _) = ref(x)  # (L*D, B, H): layer 1's forward, then its backward direction
    want = torch.cat([h[2], h[3]], dim=-1)  # (B, 2H)
    assert torch.allclose(enc.final_hidden(h_n), want, atol=1e-6)
    assert torch.allclose(want[:, :4], out[:, -1, :4], atol=1e-6)  # forward: last step
    assert torch.allclose(want[:, 4:], out[:, 0, 4:], atol=1e-6)  # backward: first step
    one = SequenceEncoder("gru", 4, input_size=3, num_layers=2).eval()
    _, h_n = one(x)
    assert torch.equal(one.final_hidden(h_n), h_n[-1])
