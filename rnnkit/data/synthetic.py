"""Synthetic sequence tasks needing no data: the adding problem, the copy task, sine waves.

Each generator is deterministic given its ``seed`` and returns a dict of tensors, one row
per sample, batch-first, ready for :class:`rnnkit.data.batches.BatchStream`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def adding_problem(n: int, length: int, seed: int = 0) -> dict[str, Tensor]:
    """The adding problem (Hochreiter & Schmidhuber, 1997; Le et al., 2015).

    ``x`` (n, length, 2): channel 0 values ~ U[0, 1], channel 1 a marker equal to 1 at two
    positions (one in each half of the sequence) and 0 elsewhere. ``y`` (n,): the sum of the
    two marked values. Always predicting 1 gives MSE = Var(U1 + U2) = 1/6 ~ 0.167.
    """
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    g = _generator(seed)
    values = torch.rand(n, length, generator=g)  # (n, T)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, length, (n,), generator=g)
    marker = torch.zeros(n, length)
    rows = torch.arange(n)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]  # (n,)
    return {"x": torch.stack([values, marker], dim=-1), "y": y}  # x (n, T, 2)


def copy_task(n: int, num_symbols: int = 8, copy_length: int = 10, delay: int = 20,
              seed: int = 0) -> dict[str, Tensor]:
    """The copy (memory) task (Hochreiter & Schmidhuber, 1997; Arjovsky et al., 2016).

    Token ids: 0 blank, 1..num_symbols symbols, num_symbols + 1 the "go" marker. Input ``x``
    (n, L), L = 2 * copy_length + delay: ``copy_length`` random symbols, ``delay - 1``
    blanks, the go marker, ``copy_length`` blanks. Target ``y`` (n, L): blanks, then the
    symbols in the last ``copy_length`` steps. A model that outputs blanks and then guesses
    has cross-entropy ``copy_length * ln(num_symbols) / L``.
    """
    if delay < 1 or copy_length < 1 or num_symbols < 1:
        raise ValueError("copy task needs delay >= 1, copy_length >= 1, num_symbols >= 1")
    g = _generator(seed)
    symbols = torch.randint(1, num_symbols + 1, (n, copy_length), generator=g)
    length = 2 * copy_length + delay
    x = torch.zeros(n, length, dtype=torch.long)
    x[:, :copy_length] = symbols
    x[:, copy_length + delay - 1] = num_symbols + 1
    y = torch.zeros(n, length, dtype=torch.long)
    y[:, -copy_length:] = symbols
    return {"x": x, "y": y}


def sine_windows(n: int, window: int = 50, horizon: int = 10, noise: float = 0.0,
                 seed: int = 0) -> dict[str, Tensor]:
    """Windows of sine waves with random frequency, phase and amplitude, plus Gaussian noise.

    ``x`` (n, window, 1) the observed values, ``y`` (n, horizon, 1) the next ``horizon``
    values of the same (noisy) series. Periods lie between 10 and 40 steps.
    """
    g = _generator(seed)
    t = torch.arange(window + horizon, dtype=torch.float32)  # (W+H,)
    period = 10 + 30 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    amplitude = 0.5 + torch.rand(n, 1, generator=g)
    series = amplitude * torch.sin(2 * math.pi * t / period + phase)  # (n, W+H)
    if noise > 0:
        series = series + noise * torch.randn(series.shape, generator=g)
    series = series.unsqueeze(-1)  # (n, W+H, 1)
    return {"x": series[:, :window], "y": series[:, window:]}
