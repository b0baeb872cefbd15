"""The cell contract's defaults and the shared set-up of torch.nn-layout cells
(rnnkit/cells/base.py), against hand computations: the default capabilities of a minimal
cell, the initial states (zeros or learned), torch.nn's parameter layout, and each
initialisation checked by its defining property (bounds, orthogonality, identity, spread).
"""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.cells.base import GATE_RANGES, INITS, Cell, init_recurrent_weights


class Bare(Cell):
    """Only what the contract requires: sizes and ``forward`` (h + x, doubled by a mask)."""

    def __init__(self, size: int = 3):
        super().__init__()
        self.input_size = self.hidden_size = size
        self.calls: list = []

    def forward(self, x_t, h, recurrent_mask=None):
        self.calls.append(recurrent_mask)
        h_new = x_t + (h if recurrent_mask is None else h * recurrent_mask)
        return h_new, h_new


def test_gate_ranges_are_the_activations_limits():
    z = torch.tensor([-1e4, 1e4])
    for kind, act in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        lo, hi = act(z).tolist()
        assert GATE_RANGES[kind] == (lo, hi)
    assert set(GATE_RANGES) == {"sigmoid", "tanh"}


def test_a_bare_cell_gets_working_defaults():
    cell = Bare()
    assert (cell.output_size, cell.state_sizes, cell.state_names) == (3, (3,), ("h",))
    assert cell.learn_initial_state is False
    assert not cell.supports_recurrent_mask and not cell.supports_scan
    assert cell.scan_kind is None
    x, h, m = torch.randn(2, 3), torch.randn(2, 3), torch.full((2, 3), 2.0)
    assert cell.input_projection(x) is x
    torch.testing.assert_close(cell.recurrence(x, h)[0], x + h)
    torch.testing.assert_close(cell.recurrence(x, h, m)[1], x + 2 * h)
    assert cell.calls[0] is None and cell.calls[1] is m
    assert cell.gate_activations(x, h) == {}
    assert repr(cell) == "Bare(3, 3)"
    with pytest.raises(NotImplementedError, match="^Bare has no whole-sequence scan$"):
        cell.scan(torch.randn(4, 2, 3), h)


def test_forward_is_required():
    class Nothing(Cell):
        pass

    with pytest.raises(NotImplementedError,
                       match=r"^Nothing must implement forward\(x_t, state\)$"):
        Nothing().forward(torch.zeros(1, 1), torch.zeros(1, 1))


def test_state_names_follow_the_state_sizes():
    assert LSTMCell(2, 3, proj_size=2).state_names == ("h", "c")
    assert LSTMCell(2, 3, proj_size=2).state_sizes == (2, 3)
    assert GRUCell(2, 3).state_names == ("h",)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_initial_states_take_the_parameters_dtype_unless_told(dtype):
    cell = LSTMCell(2, 3).to(dtype)
    h, c = cell.init_state(4)
    for part in (h, c):
        assert part.shape == (4, 3) and part.dtype == dtype and not part.any()
    single = GRUCell(2, 5).to(dtype).init_state(2, dtype=torch.float16)
    assert isinstance(single, torch.Tensor) and single.shape == (2, 5)
    assert single.dtype == torch.float16 and not single.any()
    assert not single.requires_grad
    meta = GRUCell(2, 5).init_state(2, device="meta")
    assert meta.device.type == "meta" and meta.dtype == torch.float32


def test_a_cell_without_parameters_gets_default_zeros():
    state = Bare(4).init_state(3)
    assert state.shape == (3, 4) and state.dtype == torch.get_default_dtype()
    assert not state.any()


@pytest.mark.parametrize("cls,names", [(LSTMCell, ("h", "c")), (GRUCell, ("h",))])
def test_a_learned_initial_state_is_a_zero_parameter_broadcast_over_the_batch(cls, names):
    cell = cls(2, 3, learn_initial_state=True)
    assert cell.learn_initial_state is True
    for name in names:
        p = getattr(cell, f"initial_{name}")
        assert isinstance(p, torch.nn.Parameter) and p.shape == (3,) and not p.any()
    assert not cls(2, 3).learn_initial_state
    assert not any(n.startswith("initial_") for n, _ in cls(2, 3).named_parameters())
    with torch.no_grad():
        for k, name in enumerate(names):
            getattr(cell, f"initial_{name}").copy_(torch.tensor([1.0, 2.0, 3.0]) * (k + 1))
    state = cell.init_state(4, dtype=torch.float64)
    parts = state if isinstance(state, tuple) else (state,)
    assert isinstance(state, tuple) == (len(names) > 1)
    for k, part in enumerate(parts):
        assert part.shape == (4, 3) and part.dtype == torch.float64
        torch.testing.assert_close(part, torch.tensor([[1.0, 2.0, 3.0]] * 4).double() * (k + 1))
    part = parts[0]
    part.sum().backward()  # the state is the parameter, broadcast: gradients reach it
    torch.testing.assert_close(cell.initial_h.grad, torch.full((3,), 4.0))


def test_torch_layout_parameters_and_their_terms():
    cell = GRUCell(2, 3)
    assert cell.weight_ih.shape == (9, 2) and cell.weight_hh.shape == (9, 3)
    assert cell.bias_ih.shape == (9,) and cell.bias_hh.shape == (9,)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih",
                                                       "bias_hh"]
    assert (cell.input_size, cell.hidden_size, cell.bias, cell.init) == (2, 3, True, "torch")
    x, h, m = torch.randn(4, 2), torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(cell.input_projection(x), x @ cell.weight_ih.T + cell.bias_ih)
    torch.testing.assert_close(cell.recurrent_term(h), h @ cell.weight_hh.T + cell.bias_hh)
    torch.testing.assert_close(cell.recurrent_term(h, m),
                               (h * m) @ cell.weight_hh.T + cell.bias_hh)
    ref = torch.nn.GRUCell(2, 3)
    ref.load_state_dict(cell.state_dict())
    torch.testing.assert_close(cell(x, h)[0], ref(x, h))
    plain = cell(x, h * m)[0]  # the mask reaches W_hh h only, not the interpolation with h
    masked = cell(x, h, m)[0]
    assert not torch.allclose(plain, masked)


def test_without_bias_there_are_no_bias_parameters():
    cell = RNNCell(2, 3, bias=False)
    assert cell.bias_ih is None and cell.bias_hh is None
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    x = torch.randn(4, 2)
    torch.testing.assert_close(cell.input_projection(x), x @ cell.weight_ih.T)
    for init in INITS:
        RNNCell(2, 3, bias=False, init=init)  # every init works without biases


def test_a_projected_lstm_has_its_recurrent_weights_over_the_projection():
    cell = LSTMCell(2, 5, proj_size=3)
    assert cell.weight_hh.shape == (20, 3) and cell.weight_ih.shape == (20, 2)


def test_unknown_init_lists_the_choices():
    with pytest.raises(ValueError, match=r"^init must be one of \('torch', 'orthogonal', "
                       r"'identity', 'xavier'\), got 'he'$"):
        RNNCell(2, 3, init="he")


H_BIG, I_BIG = 64, 48


def _params(init: str, blocks: int = 3):
    w_ih = torch.full((blocks * H_BIG, I_BIG), 9.0)
    w_hh = torch.full((blocks * H_BIG, H_BIG), 9.0)
    biases = [torch.full((blocks * H_BIG,), 9.0), torch.full((blocks * H_BIG,), 9.0)]
    init_recurrent_weights(w_ih, w_hh, biases, hidden_size=H_BIG, init=init)
    return w_ih, w_hh, biases


def test_torch_init_is_uniform_within_one_over_sqrt_hidden():
    bound = 1 / math.sqrt(H_BIG)
    for p in _params("torch")[:2] + tuple(_params("torch")[2]):
        assert p.abs().max() <= bound and p.abs().max() > 0.95 * bound
        assert p.min() < -0.9 * bound and p.max() > 0.9 * bound  # both signs, whole range
        assert abs(p.mean()) < 0.1 * bound


def _xavier_bound(block):
    return math.sqrt(6 / (block.shape[0] + block.shape[1]))


def _assert_xavier_blocks(w):
    for block in w.split(H_BIG):
        bound = _xavier_bound(block)
        assert block.abs().max() <= bound and block.abs().max() > 0.9 * bound


@pytest.mark.parametrize("init", ["orthogonal", "identity", "xavier"])
def test_block_inits(init):
    """Each gate block on its own: orthogonal and identity recurrent blocks, Xavier bounds
    computed from the block's own shape (H, I) and (H, H), N(0, 0.001^2) inputs for the
    identity init, zero biases."""
    w_ih, w_hh, biases = _params(init)
    for b in biases:
        assert not b.any()
    if init == "identity":
        assert w_ih.abs().max() < 0.006 and abs(w_ih.std().item() - 0.001) < 1e-4
        assert abs(w_ih.mean().item()) < 1e-4
    else:
        _assert_xavier_blocks(w_ih)
    for block in w_hh.split(H_BIG):
        if init == "orthogonal":
            torch.testing.assert_close(block @ block.T, torch.eye(H_BIG), atol=1e-5, rtol=0)
        elif init == "identity":
            assert torch.equal(block, torch.eye(H_BIG))
    if init == "xavier":
        _assert_xavier_blocks(w_hh)
    assert not torch.equal(w_hh[:H_BIG], w_hh[H_BIG: 2 * H_BIG]) or init == "identity"


def test_identity_init_of_a_projected_block_is_a_rectangular_identity():
    w_ih, w_hh = torch.empty(8, 2, dtype=torch.float64), torch.empty(8, 3, dtype=torch.float64)
    init_recurrent_weights(w_ih, w_hh, [], hidden_size=4, init="identity")
    for block in w_hh.split(4):
        assert block.dtype == torch.float64
        assert torch.equal(block, torch.eye(4, 3, dtype=torch.float64))


def test_init_does_not_record_gradients():
    w_ih = torch.empty(6, 2, requires_grad=True)
    w_hh = torch.empty(6, 3, requires_grad=True)
    for init in INITS:
        init_recurrent_weights(w_ih, w_hh, [], hidden_size=3, init=init)
        assert w_ih.grad_fn is None and w_hh.grad_fn is None
