"""Spoken keywords in the Speech Commands layout: a root folder with one folder per label.

    root/
      yes/0a7c2a8d_nohash_0.wav ...
      no/...
      _background_noise_/       (ignored, as Speech Commands' own loader does)
      validation_list.txt       (optional: paths relative to root, one a line)
      testing_list.txt          (optional)

:func:`scan_labels` lists the recordings (the label is the folder's name, any string);
:func:`read_file_list` reads a list file; :func:`speaker_of` reads the speaker from a
Speech Commands file name (``<speaker>_nohash_<n>.wav``). Splitting is the task's
(:mod:`rnnkit.tasks.speech_digits`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .datasets import DataError, is_file

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")  # what soundfile reads
IGNORED_FOLDERS = ("_background_noise_",)
FILE_LISTS = {"val": "validation_list.txt", "test": "testing_list.txt"}
_SPEAKER = re.compile(r"^(.+)_nohash_\d+\.\w+$")


@dataclass(frozen=True)
class Clip:
    """One recording: its file, its label (the folder's name) and its name relative to the
    root (``label/file.wav``, with ``/``: how the list files name it)."""

    path: Path
    label: str
    name: str


@dataclass
class Scan:
    clips: list[Clip]
    skipped: list[str]  # names of files in label folders that are not audio

    def note(self, root: Path) -> str:
        """The skipped files in words ("" when none)."""
        if not self.skipped:
            return ""
        more = " ..." if len(self.skipped) > 10 else ""
        return (f"{root}: skipped {len(self.skipped)} file(s) that are not audio "
                f"({', '.join(AUDIO_SUFFIXES)}): {', '.join(self.skipped[:10])}{more}")


def scan_labels(root: str | Path) -> Scan:
    """Every audio file in ``root``/<label>/ (direct children of each label folder), sorted
    by label then file name. Hidden folders (``.name``) and ``_background_noise_`` are not
    labels; files directly in ``root`` are not recordings (the list files live there).
    Errors (:class:`DataError`, naming the folder): ``root`` is not a folder, it holds no
    label folder, or a label folder holds no audio file."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; keywords are read from root/<label>/*.wav")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and p.name not in IGNORED_FOLDERS)
    if not folders:
        raise DataError(f"{root}: no label folders; keywords are read from "
                        "root/<label>/*.wav, one folder per label")
    clips, skipped = [], []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if p.is_file())
        audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
        skipped += [f"{folder.name}/{p.name}" for p in files if p not in audio]
        if not audio:
            raise DataError(f"{folder}: label folder {folder.name!r} holds no audio file "
                            f"({', '.join(AUDIO_SUFFIXES)}); remove it or add recordings")
        clips += [Clip(p, folder.name, f"{folder.name}/{p.name}") for p in audio]
    return Scan(clips, skipped)


def read_file_list(path: Path, known: set[str]) -> list[str]:
    """The recordings a list file names (paths relative to its folder, one a line, blank
    lines ignored), in its order; a name that is not one of ``known`` is a
    :class:`DataError` naming the file and line."""
    out = []
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        where = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}:{where}: not valid UTF-8 (byte {raw[e.start]:#04x}); save the "
                        "list as UTF-8") from None
    for line, text in enumerate(content.splitlines(), 1):
        name = text.strip().replace("\\", "/").removeprefix("./")
        if not name:
            continue
        if name not in known:
            exists = is_file(path.parent / name)
            why = ("is not a recording of a label folder" if exists else "no such file")
            raise DataError(f"{path}:{line}: {name!r}: {why} (names are relative to "
                            f"{path.parent}, e.g. yes/0a7c2a8d_nohash_0.wav)")
        out.append(name)
    return out


def speaker_of(name: str) -> str | None:
    """The speaker of a Speech Commands file name (``<speaker>_nohash_<n>.wav``), else
    None."""
    m = _SPEAKER.match(Path(name).name)
    return m[1] if m else None
