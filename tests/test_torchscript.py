"""torch.jit.script of models holding rnnkit's drop-ins: compiled as the torch.nn layer each
equals, sharing its parameters; against the eager drop-in and torch.nn on random inputs,
tensors and PackedSequences, saved and loaded; refused, naming the option, where TorchScript
cannot follow."""

import io

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import rnnkit

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
I, H, T, B = 3, 5, 7, 4


class Net(nn.Module):
    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(rnn.output_size, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out)


class PackedNet(nn.Module):
    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x: PackedSequence) -> torch.Tensor:
        out, _ = self.rnn(x)
        return out.data


OPTIONS = [
    ("RNN", dict(nonlinearity="relu")),
    ("RNN", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True, dropout=0.0, batch_first=True)),
    ("LSTM", dict(proj_size=2, bias=False)),
    ("LSTM", dict(forget_bias=1.0, init="orthogonal")),  # parameters only: still fused
    ("GRU", dict(num_layers=3)),
    ("GRU", dict(bidirectional=True, merge_mode="concat", init="identity")),
]


def _pair(kind, options):
    torch.manual_seed(0)
    mine = getattr(rnnkit, kind)(I, H, **options)
    with torch.no_grad():
        for p in mine.parameters():
            p.normal_(0, 0.5)
    return mine


@pytest.mark.parametrize("kind, options", OPTIONS)
def test_a_scripted_model_computes_what_the_eager_one_and_torch_nn_do(kind, options):
    mine = _pair(kind, options)
    torch_options = {k: v for k, v in options.items()
                     if k not in ("forget_bias", "init", "merge_mode")}
    ref = getattr(nn, kind)(I, H, **torch_options)
    ref.load_state_dict(mine.state_dict())
    ref.output_size = mine.output_size
    eager, ref_net = Net(mine), Net(ref)
    ref_net.head.load_state_dict(eager.head.state_dict())
    scripted = torch.jit.script(eager)
    x = torch.randn((B, T, I) if options.get("batch_first") else (T, B, I))
    want = eager(x)
    torch.testing.assert_close(scripted(x), want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ref_net(x), want, rtol=1e-5, atol=1e-6)
    buffer = io.BytesIO()  # saved and loaded: the same function
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    torch.testing.assert_close(torch.jit.load(buffer)(x), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_script_shares_the_layers_parameters(kind):
    mine = _pair(kind, dict(num_layers=2))
    eager = Net(mine)
    scripted = torch.jit.script(eager)
    x = torch.randn(T, B, I)
    scripted(x).square().sum().backward()  # gradients reach the layer's own parameters
    grads = {name: p.grad.clone() for name, p in mine.named_parameters()}
    assert all(g.abs().sum() > 0 for g in grads.values())
    mine.zero_grad()
    eager(x).square().sum().backward()
    for name, p in mine.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # a change to the layer is a change to the script
        mine.weight_hh_l1.mul_(-1)
    torch.testing.assert_close(scripted(x), eager(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_packed_sequences_through_a_script(kind):
    mine = _pair(kind, dict(bidirectional=True))
    scripted = torch.jit.script(PackedNet(mine))
    x = torch.randn(T, B, I)
    lengths = torch.tensor([T, 2, 5, 1])
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    want = mine(packed)[0].data
    torch.testing.assert_close(scripted(packed), want, rtol=1e-5, atol=1e-6)
    ref = getattr(nn, kind)(I, H, bidirectional=True)
    ref.load_state_dict(mine.state_dict())
    torch.testing.assert_close(ref(packed)[0].data, want, rtol=1e-5, atol=1e-6)


def test_the_train_and_eval_modes_carry_over():
    eager = Net(rnnkit.LSTM(I, H, num_layers=2, dropout=0.5))
    x = torch.randn(T, B, I)
    scripted = torch.jit.script(eager)
    assert not torch.equal(scripted(x), scripted(x))  # dropout between the layers
    scripted.eval()
    torch.testing.assert_close(scripted(x), eager.eval()(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind, option, value", [
    ("LSTM", "layer_norm", True), ("GRU", "layer_norm", True), ("LSTM", "zoneout", 0.1),
    ("GRU", "recurrent_dropout", 0.2), ("RNN", "learn_initial_state", True),
])
def test_options_torchscript_cannot_follow_are_refused_by_name(kind, option, value):
    layer = getattr(rnnkit, kind)(I, H, **{option: value})
    with pytest.raises(RuntimeError, match=rf"rnnkit\.{kind} with {option}=.*torch\.jit\.trace"):
        torch.jit.script(Net(layer))


def test_a_late_merge_is_refused_and_a_single_direction_merge_is_not():
    with pytest.raises(RuntimeError, match="merge_mode='sum'"):
        torch.jit.script(Net(rnnkit.GRU(I, H, bidirectional=True, merge_mode="sum")))
    eager = Net(rnnkit.GRU(I, H, merge_mode="sum"))  # one direction: nothing to merge
    x = torch.randn(T, B, I)
    torch.testing.assert_close(torch.jit.script(eager)(x), eager(x), rtol=1e-5, atol=1e-6)
