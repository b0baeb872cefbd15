"""rnnkit.data.flickr's images as its caption lines: an image the captions name that is
missing or that Pillow cannot read is skipped with its captions and one warning, up to 1% of
the images (the real Flickr8k.token.txt names one Flickr8k does not hold); more, or all, is
an error naming the captions file and the folder. One named file (read_image) stays an
error. And the warnings of Flickr8k's split lists: images in none, lists missing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnkit.data.flickr import FlickrError, load_flickr, read_image, split_names

Image = pytest.importorskip("PIL.Image")
FLICKR8K_GHOST = "2258277193_586949ec62.jpg.1"  # in Flickr8k.token.txt, not in the images
FOLDERS = ("Flicker8k_Dataset/, Flickr8k_Dataset/, flickr30k-images/, flickr30k_images/, "
           "Images/ or images/")
LISTS = ("Flickr_8k.trainImages.txt", "Flickr_8k.devImages.txt", "Flickr_8k.testImages.txt")


def _error(fn, *args, **kw) -> str:
    with pytest.raises(FlickrError) as e:
        fn(*args, **kw)
    return str(e.value)


def _folder(tmp_path, names: list[str], *, missing=(), corrupt=()):
    """Images/NAME (2 x 2, grey level = its index mod 256) and two captions each, image k's
    first on line 2k + 1; those in ``missing`` not written, those in ``corrupt`` not images."""
    root = tmp_path / "flickr"
    (root / "Images").mkdir(parents=True)
    for k, name in enumerate(names):
        if name in corrupt:
            (root / "Images" / name).write_bytes(b"not an image at all")
        elif name not in missing:
            Image.fromarray(np.full((2, 2, 3), k % 256, np.uint8)).save(root / "Images" / name,
                                                                 format="PNG")
    (root / "Flickr8k.token.txt").write_text("".join(
        f"{n}#{i}\t{n} caption {i}\n" for n in names for i in range(2)))
    return root


def _why(path) -> str:
    """Pillow's own words for a file it cannot read."""
    try:
        Image.open(path)
    except Exception as e:
        return str(e)
    raise AssertionError(f"{path} was read")


def _kept(names, keep_out):
    """The names, images (N, 3, 2, 2) and captions that ``_folder`` wrote, but ``keep_out``."""
    kept = [(k, n) for k, n in enumerate(names) if n not in keep_out]
    images = np.stack([np.full((3, 2, 2), k % 256, np.uint8) for k, _ in kept])
    return [n for _, n in kept], images, [[f"{n} caption {i}" for i in range(2)] for _, n in kept]


def test_one_missing_image_in_a_hundred_is_skipped_with_its_captions(tmp_path):
    names = [f"{k}.png" for k in range(99)]
    names.insert(40, FLICKR8K_GHOST)  # the real Flickr8k's: lines 81 and 82
    root = _folder(tmp_path, names, missing={FLICKR8K_GHOST})
    cap, images_dir = root / "Flickr8k.token.txt", root / "Images"
    with pytest.warns(UserWarning) as caught:
        got_names, images, captions, path = load_flickr(root, size=2)
    assert [str(w.message) for w in caught] == [
        f"{cap}: skipped 1 of 100 images that are missing or cannot be read, with their "
        f"captions (line 81: image {FLICKR8K_GHOST!r} not found in {images_dir}): expected "
        f"every image the captions file names in {images_dir}"]
    assert caught[0].filename == __file__  # the caller of load_flickr, not flickr.py
    want_names, want_images, want_captions = _kept(names, {FLICKR8K_GHOST})
    assert got_names == want_names and len(got_names) == 99 and path == cap
    np.testing.assert_array_equal(images, want_images)
    assert captions == want_captions


def test_two_missing_in_a_hundred_are_an_error_naming_the_folder(tmp_path):
    names = [f"{k}.png" for k in range(100)]
    root = _folder(tmp_path, names, missing={"7.png", "60.png"})
    images_dir = root / "Images"
    assert _error(load_flickr, root, size=2) == (
        f"{root / 'Flickr8k.token.txt'}, line 15: image '7.png' not found in {images_dir}; 2 of "
        "100 images are missing or cannot be read (line 15, 121): expected every image the "
        f"captions file names in {images_dir}; more than 1% means it is not their folder: "
        f"put them in a sub-folder {FOLDERS} beside the captions file (the first found is "
        "used)")


@pytest.mark.parametrize("n", [1, 3])
def test_no_image_found_is_an_error(tmp_path, n):
    names = [f"{k}.png" for k in range(n)]
    root = _folder(tmp_path, names, missing=set(names))
    lines = ", ".join(str(2 * k + 1) for k in range(n))
    assert _error(load_flickr, root) == (
        f"{root / 'Flickr8k.token.txt'}, line 1: image '0.png' not found in {root / 'Images'}; "
        f"{n} of {n} images are missing or cannot be read (line {lines}): expected every image "
        f"the captions file names in {root / 'Images'}; more than 1% means it is not their "
        f"folder: put them in a sub-folder {FOLDERS} beside the captions file (the first "
        "found is used)")


def test_a_corrupt_image_is_skipped_and_named_with_pillows_reason(tmp_path):
    names = [f"{k}.png" for k in range(100)]
    root = _folder(tmp_path, names, corrupt={"3.png"})
    images_dir = root / "Images"
    why = _why(images_dir / "3.png")
    assert why.startswith("cannot identify image file")
    with pytest.warns(UserWarning) as caught:
        got_names, images, captions, _ = load_flickr(root, size=2)
    assert [str(w.message) for w in caught] == [
        f"{root / 'Flickr8k.token.txt'}: skipped 1 of 100 images that are missing or cannot be "
        f"read, with their captions (line 7: image '3.png': cannot read the image: {why}): "
        f"expected every image the captions file names in {images_dir}"]
    want_names, want_images, want_captions = _kept(names, {"3.png"})
    assert got_names == want_names
    np.testing.assert_array_equal(images, want_images)
    assert captions == want_captions


def test_five_skipped_images_are_named_and_a_sixth_adds_dots(tmp_path):
    names = [f"{k}.png" for k in range(600)]
    out = {"1.png", "9.png", "200.png", "201.png", "599.png", "598.png"}
    root = _folder(tmp_path, names, missing=out - {"9.png"}, corrupt={"9.png"})
    images_dir = root / "Images"
    why = _why(images_dir / "9.png")
    with pytest.warns(UserWarning) as caught:
        got_names, images, _, _ = load_flickr(root, size=2)
    assert [str(w.message) for w in caught] == [
        f"{root / 'Flickr8k.token.txt'}: skipped 6 of 600 images that are missing or cannot be "
        f"read, with their captions (line 3: image '1.png' not found in {images_dir}; line 19: "
        f"image '9.png': cannot read the image: {why}; line 401: image '200.png' not found in "
        f"{images_dir}; line 403: image '201.png' not found in {images_dir}; line 1197: image "
        f"'598.png' not found in {images_dir} ...): expected every image the captions file "
        f"names in {images_dir}"]
    want_names, want_images, _ = _kept(names, out)
    assert got_names == want_names and images.shape == (594, 3, 2, 2)
    np.testing.assert_array_equal(images, want_images)


def test_max_images_counts_the_images_it_keeps_to(tmp_path):
    names = [f"{k}.png" for k in range(200)]
    root = _folder(tmp_path, names, missing={"150.png", "151.png"})  # 1%, past the first 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got_names = load_flickr(root, size=2, max_images=100)[0]
    assert got_names == names[:100]
    with pytest.warns(UserWarning, match=r": skipped 2 of 200 images "):
        assert len(load_flickr(root, size=2)[0]) == 198


def test_one_named_image_that_cannot_be_read_stays_an_error(tmp_path):
    missing = tmp_path / "none.png"
    assert _error(read_image, missing, 2) == (
        f"{missing}: cannot read the image: [Errno 2] No such file or directory: '{missing}'")
    corrupt = tmp_path / "bad.png"
    corrupt.write_bytes(b"not an image at all")
    assert _error(read_image, corrupt, 2) == (
        f"{corrupt}: cannot read the image: {_why(corrupt)}")


# -- split lists -----------------------------------------------------------------------------

def test_images_in_none_of_the_split_lists_are_left_out_with_a_warning(tmp_path):
    names = [f"{k}.jpg" for k in range(12)]
    for f, listed in zip(LISTS, ("0.jpg 1.jpg 2.jpg", "3.jpg", "4.jpg gone.jpg")):
        (tmp_path / f).write_text(listed.replace(" ", "\n") + "\n")
    with pytest.warns(UserWarning) as caught:
        parts = split_names(tmp_path, names)
    assert parts == {"train": [0, 1, 2], "val": [3], "test": [4]}
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}: left out 7 of 12 captioned images that none of {', '.join(LISTS)} names "
        "('5.jpg', '6.jpg', '7.jpg', '8.jpg', '9.jpg' ...): expected each image in one of "
        "them; add an image to a list to use it"]
    assert caught[0].filename == __file__
    (tmp_path / LISTS[0]).write_text("\n".join(names[:3] + names[5:]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every image listed: no warning
        assert split_names(tmp_path, names)["train"] == [0, 1, 2] + list(range(5, 12))


@pytest.mark.parametrize("present", [(0,), (1, 2), (0, 2)])
def test_some_split_lists_missing_are_named_and_the_split_is_random(tmp_path, present):
    names = [f"{k}.jpg" for k in range(20)]
    for i in present:
        (tmp_path / LISTS[i]).write_text("0.jpg\n")
    missing = [LISTS[i] for i in range(3) if i not in present]
    with pytest.warns(UserWarning) as caught:
        parts = split_names(tmp_path, names, seed=3)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}: found {', '.join(LISTS[i] for i in present)} but not "
        f"{', '.join(missing)}: expected all three of Flickr8k's split lists, so they are "
        "ignored and the images split at random (seed 3); add the missing list, or remove "
        "the others"]
    assert caught[0].filename == __file__
    assert parts == split_names(tmp_path / "nothing", names, seed=3)  # the random split
    assert sorted(sum(parts.values(), [])) == list(range(20))
