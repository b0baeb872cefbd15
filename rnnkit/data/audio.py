"""Audio for speech tasks: reading (soundfile), features (librosa), the Free Spoken Digit
Dataset and connected-digit utterances made from it.

Features follow the FSDD peers at any sample rate: 25 ms windows with a 10 ms hop, the FFT
the next power of two (8 kHz, FSDD's rate: ``n_fft`` 256, ``win_length`` 200,
``hop_length`` 80; 16 kHz, Speech Commands': 512, 400, 160), centred frames, 40 mel bands
up to half the sample rate; ``"mfcc"`` gives 13 MFCCs with their deltas and delta-deltas
(39 per frame), ``"logmel"`` the 40 log-mel energies. A signal of n samples gives
``1 + n // hop`` frames (100 frames per second).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._optional import require
from .datasets import DataError, data_root, is_file, is_hidden

SAMPLE_RATE = 8000  # FSDD's rate, the default
USER_SAMPLE_RATE = 16000  # the rate a user's recordings are read at unless a run says so
N_FFT, WIN_LENGTH, HOP_LENGTH, N_MELS, N_MFCC = 256, 200, 80, 40, 13  # at 8 kHz
FEATURES = {"mfcc": 3 * N_MFCC, "logmel": N_MELS}  # kind -> values per frame
FSDD_DIR = "speech/fsdd/recordings"
FSDD_SHA256 = "ddb17656a0bca4c5ddace082be188ca630516dc2ef1110afe3c4e9cc71173de4"
FSDD_SOURCE = ("github.com/Jakobovski/free-spoken-digit-dataset (v1.0.10-27-g26eb9aa), "
               "folder recordings/")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


class AudioError(ValueError):
    """A file that cannot serve as audio input; the message names the file and the reason."""


@dataclass(frozen=True)
class Segment:
    """``duration`` seconds of an audio file from ``offset`` (a manifest line with an
    ``offset``): an input a speech predictor reads as :func:`read_audio` does with them."""
    path: Path
    offset: float
    duration: float


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, *, resample: bool = True,
               offset: float | None = None, duration: float | None = None,
               tolerance: float = 0.0) -> np.ndarray:
    """A mono float32 signal in [-1, 1] at ``sample_rate``: the whole file, or with
    ``offset`` the ``duration`` seconds from there (None: to the end; :func:`segment_samples`;
    only those samples are read, at the file's rate, then resampled).

    Behaviour on unusual input (each an :class:`AudioError` naming the file, or as said):

    - a missing, empty (0 bytes) or non-audio file: error;
    - a file with no samples, or with NaN or infinite samples: error;
    - a segment outside the file (ending over ``tolerance`` s after it): error;
    - several channels (e.g. stereo): averaged to mono;
    - another sample rate (e.g. 44.1 kHz): resampled with soxr (librosa) when
      ``resample``, else an error naming both rates.
    """
    sf = require("soundfile", "audio")
    path = Path(path)
    if not is_file(path):
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes), not audio")
    start, stop = 0, None
    try:
        if offset is not None:  # (duration None: to the end)
            frames, rate = audio_frames(path)
            seconds = frames / rate - offset if duration is None else duration
            start, stop = segment_samples(path, frames, rate, offset, seconds, tolerance)
        audio, rate = sf.read(str(path), start=start, stop=stop, dtype="float32",
                              always_2d=True)  # (n, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(f"{path}: not a readable audio file (WAV, FLAC, OGG ...): {e}") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{path}: the audio file holds no samples")
    bad = ~np.isfinite(audio).all(axis=1)
    if bad.any():  # float WAVs can hold NaN/inf; a transcript of them would mean nothing
        first = start + int(np.argmax(bad))
        raise AudioError(f"{path}: {int(bad.sum())} of {len(bad)} samples are NaN or infinite "
                         f"(the first at sample {first}, {first / rate:.3f} s)")
    audio = audio.mean(axis=1)  # (n,)
    if rate != sample_rate:
        if not resample:
            raise AudioError(f"{path}: sample rate {rate} Hz, the model expects {sample_rate} Hz")
        librosa = require("librosa", "audio")
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32)


def segment_samples(path: str | Path, frames: int, rate: int, offset: float, duration: float,
                    tolerance: float = 0.0) -> tuple[int, int]:
    """``(start, stop)``: the samples of a file of ``frames`` samples at ``rate`` Hz that
    ``duration`` seconds from ``offset`` are. As NeMo reads them (seek to ``offset * rate``,
    read ``duration * rate`` samples), but rounded to the nearest sample where NeMo
    truncates (``1.001 * 8000`` is 8007.99...): at most one sample apart. A segment ending up
    to ``tolerance`` seconds after the file (rounded manifest times) is read to the end; one
    ending later, or starting at or after the end, is an :class:`AudioError`."""
    length, end = frames / rate, offset + duration
    start = round(offset * rate)
    stop = start + round(duration * rate)
    if start >= frames:
        raise AudioError(f"{path}: the segment from {offset:g} s starts at or after the end of "
                         f"the audio ({length:.3f} s)")
    if end > length + tolerance:
        raise AudioError(f"{path}: the segment from {offset:g} s lasting {duration:g} s ends at "
                         f"{end:.3f} s, beyond the end of the audio ({length:.3f} s) by more "
                         f"than {tolerance:g} s")
    if stop <= start:
        raise AudioError(f"{path}: the segment from {offset:g} s lasting {duration:g} s holds "
                         f"no sample at {rate} Hz")
    return start, min(stop, frames)


def audio_frames(path: str | Path) -> tuple[int, int]:
    """``(samples, rate)`` of an audio file from its header alone (an :class:`AudioError`
    when it cannot be read)."""
    sf = require("soundfile", "audio")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(f"{path}: not a readable audio file (WAV, FLAC, OGG ...): {e}") from None
    return info.frames, info.samplerate


def frame_sizes(sample_rate: int = SAMPLE_RATE) -> tuple[int, int, int]:
    """``(n_fft, win_length, hop_length)`` in samples: 25 ms windows, a 10 ms hop, the FFT
    the next power of two at or above the window."""
    win, hop = round(0.025 * sample_rate), round(0.010 * sample_rate)
    return 1 << (win - 1).bit_length(), win, hop


def features(audio: np.ndarray, kind: str = "mfcc", *, sample_rate: int = SAMPLE_RATE,
             normalize: bool = True) -> np.ndarray:
    """Frames (T, F) of a signal at ``sample_rate``: T = 1 + len(audio) // hop (100 a
    second), F = ``FEATURES[kind]``.

    ``normalize`` subtracts each feature's mean over the utterance and divides by its
    standard deviation (cepstral mean and variance normalisation): no statistics need to be
    stored with a model, and loudness and channel differences between speakers vanish.
    """
    librosa = require("librosa", "audio")
    if kind not in FEATURES:
        raise ValueError(f"feature kind must be one of {sorted(FEATURES)}, got {kind!r}")
    audio = np.asarray(audio, dtype=np.float32)
    spec = power_spectrogram(audio, sample_rate)  # (n_fft / 2 + 1, T)
    mel = _mel_filters(sample_rate)  # (40, n_fft / 2 + 1)
    logmel = np.log(np.einsum("mf,ft->mt", mel, spec) + 1e-6)  # (40, T), no BLAS
    if kind == "mfcc":
        mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=N_MFCC)  # (13, T)
        d1 = librosa.feature.delta(mfcc, order=1, mode="nearest")
        d2 = librosa.feature.delta(mfcc, order=2, mode="nearest")
        feats = np.concatenate([mfcc, d1, d2])  # (39, T)
    else:
        feats = logmel
    feats = feats.T.astype(np.float32)  # (T, F)
    if normalize:
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-5)
    return feats


def feature_spec(kind: str, sample_rate: int, stack: int = 1) -> dict:
    """How :func:`features` (then :func:`stack_frames`) turns a mono signal at
    ``sample_rate`` into model inputs, as JSON for a run's info and an export's
    preprocessing.json: the STFT (as ``librosa.stft``'s arguments, zero padding), ``n_mels``
    mel bands (``librosa.filters.mel``), their log (of power + ``log_offset``); for MFCCs
    ``n_mfcc`` coefficients (``librosa.feature.mfcc``) and their deltas (orders ``deltas``,
    ``librosa.feature.delta`` of ``delta_width``, mode "nearest"); then each feature minus
    its mean over the utterance, over its std + ``normalize``; ``stack`` frames a step."""
    n_fft, win, hop = frame_sizes(sample_rate)
    spec = {"sample_rate": sample_rate, "features": kind, "n_fft": n_fft, "win_length": win,
            "hop_length": hop, "window": "hann", "center": True, "n_mels": N_MELS,
            "log_offset": 1e-6}
    if kind == "mfcc":
        spec.update(n_mfcc=N_MFCC, deltas=[1, 2], delta_width=9)
    return {**spec, "normalize": 1e-5, "stack": stack}


def power_spectrogram(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """|STFT|^2 (n_fft / 2 + 1, T) exactly as ``librosa.stft(audio, n_fft, win_length,
    hop_length, center=True)`` frames it with :func:`frame_sizes` (zero padding, periodic
    Hann window centred in n_fft), computed here with NumPy: librosa's own call is slow on a
    busy machine."""
    n_fft, _, hop = frame_sizes(sample_rate)
    padded = np.pad(np.asarray(audio, np.float32), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]  # (T, n_fft)
    spec = np.fft.rfft(frames * _window(sample_rate), axis=1)  # (T, n_fft / 2 + 1)
    return (spec.real ** 2 + spec.imag ** 2).T.astype(np.float32)


@lru_cache(maxsize=4)
def _window(sample_rate: int) -> np.ndarray:
    signal = require("scipy.signal", "audio")
    n_fft, win, _ = frame_sizes(sample_rate)
    window = np.zeros(n_fft, np.float32)
    start = (n_fft - win) // 2
    window[start:start + win] = signal.get_window("hann", win, fftbins=True)
    return window


@lru_cache(maxsize=4)
def _mel_filters(sample_rate: int) -> np.ndarray:
    """The 40 mel filters (40, n_fft / 2 + 1) librosa's melspectrogram would use."""
    n_fft = frame_sizes(sample_rate)[0]
    return require("librosa", "audio").filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=N_MELS)


def stack_frames(feats: np.ndarray, k: int) -> np.ndarray:
    """Concatenate each ``k`` consecutive frames (T, F) -> (ceil(T / k), k * F) (the last
    group padded by repeating the last frame): a k-times lower frame rate."""
    if k <= 1:
        return feats
    T = feats.shape[0]
    pad = (-T) % k
    feats = np.concatenate([feats, np.repeat(feats[-1:], pad, axis=0)])
    return feats.reshape(-1, k * feats.shape[1])


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    index: int


_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def fsdd_recordings(root: Path | None = None, *, verify: bool = True) -> list[Recording]:
    """The 3,000 FSDD recordings in sorted name order, checked against the sha256 of their
    concatenation (``FSDD_SHA256``); hidden files (a copy's ``._0_george_0.wav``) are none
    of them."""
    folder = (root or data_root()) / FSDD_DIR
    files = sorted(f for f in folder.glob("*.wav") if not is_hidden(f))  # (none: no folder)
    if not files:
        raise DataError(f"fsdd: no recordings in {folder}; set RNNKIT_DATA to a folder holding "
                        f"{FSDD_DIR}/, or copy them from {FSDD_SOURCE}")
    if verify:
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.read_bytes())
        if len(files) != 3000 or digest.hexdigest() != FSDD_SHA256:
            raise DataError(f"fsdd: the {len(files)} files in {folder} do not match the release "
                            f"(sha256 of their concatenation {digest.hexdigest()}, expected "
                            f"{FSDD_SHA256} over 3,000 files)")
    out = []
    for f in files:
        m = _NAME.match(f.name)
        if m is None:
            raise DataError(f"fsdd: unexpected file name {f.name} (want digit_speaker_index.wav)")
        out.append(Recording(f, int(m[1]), m[2], int(m[3])))
    return out


def connected_utterances(signals: list[np.ndarray], labels: list[int], count: int, *,
                         min_digits: int = 1, max_digits: int = 7, gap: tuple = (0.05, 0.3),
                         edge: tuple = (0.05, 0.25), noise: float = 1e-3,
                         seed: int = 0) -> tuple[list[np.ndarray], list[list[int]]]:
    """``count`` utterances, each 1..7 recordings drawn at random from ``signals`` (one
    split's) and joined by silences of ``gap`` seconds (uniform), with ``edge`` seconds of
    silence at both ends. Silence gets Gaussian noise of std ``noise`` x the utterance's
    peak so that it looks like a microphone's floor, not digital zero."""
    rng = np.random.default_rng(seed)
    audio, digits = [], []
    for _ in range(count):
        n = int(rng.integers(min_digits, max_digits + 1))
        pick = rng.integers(0, len(signals), size=n)
        parts = [_silence(rng, edge)]
        for j, i in enumerate(pick):
            parts.append(signals[i])
            parts.append(_silence(rng, edge if j == n - 1 else gap))
        signal = np.concatenate(parts)
        floor = noise * max(float(np.abs(signal).max()), 1e-3)
        audio.append((signal + rng.normal(0, floor, signal.shape)).astype(np.float32))
        digits.append([labels[i] for i in pick])
    return audio, digits


def _silence(rng: np.random.Generator, seconds: tuple) -> np.ndarray:
    return np.zeros(int(rng.uniform(*seconds) * SAMPLE_RATE), np.float32)
