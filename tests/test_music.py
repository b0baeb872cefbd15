"""Piano rolls, MIDI, the piano-roll language model and the music task."""

from __future__ import annotations

import math
import os
from pathlib import Path

import mido
import numpy as np
import pytest
import torch

from rnnkit.data.datasets import DataError
from rnnkit.data.music import (
    LOWEST_PITCH,
    NUM_KEYS,
    load_jsb,
    midi_to_roll,
    pitches_to_roll,
    plot_roll,
    roll_to_midi,
)
from rnnkit.models import PianoRollLM
from rnnkit.tasks.music import MusicConfig, MusicTask, to_tensors, transposed

DATA = os.environ.get("RNNKIT_DATA")
needs_data = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "music/jsb-chorales-quarter.json").is_file(),
    reason="real-data test: set RNNKIT_DATA to the shared data folder (JSB chorales)")


def random_roll(T=24, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    roll = np.zeros((T, NUM_KEYS), np.uint8)
    for k in rng.choice(NUM_KEYS, 6, replace=False):
        start = int(rng.integers(0, T - 1))
        roll[start:start + int(rng.integers(1, 6)), k] = 1
    return roll


def test_roll_midi_round_trip(tmp_path):
    roll = random_roll()
    back = midi_to_roll(roll_to_midi(roll, tmp_path / "a.mid"))
    np.testing.assert_array_equal(back, roll)


def test_midi_timing_and_pitches(tmp_path):
    roll = np.zeros((6, NUM_KEYS), np.uint8)
    roll[1:4, 60 - LOWEST_PITCH] = 1  # middle C held for steps 1..3
    roll[2, 64 - LOWEST_PITCH] = 1  # E for one step
    path = roll_to_midi(roll, tmp_path / "b.mid", ticks_per_step=240, ticks_per_beat=480)
    tick, events = 0, []
    for msg in mido.MidiFile(str(path)).tracks[0]:
        tick += msg.time
        if msg.type in ("note_on", "note_off"):
            events.append((msg.type, msg.note, tick))
    assert events == [("note_on", 60, 240), ("note_on", 64, 480), ("note_off", 64, 720),
                      ("note_off", 60, 960)]
    np.testing.assert_array_equal(midi_to_roll(path, ticks_per_step=240), roll)


def test_pitches_to_roll_and_range():
    roll = pitches_to_roll([[60, 64], [], [21, 108]])
    assert roll.shape == (3, NUM_KEYS) and roll.sum() == 4 and roll[2, 0] and roll[2, -1]
    with pytest.raises(DataError, match="outside the piano range"):
        pitches_to_roll([[20]])


def test_to_tensors_puts_a_zero_frame_first():
    rolls = [random_roll(5, 1), random_roll(3, 2)]
    batch = to_tensors(rolls)
    assert batch["x"].shape == (2, 5, NUM_KEYS) and batch["lengths"].tolist() == [5, 3]
    assert not batch["x"][:, 0].any()
    torch.testing.assert_close(batch["x"][0, 1:], batch["y"][0, :-1])
    assert transposed(rolls[0], 0) is rolls[0]
    assert transposed(np.eye(NUM_KEYS, dtype=np.uint8), 1) is None  # would leave the keys


def test_frequency_model_nll_equals_closed_form():
    """A model that always outputs the training frequencies scores the closed form
    -(1/T) sum_t sum_k [y log p + (1 - y) log(1 - p)]."""
    rolls = [random_roll(20, s) for s in range(4)]
    freq = np.clip(np.vstack(rolls).mean(0), 1e-3, 1 - 1e-3)
    model = PianoRollLM(num_units=NUM_KEYS, cell="gru", hidden_size=4)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.from_numpy(np.log(freq / (1 - freq))))
    out = model.compute_loss(to_tensors(rolls))
    y = np.vstack(rolls)
    closed = -(y * np.log(freq) + (1 - y) * np.log(1 - freq)).sum() / len(y)
    assert out.loss.item() == pytest.approx(closed, rel=1e-5)
    assert out.count == 80 and out.metrics["nll_per_step"] == pytest.approx(closed, rel=1e-5)


def test_frame_accuracy_is_tp_over_union():
    model = PianoRollLM(num_units=3, cell="rnn", hidden_size=2)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([5.0, 5.0, -5.0]))  # predicts keys 0 and 1
    y = torch.tensor([[[1.0, 0.0, 1.0]]])  # TP 1, FP 1, FN 1
    out = model.compute_loss({"x": torch.zeros_like(y), "y": y})
    assert out.metrics["frame_accuracy"] == pytest.approx(1 / 3)


def test_tiny_model_learns_a_pattern():
    """Two alternating chords: a GRU learns to predict the next one almost surely."""
    a, b = np.zeros(NUM_KEYS, np.uint8), np.zeros(NUM_KEYS, np.uint8)
    a[[39, 43, 46]], b[[41, 44, 48]] = 1, 1
    batch = to_tensors([np.stack([a, b] * 8)])
    model = PianoRollLM(num_units=NUM_KEYS, cell="gru", hidden_size=16)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(80):
        opt.zero_grad()
        loss = model.compute_loss(batch).loss
        loss.backward()
        opt.step()
    model.eval()
    out = model.compute_loss(batch)
    assert out.loss.item() < 0.8 and out.metrics["frame_accuracy"] > 0.9


def test_generate_shapes_temperature_and_files(tmp_path):
    model = PianoRollLM(num_units=NUM_KEYS, cell="lstm", hidden_size=8).eval()
    g = torch.Generator().manual_seed(0)
    roll = model.generate(10, generator=g)
    assert roll.shape == (10, NUM_KEYS) and set(roll.unique().tolist()) <= {0.0, 1.0}
    greedy = model.generate(5, prime=torch.zeros(3, NUM_KEYS), temperature=0)
    torch.testing.assert_close(greedy, model.generate(5, prime=torch.zeros(3, NUM_KEYS),
                                                      temperature=0))
    task = MusicTask()
    out = task.generate(model, MusicConfig(), {
        "max_new": 12, "temperature": 0.5, "seed": 1, "prime": 0,
        "output": str(tmp_path / "c.mid"), "plot": str(tmp_path / "c.png")})
    assert out["steps"] == 12 and len(out["generated"]) == 12
    assert midi_to_roll(tmp_path / "c.mid").shape == (12, NUM_KEYS)
    assert (tmp_path / "c.png").stat().st_size > 0
    plot_roll(random_roll(), tmp_path / "r.png", prime=4)


def test_generate_rejects_a_bad_prompt(tmp_path):
    from rnnkit.tasks import TaskError

    model = PianoRollLM(num_units=NUM_KEYS, cell="gru", hidden_size=4).eval()
    bad = tmp_path / "x.mid"
    bad.write_text("not midi")
    with pytest.raises(TaskError, match="not a readable MIDI file"):
        MusicTask().generate(model, MusicConfig(), {"max_new": 2, "prompt": str(bad),
                                                     "prime": 1})
    good = roll_to_midi(random_roll(8), tmp_path / "p.mid")
    with pytest.raises(TaskError, match="only"):
        MusicTask().generate(model, MusicConfig(), {"max_new": 2, "prompt": str(good),
                                                     "prime": 99})


@needs_data
def test_jsb_split_and_frame_count():
    splits = load_jsb()
    assert {k: len(v) for k, v in splits.items()} == {"train": 229, "val": 76, "test": 77}
    assert sum(len(r) for r in splits["test"]) == 4725
    data = MusicTask().data(MusicConfig(), 0)
    assert int(data["test"]["lengths"].sum()) == 4725
    per_unit = np.vstack(splits["train"]).mean(0)
    p = np.clip(per_unit, 1e-6, 1 - 1e-6)
    y = np.vstack(splits["test"])
    nll = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / len(y)
    assert math.isfinite(nll) and 10 < nll < 12  # the peer figure: 11.06
