"""Real data sets by name: found in ``$RNNKIT_DATA``, else downloaded into the cache.

A file already present is used without any network access. Every file is checked against
its sha256 before use; a mismatch is an error naming the file and both hashes, never a silent
use of a wrong file. The cache is ``$RNNKIT_DATA`` when set, else ``~/.cache/rnnkit``; its
layout is the one of the shared data folder (``shakespeare/input.txt``, ...).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_GH = "https://raw.githubusercontent.com"
_NAB = f"{_GH}/numenta/NAB/ea702d75cc2258d9d7dd35ca8e5e2539d71f3140"
_TS = f"{_GH}/jbrownlee/Datasets/master"
_RT = f"{_GH}/yoonkim/CNN_sentence/master"


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the data folder
    url: str | None  # canonical address; None when no download gives this exact file
    sha256: str


DATASETS: dict[str, list[RemoteFile]] = {
    "shakespeare": [RemoteFile(
        "shakespeare/input.txt",
        f"{_GH}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/"
        "tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")],
    "rt-polarity": [
        RemoteFile("sentiment/rt-polarity.pos", f"{_RT}/rt-polarity.pos",
                   "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0"),
        RemoteFile("sentiment/rt-polarity.neg", f"{_RT}/rt-polarity.neg",
                   "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca"),
    ],
    # a cut of the Tatoeba list (manythings.org/anki fra-eng.zip): no single address serves it
    "eng-fra": [RemoteFile("translation/eng-fra.txt", None,
                           "253b377b164d4da0cac71b8ae38487c3e9ac5eedd32aebb4c60a29a958aa79d2")],
    "airline-passengers": [RemoteFile(
        "timeseries/airline-passengers.csv", f"{_TS}/airline-passengers.csv",
        "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621")],
    "daily-min-temperatures": [RemoteFile(
        "timeseries/daily-min-temperatures.csv", f"{_TS}/daily-min-temperatures.csv",
        "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da")],
    "monthly-sunspots": [RemoteFile(
        "timeseries/monthly-sunspots.csv", f"{_TS}/monthly-sunspots.csv",
        "c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3")],
    "nab-windows": [RemoteFile(
        "anomaly/combined_windows.json", f"{_NAB}/labels/combined_windows.json",
        "1e1fbc4601321aad8d0f8b3784c8134299379f68f6c1f7777565f8ffd57ab6b1")],
    "nyc_taxi": [RemoteFile(
        "anomaly/nyc_taxi.csv", f"{_NAB}/data/realKnownCause/nyc_taxi.csv",
        "d8fa6f7f0734bf5c8be12c52a94e20a82664c397d9dec4449156bd453d32856d")],
    "machine_temperature_system_failure": [RemoteFile(
        "anomaly/machine_temperature_system_failure.csv",
        f"{_NAB}/data/realKnownCause/machine_temperature_system_failure.csv",
        "92bf5b87fc7f9bba8ca0b7ec63ccaac8cb4a1371a258e8c29a10ae9c018d82a4")],
    "ambient_temperature_system_failure": [RemoteFile(
        "anomaly/ambient_temperature_system_failure.csv",
        f"{_NAB}/data/realKnownCause/ambient_temperature_system_failure.csv",
        "230b68ccca20f59d562afd5d24ad52939c9b784386bed0054018358bf9120581")],
    # a JSON conversion of the pickled split in czhuang/JSB-Chorales-dataset
    "jsb-chorales": [RemoteFile("music/jsb-chorales-quarter.json", None,
                                "2db9329f1881a1d3f49703ec556bf1d6f84b4f6c1d702c156536e93cf31e1c91")],
}


class DataError(RuntimeError):
    """A data set is missing, corrupt or malformed; the message says how to fix it."""


def expand_home(path: str | Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; left as written when that home
    folder is unknown (Path.expanduser raises then), so the caller's "not found" names it."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def is_file(path: str | Path) -> bool:
    """Whether ``path`` is a file; False also where the system refuses the name (too long,
    unencodable), which Path.is_file raises on."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_hidden(path: str | Path, root: str | Path | None = None) -> bool:
    """Whether ``path`` is no data but a system's leftover, passed over by every folder
    scan: its name, or with ``root`` any folder between ``root`` and it, is hidden
    (``.name``: ``.DS_Store``, macOS's ``._song.mid`` resource forks,
    ``.ipynb_checkpoints/``) or ``__MACOSX`` (a macOS zip's copies of those)."""
    path = Path(path)
    parts = path.relative_to(root).parts if root is not None else (path.name,)
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def data_root() -> Path:
    """``$RNNKIT_DATA`` if set, else ``~/.cache/rnnkit``, as an absolute path: a relative
    ``RNNKIT_DATA=../shared/data`` (the README's) is taken from the working directory now,
    so the files' paths stay valid when written into a run, a link or another directory."""
    env = os.environ.get("RNNKIT_DATA")
    return expand_home(env).absolute() if env else Path.home() / ".cache" / "rnnkit"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, *, root: Path | None = None, download: bool = True) -> list[Path]:
    """Paths of the files of data set ``name``, verified; downloaded first when absent."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {sorted(DATASETS)}")
    root = root or data_root()
    paths = []
    for spec in DATASETS[name]:
        path = root / spec.path
        if not path.exists():
            if not download or spec.url is None:
                how = f"download it from {spec.url}" if spec.url else "see the data README"
                raise DataError(
                    f"{name}: {path} not found; set RNNKIT_DATA to a folder holding "
                    f"{spec.path}, or {how}"
                )
            _download(spec.url, path)
        actual = sha256_of(path)
        if actual != spec.sha256:
            raise DataError(
                f"{name}: {path} has sha256 {actual}, expected {spec.sha256}; the file is "
                "corrupt or a different version: delete it to download it again"
            )
        paths.append(path)
    return paths


def _download(url: str, path: Path) -> None:
    """Download to a temporary name beside ``path``, then rename (no half-written files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {url} -> {path}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise DataError(f"could not download {url}: {error}") from error
        raise
