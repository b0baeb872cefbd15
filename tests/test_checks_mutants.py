"""The layers' input, lengths and state checks (rnnkit/layers/checks.py): what they accept,
what they refuse and what their messages say. Each test fails on a one-line bug that the
layer tests let through (found by mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.layers.checks import (
    MERGE_MODES,
    DtypeError,
    ShapeError,
    check_dtype,
    check_input,
    check_lengths,
    check_merge_mode,
    check_probability,
    check_state,
)


def test_the_errors_are_what_torch_nn_raises_too():
    """torch.nn's layers raise a RuntimeError for a wrong feature size, a ValueError for an
    integer input: code catching either keeps working with the drop-ins."""
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)
    assert all(issubclass(DtypeError, e) for e in (TypeError, ValueError, RuntimeError))
    with pytest.raises(RuntimeError):
        torch.nn.LSTM(3, 4)(torch.randn(5, 2, 4))
    with pytest.raises(RuntimeError):
        rnnkit.LSTM(3, 4)(torch.randn(5, 2, 4))


@pytest.mark.parametrize("p", [0, 0.0, 0.5, 0.999])
def test_probabilities_in_zero_one_are_accepted(p):
    check_probability("dropout", p)


@pytest.mark.parametrize("p", [1, 1.0, -0.1, 1.5, True, False, "0.5", None])
def test_probabilities_outside_zero_one_or_not_numbers_are_refused(p):
    with pytest.raises(ValueError, match=rf"^zoneout must be a number in \[0, 1\), got {p!r}$"):
        check_probability("zoneout", p)


def test_merge_modes():
    for mode in ("concat", "sum", "mean", "mul"):
        check_merge_mode(mode)
    assert MERGE_MODES == ("concat", "sum", "mean", "mul")
    with pytest.raises(ValueError, match=r"^merge_mode must be one of \('concat', 'sum', "
                                         r"'mean', 'mul'\), got 'max'$"):
        check_merge_mode("max")


@pytest.mark.parametrize("shape", [(5, 2, 3), (5, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_floating_inputs_of_two_or_three_dimensions_pass(shape, dtype):
    for batch_first in (False, True):
        check_input(torch.zeros(shape, dtype=dtype), 3, batch_first)


def test_an_input_that_is_not_a_tensor_names_its_type():
    with pytest.raises(TypeError, match="^input must be a torch.Tensor or PackedSequence, "
                                        "got list$"):
        check_input([[0.0, 1.0]], 2, False)


@pytest.mark.parametrize("dtype", [torch.long, torch.int32, torch.bool, torch.uint8])
def test_a_non_floating_input_is_a_dtype_error_saying_how_to_convert(dtype):
    with pytest.raises(DtypeError, match=rf"^input must be a floating-point tensor, got dtype "
                                         rf"{dtype}; convert it with input\.float\(\)$"):
        check_input(torch.zeros(5, 2, 3, dtype=dtype), 3, False)


@pytest.mark.parametrize("shape", [(3,), (1, 5, 2, 3)])
@pytest.mark.parametrize("batch_first, layout", [(False, "(T, B, input_size)"),
                                                 (True, "(B, T, input_size)")])
def test_a_wrong_number_of_dimensions_names_the_layout(shape, batch_first, layout):
    with pytest.raises(ValueError) as err:
        check_input(torch.zeros(shape), 3, batch_first)
    assert not isinstance(err.value, ShapeError)
    assert str(err.value) == (f"input must have 3 dimensions {layout} (or 2 for one unbatched "
                              f"sequence), got {len(shape)} dimensions with shape {shape}")


@pytest.mark.parametrize("batch_first, layout", [(False, "(T, B, input_size)"),
                                                 (True, "(B, T, input_size)")])
def test_a_wrong_feature_size_is_a_shape_error_naming_both_sizes(batch_first, layout):
    x = torch.zeros(4, 6, 5)
    with pytest.raises(ShapeError) as err:
        check_input(x, 3, batch_first)
    assert str(err.value) == (f"input.size(-1) must equal input_size=3, got 5 "
                              f"(input shape (4, 6, 5), expected {layout})")


def test_the_input_dtype_must_be_the_parameters():
    layer = nn.Linear(3, 2)  # float32 parameters
    check_dtype(torch.zeros(2, 3), layer)
    with pytest.raises(ValueError) as err:
        check_dtype(torch.zeros(2, 3, dtype=torch.float64), layer)
    assert str(err.value) == (
        "input dtype (torch.float64) does not match the layer's parameters (torch.float32). "
        "Convert the input: input.to(torch.float32), or the layer: layer.to(torch.float64)")
    check_dtype(torch.zeros(2, 3, dtype=torch.float64), nn.ReLU())  # no parameters: no check


def test_under_autocast_a_lower_precision_input_is_let_through():
    """Under autocast the matrix products cast their operands themselves: a bfloat16 input
    into a float32 layer runs, as it does in torch.nn."""
    lstm = rnnkit.LSTM(3, 4)
    x = torch.randn(5, 2, 3, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="does not match the layer's parameters"):
        check_dtype(x, lstm)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        check_dtype(x, lstm)
        out, _ = lstm(x)
    assert out.shape == (5, 2, 4)


@pytest.mark.parametrize("lengths", [[3, 1, 4], (3, 1, 4), torch.tensor([3, 1, 4]),
                                     torch.tensor([3, 1, 4], dtype=torch.int32),
                                     torch.tensor([3, 1, 4], dtype=torch.uint8)])
def test_integer_lengths_come_back_as_int64(lengths):
    out = check_lengths(lengths, 3, 4)
    assert out.dtype == torch.int64 and out.tolist() == [3, 1, 4]


def test_lengths_may_reach_one_and_the_padded_length():
    assert check_lengths([1, 7], 2, 7).tolist() == [1, 7]
    assert check_lengths(torch.tensor([7]), 1, 7).tolist() == [7]


@pytest.mark.parametrize("lengths, dtype", [
    ([3.0, 2.0], torch.float32), (torch.tensor([3.0, 2.0], dtype=torch.float64), torch.float64),
    ([True, True], torch.bool), (torch.tensor([3 + 0j, 2 + 0j]), torch.complex64)])
def test_lengths_that_are_not_integers_are_refused(lengths, dtype):
    with pytest.raises(TypeError, match=rf"^lengths must hold integers, got dtype {dtype}$"):
        check_lengths(lengths, 2, 4)


def test_lengths_must_be_one_per_sequence():
    with pytest.raises(ValueError, match=r"^lengths must be 1-D \(one length per sequence\), "
                                         r"got shape \(2, 1\)$"):
        check_lengths([[3], [2]], 2, 4)
    with pytest.raises(ValueError, match=r"^lengths must be 1-D .* got shape \(\)$"):
        check_lengths(3, 1, 4)
    with pytest.raises(ValueError, match=r"^lengths must have one entry per sequence: "
                                         r"expected 3, got 2$"):
        check_lengths([3, 2], 3, 4)


@pytest.mark.parametrize("lengths, lo, hi", [([0, 3], 0, 3), ([3, 5], 3, 5), ([-1, 2], -1, 2),
                                             ([0, 5], 0, 5)])
def test_lengths_outside_one_to_t_name_the_range_and_the_extremes(lengths, lo, hi):
    with pytest.raises(ValueError, match=rf"^lengths must lie in \[1, 4\] \(the padded "
                                         rf"sequence length\), got min {lo}, max {hi}$"):
        check_lengths(lengths, 2, 4)


def test_a_state_of_the_expected_shape_device_and_dtype_passes():
    like = torch.zeros(5, 3, 2)
    check_state("hx", torch.zeros(2, 3, 4), (2, 3, 4), like)
    check_state("hx", torch.zeros(2, 3, 4), [2, 3, 4], like)  # a list of sizes is as good


def test_a_state_that_is_not_a_tensor_names_its_type():
    with pytest.raises(TypeError, match=r"^hx \(c\) must be a tensor, got list$"):
        check_state("hx (c)", [0.0], (1, 1, 1), torch.zeros(1))


def test_a_state_of_the_wrong_shape_is_a_shape_error_naming_both_shapes():
    with pytest.raises(ShapeError) as err:
        check_state("h0", torch.zeros(1, 3, 4), (2, 3, 4), torch.zeros(5, 3, 2))
    assert str(err.value) == ("h0 must have shape (2, 3, 4) (num_layers * num_directions, "
                              "batch, size), got (1, 3, 4)")


def test_a_state_on_another_device_names_both_devices():
    h = torch.zeros(2, 3, 4, device="meta")
    with pytest.raises(ValueError) as err:
        check_state("h0", h, (2, 3, 4), torch.zeros(5, 3, 2))
    assert not isinstance(err.value, TypeError)  # not mistaken for a dtype error
    assert str(err.value) == "h0 is on meta but the input is on cpu"


def test_a_state_of_another_dtype_is_a_dtype_error_naming_both_dtypes():
    with pytest.raises(DtypeError) as err:
        check_state("h0", torch.zeros(2, 3, 4, dtype=torch.float64), (2, 3, 4),
                    torch.zeros(5, 3, 2))
    assert str(err.value) == "h0 has dtype torch.float64 but the input has dtype torch.float32"
