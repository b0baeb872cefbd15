"""Piano rolls, MIDI, the piano-roll language model and the music task."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import torch

import rnnkit
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
from rnnkit.tasks import TaskError
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


# -- the predictor: rnnkit.load(run) --------------------------------------------------------
def write_run(root: Path, cell: str = "lngru", hidden_size: int = 8) -> Path:
    """A run directory holding an untrained music model, as `rnnkit train` writes it."""
    from rnnkit.tasks import TASKS
    from rnnkit.training.checkpoint import save_checkpoint
    from rnnkit.training.config import ModelConfig, RunConfig
    from rnnkit.training.config_io import write_toml

    cfg = RunConfig(name="t", task=MusicConfig(),
                    model=ModelConfig(cell=cell, hidden_size=hidden_size))
    task = TASKS["music"]
    ctx = task.setup(cfg)
    torch.manual_seed(0)
    model = task.build_model(ctx)
    run = root / "run"
    run.mkdir(parents=True)
    write_toml(cfg, run / "config.toml")
    info = {"model_class": type(model).__name__, "model_config": model.get_config(),
            "step": 0, **task.info(ctx, model)}
    save_checkpoint(run / "checkpoints" / "best", model, info)
    return run


@pytest.fixture
def run(tmp_path):
    return write_run(tmp_path)


def test_generate_shapes_temperature_and_files(run, tmp_path):
    model = PianoRollLM(num_units=NUM_KEYS, cell="lstm", hidden_size=8).eval()
    g = torch.Generator().manual_seed(0)
    roll = model.generate(10, generator=g)
    assert roll.shape == (10, NUM_KEYS) and set(roll.unique().tolist()) <= {0.0, 1.0}
    prime = torch.randint(0, 2, (3, NUM_KEYS)).float()
    greedy = model.generate(5, prime=prime, temperature=0)
    seq = torch.cat([torch.zeros(1, NUM_KEYS), prime])  # greedy by hand: the whole sequence
    with torch.no_grad():  # read again at every step, each unit on where its logit > 0
        for _ in range(5):
            seq = torch.cat([seq, (model(seq[None]).logits[0, -1] > 0).float()[None]])
    torch.testing.assert_close(greedy, seq[4:])
    p = rnnkit.load(run)
    out = p.generate(max_new=12, temperature=0.5, seed=1, prime=0,
                     output=str(tmp_path / "c.mid"), plot=str(tmp_path / "c.png"))
    assert out["steps"] == 12 and len(out["generated"]) == 12
    assert midi_to_roll(tmp_path / "c.mid").shape == (12, NUM_KEYS)
    assert (tmp_path / "c.png").stat().st_size > 0
    plot_roll(random_roll(), tmp_path / "r.png", prime=4)


def test_generate_samples_what_the_model_samples(run, tmp_path):
    """The record lists the pitches of the frames the model draws with the same seed after
    the same prime (the first 5 steps of the prompt file)."""
    prompt = roll_to_midi(random_roll(16, 3), tmp_path / "p.mid")
    p = rnnkit.load(run)
    out = p.generate(prompt=str(prompt), prime=5, max_new=20, temperature=0.8, seed=7)
    g = torch.Generator().manual_seed(7)
    prime = torch.from_numpy(random_roll(16, 3)[:5]).float()
    frames = p.model.generate(20, prime=prime, temperature=0.8, generator=g)  # (20, 88)
    assert out["prime_steps"] == 5 and out["steps"] == 20
    assert out["generated"] == [[k + LOWEST_PITCH for k in torch.nonzero(f).flatten().tolist()]
                                for f in frames]
    assert out["notes_per_step"] == pytest.approx(float(frames.sum(1).mean()))
    whole = p.generate(prompt=str(prompt), max_new=0)  # prime 0 with a prompt: all of it
    assert whole["prime_steps"] == 16 and whole["generated"] == []


def test_generate_cli_prints_the_predictor_dict(run, tmp_path, capsys):
    from rnnkit.cli.main import main

    prompt = roll_to_midi(random_roll(12, 5), tmp_path / "p.mid")
    args = ["--steps", "15", "--prime", "4", "--prompt", str(prompt), "--seed", "3",
            "--temperature", "0.7", "--output", str(tmp_path / "a.mid")]
    capsys.readouterr()
    assert main(["generate", str(run), *args]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = rnnkit.load(run).generate(prompt=str(prompt), max_new=15, prime=4, seed=3,
                                         temperature=0.7, output=str(tmp_path / "a.mid"))
    assert printed == expected and printed["output"] == str(tmp_path / "a.mid")


def test_generate_rejects_bad_options(run, tmp_path):
    from rnnkit.tasks import TaskError

    p = rnnkit.load(run)
    bad = tmp_path / "x.mid"
    bad.write_text("not midi")
    with pytest.raises(TaskError, match="not a readable MIDI file"):
        p.generate(max_new=2, prompt=str(bad), prime=1)
    with pytest.raises(TaskError, match="no such MIDI file"):
        p.generate(max_new=2, prompt=str(tmp_path / "missing.mid"), prime=1)
    good = roll_to_midi(random_roll(8), tmp_path / "p.mid")
    with pytest.raises(TaskError, match="only"):
        p.generate(max_new=2, prompt=str(good), prime=99)
    with pytest.raises(TaskError, match="top-k and top-p do not apply"):
        p.generate(max_new=2, top_k=5)
    with pytest.raises(TaskError, match="temperature"):
        p.generate(max_new=2, temperature=-1)


def test_predict_scores_each_piece_as_the_model_loss_does(run):
    """Per piece: the NLL per step equals the model's own loss on that piece alone, and the
    next-frame probabilities are the model's after the whole piece; pieces of different
    lengths in one call do not change each other's results."""
    p = rnnkit.load(run)
    rolls = [random_roll(24, 1), random_roll(9, 2)]
    records = p.predict(rolls)
    for roll, record in zip(rolls, records):
        alone = p.model.compute_loss(to_tensors([roll])).loss.item()
        assert record["steps"] == len(roll)
        assert record["nll_per_step"] == pytest.approx(alone, rel=1e-5)
        full = torch.cat([torch.zeros(1, NUM_KEYS), torch.from_numpy(roll).float()])
        with torch.no_grad():
            last = torch.sigmoid(p.model(full[None]).logits[0, -1])
        np.testing.assert_allclose(record["next_frame_probs"], last.numpy(), atol=2e-6)
    assert json.loads(json.dumps(records)) == records  # plain JSON values only


def test_stream_point_by_point_equals_the_batch_result(run):
    p = rnnkit.load(run)
    roll = random_roll(30, 4)
    (batch,) = p.predict([roll])
    full = torch.cat([torch.zeros(1, NUM_KEYS), torch.from_numpy(roll).float()])
    with torch.no_grad():
        logits = p.model(full[None]).logits[0]  # (31, 88): the prediction of each next frame
    s = p.stream()
    for t, frame in enumerate(roll):
        r = s.push(frame)
        np.testing.assert_allclose(r["next_frame_probs"], torch.sigmoid(logits[t + 1]).numpy(),
                                   atol=2e-6)
        step_nll = torch.nn.functional.binary_cross_entropy_with_logits(
            logits[t], full[t + 1], reduction="sum")
        assert r["step"] == t + 1 and r["nll"] == pytest.approx(float(step_nll), rel=1e-5)
    assert r["nll_per_step"] == pytest.approx(batch["nll_per_step"], rel=1e-5)
    np.testing.assert_allclose(r["next_frame_probs"], batch["next_frame_probs"], atol=2e-6)
    s.reset()
    assert s.push(roll[0]) == p.stream().push(roll[0])


def test_predict_file_midi_and_cli(run, tmp_path, capsys):
    """`rnnkit predict RUN --input FILE` prints what p.predict_file returns: a MIDI file,
    and a .json of rolls."""
    from rnnkit.cli.main import main

    roll = random_roll(20, 6)
    mid = roll_to_midi(roll, tmp_path / "a.mid")
    rolls = tmp_path / "rolls.json"
    rolls.write_text(json.dumps([random_roll(10, 7).tolist(), random_roll(10, 8).tolist()]))
    p = rnnkit.load(run)
    for path in (mid, rolls):
        capsys.readouterr()
        assert main(["predict", str(run), "--input", str(path)]) == 0
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert printed == p.predict_file(path)
    (record,) = p.predict_file(mid)
    assert record["file"] == str(mid)
    assert record["nll_per_step"] == pytest.approx(p.predict([roll])[0]["nll_per_step"])


def test_predict_bad_inputs(run, tmp_path):
    from rnnkit.tasks import TaskError

    p = rnnkit.load(run)
    bad = tmp_path / "bad.mid"
    bad.write_text("not midi")
    records = p.predict([str(bad), random_roll(5)])
    assert "not a readable MIDI file" in records[0]["error"] and "nll_per_step" in records[1]
    with pytest.raises(TaskError, match=r"piano roll \(T, 88\)"):
        p.predict([np.zeros((4, 12))])
    with pytest.raises(TaskError, match="stream frame 0"):
        p.stream().push(np.zeros(5))


def test_a_missing_extra_names_it(run, tmp_path, monkeypatch):
    from rnnkit._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "mido", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[music\]'"):
        rnnkit.load(run).generate(max_new=2, output=str(tmp_path / "a.mid"))


@needs_data
def test_jsb_split_and_frame_count():
    splits = load_jsb()
    assert {k: len(v) for k, v in splits.items()} == {"train": 229, "val": 76, "test": 77}
    assert sum(len(r) for r in splits["test"]) == 4725
    from rnnkit.training.config import RunConfig

    task = MusicTask()
    data = task.setup(RunConfig(name="t", task=MusicConfig())).splits
    assert int(data["test"]["lengths"].sum()) == 4725
    per_unit = np.vstack(splits["train"]).mean(0)
    p = np.clip(per_unit, 1e-6, 1 - 1e-6)
    y = np.vstack(splits["test"])
    nll = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / len(y)
    assert math.isfinite(nll) and 10 < nll < 12  # the peer figure: 11.06


@needs_data
def test_train_evaluate_and_prime_from_a_test_chorale(tmp_path):
    from rnnkit.tasks import evaluate_run, load_config, train_run

    cfg = load_config("examples/chorales.toml", [
        "train.steps=2", "train.eval_every=1", "model.hidden_size=8", "train.max_minutes=0",
        "train.progress=off"])
    train_run(cfg, tmp_path / "run")
    figures = evaluate_run(tmp_path / "run", "test")
    assert figures["frames"] == 4725 and 0 <= figures["frame_accuracy"] <= 1
    out = rnnkit.load(tmp_path / "run").generate(prime=6, max_new=3)
    assert out["prime_steps"] == 6 and len(out["generated"]) == 3


# -- a folder of the user's MIDI files (issue 17, item 4) -----------------------------------
def write_midi(path: Path, tracks: list[list[tuple]], ticks_per_beat: int = 96) -> Path:
    """A MIDI file written message by message with mido (not with roll_to_midi): each track
    a list of (kind, channel, note, absolute tick), kinds note_on / note_off / note_on0 (a
    note_on of velocity 0, which ends a note)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track = mido.MidiTrack()
        last = 0
        for kind, channel, note, tick in sorted(events, key=lambda e: e[3]):
            velocity = 64 if kind == "note_on" else 0
            track.append(mido.Message("note_on" if kind == "note_on0" else kind,
                                      channel=channel, note=note, velocity=velocity,
                                      time=tick - last))
            last = tick
        mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


def test_a_hand_written_midi_reads_to_exactly_the_expected_roll(tmp_path):
    """Sixteenth-note steps (24 ticks at 96 a beat), pitches 60..71: every rule at once."""
    from rnnkit.data.music import read_midi_roll

    path = write_midi(tmp_path / "a.mid", [
        [("note_on", 0, 60, 0), ("note_off", 0, 60, 48),  # C: steps 0, 1
         ("note_on", 0, 64, 24), ("note_on0", 0, 64, 96),  # E: steps 1..3 (velocity-0 off)
         ("note_on", 0, 67, 50), ("note_off", 0, 67, 55),  # G, shorter than a step: step 2
         ("note_on", 0, 59, 0), ("note_off", 0, 59, 24),  # below the range: left out
         ("note_on", 9, 62, 0), ("note_off", 9, 62, 24),  # drum channel: left out
         ("note_on", 0, 71, 71)],  # B from 71 (snaps to step 3) never ended: to the end (5)
        [("note_on", 3, 65, 96), ("note_off", 3, 65, 120)],  # second track, F: step 4
    ])
    # track 0 ends at tick 71, track 1 at 120 -> 5 steps
    expected = np.zeros((5, 12), np.uint8)
    expected[0:2, 0] = 1
    expected[1:4, 4] = 1
    expected[2, 7] = 1
    expected[3:4, 11] = 1  # B sounds from step 3 to the end of its own track (tick 71)
    expected[4, 5] = 1
    read = read_midi_roll(path, steps_per_quarter=4, lowest=60, keys=12)
    np.testing.assert_array_equal(read.roll, expected)
    assert (read.notes, read.out_of_range, read.drums) == (5, 1, 1)
    with_drums = read_midi_roll(path, steps_per_quarter=4, lowest=60, keys=12, drums=True)
    assert with_drums.roll[0, 2] == 1 and with_drums.drums == 0
    quarters = read_midi_roll(path)  # one step a quarter note, 88 keys (59 now in range)
    assert quarters.roll.shape == (2, NUM_KEYS) and quarters.out_of_range == 0
    # step 0: B3, C, E (24..96 snaps to 0..1); step 1: G (50 -> 1), B (71 -> 1), F
    assert (np.flatnonzero(quarters.roll[0]) + LOWEST_PITCH).tolist() == [59, 60, 64]
    assert (np.flatnonzero(quarters.roll[1]) + LOWEST_PITCH).tolist() == [65, 67, 71]



def test_smpte_timed_and_zero_division_headers(tmp_path):
    """A header in SMPTE frames (25 fps x 40 ticks: 1000 ticks a second) reads at 120 bpm
    (500 ticks a quarter); one with 0 ticks a quarter note is a DataError, not a crash."""
    from rnnkit.data.music import read_midi_roll

    path = write_midi(tmp_path / "smpte.mid", [[("note_on", 0, 60, 500),
                                                 ("note_off", 0, 60, 1500)]])
    mid = mido.MidiFile(str(path))
    mid.ticks_per_beat = 0xE728 - 0x10000  # -25 fps, 40 ticks a frame
    mid.save(str(path))
    roll = read_midi_roll(path, lowest=60, keys=1).roll
    assert roll[:, 0].tolist() == [0, 1, 1]
    mid.ticks_per_beat = 0
    mid.save(str(tmp_path / "zero.mid"))
    with pytest.raises(DataError, match=r"zero\.mid: .*0 ticks per quarter note"):
        read_midi_roll(tmp_path / "zero.mid")

def folder_config(root: Path, **task) -> MusicConfig:
    return MusicConfig(data=str(root), steps_per_quarter=task.pop("steps_per_quarter", 4),
                       lowest_pitch=48, highest_pitch=84, **task)


def piece(i: int) -> np.ndarray:
    """Roll ``i`` (8 + i sixteenth-note steps, pitches 48..84) of :func:`write_pieces`."""
    roll = np.zeros((8 + i, 37), np.uint8)
    roll[i % 4: 6 + i, (3 * i) % 30] = 1
    roll[2:4, 36 - i] = 1
    return roll


def write_pieces(root: Path, n: int = 10) -> list[np.ndarray]:
    """``n`` MIDI files under ``root`` (some in a sub-folder, some ``.MIDI``), written from
    rolls of 48..84 at sixteenth notes; returns the rolls in sorted path order."""
    rolls = {}
    for i in range(n):
        roll = piece(i)
        name = f"sub/p{i:02d}.MIDI" if i % 3 == 0 else f"p{i:02d}.mid"
        roll_to_midi(roll, root / name, ticks_per_step=120, lowest=48)
        rolls[str(root / name)] = roll
    return [rolls[k] for k in sorted(rolls)]


def test_folder_is_searched_recursively_and_split_by_file(tmp_path):
    from rnnkit.tasks.music import read_pieces
    from rnnkit.training.config import RunConfig

    rolls = write_pieces(tmp_path / "songs")
    (tmp_path / "songs" / "notes.txt").write_text("not a MIDI file, not read")
    read = read_pieces(tmp_path / "songs", folder_config(tmp_path / "songs"))
    assert len(read) == len(rolls)
    for got, want in zip(read, rolls):
        np.testing.assert_array_equal(got, want)
    task = MusicTask()
    ctx = task.setup(RunConfig(name="t", task=folder_config(tmp_path / "songs")))
    parts = ctx.pieces
    keys = {k: sorted(r.tobytes() for r in v) for k, v in parts.items()}
    assert sorted(sum(keys.values(), [])) == sorted(r.tobytes() for r in rolls)
    assert all(len(v) >= 1 for v in parts.values())
    again = task.setup(RunConfig(name="t", task=folder_config(tmp_path / "songs")))
    assert {k: sorted(r.tobytes() for r in v) for k, v in again.pieces.items()} == keys
    other = task.setup(RunConfig(name="t", task=folder_config(tmp_path / "songs",
                                                             split_seed=5)))
    assert {k: sorted(r.tobytes() for r in v) for k, v in other.pieces.items()} != keys
    assert task.model_args(ctx) == {"num_units": 37}


def test_transposition_applies_to_training_pieces_only(tmp_path):
    from rnnkit.training.config import RunConfig

    write_pieces(tmp_path / "songs")
    task = MusicTask()
    ctx = task.setup(RunConfig(name="t", task=folder_config(tmp_path / "songs", transpose=2)))
    splits = ctx.splits
    want = sum(transposed(r, s) is not None for r in ctx.pieces["train"] for s in range(-2, 3))
    assert len(splits["train"]["lengths"]) == want > len(ctx.pieces["train"])
    assert len(splits["val"]["lengths"]) == len(ctx.pieces["val"])
    assert len(splits["test"]["lengths"]) == len(ctx.pieces["test"])


def test_midi_without_notes_is_skipped_and_named(tmp_path):
    from rnnkit.tasks.music import read_pieces

    write_pieces(tmp_path / "songs", 3)
    write_midi(tmp_path / "songs" / "silent.mid", [[]])
    write_midi(tmp_path / "songs" / "high.mid", [[("note_on", 0, 100, 0),
                                                   ("note_off", 0, 100, 96)]])
    with pytest.warns(UserWarning) as caught:
        rolls = read_pieces(tmp_path / "songs", folder_config(tmp_path / "songs"))
    message = str(caught[0].message)
    assert len(rolls) == 3
    assert "skipped 2 of 5 MIDI files" in message and "silent.mid: no notes" in message
    assert "high.mid: 1 note(s) outside pitches 48..84 left out" in message
    with pytest.raises(TaskError, match=r"silent\.mid: no notes in pitches 48\.\.84"):
        read_pieces(tmp_path / "songs" / "silent.mid", folder_config(tmp_path))


def test_bad_folders_and_files_name_the_file(tmp_path):
    from rnnkit.tasks.music import read_pieces

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no MIDI here")
    with pytest.raises(TaskError, match=r"empty: no MIDI files \(\.mid, \.midi\)"):
        read_pieces(tmp_path / "empty", folder_config(tmp_path))
    write_pieces(tmp_path / "songs", 2)
    (tmp_path / "songs" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(TaskError, match=r"broken\.mid: not a readable MIDI file"):
        read_pieces(tmp_path / "songs" / "broken.mid", folder_config(tmp_path))


def test_config_errors(tmp_path):
    from rnnkit.training.config import RunConfig

    task = MusicTask()
    assert any("lowest_pitch = 80 is above" in e for e in task.check(RunConfig(
        name="t", task=MusicConfig(lowest_pitch=80, highest_pitch=60))))
    assert any("steps_per_quarter" in e for e in task.check(RunConfig(
        name="t", task=MusicConfig(steps_per_quarter=4))))
    assert any("no such file or folder" in e for e in task.check(RunConfig(
        name="t", task=MusicConfig(data=str(tmp_path / "missing")))))
    assert not task.check(RunConfig(name="t", task=folder_config(tmp_path)))


FOLDER_CONFIG = """
name = "songs"
[task]
name = "music"
data = "songs"
steps_per_quarter = 4
lowest_pitch = 48
highest_pitch = 84
test_fraction = 0.2
val_fraction = 0.2
[model]
cell = "gru"
hidden_size = 8
[train]
steps = 4
batch_size = 4
eval_every = 2
progress = "off"
"""


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    from rnnkit.cli.main import main

    root = tmp_path_factory.mktemp("music-folder")
    write_pieces(root / "songs")
    (root / "songs.toml").write_text(FOLDER_CONFIG)
    assert main(["train", str(root / "songs.toml"), "--run-dir", str(root / "run")]) == 0
    return root


def test_run_on_a_folder_predicts_as_the_cli_prints(folder_run, capsys):
    from rnnkit.cli.main import main

    run, song = folder_run / "run", folder_run / "songs" / "p01.mid"
    assert (run / "report.md").is_file() and (run / "data.json").is_file()
    p = rnnkit.load(run)
    assert p.model.get_config()["num_units"] == 37
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(song)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == p.predict([str(song)])
    roll = piece(1)  # what p01.mid holds, at the run's sixteenth-note steps
    assert printed[0]["steps"] == len(roll)
    assert printed[0]["nll_per_step"] == pytest.approx(p.predict([roll])[0]["nll_per_step"])


def test_a_folder_of_midi_files_predicts_each_piece(folder_run, tmp_path):
    p = rnnkit.load(folder_run / "run")
    songs = folder_run / "songs"
    files = sorted(str(f) for f in songs.rglob("*") if f.suffix.lower() in (".mid", ".midi"))
    assert len(files) > len(list(songs.glob("*.mid"))) > 1  # pieces in a subfolder too
    assert p.predict_file(songs) == p.predict(files)  # every piece, as training reads them
    (tmp_path / "notes.txt").write_text("no music here")
    with pytest.raises(TaskError, match=r"no MIDI file \(\.mid, \.midi\) in it or below it"):
        p.predict_file(tmp_path)


def test_generate_primed_with_a_users_midi_file(folder_run, tmp_path, capsys):
    """``prime`` as a MIDI path primes with all of it; the output is at the run's
    resolution and pitches, and reads back as prime + the generated pitches."""
    from rnnkit.cli.main import main
    from rnnkit.data.music import read_midi_roll

    p = rnnkit.load(folder_run / "run")
    song = folder_run / "songs" / "p02.mid"
    out = p.generate(prime=str(song), max_new=6, seed=2, output=str(tmp_path / "o.mid"))
    same = p.generate(prompt=str(song), prime=0, max_new=6, seed=2)
    assert out["generated"] == same["generated"] and out["prime_steps"] == 10
    back = read_midi_roll(tmp_path / "o.mid", steps_per_quarter=4, lowest=48, keys=37).roll
    assert len(back) == 16  # the end of track marks the last step, silent or not
    np.testing.assert_array_equal(back[:10], piece(2))
    assert [(np.flatnonzero(f) + 48).tolist() for f in back[10:]] == out["generated"]
    with pytest.raises(TaskError, match="give the priming MIDI file once"):
        p.generate(prime=str(song), prompt=str(song))
    capsys.readouterr()
    assert main(["generate", str(folder_run / "run"), "--steps", "6", "--prime", "4",
                 "--prompt", str(song), "--seed", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == p.generate(prompt=str(song), prime=4, max_new=6, seed=2)


def test_generate_cli_primes_with_a_whole_midi_file(run, tmp_path, capsys):
    from rnnkit.cli.main import main

    song = roll_to_midi(random_roll(10, 2), tmp_path / "song.mid")
    capsys.readouterr()
    assert main(["generate", str(run), "--prime", str(song), "--steps", "6", "--seed", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == rnnkit.load(run).generate(prime=str(song), max_new=6, seed=2)
    assert printed["prime_steps"] == 10
