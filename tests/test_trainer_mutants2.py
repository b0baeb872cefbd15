"""The Trainer's wiring, each against a hand-made expectation (issue 20: mutants of
rnnkit/training/trainer.py that the other tests let through): the device it picks (CUDA and
DDP faked: this machine has neither), bf16 autocast, where batches, evaluation and the
carried state go, the batch streams each ``batching`` builds, the step record, gradients
set to None, a non-finite gradient with a finite loss, and one DDP all-reduce per step
under truncated BPTT."""

from __future__ import annotations

import contextlib
import linecache
import math
import signal
import socket
import warnings

import pytest
import torch
from _tiny import TinyTagger, tiny_data
from torch import nn

from rnnkit.data.batches import BatchStream, BucketStream, ContiguousStreams
from rnnkit.models.base import StepOutput
from rnnkit.training import NonFiniteLossError, TrainConfig, Trainer, distributed
from rnnkit.training import trainer as trainer_mod
from rnnkit.training.checkpoint import Checkpoint
from rnnkit.training.distributed import DistInfo, LossModule

CPU, META = torch.device("cpu"), torch.device("meta")


def _cfg(**kw):
    return TrainConfig(**{"steps": 3, "batch_size": 4, "eval_every": 100, "lr": 1e-2,
                          "device": "cpu", "progress": "off", **kw})


# -- the device ---------------------------------------------------------------------------
@pytest.mark.parametrize("cuda", [False, True])
def test_auto_picks_cuda_when_there_is_one(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert trainer_mod.pick_device("auto") == torch.device("cuda" if cuda else "cpu")
    assert trainer_mod.pick_device("auto", DistInfo()) == torch.device("cuda" if cuda else "cpu")


def test_cuda_without_a_gpu_is_a_config_error_naming_the_fix(monkeypatch):
    from rnnkit.training.config_io import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    no_gpu = r"train\.device = 'cuda'.*no CUDA GPU.*\"auto\".*\"cpu\""
    with pytest.raises(ConfigError, match=no_gpu) as err:
        trainer_mod.pick_device("cuda")
    assert str(err.value).endswith('set train.device = "auto" (the GPU when there is one) or '
                                   '"cpu"')
    with pytest.raises(ConfigError):
        trainer_mod.pick_device("cuda", DistInfo(rank=1, world_size=2, local_rank=1))
    assert trainer_mod.pick_device("auto") == CPU
    assert trainer_mod.pick_device("cpu") == CPU


def test_bf16_on_the_cpu_warns_that_it_trains_in_fp32(monkeypatch):
    with pytest.warns(UserWarning, match="bf16' applies on a CUDA GPU only: training in "
                      "fp32 on the cpu") as caught:
        Trainer(TinyTagger(), _cfg(precision="bf16"), tiny_data(8, 6))
    # stacklevel 2: the caller's line; under mutmut, whose trampoline (two frames) stands
    # between __init__ and this test, the inner frame's, which calls __init__ itself
    where, init = caught[0], Trainer.__init__
    if init.__code__.co_filename.endswith("trampoline.py"):
        assert where.filename == init.__code__.co_filename
        assert "func(*call_args" in linecache.getline(where.filename, where.lineno)
    else:
        assert where.filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(TinyTagger(), _cfg(), tiny_data(8, 6))
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # bf16 on a GPU: quiet
        assert Trainer(_Parked(), _cfg(device="cuda", precision="bf16"),
                       tiny_data(8, 6)).device.type == "cuda"


@pytest.mark.parametrize("reason, signum", [
    ("interrupted by SIGTERM", signal.SIGTERM), ("interrupted by SIGINT", signal.SIGINT),
    ("interrupted (rnnkit tune)", signal.SIGINT), ("interrupted", signal.SIGINT)])
def test_stop_signal_reads_the_signal_a_stop_reason_names(reason, signum):
    assert trainer_mod.stop_signal(reason) is signum


def test_each_process_takes_the_gpu_of_its_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    two = DistInfo(rank=3, world_size=4, local_rank=1)
    assert trainer_mod.pick_device("cuda", two) == torch.device("cuda", 1)
    assert trainer_mod.pick_device("auto", two) == torch.device("cuda", 1)
    assert trainer_mod.pick_device("cuda", DistInfo(local_rank=1)) == torch.device("cuda")
    assert trainer_mod.pick_device("cuda") == torch.device("cuda")
    assert trainer_mod.pick_device("cpu", two) == CPU  # CPU processes share the one device


class _Parked(TinyTagger):
    """Stays on the CPU whatever device the trainer moves it to, and records that device."""

    def to(self, *args, **kwargs):
        self.moved_to = args
        return self


def test_the_trainer_puts_model_and_ddp_on_its_local_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    info, model = DistInfo(rank=1, world_size=2, local_rank=1), _Parked()
    wrapped = []

    def wrap(model, info, device, loss_fn=None):  # DDP needs a process group: recorded
        wrapped.append((model, info, device, loss_fn))
        return LossModule(model, loss_fn)

    monkeypatch.setattr(distributed, "wrap", wrap)

    def loss_fn(model, batch, state):
        return model.compute_loss(batch, state)

    t = Trainer(model, _cfg(device="cuda"), tiny_data(8, 6), dist=info, loss_fn=loss_fn)
    gpu = torch.device("cuda", 1)
    assert t.device == gpu and model.moved_to == (gpu,)
    assert wrapped == [(model, info, gpu, loss_fn)] and t.loss_fn is loss_fn
    assert (t.stream.rank, t.stream.world_size) == (1, 2)


def test_on_the_cpu_the_device_is_the_cpu():
    t = Trainer(TinyTagger(), _cfg(), tiny_data(8, 6))
    assert t.device == CPU and t.dist == DistInfo()


# -- bf16 autocast ------------------------------------------------------------------------
@pytest.mark.parametrize("precision, device, autocast", [
    ("bf16", "cuda", True), ("bf16", "cpu", False), ("fp32", "cuda", False),
    ("fp32", "cpu", False)])
def test_bf16_autocasts_on_cuda_only(monkeypatch, precision, device, autocast):
    made = []

    def fake_autocast(device_type, dtype=None, enabled=True, cache_enabled=None):
        made.append((device_type, dtype))
        return contextlib.nullcontext("autocast")

    t = Trainer(TinyTagger(), _cfg(precision=precision), tiny_data(8, 6))
    t.device = torch.device(device)  # (only read here: nothing runs on it)
    monkeypatch.setattr(torch, "autocast", fake_autocast)
    with t._autocast() as entered:
        pass
    assert made == ([("cuda", torch.bfloat16)] if autocast else [])
    assert entered == ("autocast" if autocast else None)


# -- where the tensors go -----------------------------------------------------------------
class _Where(nn.Module):
    """Records the device of every batch it sees; its loss, w², lives on the CPU."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([3.0]))
        self.seen = []

    def compute_loss(self, batch, state=None):
        self.seen.append(batch["x"].device)
        return StepOutput((self.w ** 2).sum(), {}, count=batch["x"].shape[0], state=None)


def _where():
    t = Trainer(_Where(), _cfg(), {"x": torch.zeros(8, 3)}, seed=0)
    t.device = META  # a device the CPU tensors are not on: each .to(device) shows
    return t


def test_batches_go_to_the_trainer_s_device():
    t = _where()
    record = t.train_step(t.stream.batch(0))
    assert t.model.seen == [META] and record["samples"] == 4


def test_evaluation_batches_go_to_the_trainer_s_device():
    t = _where()
    assert t.evaluate({"x": torch.zeros(4, 3)})["loss"] == 9.0
    assert t.model.seen == [META]


def test_the_carried_state_is_loaded_onto_the_trainer_s_device():
    t = _where()
    t.carry = torch.ones(1, 4, 5)
    saved = t.training_state()
    u = _where()
    u.load_training_state(Checkpoint(None, {}, {}, *saved))
    assert u.carry.device == META and u.carry.shape == (1, 4, 5)


def test_the_stop_vote_is_taken_on_the_trainer_s_device(monkeypatch):
    votes = []

    def any_across(flag, info, device):  # another process asks to stop at step 2
        votes.append((flag, device))
        return len(votes) == 2

    monkeypatch.setattr(distributed, "any_across", any_across)
    reasons = []

    class Reader(trainer_mod.Callback):  # what a checkpoint written during the run records
        def on_step_end(self, trainer, record):
            reasons.append(trainer.training_state()[1]["trainer"]["stop_reason"])

    t = Trainer(TinyTagger(), _cfg(steps=5), tiny_data(8, 6), callbacks=[Reader()])
    t.state.stop_reason = "done"  # from an earlier fit
    state = t.fit()
    assert votes == [(False, CPU), (False, CPU)]
    assert state.step == 2 and state.stop_reason == "stopped by another process"
    assert reasons == ["", ""]


class _NoTime(nn.Module):
    """A model without time_keys (one row, one output)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def compute_loss(self, batch, state=None):
        loss = ((self.lin(batch["x"]).squeeze(-1) - batch["y"]) ** 2).mean()
        return StepOutput(loss, {}, count=len(batch["y"]), state=None)


# -- the batches each setting builds ------------------------------------------------------
def test_the_default_seed_is_0_and_shuffled_batches_are_the_rank_s_share():
    data = {"x": torch.zeros(12, 2), "y": torch.arange(12.0)}
    t = Trainer(_NoTime(), _cfg(), data)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))  # seed 0, epoch 0
    assert type(t.stream) is BatchStream
    assert t.stream.batch(1)["y"].tolist() == perm[4:8].tolist()
    rank1 = trainer_mod._make_stream(_cfg(), data, (), 5, DistInfo(rank=1, world_size=2))
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(5 * 1_000_003))
    assert rank1.batch(0)["y"].tolist() == perm[2:4].tolist()  # rows 2, 3 of the global 4


def test_bucketed_batches_are_built_from_the_data_with_the_seed_and_rank():
    lengths = torch.tensor([1, 6, 2, 5, 3, 4, 6, 1])
    x = torch.arange(8 * 6.0).view(8, 6) * (torch.arange(6) < lengths[:, None])
    data = {"x": x, "lengths": lengths}
    s = trainer_mod._make_stream(_cfg(batching="bucket"), data, (), 2,
                                 DistInfo(rank=1, world_size=2))
    assert type(s) is BucketStream
    assert (s.seed, s.rank, s.world_size, s.batch_size) == (2, 1, 2, 4)
    for step in range(4):  # two epochs of two batches: similar lengths, padding trimmed
        b = s.batch(step)
        assert b["x"].shape == (2, int(b["lengths"].max()))
        for row, n in zip(b["x"], b["lengths"]):
            i = int(row[0]) // 6  # which row of x it is
            assert n == lengths[i] and torch.equal(row[:n], x[i, :n])


def test_streamed_batches_continue_each_stream_in_the_rank_s_rows():
    data = {"x": torch.arange(48.0).view(4, 12, 1), "y": torch.arange(48.0).view(4, 12)}
    info = DistInfo(rank=1, world_size=2)
    s = trainer_mod._make_stream(_cfg(batching="stream", tbptt=1, batch_size=2), data,
                                 ("x", "y"), 0, info)
    assert type(s) is ContiguousStreams and s.seq_len == 1
    # 48 steps cut into 2 streams of 24: the rank reads stream 1 (24 .. 47), one step a batch
    off = int(torch.randint(1, (1,), generator=torch.Generator().manual_seed(0)))
    assert [s.batch(i)["y"].tolist() for i in range(3)] == [[[24.0 + off + i]] for i in range(3)]


@pytest.mark.parametrize("tbptt, keys", [(0, ("x", "y")), (2, ())])
def test_streamed_batches_need_tbptt_and_a_time_axis(tbptt, keys):
    data = {"x": torch.zeros(4, 12, 1), "y": torch.zeros(4, 12)}
    with pytest.raises(ValueError, match=r'^train.batching = "stream" needs train.tbptt > 0 '
                       r"\(the steps per batch\) and a model with a time axis \(time_keys\)$"):
        trainer_mod._make_stream(_cfg(batching="stream", tbptt=tbptt), data, keys, 0,
                                 DistInfo())


def test_a_model_without_time_keys_trains_but_cannot_truncate():
    data = {"x": torch.randn(8, 2), "y": torch.randn(8)}
    t = Trainer(_NoTime(), _cfg(steps=1), data)
    assert t.time_keys == () and t.fit().step == 1
    with pytest.raises(ValueError, match=r"^train.tbptt = 3: _NoTime has no time axis to "
                       r"truncate \(time_keys is empty\); use tbptt = 0$"):
        Trainer(_NoTime(), _cfg(tbptt=3), data)


# -- one step -----------------------------------------------------------------------------
def test_the_step_record_holds_the_loss_lr_and_gradient_norm_before_the_step():
    data = tiny_data(8, 6)
    t = Trainer(TinyTagger(), _cfg(warmup_steps=4, lr=0.1, clip_norm=0.0), data, seed=3)
    records = []
    for step in range(3):
        batch = t.stream.batch(step)
        ref = TinyTagger()
        ref.load_state_dict(t.model.state_dict())
        out = ref.compute_loss(batch)
        loss = float(out.loss.detach())
        grads = torch.autograd.grad(out.loss, list(ref.parameters()))
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        records.append(t.train_step(batch))
        record = dict(records[-1])
        assert record.pop("split") == "train"  # (approx with rel= takes numbers only)
        assert record == pytest.approx({
            "step": step + 1, "epoch": (step + 1) / 2, "loss": loss, "mse": loss,
            "lr": 0.1 * (step + 1) / 4, "grad_norm": norm,
            "samples": 4}, rel=1e-5)


class _TwoBranches(nn.Module):
    """Loss a·x on the batches whose flag is 1, b·x on the others: b gets no gradient on the
    first kind."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Parameter(torch.tensor(1.0)), nn.Parameter(torch.tensor(1.0))

    def compute_loss(self, batch, state=None):
        w = self.a if bool(batch["flag"][0]) else self.b
        return StepOutput((w * batch["x"]).mean(), {}, count=len(batch["x"]), state=None)


def test_a_parameter_without_gradient_in_a_step_is_not_moved_by_momentum():
    t = Trainer(_TwoBranches(), _cfg(optimizer="sgd", momentum=0.9, lr=0.5, clip_norm=0.0,
                                     batch_size=2), {"x": torch.ones(2), "flag": torch.ones(2)})
    t.train_step({"x": torch.ones(2), "flag": torch.zeros(2)})  # b: 1 - 0.5 * 1
    t.train_step({"x": torch.ones(2), "flag": torch.ones(2)})  # a only: b's grad is None
    assert t.model.b.grad is None
    assert (t.model.a.item(), t.model.b.item()) == (0.5, 0.5)  # zeros + momentum: b = 0.05


class _Sqrt(nn.Module):
    """loss = sqrt(p) at p = 0: a finite loss (0) with an infinite gradient."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def compute_loss(self, batch, state=None):
        return StepOutput(torch.sqrt(self.p + 0 * batch["x"].sum()).sum(), {}, count=1,
                          state=None)


@pytest.mark.parametrize("on_nonfinite", ["stop", "skip"])
def test_a_finite_loss_with_an_infinite_gradient_is_not_stepped(on_nonfinite):
    t = Trainer(_Sqrt(), _cfg(clip_norm=0.0, batch_size=2, on_nonfinite=on_nonfinite),
                {"x": torch.ones(2)})
    if on_nonfinite == "stop":
        with pytest.raises(NonFiniteLossError, match=r"^non-finite gradient norm = inf at "
                                                     r"step 1; training stopped"):
            t.train_step({"x": torch.ones(2)})
    else:
        record = t.train_step({"x": torch.ones(2)})
        assert record["loss"] == 0.0 and record["grad_norm"] == math.inf
        assert t.state.skipped == 1
    assert float(t.model.p) == 0.0  # not stepped into NaN


# -- DDP: one all-reduce per optimizer step -----------------------------------------------
@pytest.fixture
def one_process_group():
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


def test_truncated_bptt_all_reduces_once_per_step(one_process_group):
    t = Trainer(TinyTagger(), _cfg(tbptt=2), tiny_data(8, 6))  # 3 chunks of 2 steps
    t.module = nn.parallel.DistributedDataParallel(t.module)
    reduces = []

    def hook(state, bucket):
        reduces.append(t.state.step)
        fut = torch.futures.Future()
        fut.set_result(bucket.buffer())
        return fut

    t.module.register_comm_hook(None, hook)
    t.train_step(t.stream.batch(0))
    t.train_step(t.stream.batch(1))
    assert reduces == [0, 1]
