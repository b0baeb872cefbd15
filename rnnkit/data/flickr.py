"""Flickr8k / Flickr30k layout: an image folder and a captions file, read with Pillow.

The captions file has one caption a line, ``IMAGE#I<TAB>caption`` (``1000268201.jpg#0	A
child in a pink dress ...``), as ``Flickr8k.token.txt`` and Flickr30k's
``results_20130124.token`` do; or, after a header line, ``image,caption`` CSV (Kaggle's
Flickr8k ``captions.txt``) or ``image_name| comment_number| comment`` (Kaggle's Flickr30k
``results.csv``). Blank lines and a UTF-8 byte-order mark are skipped. A line that cannot
be read (no tab or ``#INDEX``, a missing separator, no caption: Flickr30k's ``results.csv``
has one, ``2199200615.jpg| 4   A dog runs ...``) is skipped, with one warning naming how
many and the first line numbers; its image keeps its other captions (an image left with
none is not read). The rule: at most 1% (:data:`MAX_BROKEN`) of a file's caption lines may
be skipped; more, or no line read at all, means the file is not in the layout its first
line announces, and is a :class:`FlickrError` naming the file, the layout expected and the
first line that does not fit. Images are looked up in ``images_dir`` by the same rule: an
image the captions name that is missing or that Pillow cannot read is skipped with all its
captions, with one warning naming how many and the first five (line, name and why), up to
1% (:data:`MAX_BROKEN`) of the images (the real ``Flickr8k.token.txt`` names one that
Flickr8k does not hold, ``2258277193_586949ec62.jpg.1``); more, or none left, means the
folder is not the images folder, and is a :class:`FlickrError` naming the captions file,
the folder and the first image. (:func:`read_image`, one named file, raises on any file
it cannot read.) Flickr8k's split lists (``Flickr_8k.trainImages.txt``, ``devImages``,
``testImages``) are used when all three are present, an image named in none of them left
out with a warning; one or two of them are ignored with a warning naming those missing,
and the images are split at random (seeded).

Images come back resized to ``size`` x ``size`` (bilinear, aspect ratio not kept) as uint8
(N, 3, size, size); :func:`~rnnkit.models.image_encoder.normalise_images` normalises them
inside the model.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from .._optional import require

CAPTION_FILES = ("Flickr8k.token.txt", "results_20130124.token", "captions.token",
                 "captions.txt", "results.csv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGE_DIRS = ("Flicker8k_Dataset", "Flickr8k_Dataset", "flickr30k-images", "flickr30k_images",
              "Images", "images")
HEADERS = {"image,caption": ",", "image_name| comment_number| comment": "|"}  # -> delimiter
SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt",
               "test": "Flickr_8k.testImages.txt"}
MAX_BROKEN = 1  # the percentage of caption lines, or of images, that may be skipped
TOKEN_LAYOUT = "'IMAGE#INDEX<TAB>caption' (e.g. '1000268201.jpg#0<TAB>A child ...')"


class FlickrError(ValueError):
    """A data folder that does not follow the Flickr layout (the message says where)."""


def caption_rows(path: str | Path) -> list[tuple[int, str, str]]:
    """``(line number, image name, caption)`` for each caption of the file, in file order:
    ``IMAGE#I<TAB>caption`` lines, or rows under an ``image,caption`` (CSV) or
    ``image_name| comment_number| comment`` header. Lines that cannot be read are skipped
    with a warning, up to :data:`MAX_BROKEN` of them (the module docstring's rule)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise FlickrError(f"{path}: cannot read the captions file: {e}") from None
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    header = numbered[0][1].replace(" ", "").replace("|", "| ") if numbered else ""
    delimiter = HEADERS.get(header)
    if delimiter:
        numbered = numbered[1:]
        expected = f"the columns {header!r} that the header line names"
    else:
        expected = TOKEN_LAYOUT
    rows, broken = [], []
    for n, line in numbered:
        row = _caption_row(line, delimiter)
        if row:
            rows.append((n, *row))
        else:
            broken.append((n, line))
    if broken:
        _check_broken(path, broken, len(numbered), expected, bool(delimiter))
    return rows


def _caption_row(line: str, delimiter: str | None) -> tuple[str, str] | None:
    """(image name, caption) of one line of the layout ``delimiter`` names (None: the
    ``IMAGE#I<TAB>caption`` layout), or None when the line does not fit it."""
    if delimiter:  # the caption is every column after the image (and comment number)
        fields = next(csv.reader([line], delimiter=delimiter))
        skip = 1 if delimiter == "," else 2
        name, caption = fields[0].strip(), delimiter.join(fields[skip:])  # (too few: "")
    else:
        key, _, caption = line.partition("\t")  # (no tab: caption "")
        name, hash_, index = key.strip().rpartition("#")
        if not (hash_ and index.isdigit()):
            return None
    if not name or not caption.strip():
        return None
    return name, caption.strip()


def _check_broken(path: Path, broken: list[tuple[int, str]], total: int, expected: str,
                  headed: bool) -> None:
    """Warn of the ``broken`` (line number, text) of ``total`` caption lines, or raise a
    :class:`FlickrError` when they are all or more than :data:`MAX_BROKEN` of them."""
    first, text = broken[0]
    shown = ", ".join(str(n) for n, _ in broken[:5]) + (" ..." if len(broken) > 5 else "")
    if 100 * len(broken) <= MAX_BROKEN * total:  # (exact in ints; MAX_BROKEN < 100: not all)
        warnings.warn(f"{path}: skipped {len(broken)} of {total} caption lines that cannot be "
                      f"read (line {shown}): expected {expected}", stacklevel=3)
        return
    other = "" if headed else (" (or a header line 'image,caption' or 'image_name| "
                               "comment_number| comment' above such rows)")
    raise FlickrError(f"{path}, line {first}: expected {expected}{other}, got {text[:80]!r}; "
                      f"{len(broken)} of {total} caption lines do not fit (line {shown}): "
                      f"more than {MAX_BROKEN}% means the file is not in this layout")


def read_captions(path: str | Path) -> dict[str, list[str]]:
    """``{image name: [captions in file order]}`` from a captions file
    (:func:`caption_rows`)."""
    return _grouped(caption_rows(path), path)


def _grouped(rows: list[tuple[int, str, str]], path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for _, name, caption in rows:
        out.setdefault(name, []).append(caption)
    if not out:
        raise FlickrError(f"{path}: no captions")
    return out


def find_layout(data_dir: str | Path, captions_file: str = "") -> tuple[Path, Path]:
    """(captions file, image folder) inside ``data_dir`` (``captions_file`` "" = look for
    the usual names)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FlickrError(f"{root}: no such data folder")
    names = (captions_file,) if captions_file else CAPTION_FILES
    found = [root / n for n in names if (root / n).is_file()]
    if not found:
        raise FlickrError(f"{root}: no captions file (looked for {', '.join(names)})")
    images = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), root)
    return found[0], images


def read_image(path: str | Path, size: int) -> np.ndarray:
    """One image file -> (3, size, size) uint8 RGB (raises FlickrError if unreadable)."""
    try:
        return _pixels(path, size)
    except FlickrError as e:
        raise FlickrError(f"{path}: {e}") from None


def _pixels(path: str | Path, size: int) -> np.ndarray:
    """:func:`read_image`, its error not naming the file: ``cannot read the image: WHY``."""
    Image = require("PIL.Image", "vision")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB").resize((size, size), Image.BILINEAR)
            return np.asarray(im).transpose(2, 0, 1).copy()  # (RGB: 8 bits a channel, uint8)
    except Exception as e:  # (PIL raises many kinds on a damaged file: OSError, SyntaxError ...)
        raise FlickrError(f"cannot read the image: {str(e) or type(e).__name__}") from None


def load_flickr(data_dir: str | Path, *, size: int = 64, captions_file: str = "",
                max_images: int = 0) -> tuple[list[str], np.ndarray, list[list[str]], Path]:
    """(image names, images (N, 3, size, size) uint8, captions per image, captions path)
    in captions-file order; ``max_images`` > 0 keeps the first that many. Images missing or
    unreadable are skipped with a warning, up to 1% (:data:`MAX_BROKEN`) of them (the
    module docstring's rule)."""
    cap_path, images_dir = find_layout(data_dir, captions_file)
    rows = caption_rows(cap_path)  # read once: the captions, and each image's first line
    captions = _grouped(rows, cap_path)
    lines: dict[str, int] = {}
    for n, name, _ in rows:
        lines.setdefault(name, n)
    names, images, skipped = [], [], []
    for name in list(captions)[:max_images or None]:
        path = images_dir / name
        if not path.is_file():
            skipped.append((lines[name], f"image {name!r} not found in {images_dir}"))
            continue
        try:
            images.append(_pixels(path, size))  # (3, size, size)
        except FlickrError as e:
            skipped.append((lines[name], f"image {name!r}: {e}"))
            continue
        names.append(name)
    if skipped:
        _check_images(cap_path, images_dir, skipped, len(names) + len(skipped))
    return names, np.stack(images), [captions[n] for n in names], cap_path


def _check_images(cap_path: Path, images_dir: Path, skipped: list[tuple[int, str]],
                  total: int) -> None:
    """Warn of the ``skipped`` (first line, why) of ``total`` images, or raise a
    :class:`FlickrError` when they are all or more than :data:`MAX_BROKEN` of them."""
    more = " ..." if len(skipped) > 5 else ""
    expected = f"expected every image the captions file names in {images_dir}"
    if 100 * len(skipped) <= MAX_BROKEN * total:  # (as for caption lines: never all)
        shown = "; ".join(f"line {n}: {why}" for n, why in skipped[:5]) + more
        warnings.warn(f"{cap_path}: skipped {len(skipped)} of {total} images that are missing "
                      f"or cannot be read, with their captions ({shown}): {expected}",
                      stacklevel=3)
        return
    first, why = skipped[0]
    shown = ", ".join(str(n) for n, _ in skipped[:5]) + more
    folders = ", ".join(f"{d}/" for d in IMAGE_DIRS[:-1]) + f" or {IMAGE_DIRS[-1]}/"
    raise FlickrError(f"{cap_path}, line {first}: {why}; {len(skipped)} of {total} images are "
                      f"missing or cannot be read (line {shown}): {expected}; more than "
                      f"{MAX_BROKEN}% means it is not their folder: put them in a sub-folder "
                      f"{folders} beside the captions file (the first found is used)")


def split_names(data_dir: str | Path, names: list[str], *, seed: int = 0,
                val_fraction: float = 0.1, test_fraction: float = 0.1) -> dict[str, list[int]]:
    """Indices of ``names`` per split: Flickr8k's split lists if all three are in
    ``data_dir`` (:func:`_listed_split`), else a seeded random split by the fractions (one
    image each at least; one or two of the lists: a warning naming those missing). A part
    left empty is a :class:`FlickrError`."""
    root = Path(data_dir)
    lists = list(SPLIT_FILES.values())
    present = [f for f in lists if (root / f).is_file()]
    if present == lists:
        return _listed_split(root, names)
    if present:
        missing = [f for f in lists if f not in present]
        warnings.warn(f"{root}: found {', '.join(present)} but not {', '.join(missing)}: "
                      "expected all three of Flickr8k's split lists, so they are ignored and "
                      f"the images split at random (seed {seed}); add the missing list, or "
                      "remove the others", stacklevel=2)
    if len(names) < 3:
        raise FlickrError(f"{root}: {len(names)} captioned image(s); a training, a validation "
                          "and a test part need 3 at least")
    order = np.random.default_rng(seed).permutation(len(names)).tolist()
    n_test = max(1, min(int(round(len(names) * test_fraction)), len(names) - 2))
    n_val = max(1, min(int(round(len(names) * val_fraction)), len(names) - n_test - 1))
    return {"test": sorted(order[:n_test]), "val": sorted(order[n_test:n_test + n_val]),
            "train": sorted(order[n_test + n_val:])}


def _listed_split(root: Path, names: list[str]) -> dict[str, list[int]]:
    """Indices of ``names`` per Flickr8k split list in ``root``; an image named in none is
    left out, with a warning."""
    where = {}
    for split, f in SPLIT_FILES.items():
        for line in (root / f).read_text().split():
            where[line.strip()] = split
    parts = {s: [i for i, n in enumerate(names) if where.get(n) == s] for s in SPLIT_FILES}
    for split, idx in parts.items():
        if not idx:
            raise FlickrError(f"{root / SPLIT_FILES[split]}: names none of the "
                              f"{len(names)} images read from the captions file; the "
                              f"{split} part would be empty")
    left = [n for n in names if n not in where]
    if left:
        shown = ", ".join(map(repr, left[:5])) + (" ..." if len(left) > 5 else "")
        warnings.warn(f"{root}: left out {len(left)} of {len(names)} captioned images that "
                      f"none of {', '.join(SPLIT_FILES.values())} names ({shown}): expected "
                      "each image in one of them; add an image to a list to use it",
                      stacklevel=3)
    return parts
