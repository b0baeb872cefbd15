"""Seq2Seq's label smoothing and tied decoder embeddings, against losses and outputs
written out by hand."""

import copy

import pytest
import torch

import rnnkit
from rnnkit.models.decoder import Decoder
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.training.checkpoint import build_model, load_checkpoint, save_checkpoint

PAD, BOS, EOS = 0, 2, 3


def batch(V_src=11, V_tgt=9, B=4, S=5, T=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, V_src, (B, S), generator=g)
    lengths = torch.tensor([S, S - 1, 3, 2][:B])
    y = torch.randint(4, V_tgt, (B, T), generator=g)
    y[:, 0] = BOS
    y_lengths = torch.tensor([T, 4, 5, 3][:B])
    for b, n in enumerate(y_lengths.tolist()):
        y[b, n - 1] = EOS
        y[b, n:] = PAD
    return {"x": x, "lengths": lengths, "y": y}


def smoothed_by_hand(logits, targets, eps):
    """Mean over non-pad targets of (1 - eps) * nll + eps * mean over the vocabulary of -log p."""
    total, count = 0.0, 0
    for b in range(targets.shape[0]):
        for t in range(targets.shape[1]):
            k = int(targets[b, t])
            if k == PAD:
                continue
            logp = logits[b, t].double().log_softmax(-1)
            total += (1 - eps) * -float(logp[k]) + eps * -float(logp.mean())
            count += 1
    return total / count


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_label_smoothing_is_the_training_loss_only(eps):
    torch.manual_seed(0)
    model = Seq2Seq(src_vocab_size=11, tgt_vocab_size=9, cell="gru", hidden_size=8,
                    label_smoothing=eps)
    b = batch()
    logits = model(b["x"], b["lengths"], b["y"][:, :-1]).outputs.detach()
    targets = b["y"][:, 1:]
    model.train()
    got = float(model.compute_loss(b).loss.detach())
    assert got == pytest.approx(smoothed_by_hand(logits, targets, eps), rel=1e-5)
    model.eval()
    plain = float(model.compute_loss(b).loss)
    assert plain == pytest.approx(smoothed_by_hand(logits, targets, 0.0), rel=1e-5)
    assert got != pytest.approx(plain, rel=1e-3)


def test_label_smoothing_out_of_range_is_refused():
    for eps in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            Seq2Seq(src_vocab_size=5, tgt_vocab_size=5, label_smoothing=eps)


@pytest.mark.parametrize("hidden,emb", [(8, 5), (6, 6)])
def test_tied_decoder_scores_are_the_embedding_times_the_projected_state(hidden, emb):
    torch.manual_seed(1)
    model = Seq2Seq(src_vocab_size=11, tgt_vocab_size=9, cell="lstm", hidden_size=hidden,
                    embedding_dim=emb, tie_embeddings=True).eval()
    dec = model.decoder
    assert dec.head.weight is dec.embedding.weight
    b = batch()
    memory, state = model.encode(b["x"], b["lengths"])
    out, new_state, _ = dec.step(b["y"][:, 0], state, memory)
    h = new_state.feed  # the attention-combined vector the scores are read from
    P = dec.project.weight if emb != hidden else torch.eye(hidden)
    want = h @ P.T @ dec.embedding.weight.T + dec.head.bias
    torch.testing.assert_close(out, want)
    untied = Seq2Seq(src_vocab_size=11, tgt_vocab_size=9, cell="lstm", hidden_size=hidden,
                     embedding_dim=emb)
    n = sum(p.numel() for p in model.parameters())
    m = sum(p.numel() for p in untied.parameters())
    assert m - n == 9 * hidden - (hidden * emb if emb != hidden else 0)


def test_tied_embedding_learns_from_both_ends():
    torch.manual_seed(2)
    model = Seq2Seq(src_vocab_size=11, tgt_vocab_size=9, cell="gru", hidden_size=8,
                    embedding_dim=4, tie_embeddings=True)
    b = batch()
    model.compute_loss(b).loss.backward()
    grad = model.decoder.embedding.weight.grad.clone()
    # the rows of target words never fed as inputs get gradient from the output layer only
    fed = set(b["y"][:, :-1].flatten().tolist())
    assert any(grad[k].abs().sum() > 0 for k in range(9) if k not in fed)
    # and it is the sum of both uses: the same model with the output copy made separate
    twin = copy.deepcopy(model)
    twin.zero_grad()
    twin.decoder.head.weight = torch.nn.Parameter(model.decoder.embedding.weight.detach().clone())
    twin.compute_loss(b).loss.backward()
    both = twin.decoder.embedding.weight.grad + twin.decoder.head.weight.grad
    assert twin.decoder.embedding.weight.grad.abs().sum() > 0
    torch.testing.assert_close(grad, both)


def test_tied_model_round_trips_a_checkpoint_and_stays_tied(tmp_path):
    torch.manual_seed(3)
    model = Seq2Seq(src_vocab_size=11, tgt_vocab_size=9, cell="gru", hidden_size=8,
                    embedding_dim=4, tie_embeddings=True, label_smoothing=0.1).eval()
    save_checkpoint(tmp_path / "ck", model, {"model_class": "Seq2Seq",
                                             "model_config": model.get_config()})
    back = build_model(load_checkpoint(tmp_path / "ck")).eval()
    assert back.decoder.head.weight is back.decoder.embedding.weight
    assert back.label_smoothing == 0.1
    b = batch()
    torch.testing.assert_close(back.compute_loss(b).loss, model.compute_loss(b).loss)


def test_tying_needs_token_inputs_from_the_output_vocabulary():
    with pytest.raises(ValueError, match="tie_embeddings"):
        Decoder("gru", 8, 5, input_size=3, tie_embeddings=True)
    with pytest.raises(ValueError, match="tie_embeddings"):
        Decoder("gru", 8, 5, vocab_size=6, tie_embeddings=True)


def _toy_config(tmp_path, model_lines: str):
    (tmp_path / "pairs.tsv").write_text("".join(f"a{i % 7} b{i % 5} .\tx{i % 7} y{i % 5} .\n"
                                                for i in range(35)))
    (tmp_path / "t.toml").write_text(f"""
name = "t"
[task]
name = "translation"
data = "pairs.tsv"
min_freq = 1
test_fraction = 0.2
val_fraction = 0.2
[model]
cell = "gru"
hidden_size = 8
{model_lines}
[train]
steps = 2
batch_size = 4
progress = "off"
""")
    return tmp_path / "t.toml"


@pytest.mark.parametrize("line,message", [
    ('tie_embeddings = "yes"', "model.tie_embeddings = 'yes' is not of type bool"),
    ("label_smoothing = 1.5", "model: label_smoothing must be in [0, 1), got 1.5"),
    ("label_smoothing = -0.1", "model: label_smoothing must be in [0, 1), got -0.1"),
])
def test_bad_options_are_config_errors_before_anything_is_written(tmp_path, monkeypatch,
                                                                 line, message):
    from rnnkit.tasks import load_config, train_run
    from rnnkit.training.config_io import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        train_run(load_config(_toy_config(tmp_path, line)))
    assert message in str(e.value)
    assert not (tmp_path / "runs" / "t" / "config.toml").exists()


def test_options_reach_the_model_from_the_config(tmp_path, monkeypatch):
    from rnnkit.tasks import load_config, train_run

    monkeypatch.chdir(tmp_path)
    cfg = load_config(_toy_config(tmp_path, "label_smoothing = 0.2\ntie_embeddings = true\n"
                                            "embedding_dim = 4"))
    result = train_run(cfg)
    model = rnnkit.load(result.run_dir).model
    assert model.label_smoothing == 0.2
    assert model.decoder.head.weight is model.decoder.embedding.weight
    assert model.decoder.project.weight.shape == (4, 8)
