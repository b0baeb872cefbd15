"""``ImageCaptioner``: a CNN encoder in front of a :class:`ConditionalGenerator` (Show, Attend
and Tell)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import StepOutput
from .generator import ConditionalGenerator
from .image_encoder import ConvEncoder, normalise_images
from .masking import length_mask
from .seq2seq import DecodeResult

IMAGE_ENCODERS: dict[str, Callable[..., nn.Module]] = {"cnn": ConvEncoder}


def register_image_encoder(name: str, factory: Callable[..., nn.Module]) -> None:
    """Make ``encoder=name`` build ``factory(channels)`` (so checkpoints can rebuild it)."""
    IMAGE_ENCODERS[name] = factory


class ImageCaptioner(ConditionalGenerator):
    r"""One image in, a sentence out (Xu et al. 2015, "Show, Attend and Tell").

    .. math::
        A = \mathrm{CNN}(x) \in \mathbb{R}^{K \times h \times w}, \quad
        c = \mathrm{ReLU}(\mathrm{LN}(W_f \operatorname{vec}(A))), \quad
        h_0 = \tanh(W_c c + b), \quad o_t = \mathrm{Decoder}(y_{t-1}, h_{t-1}, A)

    The encoder (``encoder``: a name in :data:`IMAGE_ENCODERS`, default the small
    :class:`~rnnkit.models.image_encoder.ConvEncoder` with ``channels``, or any module with
    ``out_channels``) maps normalised images to a feature map ``A``; ``W_f`` is ``pool``, a
    linear map of the whole flattened map to the condition ``c`` (``feature_size``; it keeps
    where things are, unlike a mean), layer-normalised so that ``h_0`` cannot saturate (a
    saturated tanh gives every image the same first state); ``c`` sets the
    decoder's first state (:class:`ConditionalGenerator`), and with ``attention``
    ("bahdanau", "luong", "none") each step attends over the h*w positions of ``A``.

    Batch: ``"image"`` (B, 3, H, W) uint8 (normalised inside, see
    :func:`~rnnkit.models.image_encoder.normalise_images`); ``"y"`` (B, R, T) R reference
    captions per image (or (B, T)), ids ending with ``eos_id``, ``pad_id`` after;
    ``"lengths"`` (B, R) (eos counted; 0 = no caption in that slot). The image is encoded
    once and the loss averages cross-entropy over all references' tokens (teacher forcing);
    in training mode, ``references_per_step`` > 0 draws that many of each image's captions at
    random instead (less work per step; evaluation always reads all).
    Metrics: ``tokens_loss``, ``accuracy`` (next-token).

    Example::

        model = ImageCaptioner(vocab_size=40, image_size=64, hidden_size=256)
        model.compute_loss({"image": images, "y": ids, "lengths": lengths}).loss
        model.caption(images, beam_size=5).tokens
    """

    def __init__(
        self, *, vocab_size: int, image_size: int = 64, encoder: str | nn.Module = "cnn",
        channels: tuple[int, ...] | list[int] = (32, 64, 128), feature_size: int = 256,
        cell: str = "lstm", hidden_size: int = 256, num_layers: int = 1,
        embedding_dim: int | None = None, dropout: float = 0.0, attention: str = "bahdanau",
        bos_id: int = 2, eos_id: int = 3, pad_id: int = 0, teacher_forcing: float = 1.0,
        references_per_step: int = 0,
    ):
        if isinstance(encoder, str):
            if encoder not in IMAGE_ENCODERS:
                raise ValueError(f"encoder must be one of {sorted(IMAGE_ENCODERS)}, "
                                 f"got {encoder!r}")
            module = IMAGE_ENCODERS[encoder](tuple(channels))
        else:
            module = encoder
        K = module.out_channels
        with torch.no_grad():
            was = module.training
            h, w = module.eval()(torch.zeros(1, 3, image_size, image_size)).shape[2:]
            module.train(was)
        super().__init__(
            condition_size=feature_size, vocab_size=vocab_size, cell=cell,
            hidden_size=hidden_size, num_layers=num_layers, embedding_dim=embedding_dim,
            dropout=dropout, bos_id=bos_id, eos_id=eos_id, attention=attention,
            memory_size=K if attention != "none" else None, teacher_forcing=teacher_forcing,
        )
        self.encoder = module
        self.pool = nn.Sequential(nn.Flatten(), nn.Linear(K * h * w, feature_size),
                                  nn.LayerNorm(feature_size), nn.ReLU())
        self.feature_shape = (int(h), int(w))
        self.pad_id, self.references_per_step = pad_id, references_per_step
        self._config.update(
            vocab_size=vocab_size, image_size=image_size, encoder=encoder,
            channels=list(channels), feature_size=feature_size, pad_id=pad_id,
            references_per_step=references_per_step)
        for key in ("condition_size", "output_size", "output", "memory_size"):
            del self._config[key]

    def get_config(self) -> dict:
        if not isinstance(self._config["encoder"], str):
            raise TypeError("a custom encoder module cannot be saved in model.json: register "
                            "it with register_image_encoder(name, factory) and pass the name")
        return super().get_config()

    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images (B, 3, H, W) -> condition (B, feature_size), memory (B, h*w, K)."""
        fmap = self.encoder(normalise_images(images))  # (B, K, h, w)
        return self.pool(fmap), fmap.flatten(2).transpose(1, 2)  # (B, F), (B, S, K)

    def compute_loss(self, batch: dict[str, Tensor], state=None) -> StepOutput:
        y, lengths = batch["y"], batch.get("lengths")
        if y.dim() == 2:
            y = y.unsqueeze(1)
            lengths = lengths.unsqueeze(1) if lengths is not None else None
        if self.training and 0 < self.references_per_step < y.shape[1]:
            y, lengths = self._draw_references(y, lengths)
        B, R, T = y.shape
        c, memory = self.features(batch["image"])
        keep = (lengths > 0).flatten() if lengths is not None else None  # empty slots out
        rows = torch.arange(B, device=y.device).repeat_interleave(R)  # (B*R,)
        y, lengths = y.flatten(0, 1), lengths.flatten() if lengths is not None else None
        if keep is not None:
            rows, y, lengths = rows[keep], y[keep], lengths[keep]
        mem = memory.index_select(0, rows) if self.decoder.attention is not None else None
        out = self(c.index_select(0, rows), y, mem).outputs  # (N, T, V)
        valid = length_mask(lengths, T, y.shape[0], y.device)  # (N, T)
        per_step = F.cross_entropy(out.transpose(1, 2), y, reduction="none")  # (N, T)
        count = int(valid.sum())
        loss = (per_step * valid).sum() / max(count, 1)
        correct = ((out.argmax(-1) == y) & valid).sum()
        return StepOutput(loss, {"tokens_loss": loss.item(),
                                 "accuracy": (correct / max(count, 1)).item()}, count=count)

    def _draw_references(self, y: Tensor, lengths: Tensor | None):
        """``references_per_step`` captions per image, at random among the non-empty ones."""
        B, R, _ = y.shape
        noise = torch.rand(B, R, device=y.device)  # (B, R)
        if lengths is not None:
            noise = noise.masked_fill(lengths <= 0, -1.0)  # empty slots last
        pick = noise.topk(self.references_per_step, dim=1).indices  # (B, k)
        y = y.gather(1, pick.unsqueeze(-1).expand(-1, -1, y.shape[2]))  # (B, k, T)
        return y, lengths.gather(1, pick) if lengths is not None else None

    @torch.no_grad()
    def caption(self, images: Tensor, *, beam_size: int = 1, max_len: int = 30,
                length_penalty: float = 0.6) -> DecodeResult:
        """Captions for images (B, 3, H, W): beam search (``beam_size=1``: greedy), eos
        and bos left out; ``attention`` one (len(tokens), h*w) tensor per image (reshape to
        ``feature_shape``) or None."""
        c, memory = self.features(images)
        mem = memory if self.decoder.attention is not None else None
        return self.beam_search(c, beam_size=beam_size, max_len=max_len, memory=mem,
                                length_penalty=length_penalty)

    @torch.no_grad()
    def greedy(self, images: Tensor, max_len: int = 30) -> list[list[int]]:
        """Greedy captions for a batch at once (faster than ``caption``; no attention)."""
        c, memory = self.features(images)
        mem = memory if self.decoder.attention is not None else None
        ids = self.generate(c, max_len, memory=mem).tolist()  # (B, max_len), eos repeated
        return [seq[:seq.index(self.eos_id)] if self.eos_id in seq else seq for seq in ids]
