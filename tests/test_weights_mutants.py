"""Gradient norms and spectral radii (rnnkit/diagnostics/weights.py) against NumPy and sums
done by hand, and the parameter -> layer names the diagnostics pool by. Each test fails on a
one-line bug that tests/test_diagnostics.py lets through (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.diagnostics.weights import (
    grad_norms,
    layer_grad_norms,
    layer_of,
    parameter_grad_norms,
    recurrent_spectral_radii,
    spectral_radius,
)


def _np_radius(matrix: torch.Tensor) -> float:
    return float(np.abs(np.linalg.eigvals(matrix.detach().double().numpy())).max())


def test_spectral_radius_equals_numpy_in_float64():
    """A float32 matrix is measured in float64: agreement to 1e-12, which float32 misses."""
    g = torch.Generator().manual_seed(0)
    for n in (1, 2, 5, 9):
        w = torch.randn(n, n, generator=g)
        assert spectral_radius(w) == pytest.approx(_np_radius(w), rel=1e-12)
    rotation = torch.tensor([[0.0, -3.0], [3.0, 0.0]])  # eigenvalues +-3i: |.| = 3
    assert spectral_radius(rotation) == pytest.approx(3.0, rel=1e-15)
    near = torch.tensor([[1.0, 1e-9], [0.0, 1.0 + 3e-8]], dtype=torch.float64)
    assert spectral_radius(near) == 1.0 + 3e-8  # lost in float32 (its eps is 1.2e-7)


def test_spectral_radius_leaves_the_matrix_alone():
    w = torch.randn(4, 4, requires_grad=True)
    before = w.detach().clone()
    assert isinstance(spectral_radius(w), float)
    assert torch.equal(w.detach(), before) and w.dtype == torch.float32


@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 2, 2), (1, 2, 2)])
def test_spectral_radius_refuses_a_matrix_that_is_not_square(shape):
    with pytest.raises(ValueError) as err:
        spectral_radius(torch.ones(shape))
    assert str(err.value) == f"spectral_radius needs a square matrix, got shape {shape}"


@pytest.mark.parametrize("cls, gates", [(rnnkit.LSTM, "ifgo"), (rnnkit.GRU, "rzn")])
def test_each_gate_block_of_a_recurrent_weight_is_measured(cls, gates):
    """``weight_hh`` stacks one (H, H) block per gate in torch.nn's order."""
    torch.manual_seed(0)
    H = 3
    model = nn.ModuleDict({"enc": cls(2, H, num_layers=2, bidirectional=True)})
    radii = recurrent_spectral_radii(model)
    expected = {}
    for suffix in ("l0", "l1", "l0_reverse", "l1_reverse"):
        w = getattr(model["enc"], f"weight_hh_{suffix}")
        for k, gate in enumerate(gates):
            expected[f"enc.weight_hh_{suffix}[{gate}]"] = _np_radius(w[k * H:(k + 1) * H])
    assert radii.keys() == expected.keys()
    for name, value in expected.items():
        assert radii[name] == pytest.approx(value, rel=1e-12), name


def test_an_elman_weight_has_one_block_named_without_a_gate():
    torch.manual_seed(1)
    rnn = rnnkit.RNN(2, 4)
    assert recurrent_spectral_radii(rnn) == pytest.approx(
        {"weight_hh_l0": _np_radius(rnn.weight_hh_l0)}, rel=1e-12)


def test_weights_without_square_blocks_are_skipped():
    """LSTM with proj_size (blocks (H, P)), a 1-D weight_hh, and a (7, 2) weight_hh whose
    rows do not split into (2, 2) blocks: none is measured; the square one is."""
    assert recurrent_spectral_radii(rnnkit.LSTM(2, 4, proj_size=2)) == {}
    assert recurrent_spectral_radii(nn.LSTM(2, 5, proj_size=3)) == {}
    model = nn.Module()
    model.weight_hh_odd = nn.Parameter(torch.ones(7, 2))
    model.weight_hh_flat = nn.Parameter(torch.ones(4))
    model.weight_hh_gates = nn.Parameter(torch.ones(6, 2))  # 3 gate blocks of (2, 2)
    model.weight_ih_l0 = nn.Parameter(torch.ones(2, 2))  # not a recurrent weight
    assert recurrent_spectral_radii(model) == pytest.approx(
        {f"weight_hh_gates[{g}]": 2.0 for g in "rzn"})  # ones(2, 2): eigenvalues 0 and 2
    model.weight_hh_five = nn.Parameter(torch.ones(10, 2))  # 5 blocks: no gate names known
    assert len(recurrent_spectral_radii(model)) == 3


def test_a_skipped_weight_does_not_end_the_search():
    """A projected LSTM (8 blocks of (4, 2): skipped) before a GRU: the GRU is measured."""
    model = nn.ModuleDict({"a": rnnkit.LSTM(2, 4, proj_size=2), "b": rnnkit.GRU(2, 3)})
    assert sorted(recurrent_spectral_radii(model)) == [f"b.weight_hh_l0[{g}]" for g in "nrz"]


@pytest.mark.parametrize("name, layer", [
    ("enc.rnn.weight_hh_l1_reverse", "enc.rnn.l1_reverse"),
    ("rnn.weight_ih_l0", "rnn.l0"),
    ("bias_hh_l12", "l12"),
    ("enc.rnn.ln_c_weight_l0_reverse", "enc.rnn.l0_reverse"),  # the drop-ins' layer norms
    ("enc.rnn.ln_ih_weight_l2", "enc.rnn.l2"),
    ("rnn.initial_h_l0", "rnn.l0"),  # learn_initial_state
    ("lstm.weight_hr_l1", "lstm.l1"),  # proj_size
    ("enc.rnn.layers.1.0.weight_hh", "enc.rnn.l1"),  # Recurrent: layers.<layer>.<direction>
    ("enc.rnn.layers.3.1.ln_c_bias", "enc.rnn.l3_reverse"),
    ("layers.0.1.weight_ih", "l0_reverse"),
    ("head.weight", "head"),
    ("decoder.out.proj.bias", "decoder.out.proj"),
    ("scale", "scale"),
])
def test_each_parameter_belongs_to_its_layer(name, layer):
    assert layer_of(name) == layer


def test_every_parameter_of_real_layers_maps_to_its_layer():
    """Each (layer, direction) of a drop-in and of Recurrent gets one name, as the gradient
    flow recorder names them."""
    model = nn.ModuleDict({
        "a": rnnkit.LSTM(2, 3, num_layers=2, bidirectional=True, layer_norm=True),
        "b": rnnkit.Recurrent("gru", input_size=2, hidden_size=3, num_layers=2,
                              bidirectional=True),
        "head": nn.Linear(3, 1)})
    layers = {layer_of(n) for n, _ in model.named_parameters()}
    assert layers == {f"{m}.l{k}{d}" for m in "ab" for k in (0, 1) for d in ("", "_reverse")
                      } | {"head"}


def test_grad_norms_are_the_euclidean_norms_of_the_gradients_present():
    grads = {"a": torch.tensor([3.0, 4.0]), "b": None, "c": torch.tensor([[1.0, 2.0], [2.0, 4.0]])}
    assert grad_norms(grads) == {"a": 5.0, "c": 5.0}  # sqrt(9 + 16), sqrt(1 + 4 + 4 + 16)


def test_parameter_grad_norms_read_each_parameters_grad():
    model = nn.ModuleDict({"used": nn.Linear(3, 2), "unused": nn.Linear(3, 2)})
    x = torch.randn(4, 3)
    model["used"](x).pow(2).sum().backward()
    norms = parameter_grad_norms(model)
    assert set(norms) == {"used.weight", "used.bias"}
    for name in norms:
        p = dict(model.named_parameters())[name]
        assert norms[name] == pytest.approx(math.sqrt(float((p.grad.double() ** 2).sum())))


def test_layer_norms_pool_the_squares_of_their_parameters():
    norms = {"rnn.weight_ih_l0": 3.0, "rnn.weight_hh_l0": 4.0, "rnn.bias_ih_l0": 12.0,
             "rnn.weight_hh_l0_reverse": 2.0, "head.weight": 1.5, "head.bias": 2.0}
    assert layer_grad_norms(norms) == pytest.approx(
        {"rnn.l0": 13.0, "rnn.l0_reverse": 2.0, "head": 2.5})  # sqrt(9 + 16 + 144) = 13
    assert layer_grad_norms({}) == {}
