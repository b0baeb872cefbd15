"""The sentiment task's pretrain stage (issue 21, item 2): the encoder trained as forward and
backward language models before the classifier is fine-tuned from it."""

import json
import math

import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.models.encoder import SequenceEncoder
from rnnkit.tasks.runner import load_config
from rnnkit.tasks.text_pretrain import _Heads, pretrain_encoder


def _encoder(bidirectional=True, vocab=12, seed=0):
    torch.manual_seed(seed)
    return SequenceEncoder("lstm", 6, vocab_size=vocab, embedding_dim=5,
                           bidirectional=bidirectional)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_language_model_loss_pairs_each_position_with_its_neighbour(bidirectional):
    """The loss against a per-sentence loop written out: the forward output at t scores
    word t+1, the backward output at t word t-1, padding is neither read nor predicted."""
    enc = _encoder(bidirectional)
    heads = _Heads(enc, dropout=0.0)
    with torch.no_grad():
        heads.bias.normal_()
    seqs = [[3, 5, 7, 2, 9], [4, 4], [8, 1, 6]]
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.zeros(3, 5, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.tensor(s)
    enc.eval()
    heads.eval()
    got = heads.loss(enc, x, lengths)
    hidden = 6
    losses = {0: [], 1: []}
    for s in seqs:  # each sentence alone, unpadded
        out, _ = enc(torch.tensor([s]))
        w = enc.embedding.weight
        for t in range(len(s)):
            if t + 1 < len(s):
                logit = heads.proj[0](out[0, t, :hidden]) @ w.T + heads.bias
                losses[0].append(-torch.log_softmax(logit, -1)[s[t + 1]])
            if bidirectional and t >= 1:
                logit = heads.proj[1](out[0, t, hidden:]) @ w.T + heads.bias
                losses[1].append(-torch.log_softmax(logit, -1)[s[t - 1]])
    means = [torch.stack(v).mean() for v in losses.values() if v]
    assert len(means) == (2 if bidirectional else 1)
    torch.testing.assert_close(got, sum(means) / len(means), rtol=1e-5, atol=1e-6)


def test_pretraining_learns_a_deterministic_successor():
    """On texts where every word has one successor (and one predecessor) the entropy is 0:
    the loss falls from about log(vocabulary) to near 0."""
    enc = _encoder(vocab=8)
    texts = [[1 + (start + k) % 7 for k in range(6)] for start in range(7)] * 6
    torch.manual_seed(0)
    losses = pretrain_encoder(enc, texts, epochs=30, lr=3e-2, batch_size=8, seed=0,
                              dropout=0.0)
    assert len(losses) == 30
    assert losses[0] > 0.6 * math.log(8)
    assert losses[-1] < 0.15
    assert all(p.grad is None for p in enc.parameters())  # nothing left for the trainer


def test_pretraining_is_seeded_and_refuses_what_it_cannot_use():
    texts = [[1, 2, 3], [4, 5], [6]]
    runs = []
    for _ in range(2):
        enc = _encoder()
        torch.manual_seed(1)
        pretrain_encoder(enc, texts, epochs=2, lr=1e-2, batch_size=2, seed=3)
        runs.append(enc.embedding.weight.detach().clone())
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    assert not torch.equal(runs[0], _encoder().embedding.weight)
    with pytest.raises(ValueError, match="two words"):
        pretrain_encoder(_encoder(), [[1], []], epochs=1, lr=1e-2, batch_size=2, seed=0)
    features = SequenceEncoder("gru", 4, input_size=3)
    with pytest.raises(ValueError, match="token ids"):
        pretrain_encoder(features, texts, epochs=1, lr=1e-2, batch_size=2, seed=0)


CONFIG = """
name = "pre"
seed = 0
[task]
name = "sentiment"
data = "reviews.csv"
pretrain_epochs = 2
unlabelled_data = "more.txt"
[model]
cell = "gru"
hidden_size = 8
embedding_dim = 8
bidirectional = true
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
    (root / "more.txt").write_text("a superb film\n\nan utterly superb film\n")


def test_a_run_pretrains_once_on_training_and_unlabelled_text(tmp_path):
    _data(tmp_path)
    (tmp_path / "pre.toml").write_text(CONFIG)
    assert main(["train", str(tmp_path / "pre.toml"), "--run-dir", str(tmp_path / "run")]) == 0
    record = json.loads((tmp_path / "run" / "pretrain.json").read_text())
    assert record["epochs"] == 2 and len(record["loss"]) == 2
    assert record["unlabelled_texts"] == 2  # the blank line is not a text
    # the training part (40 less 4 test, less 4 validation: 10% each) and the unlabelled
    assert record["texts"] == 32 + 2
    info = tmp_path / "run" / "checkpoints" / "best" / "model.json"
    vocab = json.loads(info.read_text())["tokenizer"]
    assert "superb" in json.dumps(vocab)  # a word only the unlabelled text has
    # a run without the stage starts from other weights (same seed, same data)
    plain = CONFIG.replace("pretrain_epochs = 2\nunlabelled_data = \"more.txt\"\n", "")
    (tmp_path / "plain.toml").write_text(plain)
    assert main(["train", str(tmp_path / "plain.toml"), "--run-dir",
                 str(tmp_path / "plain")]) == 0
    assert not (tmp_path / "plain" / "pretrain.json").exists()
    # resuming continues from the checkpoint: the stage does not run again
    (tmp_path / "run" / "pretrain.json").unlink()
    assert main(["train", "--resume", str(tmp_path / "run"), "--set", "train.steps=9"]) == 0
    assert not (tmp_path / "run" / "pretrain.json").exists()


def test_unlabelled_text_without_the_stage_is_a_config_error(tmp_path):
    _data(tmp_path)
    (tmp_path / "pre.toml").write_text(CONFIG.replace("pretrain_epochs = 2", "pretrain_epochs = 0"))
    with pytest.raises(Exception, match="pretrain_epochs"):
        load_config(tmp_path / "pre.toml")


@pytest.mark.parametrize("name, content", [("more.tsv", "text\tsource\nfine words\tweb\n"),
                                           ("more.tab", "text\tsource\nfine words\tweb\n"),
                                           ("more.jsonl", '{"text": "fine words"}\n')])
def test_unlabelled_tables_give_their_text_column(tmp_path, name, content):
    from rnnkit.tasks import TASKS

    _data(tmp_path)
    (tmp_path / name).write_text(content)
    (tmp_path / "pre.toml").write_text(CONFIG.replace("more.txt", name))
    cfg = load_config(tmp_path / "pre.toml")
    assert TASKS["sentiment"].setup(cfg).unlabelled == ["fine words"]
