"""The drop-ins' own code around torch.nn's classes: the option checks and their messages, the
same seeded parameters and repr as torch.nn, the choice between torch's fused kernel and
rnnkit's engine, merged directions and initial states on the fused path, and packed input
with an initial state. (What mutation testing of layers/torch_compat.py found unchecked.)"""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.cells import GRUCell, LayerNormGRUCell, LayerNormLSTMCell, LSTMCell, RNNCell
from rnnkit.kernels import use_engine
from rnnkit.layers.loop import merge_directions

I, H, T, B = 3, 5, 6, 4
DROP_INS = [(rnnkit.RNN, torch.nn.RNN), (rnnkit.LSTM, torch.nn.LSTM), (rnnkit.GRU, torch.nn.GRU)]


def _message(name, value):
    return rf"^{name} must be a number in \[0, 1\), got {value!r}$"


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
@pytest.mark.parametrize("option", ["dropout", "recurrent_dropout", "zoneout"])
def test_each_probability_is_checked_under_its_own_name(cls, option):
    # 1.0 passes torch.nn's own dropout check, so the message can only be rnnkit's
    with pytest.raises(ValueError, match=_message(option, 1.0)):
        cls(I, H, num_layers=2, **{option: 1.0})


def test_positional_dropout_is_checked_at_each_class_position():
    # RNN(input, hidden, layers, nonlinearity, bias, batch_first, dropout); LSTM and GRU
    # have no nonlinearity, so their dropout is the 6th argument
    with pytest.raises(ValueError, match=_message("dropout", 1.0)):
        rnnkit.RNN(I, H, 2, "tanh", True, False, 1.0)
    for cls in (rnnkit.LSTM, rnnkit.GRU):
        with pytest.raises(ValueError, match=_message("dropout", 1.0)):
            cls(I, H, 2, True, False, 1.0)
    # exactly as many arguments as the position before dropout: nothing to check, no error
    assert rnnkit.RNN(I, H, 2, "tanh", True, False).dropout == 0.0
    assert rnnkit.LSTM(I, H, 2, True, False).dropout == 0.0
    assert rnnkit.LSTM(I, H, 2, True, False, 0.25, True).dropout == 0.25


def test_layer_norm_refusals_have_their_messages():
    with pytest.raises(ValueError, match=r"^layer_norm=True does not support proj_size > 0$"):
        rnnkit.LSTM(I, H, layer_norm=True, proj_size=1)
    with pytest.raises(ValueError, match=r"^layer_norm=True is available for LSTM and GRU, "
                                         r"not RNN$"):
        rnnkit.RNN(I, H, layer_norm=True)


@pytest.mark.parametrize("cls,options,cell_cls", [
    (rnnkit.RNN, {}, RNNCell),
    (rnnkit.LSTM, {}, LSTMCell),
    (rnnkit.LSTM, {"layer_norm": True}, LayerNormLSTMCell),
    (rnnkit.GRU, {}, GRUCell),
    (rnnkit.GRU, {"layer_norm": True}, LayerNormGRUCell),
])
def test_cells_follow_the_options(cls, options, cell_cls):
    layer = cls(I, H, num_layers=2, bidirectional=True, **options)
    cells = [cell for row in layer._grid for cell in row]
    assert len(cells) == 4 and all(type(c) is cell_cls for c in cells)
    assert [c.input_size for c in cells] == [I, I, 2 * H, 2 * H]
    assert all(c.hidden_size == H for c in cells)
    if options:  # the layer-norm gains are registered under torch-style names
        assert "ln_ih_weight_l1_reverse" in dict(layer.named_parameters())


@pytest.mark.parametrize("ours_cls,theirs_cls", DROP_INS)
def test_seeded_parameters_and_repr_equal_torch_nn(ours_cls, theirs_cls):
    """Same seed, same weights: the drop-in keeps torch.nn's own initialisation."""
    kw = dict(num_layers=2, bidirectional=True)
    torch.manual_seed(3)
    ours = ours_cls(I, H, **kw)
    torch.manual_seed(3)
    theirs = theirs_cls(I, H, **kw)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for name in b:
        assert torch.equal(a[name], b[name]), name
    assert repr(ours) == repr(theirs)
    # the cells compute with the module's own parameters (shared, not copies)
    assert ours._grid[1][1].weight_hh is ours.weight_hh_l1_reverse


def test_repr_names_every_option_off_its_default():
    layer = rnnkit.LSTM(I, H, bidirectional=True, merge_mode="sum", layer_norm=True,
                        recurrent_dropout=0.1, zoneout=0.2, learn_initial_state=True,
                        forget_bias=1.0, init="orthogonal")
    assert repr(layer) == (
        "LSTM(3, 5, bidirectional=True, merge_mode='sum', layer_norm=True, "
        "recurrent_dropout=0.1, zoneout=0.2, learn_initial_state=True, forget_bias=1.0, "
        "init='orthogonal')")
    assert repr(rnnkit.GRU(I, H, init="identity")) == "GRU(3, 5, init='identity')"


def _path_taken(monkeypatch, layer, x, **kw) -> str:
    calls = []
    original = type(layer).forward_loop

    def spy(self, *a, **k):
        calls.append("loop")
        return original(self, *a, **k)

    monkeypatch.setattr(type(layer), "forward_loop", spy)
    layer(x, **kw)
    monkeypatch.undo()
    return "loop" if calls else "fused"


def test_the_engine_is_chosen_only_where_it_beats_the_fused_kernel(monkeypatch):
    x = torch.randn(T, B, I)
    gru, lstm = rnnkit.GRU(I, H), rnnkit.LSTM(I, H)
    assert _path_taken(monkeypatch, gru, x) == "loop"  # the compiled GRU is faster on CPU
    packed = pack_padded_sequence(x, torch.tensor([T, 4, 2, 1]))
    assert _path_taken(monkeypatch, gru, packed) == "loop"
    assert _path_taken(monkeypatch, lstm, x) == "fused"  # torch's LSTM is the faster one
    with use_engine("loop"):  # no compiled kernels wanted: torch's fused one
        assert _path_taken(monkeypatch, gru, x) == "fused"
    with use_engine("kernel"):
        assert _path_taken(monkeypatch, gru, x) == "loop"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast: torch's kernel handles it
        assert _path_taken(monkeypatch, gru, x) == "fused"
    half = rnnkit.GRU(I, H).half()  # no compiled float16 kernel
    assert _path_taken(monkeypatch, half, x.half()) == "fused"


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
@pytest.mark.parametrize("merge_mode", ["sum", "mean", "mul"])
@pytest.mark.parametrize("packed", [False, True])
def test_merged_directions_on_the_fused_path(cls, merge_mode, packed):
    """One bidirectional layer: torch's fused kernel, then the two halves merged."""
    layer = cls(I, H, bidirectional=True, merge_mode=merge_mode)
    plain = cls(I, H, bidirectional=True)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(T, B, I)
    lengths = torch.tensor([2, T, 1, 4])  # unsorted: the packed output keeps its order
    with use_engine("loop"):
        if packed:
            out, h = layer(pack_padded_sequence(x, lengths, enforce_sorted=False))
            ref, ref_h = plain(pack_padded_sequence(x, lengths, enforce_sorted=False))
            assert type(out) is type(ref)
            for a, b in [(out.batch_sizes, ref.batch_sizes),
                         (out.sorted_indices, ref.sorted_indices),
                         (out.unsorted_indices, ref.unsorted_indices)]:
                assert torch.equal(a, b)
            out, ref = pad_packed_sequence(out)[0], pad_packed_sequence(ref)[0]
        else:
            out, h = layer(x)
            ref, ref_h = plain(x)
    assert out.shape == (T, B, H)
    fwd, bwd = ref.split(H, dim=-1)
    torch.testing.assert_close(out, merge_directions(fwd, bwd, merge_mode))
    for a, b in zip(h if isinstance(h, tuple) else (h,), ref_h if isinstance(ref_h, tuple)
                    else (ref_h,)):
        torch.testing.assert_close(a, b)  # states are not merged


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_merge_mode_leaves_one_direction_alone(cls):
    layer = cls(I, H, merge_mode="sum")
    plain = cls(I, H)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(T, B, I)
    with use_engine("loop"):
        torch.testing.assert_close(layer(x)[0], plain(x)[0])
    assert layer.output_size == H


@pytest.mark.parametrize("ours_cls,theirs_cls", DROP_INS)
def test_packed_input_with_an_initial_state_equals_torch(ours_cls, theirs_cls):
    """The packed batch is as wide as its first time step, not its later ones."""
    ours = ours_cls(I, H, num_layers=2)
    theirs = theirs_cls(I, H, num_layers=2)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(T, B, I)
    packed = pack_padded_sequence(x, torch.tensor([T, 4, 2, 1]))
    h0 = torch.randn(2, B, H)
    hx = (h0, torch.randn(2, B, H)) if theirs_cls is torch.nn.LSTM else h0
    out, h = ours(packed, hx)
    ref, ref_h = theirs(packed, hx)
    torch.testing.assert_close(out.data, ref.data)
    torch.testing.assert_close(h, ref_h)
    with pytest.raises(ValueError, match=r"^pass either a PackedSequence or lengths=, "
                                         r"not both$"):
        ours(packed, hx, lengths=torch.tensor([T, 4, 2, 1]))


@pytest.mark.parametrize("ours_cls,theirs_cls", DROP_INS)
def test_lengths_with_an_initial_state_on_the_fused_path(ours_cls, theirs_cls):
    ours = ours_cls(I, H, batch_first=True)
    theirs = theirs_cls(I, H, batch_first=True)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(B, T, I)
    lengths = torch.tensor([2, T, 1, 4])
    h0 = torch.randn(1, B, H)
    hx = (h0, torch.randn(1, B, H)) if theirs_cls is torch.nn.LSTM else h0
    with use_engine("loop"):
        out, h = ours(x, hx, lengths=lengths)
    ref, ref_h = theirs(pack_padded_sequence(x, lengths, batch_first=True,
                                             enforce_sorted=False), hx)
    ref = pad_packed_sequence(ref, batch_first=True, total_length=T)[0]
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(h, ref_h)


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("unbatched", [False, True])
def test_learned_initial_state_on_the_fused_path_equals_the_loop(cls, dtype, unbatched):
    layer = cls(I, H, num_layers=2, learn_initial_state=True).to(dtype)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith("initial_"):
                p.normal_()  # learned states away from zero, so using them shows
    x = torch.randn(T, I, dtype=dtype) if unbatched else torch.randn(T, B, I, dtype=dtype)
    with use_engine("loop"):
        assert not layer.uses_loop
        out, h = layer(x)
        ref, ref_h = layer.forward_loop(x)
    assert out.dtype == dtype and out.shape == ref.shape
    torch.testing.assert_close(out, ref)
    for a, b in zip(h if isinstance(h, tuple) else (h,), ref_h if isinstance(ref_h, tuple)
                    else (ref_h,)):
        assert a.shape == ((2, H) if unbatched else (2, B, H))
        torch.testing.assert_close(a, b)
