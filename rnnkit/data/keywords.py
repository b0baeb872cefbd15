"""Spoken keywords in the Speech Commands layout: a root folder with one folder per label.

    root/
      yes/0a7c2a8d_nohash_0.wav ...
      no/...
      _background_noise_/       (ignored, as Speech Commands' own loader does)
      validation_list.txt       (optional: paths relative to root, one a line)
      testing_list.txt          (optional)

:func:`scan_labels` lists the recordings (the label is the folder's name, any string, in
Unicode NFC: macOS file systems hand out names decomposed (NFD), others as written, so
"café" is the same label either way; list files are read the same way);
:func:`keep_readable` opens them and skips those that cannot be read;
:func:`read_file_list` reads a list file; :func:`speaker_of` reads the speaker from a
Speech Commands file name (``<speaker>_nohash_<n>.wav``). Splitting is the task's
(:mod:`rnnkit.tasks.speech_digits`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .audio import AudioError
from .datasets import DataError, is_file, is_hidden

# what soundfile reads (MP3: libsndfile >= 1.1, bundled with soundfile >= 0.12; where the
# system's is older, an MP3 is a recording that cannot be read, named with the reason)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff")
IGNORED_FOLDERS = ("_background_noise_", "__MACOSX")  # noise; macOS zip metadata
FILE_LISTS = {"val": "validation_list.txt", "test": "testing_list.txt"}
_SPEAKER = re.compile(r"^(.+)_nohash_\d+\.\w+$")


@dataclass(frozen=True)
class Clip:
    """One recording: its file, its label (the folder's name) and its name relative to the
    root (``label/file.wav``, with ``/``: how the list files name it); label and name in
    Unicode NFC (:func:`nfc`), whatever form the file system gave."""

    path: Path
    label: str
    name: str


@dataclass
class Scan:
    clips: list[Clip]
    skipped: list[str]  # names of files in label folders that are not audio
    # recordings that cannot be read (:func:`keep_readable`), each with "path: reason"
    unreadable: list[tuple[Clip, str]] = field(default_factory=list)

    def note(self, root: Path, unlisted: Iterable[str] = ()) -> str:
        """The skipped files in words, for one warning ("" when none): the files that are
        not audio, then the recordings that cannot be read (the first 10, "path: reason";
        ``unlisted``: how the list files named those of them they name, "list: name")."""
        parts = []
        if self.skipped:
            more = " ..." if len(self.skipped) > 10 else ""
            parts.append(f"skipped {len(self.skipped)} file(s) that are not audio "
                         f"({', '.join(AUDIO_SUFFIXES)}): {', '.join(self.skipped[:10])}{more}")
        if unlisted := list(unlisted):
            more = " ..." if len(unlisted) > 10 else ""
            parts.append(f"left {len(unlisted)} recording(s) that cannot be read out of the "
                         f"file lists ({', '.join(unlisted[:10])}{more})")
        if self.unreadable:  # last: its items are joined by "; " too
            total = len(self.clips) + len(self.unreadable)
            more = " ..." if len(self.unreadable) > 10 else ""
            parts.append(f"skipped {len(self.unreadable)} of {total} recordings that cannot "
                         f"be read: {'; '.join(why for _, why in self.unreadable[:10])}{more}")
        return f"{root}: " + "; ".join(parts) if parts else ""


def nfc(name: str) -> str:
    """``name`` in Unicode normal form C (composed: "é" one code point, as typed on most
    systems; macOS file systems hand out "e" + a combining accent)."""
    return unicodedata.normalize("NFC", name)


def _nfc_order(path: Path) -> tuple[str, str]:
    return nfc(path.name), path.name  # ties (two forms of one name) broken alike everywhere


def is_label_folder(path: Path) -> bool:
    """Whether an entry of a root folder is a label's folder: a folder, not hidden
    (:func:`~rnnkit.data.datasets.is_hidden`) nor one of :data:`IGNORED_FOLDERS`."""
    return path.is_dir() and not is_hidden(path) and path.name not in IGNORED_FOLDERS


def scan_labels(root: str | Path) -> Scan:
    """Every audio file in ``root``/<label>/ (direct children of each label folder), sorted
    by label then file name; labels and names in NFC (:class:`Clip`).

    Hidden entries (``.name``: ``.ipynb_checkpoints/``, ``.DS_Store``, macOS's ``._x.wav``
    resource forks) are neither labels nor recordings and are passed over without a word,
    as are ``_background_noise_`` and ``__MACOSX`` (:data:`IGNORED_FOLDERS`); files
    directly in ``root`` are not recordings (the list files live there); other files in a
    label folder that are not audio are skipped and listed (:meth:`Scan.note`).

    Errors (:class:`DataError`, naming the folder): ``root`` is not a folder, it holds no
    label folder, a label folder holds no audio file (when it holds label folders of its
    own, the error names it as the root to give), or two folders (or two files of one
    folder) are the same name in two Unicode forms (NFC and NFD): they are not merged,
    since one of them is usually a stray copy; rename or merge them by hand."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; keywords are read from root/<label>/*.wav")
    folders = sorted(filter(is_label_folder, root.iterdir()), key=_nfc_order)
    if not folders:
        raise DataError(f"{root}: no label folders; keywords are read from "
                        "root/<label>/*.wav, one folder per label")
    _same_in_nfc(root, [p.name for p in folders], "folders")
    clips, skipped = [], []
    for folder in folders:
        label = nfc(folder.name)
        files = sorted((p for p in folder.iterdir()  # NFC order: one split on every system
                        if p.is_file() and not is_hidden(p)), key=_nfc_order)
        audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
        skipped += [f"{label}/{nfc(p.name)}" for p in files if p not in audio]
        if not audio:
            raise DataError(f"{folder}: label folder {folder.name!r} holds no audio file "
                            f"({', '.join(AUDIO_SUFFIXES)}){_inner_labels(folder)}")
        _same_in_nfc(folder, [p.name for p in audio], "files")
        clips += [Clip(p, label, f"{label}/{nfc(p.name)}") for p in audio]
    return Scan(clips, skipped)


def _inner_labels(folder: Path) -> str:
    """How an error about ``folder`` (no audio file in it) ends: the folder to give as the
    root when ``folder`` holds label folders itself (an archive unpacked into a folder of its
    own), else the advice to remove it or add recordings."""
    inner = sorted(nfc(p.name) for p in folder.iterdir() if is_label_folder(p) and any(
        f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES and not is_hidden(f)
        for f in p.iterdir()))
    if not inner:
        return "; remove it or add recordings"
    more = " ..." if len(inner) > 5 else ""
    return (f" but folders of recordings ({', '.join(inner[:5])}{more}): if those are the "
            f"labels, read {folder} as the root (task.data)")


def keep_readable(scan: Scan, root: str | Path, read: Callable[[Clip], object]) -> Scan:
    """``scan`` less the recordings that cannot be read: ``read(clip)`` (which reads the
    audio, and may keep what it read) is called on every clip in order, and a clip for which
    it raises :class:`~rnnkit.data.audio.AudioError` (a truncated or empty file, text
    renamed .wav ...) is moved to :attr:`Scan.unreadable` with the error's words ("path:
    reason"), for :meth:`Scan.note`; the other clips keep their order.

    A label whose recordings all fail is an error, not a label dropped in silence: that
    would change the classes a model learns. Errors (:class:`DataError`, the first 5
    reasons given): no recording of ``root`` can be read (naming ``root``), or none of one
    label's (naming its folder)."""
    kept, failed = [], []
    for clip in scan.clips:
        try:
            read(clip)
        except AudioError as e:  # "<path>: <reason>"
            failed.append((clip, str(e)))
        else:
            kept.append(clip)

    def reasons(errors: list[str]) -> str:
        return "; ".join(errors[:5]) + (" ..." if len(errors) > 5 else "")

    if failed and not kept:
        raise DataError(f"{root}: none of its {len(failed)} recording(s) can be read: "
                        f"{reasons([why for _, why in failed])}")
    heard = {c.label for c in kept}
    for clip, _ in failed:
        if clip.label not in heard:
            errors = [why for c, why in failed if c.label == clip.label]
            raise DataError(f"{clip.path.parent}: none of the {len(errors)} recording(s) of "
                            f"label {clip.label!r} can be read; replace them, or remove the "
                            f"folder: {reasons(errors)}")
    return Scan(kept, scan.skipped, scan.unreadable + failed)


def _same_in_nfc(folder: Path, names: list[str], what: str) -> None:
    """A :class:`DataError` when two of ``names`` differ only in Unicode form (the names
    are shown with escapes, as they print alike)."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(nfc(name), name)
        if other != name:
            raise DataError(f"{folder}: the {what} {ascii(other)} and {ascii(name)} are both "
                            f"{nfc(name)!r}, written in two Unicode forms (NFC and NFD, as "
                            "macOS writes names); merge them into one, or rename one")


def read_file_list(path: Path, known: set[str]) -> list[str]:
    """The recordings a list file names (paths relative to its folder, one a line, blank
    lines ignored; in NFC, as :class:`Clip` names are), in its order; a name that is not
    one of ``known`` is a :class:`DataError` naming the file and line."""
    out = []
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:  # (e.start counts in e.object: the bytes after a BOM)
        where = e.object[:e.start].count(b"\n") + 1
        raise DataError(f"{path}:{where}: not valid UTF-8 (byte {e.object[e.start]:#04x}); save "
                        "the list as UTF-8") from None
    for line, text in enumerate(content.splitlines(), 1):
        name = nfc(text.strip().replace("\\", "/").removeprefix("./"))
        if not name:
            continue
        if name not in known:
            exists = is_file(path.parent / name)
            why = ("is not a recording of a label folder" if exists else "no such file")
            raise DataError(f"{path}:{line}: {name!r}: {why} (names are relative to "
                            f"{path.parent}, e.g. yes/0a7c2a8d_nohash_0.wav)")
        out.append(name)
    return out


def file_lists(root: Path, scan: Scan) -> tuple[dict[str, list[Clip]], list[str]]:
    """The recordings the list files in ``root`` name (:data:`FILE_LISTS`, each read by
    :func:`read_file_list`), by part (``"val"``, ``"test"``; a part without its list
    absent), in the list's order; and the names they give of recordings of
    :attr:`Scan.unreadable`, which are left out (``"list: name"``, for :meth:`Scan.note`).
    A name that both lists give is a :class:`DataError`."""
    known = {c.name: c for c in scan.clips}
    gone = {c.name for c, _ in scan.unreadable}
    lists = {split: read_file_list(root / name, set(known) | gone)
             for split, name in FILE_LISTS.items() if (root / name).is_file()}
    both = sorted(set(lists.get("val", [])) & set(lists.get("test", [])))
    if both:
        raise DataError(f"{root}: {both[0]!r} (and {len(both) - 1} more) is named by both "
                        f"{FILE_LISTS['val']} and {FILE_LISTS['test']}")
    named = {split: [known[n] for n in names if n in known] for split, names in lists.items()}
    return named, [f"{FILE_LISTS[split]}: {n}" for split, names in lists.items()
                   for n in names if n in gone]


def speaker_of(name: str) -> str | None:
    """The speaker of a Speech Commands file name (``<speaker>_nohash_<n>.wav``), else
    None."""
    m = _SPEAKER.match(Path(name).name)
    return m[1] if m else None
