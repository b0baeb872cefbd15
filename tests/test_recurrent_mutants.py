"""``Recurrent`` (rnnkit/layers/recurrent.py) against independent computations: torch.nn's
LSTM/GRU with the cells' weights copied in (stacked, bidirectional, projected, unbatched,
from a given ``hx``, under autocast), a running-sum cell whose outputs are a cumulative sum,
and the exact messages of the errors its options and ``hx`` give.
"""

from __future__ import annotations

import re

import pytest
import torch

from rnnkit.cells import Cell, GRUCell, LSTMCell
from rnnkit.kernels import native, plans
from rnnkit.layers import Recurrent

I, H, T, B = 3, 4, 5, 2
TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _torch_copy(layer: Recurrent, kind: str, **options) -> torch.nn.Module:
    """torch.nn's layer of the same shape holding ``layer``'s weights (cell k of layer l,
    direction d is torch's ``*_l{l}`` / ``*_l{l}_reverse``)."""
    directions = 2 if layer.bidirectional else 1
    ref = TORCH[kind](layer.input_size, layer.layers[0][0].hidden_size,
                      num_layers=layer.num_layers, bidirectional=layer.bidirectional,
                      batch_first=layer.batch_first, **options)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            base, suffix = name.rsplit("_l", 1)
            level, reverse = int(suffix.split("_")[0]), suffix.endswith("reverse")
            cell = layer.layers[level][int(reverse)]
            assert len(layer.layers[level]) == directions
            p.copy_(getattr(cell, base))
    return ref


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


def _assert_states_equal(got, want, **tol):
    assert isinstance(got, tuple) == isinstance(want, tuple)
    for g, w in zip(_parts(got), _parts(want)):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, **tol)


@pytest.mark.parametrize("options,message", [
    ({"dropout": 1.0}, "dropout must be a number in [0, 1), got 1.0"),
    ({"recurrent_dropout": -0.1}, "recurrent_dropout must be a number in [0, 1), got -0.1"),
    ({"zoneout": 1.5}, "zoneout must be a number in [0, 1), got 1.5"),
    ({"num_layers": 0}, "num_layers must be >= 1, got 0"),
    ({"hidden_size": None}, "hidden_size is required with a cell name ('gru')"),
])
def test_bad_options_are_refused_by_name(options, message):
    settings = {"input_size": I, "hidden_size": H, **options}
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Recurrent("gru", **settings)


def test_cell_options_with_a_factory_are_refused_by_name():
    with pytest.raises(ValueError, match="^" + re.escape(
            "cell options ['bias', 'proj_size'] need a cell name, not a factory") + "$"):
        Recurrent(lambda n: LSTMCell(n, H), input_size=I, proj_size=2, bias=False)


def test_a_module_that_is_not_a_cell_is_told_to_subclass_cell():
    with pytest.raises(TypeError, match="^" + re.escape(
            "the cell factory made a Linear, not a rnnkit.cells.Cell; subclass Cell (it "
            "declares the optional capabilities the loop reads, with defaults)") + "$"):
        Recurrent(lambda: torch.nn.Linear(I, H))


def test_no_argument_factory_errors_say_what_to_pass():
    with pytest.raises(ValueError, match="^" + re.escape(
            "pass input_size= (the factory is then called as factory(input_size)), or a "
            "factory that takes no arguments (")):
        Recurrent(lambda n: GRUCell(n, H))
    with pytest.raises(ValueError, match="^" + re.escape(
            f"the cell factory made a cell with input_size={I}, but this layer's input has "
            f"{H} features; pass input_size= and a factory factory(input_size) -> Cell for "
            "stacks whose layers differ in input size") + "$"):
        Recurrent(lambda: GRUCell(I, H), num_layers=2)


def test_cell_options_reach_every_cell():
    """proj_size (an LSTM option) shapes the output and h_n as torch.nn.LSTM's does."""
    layer = Recurrent("lstm", input_size=I, hidden_size=H, num_layers=2, proj_size=2)
    assert layer.output_size == 2
    ref = _torch_copy(layer, "lstm", proj_size=2)
    x = torch.randn(T, B, I)
    out, h_n = layer(x)
    want, want_h = ref(x)
    torch.testing.assert_close(out, want)
    _assert_states_equal(h_n, want_h)


@pytest.mark.parametrize("merge_mode", ["sum", "concat"])
def test_stacked_bidirectional_merge_equals_torch_layer_by_layer(merge_mode):
    """Each layer is a bidirectional torch.nn.GRU; "sum" adds its two halves before the next
    layer (whose input is then H wide), "concat" passes both (2H)."""
    layer = Recurrent("gru", input_size=I, hidden_size=H, num_layers=2, bidirectional=True,
                      merge_mode=merge_mode)
    assert layer.output_size == (H if merge_mode == "sum" else 2 * H)
    x = torch.randn(T, B, I)
    out, h_n = layer(x)
    y, finals = x, []
    for level in range(2):
        ref = torch.nn.GRU(y.shape[-1], H, bidirectional=True)
        with torch.no_grad():
            for name, p in ref.named_parameters():
                cell = layer.layers[level][int(name.endswith("reverse"))]
                p.copy_(getattr(cell, name.split("_l0")[0]))
        y, h = ref(y)
        finals.append(h)
        if merge_mode == "sum":
            y = y[..., :H] + y[..., H:]
    torch.testing.assert_close(out, y)
    torch.testing.assert_close(h_n, torch.cat(finals))


def test_a_no_argument_factory_uses_the_cells_it_makes_in_order():
    """The first cell made (to read the input size) is the first cell used, not a spare."""
    made = [GRUCell(I, H), GRUCell(I, H)]
    supply = iter(made)
    layer = Recurrent(lambda: next(supply), bidirectional=True)
    assert layer.cells[0] is made[0] and layer.cells[1] is made[1]
    x = torch.randn(T, B, I)
    out, h_n = layer(x)
    want, want_h = _torch_copy(layer, "gru")(x)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(h_n, want_h)


@pytest.mark.parametrize("kind,num_layers,bidirectional",
                         [("gru", 1, False), ("lstm", 1, False), ("lstm", 2, True)])
def test_a_given_hx_is_the_initial_state(kind, num_layers, bidirectional):
    layer = Recurrent(kind, input_size=I, hidden_size=H, num_layers=num_layers,
                      bidirectional=bidirectional, batch_first=True)
    ref = _torch_copy(layer, kind)
    n = num_layers * (2 if bidirectional else 1)
    hx = torch.randn(n, B, H) if kind == "gru" else (torch.randn(n, B, H), torch.randn(n, B, H))
    x = torch.randn(B, T, I)
    out, h_n = layer(x, hx)
    want, want_h = ref(x, hx)
    torch.testing.assert_close(out, want)
    _assert_states_equal(h_n, want_h)


@pytest.mark.parametrize("kind,num_layers,bidirectional",
                         [("gru", 1, False), ("lstm", 1, False), ("gru", 2, True),
                          ("lstm", 1, True)])
@pytest.mark.parametrize("given", [False, True])
def test_an_unbatched_sequence_equals_torch_unbatched(kind, num_layers, bidirectional, given):
    """x (L, H_in) -> out (L, D*H), h_n (num_layers*D, H), from zeros or a 2-D hx."""
    layer = Recurrent(kind, input_size=I, hidden_size=H, num_layers=num_layers,
                      bidirectional=bidirectional)
    ref = _torch_copy(layer, kind)
    n = num_layers * (2 if bidirectional else 1)
    hx = None
    if given:
        hx = torch.randn(n, H) if kind == "gru" else (torch.randn(n, H), torch.randn(n, H))
    x = torch.randn(T, I)
    out, h_n = layer(x, hx)
    want, want_h = ref(x, hx)
    assert out.shape == want.shape
    torch.testing.assert_close(out, want)
    _assert_states_equal(h_n, want_h)


def test_hx_errors_name_the_expected_shapes():
    lstm = Recurrent("lstm", input_size=I, hidden_size=H)
    with pytest.raises(ValueError, match="^" + re.escape(
            "hx must have 2 tensor(s) ('h', 'c'), got 1") + "$"):
        lstm(torch.randn(T, B, I), torch.zeros(1, B, H))
    gru = Recurrent("gru", input_size=I, hidden_size=H)
    with pytest.raises(ValueError, match="^" + re.escape(
            "hx (h) must be 2-D (num_layers * num_directions, size) for an unbatched input, "
            "got shape (1, 1, 4)") + "$"):
        gru(torch.randn(T, I), torch.zeros(1, 1, H))
    with pytest.raises(ValueError, match="^" + re.escape(
            f"hx (h) must have shape (1, {B}, {H}) (num_layers * num_directions, batch, size),"
            f" got (1, {B}, {H + 1})") + "$"):
        gru(torch.randn(T, B, I), torch.zeros(1, B, H + 1))
    with pytest.raises(TypeError, match="^" + re.escape("hx (c) must be a tensor, got list")):
        lstm(torch.randn(T, I), (torch.zeros(1, H), [[0.0] * H]))


def test_the_initial_state_takes_the_input_dtype_under_autocast():
    """Under CPU autocast a bfloat16 input runs float32 weights; the zero initial state is
    then bfloat16, as torch.nn.GRU makes it, and so are the outputs and h_n."""
    layer = Recurrent("gru", input_size=I, hidden_size=H)
    ref = _torch_copy(layer, "gru")
    x = torch.randn(T, B, I).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, h_n = layer(x)
        want, want_h = ref(x)
    assert out.dtype == h_n.dtype == want.dtype == want_h.dtype == torch.bfloat16
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(h_n, want_h)


class _RunningSum(Cell):
    """h_t = h_{t-1} + x_t, no parameters: the outputs are the cumulative sum over time."""

    def __init__(self, size: int):
        super().__init__()
        self.input_size = self.hidden_size = size

    def forward(self, x_t, state, recurrent_mask=None):
        h = state + x_t
        return h, h


def test_a_cell_without_parameters_gets_its_state_on_the_input_device_and_dtype():
    layer = Recurrent(lambda: _RunningSum(I), bidirectional=True)
    x = torch.randn(T, B, I, dtype=torch.float64)
    lengths = torch.tensor([T, 2])
    out, h_n = layer(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        seq = x[:n, b]
        torch.testing.assert_close(out[:n, b, :I], seq.cumsum(0))  # forward: running sum
        torch.testing.assert_close(out[:n, b, I:], seq.flip(0).cumsum(0).flip(0))  # backward
        assert torch.all(out[n:, b] == 0)
        torch.testing.assert_close(h_n[:, b], seq.sum(0).expand(2, I))
    meta = layer(torch.empty(T, B, I, device="meta"))  # a CPU state could not meet it
    assert meta[0].device.type == "meta" and meta[1].device.type == "meta"


@pytest.mark.skipif(not native.available(), reason="the compiled step needs the native "
                    "extension (a C++ compiler)")
def test_step_takes_the_compiled_plan_and_equals_torch(monkeypatch):
    """In evaluation without gradients, step() runs the compiled plan over the stack's own
    parameters, once per step, and gives torch.nn.LSTM's outputs and final state."""
    layer = Recurrent("lstm", input_size=I, hidden_size=H, num_layers=2).eval()
    ref = _torch_copy(layer, "lstm")
    calls = []
    step = plans.Plan.step
    monkeypatch.setattr(plans.Plan, "step", lambda self, *a: calls.append(1) or step(self, *a))
    x = torch.randn(T, B, I)
    with torch.no_grad():
        state, ys = None, []
        for t in range(T):
            y, state = layer.step(x[t], state)
            ys.append(y)
        want, want_h = ref(x)
    assert len(calls) == T
    torch.testing.assert_close(torch.stack(ys), want)
    _assert_states_equal(state, want_h)
