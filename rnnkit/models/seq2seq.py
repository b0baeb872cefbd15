"""``Seq2Seq``: encoder, attention, decoder; teacher forcing; greedy and beam search."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .beam import beam_search_one
from .decoder import Decoder, DecoderState, Memory
from .encoder import SequenceEncoder
from .masking import length_mask
from .states import state_count


@dataclass
class DecodeResult:
    """Decoded sequences: ``tokens`` one list per example (bos and eos left out),
    ``scores`` (B,) the ranking score (beam: length-normalised; greedy: = log_probs),
    ``log_probs`` (B,) the sum of the tokens' log-probabilities (eos included), ``attention``
    one (len(tokens), source length) tensor per example (None without attention)."""

    tokens: list[list[int]]
    scores: Tensor
    log_probs: Tensor
    attention: list[Tensor] | None


class Seq2Seq(Model):
    """Encoder-decoder for unaligned sequence pairs (translation), with attention.

    Batch: ``"x"`` (B, S) source ids, ``"lengths"`` (B,); ``"y"`` (B, T) target ids that
    begin with ``bos_id`` and end with ``eos_id``, ``pad_id`` after; ``"y_lengths"`` (B,)
    optional (bos and eos counted). The encoder (bidirectional by default) reads the source;
    its final state, directions concatenated, goes through ``bridge`` (tanh of a linear, per
    layer and state tensor; absent when unidirectional) to start the :class:`Decoder`, which
    attends over the encoder outputs (``attention="bahdanau"|"luong"|"luong_dot"|"none"``)
    with input feeding. Training reads ``y[:, :-1]`` and predicts ``y[:, 1:]``; with
    probability ``1 - teacher_forcing`` (an attribute a schedule may change; 1.0 = always
    teacher forcing) a step reads the model's own previous argmax instead. Loss:
    cross-entropy over target tokens, pad ignored; metrics: accuracy, perplexity.
    ``label_smoothing`` (Szegedy et al. 2016; Vaswani et al. 2017 use 0.1) spreads that share
    of each target's probability evenly over the vocabulary in the training loss only: in
    evaluation mode the loss is the plain cross-entropy, so validation losses stay comparable
    across settings. ``tie_embeddings`` shares the decoder's input embedding with its output
    layer (see :class:`~rnnkit.models.decoder.Decoder`).

    Decoding: :meth:`greedy` and :meth:`beam_search` return :class:`DecodeResult`.

    Example::

        model = Seq2Seq(src_vocab_size=5000, tgt_vocab_size=6000, cell="gru",
                        hidden_size=256, attention="bahdanau")
        model.compute_loss({"x": src, "lengths": src_len, "y": tgt}).loss
        model.beam_search(src, src_len, beam_size=5, max_len=50).tokens
    """

    def __init__(
        self, *, src_vocab_size: int, tgt_vocab_size: int, cell: str = "lstm",
        hidden_size: int = 128, num_layers: int = 1, embedding_dim: int | None = None,
        attention: str = "bahdanau", bidirectional_encoder: bool = True, dropout: float = 0.0,
        bos_id: int = 2, eos_id: int = 3, pad_id: int = 0, teacher_forcing: float = 1.0,
        label_smoothing: float = 0.0, tie_embeddings: bool = False,
    ):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.encoder = SequenceEncoder(
            cell, hidden_size, vocab_size=src_vocab_size, embedding_dim=embedding_dim,
            num_layers=num_layers, bidirectional=bidirectional_encoder, dropout=dropout,
            padding_idx=pad_id,
        )
        directions = self.encoder.directions
        n_states = state_count(cell)
        self.bridge = nn.ModuleList(
            nn.Linear(directions * hidden_size, hidden_size) for _ in range(n_states)
        ) if directions > 1 else None
        self.decoder = Decoder(
            cell, hidden_size, tgt_vocab_size, vocab_size=tgt_vocab_size,
            embedding_dim=embedding_dim, num_layers=num_layers, dropout=dropout,
            attention=attention, memory_size=self.encoder.output_size, padding_idx=pad_id,
            tie_embeddings=tie_embeddings,
        )
        self.label_smoothing = label_smoothing
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.teacher_forcing = teacher_forcing
        self.num_layers = num_layers
        self._config = dict(
            src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size, cell=cell,
            hidden_size=hidden_size, num_layers=num_layers,
            embedding_dim=self.encoder.embedding_dim, attention=attention,
            bidirectional_encoder=bidirectional_encoder, dropout=dropout, bos_id=bos_id,
            eos_id=eos_id, pad_id=pad_id, label_smoothing=label_smoothing,
            tie_embeddings=tie_embeddings,
        )

    def get_config(self) -> dict:
        return {**self._config, "teacher_forcing": self.teacher_forcing}

    def encode(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Memory, DecoderState]:
        """Source ids (B, S) -> the memory to attend over and the decoder's first state."""
        output, h_n = self.encoder(x, lengths)  # (B, S, D*H)
        mask = length_mask(lengths, x.shape[1], x.shape[0], x.device)  # (B, S)
        parts = h_n if isinstance(h_n, tuple) else (h_n,)
        if self.bridge is not None:
            L, D = self.num_layers, self.encoder.directions
            parts = tuple(
                torch.tanh(lin(p.view(L, D, *p.shape[1:]).permute(0, 2, 1, 3).flatten(2)))
                for lin, p in zip(self.bridge, parts)
            )  # each (L, B, H)
        state = parts if isinstance(h_n, tuple) else parts[0]
        return self.decoder.memory(output, mask), self.decoder.start(state)

    def forward(self, x, lengths, y_in: Tensor):
        """Teacher-forced decoder outputs: logits (B, T, V) for decoder inputs ``y_in``."""
        memory, state = self.encode(x, lengths)
        return self.decoder(
            y_in, state, memory, self.teacher_forcing, feedback=lambda o: o.argmax(-1)
        )

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        y = batch["y"]
        targets = y[:, 1:]  # (B, T-1)
        if "y_lengths" in batch:
            valid = length_mask(batch["y_lengths"] - 1, targets.shape[1], y.shape[0], y.device)
            targets = targets.masked_fill(~valid, self.pad_id)
        logits = self(batch["x"], batch.get("lengths"), y[:, :-1]).outputs  # (B, T-1, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=self.pad_id,
            label_smoothing=self.label_smoothing if self.training else 0.0,
        )
        valid = targets != self.pad_id
        count = int(valid.sum())
        correct = ((logits.argmax(-1) == targets) & valid).sum()
        metrics = {
            "accuracy": (correct / max(count, 1)).item(),
            "perplexity": float(torch.exp(loss.detach().clamp(max=50))),
        }
        return StepOutput(loss, metrics, count=count)

    @torch.no_grad()
    def greedy(self, x: Tensor, lengths: Tensor | None = None, max_len: int = 100):
        """Greedy decoding (argmax at each step) of a batch, up to ``max_len`` tokens."""
        memory, state = self.encode(x, lengths)
        B = x.shape[0]
        token = torch.full((B,), self.bos_id, dtype=torch.long, device=x.device)
        done = torch.zeros(B, dtype=torch.bool, device=x.device)
        steps, logps, weights = [], [], []
        for _ in range(max_len):
            out, state, w = self.decoder.step(token, state, memory)
            logp, token = out.log_softmax(-1).max(-1)  # (B,), (B,)
            steps.append(token)
            logps.append(logp)
            weights.append(w)
            done |= token == self.eos_id
            if bool(done.all()):
                break
        tokens, log_probs, attention = [], [], []
        src_lens = lengths.tolist() if lengths is not None else [x.shape[1]] * B
        for b in range(B):
            seq = [int(s[b]) for s in steps]
            n = seq.index(self.eos_id) + 1 if self.eos_id in seq else len(seq)
            tokens.append(seq[: n - 1] if seq[n - 1] == self.eos_id else seq[:n])
            log_probs.append(sum(float(lp[b]) for lp in logps[:n]))
            if weights[0] is not None:
                rows = torch.stack([w[b] for w in weights[: len(tokens[-1])]]) \
                    if tokens[-1] else weights[0].new_zeros(0, x.shape[1])
                attention.append(rows[:, : src_lens[b]])
        scores = torch.tensor(log_probs)
        return DecodeResult(tokens, scores, scores.clone(), attention if attention else None)

    @torch.no_grad()
    def beam_search(
        self, x: Tensor, lengths: Tensor | None = None, beam_size: int = 5, max_len: int = 100,
        length_penalty: float = 0.6,
    ) -> DecodeResult:
        """Beam search, one example at a time (see :func:`~rnnkit.models.beam.beam_search_one`).

        Hypotheses are ranked at the end by GNMT's length normalisation (Wu et al. 2016):
        ``log_prob / ((5 + n) / 6) ** length_penalty`` with ``n`` the tokens generated, eos
        included; ``length_penalty=0`` ranks by the raw log-probability. ``beam_size=1`` gives
        exactly :meth:`greedy`'s tokens.
        """
        memory, state = self.encode(x, lengths)
        src_lens = lengths.tolist() if lengths is not None else [x.shape[1]] * x.shape[0]
        results = [
            beam_search_one(
                self.decoder, memory, state, b, beam_size=beam_size, max_len=max_len,
                bos_id=self.bos_id, eos_id=self.eos_id, length_penalty=length_penalty,
            )
            for b in range(x.shape[0])
        ]
        attention = None
        if self.decoder.attention is not None:
            attention = [r.attention[:, :n] for r, n in zip(results, src_lens)]
        return DecodeResult(
            [r.tokens for r in results], torch.tensor([r.score for r in results]),
            torch.tensor([r.log_prob for r in results]), attention,
        )
