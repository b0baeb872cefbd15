"""Conformance: every registered cell against the cell contract (:class:`rnnkit.cells.Cell`).

The checks loop over :data:`rnnkit.cells.CELLS`, so registering a cell puts it under test.
Each ``check_*`` function raises ``AssertionError`` on a violation; the tests at the end
register deliberately broken cells and show that each check catches its fault.
"""

from __future__ import annotations

import contextlib
import functools
import inspect

import pytest
import torch
from torch import Tensor

from rnnkit.cells import CELLS, Cell, Gate, make_cell, register_cell
from rnnkit.cells.base import GATE_RANGES
from rnnkit.kernels import native, use_engine
from rnnkit.kernels.scan import KINDS, min_scan
from rnnkit.layers import run_direction

I, H, B, T = 3, 4, 3, 5
LENGTHS = torch.tensor([5, 1, 3])
# beyond each cell's defaults: options that change shapes or take other code paths
OPTIONS = [("lstm", {"proj_size": 2}), ("lstm", {"forget_bias": 1.0, "bias": False}),
           ("gru", {"bias": False}), ("rnn", {"init": "orthogonal"}), ("lnlstm", {"bias": False})]
CONFIGS = [(name, {}) for name in sorted(CELLS)] + [(n, o) for n, o in OPTIONS if n in CELLS]
IDS = [name + "".join(f"-{k}={v}" for k, v in o.items()) for name, o in CONFIGS]


def _cell(name: str, options: dict, dtype=torch.float64) -> Cell:
    cell = make_cell(name, I, H, **options).to(dtype)
    with torch.no_grad():  # off the initial values (zero biases, unit gains) that hide mistakes
        for p in cell.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return cell


def _parts(state) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def _pack(parts):
    """A state from its parts: a tuple of two or more, else the one tensor."""
    return tuple(parts) if len(parts) > 1 else parts[0]


def _random_state(cell: Cell, *shape: int, grad: bool = False, scale: float = 1.0):
    return _pack([(torch.randn(*shape, n, dtype=torch.float64) * scale).requires_grad_(grad)
                  for n in cell.state_sizes])


def _assert_states_match(state, cell: Cell, batch: int, dtype) -> None:
    parts = _parts(state)
    assert isinstance(state, tuple) == (len(cell.state_sizes) > 1), (
        "the state must be a tuple exactly when state_sizes has more than one entry")
    assert len(parts) == len(cell.state_sizes)
    for part, size in zip(parts, cell.state_sizes):
        assert isinstance(part, Tensor) and part.shape == (batch, size), (part.shape, size)
        assert part.dtype == dtype


def _by_hand(cell: Cell, x: Tensor, state, lengths: Tensor, reverse: bool):
    """The direction stepped with ``cell(x_t, s)`` one sequence at a time, for t < length."""
    outs, finals = [], []
    for b in range(x.shape[1]):
        s = _pack([p[b : b + 1] for p in _parts(state)])
        ys = [x.new_zeros(cell.output_size)] * x.shape[0]
        n = int(lengths[b])
        for t in (reversed(range(n)) if reverse else range(n)):
            y, s = cell(x[t, b : b + 1], s)
            ys[t] = y[0]
        outs.append(torch.stack(ys))
        finals.append(_parts(s))
    final = [torch.cat([f[k] for f in finals]) for k in range(len(finals[0]))]
    return torch.stack(outs, dim=1), _pack(final)  # (T, B, O)


def _results(cell: Cell, run, x: Tensor, state) -> list[Tensor]:
    """Outputs, final state and the gradients of a fixed loss of ``run(x, state)``."""
    out, final = run(x, state)
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    loss = (out * w).sum() + sum((f * f).sum() for f in _parts(final))
    inputs = [x, *_parts(state), *cell.parameters()]
    return [out, *_parts(final), *torch.autograd.grad(loss, inputs, allow_unused=True)]


def _assert_close_all(a: list, b: list, tol: float = 1e-9) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert (u is None) == (v is None)
        if u is not None:
            torch.testing.assert_close(u, v, rtol=tol, atol=tol)


# -- the checks --------------------------------------------------------------------------

def check_state(name: str, options: dict) -> None:
    """init_state: zeros (or the learned state) of ``state_sizes``, in the asked dtype."""
    cell = _cell(name, options)
    assert cell.input_size == I and cell.hidden_size == H
    assert len(cell.state_names) == len(cell.state_sizes)
    _assert_states_match(cell.init_state(B), cell, B, torch.float64)
    _assert_states_match(cell.init_state(B, dtype=torch.float32), cell, B, torch.float32)
    assert all(torch.all(p == 0) for p in _parts(cell.init_state(B)))
    if "learn_initial_state" in inspect.signature(CELLS[name]).parameters:
        cell = make_cell(name, I, H, learn_initial_state=True, **options)
        learned = {n: getattr(cell, f"initial_{n}") for n in cell.state_names}
        for n, size in zip(cell.state_names, cell.state_sizes):
            assert learned[n].shape == (size,)
        state = cell.init_state(B)
        _assert_states_match(state, cell, B, torch.float32)
        run_direction(cell, torch.randn(T, B, I), state)[0].sum().backward()
        assert learned["h"].grad is not None, "the learned initial state gets no gradient"


def check_forward(name: str, options: dict) -> None:
    """forward: y_t (B, output_size) and a new state of the same structure and shapes."""
    cell = _cell(name, options)
    for state in (cell.init_state(B), _random_state(cell, B)):
        y, new = cell(torch.randn(B, I, dtype=torch.float64), state)
        assert y.shape == (B, cell.output_size) and y.dtype == torch.float64
        _assert_states_match(new, cell, B, torch.float64)


def check_deterministic(name: str, options: dict) -> None:
    cell = _cell(name, options)
    x, state = torch.randn(B, I, dtype=torch.float64), _random_state(cell, B)
    (y1, s1), (y2, s2) = cell(x, state), cell(x, state)
    assert torch.equal(y1, y2) and all(map(torch.equal, _parts(s1), _parts(s2)))


def check_split(name: str, options: dict) -> None:
    """forward == recurrence(input_projection(x_t)); the projection works on any leading
    shape (the loop projects all steps at once)."""
    cell = _cell(name, options)
    x, state = torch.randn(T, B, I, dtype=torch.float64), _random_state(cell, B)
    gx = cell.input_projection(x)  # (T, B, G)
    for t in range(T):
        torch.testing.assert_close(gx[t], cell.input_projection(x[t]))
        a, b = cell(x[t], state), cell.recurrence(gx[t], state)
        _assert_close_all([a[0], *_parts(a[1])], [b[0], *_parts(b[1])])


def check_loop_equals_steps(name: str, options: dict) -> None:
    """The layers' loop (both engines: any kernel or scan the cell gets) equals stepping the
    cell by hand, with lengths and in reverse: outputs, final state and gradients."""
    cell = _cell(name, options)
    for reverse in (False, True):
        x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
        state = _random_state(cell, B, grad=True)
        options = dict(lengths=LENGTHS, reverse=reverse)
        hand = _results(cell, functools.partial(_by_hand, cell, **options), x, state)
        for engine in ("loop", "auto"):
            with use_engine(engine):
                run = _results(cell, functools.partial(run_direction, cell, **options), x, state)
            _assert_close_all(run, hand)


def check_gradcheck(name: str, options: dict) -> None:
    """float64 gradcheck of one step, inputs, state and parameters."""
    cell = _cell(name, options)
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(2, I, dtype=torch.float64, requires_grad=True)
    state = _parts(_random_state(cell, 2, grad=True))
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]
    k = len(state)

    def step(x, *rest):
        s = _pack(rest[:k])
        y, new = torch.func.functional_call(cell, dict(zip(names, rest[k:])), (x, s))
        return (y, *_parts(new))

    assert torch.autograd.gradcheck(step, (x, *state, *params), raise_exception=False), (
        f"{name}: analytic and numerical gradients differ")


def check_gates(name: str, options: dict) -> None:
    """gate_activations: Gates of a known kind with values in its range, at any leading
    shape (all steps at once equal step by step), also for inputs that saturate them."""
    cell = _cell(name, options)
    for scale in (1.0, 30.0):
        x = torch.randn(T, B, I, dtype=torch.float64) * scale
        state = _random_state(cell, T, B, scale=scale)
        gx = cell.input_projection(x)
        gates = cell.gate_activations(gx, state)
        for gate_name, gate in gates.items():
            assert isinstance(gate_name, str) and isinstance(gate, Gate)
            assert gate.kind in GATE_RANGES, f"{gate_name}: unknown kind {gate.kind!r}"
            low, high = GATE_RANGES[gate.kind]
            v = gate.values
            assert v.shape[:2] == (T, B) and v.dim() == 3
            assert torch.isfinite(v).all() and v.min() >= low and v.max() <= high, (
                f"{gate_name} ({gate.kind}) outside [{low}, {high}]")
        for t in range(T):
            step = cell.gate_activations(gx[t], _pack([p[t] for p in _parts(state)]))
            assert step.keys() == gates.keys()
            for gate_name, gate in step.items():
                assert gate.kind == gates[gate_name].kind
                torch.testing.assert_close(gate.values, gates[gate_name].values[t])


def check_capabilities(name: str, options: dict) -> None:
    """The declared optional capabilities agree with ``forward``."""
    cell = _cell(name, options)
    x, state = torch.randn(B, I, dtype=torch.float64), _random_state(cell, B)
    if cell.supports_recurrent_mask:
        plain = cell(x, state)[0]
        torch.testing.assert_close(cell(x, state, torch.ones(B, cell.state_sizes[0],
                                                           dtype=torch.float64))[0], plain)
        mask = (torch.arange(cell.state_sizes[0]) % 2 * 2.0).double().expand(B, -1)  # 0, 2, ..
        assert not torch.allclose(cell(x, state, mask)[0], plain), (
            "supports_recurrent_mask is declared but the mask changes nothing")
    xs, h0 = torch.randn(T, B, I, dtype=torch.float64), _random_state(cell, B)
    if not cell.supports_scan:
        assert cell.scan_kind is None, "scan_kind needs supports_scan"
        with pytest.raises(NotImplementedError):
            cell.scan(xs, h0)
        return
    with torch.no_grad():
        hand = _by_hand(cell, xs, h0, LENGTHS, reverse=False)
        scans = [cell.scan(xs, h0, LENGTHS), cell.scan(xs, h0)]
        hand_all = _by_hand(cell, xs, h0, torch.full((B,), T), reverse=False)
        if cell.scan_kind is not None:
            assert cell.scan_kind in KINDS, f"unknown scan_kind {cell.scan_kind!r}"
            if native.ops_for(xs) is not None:
                scans.append(min_scan(cell.scan_kind, cell.input_projection(xs), h0, LENGTHS))
    for got, want in zip(scans, [hand, hand_all, hand]):
        _assert_close_all([got[0], *_parts(got[1])], [want[0], *_parts(want[1])])


CHECKS = [check_state, check_forward, check_deterministic, check_split,
          check_loop_equals_steps, check_gradcheck, check_gates, check_capabilities]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
@pytest.mark.parametrize("name,options", CONFIGS, ids=IDS)
def test_registered_cell_follows_the_contract(name, options, check):
    check(name, options)


def test_every_built_in_cell_reports_gates():
    quiet = {"rnn_relu"}  # relu has no saturation to measure
    for name in ["rnn", "rnn_relu", "lstm", "gru", "lnlstm", "lngru", "mingru", "minlstm"]:
        cell = _cell(name, {})
        gates = cell.gate_activations(cell.input_projection(torch.randn(B, I).double()),
                                      _random_state(cell, B))
        assert bool(gates) == (name not in quiet), name


# -- the checks can fail -----------------------------------------------------------------

class Elman(Cell):
    """A minimal correct cell: ``forward`` only, every capability left at its default."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.w = torch.nn.Linear(input_size + hidden_size, hidden_size)

    def forward(self, x_t, h, recurrent_mask=None):
        h = h if recurrent_mask is None else h * recurrent_mask
        h_new = torch.tanh(self.w(torch.cat([x_t, h], dim=-1)))
        return h_new, h_new


class WrongStateSize(Elman):
    def forward(self, x_t, h, recurrent_mask=None):
        y, h = super().forward(x_t, h)
        return y, h[:, 1:]  # one unit short of state_sizes


class TupleDeclaredTensorReturned(Elman):
    @property
    def state_sizes(self):
        return (self.hidden_size, self.hidden_size)

    def forward(self, x_t, state, recurrent_mask=None):
        return super().forward(x_t, state[0])


class Noisy(Elman):
    def forward(self, x_t, h, recurrent_mask=None):
        y, h = super().forward(x_t, h)
        return y + 1e-3 * torch.randn_like(y), h


class SplitDisagrees(Elman):
    def input_projection(self, x):
        return 2 * x  # recurrence is still forward: the step sees 2 x_t


class GateOutOfRange(Elman):
    def gate_activations(self, gx, h):
        return {"h": Gate("sigmoid", self.recurrence(gx, h)[0])}  # tanh values as sigmoid


class MaskIgnored(Elman):
    supports_recurrent_mask = True

    def forward(self, x_t, h, recurrent_mask=None):
        return super().forward(x_t, h)


class WrongScan(Elman):
    supports_scan = True

    def scan(self, x, h0, lengths=None):
        lengths = torch.full((x.shape[1],), x.shape[0]) if lengths is None else lengths
        return _by_hand(self, x, torch.zeros_like(h0), lengths, reverse=False)  # h0 ignored


class _BadTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return torch.tanh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (1 - torch.tanh(a))  # should be 1 - tanh(a)^2


class WrongGradient(Elman):
    def forward(self, x_t, h, recurrent_mask=None):
        h_new = _BadTanh.apply(self.w(torch.cat([x_t, h], dim=-1)))
        return h_new, h_new


@contextlib.contextmanager
def registered(factory):
    name = f"_test_{factory.__name__}"
    register_cell(name, factory)
    try:
        yield name
    finally:
        CELLS.pop(name)


def test_a_minimal_new_cell_passes_every_check():
    with registered(Elman) as name:
        for check in CHECKS:
            check(name, {})


@pytest.mark.parametrize("factory,failing", [
    (WrongStateSize, check_forward),
    (TupleDeclaredTensorReturned, check_forward),
    (Noisy, check_deterministic),
    (SplitDisagrees, check_split),
    (SplitDisagrees, check_loop_equals_steps),
    (GateOutOfRange, check_gates),
    (MaskIgnored, check_capabilities),
    (WrongScan, check_capabilities),
    (WrongScan, check_loop_equals_steps),
    (WrongGradient, check_gradcheck),
], ids=lambda v: getattr(v, "__name__", None))
def test_a_broken_cell_fails_its_check(factory, failing):
    with registered(factory) as name:
        with pytest.raises(AssertionError):
            failing(name, {})
