"""``shapes``: generated 64x64 RGB scenes of 1-3 objects with 5 reference captions each.

A scene holds 1, 2 or 3 objects, each a (size, colour, shape) with no (colour, shape) twice.
Two or three objects lie along one axis, ``"h"`` (left to right) or ``"v"`` (top to
bottom), with clear gaps, so "to the left of", "above" and "between" are never ambiguous.
Each scene gets 5 distinct captions drawn from the grammar below (:func:`captions_for`);
:func:`parse_caption` reads any caption of the grammar back into objects and relations, and
:func:`caption_correct` checks one against a scene (``exact_attribute_accuracy``).

The grammar (``NP`` = "a [size] colour shape"; a caption gives sizes to all or none)::

    1 object:  NP | there is NP | a single [size] colour shape | one [size] colour shape on its own
    2 objects: NP_a to the left of NP_b | NP_b to the right of NP_a | there is NP_a to the
               left of NP_b | NP_a and NP_b | (v: above / below for left of / right of)
               | two shapes_pl, one colour_a and one colour_b        (same shape)
               | two colour shapes, a shape_a and a shape_b          (same colour)
    3 objects: NP_a, NP_b and NP_c from left to right | NP_c, NP_b and NP_a from right to
               left | NP_b between NP_a and NP_c | three shapes: NP_a, NP_b and NP_c
               | a row of three shapes: NP_a, NP_b and NP_c  (v: top/bottom, column)

Splits: each split has its own seed; a combination of 2 or 3 object kinds (colour and shape)
whose crc32 falls in the held-out 20% appears only in validation and test, never in
training, so no caption of a multi-object test scene is a training caption: the model must
compose objects it has seen apart (single objects, 24 kinds in all, are necessarily shared).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

SIZES = ("small", "large")
COLOURS = ("red", "green", "blue", "yellow")
SHAPES = ("circle", "square", "triangle")
RGB = {"red": (220, 40, 40), "green": (40, 190, 60), "blue": (50, 80, 230),
       "yellow": (230, 210, 40)}
HALF = {"small": (5, 7), "large": (10, 12)}  # half-extent in pixels
IMAGE_SIZE = 64
HELD_OUT_PERCENT = 20
WORDS = (*SIZES, *COLOURS, *SHAPES, *(s + "s" for s in SHAPES), "a", "there", "is", "single",
         "one", "on", "its", "own", "to", "the", "left", "right", "of", "above", "below",
         "and", "two", "shapes", "three", "from", "top", "bottom", "between", "row",
         "column", ",", ":")


class CaptionParseError(ValueError):
    """A caption outside the shapes grammar."""


@dataclass(frozen=True)
class Obj:
    size: str
    colour: str
    shape: str
    x: int = 0  # centre, pixels
    y: int = 0
    half: int = 6  # half-extent, pixels


@dataclass(frozen=True)
class Scene:
    """Objects in order along ``axis`` (``"h"``: left to right, ``"v"``: top to bottom)."""

    objects: tuple[Obj, ...]
    axis: str = "h"

    def signature(self) -> str:
        return self.axis + "|" + "|".join(f"{o.size} {o.colour} {o.shape}" for o in self.objects)


# -- scenes ------------------------------------------------------------------------------
def _place(rng: np.random.Generator, halves: list[int]) -> list[tuple[int, int]] | None:
    """Centres (along, across) for objects in order along the axis, or None (no room).

    Along the axis, neighbours are at least 3 pixels apart, the free room shared out at
    random; across it, centres differ by at most a third of their distance along it.
    The draws: the free pixels before each object, ``n`` integers in 0..slack sorted; then
    up to 20 tries of a base uniform in ``hi + 1 .. 62 - hi`` (``hi`` the largest half) and
    per object a jitter in -3..3, clipped to its margins ``h + 1 .. 62 - h``.
    """
    n, size = len(halves), IMAGE_SIZE
    need = [2 * h + 1 for h in halves]
    slack = size - 2 - sum(need) - 3 * (n - 1)
    if slack < 0:
        return None
    cuts = np.sort(rng.integers(0, slack + 1, n))  # free pixels before each object
    along, pos = [], 1
    for k, h in enumerate(halves):
        pos += (cuts[k] - (cuts[k - 1] if k else 0)) + (3 if k else 0)
        along.append(int(pos + h))
        pos += need[k]
    hi = max(halves)
    for _ in range(20):
        base = int(rng.integers(hi + 1, size - hi - 1))
        across = [int(np.clip(base + rng.integers(-3, 4), h + 1, size - h - 2)) for h in halves]
        if all(3 * abs(across[j] - across[i]) <= along[j] - along[i]
               for i in range(n) for j in range(i + 1, n)):
            return list(zip(along, across))
    return None


def random_scene(rng: np.random.Generator, max_objects: int = 3) -> Scene:
    """One scene: 1 object (20%), 2 (50%) or 3 (30%), capped at ``max_objects``."""
    n = min(int(rng.choice([1, 2, 3], p=[0.2, 0.5, 0.3])), max_objects)
    kinds = [(c, s) for c in COLOURS for s in SHAPES]
    while True:
        picked = [kinds[i] for i in rng.choice(len(kinds), n, replace=False)]
        sizes = [SIZES[int(rng.integers(2))] for _ in range(n)]
        halves = [int(rng.integers(HALF[s][0], HALF[s][1] + 1)) for s in sizes]
        centres = _place(rng, halves)
        if centres is not None:
            break
    axis = "h" if rng.random() < 0.5 else "v"
    objs = tuple(Obj(sz, c, s, *(xy if axis == "h" else xy[::-1]), h)
                 for sz, (c, s), h, xy in zip(sizes, picked, halves, centres))
    return Scene(objs, axis)


def render(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """The scene as a (3, 64, 64) uint8 image: noisy dark background, jittered colours.

    In float32: a background level uniform in [10, 70) plus N(0, 6) noise per pixel and
    channel; each object in turn painted with its colour's RGB plus a uniform [-20, 20)
    jitter per channel; clipped to 0..255 and truncated."""
    size = IMAGE_SIZE
    img = np.full((size, size, 3), rng.uniform(10, 70), dtype=np.float32)
    img += rng.normal(0, 6, (size, size, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    for o in scene.objects:
        dx, dy = xx - o.x, yy - o.y
        if o.shape == "circle":
            mask = dx ** 2 + dy ** 2 <= o.half ** 2
        elif o.shape == "square":
            mask = (np.abs(dx) <= 0.85 * o.half) & (np.abs(dy) <= 0.85 * o.half)
        else:  # triangle, apex up: half-width grows from 0 at the top to `half` at the base
            mask = (np.abs(dy) <= o.half) & (2 * np.abs(dx) <= dy + o.half)
        colour = np.asarray(RGB[o.colour], np.float32) + rng.uniform(-20, 20, 3)
        img[mask] = colour
    return np.clip(img, 0, 255).astype(np.uint8).transpose(2, 0, 1)


def held_out(scene: Scene) -> bool:
    """Scenes kept out of training (deterministic): those whose set of 2 or 3 object kinds
    (colour and shape, whatever their sizes, order or axis) falls in the held-out 20%, so
    no caption of such a scene can be a training caption."""
    kinds = sorted(f"{o.colour} {o.shape}" for o in scene.objects)
    return len(kinds) > 1 and zlib.crc32("|".join(kinds).encode()) % 100 < HELD_OUT_PERCENT


# -- captions ------------------------------------------------------------------------------
def _np(o: Obj, sized: bool) -> str:
    return f"a {o.size} {o.colour} {o.shape}" if sized else f"a {o.colour} {o.shape}"


def all_captions(scene: Scene) -> list[str]:
    """Every caption the grammar gives ``scene`` (see the module docstring)."""
    objs, out = scene.objects, []
    h = scene.axis == "h"
    for sized in (True, False):
        a = [_np(o, sized) for o in objs]
        bare = a[0][2:]
        if len(objs) == 1:
            out += [a[0], f"there is {a[0]}", f"a single {bare}", f"one {bare} on its own"]
        elif len(objs) == 2:
            before, after = ("to the left of", "to the right of") if h else ("above", "below")
            out += [f"{a[0]} {before} {a[1]}", f"{a[1]} {after} {a[0]}",
                    f"there is {a[0]} {before} {a[1]}", f"{a[0]} and {a[1]}"]
        else:
            fwd, back = ("left to right", "right to left") if h else ("top to bottom",
                                                                      "bottom to top")
            line = "row" if h else "column"
            out += [f"{a[0]}, {a[1]} and {a[2]} from {fwd}",
                    f"{a[2]}, {a[1]} and {a[0]} from {back}",
                    f"{a[1]} between {a[0]} and {a[2]}",
                    f"three shapes: {a[0]}, {a[1]} and {a[2]}",
                    f"a {line} of three shapes: {a[0]}, {a[1]} and {a[2]}"]
    if len(objs) == 2 and objs[0].shape == objs[1].shape:
        out.append(f"two {objs[0].shape}s, one {objs[0].colour} and one {objs[1].colour}")
    if len(objs) == 2 and objs[0].colour == objs[1].colour:
        out.append(f"two {objs[0].colour} shapes, a {objs[0].shape} and a {objs[1].shape}")
    return out


def captions_for(scene: Scene, rng: np.random.Generator, k: int = 5) -> list[str]:
    """``k`` distinct captions of ``scene``, drawn at random from :func:`all_captions`."""
    options = all_captions(scene)
    return [options[i] for i in rng.choice(len(options), k, replace=False)]


# -- parsing and checking -------------------------------------------------------------------
@dataclass
class Parsed:
    """A caption read back: ``objects`` [(size or None, colour, shape)], ``order`` a claim
    that these object indices lie in this order along ``axis`` ("h"/"v"; None: no claim)."""

    objects: list[tuple[str | None, str, str]]
    order: list[int] | None = None
    axis: str | None = None


class _Reader:
    def __init__(self, caption: str):
        self.caption = caption
        self.words = caption.replace(",", " ,").replace(":", " :").split()
        self.i = 0

    def fail(self, what: str):
        raise CaptionParseError(f"{self.caption!r}: expected {what} at word {self.i + 1}")

    def peek(self, n: int = 0) -> str | None:
        return self.words[self.i + n] if self.i + n < len(self.words) else None

    def take(self, *options: str) -> str:
        word = self.peek()
        if word not in options:
            self.fail(" or ".join(repr(o) for o in options))
        self.i += 1
        return word

    def accept(self, phrase: str) -> bool:
        words = phrase.split()
        if self.words[self.i:self.i + len(words)] == words:
            self.i += len(words)
            return True
        return False

    def obj(self) -> tuple[str | None, str, str]:
        """[size] colour shape"""
        size = self.take(*SIZES) if self.peek() in SIZES else None
        return size, self.take(*COLOURS), self.take(*SHAPES)

    def np(self) -> tuple[str | None, str, str]:
        self.take("a")
        return self.obj()

    def end(self) -> None:
        if self.peek() is not None:
            self.fail("the end of the caption")


def _parse(r: _Reader) -> Parsed:
    if r.accept("two"):
        if r.peek() in COLOURS:  # two red shapes, a circle and a square
            colour = r.take(*COLOURS)
            r.take("shapes")
            r.take(",")
            r.take("a")
            first = r.take(*SHAPES)
            r.take("and")
            r.take("a")
            return Parsed([(None, colour, first), (None, colour, r.take(*SHAPES))])
        shape = r.take(*(s + "s" for s in SHAPES))[:-1]  # two circles, one red and one blue
        r.take(",")
        r.take("one")
        first = r.take(*COLOURS)
        r.take("and")
        r.take("one")
        return Parsed([(None, first, shape), (None, r.take(*COLOURS), shape)])
    if r.accept("three shapes :") or r.accept("a row of three shapes :") or \
            r.accept("a column of three shapes :"):
        axis = {"row": "h", "column": "v"}.get(r.words[1])
        objs = [r.np()]
        r.take(",")
        objs.append(r.np())
        r.take("and")
        objs.append(r.np())
        return Parsed(objs, None, axis)
    if r.accept("a single") or r.accept("one"):
        obj = r.obj()
        if r.words[0] == "one":
            for w in ("on", "its", "own"):
                r.take(w)
        return Parsed([obj])
    r.accept("there is")
    first = r.np()
    if r.peek() is None:
        return Parsed([first])
    if r.accept(","):  # a, b and c from left to right
        second = r.np()
        r.take("and")
        third = r.np()
        r.take("from")
        orders = {"left to right": ([0, 1, 2], "h"), "right to left": ([2, 1, 0], "h"),
                  "top to bottom": ([0, 1, 2], "v"), "bottom to top": ([2, 1, 0], "v")}
        for phrase, (order, axis) in orders.items():
            if r.accept(phrase):
                return Parsed([first, second, third], order, axis)
        r.fail("a direction")
    if r.accept("between"):
        left = r.np()
        r.take("and")
        return Parsed([first, left, r.np()], [1, 0, 2], None)
    if r.accept("and"):
        return Parsed([first, r.np()])
    relations = {"to the left of": ([0, 1], "h"), "to the right of": ([1, 0], "h"),
                 "above": ([0, 1], "v"), "below": ([1, 0], "v")}
    for phrase, (order, axis) in relations.items():
        if r.accept(phrase):
            return Parsed([first, r.np()], order, axis)
    return r.fail("a relation")


def parse_caption(caption: str) -> Parsed:
    """Read a caption of the shapes grammar; raises :class:`CaptionParseError` otherwise."""
    r = _Reader(caption)
    parsed = _parse(r)
    r.end()
    return parsed


def _before(a: Obj, b: Obj, axis: str) -> bool:
    """``a`` clearly comes before ``b`` along ``axis`` ("h" or "v")."""
    dx, dy = b.x - a.x, b.y - a.y
    return dx > abs(dy) if axis == "h" else dy > abs(dx)


def caption_correct(caption: str, scene: Scene) -> bool:
    """The caption parses, names exactly the scene's objects (colour and shape, and size
    where it gives one) and every arrangement it states holds in the scene."""
    try:
        parsed = parse_caption(caption)
    except CaptionParseError:
        return False
    if len(parsed.objects) != len(scene.objects):
        return False
    by_kind = {(o.colour, o.shape): o for o in scene.objects}
    matched = []
    for size, colour, shape in parsed.objects:
        o = by_kind.pop((colour, shape), None)
        if o is None or (size is not None and size != o.size):
            return False
        matched.append(o)
    if parsed.order is not None:
        seq = [matched[i] for i in parsed.order]
        if parsed.axis is None:  # between: one monotone order along some axis
            return any(_before(seq[0], seq[1], ax) and _before(seq[1], seq[2], ax) or
                       _before(seq[2], seq[1], ax) and _before(seq[1], seq[0], ax)
                       for ax in ("h", "v"))
        return all(_before(p, q, parsed.axis) for p, q in zip(seq, seq[1:]))
    if parsed.axis is not None:  # a row / a column: the objects lie along that axis
        return scene.axis == parsed.axis
    return True


# -- data sets -------------------------------------------------------------------------------
SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}


@dataclass
class ShapesSplit:
    images: np.ndarray  # (N, 3, 64, 64) uint8
    captions: list[list[str]]  # 5 per image
    scenes: list[Scene]


def make_split(split: str, n: int, seed: int = 0, max_objects: int = 3) -> ShapesSplit:
    """``n`` scenes of ``split``, deterministic given (``split``, ``seed``)."""
    rng = np.random.default_rng([seed, SPLIT_INDEX[split], 7919])
    scenes, images, captions = [], [], []
    while len(scenes) < n:
        scene = random_scene(rng, max_objects)
        if held_out(scene) != (split != "train") and len(scene.objects) > 1:
            continue
        scenes.append(scene)
        images.append(render(scene, rng))
        captions.append(captions_for(scene, rng))
    return ShapesSplit(np.stack(images), captions, scenes)


def scene_array(scenes: list[Scene]) -> np.ndarray:
    """Scenes as (N, 3, 6) int64: (size, colour, shape, x, y, half) per object, -1 padding."""
    out = np.full((len(scenes), 3, 6), -1, dtype=np.int64)
    for i, s in enumerate(scenes):
        for j, o in enumerate(s.objects):
            out[i, j] = (SIZES.index(o.size), COLOURS.index(o.colour), SHAPES.index(o.shape),
                         o.x, o.y, o.half)
    return out


def scenes_from_array(array: np.ndarray) -> list[Scene]:
    """The inverse of :func:`scene_array` (the axis is recovered from the centres)."""
    scenes = []
    for row in array:
        objs = tuple(Obj(SIZES[r[0]], COLOURS[r[1]], SHAPES[r[2]], int(r[3]), int(r[4]),
                         int(r[5])) for r in row if r[0] >= 0)
        axis = "h"
        if len(objs) > 1 and abs(objs[1].y - objs[0].y) > abs(objs[1].x - objs[0].x):
            axis = "v"
        scenes.append(Scene(objs, axis))
    return scenes
