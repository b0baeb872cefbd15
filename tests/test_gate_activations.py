"""The gate activations the diagnostics read (`rnnkit diagnose`: saturation by gate), checked
against the gates computed by hand from torch.nn's weight layout: names, kinds and values."""

import torch

from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell


def test_lstm_gates_are_named_typed_and_valued_as_torch_lays_them_out():
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, bias=True, init="torch")
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    gates = cell.gate_activations(cell.input_projection(x), (h, c))
    pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    i, f, g, o = pre.chunk(4, dim=1)  # torch.nn's order: input, forget, cell (g), output
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    expected = {"input": ("sigmoid", i), "forget": ("sigmoid", f),
                "candidate": ("tanh", g), "output": ("sigmoid", o),
                "cell": ("tanh", torch.tanh(f * c + i * g))}
    assert list(gates) == list(expected)
    for name, (kind, values) in expected.items():
        assert gates[name].kind == kind, name
        torch.testing.assert_close(gates[name].values, values, msg=name)
    # the next cell state of the cell itself agrees with the "cell" gate's argument
    _, (h1, c1) = cell(x, (h, c))
    torch.testing.assert_close(torch.tanh(c1), expected["cell"][1])
    torch.testing.assert_close(h1, o * torch.tanh(c1))


def test_gru_gates_are_named_typed_and_valued_as_torch_lays_them_out():
    torch.manual_seed(1)
    cell = GRUCell(3, 4, bias=True, init="torch")
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    gates = cell.gate_activations(cell.input_projection(x), h)
    xr, xz, xn = (x @ cell.weight_ih.T + cell.bias_ih).chunk(3, dim=1)
    hr, hz, hn = (h @ cell.weight_hh.T + cell.bias_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)  # torch.nn.GRU: r multiplies the recurrent term with its bias
    assert [(name, g.kind) for name, g in gates.items()] == [
        ("reset", "sigmoid"), ("update", "sigmoid"), ("candidate", "tanh")]
    values = [g.values for g in gates.values()]
    for got, want in zip(values, (r, z, n)):
        torch.testing.assert_close(got, want)


def test_cells_describe_their_sizes():
    assert repr(LSTMCell(3, 4, bias=True, init="torch")).endswith("(3, 4)")
    assert repr(LSTMCell(3, 4, bias=True, init="torch", proj_size=2)).endswith(
        "(3, 4, proj_size=2)")
