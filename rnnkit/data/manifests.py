"""Speech manifests: one utterance a line, in JSON (the NeMo layout).

    {"audio_filepath": "audio/a.wav", "text": "the cat sat", "duration": 1.52}
    {"audio_filepath": "/abs/path/b.flac", "text": "on the mat", "duration": 0.97, "speaker": "s2"}

    {"audio_filepath": "long.wav", "text": "and then", "offset": 12.5, "duration": 3.2}

``audio_filepath`` is relative to the manifest's folder, or absolute; ``text`` is what is
said (must hold a non-blank character); ``speaker`` (optional) lets a split keep each
speaker's utterances together. ``offset`` (seconds >= 0, optional) makes the utterance a
segment of its file, as in NeMo (``AudioSegment.from_file(path, offset, duration)``): the
``duration`` seconds from ``offset`` (``duration`` then required and > 0), so that many lines
can name one long recording; without ``offset``, ``duration`` (optional) is the whole file's
length, checked against the audio when it is read (:func:`check_duration`). Other keys are
ignored.

Every problem is a :class:`~rnnkit.data.datasets.DataError` naming ``manifest:line``;
blank lines are counted (:meth:`Manifest.note`), not dropped silently. Texts are
normalised by :func:`normalize_text` (Unicode NFC, runs of white space made one space,
optionally lower case): the reference a transcript is scored against.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import DataError, expand_home, is_file

REQUIRED = ("audio_filepath", "text")
DURATION_TOLERANCE = 0.1  # seconds a manifest's timing may be off the audio, by default


@dataclass(frozen=True)
class Utterance:
    audio: Path  # absolute
    text: str  # normalised (normalize_text)
    duration: float | None  # seconds, as the manifest says (None: not given)
    speaker: str | None
    where: str  # "manifest:line", for messages
    offset: float | None = None  # seconds into the file (None: the whole file)

    @property
    def span(self) -> tuple[float, float]:
        """The seconds of its file the utterance is: [offset, offset + duration), or the
        whole file [0, inf)."""
        if self.offset is None:
            return 0.0, math.inf
        return self.offset, self.offset + (self.duration or 0.0)


@dataclass
class Manifest:
    path: Path
    items: list[Utterance] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # blank lines

    def note(self) -> str:
        """What was skipped, for the user ("" when nothing was)."""
        if not self.skipped:
            return ""
        shown = ", ".join(map(str, self.skipped[:10])) + (" ..." if len(self.skipped) > 10
                                                          else "")
        return f"{self.path}: skipped {len(self.skipped)} blank line(s) (line {shown})"


def normalize_text(text: str, lowercase: bool = True) -> str:
    """NFC, white space runs -> one space, stripped; lower case when ``lowercase`` (case
    cannot be heard)."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text.lower() if lowercase else text


def read_manifest(path: str | Path, lowercase: bool = True) -> Manifest:
    """The utterances of a JSON-lines manifest, each checked (keys, types, the audio file's
    existence); the audio itself is read later (:func:`check_duration` on the signal)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a JSON-lines manifest (one "
                        '{"audio_filepath", "text", "duration"} object a line)')
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1  # (e.start counts after a BOM)
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {e.object[e.start]:#04x}); save the "
                        "manifest as UTF-8") from None
    manifest = Manifest(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    for n, line in enumerate(lines, 1):
        if not line.strip():
            manifest.skipped.append(n)
            continue
        manifest.items.append(_utterance(path, n, line, lowercase))
    if not manifest.items:
        raise DataError(f"{path}: no utterances (an empty manifest)")
    return manifest


def is_manifest(path: str | Path) -> bool:
    """Whether ``path`` holds manifest lines: its first non-blank line is a JSON object with
    an ``audio_filepath`` (NeMo names its JSON-lines manifests ``.json``); False for a file
    that cannot be read or decoded (it is then read as something else, with that error)."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            line = next((line for line in fh if line.strip()), "")
        obj = json.loads(line)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(obj, dict) and "audio_filepath" in obj


def _utterance(path: Path, n: int, line: str, lowercase: bool) -> Utterance:
    where = f"{path}:{n}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object "
                        '{"audio_filepath", "text", "duration"}, got ' + type(obj).__name__)
    for key in REQUIRED:
        if key not in obj:
            raise DataError(f"{where}: no {key!r} key (each line needs 'audio_filepath' and "
                            f"'text'; 'duration' is checked when given); keys: {sorted(obj)}")
        if not isinstance(obj[key], str):
            raise DataError(f"{where}: {key!r} must be a string, got {json.dumps(obj[key])}")
    text = normalize_text(obj["text"], lowercase)
    if not text:
        raise DataError(f"{where}: empty 'text': every utterance needs a transcript")
    duration, offset = _seconds(obj, "duration", where), _seconds(obj, "offset", where)
    if offset is not None and duration is None:
        raise DataError(f"{where}: 'offset' {offset:g} needs a 'duration' (the utterance is the "
                        "'duration' seconds of the file from 'offset')")
    if offset is not None and duration == 0:
        raise DataError(f"{where}: a zero-length segment ('duration' 0 from 'offset' "
                        f"{offset:g})")
    audio = expand_home(obj["audio_filepath"])
    if not obj["audio_filepath"].strip():
        raise DataError(f"{where}: empty 'audio_filepath'")
    audio = audio if audio.is_absolute() else path.parent / audio
    if not is_file(audio):
        raise DataError(f"{where}: audio file {str(audio)!r} not found (a relative "
                        f"audio_filepath is read from the manifest's folder)"
                        f"{_from_working_folder(path, obj['audio_filepath'])}")
    speaker = obj.get("speaker")
    return Utterance(audio.resolve(), text, duration, None if speaker is None else str(speaker),
                     where, offset)


def _seconds(obj: dict, key: str, where: str) -> float | None:
    """``obj[key]`` as seconds (None when absent or null); an error unless a finite number
    >= 0."""
    value = obj.get(key)
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < 0):
        raise DataError(f"{where}: {key!r} must be a number of seconds >= 0, got "
                        f"{json.dumps(value)}")
    return float(value)


def _from_working_folder(manifest: Path, name: str) -> str:
    """The end of a 'not found' error: the fix when ``name`` is a file relative to the
    working folder (NeMo tries that first), else nothing."""
    here = expand_home(name)
    if here.is_absolute() or not is_file(here):
        return ""
    fixed = os.path.relpath(os.path.abspath(here), os.path.abspath(manifest.parent))
    return (f"; {name!r} is relative to the working folder (as NeMo also reads it): write it "
            f"relative to the manifest's folder ({Path(fixed).as_posix()!r}) or absolute")


def check_duration(utt: Utterance, seconds: float, tolerance: float) -> str:
    """A message when the audio's length differs from the manifest's ``duration`` by more
    than ``tolerance`` seconds ("" otherwise, and for a segment: its duration is what is
    read)."""
    if (utt.duration is None or utt.offset is not None
            or abs(seconds - utt.duration) <= tolerance):
        return ""
    return f"{utt.where}: duration {utt.duration:g} s, the audio lasts {seconds:.3f} s"
