"""``ImageCaptioner`` (rnnkit/models/captioner.py): its defaults and options, the condition
and memory against the formula worked out from its own weights, the multi-reference loss
against a sum over each caption alone, drawn references, and the decoding entry points
(found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models import ImageCaptioner
from rnnkit.models import captioner as captioner_module
from rnnkit.models.image_encoder import ConvEncoder

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _model(attention="luong", seed=0, **options) -> ImageCaptioner:
    torch.manual_seed(seed)
    options = {"vocab_size": 9, "image_size": 16, "channels": (4, 6), "feature_size": 8,
               "hidden_size": 8, "embedding_dim": 5, "attention": attention, **options}
    model = ImageCaptioner(**options)
    with torch.no_grad():  # affine layer norm weights other than 1 and 0, a livelier head
        model.pool[2].weight.uniform_(0.5, 1.5)
        model.pool[2].bias.uniform_(-0.5, 0.5)
        model.decoder.head.weight.mul_(4.0)
    return model.eval()


def _images(B=3, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (B, 3, size, size), dtype=torch.uint8, generator=g)


def _features(model: ImageCaptioner, images):
    """c = ReLU(LN(W_f vec(A))), and A's h*w positions as rows (B, h*w, K), by hand."""
    fmap = model.encoder((images.float() / 255 - MEAN) / STD)  # (B, K, h, w)
    B, K, h, w = fmap.shape
    lin, norm = model.pool[1], model.pool[2]
    z = fmap.reshape(B, K * h * w) @ lin.weight.T + lin.bias
    z = (z - z.mean(-1, keepdim=True)) / torch.sqrt(z.var(-1, unbiased=False, keepdim=True)
                                                     + 1e-5)
    c = (z * norm.weight + norm.bias).clamp_min(0)
    memory = torch.stack([fmap[:, :, i, j] for i in range(h) for j in range(w)], dim=1)
    return c, memory


def test_defaults():
    model = ImageCaptioner(vocab_size=9)
    assert model.get_config() == {
        "vocab_size": 9, "image_size": 64, "encoder": "cnn", "channels": [32, 64, 128],
        "feature_size": 256, "cell": "lstm", "hidden_size": 256, "num_layers": 1,
        "embedding_dim": 256, "dropout": 0.0, "attention": "bahdanau", "bos_id": 2,
        "eos_id": 3, "pad_id": 0, "references_per_step": 0, "teacher_forcing": 1.0}
    assert isinstance(model.encoder, ConvEncoder) and model.feature_shape == (8, 8)
    assert model.pool[1].weight.shape == (256, 128 * 8 * 8)
    assert model.decoder.combine.in_features == 256 + 128  # attends over K = 128 channels
    assert isinstance(model.decoder.rnn, nn.LSTM) and model.decoder.rnn.hidden_size == 256


def test_options_reach_the_encoder_the_pool_and_the_decoder():
    model = ImageCaptioner(vocab_size=9, image_size=24, channels=(3, 5, 7), feature_size=6,
                           cell="gru", hidden_size=4, num_layers=2, embedding_dim=3,
                           dropout=0.25, attention="luong", bos_id=1, eos_id=4, pad_id=8,
                           teacher_forcing=0.5, references_per_step=2)
    assert model.get_config() == {
        "vocab_size": 9, "image_size": 24, "encoder": "cnn", "channels": [3, 5, 7],
        "feature_size": 6, "cell": "gru", "hidden_size": 4, "num_layers": 2,
        "embedding_dim": 3, "dropout": 0.25, "attention": "luong", "bos_id": 1, "eos_id": 4,
        "pad_id": 8, "references_per_step": 2, "teacher_forcing": 0.5}
    assert model.encoder.out_channels == 7 and model.feature_shape == (3, 3)  # 24 / 2^3
    assert [type(m) for m in model.pool] == [nn.Flatten, nn.Linear, nn.LayerNorm, nn.ReLU]
    assert model.pool[1].weight.shape == (6, 7 * 3 * 3) and model.pool[2].weight.shape == (6,)
    dec = model.decoder
    assert isinstance(dec.rnn, nn.GRU) and dec.rnn.num_layers == 2 and dec.rnn.dropout == 0.25
    assert dec.embedding.weight.shape == (9, 3) and dec.head.out_features == 9
    assert dec.combine.in_features == 4 + 7
    assert model.init.in_features == 6  # the condition is the pooled feature vector
    assert (model.bos_id, model.eos_id, model.pad_id) == (1, 4, 8)
    assert model.teacher_forcing == 0.5 and model.references_per_step == 2
    assert model.get_config()["channels"] == [3, 5, 7]


def test_without_attention_there_is_no_memory():
    model = _model("none")
    assert model.decoder.attention is None
    assert model.get_config()["attention"] == "none"
    assert model.decoder.rnn.input_size == 5  # no input feeding


def test_an_unknown_encoder_name_is_refused_and_a_registered_one_is_built(monkeypatch):
    with pytest.raises(ValueError, match="^encoder must be one of \\['cnn'\\], got 'resnet'$"):
        ImageCaptioner(vocab_size=9, encoder="resnet")
    monkeypatch.setattr(captioner_module, "IMAGE_ENCODERS", dict(captioner_module.IMAGE_ENCODERS))
    built = []

    def factory(channels):
        built.append(channels)
        return ConvEncoder(channels)
    captioner_module.register_image_encoder("small", factory)
    model = ImageCaptioner(vocab_size=9, encoder="small", channels=[4, 6], image_size=16,
                           feature_size=8, hidden_size=8)
    assert built == [(4, 6)] and model.get_config()["encoder"] == "small"
    assert model.encoder.out_channels == 6 and model.feature_shape == (4, 4)


def test_sizing_the_encoder_leaves_its_mode_as_it_was():
    conv = nn.Sequential(nn.Conv2d(3, 4, 4, stride=4), nn.BatchNorm2d(4))
    conv.out_channels = 4
    conv.train()
    model = ImageCaptioner(vocab_size=9, encoder=conv, image_size=16, feature_size=8,
                           hidden_size=8)
    assert model.encoder is conv and conv.training
    assert torch.equal(conv[1].running_mean, torch.zeros(4))  # sized in eval mode
    assert model.feature_shape == (4, 4) and model.pool[1].in_features == 4 * 4 * 4
    conv.eval()
    ImageCaptioner(vocab_size=9, encoder=conv, image_size=16, feature_size=8, hidden_size=8)
    assert not conv.training
    with pytest.raises(TypeError, match="^a custom encoder module cannot be saved in "
                                        "model.json: register it with "
                                        "register_image_encoder\\(name, factory\\) and pass "
                                        "the name$"):
        model.get_config()


@pytest.mark.parametrize("attention", ["luong", "none"])
def test_features_are_the_pooled_condition_and_the_positions_of_the_map(attention):
    model = _model(attention)
    images = _images()
    c, memory = model.features(images)
    want_c, want_memory = _features(model, images)
    assert c.shape == (3, 8) and memory.shape == (3, 16, 6)
    assert torch.allclose(c, want_c, atol=1e-5)
    assert torch.allclose(memory, want_memory, atol=1e-6)


def _loss_by_hand(model, images, y, lengths):
    """Cross-entropy over every non-empty reference's valid tokens, each caption alone."""
    c, memory = _features(model, images)
    mem = memory if model.decoder.attention is not None else None
    total, count, correct = 0.0, 0, 0
    for b in range(y.shape[0]):
        for r in range(y.shape[1]):
            n = int(lengths[b, r])
            if n == 0:
                continue
            m = mem[b:b + 1] if mem is not None else None
            logits = model(c[b:b + 1], y[b:b + 1, r], m).outputs[0, :n]  # (n, V)
            total += F.cross_entropy(logits, y[b, r, :n], reduction="sum").item()
            correct += int((logits.argmax(-1) == y[b, r, :n]).sum())
            count += n
    return total / count, correct / count, count


def test_one_valid_token_is_the_loss_and_accuracy_of_that_token():
    model = _model("luong", seed=7)
    images = _images(2, seed=12)
    y = torch.randint(4, 9, (2, 2, 3), generator=torch.Generator().manual_seed(13))
    lengths = torch.tensor([[0, 0], [0, 1]])
    c, memory = _features(model, images)
    token = y[1, 1, 0]
    logits = model(c[1:], y[1, 1:], memory[1:]).outputs[0, 0]  # (V,) the one valid step
    with torch.no_grad():  # that token the argmax by a margin of 0.5: accuracy 1
        model.decoder.head.bias[token] += logits.max() - logits[token] + 0.5
    logits = model(c[1:], y[1, 1:], memory[1:]).outputs[0, 0]
    out = model.compute_loss({"image": images, "y": y, "lengths": lengths})
    want = F.cross_entropy(logits[None], y[1, 1, :1]).item()
    assert out.count == 1 and want > 0.1
    assert out.loss.item() == pytest.approx(want, rel=1e-5)
    assert out.metrics["accuracy"] == 1.0


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_the_loss_averages_over_every_references_tokens(attention):
    model = _model(attention, seed=1)
    with torch.no_grad():
        model.decoder.head.bias[5] += 3.0  # mostly 5 predicted: some tokens right
    images = _images(seed=1)
    y = torch.randint(4, 6, (3, 3, 5), generator=torch.Generator().manual_seed(2))
    lengths = torch.tensor([[5, 2, 0], [3, 0, 0], [4, 5, 1]])  # 0 = no caption there
    out = model.compute_loss({"image": images, "y": y, "lengths": lengths})
    loss, accuracy, count = _loss_by_hand(model, images, y, lengths)
    assert out.count == count == 20
    assert out.loss.item() == pytest.approx(loss, rel=1e-5)
    assert out.metrics == {"tokens_loss": pytest.approx(loss, rel=1e-5),
                           "accuracy": pytest.approx(accuracy)}
    assert 0 < accuracy < 1


def test_one_caption_per_image_and_no_lengths():
    model = _model("luong", seed=2)
    images = _images(2, seed=3)
    y = torch.randint(4, 9, (2, 4), generator=torch.Generator().manual_seed(4))
    one = model.compute_loss({"image": images, "y": y, "lengths": torch.tensor([4, 2])})
    loss, _, count = _loss_by_hand(model, images, y[:, None], torch.tensor([[4], [2]]))
    assert one.count == count == 6 and one.loss.item() == pytest.approx(loss, rel=1e-5)
    every = model.compute_loss({"image": images, "y": y})
    loss, _, _ = _loss_by_hand(model, images, y[:, None], torch.tensor([[4], [4]]))
    assert every.count == 8 and every.loss.item() == pytest.approx(loss, rel=1e-5)
    many = model.compute_loss({"image": images, "y": y[:, None].repeat(1, 2, 1)})
    assert many.count == 16 and many.loss.item() == pytest.approx(loss, rel=1e-5)


def _trained_mode(model):
    """Training mode for the caption draw only: the CNN's batch norm stays in eval mode."""
    model.train()
    model.encoder.eval()
    return model


@pytest.mark.parametrize("per_step", [1, 2])
def test_training_draws_references_per_step_among_the_real_captions(per_step):
    model = _trained_mode(_model("luong", seed=3, references_per_step=per_step))
    images = _images(3, seed=5)
    y = torch.randint(4, 9, (3, 4, 5), generator=torch.Generator().manual_seed(6))
    lengths = torch.tensor([[5, 0, 0, 3], [2, 4, 5, 1], [5, 0, 0, 0]])
    torch.manual_seed(7)
    out = model.compute_loss({"image": images, "y": y, "lengths": lengths})
    torch.manual_seed(7)
    noise = torch.rand(3, 4).masked_fill(lengths == 0, -1.0)  # empty slots last
    pick = noise.topk(per_step, dim=1).indices  # (B, per_step)
    drawn_y = torch.stack([y[b, pick[b]] for b in range(3)])
    drawn_lengths = torch.stack([lengths[b, pick[b]] for b in range(3)])
    assert drawn_lengths[2, 0] == 5  # the only caption of the last image comes first
    if per_step == 2:
        assert sorted(drawn_lengths[0].tolist()) == [3, 5] and drawn_lengths[2, 1] == 0
    loss, _, count = _loss_by_hand(model, images, drawn_y, drawn_lengths)
    assert out.count == count and out.loss.item() == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize("per_step, train", [(0, True), (4, True), (5, True), (2, False)])
def test_every_reference_is_read_without_a_draw(per_step, train):
    model = _model("none", seed=4, references_per_step=per_step)
    if train:
        _trained_mode(model)
    images = _images(2, seed=8)
    y = torch.randint(4, 9, (2, 4, 6), generator=torch.Generator().manual_seed(9))
    lengths = torch.tensor([[3, 1, 0, 2], [2, 3, 3, 3]])  # (captions shorter than 6)
    out = model.compute_loss({"image": images, "y": y, "lengths": lengths})
    loss, _, count = _loss_by_hand(model, images, y, lengths)
    assert out.count == count == 17 and out.loss.item() == pytest.approx(loss, rel=1e-5)


def test_draw_references_without_lengths_picks_distinct_captions():
    model = _model("none", references_per_step=2)
    y = torch.arange(2 * 3 * 4).view(2, 3, 4)
    torch.manual_seed(0)
    picked, none = model._draw_references(y, None)
    torch.manual_seed(0)
    pick = torch.rand(2, 3).topk(2, dim=1).indices
    assert none is None and picked.shape == (2, 2, 4)
    assert torch.equal(picked, torch.stack([y[b, pick[b]] for b in range(2)]))


@pytest.mark.parametrize("attention", ["luong", "none"])
def test_caption_is_the_beam_search_on_the_features(attention, monkeypatch):
    model = _model(attention, seed=5)
    images = _images(2, seed=10)
    seen = []
    search = model.beam_search

    def spy(c, **kwargs):
        seen.append((c, kwargs))
        return search(c, **kwargs)
    monkeypatch.setattr(model, "beam_search", spy)
    result = model.caption(images)
    c, memory = _features(model, images)
    (got_c, kwargs), = seen
    assert torch.allclose(got_c, c, atol=1e-5)
    assert (kwargs["beam_size"], kwargs["max_len"], kwargs["length_penalty"]) == (1, 30, 0.6)
    if attention == "none":
        assert kwargs["memory"] is None and result.attention is None
    else:
        assert torch.allclose(kwargs["memory"], memory, atol=1e-6)
    model.caption(images, beam_size=3, max_len=7, length_penalty=0.2)
    assert {k: seen[1][1][k] for k in ("beam_size", "max_len", "length_penalty")} == {
        "beam_size": 3, "max_len": 7, "length_penalty": 0.2}


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_greedy_captions_are_generate_cut_before_eos(attention):
    model = _model(attention, seed=9)
    images = _images(4, seed=11)
    c, memory = _features(model, images)
    mem = memory if attention != "none" else None
    model.eos_id = None
    eos = model.generate(c, 6, memory=mem)[0, 1].item()  # the first caption's second token
    model.eos_id = eos
    ids = model.generate(c, 6, memory=mem).tolist()
    want = [s[:s.index(eos)] if eos in s else s for s in ids]
    assert model.greedy(images, max_len=6) == want
    assert len(want[0]) <= 1
    model.eos_id = 99  # never produced: every caption runs to max_len, 30 by default
    assert model.greedy(images) == model.generate(c, 30, memory=mem).tolist()
