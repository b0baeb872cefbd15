"""Batch streams (rnnkit/data/batches.py) against hand-computed expectations: the exact rows
each step and each rank reads, the seeded order written out (a resumed run, even one resumed
by a newer version, must read the batches the interrupted run would have), bucketing redone
with Python's stable ``sorted``, padding trimmed to hand-counted widths, and the errors."""

import pytest
import torch

from rnnkit.data.batches import (
    BatchStream,
    BucketStream,
    ContiguousStreams,
    batches,
    num_samples,
    take,
    trim_padding,
)


def _perm(n, seed, epoch):
    """The documented seeding: one generator per (seed, epoch)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return g, torch.randperm(n, generator=g).tolist()


def _rows(n=10):
    return {"x": torch.arange(n) * 10, "y": torch.arange(n)[:, None].repeat(1, 3)}


def test_num_samples_and_take():
    assert num_samples(_rows(7)) == 7
    with pytest.raises(ValueError, match=r"same first dim, got \{2, 3\}"):
        num_samples({"a": torch.zeros(2), "b": torch.zeros(3, 1)})
    out = take(_rows(), torch.tensor([4, 1]))
    assert out["x"].tolist() == [40, 10] and out["y"].tolist() == [[4] * 3, [1] * 3]


def test_evaluation_batches_are_consecutive_and_the_last_one_is_smaller():
    got = [b["x"].tolist() for b in batches(_rows(5), 2)]
    assert got == [[0, 10], [20, 30], [40]]
    assert [b["y"][:, 0].tolist() for b in batches(_rows(4), 4)] == [[0, 1, 2, 3]]


@pytest.mark.parametrize("seed", [0, 3])
def test_batch_stream_reads_the_seeded_permutation_in_order(seed):
    n, B = 10, 3
    s = BatchStream(_rows(n), B, seed=seed)
    assert s.steps_per_epoch == 3  # 10 // 3: the last row of each epoch is dropped
    # epoch 1 first, on a fresh stream (no cached permutation yet), then back to epoch 0
    for step in (3, 4, 5, 0, 1, 2, 7):
        epoch, i = divmod(step, 3)
        order = _perm(n, seed, epoch)[1]
        assert s.batch(step)["x"].tolist() == [10 * r for r in order[3 * i:3 * i + 3]]
    assert s.order(2).tolist() == _perm(n, seed, 2)[1]


def test_batch_stream_defaults_are_seed_0_and_the_whole_batch():
    s = BatchStream(_rows(), 4)
    assert s.batch(0)["x"].tolist() == [10 * r for r in _perm(10, 0, 0)[1][:4]]


def test_each_rank_reads_its_contiguous_share_of_the_global_batch():
    n, B = 12, 4
    order = _perm(n, 5, 0)[1]
    shares = [BatchStream(_rows(n), B, seed=5, rank=r, world_size=2).batch(1)["x"].tolist()
              for r in range(2)]
    assert shares == [[10 * r for r in order[4:6]], [10 * r for r in order[6:8]]]


def test_batch_stream_errors():
    with pytest.raises(ValueError, match="batch_size 3 must be divisible by the number of "
                                         "processes 2"):
        BatchStream(_rows(), 3, world_size=2)
    with pytest.raises(ValueError, match="batch_size 11 exceeds the 10 training samples"):
        BatchStream(_rows(), 11)
    assert BatchStream(_rows(), 10).steps_per_epoch == 1  # exactly one batch is enough


def test_trim_padding_cuts_x_and_the_keys_aligned_with_it():
    x = torch.arange(12).view(2, 6)
    batch = {"x": x, "lengths": torch.tensor([2, 4]), "mask": x + 100,
             "y": x + 200, "feat": torch.ones(2, 5), "w": torch.ones(2)}
    out = trim_padding(batch)
    assert out["x"].tolist() == [[0, 1, 2, 3], [6, 7, 8, 9]]
    assert torch.equal(out["mask"], out["x"] + 100)
    assert torch.equal(out["y"], out["x"] + 200)  # y without lengths of its own: x's width
    assert out["feat"].shape == (2, 5) and out["w"].shape == (2,)  # other widths: kept
    assert out["lengths"].tolist() == [2, 4]


def test_trim_padding_cuts_y_to_its_own_lengths():
    x = torch.arange(12).view(2, 6)
    out = trim_padding({"x": x, "lengths": torch.tensor([2, 3]), "y": x + 1,
                        "y_lengths": torch.tensor([5, 1])})
    assert out["x"].shape == (2, 3) and torch.equal(out["y"], x[:, :5] + 1)
    out = trim_padding({"x": x, "lengths": torch.tensor([5, 3]), "y": x + 1,
                        "y_lengths": torch.tensor([1, 2])})
    assert out["x"].shape == (2, 5) and torch.equal(out["y"], x[:, :2] + 1)
    only_y = trim_padding({"y": x, "y_lengths": torch.tensor([1, 3])})  # no x: y alone
    assert torch.equal(only_y["y"], x[:, :3])


def test_trim_padding_leaves_batches_without_lengths_or_x_whole():
    x = torch.ones(2, 6)
    assert trim_padding({"x": x, "y": x})["x"].shape == (2, 6)  # no lengths
    out = trim_padding({"lengths": torch.tensor([1, 2]), "y": x})  # lengths but no x
    assert out["y"].shape == (2, 6)
    # per-reference lengths (N, R), as captioning keeps them: never cut, even at x's width
    out = trim_padding({"x": torch.ones(2, 3), "lengths": torch.tensor([[1, 2, 0], [2, 1, 1]])})
    assert out["x"].shape == (2, 2) and out["lengths"].shape == (2, 3)


def _bucket_reference(lengths, B, seed, epoch, pool):
    """The bucketed order redone with Python lists: the seeded permutation cut into pools of
    ``pool`` batches, each pool sorted by length (stably: ties keep the permutation's order),
    cut into batches, the batches shuffled by the same generator."""
    n = len(lengths)
    steps = n // B
    g, perm = _perm(n, seed, epoch)
    usable = perm[:steps * B]
    rows = []
    for start in range(0, len(usable), B * pool):
        rows += sorted(usable[start:start + B * pool], key=lambda r: lengths[r])
    cut = [rows[i * B:(i + 1) * B] for i in range(steps)]
    return [cut[j] for j in torch.randperm(steps, generator=g).tolist()]


def _bucket_data(n, top, seed=0):
    lengths = torch.randint(1, top, (n,), generator=torch.Generator().manual_seed(seed))
    x = torch.arange(n)[:, None] * (torch.arange(top)[None] < lengths[:, None])
    return {"x": x, "lengths": lengths, "id": torch.arange(n)}


@pytest.mark.parametrize("epoch", [0, 1])
def test_bucket_stream_equals_the_hand_bucketed_order_with_ties_kept_stable(epoch):
    data = _bucket_data(250, 4)  # lengths 1..3: many ties in each pool of 240 rows
    s = BucketStream(data, 8, seed=2, pool=30)
    want = _bucket_reference(data["lengths"].tolist(), 8, 2, epoch, 30)
    for i in range(s.steps_per_epoch):
        b = s.batch(epoch * s.steps_per_epoch + i)
        assert b["id"].tolist() == want[i]
        assert b["x"].shape[1] == max(data["lengths"][want[i]].tolist())


def test_bucket_stream_defaults_are_seed_0_and_pools_of_50_batches():
    data = _bucket_data(104, 30, seed=1)  # 104 batches of 1: two pools (50 + 54 rows)
    s = BucketStream(data, 1)
    want = _bucket_reference(data["lengths"].tolist(), 1, 0, 0, 50)
    assert [s.batch(i)["id"].item() for i in range(104)] == [w[0] for w in want]


def test_bucket_stream_ranks_and_errors():
    data = _bucket_data(40, 9)
    want = _bucket_reference(data["lengths"].tolist(), 4, 7, 0, 2)
    for r in range(2):
        s = BucketStream(data, 4, seed=7, rank=r, world_size=2, pool=2)
        assert s.batch(3)["id"].tolist() == want[3][2 * r:2 * r + 2]
    with pytest.raises(ValueError, match="^bucketed batches need a 'lengths' entry in the data$"):
        BucketStream({"x": torch.ones(4, 2)}, 2)


def _stream_data(n=120, f=None):
    t = torch.arange(n)
    x = t.view(-1, 10) if f is None else torch.stack([t, -t], -1).view(-1, 10, 2)
    return {"x": x, "y": t.view(-1, 10) + 1000}


def test_contiguous_streams_read_the_seeded_offset_and_consecutive_columns():
    s = ContiguousStreams(_stream_data(), batch_size=3, seq_len=5, time_keys=("x", "y"), seed=4)
    # 120 steps into 3 streams of 40; (40 - 5) // 5 = 7 steps an epoch
    assert s.steps_per_epoch == 7
    for step in (0, 6, 8):
        epoch, i = divmod(step, 7)
        g = torch.Generator().manual_seed(4 * 1_000_003 + epoch)
        off = int(torch.randint(5, (1,), generator=g))
        assert s.offset(epoch) == off
        start = off + 5 * i
        b = s.batch(step)
        assert b["x"].tolist() == [list(range(40 * r + start, 40 * r + start + 5))
                                   for r in range(3)]
        assert torch.equal(b["y"], b["x"] + 1000)
    assert [s.starts_epoch(k) for k in (0, 1, 6, 7, 14)] == [True, False, False, True, True]
    offsets = [int(torch.randint(5, (1,), generator=torch.Generator().manual_seed(
        4 * 1_000_003 + e))) for e in range(12)]
    assert [s.offset(e) for e in range(12)] == offsets and len(set(offsets)) > 1


def test_contiguous_streams_default_seed_is_0():
    a = ContiguousStreams(_stream_data(), 3, 5, ("x", "y"))
    b = ContiguousStreams(_stream_data(), 3, 5, ("x", "y"), seed=0)
    assert [a.offset(e) for e in range(6)] == [b.offset(e) for e in range(6)]


def test_contiguous_streams_keep_feature_dims_and_split_streams_by_rank():
    data = {"x": _stream_data(f=2)["x"]}
    full = ContiguousStreams(data, 4, 5, ("x",), seed=1).batch(2)["x"]
    assert full.shape == (4, 5, 2) and torch.equal(full[..., 1], -full[..., 0])
    assert full[:, 0, 0].tolist() == [30 * r + full[0, 0, 0].item() for r in range(4)]
    for r in range(2):
        part = ContiguousStreams(data, 4, 5, ("x",), seed=1, rank=r, world_size=2).batch(2)
        assert torch.equal(part["x"], full[2 * r:2 * r + 2])


def test_contiguous_streams_need_two_chunks_per_stream():
    ok = ContiguousStreams(_stream_data(40), 2, 10, ("x", "y"))  # 20 steps a stream: 1 batch
    assert ok.steps_per_epoch == 1
    with pytest.raises(ValueError, match="39 steps of data cannot feed 2 streams of at least 20 "
                                         "steps"):
        ContiguousStreams({"x": torch.arange(39)[:, None]}, 2, 10, ("x",))
    with pytest.raises(ValueError, match="batch_size 3 must be divisible by the number of "
                                         "processes 2"):
        ContiguousStreams(_stream_data(), 3, 5, ("x", "y"), world_size=2)
