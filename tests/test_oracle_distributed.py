"""Data parallelism, exactly: two gloo processes, each with its half of every global batch,
must end with the same weights as one process trained on the whole batches (plain SGD,
float64, to 1e-6). Without the gradient averaging (no DDP, or a sum instead of a mean) the
two processes drift apart or away from the single-process run at the first step."""

from __future__ import annotations

import multiprocessing
import socket
import traceback

import pytest
import torch
from torch import nn

from rnnkit.models.base import StepOutput
from rnnkit.training import TrainConfig, Trainer
from rnnkit.training.distributed import DistInfo

N, T, I, H = 16, 6, 2, 4
STEPS, BATCH = 3, 8  # global batch of 8: 4 rows a process


class TinyRNN(nn.Module):
    """tanh RNN + linear head, per-step squared error; float64 so sums in another order
    agree to ~1e-15 and any difference the test sees is arithmetic, not rounding."""

    time_keys = ("x", "y")

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(I, H, batch_first=True, dtype=torch.float64)
        self.head = nn.Linear(H, 1, dtype=torch.float64)

    def compute_loss(self, batch, state=None):
        out, h = self.rnn(batch["x"], state)
        err = (self.head(out).squeeze(-1) - batch["y"]) ** 2
        return StepOutput(err.mean(), {}, count=err.numel(), state=h)


def _data():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(N, T, I, generator=g, dtype=torch.float64)
    return {"x": x, "y": torch.sin(x.sum(-1)).cumsum(1)}


def _train(tbptt: int, dist: DistInfo | None = None) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = TinyRNN()
    cfg = TrainConfig(steps=STEPS, batch_size=BATCH, optimizer="sgd", lr=0.2, clip_norm=0.0,
                      tbptt=tbptt, device="cpu", progress="off", eval_every=STEPS)
    Trainer(model, cfg, _data(), seed=1, dist=dist).fit()
    return [p.detach().clone() for p in model.parameters()]


def _rank(rank: int, port: int, queue) -> None:
    import torch.distributed as dist

    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=2)
        info = DistInfo(rank=rank, world_size=2)
        weights = {k: [w.numpy() for w in _train(k, info)] for k in (0, 2)}  # no shared memory
        queue.put((rank, weights))
        dist.destroy_process_group()
    except BaseException:  # noqa: BLE001 - reported to the test
        queue.put((rank, traceback.format_exc()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.distributed
@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs the fork start method (Linux, macOS)")
def test_two_processes_end_with_the_weights_of_one_on_the_union_batch():
    single = {k: _train(k) for k in (0, 2)}  # first: the forked processes inherit its imports
    # fork: the processes start in well under a second (spawn re-imports torch in each)
    ctx = multiprocessing.get_context("fork")
    queue, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_rank, args=(r, port, queue)) for r in (0, 1)]
    for p in procs:
        p.start()
    try:
        results = dict(queue.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    for r in (0, 1):
        assert not isinstance(results[r], str), results[r]
    for tbptt in (0, 2):  # whole sequences, and 3 chunks synced once at the last
        one = single[tbptt]
        torch.manual_seed(0)
        start = [p.detach() for p in TinyRNN().parameters()]
        assert any((a - b).abs().max() > 1e-3 for a, b in zip(one, start))  # it moved
        for r in (0, 1):
            for a, b in zip(results[r][tbptt], one):
                torch.testing.assert_close(torch.from_numpy(a), b, rtol=0, atol=1e-6)
        for a, b in zip(results[0][tbptt], results[1][tbptt]):
            assert (a == b).all()  # DDP keeps the replicas identical
