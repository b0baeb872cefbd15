"""What the layers take in and give back (rnnkit/layers/sequences.py), their step mode's
choices and checks (rnnkit/layers/stepping.py) and the compiled min-scan's dispatch
(rnnkit/kernels/scan.py): each test fails on a one-line bug that the numerical tests of the
layers let through (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels import native, use_engine
from rnnkit.kernels.scan import min_scan
from rnnkit.layers import Recurrent

compiled = pytest.mark.skipif(not native.available(), reason="the compiled kernels are "
                              "unavailable here (no C++ compiler, or RNNKIT_NATIVE=0)")


# ------------------------------------------------------------------ sequences in and out


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_input_gives_packed_output_in_the_callers_batch_order(cell):
    """An unsorted PackedSequence (enforce_sorted=False) comes back packed exactly alike:
    the same batch sizes and index permutations, and unpacking it gives the padded run's
    outputs in the caller's order."""
    torch.manual_seed(0)
    layer = Recurrent(cell, input_size=3, hidden_size=4, num_layers=2)
    x, lengths = torch.randn(6, 5, 3), torch.tensor([3, 6, 3, 5, 3])  # with ties
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, h_n = layer(packed)
    assert isinstance(out, nn.utils.rnn.PackedSequence)
    torch.testing.assert_close(out.batch_sizes, packed.batch_sizes)
    torch.testing.assert_close(out.sorted_indices, packed.sorted_indices)
    torch.testing.assert_close(out.unsorted_indices, packed.unsorted_indices)
    padded, lens = pad_packed_sequence(out, total_length=6)
    ref, ref_h = layer(x, lengths=lengths)
    assert lens.tolist() == lengths.tolist()
    torch.testing.assert_close(padded, ref)
    for a, b in zip(h_n if cell == "lstm" else (h_n,), ref_h if cell == "lstm" else (ref_h,)):
        torch.testing.assert_close(a, b)


def test_drop_in_with_lengths_keeps_the_padded_length():
    """torch's fused path packs and unpacks: the output keeps the input's T (zeros past
    each length), as rnnkit's own loop gives, even when every length is below T."""
    torch.manual_seed(1)
    lstm = rnnkit.LSTM(3, 4, batch_first=True)
    x, lengths = torch.randn(3, 7, 3), torch.tensor([5, 2, 4])
    out, _ = lstm(x, lengths=lengths)
    assert out.shape == (3, 7, 4)
    ref, _ = lstm.forward_loop(x, lengths=lengths)
    torch.testing.assert_close(out, ref)
    assert torch.all(out[0, 5:] == 0) and torch.all(out[1, 2:] == 0)


@pytest.mark.parametrize("steps", [1, 4])
def test_unbatched_input_gives_unbatched_output(steps):
    """(T, I) in: (T, H) out and h_n (L, H), the batched run's values, as torch.nn does;
    also for a single step."""
    torch.manual_seed(2)
    layer = Recurrent("gru", input_size=3, hidden_size=5, num_layers=2)
    x = torch.randn(steps, 3)
    out, h_n = layer(x)
    ref, ref_h = layer(x.unsqueeze(1))
    assert out.shape == (steps, 5) and h_n.shape == (2, 5)
    torch.testing.assert_close(out, ref[:, 0])
    torch.testing.assert_close(h_n, ref_h[:, 0])
    assert nn.GRU(3, 5, num_layers=2)(x)[0].shape == out.shape


def test_packed_input_errors_say_what_is_wrong():
    layer = Recurrent("gru", input_size=4, hidden_size=5)
    drop_in = rnnkit.GRU(4, 5)
    packed = pack_padded_sequence(torch.randn(5, 3, 4), [5, 3, 2])
    for module in (layer, drop_in):
        with pytest.raises(ValueError) as err:
            module(packed, lengths=torch.tensor([5, 3, 2]))
        assert str(err.value) == "pass either a PackedSequence or lengths=, not both"
        wrong = pack_padded_sequence(torch.randn(5, 3, 2), [5, 3, 2])
        with pytest.raises(ValueError) as err:
            module(wrong)
        assert str(err.value) == ("a PackedSequence's data must have shape (steps, "
                                  "input_size=4), got (10, 2)")
        ints = pack_padded_sequence(torch.ones(5, 3, 4, dtype=torch.long), [5, 3, 2])
        with pytest.raises(TypeError) as err:
            module(ints)
        assert str(err.value) == ("input must be a floating-point PackedSequence, got dtype "
                                  "torch.int64; pack a float tensor (input.float())")


def test_a_wrong_input_size_names_the_layout_of_the_layer():
    for batch_first, layout in ((True, "(B, T, input_size)"), (False, "(T, B, input_size)")):
        layer = Recurrent("gru", input_size=4, hidden_size=5, batch_first=batch_first)
        with pytest.raises(ValueError) as err:
            layer(torch.randn(3, 2, 6))
        assert str(err.value).endswith(f"expected {layout})")


# ------------------------------------------------------------------------- step mode


def _stepped(layer, x, batch_first):
    """Outputs of layer.step over x (B, T, I), stacked in the layer's layout."""
    state, outs = None, []
    for t in range(x.shape[1]):
        y, state = layer.step(x[:, t], state)
        outs.append(y)
    return torch.stack(outs, 1 if batch_first else 0), state


@pytest.mark.parametrize("batch_first", [True, False])
def test_step_by_forward_in_either_layout_equals_forward(batch_first):
    """With gradients recorded the step runs forward on a length-1 sequence: in either
    layout it gives forward's outputs one at a time and its h_n."""
    torch.manual_seed(3)
    layer = Recurrent("lstm", input_size=3, hidden_size=4, num_layers=2,
                      batch_first=batch_first)
    x = torch.randn(2, 5, 3, requires_grad=True)
    assert layer._step_plan(x[:, 0]) is None  # gradients: no compiled plan
    out, (h, c) = _stepped(layer, x, batch_first)
    ref, (rh, rc) = layer(x if batch_first else x.transpose(0, 1))
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(h, rh)
    torch.testing.assert_close(c, rc)


@compiled
@pytest.mark.parametrize("option, plan", [
    ({}, True), ({"dropout": 0.5}, False), ({"recurrent_dropout": 0.5}, False),
    ({"zoneout": 0.5}, False), ({"dropout": 0.5, "eval": True}, True),
    ({"zoneout": 0.5, "eval": True}, True)])
def test_step_uses_the_compiled_plan_only_without_random_masks(option, plan):
    """Training with dropout of any kind draws masks, so the step runs forward (which
    draws them); without (or in evaluation) the compiled plan serves it."""
    option = dict(option)
    evaluating = option.pop("eval", False)
    layer = Recurrent("gru", input_size=3, hidden_size=4, num_layers=2, **option)
    layer.train(not evaluating)
    x_t = torch.randn(2, 3)
    with torch.no_grad():
        assert (layer._step_plan(x_t) is not None) == plan
        with use_engine("loop"):
            assert layer._step_plan(x_t) is None  # the loop engine: no compiled code
        if not plan and not evaluating:
            torch.manual_seed(4)
            y, _ = layer.step(x_t)
            torch.manual_seed(4)
            ref, _ = layer(x_t.unsqueeze(0))
            torch.testing.assert_close(y, ref[0])  # the same masks as forward


def test_step_argument_errors():
    layer = Recurrent("lstm", input_size=3, hidden_size=4, num_layers=2)
    with pytest.raises(ValueError) as err:
        Recurrent("gru", input_size=3, hidden_size=4, bidirectional=True).step(torch.randn(2, 3))
    assert str(err.value) == ("step() needs a unidirectional layer: the backward direction of "
                              "a bidirectional one reads the sequence from its end")
    for bad, shown in ((torch.randn(2, 4, 3), "(2, 4, 3)"), (torch.randn(2, 5), "(2, 5)"),
                       ([[0.0, 1.0, 2.0]], "list")):
        with pytest.raises(ValueError) as err:
            layer.step(bad)
        assert str(err.value) == ("step() takes x_t of shape (batch, input_size=3), got "
                                  f"{shown}")


@compiled
def test_step_state_errors_name_what_is_wrong():
    lstm = Recurrent("lstm", input_size=3, hidden_size=4, num_layers=2).eval()
    gru = Recurrent("gru", input_size=3, hidden_size=4, num_layers=2).eval()
    x_t = torch.randn(5, 3)
    h = torch.zeros(2, 5, 4)
    with torch.no_grad():
        with pytest.raises(ValueError) as err:
            lstm.step(x_t, h)
        assert str(err.value) == ("state must be a tuple (h, c) as forward returns it, got "
                                  "Tensor of 1")
        with pytest.raises(ValueError) as err:
            gru.step(x_t, (h, h))
        assert str(err.value) == "state must be one tensor h as forward returns it, got tuple of 2"
        with pytest.raises(ValueError) as err:
            lstm.step(x_t, (h, h, h))
        assert str(err.value) == ("state must be a tuple (h, c) as forward returns it, got "
                                  "tuple of 3")
        with pytest.raises(ValueError, match=r"state \(c\) must have shape \(2, 5, 4\)"):
            lstm.step(x_t, (h, torch.zeros(2, 4, 4)))
        with pytest.raises(TypeError, match=r"state \(h\) has dtype torch.float64 but the "
                                            "input has dtype torch.float32"):
            lstm.step(x_t, (h.double(), h))
        with pytest.raises(TypeError, match=r"state \(h\) must be a tensor, got list"):
            lstm.step(x_t, ([0.0], h))
        y, (h1, c1) = lstm.step(x_t, (h, h))  # the right state goes through
        assert y.shape == (5, 4) and h1.shape == c1.shape == (2, 5, 4)


# ------------------------------------------------------------------ compiled min-scan


@compiled
@pytest.mark.parametrize("cls, kind", [(MinGRUCell, "mingru"), (MinLSTMCell, "minlstm")])
def test_min_scan_serves_cpu_tensors_of_one_dtype_and_equals_the_log_space_scan(cls, kind):
    torch.manual_seed(5)
    cell = cls(3, 4)
    x, h0 = torch.randn(6, 2, 3), torch.randn(2, 4)
    lengths = torch.tensor([6, 3])
    gx = cell.input_projection(x)
    fast = min_scan(kind, gx, h0, lengths)
    assert fast is not None  # the compiled scan serves float32 on the CPU
    ref = cell.scan(x, h0, lengths)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert torch.all(fast[0][3:, 1] == 0)  # zero past the length
    assert min_scan(kind, gx, h0.double(), None) is None  # mixed dtypes: not served
    assert min_scan(kind, gx.double(), h0.double(), None) is not None
    assert min_scan(kind, gx, h0.to("meta"), None) is None  # another device: not served
    with native.use_native(False):
        assert min_scan(kind, gx, h0, None) is None


def test_pack_state_gives_a_tensor_for_one_part_and_a_tuple_for_two():
    from rnnkit.models.states import pack_state, top_hidden

    h, c = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    assert pack_state([h]) is h
    both = pack_state([h, c])
    assert isinstance(both, tuple) and both[0] is h and both[1] is c
    torch.testing.assert_close(top_hidden((h, c), 2), torch.cat([h[0], h[1]], -1))
    torch.testing.assert_close(top_hidden(h, 1), h[1])
