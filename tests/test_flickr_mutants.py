"""rnnkit.data.flickr on hand-made folders (issue 20): captions files read to exactly the
dictionaries written, whole error messages naming the file and line, which captions file and
image folder win when several are present, images of known pixels read back channel-first,
and the splits checked by their sizes, partition, seeds and Flickr8k's own lists."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.flickr import (
    TOKEN_LAYOUT,
    FlickrError,
    find_layout,
    load_flickr,
    read_captions,
    read_image,
    split_names,
)

Image = pytest.importorskip("PIL.Image")


def _error(fn, *args, **kw) -> str:
    with pytest.raises(FlickrError) as e:
        fn(*args, **kw)
    return str(e.value)


# -- captions ----------------------------------------------------------------------------------

def test_captions_are_read_in_file_order(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(" b.jpg#1\t  A dog .  \r\n\n   \na#b.jpg#0\tOne\nb.jpg#0\tTwo\n",
                    encoding="utf-8")
    got = read_captions(str(path))
    assert got == {"b.jpg": ["A dog .", "Two"], "a#b.jpg": ["One"]}
    assert list(got) == ["b.jpg", "a#b.jpg"]


@pytest.mark.parametrize("line", ["a.jpg#0 no tab", "a.jpg\tno index", "#0\tno name",
                                  "a.jpg#x\tbad index", "a.jpg#\tempty index",
                                  "a.jpg#1\t  ", "a.jpg#-1\tnegative"])
def test_each_malformed_line_is_named(tmp_path, line):
    path = tmp_path / "c.txt"
    path.write_text(f"a.jpg#0\tfine\n\n{line}\n")  # 1 of 2 lines: more than 1%
    assert _error(read_captions, path) == (
        f"{path}, line 3: expected 'IMAGE#INDEX<TAB>caption' (e.g. '1000268201.jpg#0<TAB>A "
        "child ...') (or a header line 'image,caption' or 'image_name| comment_number| "
        f"comment' above such rows), got {line!r}; 1 of 2 caption lines do not fit (line 3): "
        "more than 1% means the file is not in this layout")


def test_long_lines_are_cut_and_files_that_cannot_be_read(tmp_path):
    path = tmp_path / "c.txt"
    line = "x" * 100
    path.write_text(line + "\n")
    assert _error(read_captions, path).endswith(
        f"got {'x' * 80!r}; 1 of 1 caption lines do not fit (line 1): more than 1% means the "
        "file is not in this layout")
    path.write_text("\n  \n")
    assert _error(read_captions, path) == f"{path}: no captions"
    path.write_bytes(b"a.jpg#0\tcaf\xe9\n")
    assert _error(read_captions, path).startswith(f"{path}: cannot read the captions file: ")
    missing = tmp_path / "none.txt"
    assert _error(read_captions, missing).startswith(
        f"{missing}: cannot read the captions file: [Errno 2]")


# -- lines that cannot be read: skipped up to 1%, else the wrong layout ---------------------

HEADER_30K = "image_name| comment_number| comment"
LAYOUTS = {  # name -> (header line or None, a caption line, a line that cannot be read)
    "token": (None, lambda name, i, c: f"{name}#{i}\t{c}", "7.jpg#4 A dog runs (no tab) ."),
    "kaggle-8k": ("image,caption", lambda name, i, c: f"{name},{c}", "7.jpg"),
    "kaggle-30k": (HEADER_30K, lambda name, i, c: f"{name}| {i}| {c}",
                   "7.jpg| 4   A dog runs across the grass ."),  # (results.csv, row 19999)
}
EXPECTED = {
    "token": TOKEN_LAYOUT,
    "kaggle-8k": "the columns 'image,caption' that the header line names",
    "kaggle-30k": f"the columns {HEADER_30K!r} that the header line names",
}


def _captions_file(path, layout, images, bad_at=(), per_image=5):
    """``images`` x ``per_image`` caption lines (``"<name> caption <i>"``) in ``layout``, the
    caption lines listed in ``bad_at`` (0-based) replaced by the layout's unreadable line;
    returns the captions that should be read and the file line number of each bad line."""
    header, line, bad = LAYOUTS[layout]
    lines, want, bad_lines = [header] if header else [], {}, []
    for k in range(images * per_image):
        name, i = f"{k // per_image}.jpg", k % per_image
        if k in bad_at:
            lines.append(bad)
            bad_lines.append(len(lines))
        else:
            lines.append(line(name, i, f"{name} caption {i}"))
            want.setdefault(name, []).append(f"{name} caption {i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return want, bad_lines


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_broken_line_is_skipped_with_one_warning(tmp_path, layout):
    path = tmp_path / "captions.txt"
    want, bad_lines = _captions_file(path, layout, images=20, bad_at=(39,))  # 1 of 100
    with pytest.warns(UserWarning) as caught:
        got = read_captions(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: skipped 1 of 100 caption lines that cannot be read (line {bad_lines[0]}): "
        f"expected {EXPECTED[layout]}"]
    assert got == want and list(got) == list(want)
    assert len(got["7.jpg"]) == 4 and got["7.jpg"][-1] == "7.jpg caption 3"  # its others
    assert all(len(c) == 5 for name, c in got.items() if name != "7.jpg")
    _captions_file(path, layout, images=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing broken: no warning
        assert len(read_captions(path)) == 20


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("images, bad_at, skipped", [
    (40, (3, 50), True),            # 2 of 200: 1% exactly, skipped
    (40, (3, 50, 199), False),      # 3 of 200: 1.5%
    (20, (0, 99), False),           # 2 of 100
])
def test_more_than_one_percent_is_the_wrong_layout(tmp_path, layout, images, bad_at, skipped):
    path = tmp_path / "captions.txt"
    want, bad_lines = _captions_file(path, layout, images, bad_at)
    total, shown = images * 5, ", ".join(map(str, bad_lines))
    if skipped:
        with pytest.warns(UserWarning, match=re.escape(
                f"skipped {len(bad_at)} of {total} caption lines that cannot be read "
                f"(line {shown})")):
            assert read_captions(path) == want
        return
    bad = LAYOUTS[layout][2]
    other = "" if LAYOUTS[layout][0] else (
        " (or a header line 'image,caption' or 'image_name| comment_number| comment' above "
        "such rows)")
    assert _error(read_captions, path) == (
        f"{path}, line {bad_lines[0]}: expected {EXPECTED[layout]}{other}, got {bad!r}; "
        f"{len(bad_at)} of {total} caption lines do not fit (line {shown}): more than 1% "
        "means the file is not in this layout")


def test_the_warning_shows_the_first_five_lines_and_the_loader_keeps_the_image(tmp_path):
    root = tmp_path / "flickr30k"
    (root / "flickr30k_images").mkdir(parents=True)
    for i in range(120):
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(
            root / "flickr30k_images" / f"{i}.jpg")
    bad_at = (35, 36, 37, 38, 39, 300)  # 6 of 600: all five of image 7's, one of image 60's
    want, bad_lines = _captions_file(root / "results.csv", "kaggle-30k", 120, bad_at)
    with pytest.warns(UserWarning) as caught:
        names, images, captions, path = load_flickr(root, size=2)
    assert [str(w.message) for w in caught] == [
        f"{path}: skipped 6 of 600 caption lines that cannot be read (line "
        f"{', '.join(map(str, bad_lines[:5]))} ...): expected {EXPECTED['kaggle-30k']}"]
    assert bad_lines == [37, 38, 39, 40, 41, 302]
    # image 7 has no caption left: it is not read; image 60 keeps its other four
    assert names == [f"{i}.jpg" for i in range(120) if i != 7] == list(want)
    assert images.shape == (119, 3, 2, 2) and int(images[names.index("8.jpg"), 0, 0, 0]) == 8
    assert captions[names.index("60.jpg")] == [f"60.jpg caption {i}" for i in (1, 2, 3, 4)]
    assert all(c == want[n] for n, c in zip(names, captions))


def test_a_file_in_another_layout_names_the_layouts_expected(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("image_id,caption\na.jpg,A dog .\nb.jpg,A cat .\n")  # not Kaggle's header
    assert _error(read_captions, path) == (
        f"{path}, line 1: expected {TOKEN_LAYOUT} (or a header line 'image,caption' or "
        "'image_name| comment_number| comment' above such rows), got 'image_id,caption'; "
        "3 of 3 caption lines do not fit (line 1, 2, 3): more than 1% means the file is not "
        "in this layout")
    path.write_text(f"{HEADER_30K}\n")  # a header and no row: no captions
    assert _error(read_captions, path) == f"{path}: no captions"


# -- layout --------------------------------------------------------------------------------------

def test_layout_prefers_the_usual_names_in_order(tmp_path):
    for name in ("captions.txt", "results_20130124.token"):
        (tmp_path / name).write_text("a.jpg#0\tx\n")
    (tmp_path / "Images").mkdir()
    (tmp_path / "flickr30k-images").mkdir()
    (tmp_path / "Flicker8k_Dataset").write_text("a file, not a folder")
    assert find_layout(str(tmp_path)) == (tmp_path / "results_20130124.token",
                                          tmp_path / "flickr30k-images")
    assert find_layout(tmp_path, "captions.txt") == (tmp_path / "captions.txt",
                                                     tmp_path / "flickr30k-images")
    (tmp_path / "Flickr8k.token.txt").write_text("a.jpg#0\tx\n")
    (tmp_path / "Flickr8k_Dataset").mkdir()
    assert find_layout(tmp_path) == (tmp_path / "Flickr8k.token.txt",
                                     tmp_path / "Flickr8k_Dataset")


def test_layout_falls_back_to_the_folder_itself_and_names_what_is_missing(tmp_path):
    (tmp_path / "captions.token").write_text("a.jpg#0\tx\n")
    assert find_layout(tmp_path) == (tmp_path / "captions.token", tmp_path)
    (tmp_path / "images").mkdir()
    assert find_layout(tmp_path)[1] == tmp_path / "images"
    assert _error(find_layout, tmp_path, "mine.txt") == (
        f"{tmp_path}: no captions file (looked for mine.txt)")
    (tmp_path / "captions.token").unlink()
    assert _error(find_layout, tmp_path) == (
        f"{tmp_path}: no captions file (looked for Flickr8k.token.txt, "
        "results_20130124.token, captions.token, captions.txt, results.csv)")
    assert _error(find_layout, tmp_path / "nope") == f"{tmp_path / 'nope'}: no such data folder"


# -- images ----------------------------------------------------------------------------------

def test_an_image_reads_channel_first_at_its_own_size(tmp_path):
    pixels = np.zeros((2, 3, 3), np.uint8)  # (height, width, RGB)
    pixels[0, 0] = (255, 0, 0)
    pixels[1, 2] = (10, 20, 30)
    pixels[0, 1] = (0, 200, 0)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    got = read_image(tmp_path / "a.png", 3)  # 2 x 3 -> 3 x 3: rows stretched
    assert got.shape == (3, 3, 3) and got.dtype == np.uint8
    want = np.asarray(Image.fromarray(pixels).resize((3, 3), Image.BILINEAR))  # (y, x, RGB)
    np.testing.assert_array_equal(got, want.transpose(2, 0, 1))
    square = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3) * 20
    Image.fromarray(square).save(tmp_path / "s.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "s.png"), 2),
                                  square.transpose(2, 0, 1))  # same size: the same pixels


def test_grey_and_alpha_images_become_rgb(tmp_path):
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png", 2), np.stack([grey] * 3))
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 90, 255
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    want = np.zeros((3, 2, 2), np.uint8)
    want[0] = 90
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", 2), want)
    (tmp_path / "t.jpg").write_text("not an image")
    assert _error(read_image, tmp_path / "t.jpg", 2).startswith(
        f"{tmp_path / 't.jpg'}: cannot read the image: ")


# -- the loader -------------------------------------------------------------------------------

def _folder(root, names, lines):
    (root / "Images").mkdir(parents=True)
    for i, name in enumerate(names):
        Image.fromarray(np.full((4, 6, 3), 10 * i, np.uint8)).save(root / "Images" / name)
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    return root


def test_load_keeps_file_order_and_the_first_images(tmp_path):
    root = _folder(tmp_path, ["a.png", "b.png", "c.png"],
                   ["c.png#0\tthird", "a.png#0\tfirst", "c.png#1\tthird again", "b.png#0\tb"])
    names, images, captions, path = load_flickr(root)
    assert names == ["c.png", "a.png", "b.png"] and path == root / "Flickr8k.token.txt"
    assert images.shape == (3, 3, 64, 64) and images.dtype == np.uint8  # 64 by default
    assert [int(im[0, 0, 0]) for im in images] == [20, 0, 10]
    assert captions == [["third", "third again"], ["first"], ["b"]]
    names, images, captions, _ = load_flickr(root, size=5, max_images=2)
    assert names == ["c.png", "a.png"] and images.shape == (2, 3, 5, 5)
    assert captions == [["third", "third again"], ["first"]]


def test_a_missing_image_names_its_first_line(tmp_path):
    root = _folder(tmp_path, ["a.png"], ["a.png#0\tx", "", "p#1.png#0\tsee #2\tand a tab",
                                         "p#1.png#1\tz"])
    assert _error(load_flickr, root) == (
        f"{root / 'Flickr8k.token.txt'}, line 3: image 'p#1.png' not found in {root / 'Images'}; "
        f"1 of 2 images are missing or cannot be read (line 3): expected every image the "
        f"captions file names in {root / 'Images'}; more than 1% means it is not their folder: "
        "put them in a sub-folder Flicker8k_Dataset/, Flickr8k_Dataset/, flickr30k-images/, "
        "flickr30k_images/, Images/ or images/ beside the captions file (the first found is used)")
    assert load_flickr(root, max_images=1)[0] == ["a.png"]


class _NoLocaleRead(type(Path())):
    """A path that refuses to be read with the locale's encoding (cp1252 on Windows)."""

    def read_text(self, encoding=None, errors=None):
        assert encoding is not None, "read with the locale's encoding"
        return super().read_text(encoding=encoding, errors=errors)


def test_the_captions_file_is_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import rnnkit.data.flickr as flickr

    root = _folder(tmp_path, ["a.png"], ["a.png#0\tun café", "b.png#0\tmissing"])
    real = flickr.find_layout

    def find_layout(*args):
        cap, images = real(*args)
        return _NoLocaleRead(cap), images

    monkeypatch.setattr(flickr, "find_layout", find_layout)
    assert _error(load_flickr, root).startswith(f"{root / 'Flickr8k.token.txt'}, line 2: ")


# -- splits ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n, sizes", [(30, (3, 3)), (25, (2, 2)), (35, (4, 4)), (4, (1, 1))])
def test_random_split_sizes_and_seeds(tmp_path, n, sizes):
    names = [f"{i}.jpg" for i in range(n)]
    parts = split_names(tmp_path, names)
    assert list(parts) == ["test", "val", "train"]
    assert (len(parts["test"]), len(parts["val"])) == sizes
    everything = parts["test"] + parts["val"] + parts["train"]
    assert sorted(everything) == list(range(n)) and all(p == sorted(p) for p in parts.values())
    assert split_names(tmp_path, names, seed=0) == parts
    assert split_names(tmp_path, names, seed=0, val_fraction=0.1, test_fraction=0.1) == parts
    if n > 4:
        assert split_names(tmp_path, names, seed=1) != parts
        assert parts["train"] != list(range(n - len(parts["test"]) - len(parts["val"])))


def test_fractions_are_their_own(tmp_path):
    names = [f"{i}.jpg" for i in range(40)]
    parts = split_names(tmp_path, names, val_fraction=0.25, test_fraction=0.05)
    assert (len(parts["test"]), len(parts["val"]), len(parts["train"])) == (2, 10, 28)


def test_flickr8k_lists_are_used_when_all_three_are_present(tmp_path):
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    (tmp_path / "Flickr_8k.trainImages.txt").write_text("a.jpg\n  d.jpg \n")
    (tmp_path / "Flickr_8k.devImages.txt").write_text("c.jpg\nz.jpg\n")
    random = split_names(tmp_path, names)  # two lists of three: a random split
    assert sorted(sum(random.values(), [])) == list(range(5))
    (tmp_path / "Flickr_8k.testImages.txt").write_text("b.jpg")
    assert split_names(tmp_path, names) == {"train": [0, 3], "val": [2], "test": [1]}


def test_load_reads_the_captions_file_it_is_given(tmp_path):
    root = _folder(tmp_path, ["a.png", "b.png"], ["a.png#0\tfrom the usual file"])
    (root / "mine.txt").write_text("b.png#0\tfrom mine\n")
    names, _, captions, path = load_flickr(root, size=2, captions_file="mine.txt")
    assert (names, captions, path) == (["b.png"], [["from mine"]], root / "mine.txt")
