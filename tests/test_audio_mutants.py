"""rnnkit.data.audio against independent references (issue 20): WAVs written with soundfile
in tmp_path whose samples are known, whole error messages naming the file, features compared
with librosa's own pipeline (melspectrogram, mfcc, delta) and with NumPy written out, frame
sizes worked out by hand, FSDD's folder checked on stand-in files, and the connected-digit
utterances taken apart again."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rnnkit.data import audio as audio_mod
from rnnkit.data.audio import (
    AudioError,
    Recording,
    connected_utterances,
    features,
    frame_sizes,
    fsdd_recordings,
    power_spectrogram,
    read_audio,
    stack_frames,
)
from rnnkit.data.datasets import DataError

sf = pytest.importorskip("soundfile")
librosa = pytest.importorskip("librosa")


def sine(freq: float, n: int, rate: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


# -- reading ---------------------------------------------------------------------------------

def _error(path, **kw) -> str:
    with pytest.raises(AudioError) as e:
        read_audio(path, **kw)
    return str(e.value)


def test_errors_name_the_file_and_the_reason(tmp_path):
    assert _error(tmp_path / "missing.wav") == f"{tmp_path / 'missing.wav'}: no such file"
    (tmp_path / "folder.wav").mkdir()
    assert _error(tmp_path / "folder.wav") == f"{tmp_path / 'folder.wav'}: no such file"
    (tmp_path / "empty.wav").write_bytes(b"")
    assert _error(str(tmp_path / "empty.wav")) == (
        f"{tmp_path / 'empty.wav'}: the file is empty (0 bytes), not audio")
    (tmp_path / "text.wav").write_text("not audio")
    assert _error(tmp_path / "text.wav").startswith(
        f"{tmp_path / 'text.wav'}: not a readable audio file (WAV, FLAC, OGG ...): ")
    sf.write(tmp_path / "none.wav", np.zeros((0, 2), np.float32), 8000)
    assert _error(tmp_path / "none.wav") == (
        f"{tmp_path / 'none.wav'}: the audio file holds no samples")
    sf.write(tmp_path / "r.wav", np.zeros(10, np.float32), 16000)
    assert _error(tmp_path / "r.wav", resample=False) == (
        f"{tmp_path / 'r.wav'}: sample rate 16000 Hz, the model expects 8000 Hz")


def test_nan_and_inf_are_counted_per_frame(tmp_path):
    stereo = np.zeros((3000, 2), np.float32)
    stereo[1500, 0] = np.nan  # one frame with NaN on the left only
    stereo[1500, 1] = np.inf  # ... and inf on the right: still one frame
    stereo[2999, 1] = -np.inf
    sf.write(tmp_path / "f.wav", stereo, 1000, subtype="FLOAT")
    assert _error(tmp_path / "f.wav") == (
        f"{tmp_path / 'f.wav'}: 2 of 3000 samples are NaN or infinite "
        "(the first at sample 1500, 1.500 s)")


def test_stereo_is_averaged_and_the_rate_kept(tmp_path):
    left = np.array([0.5, -0.25, 0.125, 1.0, 0.0], np.float32)
    right = np.array([0.25, 0.25, -0.5, -1.0, 0.75], np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), 8000, subtype="FLOAT")
    got = read_audio(tmp_path / "s.wav")  # 8 kHz by default: no resampling
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(got, (left + right) / 2)


def test_another_rate_is_resampled_to_the_same_sine(tmp_path):
    n = 16000
    sf.write(tmp_path / "a.wav", sine(300, n, 16000), 16000, subtype="FLOAT")
    got = read_audio(tmp_path / "a.wav")  # to 8 kHz
    assert got.dtype == np.float32 and got.shape == (8000,)
    want = sine(300, 8000, 8000)
    np.testing.assert_allclose(got[200:-200], want[200:-200], atol=2e-3)
    same = read_audio(tmp_path / "a.wav", 16000, resample=False)
    np.testing.assert_allclose(same, sine(300, n, 16000), atol=1e-7)


# -- features ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rate, want", [(8000, (256, 200, 80)), (16000, (512, 400, 160)),
                                        (22050, (1024, 551, 220)), (44100, (2048, 1102, 441)),
                                        (6400, (256, 160, 64)), (12800, (512, 320, 128)),
                                        (10240, (256, 256, 102)), (10280, (512, 257, 103))])
def test_frame_sizes_are_25_and_10_ms_with_the_next_power_of_two(rate, want):
    # 22050: 551.25 -> 551, 220.5 -> 220 (halves to even); 44100: 1102.5 -> 1102
    # 6400: a 160-sample window is below 256 but above 128; 12800: 320 -> 512
    # 10240: a window of exactly 256 samples fits 256; 10280: 257 samples need 512
    assert frame_sizes(rate) == want
    assert frame_sizes() == (256, 200, 80)


def test_power_spectrogram_is_numpy_stft_of_a_sine():
    x = sine(1000, 800, 8000)  # 1 kHz: bin 1000 / (8000 / 256) = 32 exactly
    spec = power_spectrogram(x)
    assert spec.shape == (129, 11) and spec.dtype == np.float32
    n_fft, hop = 256, 80
    window = np.zeros(n_fft)
    window[28:228] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(200) / 200)  # periodic Hann
    padded = np.concatenate([np.zeros(128), x, np.zeros(128)])
    want = np.stack([np.abs(np.fft.rfft(padded[t * hop:t * hop + n_fft] * window)) ** 2
                     for t in range(11)], 1)
    np.testing.assert_allclose(spec, want, rtol=1e-4, atol=1e-6 * want.max())
    assert np.argmax(spec[:, 5]) == 32
    np.testing.assert_allclose(power_spectrogram(x, 8000), spec)


def _librosa_logmel(x, rate):
    n_fft, win, hop = frame_sizes(rate)
    mel = librosa.feature.melspectrogram(y=x, sr=rate, n_fft=n_fft, win_length=win,
                                         hop_length=hop, center=True, pad_mode="constant",
                                         power=2.0, n_mels=40)
    return np.log(mel + 1e-6)  # (40, T)


def _cmvn(f):
    return (f - f.mean(0)) / (f.std(0) + 1e-5)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_logmel_equals_librosa_melspectrogram(rate):
    x = sine(440, rate // 4, rate) + sine(1234, rate // 4, rate, 0.1)
    want = _librosa_logmel(x, rate).T  # (T, 40)
    raw = features(x, "logmel", sample_rate=rate, normalize=False)
    assert raw.shape == (1 + len(x) // (rate // 100), 40) and raw.dtype == np.float32
    np.testing.assert_allclose(raw, want, rtol=1e-4, atol=1e-3)
    normed = features(x, "logmel", sample_rate=rate)
    np.testing.assert_allclose(normed, _cmvn(want), atol=2e-3)


def test_mfcc_with_deltas_equals_librosa():
    x = sine(440, 2400, 8000) * np.linspace(0, 1, 2400, dtype=np.float32) ** 2
    logmel = _librosa_logmel(x, 8000)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=13)
    d1 = librosa.feature.delta(mfcc, order=1, mode="nearest")
    d2 = librosa.feature.delta(mfcc, order=2, mode="nearest")
    want = np.concatenate([mfcc, d1, d2]).T  # (T, 39)
    raw = features(x, normalize=False)  # mfcc by default
    assert raw.shape == (31, 39) and raw.dtype == np.float32
    np.testing.assert_allclose(raw, want, rtol=1e-3, atol=2e-3)
    np.testing.assert_allclose(features(x), _cmvn(want), atol=5e-3)


def test_an_unknown_feature_kind_is_named():
    with pytest.raises(ValueError, match=r"^feature kind must be one of \['logmel', 'mfcc'\], "
                                         r"got 'mel'$"):
        features(np.zeros(100), "mel")


def test_stack_frames_pads_with_the_last_frame():
    f = np.arange(14, dtype=np.float32).reshape(7, 2)
    got = stack_frames(f, 3)
    np.testing.assert_array_equal(got, [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11],
                                        [12, 13, 12, 13, 12, 13]])
    np.testing.assert_array_equal(stack_frames(f[:6], 3), [[0, 1, 2, 3, 4, 5],
                                                           [6, 7, 8, 9, 10, 11]])
    assert stack_frames(f, 1) is f and stack_frames(f, 0) is f
    np.testing.assert_array_equal(stack_frames(f, 7), f.reshape(1, 14))


# -- FSDD ---------------------------------------------------------------------------------

def _content(i: int) -> bytes:
    return bytes([i % 256])


def _fsdd(root, names):
    folder = root / audio_mod.FSDD_DIR
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        (folder / name).write_bytes(_content(i))
    return folder


def _digest(names) -> str:
    """sha256 of the files' contents concatenated in sorted name order."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    return hashlib.sha256(b"".join(_content(i) for i in order)).hexdigest()


def test_fsdd_names_are_parsed_in_sorted_order(tmp_path, monkeypatch):
    names = ["7_theo_12.wav", "0_george_3.wav", "0_george_10.wav"]
    folder = _fsdd(tmp_path, names)
    (folder / "notes.txt").write_text("not a recording")
    want = [Recording(folder / "0_george_10.wav", 0, "george", 10),
            Recording(folder / "0_george_3.wav", 0, "george", 3),
            Recording(folder / "7_theo_12.wav", 7, "theo", 12)]
    assert fsdd_recordings(tmp_path, verify=False) == want
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    assert fsdd_recordings(verify=False) == want
    with pytest.raises(DataError) as e:
        fsdd_recordings(tmp_path)  # verified by default: 3 files are not the release
    assert str(e.value) == (
        f"fsdd: the 3 files in {folder} do not match the release (sha256 of their "
        f"concatenation {_digest(names)}, expected {audio_mod.FSDD_SHA256} over 3,000 files)")


def test_fsdd_release_check_needs_both_the_count_and_the_digest(tmp_path, monkeypatch):
    names = [f"{d}_{s}_{i}.wav" for d in range(10) for s in audio_mod.SPEAKERS
             for i in range(50)]
    folder = _fsdd(tmp_path, names)
    monkeypatch.setattr(audio_mod, "FSDD_SHA256", _digest(names))
    recs = fsdd_recordings(tmp_path)
    assert len(recs) == 3000 and recs[0] == Recording(folder / "0_george_0.wav", 0, "george", 0)
    monkeypatch.setattr(audio_mod, "FSDD_SHA256", "0" * 64)  # 3,000 files, another digest
    with pytest.raises(DataError, match="the 3000 files"):
        fsdd_recordings(tmp_path)
    (folder / names[-1]).unlink()  # 2,999 files with the expected digest
    monkeypatch.setattr(audio_mod, "FSDD_SHA256", _digest(names[:-1]))
    with pytest.raises(DataError, match="the 2999 files"):
        fsdd_recordings(tmp_path)


def test_fsdd_missing_folder_and_odd_names(tmp_path):
    with pytest.raises(DataError) as e:
        fsdd_recordings(tmp_path)
    assert str(e.value) == (
        f"fsdd: no recordings in {tmp_path / audio_mod.FSDD_DIR}; set RNNKIT_DATA to a folder "
        f"holding {audio_mod.FSDD_DIR}/, or copy them from {audio_mod.FSDD_SOURCE}")
    _fsdd(tmp_path, ["1_bob_2.wav", "12_bob_2.wav"])
    with pytest.raises(DataError) as e:
        fsdd_recordings(tmp_path, verify=False)
    assert str(e.value) == ("fsdd: unexpected file name 12_bob_2.wav (want "
                            "digit_speaker_index.wav)")


# -- connected utterances ------------------------------------------------------------------

def _runs(a: np.ndarray) -> list[tuple[float, int, int]]:
    """(value, start, end) of each run of equal samples."""
    edges = np.flatnonzero(np.diff(a)) + 1
    starts, ends = np.r_[0, edges], np.r_[edges, len(a)]
    return [(float(a[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def test_utterances_are_edge_digits_gaps_edge_without_noise():
    signals = [np.full(50 + 10 * i, i + 1, np.float32) for i in range(4)]
    labels = [7, 3, 9, 1]
    audio, digits = connected_utterances(signals, labels, 150, noise=0.0)
    lengths, edges, gaps = set(), [], []
    for a, d in zip(audio, digits):
        assert a.dtype == np.float32
        runs = _runs(a)
        assert runs[0][0] == 0 and runs[-1][0] == 0  # silence at both ends
        sounds = runs[1::2]
        assert all(v == 0 for v, *_ in runs[0::2]) and len(runs) == 2 * len(sounds) + 1
        picked = [int(v) - 1 for v, *_ in sounds]
        assert d == [labels[i] for i in picked]
        assert all(e - s == len(signals[i]) for (_, s, e), i in zip(sounds, picked))
        lengths.add(len(d))
        edges += [runs[0][2], runs[-1][2] - runs[-1][1]]
        gaps += [e - s for _, s, e in runs[2:-1:2]]
    assert lengths == set(range(1, 8))  # 1..7 digits by default
    assert 400 <= min(edges) and max(edges) < 2000 and max(edges) > 1800  # 0.05..0.25 s
    assert 400 <= min(gaps) and max(gaps) < 2400 and max(gaps) > 2200  # 0.05..0.3 s
    again, same = connected_utterances(signals, labels, 150, noise=0.0, seed=0)
    assert same == digits and all(np.array_equal(x, y) for x, y in zip(audio, again))
    other, _ = connected_utterances(signals, labels, 150, noise=0.0, seed=1)
    assert not all(len(x) == len(y) for x, y in zip(audio, other))


def test_silence_gets_noise_scaled_by_the_peak():
    loud = [np.full(100, 0.5, np.float32)]
    audio, _ = connected_utterances(loud, [0], 20, min_digits=1, max_digits=1, noise=0.01)
    quiet = [np.full(100, 1e-5, np.float32)]  # a peak below 1e-3: the floor uses 1e-3
    hushed, _ = connected_utterances(quiet, [0], 20, min_digits=1, max_digits=1, noise=0.01)
    default, _ = connected_utterances(loud, [0], 20, min_digits=1, max_digits=1)
    for utterances, floor in ((audio, 0.005), (hushed, 1e-5), (default, 5e-4)):
        silence = np.concatenate([a[:300] for a in utterances])  # the first 400+ samples
        assert silence.dtype == np.float32
        assert abs(silence.std() / floor - 1) < 0.05 and abs(silence.mean()) < floor * 0.05
    assert [len(a) for a in audio] == [len(a) for a in hushed]  # the same draws


def test_silence_gives_the_log_floor():
    """A silent signal: every mel energy is 0, so every log-mel value is log(1e-6)."""
    got = features(np.zeros(800, np.float32), "logmel", normalize=False)
    np.testing.assert_allclose(got, np.full((11, 40), np.log(1e-6)), rtol=1e-6)


def test_features_without_librosa_name_the_extra(monkeypatch):
    import sys

    from rnnkit._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "librosa", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[audio\]'"):
        features(np.zeros(800, np.float32))


def test_reading_without_the_extras_names_them(tmp_path, monkeypatch):
    import sys

    from rnnkit._optional import MissingExtraError

    sf.write(tmp_path / "a.wav", np.zeros(100, np.float32), 16000)
    monkeypatch.setitem(sys.modules, "librosa", None)  # needed to resample only
    assert read_audio(tmp_path / "a.wav", 16000).shape == (100,)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[audio\]'"):
        read_audio(tmp_path / "a.wav")
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[audio\]'"):
        read_audio(tmp_path / "a.wav", 16000)


def test_a_float64_signal_gives_the_spectrogram_of_its_float32_samples():
    """Arrays passed in memory (often float64) give the features of the same samples read
    from a float32 file: the spectrogram is computed on float32 samples."""
    x = np.random.default_rng(3).normal(0, 0.3, 1000)
    np.testing.assert_array_equal(power_spectrogram(x), power_spectrogram(x.astype(np.float32)))


def test_resampling_runs_on_the_float32_samples(tmp_path):
    import librosa

    rng = np.random.default_rng(3)
    stereo = (rng.uniform(-0.5, 0.5, (2205, 2)) * 32767).astype(np.int16)
    path = tmp_path / "s.wav"
    sf.write(path, stereo, 22050, subtype="PCM_16")
    mono = (stereo.astype(np.float32) / 32768).mean(axis=1)  # what soundfile reads, mixed
    want = librosa.resample(mono, orig_sr=22050, target_sr=8000)
    got = read_audio(path, 8000)
    assert got.dtype == np.float32 and got.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(got, want)  # the same float32 arithmetic, to the bit


def test_audio_frames_reads_the_header_or_names_the_file_and_the_extra(tmp_path, monkeypatch):
    import sys

    from rnnkit._optional import MissingExtraError

    sf.write(tmp_path / "a.wav", np.zeros(1234, np.float32), 8000)
    assert audio_mod.audio_frames(tmp_path / "a.wav") == (1234, 8000)
    (tmp_path / "b.wav").write_text("not audio")
    with pytest.raises(AudioError) as e:
        audio_mod.audio_frames(tmp_path / "b.wav")
    assert str(e.value).startswith(f"{tmp_path / 'b.wav'}: not a readable audio file (WAV, "
                                   "FLAC, OGG ...): ")
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[audio\]'"):
        audio_mod.audio_frames(tmp_path / "a.wav")


def test_a_segment_past_the_end_is_an_error_unless_a_tolerance_is_given(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)  # 1 s
    message = (f"{path}: the segment from 0.9 s lasting 0.2 s ends at 1.100 s, beyond the end "
               "of the audio (1.000 s) by more than 0 s")
    with pytest.raises(AudioError) as e:
        read_audio(path, offset=0.9, duration=0.2)
    assert str(e.value) == message
    with pytest.raises(AudioError) as e:
        audio_mod.segment_samples(path, 16000, 16000, 0.9, 0.2)
    assert str(e.value) == message
    assert read_audio(path, 16000, offset=0.9, duration=0.2, tolerance=0.25).shape == (1600,)
