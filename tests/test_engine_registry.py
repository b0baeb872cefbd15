"""Kernels are registered per exact cell class: a subclass runs the generic loop until its
own class is registered, and then the registered family's kernel, with equal results."""

import pytest
import torch

from rnnkit.cells import GRUCell
from rnnkit.kernels import GRUFamily, find_kernel, register_kernel, use_engine
from rnnkit.kernels.engine import _FAMILIES, class_key


class _MyGRUCell(GRUCell):
    """Same step as the GRU: only its class name differs."""


def test_a_registered_subclass_gets_the_family_kernel():
    torch.manual_seed(0)
    cell = _MyGRUCell(3, 5)
    x = torch.randn(7, 2, 3, requires_grad=True)
    h0 = torch.zeros(2, 5)
    assert find_kernel(cell) is None  # not registered: the loop runs
    with use_engine("kernel"), pytest.raises(RuntimeError, match="no kernel for .*_MyGRUCell"):
        find_kernel(cell)
    try:
        register_kernel(class_key(cell), GRUFamily)
        assert _FAMILIES[class_key(cell)] == (GRUFamily, None)
        kernel = find_kernel(cell, training=True)
        assert kernel is not None
        out, h = kernel(x, h0, None)
        register_kernel(class_key(cell), GRUFamily, supports=lambda c: c.hidden_size != 5)
        assert find_kernel(cell) is None  # declined by ``supports``
    finally:
        _FAMILIES.pop(class_key(cell), None)
    hs, h_ref = [], h0
    for t in range(len(x)):  # the cell's own step, one at a time
        y_t, h_ref = cell(x[t], h_ref)
        hs.append(y_t)
    torch.testing.assert_close(out, torch.stack(hs))
    torch.testing.assert_close(h, h_ref)
