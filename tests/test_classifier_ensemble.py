"""``ClassifierEnsemble`` and the sentiment task's ``task.ensemble`` (issue 21, item 2): N
classifiers trained side by side, their class probabilities averaged."""

import json

import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.cli.main import main
from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.models import ClassifierEnsemble, SequenceClassifier

CONFIG = dict(num_classes=3, vocab_size=15, cell="lstm", hidden_size=6, embedding_dim=5,
              bidirectional=True, pooling="attention", dropout=0.0)


def _batch(b=7, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    lengths[0] = t
    x = torch.randint(1, 15, (b, t), generator=g) * (torch.arange(t) < lengths[:, None])
    return {"x": x, "lengths": lengths, "y": torch.randint(0, 3, (b,), generator=g)}


def test_member_i_starts_where_a_single_model_of_seed_plus_i_starts():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    ens = ClassifierEnsemble(members=3, seed=4, **CONFIG)
    assert torch.equal(torch.rand(1), before)  # the caller's RNG is left as it was
    for i, member in enumerate(ens.members):
        torch.manual_seed(4 + i)
        alone = SequenceClassifier(**CONFIG)
        for (name, a), b in zip(member.state_dict().items(), alone.state_dict().values()):
            assert torch.equal(a, b), name
    assert not torch.equal(ens.members[0].head.weight, ens.members[1].head.weight)
    again = ClassifierEnsemble(**ens.get_config())
    assert again.get_config() == ens.get_config()
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                ens.state_dict().values()))


def test_outputs_are_the_members_mean_probabilities_and_weights():
    ens = ClassifierEnsemble(members=3, seed=0, **CONFIG).eval()
    batch = _batch()
    with torch.no_grad():
        outs = [m(batch["x"], batch["lengths"]) for m in ens.members]
        want = sum(torch.softmax(o.logits, -1) for o in outs) / 3
        got = ens(batch["x"], batch["lengths"])
    torch.testing.assert_close(ens.predict_proba(batch["x"], batch["lengths"]), want)
    torch.testing.assert_close(torch.softmax(got.logits, -1), want)
    torch.testing.assert_close(got.logits.exp().sum(-1), torch.ones(7))  # log-probabilities
    torch.testing.assert_close(got.weights, sum(o.weights for o in outs) / 3)
    mean = ClassifierEnsemble(members=2, seed=0, **{**CONFIG, "pooling": "mean"})
    assert mean(batch["x"], batch["lengths"]).weights is None


def test_loss_is_the_members_mean_and_accuracy_the_ensembles():
    ens = ClassifierEnsemble(members=3, seed=1, **CONFIG).eval()
    batch = _batch(b=40, seed=2)
    out = ens.compute_loss(batch)
    logits = [m(batch["x"], batch["lengths"]).logits for m in ens.members]
    losses = [F.cross_entropy(z, batch["y"]) for z in logits]
    torch.testing.assert_close(out.loss, sum(losses) / 3)
    votes = sum(torch.softmax(z, -1) for z in logits).argmax(-1)
    assert out.metrics["accuracy"] == pytest.approx(float((votes == batch["y"]).float().mean()))
    assert out.count == 40
    # each member's gradient is its own loss's, divided by N
    out.loss.backward()
    grad = ens.members[1].head.weight.grad.clone()
    ens.zero_grad()
    losses = [F.cross_entropy(m(batch["x"], batch["lengths"]).logits, batch["y"])
              for m in ens.members]
    losses[1].backward()
    torch.testing.assert_close(grad, ens.members[1].head.weight.grad / 3)


def test_a_members_probabilities_need_not_agree_for_the_vote():
    """Averaging probabilities is not majority voting: one confident member can carry it."""
    ens = ClassifierEnsemble(members=3, seed=0, num_classes=2, input_size=1, hidden_size=2)
    for i, member in enumerate(ens.members):
        for p in member.parameters():
            torch.nn.init.zeros_(p)
        with torch.no_grad():  # the head's bias alone decides: 2 weak votes for 0, 1 sure 1
            member.head.bias.copy_(torch.tensor([0.2, 0.0]) if i else torch.tensor([0.0, 5.0]))
    x = torch.zeros(1, 3, 1)
    assert int(ens.predict_proba(x).argmax(-1)) == 1


def test_bad_member_count_is_refused():
    with pytest.raises(ValueError, match="members"):
        ClassifierEnsemble(members=0, **CONFIG)


TASK = """
name = "ens"
seed = 3
[task]
name = "sentiment"
data = "reviews.csv"
ensemble = 2
[model]
cell = "gru"
hidden_size = 8
embedding_dim = 8
bidirectional = true
pooling = "attention"
[train]
steps = 6
batch_size = 8
eval_every = 3
progress = "off"
"""


def _data(root):
    good, bad = ["fine", "great", "lovely"], ["awful", "dull", "poor"]
    rows = ["text,label"] + [f"a {good[i % 3]} film,pos" if i % 2 else f"a {bad[i % 3]} film,neg"
                             for i in range(40)]
    (root / "reviews.csv").write_text("\n".join(rows) + "\n")


def test_sentiment_task_trains_loads_and_predicts_with_an_ensemble(tmp_path, capsys):
    _data(tmp_path)
    (tmp_path / "ens.toml").write_text(TASK)
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "ens.toml"), "--run-dir", str(run)]) == 0
    info = json.loads((run / "checkpoints" / "best" / "model.json").read_text())
    assert info["model_class"] == "ClassifierEnsemble"
    assert info["model_config"]["members"] == 2 and info["model_config"]["seed"] == 3
    loaded = rnnkit.load(run)
    model = loaded.model.cpu().eval()
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 2
    records = loaded.predict(["a great film", "a dull film"], explain=True)
    for record in records:
        assert set(record["probabilities"]) == {"neg", "pos"}
        assert sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert len(record["weights"]) == 3
    # the record is the members' mean probability, each member run on its own
    ids = torch.tensor([tokenizer_from_dict(loaded.info["tokenizer"]).vocab.encode(
        records[0]["tokens"])])
    with torch.no_grad():
        want = sum(torch.softmax(m(ids).logits, -1)[0, 1] for m in model.members) / 2
    assert records[0]["probabilities"]["pos"] == pytest.approx(float(want), abs=1e-5)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert 0.0 <= figures["accuracy"] <= 1.0


def test_each_member_is_pretrained_from_its_own_seed(tmp_path):
    _data(tmp_path)
    (tmp_path / "ens.toml").write_text(TASK.replace("ensemble = 2", "ensemble = 2\n"
                                                    "pretrain_epochs = 2"))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "ens.toml"), "--run-dir", str(run)]) == 0
    record = json.loads((run / "pretrain.json").read_text())
    assert len(record["loss"]) == 2 and all(len(member) == 2 for member in record["loss"])
    assert record["loss"][0] != record["loss"][1]  # other initial weights, other losses
