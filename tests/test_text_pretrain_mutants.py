"""Value tests of rnnkit/tasks/text_pretrain.py: the pretraining loop watched through a
recording optimizer and heads (the batches it forms, the learning rate of each step against
the cosine formula, weight decay, gradient clipping, the epoch means and the callback),
its defaults, what it leaves behind, and one run against a hand-written loop over
torch.optim.AdamW (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from rnnkit.models.encoder import SequenceEncoder
from rnnkit.tasks.text_pretrain import _Heads, pretrain_encoder


def _encoder(bidirectional=True, seed=0):
    torch.manual_seed(seed)
    return SequenceEncoder("gru", 6, vocab_size=12, embedding_dim=5,
                           bidirectional=bidirectional)


TEXTS = [[1, 2, 3, 4], [5, 6], [7], [8, 9, 10, 11, 1], [2, 3, 4], [5, 6, 7, 8, 9, 10], [3, 3],
         [4, 5, 6]]


class Watch:
    """Records what the loop does: each step's batch, learning rate, gradient norm and
    loss, the optimizer's settings and the modes of the networks."""

    def __init__(self, monkeypatch):
        self.batches, self.lrs, self.norms, self.losses, self.modes = [], [], [], [], []
        self.heads, self.settings, self.params = [], [], []
        watch = self

        class AdamW(torch.optim.AdamW):
            def __init__(self, params, **kw):
                params = list(params)
                watch.params.append(params)
                watch.settings.append(kw)
                super().__init__(params, **kw)

            def step(self, *a, **kw):
                grads = [p.grad for group in self.param_groups for p in group["params"]
                         if p.grad is not None]
                watch.norms.append(float(torch.linalg.vector_norm(
                    torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
                watch.lrs.append(self.param_groups[0]["lr"])
                return super().step(*a, **kw)

        init, loss = _Heads.__init__, _Heads.loss

        def heads_init(heads, encoder, dropout):
            init(heads, encoder, dropout)
            watch.heads.append(heads)

        def heads_loss(heads, encoder, x, lengths):
            watch.batches.append((x.clone(), lengths.clone()))
            watch.modes.append((encoder.training, heads.training))
            out = loss(heads, encoder, x, lengths)
            watch.losses.append(out.item())
            return out

        monkeypatch.setattr(torch.optim, "AdamW", AdamW)
        monkeypatch.setattr(_Heads, "__init__", heads_init)
        monkeypatch.setattr(_Heads, "loss", heads_loss)


def _groups(texts, batch_size):
    """Texts of two words or more, sorted by length (stable), cut into batches."""
    kept = [t for t in texts if len(t) >= 2]
    order = sorted(range(len(kept)), key=lambda i: len(kept[i]))
    return [[kept[i] for i in order[k:k + batch_size]] for k in range(0, len(order), batch_size)]


def test_batches_are_length_sorted_groups_in_a_seeded_order_each_epoch(monkeypatch):
    watch = Watch(monkeypatch)
    pretrain_encoder(_encoder(), TEXTS, epochs=3, lr=1e-2, batch_size=3, seed=5)
    groups = _groups(TEXTS, 3)  # [[5, 6], [3, 3], [2, 3, 4]], [[4, 5, 6], [1..4], [8..1]], ...
    assert [len(g) for g in groups] == [3, 3, 1]
    g = torch.Generator().manual_seed(5)
    order = [k for _ in range(3) for k in torch.randperm(3, generator=g).tolist()]
    assert len(watch.batches) == 9
    for k, (x, lengths) in zip(order, watch.batches):
        rows = groups[k]
        width = max(map(len, rows))
        assert x.tolist() == [r + [0] * (width - len(r)) for r in rows]
        assert lengths.tolist() == [len(r) for r in rows]
    other = Watch(monkeypatch)
    pretrain_encoder(_encoder(), TEXTS, epochs=3, lr=1e-2, batch_size=3, seed=6)
    assert [x.tolist() for x, _ in other.batches] != [x.tolist() for x, _ in watch.batches]


def test_two_word_texts_are_kept_and_shorter_ones_skipped(monkeypatch):
    watch = Watch(monkeypatch)
    pretrain_encoder(_encoder(), [(3, 4), [5], []], epochs=1, lr=1e-2, batch_size=4, seed=0)
    assert [x.tolist() for x, _ in watch.batches] == [[[3, 4]]]


def test_the_learning_rate_decays_by_a_cosine_to_zero_over_every_step(monkeypatch):
    watch = Watch(monkeypatch)
    pretrain_encoder(_encoder(), TEXTS, epochs=2, lr=0.03, batch_size=2, seed=0,
                     weight_decay=0.2)
    total = 2 * 4  # epochs x batches (7 texts of two words or more, two a batch)
    assert watch.lrs == pytest.approx(
        [0.03 * 0.5 * (1 + math.cos(math.pi * k / total)) for k in range(total)], abs=1e-12)
    (settings,) = watch.settings
    assert settings == {"lr": 0.03, "weight_decay": 0.2}


def test_defaults_and_what_is_trained(monkeypatch):
    enc = _encoder()
    watch = Watch(monkeypatch)
    pretrain_encoder(enc, TEXTS, epochs=1, lr=1e-2, batch_size=4, seed=0)
    (heads,) = watch.heads
    assert heads.dropout.p == 0.3 and watch.settings[0]["weight_decay"] == 0.01
    assert max(watch.norms) <= 1.0 + 1e-5  # clip_norm 1.0
    (params,) = watch.params  # the encoder's and the heads' (the projections and the bias)
    assert {id(p) for p in params} == {id(p) for p in [*enc.parameters(), *heads.parameters()]}
    assert len(params) == len(list(enc.parameters())) + 2 + 2 + 1


def test_gradients_are_clipped_to_clip_norm(monkeypatch):
    watch = Watch(monkeypatch)
    pretrain_encoder(_encoder(), TEXTS, epochs=1, lr=1e-2, batch_size=4, seed=0,
                     clip_norm=1e-3)
    assert len(watch.norms) == 2
    assert all(n == pytest.approx(1e-3, rel=1e-4) for n in watch.norms)  # all were above


def test_new_heads_score_against_the_tied_embedding_with_a_zero_bias():
    enc = _encoder(bidirectional=False)
    heads = _Heads(enc, dropout=0.5)
    assert heads.bias.tolist() == [0.0] * 12 and heads.dropout.p == 0.5
    assert [(p.in_features, p.out_features) for p in heads.proj] == [(6, 5)]
    two = _Heads(_encoder(), dropout=0.0)
    assert [(p.in_features, p.out_features) for p in two.proj] == [(6, 5), (6, 5)]


def test_epoch_losses_are_the_means_of_their_steps_and_reported_each_epoch(monkeypatch):
    watch = Watch(monkeypatch)
    seen = []
    losses = pretrain_encoder(_encoder(), TEXTS, epochs=3, lr=1e-2, batch_size=3, seed=1,
                              on_epoch=lambda *a: seen.append(a))
    per_epoch = [watch.losses[3 * e:3 * e + 3] for e in range(3)]
    assert losses == pytest.approx([sum(v) / 3 for v in per_epoch], rel=1e-12)
    assert [(e, loss) for e, loss, _ in seen] == list(enumerate(losses))
    assert all(0 <= s < 60 for _, _, s in seen)
    assert all(mode == (True, True) for mode in watch.modes)  # dropout on while training


@pytest.mark.parametrize("training", [True, False])
def test_the_encoder_keeps_its_mode_and_no_gradients(training):
    enc = _encoder()
    enc.train(training)
    pretrain_encoder(enc, TEXTS, epochs=1, lr=1e-2, batch_size=4, seed=0)
    assert enc.training is training
    assert all(m.training is training for m in enc.modules())
    assert all(p.grad is None for p in enc.parameters())


def test_no_epochs_leave_the_encoder_as_it_was():
    enc = _encoder()
    before = copy.deepcopy(enc.state_dict())
    assert pretrain_encoder(enc, TEXTS, epochs=0, lr=1e-2, batch_size=4, seed=0) == []
    after = enc.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_run_equals_a_hand_written_adamw_loop():
    """Two epochs, one text a batch (so the order is the seeded permutation alone): the
    encoder's weights against the same steps written out with torch.optim.AdamW."""
    texts = [[1, 2, 3], [4, 5, 6, 7], [8, 9]]
    enc, ref = _encoder(), _encoder()
    torch.manual_seed(7)
    losses = pretrain_encoder(enc, texts, epochs=2, lr=0.05, batch_size=1, seed=2,
                              dropout=0.0, weight_decay=0.1, clip_norm=0.5)
    torch.manual_seed(7)
    heads = _Heads(ref, dropout=0.0)
    params = [*ref.parameters(), *heads.parameters()]
    opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)
    order = sorted(range(3), key=lambda i: len(texts[i]))  # [2, 0, 1]
    g = torch.Generator().manual_seed(2)
    step, want = 0, []
    for _ in range(2):
        total = 0.0
        for k in torch.randperm(3, generator=g).tolist():
            text = texts[order[k]]
            for group in opt.param_groups:
                group["lr"] = 0.05 * 0.5 * (1 + math.cos(math.pi * step / 6))
            loss = heads.loss(ref, torch.tensor([text]), torch.tensor([len(text)]))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            total += loss.item()
            step += 1
        want.append(total / 3)
    assert losses == pytest.approx(want, rel=1e-6)
    for (name, p), q in zip(enc.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, msg=name)


def test_pretraining_runs_on_the_encoder_device(monkeypatch):
    """The heads are moved to the encoder's device (a GPU's, in a run on one)."""
    moved = []
    to = nn.Module.to
    monkeypatch.setattr(_Heads, "to", lambda self, *a, **kw: moved.append(a) or to(self, *a))
    enc = _encoder()
    pretrain_encoder(enc, TEXTS, epochs=1, lr=1e-2, batch_size=4, seed=0)
    assert moved == [(enc.embedding.weight.device,)]


def test_what_cannot_be_pretrained_is_refused_with_its_reason():
    with pytest.raises(ValueError) as e:
        pretrain_encoder(_encoder(), [[1], [], [2]], epochs=1, lr=1e-2, batch_size=2, seed=0)
    assert str(e.value) == "no text of two words or more to pretrain on"
    features = SequenceEncoder("gru", 4, input_size=3)
    with pytest.raises(ValueError) as e:
        pretrain_encoder(features, TEXTS, epochs=1, lr=1e-2, batch_size=2, seed=0)
    assert str(e.value) == "language-model pretraining needs an encoder over token ids"
