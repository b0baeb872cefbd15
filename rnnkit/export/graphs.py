"""What an export writes, described once: :class:`Port` (one named input or output of a
graph), :class:`Graph` (a module with flat tensor inputs and outputs, and its ports) and
:class:`Plan` (the graphs of one model, and the graphs it cannot have, with the reason).

A model class is exported by the plan function registered for its name
(:func:`register_plan`); :mod:`rnnkit.export.sequence_models` and
:mod:`rnnkit.export.decoder_models` register the built-in models.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..models.states import pack_state
from .layer import ExportLayer, swap_layers

# example sizes of the dynamic axes, used to trace (none is 1, so no size is mistaken for
# a broadcast; time and source differ so they cannot be confused)
AXES = {"batch": 3, "time": 5, "source": 4}


@dataclass
class Port:
    """One input or output of a graph.

    ``shape``: ints, or the name of a dynamic axis (``"batch"``, ``"time"``, ``"source"``).
    ``dtype``: ``"float32"``, ``"int64"``, ``"bool"`` or ``"uint8"``. ``values``: for integer
    inputs, the inclusive range ``(low, high)`` (``high`` may name an axis: lengths lie in
    ``[1, time]``). ``initial``: for a recurrent state input, what to pass at the start
    (``"zeros"``, ``"-inf"``, or the learned values, one row per layer and direction).
    ``positive``: example values are drawn from [1, 2) (a count, a sum of exponentials).
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    meaning: str = ""
    values: tuple[int, int | str] | None = None
    initial: str | list | None = None
    positive: bool = False

    def to_json(self) -> dict:
        out = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
               "meaning": self.meaning}
        if self.values is not None:
            out["values"] = list(self.values)
        if self.initial is not None:
            out["initial"] = self.initial
        return out

    def sample(self, sizes: dict[str, int], generator: torch.Generator) -> Tensor:
        """A random tensor for this port: lengths include the longest and the shortest."""
        shape = [sizes[d] if isinstance(d, str) else d for d in self.shape]
        if self.dtype == "float32" and self.positive:
            return 1.0 + torch.rand(shape, generator=generator)
        if self.dtype == "float32":
            return torch.randn(shape, generator=generator)
        if self.dtype == "bool":
            return torch.ones(shape, dtype=torch.bool)
        if self.dtype == "uint8":
            return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
        low, high = self.values or (0, 1)
        high = sizes[high] if isinstance(high, str) else high
        t = torch.randint(low, high + 1, shape, generator=generator)
        if self.name.endswith("lengths") and t.numel() >= 2:
            t[0], t[1] = high, low
        return t


@dataclass
class Graph:
    """One ONNX file: ``module(*inputs) -> tuple of outputs``, in the ports' order.

    ``sample(sizes, generator)`` makes consistent example inputs where ports alone cannot
    (a decoder step reads what the encoder wrote); None: each port samples itself.
    """

    name: str
    module: nn.Module
    inputs: list[Port]
    outputs: list[Port]
    about: str
    sample: Callable[[dict[str, int], torch.Generator], dict[str, Tensor]] | None = None

    def __post_init__(self):
        names = [p.name for p in self.inputs + self.outputs]
        if len(set(names)) != len(names):  # ONNX would rename the inputs ("c.1")
            raise ValueError(f"the {self.name} graph repeats a port name: {names}")

    def example(self, sizes: dict[str, int] | None = None,
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        sizes = {**AXES, **(sizes or {})}
        generator = generator or torch.Generator().manual_seed(0)
        if self.sample is not None:
            return self.sample(sizes, generator)
        return {p.name: p.sample(sizes, generator) for p in self.inputs}

    def to_json(self) -> dict:
        return {"file": f"{self.name}.onnx", "about": self.about,
                "inputs": [p.to_json() for p in self.inputs],
                "outputs": [p.to_json() for p in self.outputs]}


@dataclass
class Plan:
    """The graphs a model exports, and ``skipped``: graph name -> why it is not written."""

    graphs: list[Graph]
    skipped: dict[str, str] = field(default_factory=dict)


PLANS: dict[str, Callable[[nn.Module], Plan]] = {}


def register_plan(model_class: str, plan: Callable[[nn.Module], Plan]) -> None:
    """Export models of class ``model_class`` (the exact class name) with ``plan(model)``."""
    PLANS[model_class] = plan


class Wrapper(nn.Module):
    """``forward(*inputs) = fn(model, *inputs)``: a flat tuple of tensors."""

    def __init__(self, model: nn.Module, fn: Callable[..., tuple[Tensor, ...]]):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.fn(self.model, *inputs))


def prepared(model: nn.Module, mode_of: Callable[[str], str] | str) -> nn.Module:
    """A float32 CPU copy of ``model`` in eval mode whose rnnkit layers are
    :class:`ExportLayer`s in ``mode_of(layer name)`` (or that mode for all)."""
    copied = copy.deepcopy(model).to("cpu", torch.float32).eval()
    swap_layers(copied, mode_of if callable(mode_of) else (lambda name: mode_of))
    return copied


def parts(state) -> tuple[Tensor, ...]:
    """A layer state (tensor or tuple) as a tuple of tensors."""
    return state if isinstance(state, tuple) else (state,)


def state_ports(layer: ExportLayer, prefix: str = "", owner: str = "the recurrent layer"
                ) -> list[Port]:
    """The ports of a layer's state in torch.nn's layout: one (L*D, batch, size) tensor per
    state tensor of its cells (``h``; ``h`` and ``c`` for LSTMs), layer-major, forward
    direction before backward."""
    cells = layer.cells
    first = cells[0]
    order = "layer by layer, forward then backward" if layer.directions > 1 else \
        "one row per layer"
    ports = []
    for i, (name, size) in enumerate(zip(first.state_names, first.state_sizes)):
        initial: str | list = "zeros"
        if any(c.learn_initial_state for c in cells):
            initial = [parts(c.init_state(1))[i][0].tolist() for c in cells]  # learned
        ports.append(Port(f"{prefix}{name}", (len(cells), "batch", size),
                          meaning=f"{name} of {owner} ({order})", initial=initial))
    return ports


def state_from(inputs: tuple[Tensor, ...]):
    """State ports' tensors -> the layer's state (a tensor or a tuple)."""
    return pack_state(list(inputs))


def outputs_for(ports: list[Port], when: str) -> list[Port]:
    """The output ports carrying the new values of state ports: ``<name>_out``."""
    return [Port(f"{p.name}_out", p.shape, p.dtype, f"{p.meaning}, {when}") for p in ports]


LENGTHS = Port("lengths", ("batch",), "int64",
               "valid steps of each sequence, in [1, time]: outputs past it are zero and the "
               "final state is the state after the last valid step", values=(1, "time"))


def sequence_input(encoder, name: str = "x", *, step: bool = False) -> Port:
    """The input port of a :class:`~rnnkit.models.SequenceEncoder`: token ids or features,
    over time (``step=False``) or for one step."""
    dims: tuple = ("batch",) if step else ("batch", "time")
    if encoder.embedding is not None:
        vocab = encoder.embedding.num_embeddings
        return Port(name, dims, "int64", "token ids", values=(0, vocab - 1))
    return Port(name, (*dims, encoder.rnn.input_size), "float32", "input features")
