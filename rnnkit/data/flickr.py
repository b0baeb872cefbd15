"""Flickr8k / Flickr30k layout: an image folder and a captions file, read with Pillow.

The captions file has one caption a line, ``IMAGE#I<TAB>caption`` (``1000268201.jpg#0	A
child in a pink dress ...``), as ``Flickr8k.token.txt`` and Flickr30k's
``results_20130124.token`` do; or, after a header line, ``image,caption`` CSV (Kaggle's
Flickr8k ``captions.txt``) or ``image_name| comment_number| comment`` (Kaggle's Flickr30k
``results.csv``). Blank lines and a UTF-8 byte-order mark are skipped. Images are looked up
in ``images_dir``; a missing image or a malformed line is a :class:`FlickrError` naming the
file and line. Flickr8k's split lists (``Flickr_8k.trainImages.txt``, ``devImages``,
``testImages``) are used where present; otherwise images are split at random (seeded).

Images come back resized to ``size`` x ``size`` (bilinear, aspect ratio not kept) as uint8
(N, 3, size, size); :func:`~rnnkit.models.image_encoder.normalise_images` normalises them
inside the model.
"""

from __future__ import annotations

import csv
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


class FlickrError(ValueError):
    """A data folder that does not follow the Flickr layout (the message says where)."""


def read_captions(path: str | Path) -> dict[str, list[str]]:
    """``{image name: [captions in file order]}`` from an ``IMAGE#I<TAB>caption`` file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise FlickrError(f"{path}: cannot read the captions file: {e}") from None
    header = next((line.strip() for line in lines if line.strip()), "")
    delimiter = HEADERS.get(header.replace(" ", "").replace("|", "| "))
    out: dict[str, list[str]] = {}
    seen_header = False
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if delimiter:
            if not seen_header:
                seen_header = True
                continue
            fields = next(csv.reader([line], delimiter=delimiter))
            name, caption = fields[0].strip(), delimiter.join(fields[1 if delimiter == "," else 2:])
            if not name or len(fields) < (2 if delimiter == "," else 3) or not caption.strip():
                raise FlickrError(f"{path}, line {n}: expected '{header}' columns, got "
                                  f"{line[:80]!r}")
        else:
            key, tab, caption = line.partition("\t")
            name, hash_, index = key.strip().rpartition("#")
            if not tab or not hash_ or not name or not index.isdigit() or not caption.strip():
                raise FlickrError(
                    f"{path}, line {n}: expected 'IMAGE#INDEX<TAB>caption' (e.g. "
                    f"'1000268201.jpg#0<TAB>A child ...') or a header line 'image,caption', "
                    f"got {line[:80]!r}")
        out.setdefault(name, []).append(caption.strip())
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
    Image = require("PIL.Image", "vision")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB").resize((size, size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).copy()
    except Exception as e:  # (PIL raises many kinds on a damaged file: OSError, SyntaxError ...)
        raise FlickrError(f"{path}: cannot read the image: {e or type(e).__name__}") from None


def _line_numbers(path: Path) -> dict[str, int]:
    """The first line of each image in the captions file (for error messages); the name is
    read as :func:`read_captions` reads it (up to the last ``#`` before the tab)."""
    first: dict[str, int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        first.setdefault(line.partition("\t")[0].strip().rpartition("#")[0], n)
    return first


def load_flickr(data_dir: str | Path, *, size: int = 64, captions_file: str = "",
                max_images: int = 0) -> tuple[list[str], np.ndarray, list[list[str]], Path]:
    """(image names, images (N, 3, size, size) uint8, captions per image, captions path)
    in captions-file order; ``max_images`` > 0 keeps the first that many."""
    cap_path, images_dir = find_layout(data_dir, captions_file)
    captions = read_captions(cap_path)
    names = list(captions)[:max_images or None]
    lines = _line_numbers(cap_path)
    for name in names:
        if not (images_dir / name).is_file():
            raise FlickrError(f"{cap_path}, line {lines.get(name, '?')}: image {name!r} "
                              f"not found in {images_dir}")
    images = np.stack([read_image(images_dir / n, size) for n in names])
    return names, images, [captions[n] for n in names], cap_path


def split_names(data_dir: str | Path, names: list[str], *, seed: int = 0,
                val_fraction: float = 0.1, test_fraction: float = 0.1) -> dict[str, list[int]]:
    """Indices of ``names`` per split: Flickr8k's split lists if all three are in
    ``data_dir``, else a seeded random split by the fractions."""
    root = Path(data_dir)
    if all((root / f).is_file() for f in SPLIT_FILES.values()):
        where = {}
        for split, f in SPLIT_FILES.items():
            for line in (root / f).read_text().split():
                where[line.strip()] = split
        return {s: [i for i, n in enumerate(names) if where.get(n) == s] for s in SPLIT_FILES}
    order = np.random.default_rng(seed).permutation(len(names)).tolist()
    n_test = max(1, int(round(len(names) * test_fraction)))
    n_val = max(1, int(round(len(names) * val_fraction)))
    return {"test": sorted(order[:n_test]), "val": sorted(order[n_test:n_test + n_val]),
            "train": sorted(order[n_test + n_val:])}
