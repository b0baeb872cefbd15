"""From what the user passes (tensor, batch-first tensor, unbatched tensor, PackedSequence,
lengths) to the time-major (T, B, I) batch the loop runs on, and back again."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .checks import check_input, check_lengths


@dataclass
class SequenceBatch:
    x: Tensor  # (T, B, I), time-major
    lengths: Tensor | None  # (B,) int64, or None when every sequence is full length
    packed: PackedSequence | None  # the packed input, to repack the output alike
    batch_first: bool
    unbatched: bool

    @property
    def batch_size(self) -> int:
        return self.x.shape[1]

    def restore(self, out: Tensor):
        """Time-major output (T, B, O) -> the layout the input came in."""
        if self.packed is not None:
            return repack_like(out, self.lengths, self.packed)
        if self.unbatched:
            return out.squeeze(1)
        return out.transpose(0, 1) if self.batch_first else out


def to_batch(input, input_size: int, batch_first: bool, lengths=None) -> SequenceBatch:
    """Validate the input and return it time-major with its lengths."""
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ValueError("pass either a PackedSequence or lengths=, not both")
        check_packed(input, input_size)
        x, lens = pad_packed_sequence(input)  # (T, B, I), original batch order
        return SequenceBatch(x, lens.long(), input, batch_first, unbatched=False)
    check_input(input, input_size, batch_first)
    unbatched = input.dim() == 2
    x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if batch_first else input)
    if lengths is not None:
        lengths = check_lengths(lengths, x.shape[1], x.shape[0])
    return SequenceBatch(x, lengths, None, batch_first, unbatched)


def check_packed(packed: PackedSequence, input_size: int) -> None:
    """A PackedSequence's data must be floating point, (steps, input_size)."""
    data = packed.data
    if not data.is_floating_point():
        raise TypeError(f"input must be a floating-point PackedSequence, got dtype {data.dtype};"
                        " pack a float tensor (input.float())")
    if data.dim() != 2 or data.shape[1] != input_size:
        raise ValueError(f"a PackedSequence's data must have shape (steps, input_size="
                         f"{input_size}), got {tuple(data.shape)}")


def repack_like(out: Tensor, lengths: Tensor, packed: PackedSequence) -> PackedSequence:
    """Pack out (T, B, O), in original batch order, exactly as ``packed`` was packed."""
    if packed.sorted_indices is not None:
        out = out.index_select(1, packed.sorted_indices.to(out.device))
        lengths = lengths.index_select(0, packed.sorted_indices.cpu())
    data = pack_padded_sequence(out, lengths.cpu(), enforce_sorted=True).data
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)


def pack_for_fused(batch: SequenceBatch) -> PackedSequence:
    """The packed form torch's fused kernels need for sequences of unequal length."""
    if batch.packed is not None:
        return batch.packed
    return pack_padded_sequence(batch.x, batch.lengths.cpu(), enforce_sorted=False)


def unpack_from_fused(out: PackedSequence, batch: SequenceBatch) -> Tensor:
    """Fused packed output -> time-major (T, B, O) zero-padded to the input's length."""
    padded, _ = pad_packed_sequence(out, total_length=batch.x.shape[0])
    return padded
