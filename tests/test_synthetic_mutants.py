"""Synthetic tasks (rnnkit/data/synthetic.py) against their definitions written out: the
adding problem's markers and sums, the copy task's layout token by token, sine windows as
the documented draws of period, phase and amplitude (and noise) in closed form."""

import math

import pytest
import torch

from rnnkit.data.synthetic import adding_problem, copy_task, sine_windows


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    n, length = 400, 7
    d = adding_problem(n, length, seed=3)
    x, y = d["x"], d["y"]
    assert x.shape == (n, length, 2) and y.shape == (n,) and x.dtype == torch.float32
    values, marker = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(marker.unique().tolist()) == {0.0, 1.0} and (marker.sum(1) == 2).all()
    pos = marker.nonzero()[:, 1].view(n, 2)  # (first, second) per row
    assert set(pos[:, 0].tolist()) == {0, 1, 2} and set(pos[:, 1].tolist()) == {3, 4, 5, 6}
    want = [values[i, pos[i, 0]] + values[i, pos[i, 1]] for i in range(n)]
    assert y.tolist() == torch.stack(want).tolist()


def test_adding_problem_is_the_seeded_draws():
    n, length, seed = 5, 6, 11
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(n, length, generator=g)
    first = torch.randint(0, 3, (n,), generator=g)
    second = torch.randint(3, 6, (n,), generator=g)
    d = adding_problem(n, length, seed=seed)
    assert torch.equal(d["x"][..., 0], values)
    assert torch.equal(d["y"], values[torch.arange(n), first] + values[torch.arange(n), second])
    assert torch.equal(adding_problem(4, 6)["x"], adding_problem(4, 6, seed=0)["x"])
    assert not torch.equal(adding_problem(4, 6, seed=1)["x"], adding_problem(4, 6)["x"])


def test_adding_problem_shortest_length():
    d = adding_problem(3, 2)
    assert d["x"][..., 1].tolist() == [[1.0, 1.0]] * 3
    assert torch.equal(d["y"], d["x"][..., 0].sum(1))
    with pytest.raises(ValueError, match="^the adding problem needs length >= 2, got 1$"):
        adding_problem(3, 1)


def test_copy_task_layout_by_hand():
    d = copy_task(50, num_symbols=3, copy_length=2, delay=3, seed=4)
    x, y = d["x"], d["y"]
    assert x.shape == y.shape == (50, 7) and x.dtype == y.dtype == torch.long
    for xi, yi in zip(x.tolist(), y.tolist()):
        a, b = xi[:2]
        assert xi == [a, b, 0, 0, 4, 0, 0]  # symbols, delay - 1 blanks, go, blanks
        assert yi == [0, 0, 0, 0, 0, a, b]
    assert set(x[:, :2].flatten().tolist()) == {1, 2, 3}
    g = torch.Generator().manual_seed(4)
    assert torch.equal(x[:, :2], torch.randint(1, 4, (50, 2), generator=g))


def test_copy_task_defaults_and_errors():
    d = copy_task(2)
    assert d["x"].shape == (2, 40) and (d["x"][:, 29] == 9).all()
    assert torch.equal(d["x"], copy_task(2, 8, 10, 20, seed=0)["x"])
    assert torch.equal(copy_task(3, 2, 1, 1)["x"][:, 1], torch.full((3,), 3))  # go at once
    one = copy_task(2, num_symbols=1, copy_length=2, delay=1)  # one symbol is enough
    assert one["x"].tolist() == [[1, 1, 2, 0, 0]] * 2 and one["y"].tolist() == [[0, 0, 0, 1, 1]] * 2
    for kw in ({"delay": 0}, {"copy_length": 0}, {"num_symbols": 0}):
        with pytest.raises(ValueError, match="^copy task needs delay >= 1, copy_length >= 1, "
                                             "num_symbols >= 1$"):
            copy_task(2, **kw)


def _sines(n, window, horizon, seed, noise=0.0):
    """The documented series: period 10 + 30 U, phase 2 pi U, amplitude 0.5 + U (float64)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(window + horizon, dtype=torch.float64)
    period = (10 + 30 * torch.rand(n, 1, generator=g)).double()
    phase = (2 * math.pi * torch.rand(n, 1, generator=g)).double()
    amplitude = (0.5 + torch.rand(n, 1, generator=g)).double()
    series = amplitude * torch.sin(2 * math.pi * t / period + phase)
    if noise:
        series = series + noise * torch.randn(series.shape, generator=g).double()
    return series


def test_sine_windows_are_the_documented_waves_split_at_the_window():
    d = sine_windows(6, window=8, horizon=3, seed=2)
    assert d["x"].shape == (6, 8, 1) and d["y"].shape == (6, 3, 1)
    assert d["x"].dtype == torch.float32
    want = _sines(6, 8, 3, seed=2)
    both = torch.cat([d["x"], d["y"]], 1)[..., 0].double()
    torch.testing.assert_close(both, want, rtol=0, atol=1e-5)
    many = torch.cat(list(sine_windows(2000, 4, 1, seed=1).values()), 1)
    assert 0.5 <= float(many.abs().max()) <= 1.5


def test_sine_windows_noise_and_defaults():
    d = sine_windows(4, window=5, horizon=2, noise=0.1, seed=7)
    both = torch.cat([d["x"], d["y"]], 1)[..., 0].double()
    torch.testing.assert_close(both, _sines(4, 5, 2, 7, noise=0.1), rtol=0, atol=1e-5)
    default = sine_windows(3)
    assert default["x"].shape == (3, 50, 1) and default["y"].shape == (3, 10, 1)
    torch.testing.assert_close(torch.cat([default["x"], default["y"]], 1)[..., 0].double(),
                               _sines(3, 50, 10, 0), rtol=0, atol=1e-5)
    clean = sine_windows(3, 5, 2, noise=0.0, seed=7)
    torch.testing.assert_close(torch.cat([clean["x"], clean["y"]], 1)[..., 0].double(),
                               _sines(3, 5, 2, 7), rtol=0, atol=1e-5)
