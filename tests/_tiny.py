"""A tiny many-to-many model for trainer tests (weights ``w`` select which steps count)."""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.layers import build_layer
from rnnkit.models.base import Model, StepOutput


class TinyTagger(Model):
    """GRU + linear head, per-step MSE on ``y`` weighted by the optional ``w`` (B, T)."""

    time_keys = ("x", "y", "w")

    def __init__(self, input_size: int = 2, hidden_size: int = 5):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.rnn = build_layer("gru", input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def get_config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size}

    def compute_loss(self, batch, state=None) -> StepOutput:
        out, h_n = self.rnn(batch["x"], state)  # (B, T, H), (1, B, H)
        err = (self.head(out).squeeze(-1) - batch["y"]) ** 2  # (B, T)
        w = batch.get("w", torch.ones_like(err))
        count = int(w.sum())
        loss = (err * w).sum() / max(count, 1)
        return StepOutput(loss, {"mse": float(loss.detach())}, count=count, state=h_n)


def tiny_data(n: int = 32, t: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, 2, generator=g)
    return {"x": x, "y": x[..., 0].cumsum(1) * 0.3}  # (n, t, 2), (n, t)


def overfit_seq2seq(pairs: list[tuple[str, str]], steps: int = 100):
    """An attention GRU Seq2Seq trained to overfit ``pairs`` (English -> French), with its
    word tokenizers: (model in eval mode, source tokenizer, target tokenizer, last loss)."""
    from rnnkit.data.tokenizers import WordTokenizer
    from rnnkit.models import Seq2Seq
    from rnnkit.tasks.translation import to_tensors

    torch.manual_seed(0)
    src = WordTokenizer.fit([en for en, _ in pairs])
    tgt = WordTokenizer.fit([fr for _, fr in pairs], lower=False)
    model = Seq2Seq(src_vocab_size=len(src.vocab), tgt_vocab_size=len(tgt.vocab), cell="gru",
                    hidden_size=32, embedding_dim=16, attention="bahdanau")
    batch = to_tensors(pairs, src, tgt, 50)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = model.compute_loss(batch).loss
        loss.backward()
        opt.step()
    return model.eval(), src, tgt, loss.item()


def tiny_adding_toml(steps: int = 4, eval_every: int = 2, train: str = "", more: str = "") -> str:
    """A run config of the adding task that trains in about a second (GRU 8, 64 sequences of
    8 steps): ``train`` adds lines to its ``[train]`` table, ``more`` tables after it."""
    return f"""
name = "tiny"
[task]
name = "adding"
sequence_length = 8
train_size = 64
val_size = 16
test_size = 16
[model]
cell = "gru"
hidden_size = 8
[train]
steps = {steps}
batch_size = 16
eval_every = {eval_every}
progress = "off"
{train}
{more}"""
