"""The engine on a CUDA GPU (skipped without one): the ATen-formula kernels and the log-space
scan against the autograd loop, and against the same computation on the CPU."""

import pytest
import torch

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


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_kernel_equals_loop_and_cpu_on_cuda(name, with_lengths):
    torch.manual_seed(0)
    layer = Recurrent(name, input_size=6, hidden_size=32, num_layers=2, bidirectional=True)
    x = torch.randn(40, 8, 6, requires_grad=True)
    n = len(layer.cells[0].state_sizes)
    hx = tuple(torch.randn(4, 8, 32) for _ in range(n))
    hx = hx if n > 1 else hx[0]
    lengths = torch.randint(1, 41, (8,)) if with_lengths else None
    cpu = _step(layer, x, hx, lengths, "kernel")
    layer_gpu = layer.cuda()
    x_gpu = x.detach().cuda().requires_grad_()
    hx_gpu = tuple(h.cuda() for h in hx) if n > 1 else hx.cuda()
    kernel = _step(layer_gpu, x_gpu, hx_gpu, lengths, "kernel")
    loop = _step(layer_gpu, x_gpu, hx_gpu, lengths, "loop")
    for a, b, c in zip(kernel, loop, cpu, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(a.cpu(), c, rtol=1e-4, atol=1e-4)


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
