"""The music task (rnnkit/tasks/music.py) in detail, on untrained models (no training run):
the config's defaults, bounds and cross-field checks, transposition, the tensors of a split,
the JSB chorales cut to a pitch range (on a stand-in), MIDI files read at the run's
resolution, frame accuracy counted by hand, and the predictor's read_file, predict, stream
and generate against hand-run model calls (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit.tasks.music as mmod
from rnnkit.data.datasets import DataError
from rnnkit.data.music import read_midi_roll, roll_to_midi
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.music import (
    MusicConfig,
    MusicStream,
    as_roll,
    num_keys,
    read_midi,
    read_pieces,
    to_tensors,
    transposed,
)
from rnnkit.tasks.runner import config_from_raw
from rnnkit.training.config import RunConfig

mido = pytest.importorskip("mido")

TASK = TASKS["music"]
K = 4  # pitches 60..63


def _roll(rows) -> np.ndarray:
    return np.array(rows, dtype=np.uint8)


TRAIN = _roll([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]])
VAL = [_roll([[0, 1, 0, 0], [0, 1, 1, 0]]), _roll([[1, 0, 0, 1]]),
       _roll([[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 0]])]
TEST = _roll([[0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [1, 1, 0, 0]])


def _jsb() -> dict[str, list[np.ndarray]]:
    """A JSB stand-in of 88 keys whose notes lie in pitches 60..63 (columns 39..42)."""
    def wide(r):
        out = np.zeros((len(r), 88), np.uint8)
        out[:, 39:43] = r
        return out
    return {"train": [wide(TRAIN)], "val": [wide(r) for r in VAL], "test": [wide(TEST)]}


@pytest.fixture
def jsb(monkeypatch):
    monkeypatch.setattr(mmod, "load_jsb", _jsb)


def _config(model=None, batch_size=2, **task):
    return config_from_raw({
        "name": "m", "seed": 0,
        "task": {"name": "music", "lowest_pitch": 60, "highest_pitch": 63, **task},
        "model": {"cell": "gru", "hidden_size": 5, **(model or {})},
        "train": {"steps": 1, "batch_size": batch_size, "threads": 1, "progress": "off"},
        "diagnostics": {"every": 0}}, "test")


def _ctx(**kw):
    return TASK.setup(_config(**kw))


def _predictor(seed=0, **kw):
    ctx = _ctx(**kw)
    torch.manual_seed(seed)
    model = TASK.build_model(ctx)
    return TASK.predictor(ctx, model, TASK.info(ctx, model))


def _midi(path: Path, roll, steps_per_quarter=1, lowest=60) -> Path:
    beat, step = mmod.midi_ticks(steps_per_quarter)
    return roll_to_midi(np.asarray(roll), path, ticks_per_step=step, ticks_per_beat=beat,
                        lowest=lowest)


def _own_files(tmp_path, steps_per_quarter=1):
    """train/val/test MIDI files of the rolls above."""
    return {f"{s}_data": str(_midi(tmp_path / f"{s}.mid", r, steps_per_quarter))
            for s, r in (("train", TRAIN), ("val", VAL[0]), ("test", TEST))}


# -- config --------------------------------------------------------------------------------
def test_config_defaults_and_bounds():
    cfg = MusicConfig()
    assert (cfg.name, cfg.steps_per_quarter, cfg.lowest_pitch, cfg.highest_pitch, cfg.drums,
            cfg.transpose) == ("music", 1, 21, 108, False, 0)
    bounds = {f.name: (f.metadata.get("min"), f.metadata.get("max")) for f in fields(cfg)}
    assert bounds["steps_per_quarter"] == (1, 64)
    assert bounds["lowest_pitch"] == bounds["highest_pitch"] == (0, 127)
    assert bounds["transpose"] == (0, 12)
    assert num_keys(cfg) == 88 and num_keys(MusicConfig(lowest_pitch=60, highest_pitch=63)) == 4


def _check(**task):
    return TASK.check(RunConfig(name="t", task=MusicConfig(**task)))


JSB_RANGE = ("the JSB chorales hold pitches 21..108: keep task.lowest_pitch/highest_pitch "
             "within them, or name your MIDI files with task.data")
JSB_STEPS = ("task.steps_per_quarter: the JSB chorales come at one step per quarter note; "
             "other resolutions need your MIDI files (task.data)")


def test_check_messages_and_edges(tmp_path):
    assert _check() == [] and _check(lowest_pitch=60, highest_pitch=60) == []
    assert _check(lowest_pitch=110, highest_pitch=100) == [
        "task.lowest_pitch = 110 is above task.highest_pitch = 100"]
    assert _check(lowest_pitch=20) == [JSB_RANGE]
    assert _check(highest_pitch=109) == [JSB_RANGE]
    assert _check(lowest_pitch=21, highest_pitch=108) == []
    assert _check(steps_per_quarter=4) == [JSB_STEPS]
    assert _check(steps_per_quarter=2, lowest_pitch=0) == [JSB_RANGE, JSB_STEPS]
    own = str(_midi(tmp_path / "a.mid", TRAIN))
    assert _check(data=own, lowest_pitch=0, highest_pitch=127, steps_per_quarter=4) == []
    assert _check(data=own, lowest_pitch=5, highest_pitch=4) == [
        "task.lowest_pitch = 5 is above task.highest_pitch = 4"]
    missing = _check(data=str(tmp_path / "nope"))
    assert len(missing) == 1 and "no such file or folder" in missing[0]


# -- rolls, tensors, files -----------------------------------------------------------------
def test_transposed_keeps_notes_within_the_keys():
    roll = np.zeros((3, 5), np.uint8)
    roll[0, 1] = roll[2, 3] = 1
    assert transposed(roll, 0) is roll
    for shift, cols in ((1, [2, 4]), (-1, [0, 2]), (2, None), (-2, None)):
        got = transposed(roll, shift)
        if cols is None:
            assert got is None, shift
        else:
            want = np.zeros_like(roll)
            want[0, cols[0]] = want[2, cols[1]] = 1
            np.testing.assert_array_equal(got, want)
    wide = np.zeros((2, 6), np.uint8)
    wide[:, 4] = 1  # keys, not steps, decide: steps 0..1 would fit a shift of 2
    assert transposed(wide, 2) is None and transposed(wide, 1)[:, 5].all()
    assert transposed(wide, -4)[:, 0].all() and transposed(wide, -5) is None
    empty = np.zeros((2, 3), np.uint8)
    np.testing.assert_array_equal(transposed(empty, 7), empty)


def test_to_tensors_pads_and_puts_a_zero_frame_first():
    a, b = _roll([[1, 0], [0, 1]]), _roll([[1, 1], [0, 0], [1, 0]])
    t = to_tensors([a, b])
    assert t["y"].dtype == torch.float32 and t["lengths"].tolist() == [2, 3]
    assert t["y"].tolist() == [[[1, 0], [0, 1], [0, 0]], [[1, 1], [0, 0], [1, 0]]]
    assert t["x"].tolist() == [[[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 1], [0, 0]]]


def test_as_roll_thresholds_and_names_the_input():
    got = as_roll([[0.5, 0.51, 1, 0], [2, -1, 0.6, 0.4]], "x", K)
    assert got.dtype == np.uint8 and got.tolist() == [[0, 1, 1, 0], [1, 0, 1, 0]]
    assert as_roll(np.ones((1, 88)), "y").shape == (1, 88)
    cases = [("abc", "x is not a sequence of frames (could not convert string to float: "
                     "'abc')"),
             ([1, 0, 0, 1], "x must be a piano roll (T, 4) with T >= 1, got shape (4,)"),
             (np.zeros((2, 3)), "x must be a piano roll (T, 4) with T >= 1, got shape (2, 3)"),
             (np.zeros((0, 4)), "x must be a piano roll (T, 4) with T >= 1, got shape (0, 4)"),
             ([[0, np.nan, 0, 0]], "x holds NaN or infinite values"),
             ([[0, 0, np.inf, 0]], "x holds NaN or infinite values")]
    for item, message in cases:
        with pytest.raises(TaskError) as e:
            as_roll(item, "x", K)
        assert str(e.value) == message
        assert e.value.__cause__ is None
    with pytest.raises(TaskError, match=r"\(T, 88\)"):
        as_roll(np.zeros((1, 4)), "y")
    with pytest.raises(TaskError) as e:
        as_roll([[1, 2], [3]], "z", 2)
    assert str(e.value).startswith("z is not a sequence of frames (")
    assert e.value.__suppress_context__


def _drum_file(path: Path) -> Path:
    """One quarter note at pitch 61 on the drum channel, then one at 62 on channel 0."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack()
    track.extend([mido.Message("note_on", channel=9, note=61, velocity=64, time=0),
                  mido.Message("note_off", channel=9, note=61, velocity=0, time=480),
                  mido.Message("note_on", channel=0, note=62, velocity=64, time=0),
                  mido.Message("note_off", channel=0, note=62, velocity=0, time=480)])
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def test_read_midi_reads_as_the_config_says_and_names_the_file(tmp_path):
    path = _midi(tmp_path / "a.mid", TEST, steps_per_quarter=2)
    cfg = MusicConfig(steps_per_quarter=2, lowest_pitch=60, highest_pitch=63)
    np.testing.assert_array_equal(read_midi(path, cfg).roll, TEST)
    default = read_midi(path).roll  # 88 keys, a step per quarter note: half as many steps
    assert default.shape == (3, 88) and default[:, 39:43].sum() > 0
    drums = _drum_file(tmp_path / "d.mid")
    assert read_midi(drums, cfg).roll.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0],
                                                    [0, 0, 1, 0]]
    cfg_drums = MusicConfig(steps_per_quarter=2, lowest_pitch=60, highest_pitch=63, drums=True)
    assert read_midi(drums, cfg_drums).roll.tolist() == [[0, 1, 0, 0], [0, 1, 0, 0],
                                                         [0, 0, 1, 0], [0, 0, 1, 0]]
    missing = tmp_path / "missing.mid"
    for what, prefix in (("--prompt", f"--prompt {missing}"), ("", f"{missing}")):
        with pytest.raises(TaskError) as e:
            read_midi(missing, cfg, what)
        assert str(e.value) == f"{prefix}: no such MIDI file"
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    for what, prefix in (("--prompt", f"--prompt {bad}"), ("", f"{bad}")):
        with pytest.raises(TaskError) as e:
            read_midi(bad, cfg, what)
        assert str(e.value).startswith(f"{prefix}: not a readable MIDI file (")
        assert e.value.__cause__ is None and e.value.__suppress_context__


def test_read_pieces_reads_a_folder_as_the_config_says(tmp_path):
    _midi(tmp_path / "s" / "a.mid", TEST, steps_per_quarter=2)
    _drum_file(tmp_path / "s" / "b.mid")
    cfg = MusicConfig(steps_per_quarter=2, lowest_pitch=60, highest_pitch=63, drums=True)
    got = read_pieces(tmp_path / "s", cfg)
    assert len(got) == 2
    np.testing.assert_array_equal(got[0], TEST)
    assert got[1].tolist() == [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]]
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskError) as e:
        read_pieces(tmp_path / "empty", cfg)
    assert str(e.value) == (f"{tmp_path / 'empty'}: no MIDI files (.mid, .midi) in this "
                            "folder or below it")
    assert e.value.__cause__ is None and e.value.__suppress_context__


# -- the context and the splits ------------------------------------------------------------
def test_jsb_pieces_are_cut_to_the_range_and_the_loss_counted(monkeypatch):
    jsb = _jsb()
    jsb["train"][0][0, 38] = jsb["train"][0][1, 43] = jsb["test"][0][2, 87] = 1  # 59, 64, 108
    monkeypatch.setattr(mmod, "load_jsb", lambda: jsb)
    ctx = _ctx()
    with pytest.warns(UserWarning) as w:
        pieces = ctx.pieces
    assert [str(x.message) for x in w] == [
        "JSB chorales: 3 sounding keys outside pitches 60..63 left out"]
    assert w[0].filename != mmod.__file__
    np.testing.assert_array_equal(pieces["train"][0], TRAIN)
    for got, want in zip(pieces["val"], VAL, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(pieces["test"][0], TEST)


def test_jsb_in_range_warns_nothing_and_its_errors_are_task_errors(jsb, monkeypatch):
    ctx = _ctx(lowest_pitch=61, highest_pitch=62)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ = _ctx().pieces
    with pytest.warns(UserWarning, match="JSB chorales: 10 sounding keys outside pitches "
                                         "61..62 left out"):
        assert ctx.pieces["test"][0].tolist() == TEST[:, 1:3].tolist()

    def broken():
        raise DataError("jsb: checksum mismatch")
    monkeypatch.setattr(mmod, "load_jsb", broken)
    with pytest.raises(TaskError) as e:
        _ = _ctx().pieces
    assert str(e.value) == "jsb: checksum mismatch" and e.value.__suppress_context__


def test_own_midi_files_are_read_at_the_runs_resolution(tmp_path, monkeypatch):
    monkeypatch.setattr(mmod, "load_jsb", lambda: pytest.fail("read the JSB chorales"))
    ctx = _ctx(steps_per_quarter=2, **_own_files(tmp_path, 2))
    pieces = ctx.pieces
    np.testing.assert_array_equal(pieces["train"][0], TRAIN)
    np.testing.assert_array_equal(pieces["val"][0], VAL[0])
    np.testing.assert_array_equal(pieces["test"][0], TEST)


def test_make_splits_transposes_training_pieces_only(jsb):
    t = TASK.make_splits(_ctx(transpose=1))
    # TRAIN uses keys 0..2: down 1 leaves the keys, so only shifts 0 and +1
    assert t["train"]["lengths"].tolist() == [3, 3]
    assert t["train"]["y"][0].tolist() == TRAIN.tolist()
    assert t["train"]["y"][1].tolist() == np.roll(TRAIN, 1, axis=1).tolist()
    assert t["val"]["lengths"].tolist() == [2, 1, 3] and t["test"]["lengths"].tolist() == [5]
    assert t["test"]["y"][0].tolist() == TEST.tolist()
    assert t["test"]["x"][0, 1:].tolist() == TEST[:-1].tolist()
    assert t["val"]["y"][2].tolist() == VAL[2].tolist()
    assert TASK.make_splits(_ctx())["train"]["lengths"].tolist() == [3]


def test_make_splits_tries_every_shift_up_to_transpose(monkeypatch):
    jsb = _jsb()
    jsb["train"] = [np.zeros((2, 88), np.uint8)]
    jsb["train"][0][:, 40] = 1  # pitch 61: one key of room on either side in 60..63 ...
    monkeypatch.setattr(mmod, "load_jsb", lambda: jsb)
    t = TASK.make_splits(_ctx(transpose=2))  # ... and two above: shifts -1..+2 of -2..+2
    assert [int(y[0].argmax()) for y in t["train"]["y"]] == [0, 1, 2, 3]
    assert TASK.model_args(_ctx()) == {"num_units": 4}


# -- evaluation ----------------------------------------------------------------------------
def _fixed(ctx, bias):
    """A model that predicts the logits ``bias`` at every step."""
    model = TASK.build_model(ctx)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(bias))
    return model


def test_frame_accuracy_counts_the_whole_split_without_padding(jsb):
    ctx = _ctx(batch_size=2)
    model = _fixed(ctx, [5.0, 0.0, -5.0, 3.0])  # keys 0 and 3 on (a logit of 0 is off)
    # VAL: frames (0100)(0110) | (1001) | (0000)(1111)(0010): predicted 1001 each
    tp = 0 + 0 + 2 + 0 + 2 + 0
    union = 3 + 4 + 2 + 2 + 4 + 3
    got = TASK.extra_metrics(ctx, model, "val")
    assert got == {"frame_accuracy": pytest.approx(tp / union), "frames": 6.0}
    got = TASK.extra_metrics(ctx, model, "test")
    # TEST: (0011)(1000)(0100)(0001)(1100) against 1001
    assert got == {"frame_accuracy": pytest.approx((1 + 1 + 0 + 1 + 1) / (3 + 2 + 3 + 2 + 3)),
                   "frames": 5.0}
    silent = _fixed(ctx, [-1.0, -1.0, -1.0, -1.0])
    ctx2 = _ctx()  # no key on, none predicted: an accuracy of 0, not a division by 0
    ctx2.pieces["test"] = [np.zeros((2, K), np.uint8)]
    assert TASK.extra_metrics(ctx2, silent, "test") == {"frame_accuracy": 0.0, "frames": 2.0}


def test_frame_accuracy_reads_the_model_in_eval_mode(jsb):
    ctx = _ctx(model={"dropout": 0.9}, batch_size=8)
    torch.manual_seed(3)
    model = TASK.build_model(ctx)
    with torch.no_grad():
        model.head.bias.fill_(0.3)
    model.eval()
    data = to_tensors(VAL)
    with torch.no_grad():
        logits = model(data["x"], data["lengths"]).logits
    valid = (torch.arange(3)[None] < data["lengths"][:, None]).unsqueeze(-1)
    pred, truth = (logits > 0) & valid, (data["y"] > 0.5) & valid
    want = int((pred & truth).sum()) / int((pred | truth).sum())
    model.train()
    for seed in range(3):
        torch.manual_seed(seed)
        assert TASK.extra_metrics(ctx, model, "val")["frame_accuracy"] == pytest.approx(want)


# -- the predictor -------------------------------------------------------------------------
def _alone(model, roll):
    """Logits (T+1, K) of the model reading the zero frame and ``roll``, unbatched."""
    full = torch.cat([torch.zeros(1, K), torch.from_numpy(roll.astype(np.float32))])
    with torch.no_grad():
        return model(full[None]).logits[0], full


def _want(model, roll):
    logits, full = _alone(model, roll)
    T = len(roll)
    nll = F.binary_cross_entropy_with_logits(logits[:T], full[1:], reduction="sum")
    return T, float(nll) / T, [round(float(p), 6) for p in torch.sigmoid(logits[T])]


def test_predict_scores_each_roll_as_the_model_alone_does(jsb):
    p = _predictor(seed=1)
    assert p.keys == 4
    rolls = [TEST, VAL[1], VAL[2].astype(float) * 0.9]
    got = p.predict(rolls)
    assert len(got) == 3
    for rec, roll in zip(got, rolls, strict=True):
        T, nll, probs = _want(p.model, (np.asarray(roll) > 0.5).astype(np.uint8))
        assert set(rec) == {"steps", "nll_per_step", "next_frame_probs"}
        assert rec["steps"] == T and rec["nll_per_step"] == pytest.approx(nll, rel=1e-5)
        assert rec["next_frame_probs"] == pytest.approx(probs, abs=2e-6)
        assert len(probs) == 4 and all(round(q, 6) == q for q in rec["next_frame_probs"])
    one = p.predict(TEST)  # one 2-D array is one input
    assert len(one) == 1 and one[0]["nll_per_step"] == pytest.approx(got[0]["nll_per_step"])
    assert p.predict([]) == []
    with pytest.raises(TaskError, match=r"^music input 1 must be a piano roll \(T, 4\)"):
        p.predict([TEST, np.zeros((2, 5))])
    with pytest.raises(TaskError) as e:  # a list of frames is a list of inputs
        p.predict(TEST.tolist())
    assert str(e.value) == "music input 0 must be a piano roll (T, 4) with T >= 1, got shape (4,)"


def test_predict_reads_midi_files_and_records_what_went_wrong(jsb, tmp_path):
    p = _predictor(seed=2)
    good = _midi(tmp_path / "good.mid", TEST)
    wide = np.zeros((2, 6), np.uint8)
    wide[0, 0] = wide[1, 2] = wide[1, 5] = 1  # pitches 59 (out), 61, 64 (out)
    outside = _midi(tmp_path / "outside.mid", wide, lowest=59)
    empty = _midi(tmp_path / "empty.mid", np.zeros((0, K), np.uint8))
    missing = tmp_path / "missing.mid"
    got = p.predict([str(missing), good, VAL[1], empty, outside])
    assert got[0] == {"file": str(missing), "error": f"{missing}: no such MIDI file"}
    assert got[3] == {"file": str(empty), "error": f"{empty}: the MIDI file holds no steps"}
    T, nll, probs = _want(p.model, TEST)
    assert got[1]["file"] == str(good) and "warning" not in got[1]
    assert got[1]["steps"] == T and got[1]["nll_per_step"] == pytest.approx(nll, rel=1e-5)
    assert "file" not in got[2] and got[2]["steps"] == 1
    assert got[2]["nll_per_step"] == pytest.approx(_want(p.model, VAL[1])[1], rel=1e-5)
    assert got[4]["warning"] == "2 note(s) outside pitches 60..63 left out"
    assert got[4]["steps"] == 2
    assert got[4]["nll_per_step"] == pytest.approx(
        _want(p.model, _roll([[0, 0, 0, 0], [0, 1, 0, 0]]))[1], rel=1e-5)
    single = p.predict(good)
    assert len(single) == 1 and single[0]["file"] == str(good)
    assert p.predict(Path(good))[0]["file"] == str(good)


def test_read_file_takes_midi_files_and_folders(jsb, tmp_path):
    p = _predictor()
    (tmp_path / "f").mkdir()
    for name in ("b.MIDI", "a.mid", "c.txt", "sub/c.mid", "._a.mid"):
        (tmp_path / "f" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "f" / name).write_bytes(b"")
    assert p.read_file(tmp_path / "f") == [str(tmp_path / "f" / "a.mid"),  # as training
                                           str(tmp_path / "f" / "b.MIDI"),  # reads them
                                           str(tmp_path / "f" / "sub" / "c.mid")]
    assert p.read_file(str(tmp_path / "x.MID")) == [str(tmp_path / "x.MID")]
    np.save(tmp_path / "r.npy", TEST.astype(float))
    (arr,) = p.read_file(tmp_path / "r.npy")
    np.testing.assert_array_equal(arr, TEST)
    (tmp_path / "none").mkdir()
    with pytest.raises(TaskError) as e:
        p.read_file(tmp_path / "none")
    assert str(e.value) == f"{tmp_path / 'none'}: no MIDI file (.mid, .midi) in it or below it"


def test_stream_scores_frame_by_frame_and_ends_where_predict_does(jsb):
    p = _predictor(seed=4)
    s = p.stream()
    assert isinstance(s, MusicStream) and s.keys == 4
    logits, full = _alone(p.model, TEST)
    total = 0.0
    for t, frame in enumerate(TEST.astype(float) * 0.8 + 0.1):
        rec = s.push(frame.tolist())
        nll = float(F.binary_cross_entropy_with_logits(logits[t], full[t + 1], reduction="sum"))
        total += nll
        assert rec["step"] == t + 1 and rec["nll"] == pytest.approx(nll, rel=1e-5)
        assert rec["nll_per_step"] == pytest.approx(total / (t + 1), rel=1e-5)
        assert rec["next_frame_probs"] == pytest.approx(
            [round(float(q), 6) for q in torch.sigmoid(logits[t + 1])], abs=2e-6)
    assert rec["nll_per_step"] == pytest.approx(p.predict(TEST)[0]["nll_per_step"], rel=1e-5)
    with pytest.raises(TaskError) as e:
        s.push([1, 0, 0])
    assert str(e.value) == ("stream frame 5 must be a piano roll (T, 4) with T >= 1, got "
                            "shape (1, 3)")
    s.reset()
    first = s.push(TEST[0])
    assert first["step"] == 1 and first["nll"] == pytest.approx(
        float(F.binary_cross_entropy_with_logits(logits[0], full[1], reduction="sum")), rel=1e-5)


def test_generate_rejects_bad_options_with_whole_messages(jsb, tmp_path):
    p = _predictor()
    cases = [(dict(top_k=2), "music draws each key on or off by itself: top-k and top-p do "
                             "not apply (use temperature)"),
             (dict(top_p=0.9), "music draws each key on or off by itself: top-k and top-p do "
                               "not apply (use temperature)"),
             (dict(temperature=-0.5), "temperature must be a number >= 0, got -0.5"),
             (dict(temperature=float("nan")), "temperature must be a number >= 0, got nan"),
             (dict(max_new=-1), "--steps must be >= 0, got -1"),
             (dict(prime="-2"), "--prime must be >= 0, got -2"),
             (dict(prime=-1), "--prime must be >= 0, got -1"),
             (dict(prime="a.mid", prompt="b.mid"),
              "--prime a.mid and --prompt b.mid: give the priming MIDI file once"),
             (dict(prime=6), "--prime 6: the priming piece has only 5 steps")]
    for options, message in cases:
        with pytest.raises(TaskError) as e:
            p.generate(**options)
        assert str(e.value) == message, options
    assert p.generate(max_new=0, top_p=None, top_k=0)["steps"] == 0
    with pytest.raises(TaskError) as e:  # not a number: a MIDI file's path
        p.generate(prime="X5")
    assert str(e.value) == "--prompt X5: no such MIDI file"
    assert p.generate(max_new=1, temperature=0)["steps"] == 1


def _sample(p, start, steps, temperature=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        new = p.model.generate(steps, prime=torch.from_numpy(start).float(),
                               temperature=temperature, generator=g)
    return new.numpy().astype(np.uint8)


def test_generate_primes_with_the_test_piece_and_samples_as_the_model(jsb):
    p = _predictor(seed=5)
    got = p.generate(max_new=6, prime=3, temperature=1.5, seed=7)
    new = _sample(p, TEST[:3], 6, 1.5, 7)
    assert got == {"prime_steps": 3, "steps": 6,
                   "notes_per_step": pytest.approx(float(new.sum(1).mean())),
                   "generated": [(np.flatnonzero(f) + 60).tolist() for f in new]}
    again = p.generate(max_new=6, prime="3", temperature=1.5, seed=7)
    assert again["generated"] == got["generated"]
    seed0 = [(np.flatnonzero(f) + 60).tolist() for f in _sample(p, np.zeros((0, K)), 6)]
    assert p.generate(max_new=6, seed=None)["generated"] == seed0
    assert p.generate(max_new=6)["generated"] == seed0
    assert p.generate(temperature=0)["steps"] == 64
    zero = _sample(p, np.zeros((0, K), np.uint8), 8, 0.0, 0)
    assert p.generate(max_new=8, temperature=0)["generated"] == [
        (np.flatnonzero(f) + 60).tolist() for f in zero]
    assert p.generate(max_new=0) == {"prime_steps": 0, "steps": 0, "notes_per_step": 0.0,
                                     "generated": []}


def test_generate_without_a_prime_reads_no_data(monkeypatch):
    monkeypatch.setattr(mmod, "load_jsb", lambda: pytest.fail("read the JSB chorales"))
    p = _predictor(seed=6)
    got = p.generate(max_new=4, seed=3)
    new = _sample(p, np.zeros((0, K), np.uint8), 4, 1.0, 3)
    assert got["prime_steps"] == 0
    assert got["generated"] == [(np.flatnonzero(f) + 60).tolist() for f in new]


def test_generate_primes_with_a_midi_file_and_writes_the_piece(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(mmod, "plot_roll", lambda roll, path, **kw: calls.append(
        (roll.copy(), path, kw)) or Path(path))
    p = _predictor(seed=8, steps_per_quarter=2, **_own_files(tmp_path, 2))
    song = _midi(tmp_path / "song.mid", TEST, steps_per_quarter=2)
    out, png = tmp_path / "out.mid", tmp_path / "roll.png"
    got = p.generate(str(song), max_new=5, prime=2, output=str(out), plot=str(png), seed=1)
    new = _sample(p, TEST[:2], 5, 1.0, 1)
    assert got["prime_steps"] == 2 and got["output"] == str(out) and got["plot"] == str(png)
    assert got["generated"] == [(np.flatnonzero(f) + 60).tolist() for f in new]
    want = np.vstack([TEST[:2], new])
    read = read_midi_roll(out, steps_per_quarter=2, lowest=60, keys=K)
    np.testing.assert_array_equal(read.roll[:len(want)], want)
    assert mido.MidiFile(str(out)).ticks_per_beat == 480
    ((roll, path, kw),) = calls
    np.testing.assert_array_equal(roll, want)
    assert path == str(png)
    assert kw == {"prime": 2, "lowest": 60, "step": "eighth note",
                  "title": "2 primed + 5 sampled steps"}
    whole = p.generate(max_new=1, prime=str(song), seed=1)  # a path as prime: all of it
    assert whole["prime_steps"] == 5
    assert p.generate(str(song), max_new=1)["prime_steps"] == 5
    with pytest.raises(TaskError) as e:
        p.generate(str(tmp_path / "nope.mid"))
    assert str(e.value) == f"--prompt {tmp_path / 'nope.mid'}: no such MIDI file"
    with pytest.raises(TaskError) as e:
        p.generate(str(song), prime=6)
    assert str(e.value) == "--prime 6: the priming piece has only 5 steps"


@pytest.mark.parametrize("per_quarter, name", [(1, "quarter note"), (4, "sixteenth note"),
                                               (7, "1/7 quarter note")])
def test_generate_names_the_step_and_writes_at_the_runs_resolution(tmp_path, monkeypatch,
                                                                  per_quarter, name):
    calls = []
    monkeypatch.setattr(mmod, "plot_roll", lambda roll, path, **kw: calls.append(kw) or path)
    p = _predictor(steps_per_quarter=per_quarter, **_own_files(tmp_path, per_quarter))
    out = tmp_path / "o.mid"
    got = p.generate(max_new=3, prime=4, output=str(out), plot="x.png", temperature=0)
    assert calls[0]["step"] == name and calls[0]["title"] == "4 primed + 3 sampled steps"
    beat, step = mmod.midi_ticks(per_quarter)
    assert mido.MidiFile(str(out)).ticks_per_beat == beat
    read = read_midi_roll(out, ticks_per_step=step, lowest=60, keys=K).roll
    np.testing.assert_array_equal(read[:4], TEST[:4])
    assert got["prime_steps"] == 4


def test_generate_without_a_prime_gives_a_roll_of_bytes(jsb, tmp_path, monkeypatch):
    rolls = []
    monkeypatch.setattr(mmod, "plot_roll", lambda roll, path, **kw: rolls.append(roll) or path)
    p = _predictor()
    p.generate(max_new=3, plot="x.png", seed=2)
    p.generate(max_new=3, prime=2, plot="x.png", seed=2)
    assert [(r.shape, r.dtype) for r in rolls] == [((3, K), np.uint8), ((5, K), np.uint8)]


def test_the_predictor_keeps_its_info_and_run_folder(jsb, tmp_path):
    ctx = _ctx()
    model = TASK.build_model(ctx)
    info = TASK.info(ctx, model)
    p = TASK.predictor(ctx, model, info, tmp_path)
    assert p.info is info and p.run_dir == tmp_path and p.model is model and p.context is ctx
    assert TASK.predictor(ctx, model, info).run_dir is None
