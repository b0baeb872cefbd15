"""rnnkit.data.music on hand-made MIDI files (issue 20): files written message by message
with mido, whose notes and ticks are known, read to rolls worked out by hand; rolls written
by ``roll_to_midi`` read back message by message with mido; the JSB loader on a tiny stand-in
registered under its name; whole warnings and error messages; the plot's figure inspected."""

from __future__ import annotations

import json
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data import datasets
from rnnkit.data.datasets import DataError, RemoteFile, sha256_of
from rnnkit.data.music import (
    LOWEST_PITCH,
    NUM_KEYS,
    MidiRoll,
    load_jsb,
    midi_files,
    midi_ticks,
    midi_to_roll,
    pitches_to_roll,
    plot_roll,
    read_midi_folder,
    read_midi_roll,
    roll_to_midi,
)

mido = pytest.importorskip("mido")


def write_midi(path: Path, tracks: list[list[tuple]], ticks_per_beat: int = 96) -> Path:
    """Each track a list of (kind, channel, note, absolute tick): note_on (velocity 64),
    note_off, or note_on0 (a note_on of velocity 0, which ends a note)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track = mido.MidiTrack()
        last = 0
        for kind, channel, note, tick in sorted(events, key=lambda e: e[3]):
            track.append(mido.Message("note_on" if kind == "note_on0" else kind,
                                      channel=channel, note=note,
                                      velocity=64 if kind == "note_on" else 0,
                                      time=tick - last))
            last = tick
        mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


def messages(path: Path) -> list[tuple]:
    """(absolute tick, type, fields) of every message of every track, as mido reads them."""
    out = []
    mid = mido.MidiFile(str(path))
    for i, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            fields = msg.dict()
            fields.pop("time")
            out.append((i, tick, fields.pop("type"), fields))
    return out


# -- rolls from pitch lists, and the JSB chorales ------------------------------------------

def test_pitches_to_roll_is_exact_at_the_range_ends():
    roll = pitches_to_roll([[21, 60], [], [108, "64"]])
    want = np.zeros((3, 88), np.uint8)
    want[0, [0, 39]] = 1
    want[2, [87, 43]] = 1
    assert roll.dtype == np.uint8
    np.testing.assert_array_equal(roll, want)
    for steps, p, t in (([[20]], 20, 0), ([[60], [109]], 109, 1)):
        with pytest.raises(DataError) as e:
            pitches_to_roll(steps)
        assert str(e.value) == f"pitch {p} at step {t} lies outside the piano range 21..108"


def test_jsb_reads_each_split_by_the_files_names(monkeypatch, tmp_path):
    raw = {"train": [[[60, 64], [62]], [[21]]], "valid": [[[108], [], [70]]],
           "test": [[[50, 51, 52]]]}
    root = tmp_path / "data"
    (root / "music").mkdir(parents=True)
    path = root / "music/jsb-chorales-quarter.json"
    path.write_text(json.dumps(raw))
    monkeypatch.setitem(datasets.DATASETS, "jsb-chorales",
                        [RemoteFile("music/jsb-chorales-quarter.json", None, sha256_of(path))])
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "empty"))
    splits = load_jsb(root)
    assert list(splits) == ["train", "val", "test"]
    for ours, theirs in (("train", "train"), ("val", "valid"), ("test", "test")):
        assert len(splits[ours]) == len(raw[theirs])
        for roll, steps in zip(splits[ours], raw[theirs]):
            want = np.zeros((len(steps), 88), np.uint8)
            for t, ps in enumerate(steps):
                want[t, [p - 21 for p in ps]] = 1
            np.testing.assert_array_equal(roll, want)
    with pytest.raises(DataError, match="not found"):
        load_jsb()  # the default root is $RNNKIT_DATA, which lacks the file


@pytest.mark.parametrize("per_quarter, want", [(1, (480, 480)), (4, (480, 120)),
                                               (3, (480, 160)), (7, (3360, 480)),
                                               (960, (960, 1)), (64, (960, 15))])
def test_midi_ticks_is_the_least_multiple_of_480(per_quarter, want):
    got = midi_ticks(per_quarter)
    assert got == want and all(type(t) is int for t in got)  # MIDI ticks are whole numbers


# -- writing ---------------------------------------------------------------------------------

def test_roll_to_midi_writes_the_expected_messages(tmp_path):
    roll = np.zeros((5, 4), np.uint8)
    roll[0:2, 0] = 1  # pitch 40, steps 0-1
    roll[2, 0] = 2  # any nonzero value sounds: pitch 40 again at step 2 (held: one note)
    roll[1, 3] = 1  # pitch 43 at step 1
    roll[2:4, 1] = 1  # pitch 41 at steps 2-3
    path = roll_to_midi(roll, str(tmp_path / "sub/dir/a.mid"), ticks_per_step=10,
                        ticks_per_beat=40, bpm=120, velocity=90, program=5, lowest=40)
    assert path == tmp_path / "sub/dir/a.mid"
    mid = mido.MidiFile(str(path))
    assert (mid.type, mid.ticks_per_beat, len(mid.tracks)) == (1, 40, 1)
    assert messages(path) == [
        (0, 0, "set_tempo", {"tempo": 500_000}),  # 60e6 / 120 microseconds a beat
        (0, 0, "program_change", {"channel": 0, "program": 5}),
        (0, 0, "note_on", {"channel": 0, "note": 40, "velocity": 90}),
        (0, 10, "note_on", {"channel": 0, "note": 43, "velocity": 90}),
        (0, 20, "note_off", {"channel": 0, "note": 43, "velocity": 0}),  # offs first
        (0, 20, "note_on", {"channel": 0, "note": 41, "velocity": 90}),
        (0, 30, "note_off", {"channel": 0, "note": 40, "velocity": 0}),
        (0, 40, "note_off", {"channel": 0, "note": 41, "velocity": 0}),
        (0, 50, "end_of_track", {}),  # the roll's 5 steps, the last one silent
    ]


def test_roll_to_midi_defaults_and_a_note_held_to_the_end(tmp_path):
    roll = np.zeros((2, NUM_KEYS), np.uint8)
    roll[:, 60 - LOWEST_PITCH] = 1
    path = roll_to_midi(roll, tmp_path / "d.mid")
    assert mido.MidiFile(str(path)).ticks_per_beat == 480
    assert messages(path) == [
        (0, 0, "set_tempo", {"tempo": 600_000}),  # 100 beats a minute
        (0, 0, "program_change", {"channel": 0, "program": 0}),
        (0, 0, "note_on", {"channel": 0, "note": 60, "velocity": 80}),
        (0, 960, "note_off", {"channel": 0, "note": 60, "velocity": 0}),
        (0, 960, "end_of_track", {}),
    ]


@pytest.mark.parametrize("shape, lowest, ok", [
    ((3, 88), 40, True), ((3, 88), 41, False), ((3, 128), 0, True), ((3, 5), -1, False),
    ((3, 1), 127, True), ((3, 1), 128, False), ((3,), 21, False), ((2, 3, 4), 21, False)])
def test_roll_to_midi_checks_shape_and_pitch_range(tmp_path, shape, lowest, ok):
    roll = np.zeros(shape, np.uint8)
    if ok:
        assert roll_to_midi(roll, tmp_path / "a.mid", lowest=lowest).is_file()
        return
    with pytest.raises(ValueError) as e:
        roll_to_midi(roll, tmp_path / "a.mid", lowest=lowest)
    assert str(e.value) == (f"a piano roll is (T, K) with pitches {lowest}..{lowest}+K-1 "
                            f"within 0..127, got shape {shape}")
    assert not (tmp_path / "a.mid").exists()


# -- reading ---------------------------------------------------------------------------------

def _roll(length: int, keys: int, notes: list[tuple[int, int, int]]) -> np.ndarray:
    """(key, first step, end step) -> a (length, keys) uint8 roll."""
    roll = np.zeros((length, keys), np.uint8)
    for k, a, b in notes:
        roll[a:b, k] = 1
    return roll


def test_steps_snap_to_the_nearest_boundary(tmp_path):
    """96 ticks a beat, 2 steps a beat: steps of 48 ticks; Python rounds halves to even."""
    path = write_midi(tmp_path / "s.mid", [[
        ("note_on", 0, 60, 24), ("note_off", 0, 60, 71),  # 0.5 -> 0, 1.48 -> 1: step 0
        ("note_on", 0, 61, 72), ("note_off", 0, 61, 120),  # 1.5 -> 2, 2.5 -> 2: 1 step
        ("note_on", 0, 62, 73), ("note_off", 0, 62, 167),  # 1.52 -> 2, 3.48 -> 3: step 2
        ("note_on", 0, 63, 0), ("note_on", 0, 63, 48),  # a second note_on while sounding:
        ("note_off", 0, 63, 96),  # the first onset counts, the off ends it (steps 0-1)
        ("note_off", 0, 64, 100),  # an off with no note sounding: nothing
    ]])
    read = read_midi_roll(path, steps_per_quarter=2, lowest=60, keys=5)
    np.testing.assert_array_equal(read.roll, _roll(  # the track ends at 167: 3 steps
        3, 5, [(0, 0, 1), (1, 2, 3), (2, 2, 3), (3, 0, 2)]))
    assert (read.notes, read.out_of_range, read.drums) == (4, 0, 0)
    same = read_midi_roll(path, ticks_per_step=48, lowest=60, keys=5)
    np.testing.assert_array_equal(same.roll, read.roll)


def test_default_step_is_a_quarter_note_and_notes_left_on_end_with_their_track(tmp_path):
    path = write_midi(tmp_path / "q.mid", [
        [("note_on", 0, 21, 0), ("note_on", 0, 108, 96), ("note_off", 0, 21, 192)],
        [("note_on", 1, 60, 288), ("note_off", 1, 60, 480)],
    ])
    read = read_midi_roll(path)  # 96 ticks a step, 88 keys from 21
    # 108 is never ended: it lasts to the end of its own track (tick 192 -> step 2)
    np.testing.assert_array_equal(read.roll, _roll(5, 88, [(0, 0, 2), (87, 1, 2),
                                                          (39, 3, 5)]))
    np.testing.assert_array_equal(midi_to_roll(path), read.roll)
    np.testing.assert_array_equal(midi_to_roll(path, lowest=60, keys=1),
                                  _roll(5, 1, [(0, 3, 5)]))


def test_track_length_sets_the_roll_length(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    mid.tracks.append(mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=64, time=0),
        mido.Message("note_off", note=60, velocity=0, time=48),
        mido.MetaMessage("end_of_track", time=240)]))  # the track ends at tick 288
    path = tmp_path / "l.mid"
    mid.save(str(path))
    read = read_midi_roll(path, ticks_per_step=48, lowest=60, keys=1)
    np.testing.assert_array_equal(read.roll, _roll(6, 1, [(0, 0, 1)]))


def test_pitch_range_and_drums_are_counted_at_their_edges(tmp_path):
    path = write_midi(tmp_path / "r.mid", [[
        ("note_on", 0, 59, 0), ("note_off", 0, 59, 96),  # lowest - 1: out
        ("note_on", 0, 60, 0), ("note_off", 0, 60, 96),  # lowest: in
        ("note_on", 0, 63, 0), ("note_off", 0, 63, 96),  # lowest + keys - 1: in
        ("note_on", 0, 64, 0), ("note_off", 0, 64, 96),  # lowest + keys: out
        ("note_on", 9, 61, 96), ("note_off", 9, 61, 192),  # drums
        ("note_on", 8, 62, 96), ("note_off", 8, 62, 192),  # channel 9 (counted from 1)
        ("note_on", 9, 35, 96), ("note_off", 9, 35, 192),  # drums, out of range too
    ]])
    read = read_midi_roll(path, lowest=60, keys=4)
    np.testing.assert_array_equal(read.roll, _roll(2, 4, [(0, 0, 1), (3, 0, 1), (2, 1, 2)]))
    assert (read.notes, read.out_of_range, read.drums) == (3, 2, 2)
    assert read.note(60, 4) == ("2 note(s) outside pitches 60..63 and 2 percussion note(s) "
                                "(channel 10) left out")
    drums = read_midi_roll(path, lowest=60, keys=4, drums=True)
    assert (drums.notes, drums.out_of_range, drums.drums) == (4, 3, 0)
    assert drums.roll[1, 1] == 1


def test_note_says_what_was_left_out():
    roll = np.zeros((1, 1), np.uint8)
    assert MidiRoll(roll, 1, 0, 0).note(21, 88) == ""
    assert MidiRoll(roll, 1, 3, 0).note(21, 88) == "3 note(s) outside pitches 21..108 left out"
    assert MidiRoll(roll, 1, 0, 2).note(40, 10) == ("2 percussion note(s) (channel 10) "
                                                    "left out")


def test_an_unreadable_file_is_named(tmp_path):
    path = tmp_path / "bad.mid"
    path.write_bytes(b"not midi at all")
    with pytest.raises(DataError) as e:
        read_midi_roll(path)
    assert re.fullmatch(re.escape(f"{path}: not a readable MIDI file (") + r".+\)",
                        str(e.value))


@pytest.mark.parametrize("data", [b"", b"MThd garbage"])
def test_a_file_that_ends_too_early_says_so(tmp_path, data):
    path = tmp_path / "cut.mid"  # mido's error for these is an EOFError with no text
    path.write_bytes(data)
    with pytest.raises(DataError) as e:
        read_midi_roll(path)
    assert str(e.value) == f"{path}: not a readable MIDI file (the file ends too early)"


# -- folders ---------------------------------------------------------------------------------

def _one_note(path: Path, pitch: int, channel: int = 0) -> Path:
    return write_midi(path, [[("note_on", channel, pitch, 0), ("note_off", channel, pitch, 96)]])


def test_midi_files_are_found_recursively_in_path_order(tmp_path):
    for name in ("b.mid", "a/z.MIDI", "a/y.Mid", "c.midi", "notes.txt", "x.mid.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "folder.mid").mkdir()  # a folder, not a file
    assert midi_files(tmp_path) == [tmp_path / n for n in ("a/y.Mid", "a/z.MIDI", "b.mid",
                                                           "c.midi")]
    assert midi_files(str(tmp_path / "a")) == [tmp_path / "a/y.Mid", tmp_path / "a/z.MIDI"]


def test_hidden_midi_files_and_macos_zip_copies_are_passed_over(tmp_path):
    root = tmp_path / ".cache" / "songs"  # a hidden folder above the root is fine
    for name in ("a.mid", "._a.mid", ".hidden/b.mid", "__MACOSX/._a.mid", "__MACOSX/a.mid",
                 "sub/c.mid", "sub/.d.mid", "sub/__MACOSX_notes/e.mid"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    assert midi_files(root) == [root / "a.mid", root / "sub/__MACOSX_notes/e.mid",
                                root / "sub/c.mid"]


def test_folder_reading_warns_once_with_every_count(tmp_path):
    _one_note(tmp_path / "a.mid", 60)
    _one_note(tmp_path / "b.mid", 100)  # out of range: skipped
    _one_note(tmp_path / "c.mid", 61, channel=9)  # drums only: skipped
    write_midi(tmp_path / "d.mid", [[]])  # no notes: skipped
    write_midi(tmp_path / "e.mid", [[("note_on", 0, 62, 0), ("note_off", 0, 62, 96),
                                     ("note_on", 0, 30, 0), ("note_off", 0, 30, 96)]])
    with pytest.warns(UserWarning) as caught:
        rolls = read_midi_folder(str(tmp_path), lowest=60, keys=4)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"{tmp_path}: left out 3 notes outside pitches 60..63 or on the drum channel; "
        "skipped 3 of 5 MIDI files that cannot be used: "
        f"{tmp_path / 'b.mid'}: 1 note(s) outside pitches 60..63 left out; "
        f"{tmp_path / 'c.mid'}: 1 percussion note(s) (channel 10) left out; "
        f"{tmp_path / 'd.mid'}: no notes")
    assert len(rolls) == 2
    np.testing.assert_array_equal(rolls[0], _roll(1, 4, [(0, 0, 1)]))
    np.testing.assert_array_equal(rolls[1], _roll(1, 4, [(2, 0, 1)]))
    with pytest.warns(UserWarning) as caught:
        rolls = read_midi_folder(tmp_path, lowest=60, keys=4, drums=True)
    assert len(rolls) == 3 and str(caught[0].message).startswith(
        f"{tmp_path}: left out 2 notes outside pitches 60..63; skipped 2 of 5")


def test_a_single_file_and_a_clean_folder_read_without_warnings(tmp_path):
    path = _one_note(tmp_path / "a.mid", 60)
    _one_note(tmp_path / "b.mid", 62)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (one,) = read_midi_folder(path, ticks_per_step=48)
        both = read_midi_folder(tmp_path)
    np.testing.assert_array_equal(one, _roll(2, 88, [(39, 0, 2)]))
    assert [r.shape for r in both] == [(1, 88), (1, 88)] and both[1][0, 41] == 1


def test_more_than_ten_empty_files_are_cut_short(tmp_path):
    _one_note(tmp_path / "a.mid", 60)
    for i in range(11):
        write_midi(tmp_path / f"e{i:02d}.mid", [[]])
    with pytest.warns(UserWarning) as caught:
        read_midi_folder(tmp_path)
    listed = "; ".join(f"{tmp_path / f'e{i:02d}.mid'}: no notes" for i in range(10))
    assert str(caught[0].message) == (f"{tmp_path}: skipped 11 of 12 MIDI files that cannot "
                                      f"be used: {listed} ...")
    (tmp_path / "e10.mid").unlink()
    with pytest.warns(UserWarning) as caught:
        read_midi_folder(tmp_path)
    assert str(caught[0].message).endswith(f"{tmp_path / 'e09.mid'}: no notes")


def test_folder_errors_are_whole(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError) as e:
        read_midi_folder(tmp_path / "none")
    assert str(e.value) == (f"{tmp_path / 'none'}: no MIDI files (.mid, .midi) in this "
                            "folder or below it")
    for i in range(6):
        write_midi(tmp_path / f"silent/s{i}.mid", [[]])
    with pytest.raises(DataError) as e:
        read_midi_folder(tmp_path / "silent", lowest=30, keys=10)
    listed = "; ".join(f"{tmp_path / f'silent/s{i}.mid'}: no notes" for i in range(5))
    assert str(e.value) == (f"{tmp_path / 'silent'}: none of its 6 MIDI file(s) can be used "
                            f"(each is unreadable or holds no notes in pitches 30..39): "
                            f"{listed} ...")


# -- plotting --------------------------------------------------------------------------------

def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _drawn(monkeypatch, roll, path, **kw):
    """plot_roll's figure, kept from being closed, and pyplot's own close."""
    plt = pytest.importorskip("matplotlib.pyplot")
    close, kept = plt.close, []
    monkeypatch.setattr(plt, "close", kept.append)
    assert plot_roll(roll, path, **kw) == Path(path)
    (fig,) = kept
    return fig, close


def test_plot_draws_the_roll_pitch_up_with_the_prime_marked(monkeypatch, tmp_path):
    roll = _roll(30, 20, [(5, 0, 4), (12, 10, 30), (8, 3, 5)])
    fig, close = _drawn(monkeypatch, roll, tmp_path / "p/q/roll.png", title="T", prime=7,
                        lowest=50, step="eighth note")
    assert _png_size(tmp_path / "p/q/roll.png") == (600, 400)  # at least 6 x 4 inches
    (ax,) = fig.axes
    (image,) = ax.images
    np.testing.assert_array_equal(image.get_array(), roll.T)
    assert list(image.get_extent()) == [0, 30, 49.5, 69.5] and image.origin == "lower"
    # sounding keys dark on white, one crisp cell per step and key, filling the axes
    assert tuple(image.cmap(1.0))[:3] < (0.1, 0.1, 0.1) and tuple(image.cmap(0.0)) == (
        1.0, 1.0, 1.0, 1.0)
    assert image.get_interpolation() == "nearest" and ax.get_aspect() == "auto"
    assert ax.get_ylim() == (52, 65)  # three pitches beyond the lowest and highest used
    (line,) = ax.lines
    assert list(line.get_xdata()) == [7, 7] and line.get_label() == "end of prime (7 steps)"
    assert line.get_color() == "tab:red" and line.get_linewidth() == 1
    assert ax.get_legend()._loc == 1  # upper right
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["end of prime (7 steps)"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "step (eighth note)", "MIDI pitch", "T")
    close(fig)


def test_plot_defaults_a_long_and_an_empty_roll(monkeypatch, tmp_path):
    fig, close = _drawn(monkeypatch, np.zeros((90, 88), np.uint8), tmp_path / "e.png")
    assert _png_size(tmp_path / "e.png") == (900, 400)  # a tenth of an inch a step
    (ax,) = fig.axes
    assert len(ax.lines) == 0 and ax.get_legend() is None and ax.get_title() == ""
    assert ax.get_xlabel() == "step (quarter note)"
    assert list(ax.images[0].get_extent()) == [0, 90, 20.5, 108.5]
    assert ax.get_ylim() == (20.5, 108.5)  # nothing used: the whole range
    close(fig)


def test_plot_size_does_not_depend_on_the_users_dpi_setting(monkeypatch, tmp_path):
    mpl = pytest.importorskip("matplotlib")
    with mpl.rc_context({"figure.dpi": 50, "savefig.dpi": "figure"}):
        fig, close = _drawn(monkeypatch, np.ones((10, 4), np.uint8), tmp_path / "d.png")
    assert _png_size(tmp_path / "d.png") == (600, 400)
    close(fig)


def test_velocity_zero_note_on_ends_a_note_and_velocity_one_starts_one(tmp_path):
    path = write_midi(tmp_path / "v.mid", [[
        ("note_on", 0, 60, 0), ("note_on0", 0, 60, 96),  # ends at step 1
        ("note_on", 0, 61, 192), ("note_off", 0, 61, 288)]])
    mid = mido.MidiFile(str(path))
    mid.tracks[0].insert(0, mido.Message("note_on", note=62, velocity=1, time=0))
    mid.tracks[0].insert(1, mido.Message("note_off", note=62, velocity=0, time=0))
    mid.tracks[0][2].time = 0
    mid.save(str(path))
    assert [(m.type, getattr(m, "velocity", None)) for m in mid.tracks[0]][:3] == [
        ("note_on", 1), ("note_off", 0), ("note_on", 64)]
    read = read_midi_roll(path, lowest=60, keys=3)
    np.testing.assert_array_equal(read.roll, _roll(3, 3, [(0, 0, 1), (1, 2, 3), (2, 0, 1)]))


def test_a_file_without_notes_or_ticks_has_no_steps(tmp_path):
    path = write_midi(tmp_path / "e.mid", [[], []])
    assert read_midi_roll(path, ticks_per_step=1).roll.shape == (0, 88)


def test_reading_without_mido_names_the_extra(tmp_path, monkeypatch):
    import sys

    from rnnkit._optional import MissingExtraError

    path = _one_note(tmp_path / "a.mid", 60)
    monkeypatch.setitem(sys.modules, "mido", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[music\]'"):
        read_midi_roll(path)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[music\]'"):
        roll_to_midi(np.ones((2, 88)), tmp_path / "b.mid")


def test_the_folder_warning_points_at_the_caller(tmp_path):
    import os

    _one_note(tmp_path / "a.mid", 60)
    write_midi(tmp_path / "b.mid", [[]])
    with pytest.warns(UserWarning) as caught:
        read_midi_folder(tmp_path)
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutmut's trampoline adds frames
        assert caught[0].filename == __file__
