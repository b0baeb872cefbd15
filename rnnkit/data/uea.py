"""The UEA/UCR archive's named sets: ``BasicMotions`` and ``JapaneseVowels`` as the official
TRAIN/TEST ``.ts`` files, cached under ``$RNNKIT_DATA/uea/<name>/`` and checked against their
sha256. The archive (timeseriesclassification.com) serves them only inside zip files, so a
missing file is copied from the ones the ``aeon`` package ships (``pip install aeon``); a
file already in the cache is used as it is. Read them with
:func:`rnnkit.data.sequences.read_ts`.

    python -m rnnkit.data.sequences BasicMotions JapaneseVowels   # fill the cache from aeon
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from .datasets import DataError, data_root, sha256_of

# sha256 of the official TRAIN/TEST files as aeon 1.6 ships them
UEA_SETS = {
    "BasicMotions": {
        "train": "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
        "test": "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc"},
    "JapaneseVowels": {
        "train": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
        "test": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"},
}


def uea_files(name: str, root: Path | None = None) -> dict[str, Path]:
    """``{"train": path, "test": path}``: set ``name``'s official split, verified, copied
    into the cache from the installed aeon package when absent."""
    if name not in UEA_SETS:
        raise DataError(f"unknown data set {name!r}; known: {sorted(UEA_SETS)}")
    folder = (root or data_root()) / "uea" / name
    out = {}
    for split, sha in UEA_SETS[name].items():
        path = folder / f"{name}_{split.upper()}.ts"
        if not path.exists():
            _copy_from_aeon(name, path, sha)
        actual = sha256_of(path)
        if actual != sha:
            raise DataError(f"{name}: {path} has sha256 {actual}, expected {sha}; the file is "
                            "corrupt or another version: delete it to copy it again")
        out[split] = path
    return out


def _copy_from_aeon(name: str, path: Path, sha: str) -> None:
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{name}: {path} not found. rnnkit copies it from the files the aeon "
                        "package ships: pip install aeon (or pip install 'rnnkit[bench]'), "
                        f"or put {path.name} (timeseriesclassification.com, {name}.zip) "
                        f"into {path.parent}")
    source = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name / path.name
    if not source.is_file():
        raise DataError(f"{name}: the installed aeon ({source.parents[3]}) has no "
                        f"{source.name}; put the file into {path.parent}")
    actual = sha256_of(source)
    if actual != sha:
        raise DataError(f"{name}: {source} has sha256 {actual}, expected {sha} (the file "
                        f"aeon 1.6 ships); put the expected file into {path.parent}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(path)
    print(f"copied {source} -> {path}", file=sys.stderr)
