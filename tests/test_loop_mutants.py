"""The generic loop (rnnkit/layers/loop.py) on its own, against independent computations:
torch.nn's packed LSTM/GRU with copied weights, the Elman recurrence written out in NumPy,
and hand-built runs of the same random draws (dropout, recurrent dropout, zoneout).

Every test forces ``use_engine("loop")``: under ``auto`` the engine's kernels would run
instead and the loop would go unchecked.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.cells import Cell, LSTMCell, MinGRUCell, RNNCell
from rnnkit.kernels import use_engine
from rnnkit.layers import Recurrent, run_direction
from rnnkit.layers import loop as loop_module
from rnnkit.layers.loop import merge_directions, reverse_padded, stack_states, unstack_states

I, H, T, B = 3, 4, 6, 3
LENGTHS = [6, 2, 4]


@pytest.fixture(autouse=True)
def _loop_engine():
    with use_engine("loop"):
        yield


def _elman_numpy(cell: RNNCell, x, h0, lengths, reverse=False, mask=None):
    """tanh(W_ih x + b_ih + W_hh (m h) + b_hh) per sequence, each read within its length
    (backwards with ``reverse``); outputs zero past the length, the final state at it."""
    W_ih, W_hh, b_ih, b_hh = (p.detach().double().numpy() for p in
                              (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    x, h0 = x.double().numpy(), h0.double().numpy()
    m = np.ones_like(h0) if mask is None else mask.double().numpy()
    out, final = np.zeros((x.shape[0], x.shape[1], W_hh.shape[0])), h0.copy()
    for b, n in enumerate(lengths):
        h = h0[b]
        steps = range(n - 1, -1, -1) if reverse else range(n)
        for t in steps:
            h = np.tanh(W_ih @ x[t, b] + b_ih + W_hh @ (m[b] * h) + b_hh)
            out[t, b] = h
        final[b] = h
    return out, final


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_one_direction_equals_the_elman_recurrence_in_numpy(reverse, with_lengths):
    cell = RNNCell(I, H).double()
    x = torch.randn(T, B, I, dtype=torch.float64)
    lengths = LENGTHS if with_lengths else [T] * B
    if with_lengths:
        for b, n in enumerate(lengths):
            x[n:, b] = 50.0  # padding must not reach the state or the outputs
    h0 = torch.randn(B, H, dtype=torch.float64)
    out, final = run_direction(cell, x, h0, reverse=reverse,
                               lengths=torch.tensor(lengths) if with_lengths else None)
    want_out, want_final = _elman_numpy(cell, x, h0, lengths, reverse)
    np.testing.assert_allclose(out.detach().numpy(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(final.detach().numpy(), want_final, rtol=1e-12, atol=1e-12)


def _copy_into_torch(layer: Recurrent, ref: torch.nn.RNNBase) -> None:
    with torch.no_grad():
        for l, row in enumerate(layer.layers):
            for d, cell in enumerate(row):
                suffix = f"_l{l}" + ("_reverse" if d else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, name + suffix).copy_(getattr(cell, name))


@pytest.mark.parametrize("name,cls", [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stacked_bidirectional_loop_equals_torch_on_packed_sequences(name, cls, batch_first):
    """Two bidirectional layers, a given initial state, unequal lengths: outputs zero past
    each length, h_n at each sequence's last valid step, layer by layer, forward first."""
    layer = Recurrent(name, input_size=I, hidden_size=H, num_layers=2, bidirectional=True,
                      batch_first=batch_first).double()
    ref = cls(I, H, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    _copy_into_torch(layer, ref)
    lengths = torch.tensor(LENGTHS)
    x = torch.randn(B, T, I, dtype=torch.float64) if batch_first else \
        torch.randn(T, B, I, dtype=torch.float64)
    hx = torch.randn(4, B, H, dtype=torch.float64)
    if name == "lstm":
        hx = (hx, torch.randn(4, B, H, dtype=torch.float64))
    out, h_n = layer(x, hx, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    ref_packed, ref_h = ref(packed, hx)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=batch_first, total_length=T)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    for got, want in zip(h_n if name == "lstm" else (h_n,), ref_h if name == "lstm" else (ref_h,)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_states_stack_and_unstack_in_torch_layout():
    a, b = torch.randn(B, H), torch.randn(B, H)
    torch.testing.assert_close(stack_states([a, b]), torch.stack([a, b]))
    (h, c) = stack_states([(a, b), (b, a)])
    assert torch.equal(h, torch.stack([a, b])) and torch.equal(c, torch.stack([b, a]))
    parts = unstack_states((h, c), 2)
    assert len(parts) == 2 and all(isinstance(p, tuple) for p in parts)
    assert torch.equal(parts[1][0], b) and torch.equal(parts[1][1], a)
    single = unstack_states(torch.stack([a, b]), 2)
    assert len(single) == 2 and torch.equal(single[0], a) and torch.equal(single[1], b)


def test_reverse_padded_without_lengths_flips_time():
    x = torch.arange(T * B, dtype=torch.float32).view(T, B, 1)
    torch.testing.assert_close(reverse_padded(x, None), x.flip(0))
    lengths = torch.tensor(LENGTHS)
    want = x.clone()
    for b, n in enumerate(LENGTHS):
        want[:n, b] = x[:n, b].flip(0)
    torch.testing.assert_close(reverse_padded(x, lengths), want)


@pytest.mark.parametrize("mode", ["concat", "sum", "mean", "mul"])
def test_merge_modes_by_hand(mode):
    f, b = torch.tensor([[[1.0, 2.0]]]), torch.tensor([[[3.0, -4.0]]])
    want = {"concat": [[[1.0, 2.0, 3.0, -4.0]]], "sum": [[[4.0, -2.0]]],
            "mean": [[[2.0, -1.0]]], "mul": [[[3.0, -8.0]]]}[mode]
    torch.testing.assert_close(merge_directions(f, b, mode), torch.tensor(want))


def test_an_unknown_merge_mode_is_named():
    with pytest.raises(ValueError, match="^unknown merge_mode 'max'$"):
        merge_directions(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1), "max")


@pytest.mark.parametrize("layers", [1, 3])
def test_dropout_between_layers_only_and_only_in_training(layers):
    """Dropout on every layer's output but the last: the same draws, made by hand (p = 0.3,
    not torch's default 0.5, so that the rate given is seen to be the rate used)."""
    p = 0.3
    layer = Recurrent("rnn", input_size=I, hidden_size=H, num_layers=layers, dropout=p)
    x = torch.randn(T, B, I)
    torch.manual_seed(7)
    out, _ = layer.train()(x)
    torch.manual_seed(7)
    h, finals = x, []
    for depth, row in enumerate(layer.layers):
        h, final = run_direction(row[0], h, row[0].init_state(B))
        finals.append(final)
        if depth < layers - 1:
            h = torch.nn.functional.dropout(h, p, training=True)
    torch.testing.assert_close(out, h)
    eval_out, h_n = layer.eval()(x)
    plain, plain_finals = x, []
    for row in layer.layers:
        plain, final = run_direction(row[0], plain, row[0].init_state(B))
        plain_finals.append(final)
    torch.testing.assert_close(eval_out, plain)
    torch.testing.assert_close(h_n, torch.stack(plain_finals))


class _MaskFreeElman(Cell):
    """An Elman cell that takes no recurrent mask (so the loop masks h_{t-1} itself) and
    records every state it is given; ``tuple_state`` adds a second state part c that the
    cell carries through as c + 1 (the loop must leave it unmasked)."""

    def __init__(self, inner: RNNCell, tuple_state: bool = False):
        super().__init__()
        self.inner, self.tuple_state = inner, tuple_state
        self.input_size, self.hidden_size = inner.input_size, inner.hidden_size
        self.seen: list = []

    @property
    def state_sizes(self):
        return (self.hidden_size,) * (2 if self.tuple_state else 1)

    def forward(self, x_t, state, recurrent_mask=None):
        assert recurrent_mask is None
        self.seen.append(state)
        if self.tuple_state:
            h, c = state
            h_new, _ = self.inner(x_t, h)
            return h_new, (h_new, c + 1.0)
        return self.inner(x_t, state)


@pytest.mark.parametrize("mask_free", [False, True])
def test_recurrent_dropout_is_one_mask_for_all_steps_on_h_only(mask_free):
    """Training: h_t = tanh(W_ih x + W_hh (m h_{t-1}) + b) with one inverted-dropout mask m
    (values 0 and 1/(1-p)) per sequence and unit, by the cell (GatedCell) or by the loop
    (a cell without mask support); evaluation: no mask."""
    p = 0.25
    inner = RNNCell(I, 256).double()
    cell = _MaskFreeElman(inner) if mask_free else inner
    masks = []
    if not mask_free:
        original = inner.recurrence

        def spy(gx, h, recurrent_mask=None):
            masks.append(recurrent_mask)
            return original(gx, h, recurrent_mask)

        inner.recurrence = spy
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(B, 256, dtype=torch.float64)
    out, final = run_direction(cell, x, h0, recurrent_dropout=p, training=True)
    if mask_free:  # the loop multiplied h_{t-1} by m before handing it over
        prev = [h0, *out[:-1]]
        ratios = [torch.where(h != 0, seen / h, torch.zeros_like(h))
                  for seen, h in zip(cell.seen, prev)]
        m = ratios[0]
        for r in ratios[1:]:
            torch.testing.assert_close(r, m)
    else:
        assert len(masks) == T and all(mk is masks[0] for mk in masks)
        m = masks[0]
    scaled = (m - 1 / (1 - p)).abs() < 1e-9
    assert ((m == 0) | scaled).all() and (m == 0).any()
    assert abs((m > 0).double().mean().item() - (1 - p)) < 0.05
    want_out, want_final = _elman_numpy(inner, x, h0, [T] * B, mask=m)
    np.testing.assert_allclose(out.detach().numpy(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(final.detach().numpy(), want_final, rtol=1e-12, atol=1e-12)
    masks.clear()
    out_eval, _ = run_direction(cell, x, h0, recurrent_dropout=p, training=False)
    want_eval, _ = _elman_numpy(inner, x, h0, [T] * B)
    np.testing.assert_allclose(out_eval.detach().numpy(), want_eval, rtol=1e-12, atol=1e-12)
    assert all(mk is None for mk in masks)


def test_recurrent_dropout_leaves_the_other_state_parts_alone():
    cell = _MaskFreeElman(RNNCell(I, 64), tuple_state=True)
    h0, c0 = torch.randn(B, 64), torch.randn(B, 64)
    out, (h, c) = run_direction(cell, torch.randn(T, B, I), (h0, c0), recurrent_dropout=0.5,
                                training=True)
    torch.testing.assert_close(c, c0 + T)  # c was never masked
    for t, (_, seen_c) in enumerate(cell.seen):
        torch.testing.assert_close(seen_c, c0 + t)
    assert (cell.seen[0][0] == 0).any() and torch.equal(out[-1], h)


def test_zoneout_in_training_keeps_each_unit_old_or_new_with_probability_p():
    """One step of an LSTM from a random state: every unit of h and of c is either its old
    value (probability p) or the cell's new one, chosen independently for h and c; the
    output is the zoned-out h."""
    p = 0.3
    cell = LSTMCell(I, 500).double()
    x = torch.randn(1, B, I, dtype=torch.float64)
    state = (torch.randn(B, 500, dtype=torch.float64), torch.randn(B, 500, dtype=torch.float64))
    _, new = cell(x[0], state)
    out, zoned = run_direction(cell, x, state, zoneout=p, training=True)
    kept = []
    for old_part, new_part, got in zip(state, new, zoned):
        is_old, is_new = got == old_part, got == new_part
        assert (is_old | is_new).all()
        kept.append(is_old)
        assert abs(is_old.double().mean().item() - p) < 0.05
    assert not torch.equal(kept[0], kept[1])
    assert torch.equal(out[0], zoned[0])


def test_zoneout_masks_are_drawn_afresh_at_each_step():
    cell = RNNCell(I, 400)
    x = torch.randn(2, B, I)
    out, _ = run_direction(cell, x, torch.zeros(B, 400), zoneout=0.5, training=True)
    raw1, _ = cell(x[1], out[0])
    kept0 = out[0] == 0  # h_0 = 0: the units zoned out at step 0 stayed 0
    kept1 = (out[1] == out[0]) & (out[1] != raw1)
    assert 0.4 < kept0.float().mean() < 0.6 and 0.4 < kept1.float().mean() < 0.6
    assert not torch.equal(kept0, kept1)


def test_zoneout_in_evaluation_is_the_expectation_for_a_mask_free_cell():
    p = 0.4
    cell = MinGRUCell(I, H).double()
    x, h = torch.randn(T, B, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    out, final = run_direction(cell, x, h, zoneout=p, training=False)
    for t in range(T):
        new, _ = cell(x[t], h)
        h = p * h + (1 - p) * new
        torch.testing.assert_close(out[t], h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(final, h, rtol=1e-12, atol=1e-12)


def test_no_zoneout_draws_nothing():
    """zoneout=0 in training draws no random numbers (a later draw is unchanged)."""
    cell = RNNCell(I, H)
    x = torch.randn(T, B, I)
    torch.manual_seed(3)
    out, _ = run_direction(cell, x, torch.zeros(B, H), zoneout=0.0, training=True)
    after = torch.rand(4)
    torch.manual_seed(3)
    torch.testing.assert_close(torch.rand(4), after)
    torch.testing.assert_close(out, run_direction(cell, x, torch.zeros(B, H))[0])


def test_step_observers_see_each_step_and_force_the_loop():
    """An observer gets the projected inputs (in processing order: reversed within each
    length for the backward direction), the raw (state in, state out) pairs before
    zoneout and masking, the lengths and the direction; with one registered the loop runs
    even where the engine insists on a kernel."""
    cell = RNNCell(I, H).double()
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    lengths = torch.tensor(LENGTHS)
    calls = []

    def observe(*args):
        calls.append(args)

    loop_module.STEP_OBSERVERS.append(observe)
    try:
        with use_engine("kernel"):
            out, _ = run_direction(cell, x, h0, lengths=lengths, reverse=True, zoneout=0.5)
    finally:
        loop_module.STEP_OBSERVERS.remove(observe)
    assert len(calls) == 1
    seen_cell, inputs, trace, seen_lengths, reverse = calls[0]
    assert seen_cell is cell and seen_lengths is lengths and reverse is True
    torch.testing.assert_close(inputs, cell.input_projection(reverse_padded(x, lengths)))
    assert len(trace) == T
    state = h0
    for t, (s_in, s_out) in enumerate(trace):
        torch.testing.assert_close(s_in, state)
        raw, _ = cell.recurrence(inputs[t], s_in)
        torch.testing.assert_close(s_out, raw)  # before zoneout and masking
        keep = (t < lengths).unsqueeze(1)
        state = torch.where(keep, 0.5 * s_in + 0.5 * raw, s_in)
    want, _ = run_direction(cell, x, h0, lengths=lengths, reverse=True, zoneout=0.5)
    torch.testing.assert_close(out, want)


def test_the_loop_runs_on_another_device():
    """Every tensor the loop makes goes on the input's device (the meta device here: a
    tensor left on the CPU cannot meet it)."""
    cell = LSTMCell(I, H).to("meta")
    x = torch.empty(T, B, I, device="meta")
    state = (torch.empty(B, H, device="meta"), torch.empty(B, H, device="meta"))
    lengths = torch.tensor(LENGTHS)  # on the CPU, as users pass them
    for options in ({}, {"recurrent_dropout": 0.5, "zoneout": 0.5, "training": True}):
        out, (h, c) = run_direction(cell, x, state, lengths=lengths, reverse=True, **options)
        assert out.device.type == "meta" and out.shape == (T, B, H) and h.device.type == "meta"
    free = _MaskFreeElman(RNNCell(I, H).to("meta"))
    out, _ = run_direction(free, x, state[0], lengths=lengths, recurrent_dropout=0.5,
                           training=True)
    assert out.device.type == "meta"


def test_run_stack_defaults_concatenate_without_dropout_or_zoneout():
    """By default: directions concatenated, nothing dropped or zoned out, even in training."""
    grid = [[RNNCell(I, H), RNNCell(I, H)], [RNNCell(2 * H, H), RNNCell(2 * H, H)]]
    x = torch.randn(T, B, I)
    states = [torch.randn(B, H) for _ in range(4)]
    lengths = torch.tensor(LENGTHS)
    out, finals = loop_module.run_stack(grid, x, states, lengths=lengths, training=True)
    h, want_finals = x, []
    for depth, (fwd, bwd) in enumerate(grid):
        f, f_final = run_direction(fwd, h, states[2 * depth], lengths=lengths)
        b, b_final = run_direction(bwd, h, states[2 * depth + 1], lengths=lengths, reverse=True)
        h = torch.cat([f, b], dim=-1)
        want_finals += [f_final, b_final]
    torch.testing.assert_close(out, h)
    for got, want in zip(finals, want_finals, strict=True):
        torch.testing.assert_close(got, want)
    # evaluation by default: dropout and recurrent dropout asked for change nothing
    out_eval, _ = loop_module.run_stack(grid, x, states, lengths=lengths, dropout=0.9,
                                        recurrent_dropout=0.9)
    torch.testing.assert_close(out_eval, h)
