"""The engine's inference path: without gradients a built-in cell runs its packed plan, built
once and reused until the weights change in place; with gradients, the BPTT kernel. Results
against the cell's own step. (What mutation testing of kernels/plans.py found unchecked: the
plan could be skipped or rebuilt every call and every result would still be right.)"""

import pytest
import torch

from rnnkit.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.kernels import find_kernel, plans

pytestmark = pytest.mark.skipif(
    plans.native.ops_for(torch.zeros(1)) is None, reason="rnnkit's compiled kernels are not built"
)


@pytest.fixture
def counted(monkeypatch):
    """Count plans built and plan runs."""
    counts = {"built": 0, "runs": 0}
    init, run = plans.Plan.__init__, plans.Plan.run

    def counting_init(self, *args, **kwargs):
        counts["built"] += 1
        init(self, *args, **kwargs)

    def counting_run(self, *args, **kwargs):
        counts["runs"] += 1
        return run(self, *args, **kwargs)

    monkeypatch.setattr(plans.Plan, "__init__", counting_init)
    monkeypatch.setattr(plans.Plan, "run", counting_run)
    return counts


def _by_hand(cell, x, state, lengths=None):
    """The cell's own step over x (T, B, I); a sequence's state stops at its length."""
    ys = []
    for t in range(len(x)):
        y, new = cell(x[t], state)
        if lengths is not None:
            keep = (t < lengths).unsqueeze(1)
            new = (tuple(torch.where(keep, n, o) for n, o in zip(new, state))
                   if isinstance(new, tuple) else torch.where(keep, new, state))
            y = y * keep
        ys.append(y)
        state = new
    return torch.stack(ys), state


def _close(a, b):
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        torch.testing.assert_close(u, v, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell_cls", [RNNCell, LSTMCell, GRUCell])
def test_inference_runs_one_cached_plan_until_the_weights_change(counted, cell_cls):
    torch.manual_seed(0)
    cell = cell_cls(3, 5)
    kernel = find_kernel(cell)
    x = torch.randn(7, 2, 3)
    state = cell.init_state(2)
    with torch.no_grad():
        y, final = kernel(x, state, None)
        assert counted == {"built": 1, "runs": 1}
        ref_y, ref_final = _by_hand(cell, x, state)
        _close(y, ref_y)
        _close(final, ref_final)
        lengths = torch.tensor([7, 3])
        y, final = kernel(x, state, lengths)
        assert counted == {"built": 1, "runs": 2}  # the cached plan, lengths or not
        ref_y, ref_final = _by_hand(cell, x, state, lengths)
        _close(y, ref_y)
        _close(final, ref_final)
        cell.weight_hh.mul_(0.5)  # an in-place update (as an optimizer step makes)
        y, _ = kernel(x, state, None)
        assert counted == {"built": 2, "runs": 3}
        _close(y, _by_hand(cell, x, state)[0])
    y, _ = kernel(x, state, None)  # gradients wanted: the BPTT kernel, no plan
    assert y.requires_grad and counted == {"built": 2, "runs": 3}


def test_no_plan_serves_a_state_of_another_dtype(counted):
    cell = GRUCell(3, 5)
    x = torch.randn(4, 2, 3)
    with torch.no_grad():
        assert plans.run_sequence(cell, x, torch.zeros(2, 5, dtype=torch.float64), None, 0.0) \
            is None
        assert plans.run_sequence(cell, x.double(), torch.zeros(2, 5), None, 0.0) is None
        y, h = plans.run_sequence(cell, x, torch.zeros(2, 5), None, 0.0)
    assert counted["runs"] == 1
    _close(y, _by_hand(cell, x, torch.zeros(2, 5))[0])


def test_parameters_made_in_inference_mode_are_planned_once(counted):
    with torch.inference_mode():
        torch.manual_seed(1)
        cell = GRUCell(3, 5)
        kernel = find_kernel(cell)
        x, h0 = torch.randn(6, 2, 3), torch.zeros(2, 5)
        y1, _ = kernel(x, h0, None)
        y2, _ = kernel(x, h0, None)
        ref, _ = _by_hand(cell, x, h0)
    assert counted == {"built": 1, "runs": 2}
    _close(y1, ref)
    _close(y2, ref)
