"""rnnkit/training/distributed.py piece by piece (issue 20): torchrun's environment read into
a DistInfo, the process group joined with the right backend, the cross-process mean and
"any", DDP wrapping and its no_sync during truncated BPTT. torch.distributed's collectives
are faked here (a fake all_reduce adds the other processes' values), so each function is
checked on this one machine against figures worked out by hand; the real two-process run
is tests/test_oracle_distributed.py."""

from __future__ import annotations

import contextlib
import socket

import pytest
import torch
import torch.distributed as tdist
from torch import nn

from rnnkit.models.base import StepOutput
from rnnkit.training import distributed
from rnnkit.training.distributed import DistInfo, LossModule

CPU = torch.device("cpu")


def test_one_process_is_the_default_and_the_main_one():
    info = DistInfo()
    assert (info.rank, info.world_size, info.local_rank) == (0, 1, 0)
    assert not info.enabled and info.is_main


@pytest.mark.parametrize("rank, world", [(0, 2), (1, 2), (0, 3), (2, 3), (1, 1)])
def test_several_processes_are_enabled_and_only_rank_0_is_main(rank, world):
    info = DistInfo(rank=rank, world_size=world)
    assert info.enabled is (world > 1) and info.is_main is (rank == 0)


# -- joining the group --------------------------------------------------------------------
@pytest.fixture
def group(monkeypatch):
    """torch.distributed's group functions, recorded instead of run."""
    calls = []
    state = {"initialized": False}
    monkeypatch.setattr(tdist, "is_initialized", lambda: state["initialized"])
    monkeypatch.setattr(tdist, "init_process_group",
                        lambda backend=None: calls.append(("init", backend)))
    monkeypatch.setattr(tdist, "destroy_process_group", lambda: calls.append(("destroy",)))
    monkeypatch.setattr(tdist, "barrier", lambda: calls.append(("barrier",)))
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: calls.append(("set_device", i)))
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    return calls, state


@pytest.mark.parametrize("world", [None, "1"])
def test_without_torchrun_nothing_is_joined(group, monkeypatch, world):
    calls, _ = group
    if world is not None:
        monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("RANK", "5")  # not read for one process
    assert distributed.init_distributed("cuda") == DistInfo()
    assert calls == []


def test_cpu_processes_join_with_gloo(group, monkeypatch):
    calls, _ = group
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert distributed.init_distributed("cpu") == DistInfo(rank=1, world_size=2, local_rank=0)
    assert calls == [("init", "gloo")]


def test_cuda_processes_take_their_local_gpu_and_join_with_nccl(group, monkeypatch):
    calls, _ = group
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.init_distributed("cuda") == DistInfo(rank=3, world_size=4, local_rank=1)
    assert calls == [("set_device", 1), ("init", "nccl")]


def test_a_group_already_joined_is_not_joined_again(group, monkeypatch):
    calls, state = group
    state["initialized"] = True
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.init_distributed("cuda") == DistInfo(rank=0, world_size=2, local_rank=1)
    assert calls == []


@pytest.mark.parametrize("world, initialized, destroyed", [
    (2, True, True), (2, False, False), (1, True, False)])
def test_shutdown_leaves_a_joined_group_only(group, world, initialized, destroyed):
    calls, state = group
    state["initialized"] = initialized
    distributed.shutdown(DistInfo(world_size=world))
    assert calls == ([("destroy",)] if destroyed else [])


@pytest.mark.parametrize("world, waits", [(1, False), (2, True)])
def test_the_barrier_waits_only_with_several_processes(group, world, waits):
    calls, _ = group
    distributed.barrier(DistInfo(world_size=world))
    assert calls == ([("barrier",)] if waits else [])


# -- collectives --------------------------------------------------------------------------
@pytest.fixture
def others(monkeypatch):
    """A fake all_reduce: the other processes hold ``others[:]``; records each call."""
    held, seen = [], []

    def all_reduce(t, op=tdist.ReduceOp.SUM):
        seen.append((t.dtype, t.device, t.shape))
        values = [t.clone(), *(torch.full_like(t, v) for v in held)]
        if op == tdist.ReduceOp.SUM:
            t.copy_(sum(values))
        elif op == tdist.ReduceOp.MAX:
            t.copy_(torch.stack(values).max(0).values)
        else:
            raise AssertionError(f"unexpected op {op}")

    monkeypatch.setattr(tdist, "all_reduce", all_reduce)
    return held, seen


def test_the_mean_across_processes_is_taken_in_float64(others):
    held, seen = others
    held[:] = [1e-9, 2.0]  # three processes
    value = distributed.mean_across(1.0, DistInfo(world_size=3), CPU)
    assert value == pytest.approx(1 + 1e-9 / 3, rel=0, abs=1e-15)  # float32 drops the 1e-9
    assert seen == [(torch.float64, CPU, (1,))]


def test_one_process_s_mean_is_its_value_without_a_collective(others):
    _, seen = others
    assert distributed.mean_across(0.25, DistInfo(), CPU) == 0.25 and seen == []


@pytest.mark.parametrize("flag, held, expected", [
    (False, [0.0], False), (True, [0.0], True), (False, [0.0, 1.0], True),
    (True, [1.0, 1.0], True)])
def test_any_is_true_everywhere_when_one_process_says_so(others, flag, held, expected):
    others[0][:] = held
    world = DistInfo(world_size=len(held) + 1)
    assert distributed.any_across(flag, world, CPU) is expected
    assert len(others[1]) == 1 and others[1][0][1:] == (CPU, (1,))


@pytest.mark.parametrize("flag", [False, True])
def test_one_process_s_any_is_its_flag_without_a_collective(others, flag):
    assert distributed.any_across(flag, DistInfo(), CPU) is flag and others[1] == []


class _Reduced(Exception):
    pass


@pytest.mark.parametrize("collective", [distributed.mean_across, distributed.any_across])
def test_the_collective_s_tensor_is_made_on_the_process_s_device(monkeypatch, collective):
    """(nccl reduces tensors on the process's GPU only: the meta device stands in for it.)"""
    seen = []

    def all_reduce(t, op=None):
        seen.append(t.device)
        raise _Reduced  # (a meta tensor has no value to read back)

    monkeypatch.setattr(tdist, "all_reduce", all_reduce)
    with pytest.raises(_Reduced):
        collective(1.0, DistInfo(world_size=2), torch.device("meta"))
    assert seen == [torch.device("meta")]


# -- the loss module and DDP --------------------------------------------------------------
class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([2.0]))

    def compute_loss(self, batch, state=None):
        return StepOutput((self.w * batch["x"]).sum(), {"n": 1.0}, count=3,
                          state=("own", state))


def test_the_loss_module_returns_the_model_s_loss_or_the_loss_fn_s():
    model, batch = _Linear(), {"x": torch.tensor([1.0, 2.0])}
    loss, metrics, count, state = LossModule(model)(batch, "s")
    assert (float(loss.detach()), metrics, count, state) == (6.0, {"n": 1.0}, 3, ("own", "s"))

    def loss_fn(m, b, s):
        return StepOutput(-m.w.sum() * b["x"].sum(), {"m": 2.0}, 5, ("fn", s))

    loss, metrics, count, state = LossModule(model, loss_fn)(batch, "t")
    assert (float(loss.detach()), metrics, count, state) == (-6.0, {"m": 2.0}, 5, ("fn", "t"))


class _FakeDDP(nn.Module):
    def __init__(self, module, device_ids=None):
        super().__init__()
        self.module, self.device_ids = module, device_ids


@pytest.mark.parametrize("device, ids", [(torch.device("cpu"), None),
                                         (torch.device("cuda", 3), [3])])
def test_several_processes_wrap_the_loss_module_in_ddp_on_their_device(monkeypatch, device,
                                                                       ids):
    monkeypatch.setattr(nn.parallel, "DistributedDataParallel", _FakeDDP)
    model = _Linear()
    ddp = distributed.wrap(model, DistInfo(rank=1, world_size=2), device, "fn")
    assert isinstance(ddp, _FakeDDP) and ddp.device_ids == ids
    assert isinstance(ddp.module, LossModule) and ddp.module.model is model
    assert ddp.module.loss_fn == "fn"


def test_one_process_gets_the_bare_loss_module():
    model = _Linear()
    module = distributed.wrap(model, DistInfo(), CPU, "fn")
    assert type(module) is LossModule and module.model is model and module.loss_fn == "fn"


@pytest.fixture
def one_process_group():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0,
                             world_size=1)
    yield
    tdist.destroy_process_group()


def test_ddp_syncs_only_the_last_chunk(one_process_group):
    ddp = nn.parallel.DistributedDataParallel(LossModule(_Linear()))
    context = distributed.sync_context(ddp)
    with context(False):
        assert ddp.require_backward_grad_sync is False  # no_sync: no all-reduce
    with context(True):
        assert ddp.require_backward_grad_sync is True
    assert type(context(True)) is contextlib.nullcontext


@pytest.mark.parametrize("last", [False, True])
def test_without_ddp_every_chunk_runs_plainly(last):
    context = distributed.sync_context(LossModule(_Linear()))
    assert type(context(last)) is contextlib.nullcontext
