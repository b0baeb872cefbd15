"""Peers for benchmarks/quality_text.py, in plain PyTorch / scikit-learn (not rnnkit).

- ``PlainLSTMLM``: ``nn.Embedding -> nn.LSTM -> nn.Linear``, trained like char-rnn (streams,
  state carried across batches, truncated BPTT).
- ``TinyGPT``: a GPT-style causal transformer (pre-LayerNorm blocks, learned positions,
  weight-tied head) at nanoGPT's CPU size: 4 layers, 4 heads, width 128, context 64.
- ``tfidf_logreg``: TF-IDF of 1-2-grams + logistic regression, C picked on the validation part.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class PlainLSTMLM(nn.Module):
    def __init__(self, vocab: int, hidden: int = 256, layers: int = 2, emb: int = 64,
                 dropout: float = 0.1):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.drop(self.emb(x)), state)  # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)


class Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width), nn.Dropout(dropout))
        self.heads, self.dropout = heads, dropout

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int, layers: int = 4, heads: int = 4, width: int = 128,
                 context: int = 64, dropout: float = 0.0):
        super().__init__()
        self.context = context
        self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.Sequential(*[Block(width, heads, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.tok.weight
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, x):
        T = x.shape[1]
        h = self.tok(x) + self.pos(torch.arange(T, device=x.device))  # (B, T, C)
        return self.head(self.ln(self.blocks(h)))  # (B, T, V)


def cosine_lr(step: int, total: int, lr: float, warmup: int, floor: float) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor * lr + (1 - floor) * lr * 0.5 * (1 + math.cos(math.pi * p))


def train_lm_for(model, batch_fn, loss_fn, minutes: float, steps: int, lr: float, *,
                 weight_decay: float = 0.0, betas=(0.9, 0.999), warmup: int = 50,
                 floor: float = 0.1, clip: float = 1.0) -> dict:
    """Train ``steps`` steps (cosine schedule) or until ``minutes`` of training time."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    model.train()
    elapsed, step = 0.0, 0
    while step < steps and elapsed < minutes * 60:
        start = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr, warmup, floor)
        loss = loss_fn(batch_fn(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        step += 1
        elapsed += time.perf_counter() - start
    return {"steps": step, "minutes": elapsed / 60}


def tfidf_logreg(train, val, test) -> dict:
    """Test accuracy of TF-IDF (1-2-grams) + logistic regression; C chosen on ``val``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    xtr = vec.fit_transform([s.text for s in train])
    ytr = [s.label for s in train]
    best = None
    for c in (1.0, 3.0, 10.0, 30.0):
        clf = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr)
        acc = clf.score(vec.transform([s.text for s in val]), [s.label for s in val])
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    _, c, clf = best
    return {"accuracy": clf.score(vec.transform([s.text for s in test]),
                                  [s.label for s in test]), "C": c}
