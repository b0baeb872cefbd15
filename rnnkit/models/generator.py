"""One-to-many: ``ConditionalGenerator`` (a vector sets the state, a decoder emits a sequence)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, StepOutput
from .beam import beam_search_one
from .decoder import Decoder, DecoderOutput
from .masking import length_mask
from .sampling import sample_logits
from .seq2seq import DecodeResult
from .states import pack_state, state_count

OUTPUTS = ("tokens", "real", "binary")


class ConditionalGenerator(Model):
    r"""A condition vector ``c`` (B, condition_size) starts a decoder that emits a sequence.

    .. math::
        h_0 = \tanh(W_c c + b) \text{ (every layer and state tensor)}, \quad
        o_t = \mathrm{Decoder}(y_{t-1}, h_{t-1})

    Outputs (``output``): ``"tokens"`` (``vocab_size``; ``"y"`` (B, T) ids, cross-entropy;
    the first input is ``bos_id``), ``"real"`` (``output_size`` frames, ``"y"`` (B, T, F),
    MSE) or ``"binary"`` (frames of 0/1 such as a piano roll, BCE with logits); the first
    input frame is zeros. ``"lengths"`` (B,) optional: later steps are ignored. Training uses
    teacher forcing with probability ``teacher_forcing`` per step (1.0 = always).

    With ``attention`` (``"bahdanau"``, ``"luong"``) and ``memory_size`` the decoder also
    attends over ``"memory"`` (B, S, memory_size) from the batch (e.g. an image feature map;
    ``"memory_mask"`` (B, S) optional). :meth:`encode` is the place to add an encoder.

    Example::

        gen = ConditionalGenerator(condition_size=16, vocab_size=50, cell="gru",
                                   hidden_size=64)
        gen.compute_loss({"c": c, "y": ids}).loss
        gen.generate(c, max_len=20)                 # (B, 20) greedy ids
        gen.beam_search(c, beam_size=5, max_len=20).tokens   # lists of ids, eos cut
    """

    def __init__(
        self, *, condition_size: int, vocab_size: int | None = None,
        output_size: int | None = None, cell: str = "gru", hidden_size: int = 128,
        num_layers: int = 1, embedding_dim: int | None = None, dropout: float = 0.0,
        output: str = "tokens", bos_id: int = 1, eos_id: int | None = None,
        attention: str = "none", memory_size: int | None = None, teacher_forcing: float = 1.0,
    ):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if (output == "tokens") != (vocab_size is not None) or (
                output != "tokens" and output_size is None):
            raise ValueError("output='tokens' needs vocab_size; 'real'/'binary' need output_size")
        size = vocab_size if output == "tokens" else output_size
        self.decoder = Decoder(
            cell, hidden_size, size, vocab_size=vocab_size, input_size=output_size,
            embedding_dim=embedding_dim, num_layers=num_layers, dropout=dropout,
            attention=attention, memory_size=memory_size,
        )
        self.n_states = state_count(cell)
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.init = nn.Linear(condition_size, self.n_states * num_layers * hidden_size)
        self.output, self.bos_id, self.eos_id, self.size = output, bos_id, eos_id, size
        self.teacher_forcing = teacher_forcing
        emb = self.decoder.embedding.embedding_dim if self.decoder.embedding is not None else None
        self._config = dict(
            condition_size=condition_size, vocab_size=vocab_size, output_size=output_size,
            cell=cell, hidden_size=hidden_size, num_layers=num_layers, embedding_dim=emb,
            dropout=dropout, output=output, bos_id=bos_id, eos_id=eos_id, attention=attention,
            memory_size=memory_size,
        )

    def get_config(self) -> dict:
        return {**self._config, "teacher_forcing": self.teacher_forcing}

    def encode(self, c: Tensor, memory: Tensor | None = None, memory_mask: Tensor | None = None):
        """Condition (B, condition_size) [and features to attend over] -> (state, memory)."""
        B = c.shape[0]
        h0 = torch.tanh(self.init(c)).view(B, self.n_states, self.num_layers, self.hidden_size)
        state = pack_state([h0[:, i].transpose(0, 1).contiguous() for i in range(self.n_states)])
        mem = None
        if self.decoder.attention is not None:
            if memory is None:
                raise ValueError("this model attends: pass memory (B, S, memory_size)")
            mask = memory_mask if memory_mask is not None else length_mask(
                None, memory.shape[1], B, memory.device)
            mem = self.decoder.memory(memory, mask)
        return self.decoder.start(state), mem

    def _first_input(self, B: int, device) -> Tensor:
        if self.output == "tokens":
            return torch.full((B,), self.bos_id, dtype=torch.long, device=device)
        return torch.zeros(B, self.size, device=device)

    def _feedback(self, out: Tensor) -> Tensor:
        if self.output == "tokens":
            return out.argmax(-1)
        return out if self.output == "real" else (out > 0).to(out.dtype)

    def forward(self, c: Tensor, y: Tensor, memory=None, memory_mask=None) -> DecoderOutput:
        """Teacher-forced outputs (B, T, vocab or F) for targets ``y``."""
        state, mem = self.encode(c, memory, memory_mask)
        first = self._first_input(y.shape[0], y.device).unsqueeze(1)
        inputs = torch.cat([first, y[:, :-1].to(first.dtype)], dim=1)  # shifted right
        return self.decoder(inputs, state, mem, self.teacher_forcing, self._feedback)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        y = batch["y"]
        out = self(batch["c"], y, batch.get("memory"), batch.get("memory_mask")).outputs
        valid = length_mask(batch.get("lengths"), y.shape[1], y.shape[0], y.device)  # (B, T)
        if self.output == "tokens":
            per_step = F.cross_entropy(out.transpose(1, 2), y, reduction="none")  # (B, T)
        elif self.output == "real":
            per_step = F.mse_loss(out, y.to(out.dtype), reduction="none").mean(-1)
        else:
            per_step = F.binary_cross_entropy_with_logits(
                out, y.to(out.dtype), reduction="none").mean(-1)
        count = int(valid.sum())
        loss = (per_step * valid).sum() / max(count, 1)
        return StepOutput(loss, {self.output + "_loss": loss.item()}, count=count)

    @torch.no_grad()
    def generate(
        self, c: Tensor, max_len: int, *, temperature: float = 0.0, top_k: int | None = None,
        top_p: float | None = None, generator: torch.Generator | None = None,
        memory: Tensor | None = None, memory_mask: Tensor | None = None,
    ) -> Tensor:
        """Emit ``max_len`` steps: ids (B, max_len) or frames (B, max_len, F).

        ``temperature=0`` is greedy (argmax ids, predicted frames, thresholded binary
        frames); otherwise tokens are sampled (:func:`sample_logits`) and binary frames drawn
        from their Bernoulli probabilities; real frames are always the prediction. Tokens
        after ``eos_id`` repeat ``eos_id``.
        """
        state, mem = self.encode(c, memory, memory_mask)
        x = self._first_input(c.shape[0], c.device)
        steps, done = [], torch.zeros(c.shape[0], dtype=torch.bool, device=c.device)
        for _ in range(max_len):
            out, state, _ = self.decoder.step(x, state, mem)
            x = self._choose(out, temperature, top_k, top_p, generator)
            if self.output == "tokens" and self.eos_id is not None:
                x = x.masked_fill(done, self.eos_id)
                done |= x == self.eos_id
            steps.append(x)
        return torch.stack(steps, dim=1)

    @torch.no_grad()
    def beam_search(
        self, c: Tensor, *, beam_size: int = 5, max_len: int = 50,
        memory: Tensor | None = None, memory_mask: Tensor | None = None,
        length_penalty: float = 0.6,
    ) -> DecodeResult:
        """Beam search for token outputs, one example at a time (see
        :func:`~rnnkit.models.beam.beam_search_one`; needs ``eos_id``). Ranking as in
        :meth:`Seq2Seq.beam_search <rnnkit.models.Seq2Seq.beam_search>`; ``beam_size=1``
        gives :meth:`generate`'s greedy tokens. ``attention`` holds one (len(tokens), S)
        tensor per example when the model attends, else None."""
        if self.output != "tokens" or self.eos_id is None:
            raise ValueError("beam search needs output='tokens' and an eos_id")
        state, mem = self.encode(c, memory, memory_mask)
        results = [
            beam_search_one(self.decoder, mem, state, b, beam_size=beam_size, max_len=max_len,
                            bos_id=self.bos_id, eos_id=self.eos_id,
                            length_penalty=length_penalty)
            for b in range(c.shape[0])
        ]
        attention = [r.attention for r in results] if mem is not None else None
        return DecodeResult(
            [r.tokens for r in results], torch.tensor([r.score for r in results]),
            torch.tensor([r.log_prob for r in results]), attention,
        )

    def _choose(self, out: Tensor, temperature, top_k, top_p, generator) -> Tensor:
        if self.output == "tokens":
            return sample_logits(
                out, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        if self.output == "binary" and temperature > 0:
            return torch.bernoulli(torch.sigmoid(out / temperature), generator=generator)
        return self._feedback(out)

