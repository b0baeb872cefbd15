"""The shapes generator and grammar (rnnkit/data/shapes.py) on hand-made scenes: every caption
of 1, 2 and 3 objects written out, each parsed back to the objects and order it states, the
parser's error positions, pixel masks of each shape against their formulas, the placement
rules, held-out kinds by the documented crc32 rule, and the scene arrays."""

import zlib

import numpy as np
import pytest

from rnnkit.data import shapes
from rnnkit.data.shapes import (
    CaptionParseError,
    Obj,
    Parsed,
    Scene,
    all_captions,
    caption_correct,
    parse_caption,
    scene_array,
    scenes_from_array,
)

A = Obj("small", "red", "circle", 10, 30, 6)
B = Obj("large", "red", "square", 30, 31, 11)
C = Obj("small", "blue", "circle", 50, 29, 5)


def _v(o, y):  # the same object on a vertical axis
    return Obj(o.size, o.colour, o.shape, o.y, y, o.half)


# -- captions -------------------------------------------------------------------------------
def test_one_object_captions():
    assert all_captions(Scene((A,))) == [
        "a small red circle", "there is a small red circle", "a single small red circle",
        "one small red circle on its own",
        "a red circle", "there is a red circle", "a single red circle",
        "one red circle on its own"]


def test_two_object_captions_horizontal_with_the_same_colour():
    assert all_captions(Scene((A, B), "h")) == [
        "a small red circle to the left of a large red square",
        "a large red square to the right of a small red circle",
        "there is a small red circle to the left of a large red square",
        "a small red circle and a large red square",
        "a red circle to the left of a red square",
        "a red square to the right of a red circle",
        "there is a red circle to the left of a red square",
        "a red circle and a red square",
        "two red shapes, a circle and a square"]


def test_two_object_captions_vertical_with_the_same_shape():
    scene = Scene((_v(A, 10), _v(C, 40)), "v")
    assert all_captions(scene) == [
        "a small red circle above a small blue circle",
        "a small blue circle below a small red circle",
        "there is a small red circle above a small blue circle",
        "a small red circle and a small blue circle",
        "a red circle above a blue circle",
        "a blue circle below a red circle",
        "there is a red circle above a blue circle",
        "a red circle and a blue circle",
        "two circles, one red and one blue"]


def test_three_object_captions_both_axes():
    h = all_captions(Scene((A, B, C), "h"))
    assert h[:5] == [
        "a small red circle, a large red square and a small blue circle from left to right",
        "a small blue circle, a large red square and a small red circle from right to left",
        "a large red square between a small red circle and a small blue circle",
        "three shapes: a small red circle, a large red square and a small blue circle",
        "a row of three shapes: a small red circle, a large red square and a small blue "
        "circle"]
    assert h[5] == "a red circle, a red square and a blue circle from left to right"
    assert len(h) == 10
    v = all_captions(Scene((_v(A, 10), _v(B, 30), _v(C, 50)), "v"))
    assert v[0].endswith(" from top to bottom") and v[1].endswith(" from bottom to top")
    assert v[4].startswith("a column of three shapes: ") and len(v) == 10


RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE = ("small", "red", "circle"), ("large", "red", "square"), \
    ("small", "blue", "circle")


@pytest.mark.parametrize("caption, objects, order, axis", [
    ("a small red circle", [RED_CIRCLE], None, None),
    ("there is a red circle", [(None, "red", "circle")], None, None),
    ("a single small red circle", [RED_CIRCLE], None, None),
    ("one red circle on its own", [(None, "red", "circle")], None, None),
    ("a small red circle to the left of a large red square", [RED_CIRCLE, RED_SQUARE],
     [0, 1], "h"),
    ("a large red square to the right of a small red circle", [RED_SQUARE, RED_CIRCLE],
     [1, 0], "h"),
    ("there is a small red circle above a large red square", [RED_CIRCLE, RED_SQUARE],
     [0, 1], "v"),
    ("a small red circle below a large red square", [RED_CIRCLE, RED_SQUARE], [1, 0], "v"),
    ("a small red circle and a large red square", [RED_CIRCLE, RED_SQUARE], None, None),
    ("two red shapes, a circle and a square", [(None, "red", "circle"), (None, "red", "square")],
     None, None),
    ("two circles, one red and one blue", [(None, "red", "circle"), (None, "blue", "circle")],
     None, None),
    ("a small red circle, a large red square and a small blue circle from left to right",
     [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE], [0, 1, 2], "h"),
    ("a small red circle, a large red square and a small blue circle from right to left",
     [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE], [2, 1, 0], "h"),
    ("a small red circle, a large red square and a small blue circle from top to bottom",
     [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE], [0, 1, 2], "v"),
    ("a small red circle, a large red square and a small blue circle from bottom to top",
     [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE], [2, 1, 0], "v"),
    ("a large red square between a small red circle and a small blue circle",
     [RED_SQUARE, RED_CIRCLE, BLUE_CIRCLE], [1, 0, 2], None),
    ("three shapes: a small red circle, a large red square and a small blue circle",
     [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE], None, None),
    ("a row of three shapes: a small red circle, a large red square and a small blue circle",
     [RED_CIRCLE, RED_SQUARE, BLUE_CIRCLE], None, "h"),
    ("a column of three shapes: a red circle, a red square and a blue circle",
     [(None, "red", "circle"), (None, "red", "square"), (None, "blue", "circle")], None, "v"),
])
def test_each_caption_parses_to_what_it_states(caption, objects, order, axis):
    assert parse_caption(caption) == Parsed(objects, order, axis)


@pytest.mark.parametrize("caption, message", [
    ("", "expected 'a' at word 1"),
    ("a red circle to left of a blue square", "expected a relation at word 4"),
    ("a red circle extra", "expected a relation at word 4"),
    ("a red circle, a blue square and a green triangle from nowhere",
     "expected a direction at word 13"),
    ("a purple circle", "expected 'red' or 'green' or 'blue' or 'yellow' at word 2"),
    ("a large", "expected 'red' or 'green' or 'blue' or 'yellow' at word 3"),
    ("a red oval", "expected 'circle' or 'square' or 'triangle' at word 3"),
    ("a red circle and a blue square extra", "expected the end of the caption at word 8"),
    ("one red circle on its", "expected 'own' at word 6"),
    ("one red circle its own", "expected 'on' at word 4"),
    ("two red shapes, a circle or a square", "expected 'and' at word 7"),
    ("two red shapes a circle", "expected ',' at word 4"),
    ("two red things", "expected 'shapes' at word 3"),
    ("two circle, one red and one blue", "expected 'circles' or 'squares' or 'triangles' at "
                                         "word 2"),
    ("two circles, a red and one blue", "expected 'one' at word 4"),
    ("two circles, one red or one blue", "expected 'and' at word 6"),
    ("two circles, one red and a blue", "expected 'one' at word 7"),
    ("two red shapes, one circle and a square", "expected 'a' at word 5"),
    ("two red shapes, a circle and one square", "expected 'a' at word 8"),
    ("three shapes: a red circle and a blue square", "expected ',' at word 7"),
    ("three shapes: a red circle, a blue square or a red square",
     "expected 'and' at word 11"),
    ("a red circle, a blue square or a red square", "expected 'and' at word 8"),
    ("a red circle, a blue square and a red square to", "expected 'from' at word 12"),
    ("a red circle between a blue square or a red square", "expected 'and' at word 8"),
])
def test_captions_outside_the_grammar_name_the_word(caption, message):
    with pytest.raises(CaptionParseError) as e:
        parse_caption(caption)
    assert str(e.value) == f"{caption!r}: {message}"


def test_captions_are_checked_against_the_scene():
    h = Scene((A, B, C), "h")
    assert caption_correct("a large red square between a small red circle and a small blue "
                           "circle", h)
    assert caption_correct("a large red square between a blue circle and a red circle", h)
    assert not caption_correct("a small red circle between a large red square and a small "
                               "blue circle", h)
    assert caption_correct("a row of three shapes: a blue circle, a red square and a red "
                           "circle", h)  # a row: any order along it
    assert not caption_correct("a column of three shapes: a red circle, a red square and a "
                               "blue circle", h)
    assert caption_correct("three shapes: a red circle, a red square and a blue circle", h)
    assert not caption_correct("a red circle, a red square and a blue circle from right to "
                               "left", h)
    v = Scene((_v(A, 10), _v(B, 30), _v(C, 50)), "v")
    assert caption_correct("a red square between a red circle and a blue circle", v)
    assert caption_correct("a red circle, a red square and a blue circle from top to bottom", v)
    assert not caption_correct("a red circle, a red square and a blue circle from left to "
                               "right", v)
    # the square is last, not between: neither order along the row has it in the middle
    outside = Scene((A, Obj("small", "blue", "circle", 30, 30, 5), Obj("large", "red",
                                                                       "square", 50, 30, 11)))
    assert not caption_correct("a large red square between a blue circle and a red circle",
                               outside)
    assert caption_correct("a blue circle between a large red square and a red circle", outside)
    two = Scene((A, Obj("small", "blue", "square", 30, 30, 6)), "h")
    assert not caption_correct("a red circle and a red circle", two)  # a kind named twice
    assert not caption_correct("a red circle and a blue square and", two)
    assert caption_correct("a red circle and a small blue square", two)


def test_before_means_clearly_more_along_than_across():
    def scene(b):
        return Scene((Obj("small", "red", "circle", 10, 10, 5), b))

    diagonal = Obj("small", "blue", "square", 20, 20, 5)
    assert not caption_correct("a red circle to the left of a blue square", scene(diagonal))
    assert not caption_correct("a red circle above a blue square", scene(diagonal))
    right = Obj("small", "blue", "square", 21, 20, 5)
    assert caption_correct("a red circle to the left of a blue square", scene(right))
    assert not caption_correct("a red circle above a blue square", scene(right))
    below = Obj("small", "blue", "square", 20, 21, 5)
    assert caption_correct("a red circle above a blue square", scene(below))
    assert caption_correct("a blue square below a red circle", scene(below))
    assert not caption_correct("a blue square above a red circle", scene(below))


# -- scenes, placement and images -----------------------------------------------------------
def test_placement_keeps_gaps_margins_and_alignment():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(300):
        halves = [int(h) for h in rng.integers(5, 13, rng.integers(1, 4))]
        centres = shapes._place(rng, halves)
        if centres is None:
            continue
        along = [a for a, _ in centres]
        lo = [a - h for a, h in zip(along, halves)]
        hi = [a + h for a, h in zip(along, halves)]
        assert lo[0] >= 1 and hi[-1] <= 62
        assert all(lo[k + 1] - hi[k] - 1 >= 3 for k in range(len(halves) - 1))
        for (a1, c1), (a2, c2) in zip(centres, centres[1:]):
            assert 3 * abs(c2 - c1) <= a2 - a1
        assert all(h + 1 <= c <= 64 - h - 2 for (_, c), h in zip(centres, halves))
    for _ in range(200):  # one object of 57 pixels: 5 free pixels, starts 1..6
        (along, _), = shapes._place(rng, [28])
        starts.add(along - 28)
    assert starts == {1, 2, 3, 4, 5, 6}
    assert shapes._place(rng, [30, 30]) is None
    # 3 x 19 pixels + 2 gaps of 3 = 63 > 62 pixels inside the margins; 17 + 19 + 19 + 6 = 61
    assert shapes._place(np.random.default_rng(1), [9, 9, 9]) is None
    # one free pixel: centres (9 + c0, 30 + c1, 52 + c2) for sorted cuts c0 <= c1 <= c2 in 0..1
    fits = [shapes._place(np.random.default_rng(s), [8, 9, 9]) for s in range(60)]
    assert {tuple(a for a, _ in f) for f in fits} == {(9, 30, 52), (9, 30, 53), (9, 31, 53),
                                                      (10, 31, 53)}


def test_random_scenes_follow_the_documented_distribution():
    rng = np.random.default_rng(5)
    scenes = [shapes.random_scene(rng) for _ in range(1500)]
    counts = np.bincount([len(s.objects) for s in scenes], minlength=4)[1:] / 1500
    np.testing.assert_allclose(counts, [0.2, 0.5, 0.3], atol=0.04)
    halves = {"small": set(), "large": set()}
    axes = set()
    for s in scenes:
        kinds = [(o.colour, o.shape) for o in s.objects]
        assert len(set(kinds)) == len(kinds)
        for o in s.objects:
            halves[o.size].add(o.half)
        axes.add(s.axis)
        pos = [o.x if s.axis == "h" else o.y for o in s.objects]
        assert pos == sorted(pos)
    assert halves == {"small": {5, 6, 7}, "large": {10, 11, 12}} and axes == {"h", "v"}
    assert {len(shapes.random_scene(rng, 1).objects) for _ in range(50)} == {1}
    assert {len(shapes.random_scene(rng, 2).objects) for _ in range(80)} == {1, 2}


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
def test_each_shape_is_painted_on_its_mask(shape):
    o = Obj("large", "green", shape, 30, 25, 10)
    img = shapes.render(Scene((o,)), np.random.default_rng(3))
    assert img.shape == (3, 64, 64) and img.dtype == np.uint8
    yy, xx = np.mgrid[0:64, 0:64]
    dx, dy = xx - 30, yy - 25
    want = {"circle": dx ** 2 + dy ** 2 <= 100,
            "square": (abs(dx) <= 8.5) & (abs(dy) <= 8.5),
            "triangle": (abs(dy) <= 10) & (2 * abs(dx) <= dy + 10)}[shape]
    colour = img[:, 25, 30]
    painted = (img == colour[:, None, None]).all(0)
    assert (painted == want).all()
    assert (abs(colour.astype(int) - np.array(shapes.RGB["green"])) <= 20).all()
    background = img[:, ~want].astype(float)
    assert 3 <= background.mean() <= 77 and 5.5 <= background.std(1).mean() <= 6.5


def test_held_out_kinds_by_their_crc32():
    def scene(*kinds, axis="h", size="small"):
        return Scene(tuple(Obj(size, c, s) for c, s in kinds), axis)

    def rule(*kinds):
        return zlib.crc32("|".join(sorted(f"{c} {s}" for c, s in kinds)).encode()) % 100 < 20

    pairs = [(c, s) for c in shapes.COLOURS for s in shapes.SHAPES]  # the 12 kinds
    verdicts = []
    for i, k1 in enumerate(pairs):
        for k2 in pairs[i + 1:]:
            held = shapes.held_out(scene(k1, k2))
            assert held == rule(k1, k2) == shapes.held_out(scene(k2, k1, axis="v",
                                                                 size="large"))
            verdicts.append(held)
    assert 0.1 < np.mean(verdicts) < 0.3  # about 20% of the kinds' pairs
    assert not any(shapes.held_out(scene(k)) for k in pairs)  # single objects: always shared


def test_make_split_keeps_held_out_kinds_out_of_training():
    for split in ("train", "val", "test"):
        part = shapes.make_split(split, 40, seed=1)
        assert len(part.scenes) == len(part.captions) == len(part.images) == 40
        multi = [s for s in part.scenes if len(s.objects) > 1]
        assert multi and all(shapes.held_out(s) == (split != "train") for s in multi)
    assert {len(s.objects) for s in shapes.make_split("val", 30, max_objects=1).scenes} == {1}


def test_make_split_is_the_documented_draws():
    rng = np.random.default_rng([2, 1, 7919])
    scenes = []
    while len(scenes) < 6:
        s = shapes.random_scene(rng)
        if len(s.objects) > 1 and not shapes.held_out(s):
            continue
        scenes.append(s)
        img = shapes.render(s, rng)
        caps = shapes.captions_for(s, rng)
    part = shapes.make_split("val", 6, seed=2)
    assert part.scenes == scenes and np.array_equal(part.images[-1], img)
    assert part.captions[-1] == caps and len(set(caps)) == 5
    assert shapes.make_split("train", 3).scenes == shapes.make_split("train", 3, seed=0).scenes


def test_signature_names_the_axis_and_each_object_in_order():
    assert Scene((A, C), "v").signature() == "v|small red circle|small blue circle"
    assert Scene((B,)).signature() == "h|large red square"


def test_scene_arrays_round_trip_and_recover_the_axis():
    h = Scene((A, B), "h")
    v = Scene((_v(A, 10), _v(C, 30)), "v")
    one = Scene((C,), "h")
    arr = scene_array([h, v, one])
    assert arr.dtype == np.int64 and arr.shape == (3, 3, 6)
    assert arr[0].tolist() == [[0, 0, 0, 10, 30, 6], [1, 0, 1, 30, 31, 11], [-1] * 6]
    assert arr[2].tolist() == [[0, 2, 0, 50, 29, 5], [-1] * 6, [-1] * 6]
    assert scenes_from_array(arr) == [h, v, one]
    even = Scene((Obj("small", "red", "circle", 10, 10, 5),
                  Obj("small", "blue", "circle", 20, 20, 5)), "h")
    assert scenes_from_array(scene_array([even]))[0].axis == "h"  # a tie reads as "h"


# -- the seeded draws, written out from the docstrings ---------------------------------------
def _place_by_hand(rng, halves, seen):
    """_place's draws as its docstring gives them; ``seen`` counts the cases met."""
    n, hi = len(halves), max(halves)
    slack = 62 - sum(2 * h + 1 for h in halves) - 3 * (n - 1)
    if slack < 0:
        return None
    cuts = np.sort(rng.integers(0, slack + 1, n))
    # object k starts after 1 margin pixel, its cut of free pixels, the objects before it
    # and a 3-pixel gap after each of them
    along = [1 + int(cuts[k]) + sum(2 * g + 1 for g in halves[:k]) + 3 * k + h
             for k, h in enumerate(halves)]
    for _ in range(20):
        base = int(rng.integers(hi + 1, 62 - hi + 1))
        wanted = [base + int(rng.integers(-3, 3 + 1)) for _ in halves]
        across = [min(max(c, h + 1), 62 - h) for c, h in zip(wanted, halves)]
        seen["clipped low"] += any(c < h + 1 for c, h in zip(wanted, halves))
        seen["clipped high"] += any(c > 62 - h for c, h in zip(wanted, halves))
        pairs = [(3 * abs(across[j] - across[i]), along[j] - along[i])
                 for i in range(n) for j in range(i + 1, n)]
        if all(a <= b for a, b in pairs):
            seen["a third exactly"] += any(a == b for a, b in pairs)
            return list(zip(along, across))
        seen["retried"] += 1
    seen["gave up"] += 1
    return None


def test_placement_is_the_documented_draws():
    seen = dict.fromkeys(("clipped low", "clipped high", "a third exactly", "retried",
                          "gave up"), 0)
    pick = np.random.default_rng(11)
    for seed in range(1500):
        halves = [int(h) for h in pick.integers(5, 13, pick.integers(1, 4))]
        got = shapes._place(np.random.default_rng(seed), halves)
        assert got == _place_by_hand(np.random.default_rng(seed), halves, seen), (seed, halves)
    # the sample reaches every rule's edge (none gave up: 20 misses in a row are too rare)
    assert all(seen[k] for k in ("clipped low", "clipped high", "a third exactly", "retried"))


class _MissingRng:
    """Draws that never align: cuts 0, the base 30, jitters -3, +3, -3, ... (6 pixels apart
    across, 18 > the 14 pixels between two small objects' centres along)."""

    def __init__(self):
        self.bases, self.jitters = 0, 0

    def integers(self, low, high=None, size=None):
        if size is not None:
            return np.zeros(size, dtype=np.int64)
        if (low, high) == (-3, 4):
            self.jitters += 1
            return 3 if self.jitters % 2 == 0 else -3
        self.bases += 1
        return 30


def test_placement_gives_up_after_20_tries():
    rng = _MissingRng()
    assert shapes._place(rng, [5, 5]) is None
    assert rng.bases == 20 and rng.jitters == 40


def _render_by_hand(scene, rng):
    img = np.full((64, 64, 3), rng.uniform(10, 70), dtype=np.float32)
    img += rng.normal(0, 6, (64, 64, 3))
    yy, xx = np.mgrid[0:64, 0:64]
    for o in scene.objects:
        dx, dy = xx - o.x, yy - o.y
        mask = {"circle": dx ** 2 + dy ** 2 <= o.half ** 2,
                "square": (abs(dx) <= 0.85 * o.half) & (abs(dy) <= 0.85 * o.half),
                "triangle": (abs(dy) <= o.half) & (2 * abs(dx) <= dy + o.half)}[o.shape]
        img[mask] = np.array(shapes.RGB[o.colour]) + rng.uniform(-20, 20, 3)
    return np.clip(img, 0, 255).astype(np.uint8).transpose(2, 0, 1)


def test_render_is_the_documented_draws():
    zeros = 0
    for seed in range(400):
        scene = shapes.random_scene(np.random.default_rng(seed))
        img = shapes.render(scene, np.random.default_rng(seed))
        assert np.array_equal(img, _render_by_hand(scene, np.random.default_rng(seed))), seed
        zeros += int((img == 0).sum())
    assert zeros  # some noise below 0 (or in [0, 1)) reads 0: the clip starts at 0


def test_a_square_covers_0_85_of_its_half_inclusive():
    # half 20: 0.85 * 20 = 17 exactly, so the square's edge pixels lie on |d| = 17
    o = Obj("large", "blue", "square", 31, 30, 20)
    img = shapes.render(Scene((o,)), np.random.default_rng(0))
    painted = (img == img[:, 30, 31][:, None, None]).all(0)
    rows, cols = np.nonzero(painted)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (13, 47, 14, 48)


def test_random_scenes_hold_at_most_three_objects_whatever_the_cap():
    rng = np.random.default_rng(2)
    assert {len(shapes.random_scene(rng, 5).objects) for _ in range(200)} == {1, 2, 3}
