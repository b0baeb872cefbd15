"""Per-parameter gradient norms and spectral radii of recurrent weight matrices."""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor, nn

# gate names by the number of (H, H) blocks stacked in a recurrent weight
GATE_BLOCKS = {1: ("",), 3: ("r", "z", "n"), 4: ("i", "f", "g", "o")}
_TORCH_NAME = re.compile(
    r"^(?P<path>.*?)(?:weight|bias|ln|initial)_\w*?_?(?P<layer>l\d+(?:_reverse)?)$"
)  # the drop-ins: weight_hh_l1_reverse
_GRID_NAME = re.compile(r"^(?P<path>.*?)layers\.(?P<layer>\d+)\.(?P<dir>[01])\.\w+$")  # Recurrent


def spectral_radius(matrix: Tensor) -> float:
    """max |eigenvalue| of a square matrix (computed in float64 on the CPU)."""
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"spectral_radius needs a square matrix, got shape {tuple(matrix.shape)}")
    eig = torch.linalg.eigvals(matrix.detach().to("cpu", torch.float64))
    return float(eig.abs().max())


def recurrent_spectral_radii(model: nn.Module) -> dict[str, float]:
    """Spectral radius of every square recurrent block: ``{"rnn.weight_hh_l0": 1.02}`` for
    an Elman layer, ``{"lstm.weight_hh_l0[f]": ...}`` per gate for LSTM (i, f, g, o) and GRU
    (r, z, n). Weights whose blocks are not square (LSTM with ``proj_size``) are skipped."""
    out = {}
    for name, p in model.named_parameters():
        if "weight_hh" not in name or p.dim() != 2 or p.shape[0] % p.shape[1]:
            continue
        n = p.shape[1]
        gates = GATE_BLOCKS.get(p.shape[0] // n)
        if gates is None:
            continue
        for gate, block in zip(gates, p.detach().split(n)):
            out[f"{name}[{gate}]" if gate else name] = spectral_radius(block)
    return out


def layer_of(param_name: str) -> str:
    """The layer a parameter belongs to: ``"enc.rnn.weight_hh_l1_reverse"`` ->
    ``"enc.rnn.l1_reverse"``, ``"head.weight"`` -> ``"head"``."""
    match = _TORCH_NAME.match(param_name)
    if match:
        return match["path"] + match["layer"]
    match = _GRID_NAME.match(param_name)
    if match:
        return f"{match['path']}l{match['layer']}" + ("_reverse" if match["dir"] == "1" else "")
    return param_name.rsplit(".", 1)[0] if "." in param_name else param_name


def grad_norms(named_grads: dict[str, Tensor | None]) -> dict[str, float]:
    """``{name: ||grad||}``; parameters without a gradient are left out."""
    return {k: float(g.detach().norm()) for k, g in named_grads.items() if g is not None}


def parameter_grad_norms(model: nn.Module) -> dict[str, float]:
    """``{name: ||p.grad||}`` for every parameter of ``model`` that has a gradient."""
    return grad_norms({k: p.grad for k, p in model.named_parameters()})


def layer_grad_norms(param_norms: dict[str, float]) -> dict[str, float]:
    """Per-parameter norms pooled per layer (:func:`layer_of`): sqrt of the sum of squares."""
    out: dict[str, float] = {}
    for name, norm in param_norms.items():
        layer = layer_of(name)
        out[layer] = out.get(layer, 0.0) + norm * norm
    return {k: math.sqrt(v) for k, v in out.items()}
