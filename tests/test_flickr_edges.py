"""rnnkit.data.flickr at its edges (the survivors of a mutation run): the fifth and sixth
skipped line, a file whose every line is broken, an empty captions file found by the
loader, the image reader's errors (Pillow missing, an exception without a message) and the
random split of the smallest sets, each checked to the exact message or size."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rnnkit._optional import MissingExtraError
from rnnkit.data.flickr import (
    TOKEN_LAYOUT,
    FlickrError,
    caption_rows,
    load_flickr,
    read_captions,
    read_image,
    split_names,
)

Image = pytest.importorskip("PIL.Image")
OTHER = (" (or a header line 'image,caption' or 'image_name| comment_number| comment' above "
         "such rows)")


def _error(fn, *args, **kw) -> str:
    with pytest.raises(FlickrError) as e:
        fn(*args, **kw)
    return str(e.value)


def _token_file(path, lines: int, bad_at: tuple[int, ...]) -> None:
    """``lines`` caption lines of image ``k // 5``, line ``k + 1`` of the file; those at
    ``bad_at`` (1-based line numbers) without their tab."""
    path.write_text("".join(f"{k // 5}.jpg#{k % 5}{' ' if k + 1 in bad_at else chr(9)}x\n"
                            for k in range(lines)), encoding="utf-8")


def test_five_skipped_lines_are_all_shown_and_a_sixth_adds_dots(tmp_path):
    path = tmp_path / "c.txt"
    _token_file(path, 500, (2, 30, 31, 400, 500))  # 5 of 500: 1%
    with pytest.warns(UserWarning) as caught:
        got = read_captions(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: skipped 5 of 500 caption lines that cannot be read (line 2, 30, 31, 400, "
        f"500): expected {TOKEN_LAYOUT}"]
    assert sum(map(len, got.values())) == 495
    _token_file(path, 100, (1, 2, 3, 4, 5))
    assert _error(read_captions, path) == (
        f"{path}, line 1: expected {TOKEN_LAYOUT}{OTHER}, got '0.jpg#0 x'; 5 of 100 caption "
        "lines do not fit (line 1, 2, 3, 4, 5): more than 1% means the file is not in this "
        "layout")
    _token_file(path, 100, (1, 2, 3, 4, 5, 99))
    assert _error(read_captions, path).endswith(
        "; 6 of 100 caption lines do not fit (line 1, 2, 3, 4, 5 ...): more than 1% means the "
        "file is not in this layout")


def test_the_warning_points_at_the_caller_of_caption_rows(tmp_path):
    """Never flickr.py itself (under mutmut's trampoline, at the trampoline; outside mutmut
    exactly this file)."""
    path = tmp_path / "c.txt"
    _token_file(path, 100, (7,))
    with pytest.warns(UserWarning) as caught:
        rows = caption_rows(path)
    assert len(rows) == 99 and rows[6] == (8, "1.jpg", "x")
    (w,) = caught
    assert not w.filename.endswith("flickr.py")
    if not w.filename.endswith("trampoline.py"):
        assert w.filename == __file__


@pytest.mark.parametrize("text, got", [("a.jpg#0 x\n", "a.jpg#0 x"),
                                       ("image,caption\n7.jpg\n", "7.jpg")])
def test_a_file_of_one_broken_line_is_an_error(tmp_path, text, got):
    path = tmp_path / "c.txt"
    path.write_text(text)
    expected, other = ((TOKEN_LAYOUT, OTHER) if "," not in text else
                       ("the columns 'image,caption' that the header line names", ""))
    assert _error(read_captions, path) == (
        f"{path}, line {text.count(chr(10))}: expected {expected}{other}, got {got!r}; 1 of 1 "
        f"caption lines do not fit (line {text.count(chr(10))}): more than 1% means the file "
        "is not in this layout")


@pytest.mark.parametrize("line", ["a.jpg,", "a.jpg,  ", ",a caption"])
def test_a_row_without_an_image_or_a_caption_is_broken(tmp_path, line):
    path = tmp_path / "captions.txt"
    path.write_text(f"image,caption\na.jpg,fine\n{line}\n")
    assert _error(read_captions, path).startswith(
        f"{path}, line 3: expected the columns 'image,caption' that the header line names, "
        f"got {line!r}; 1 of 2 caption lines")


def test_the_loader_names_an_empty_captions_file(tmp_path):
    (tmp_path / "Images").mkdir()
    (tmp_path / "Flickr8k.token.txt").write_text("\n \n")
    assert _error(load_flickr, tmp_path) == f"{tmp_path / 'Flickr8k.token.txt'}: no captions"


def test_without_pillow_the_error_names_the_vision_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(MissingExtraError) as e:
        read_image(tmp_path / "a.png", 2)
    assert str(e.value) == ("PIL is not installed; it comes with rnnkit's 'vision' extra: "
                            "pip install 'rnnkit[vision]' (or pip install pillow)")


@pytest.mark.parametrize("error, why", [(OSError(), "OSError"),
                                        (SyntaxError("not a PNG file"), "not a PNG file")])
def test_an_unreadable_image_says_why_or_at_least_what(tmp_path, monkeypatch, error, why):
    def refuse(path, *args, **kw):
        raise error

    monkeypatch.setattr(Image, "open", refuse)
    assert _error(read_image, tmp_path / "a.png", 2) == (
        f"{tmp_path / 'a.png'}: cannot read the image: {why}")


def test_an_image_comes_back_as_uint8_whatever_its_depth(tmp_path):
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(tmp_path / "deep.png")  # 16 bits
    got = read_image(tmp_path / "deep.png", 1)
    assert got.dtype == np.uint8 and got.shape == (3, 1, 1)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_images_cannot_be_split(tmp_path, n):
    assert _error(split_names, tmp_path, [f"{i}.jpg" for i in range(n)]) == (
        f"{tmp_path}: {n} captioned image(s); a training, a validation and a test part need 3 "
        "at least")


@pytest.mark.parametrize("n, val, test, sizes", [
    (3, 0.1, 0.1, (1, 1, 1)), (3, 0.9, 0.9, (1, 1, 1)),
    (4, 0.1, 0.9, (2, 1, 1)),   # the test part leaves one image each to the others
    (4, 0.9, 0.25, (1, 2, 1)),  # the validation part leaves one to training
    (5, 0.9, 0.9, (3, 1, 1)), (5, 0.6, 0.2, (1, 3, 1)),
])
def test_the_smallest_sets_keep_one_image_in_each_part(tmp_path, n, val, test, sizes):
    parts = split_names(tmp_path, [f"{i}.jpg" for i in range(n)], val_fraction=val,
                        test_fraction=test)
    assert tuple(map(len, parts.values())) == sizes
    assert sorted(sum(parts.values(), [])) == list(range(n))
