"""Peers for benchmarks/quality_text.py, in plain PyTorch / scikit-learn (not rnnkit).

- ``TinyGPT``: a GPT-style causal transformer (pre-LayerNorm blocks, learned positions,
  weight-tied head) at nanoGPT's CPU size: 4 layers, 4 heads, width 128, context 64.
- ``TransformerMT``: ``torch.nn.Transformer`` encoder-decoder for translation (pre-LayerNorm,
  sinusoidal positions, target embedding tied to the output layer), decoded with rnnkit's own
  beam search (``rnnkit.models.beam.beam_search_one``) through a small adapter, so both
  families share the beam, the length normalisation and the stopping rule.
- ``train_for``: AdamW for a fixed training time, cosine schedule over that time.
- ``tfidf_logreg``: TF-IDF of 1-2-grams + logistic regression, C picked on the validation part.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn


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


class TransformerMT(nn.Module):
    """``nn.Transformer`` translation model; ``forward(x, y_in) -> logits (B, T, V)``.
    Embeddings scaled by sqrt(width) (Vaswani et al. 2017), initialised N(0, 1/width)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, *, pad_id: int, width: int = 256,
                 heads: int = 4, encoder_layers: int = 2, decoder_layers: int = 2,
                 ff: int = 256, dropout: float = 0.1, max_len: int = 128):
        super().__init__()
        self.pad_id, self.width = pad_id, width
        self.src = nn.Embedding(src_vocab, width)
        self.tgt = nn.Embedding(tgt_vocab, width)
        nn.init.normal_(self.src.weight, std=width ** -0.5)  # x sqrt(width): unit scale
        nn.init.normal_(self.tgt.weight, std=width ** -0.5)
        position = torch.arange(max_len)[:, None] * torch.exp(
            torch.arange(0, width, 2) * (-math.log(10000.0) / width))  # (max_len, C/2)
        self.register_buffer("pos", torch.stack([position.sin(), position.cos()], -1)
                             .flatten(1), persistent=False)  # (max_len, C) sinusoids
        self.core = nn.Transformer(width, heads, encoder_layers, decoder_layers, ff, dropout,
                                   batch_first=True, norm_first=True)
        self.head = nn.Linear(width, tgt_vocab)
        self.head.weight = self.tgt.weight
        self.drop = nn.Dropout(dropout)

    def _embed(self, table: nn.Embedding, ids):
        T = ids.shape[1]
        return self.drop(table(ids) * self.width ** 0.5 + self.pos[:T])

    def encode(self, x):
        """Memory (B, S, C) and the source padding mask (B, S), True at padding."""
        mask = x == self.pad_id
        return self.core.encoder(self._embed(self.src, x), src_key_padding_mask=mask), mask

    def decode(self, y_in, memory, mask):
        T = y_in.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(T)
        h = self.core.decoder(self._embed(self.tgt, y_in), memory, tgt_mask=causal,
                              tgt_is_causal=True, memory_key_padding_mask=mask)
        return self.head(h)  # (B, T, V)

    def forward(self, x, y_in):
        return self.decode(y_in, *self.encode(x))


class _Prefix:
    """Beam-search state for :class:`TransformerMT`: the tokens decoded so far (B, t).
    (``rnn`` is the name ``beam_search_one`` reads the device from.)"""

    def __init__(self, tokens):
        self.rnn = tokens

    def index_select(self, rows):
        return _Prefix(self.rnn.index_select(0, rows))


class _Memory:
    def __init__(self, keys, mask):
        self.keys, self.mask = keys, mask

    def index_select(self, rows):
        return _Memory(self.keys.index_select(0, rows), self.mask.index_select(0, rows))


class _StepDecoder:
    """``step(token, state, memory) -> (logits, state, None)``: re-reads the whole prefix
    (no key/value cache; sentences are short)."""

    def __init__(self, model: TransformerMT):
        self.model = model

    def step(self, token, state: _Prefix, memory: _Memory):
        prefix = torch.cat([state.rnn, token[:, None]], dim=1)  # (k, t + 1)
        logits = self.model.decode(prefix, memory.keys, memory.mask)[:, -1]  # (k, V)
        return logits, _Prefix(prefix), None


@torch.no_grad()
def transformer_translate(model: TransformerMT, x, lengths, *, bos_id: int, eos_id: int,
                          beam: int, length_penalty: float) -> list[list[int]]:
    """Token ids of the beam-search translation of each row of ``x`` (B, S)."""
    from rnnkit.models.beam import beam_search_one

    model.eval()
    keys, mask = model.encode(x)
    memory, state = _Memory(keys, mask), _Prefix(x.new_zeros(x.shape[0], 0))
    return [beam_search_one(_StepDecoder(model), memory, state, b, beam_size=beam,
                            max_len=2 * int(lengths[b]) + 10, bos_id=bos_id, eos_id=eos_id,
                            length_penalty=length_penalty).tokens
            for b in range(x.shape[0])]


def cosine_lr(progress: float, step: int, lr: float, warmup: int, floor: float) -> float:
    """Linear warm-up over ``warmup`` steps, cosine from lr to floor * lr over progress 0-1."""
    f = min(1.0, (step + 1) / warmup) if warmup else 1.0
    return f * lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def train_for(model, batch_fn, loss_fn, minutes: float, lr: float, *,
              weight_decay: float = 0.0, betas=(0.9, 0.999), warmup: int = 50,
              floor: float = 0.1, clip: float = 1.0, clock: str = "wall") -> dict:
    """Train for ``minutes`` of training time, the cosine running over that time (as
    rnnkit's ``schedule_clock = "time"``); returns the steps done and the minutes.
    ``clock``: ``"wall"`` times the steps by the wall clock, ``"cpu"`` by this process's
    CPU time (the same work however busy the machine is)."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    model.train()
    elapsed, step, budget = 0.0, 0, minutes * 60
    while elapsed < budget:
        start = now()
        for g in opt.param_groups:
            g["lr"] = cosine_lr(elapsed / budget, step, lr, warmup, floor)
        loss = loss_fn(batch_fn(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        step += 1
        elapsed += now() - start
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
