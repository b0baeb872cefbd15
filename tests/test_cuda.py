"""rnnkit on a CUDA GPU (skipped without one): the ATen-formula kernels and the log-space
scan against the autograd loop and against the same computation on the CPU; the drop-ins
against torch.nn's cuDNN layers; a run trained on CUDA (fp32 and bf16 autocast) against
the same run on the CPU, and loaded back for prediction."""

import math
from pathlib import Path

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells import make_cell
from rnnkit.kernels import use_engine
from rnnkit.layers import Recurrent

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
]

CELLS = ["rnn", "lstm", "gru", "lnlstm", "lngru", "mingru", "minlstm"]


def _step(layer, x, hx, lengths, engine):
    with use_engine(engine):
        torch.manual_seed(3)
        out, h_n = layer(x, hx, lengths=lengths)
    parts = h_n if isinstance(h_n, tuple) else (h_n,)
    loss = (out * out.sin()).sum() + sum(h.square().sum() for h in parts)
    return [out, *parts, *torch.autograd.grad(loss, [x, *layer.parameters()])]


def _layer_and_inputs(name, with_lengths, dtype):
    torch.manual_seed(0)
    layer = Recurrent(name, input_size=6, hidden_size=32, num_layers=2, bidirectional=True)
    x = torch.randn(40, 8, 6, requires_grad=True)
    n = len(layer.cells[0].state_sizes)
    hx = tuple(torch.randn(4, 8, 32) for _ in range(n))
    lengths = torch.randint(1, 41, (8,)) if with_lengths else None
    layer = layer.to(dtype)
    x = x.detach().to(dtype).requires_grad_()
    hx = tuple(h.to(dtype) for h in hx)
    return layer, x, hx if n > 1 else hx[0], lengths


def _on_cuda(layer, x, hx):
    hx = tuple(h.cuda() for h in hx) if isinstance(hx, tuple) else hx.cuda()
    return layer.cuda(), x.detach().cuda().requires_grad_(), hx


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_kernel_equals_loop_and_cpu_on_cuda_in_float64(name, with_lengths):
    layer, x, hx, lengths = _layer_and_inputs(name, with_lengths, torch.float64)
    cpu = _step(layer, x, hx, lengths, "kernel")
    layer, x, hx = _on_cuda(layer, x, hx)
    kernel = _step(layer, x, hx, lengths, "kernel")
    loop = _step(layer, x, hx, lengths, "loop")
    for a, b, c in zip(kernel, loop, cpu, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(a.cpu(), c, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_kernel_in_float32_on_cuda_is_as_accurate_as_the_loop(name, with_lengths):
    """Against the float64 computation: within 3x the autograd loop's own float32 error, or
    1e-4 of the tensor's largest value (the LN-LSTM's gradients here carry errors of ~0.1 in
    float32 on the CPU too: a tight tolerance between two float32 paths would test the
    conditioning, not the kernel)."""
    exact = _step(*_on_cuda(*_layer_and_inputs(name, with_lengths, torch.float64)[:3]),
                  _layer_and_inputs(name, with_lengths, torch.float64)[3], "loop")
    layer, x, hx, lengths = _layer_and_inputs(name, with_lengths, torch.float32)
    layer, x, hx = _on_cuda(layer, x, hx)
    kernel = _step(layer, x, hx, lengths, "kernel")
    loop = _step(layer, x, hx, lengths, "loop")
    for a, b, e in zip(kernel, loop, exact, strict=True):
        error_kernel = (a.double() - e).abs().max().item()
        error_loop = (b.double() - e).abs().max().item()
        bound = max(3 * error_loop, 1e-4 * (1 + e.abs().max().item()))
        assert error_kernel <= bound, (error_kernel, error_loop)


def test_gradcheck_float64_on_cuda():
    for name in ["lstm", "gru", "lnlstm", "lngru"]:
        cell = make_cell(name, 3, 4).double().cuda()
        x = torch.randn(5, 2, 3, dtype=torch.float64, device="cuda", requires_grad=True)

        def f(x, cell=cell):
            from rnnkit.layers import run_direction

            with use_engine("kernel"):
                out, _ = run_direction(cell, x, cell.init_state(2, device="cuda",
                                                                dtype=torch.float64))
            return out

        assert torch.autograd.gradcheck(f, (x,), atol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropins_equal_cudnn_with_lengths(kind):
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(5, 16, num_layers=2, bidirectional=True).cuda()
    mine = getattr(rnnkit, kind)(5, 16, num_layers=2, bidirectional=True).cuda()
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(12, 3, 5, device="cuda", requires_grad=True)
    lengths = torch.tensor([12, 7, 3])
    out, h_n = mine(x, lengths=lengths)
    packed, _ = ref(pack_padded_sequence(x, lengths, enforce_sorted=False))
    expected, _ = pad_packed_sequence(packed, total_length=12)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    grads = [torch.autograd.grad(o.sin().sum(), [x, *m.parameters()])
             for o, m in ((out, mine), (expected, ref))]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("extra", [{"layer_norm": True}, {"merge_mode": "sum"}])
def test_dropin_extras_on_cuda_equal_the_cpu(extra):
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 8, num_layers=2, bidirectional=True, **extra)
    x = torch.randn(9, 3, 4)
    lengths = torch.tensor([9, 4, 1])
    cpu, _ = layer(x, lengths=lengths)
    gpu, _ = layer.cuda()(x.cuda(), lengths=lengths)
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)


def _adding_run(tmp_path, device, cell, precision="fp32"):
    from rnnkit.tasks import train_run
    from rnnkit.tasks.runner import load_config

    config = Path(__file__).resolve().parents[1] / "examples" / "adding.toml"
    cfg = load_config(config, [f"train.device={device}", f"train.precision={precision}",
                               f"model.cell={cell}", "train.steps=40", "train.eval_every=20",
                               "train.warmup_steps=5", "task.train_size=1024",
                               "task.val_size=128", "task.test_size=128"])
    run_dir = tmp_path / f"{cell}-{device}-{precision}"
    return run_dir, train_run(cfg, run_dir).results


@pytest.mark.parametrize("cell", ["lstm", "gru", "lnlstm", "mingru"])
def test_a_run_on_cuda_follows_the_cpu_run_and_loads_for_prediction(tmp_path, cell):
    cpu_dir, cpu = _adding_run(tmp_path, "cpu", cell)
    gpu_dir, gpu = _adding_run(tmp_path, "cuda", cell)
    for split in ("val", "test"):
        for key, value in cpu[split].items():
            assert math.isclose(gpu[split][key], value, rel_tol=2e-3, abs_tol=1e-5), (split, key)
    x = torch.zeros(3, 50, 2)
    x[:, :, 0] = torch.rand(3, 50)
    x[:, [4, 30], 1] = 1.0
    preds = [[r["prediction"] for r in rnnkit.load(d).predict(list(x))] for d in (cpu_dir, gpu_dir)]
    for a, b in zip(*preds, strict=True):
        assert math.isclose(a, b, rel_tol=2e-3, abs_tol=1e-4)


def test_bf16_autocast_trains_close_to_fp32(tmp_path):
    _, fp32 = _adding_run(tmp_path, "cuda", "lstm")
    _, bf16 = _adding_run(tmp_path, "cuda", "lstm", precision="bf16")
    mse, ref = bf16["val"]["mse"], fp32["val"]["mse"]
    assert math.isfinite(mse) and abs(mse - ref) <= 0.2 * ref, (mse, ref)
