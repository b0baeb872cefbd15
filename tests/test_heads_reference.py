"""Attention, pooling, masks and forecast output heads against their formulas written out by
hand from the modules' own weights, on random inputs (the scores, not only the softmax
around them: a wrong score function still gives weights that are a masked softmax)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit.models.attention import BahdanauAttention, LuongAttention, make_attention
from rnnkit.models.forecast_outputs import (
    GaussianOutput,
    PointOutput,
    QuantileOutput,
    gaussian_nll,
    make_forecast_output,
    pinball_loss,
)
from rnnkit.models.masking import length_mask, masked_mean, masked_softmax
from rnnkit.models.pooling import (
    AttentionPooling,
    LastPooling,
    MeanPooling,
    make_pooling,
)

LENGTHS = torch.tensor([7, 2, 4])


def _mask(lengths=LENGTHS, steps=7):
    return torch.arange(steps)[None, :] < lengths[:, None]


def _softmax_valid(scores, n):
    """Plain softmax over the first ``n`` scores, zeros after them."""
    out = torch.zeros_like(scores)
    out[:n] = torch.softmax(scores[:n], -1)
    return out


# ----------------------------------------------------------------------------- masks


def test_length_mask_marks_the_first_length_steps():
    m = length_mask(LENGTHS, 7, 3)
    for b, n in enumerate(LENGTHS.tolist()):
        assert m[b].tolist() == [t < n for t in range(7)]
    assert m.dtype == torch.bool
    everything = length_mask(None, 5, 2)
    assert everything.shape == (2, 5) and everything.all()


def test_length_mask_is_made_on_the_device_asked_for():
    """On the meta device (no data, no GPU needed) every part must be made there."""
    assert length_mask(None, 5, 2, device="meta").device.type == "meta"
    assert length_mask(LENGTHS, 7, 3, device="meta").device.type == "meta"


def test_masked_softmax_and_mean_by_hand_with_an_empty_row():
    torch.manual_seed(0)
    scores, x = torch.randn(3, 6), torch.randn(3, 6, 4)
    mask = _mask(torch.tensor([6, 3, 0]), 6)
    mask[0, 1:] = False  # a row of one valid step: its mean is that step
    w = masked_softmax(scores, mask)
    torch.testing.assert_close(w[0], _softmax_valid(scores[0], 1))
    torch.testing.assert_close(w[1], _softmax_valid(scores[1], 3))
    assert torch.all(w[2] == 0)  # no valid position: zeros, not NaN
    mean = masked_mean(x, mask)
    torch.testing.assert_close(mean[0], x[0, 0])
    torch.testing.assert_close(mean[1], x[1, :3].mean(0))
    assert torch.all(mean[2] == 0)


# ------------------------------------------------------------------------- attention


def _keys(seed=0, s=7, k=5, q=6):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, q, generator=g), torch.randn(3, s, k, generator=g)


def test_bahdanau_scores_are_v_tanh_of_the_projected_query_and_keys():
    torch.manual_seed(1)
    attn = BahdanauAttention(6, 5, attention_size=4)
    query, keys = _keys()
    mask = _mask()
    context, weights = attn(query, keys, mask)
    wq, wk, bk, v = (attn.query_proj.weight, attn.key_proj.weight, attn.key_proj.bias,
                     attn.v.weight[0])
    for b, n in enumerate(LENGTHS.tolist()):
        e = torch.stack([v @ torch.tanh(wq @ query[b] + wk @ keys[b, s] + bk)
                         for s in range(7)])
        a = _softmax_valid(e, n)
        torch.testing.assert_close(weights[b], a)
        torch.testing.assert_close(context[b], a @ keys[b])
    cached = attn(query, keys, mask, cache=attn.prepare(keys))
    torch.testing.assert_close(cached[0], context)
    torch.testing.assert_close(cached[1], weights)
    assert attn.query_proj.bias is None and attn.v.bias is None
    assert BahdanauAttention(6, 5).query_proj.out_features == 6  # attention size = query


@pytest.mark.parametrize("method", ["general", "dot"])
def test_luong_scores_are_the_query_against_each_key(method):
    torch.manual_seed(2)
    q_size = 6 if method == "general" else 5
    attn = LuongAttention(q_size, 5, method)
    query, keys = _keys(q=q_size)
    mask = _mask()
    context, weights = attn(query, keys, mask)
    for b, n in enumerate(LENGTHS.tolist()):
        q = attn.weight.weight @ query[b] if method == "general" else query[b]
        a = _softmax_valid(keys[b] @ q, n)
        torch.testing.assert_close(weights[b], a)
        torch.testing.assert_close(context[b], a @ keys[b])
    assert attn.prepare(keys) is None


def test_make_attention_names_and_bad_arguments():
    assert isinstance(make_attention("bahdanau", 4, 3), BahdanauAttention)
    general = make_attention("luong", 4, 3)
    assert isinstance(general, LuongAttention) and general.method == "general"
    assert general.weight.in_features == 4 and general.weight.out_features == 3
    dot = make_attention("luong_dot", 3, 3)
    assert dot.method == "dot" and dot.weight is None
    assert make_attention("none", 4, 3) is None
    with pytest.raises(ValueError, match="attention must be one of"):
        make_attention("luong_general", 4, 3)
    with pytest.raises(ValueError, match="query_size == key_size") as err:
        LuongAttention(4, 3, "dot")
    assert str(err.value).endswith("; use method='general'")
    assert LuongAttention(4, 3).method == "general"  # the default
    with pytest.raises(ValueError, match="method must be one of"):
        LuongAttention(4, 4, "concat")


# --------------------------------------------------------------------------- pooling


def test_attention_pooling_by_hand():
    torch.manual_seed(3)
    pool = AttentionPooling(4, 1)
    out = torch.randn(3, 7, 4)
    pooled, weights = pool(out, None, _mask())
    for b, n in enumerate(LENGTHS.tolist()):
        e = torch.stack([torch.tanh(pool.proj.weight @ out[b, t] + pool.proj.bias)
                         @ pool.query for t in range(7)])
        a = _softmax_valid(e, n)
        torch.testing.assert_close(weights[b], a)
        torch.testing.assert_close(pooled[b], a @ out[b])


def test_attention_pooling_query_scale():
    """The learned query starts as a standard normal divided by sqrt(size)."""
    torch.manual_seed(4)
    q = AttentionPooling(400, 1).query.detach()
    assert q.std().item() == pytest.approx(1 / 20, rel=0.15)


def test_mean_and_last_pooling_against_torch_nn():
    torch.manual_seed(5)
    gru = nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)
    x = torch.randn(3, 7, 3)
    packed = nn.utils.rnn.pack_padded_sequence(x, LENGTHS, batch_first=True,
                                               enforce_sorted=False)
    out, h_n = gru(packed)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=7)
    mask = _mask()
    last, w = LastPooling(8, 2)(out, h_n, mask)
    assert w is None
    for b, n in enumerate(LENGTHS.tolist()):
        # forward half: the output at the last valid step; backward half: at t = 0
        torch.testing.assert_close(last[b], torch.cat([out[b, n - 1, :4], out[b, 0, 4:]]))
    mean, w = MeanPooling(8, 2)(out, h_n, mask)
    assert w is None
    for b, n in enumerate(LENGTHS.tolist()):
        torch.testing.assert_close(mean[b], out[b, :n].mean(0))
    lstm_last, _ = LastPooling(4, 1)(out, (h_n[-1:], torch.zeros_like(h_n[-1:])), mask)
    torch.testing.assert_close(lstm_last, h_n[-1])  # an LSTM state: its h
    assert isinstance(make_pooling("attention", 4, 1), AttentionPooling)
    with pytest.raises(ValueError, match="pooling must be one of"):
        make_pooling("max", 4, 1)


# -------------------------------------------------------------------- forecast heads


def test_gaussian_head_is_normal_nll_with_softplus_std():
    torch.manual_seed(6)
    params, y = torch.randn(2, 5, 3, 2), torch.randn(2, 5, 3)
    head = GaussianOutput()
    std = nn.functional.softplus(params[..., 1]) + 1e-4
    ref = -torch.distributions.Normal(params[..., 0], std).log_prob(y).mean()
    torch.testing.assert_close(head.loss(params, y), ref)
    torch.testing.assert_close(gaussian_nll(params[..., 0], std, y), ref)
    s = head.summary(params)
    torch.testing.assert_close(s.point, params[..., 0])
    torch.testing.assert_close(s.std, std)
    torch.testing.assert_close(head.point(params), params[..., 0])
    assert head.n_params == 2 and s.quantiles is None
    tiny = GaussianOutput().summary(torch.full((1, 1, 2), -60.0))
    assert tiny.std.item() == pytest.approx(1e-4)  # a floor: never 0


def test_point_head_is_mse():
    torch.manual_seed(7)
    params, y = torch.randn(4, 3, 2, 1), torch.randn(4, 3, 2)
    head = PointOutput()
    assert head.loss(params, y).item() == pytest.approx(((params[..., 0] - y) ** 2).mean()
                                                        .item(), rel=1e-6)
    torch.testing.assert_close(head.summary(params).point, params[..., 0])
    assert head.n_params == 1


def test_pinball_loss_on_random_inputs_and_both_signs():
    torch.manual_seed(8)
    pred, y = torch.randn(5, 4, 3), torch.randn(5, 4)
    levels = torch.tensor([0.05, 0.5, 0.95])
    e = y[..., None] - pred
    ref = torch.where(e >= 0, levels * e, (levels - 1) * e).mean()
    torch.testing.assert_close(pinball_loss(pred, y, levels), ref)
    # an under-forecast costs q per unit, an over-forecast 1 - q
    one = torch.tensor([0.9])
    assert pinball_loss(torch.tensor([[0.0]]), torch.tensor([2.0]), one).item() == \
        pytest.approx(1.8)
    assert pinball_loss(torch.tensor([[2.0]]), torch.tensor([0.0]), one).item() == \
        pytest.approx(0.2)


def test_quantile_head_with_unsorted_levels_sorts_and_takes_the_median():
    head = QuantileOutput((0.9, 0.1, 0.5, 0.3))
    assert head.levels == (0.9, 0.1, 0.5, 0.3) and head.n_params == 4
    assert head.median == 2 and head.sorted_levels == (0.1, 0.3, 0.5, 0.9)
    params = torch.tensor([[[[5.0, 1.0, 3.0, 4.0]]]])  # the 0.3 output crosses the median
    torch.testing.assert_close(head.point(params), torch.tensor([[[3.0]]]))  # raw median
    s = head.summary(params)
    assert s.levels == (0.1, 0.3, 0.5, 0.9)
    torch.testing.assert_close(s.quantiles, torch.tensor([[[[1.0, 3.0, 4.0, 5.0]]]]))
    torch.testing.assert_close(s.point, torch.tensor([[[4.0]]]))  # the sorted median
    y = torch.tensor([[[2.5]]])
    torch.testing.assert_close(head.loss(params, y),
                               pinball_loss(params, y, torch.tensor(head.levels)))
    even = QuantileOutput((0.2, 0.4, 0.8))  # no 0.5: the level nearest it
    assert even.median == 1


@pytest.mark.parametrize("levels", [(), (0.0, 0.5), (0.5, 1.0), (1.5,)])
def test_quantile_levels_outside_the_open_unit_interval_are_refused(levels):
    with pytest.raises(ValueError, match="quantiles must lie in"):
        QuantileOutput(levels)


def test_make_forecast_output_names():
    assert isinstance(make_forecast_output("point"), PointOutput)
    assert make_forecast_output("quantile").levels == (0.1, 0.5, 0.9)
    assert make_forecast_output("quantile", (0.25, 0.75)).levels == (0.25, 0.75)
    assert isinstance(make_forecast_output("gaussian"), GaussianOutput)
    with pytest.raises(ValueError, match="output must be one of"):
        make_forecast_output("median")
    assert math.isclose(gaussian_nll(torch.zeros(1), torch.ones(1), torch.zeros(1)).item(),
                        0.5 * math.log(2 * math.pi), rel_tol=1e-6)
