"""`zoo_shapes_captions`: an offline stand-in for `coco_captions` (one-to-many).

COCO cannot be downloaded here and needs a pretrained encoder to be learnable
in minutes. Synthetic 32x32 scenes of one or two coloured shapes keep the
image -> word-sequence task, with captions that are a function of the image,
so a small CNN + RNN decoder can actually get them right.
"""

from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from zoo.data.builders._generated import GeneratedBuilder, slice_pool

_DESCRIPTION = """
32x32 RGB images of one or two coloured shapes (circle, square, triangle in
red, green, blue or yellow; small or large) on a noisy light or dark
background. One shape sits left, right, top, bottom or center; two shapes sit
one left and one right. Each image has exactly 3 paraphrase captions
(lowercase, single spaces, no punctuation) derived from the scene, so the
caption is determined by the image. Features follow `coco_captions`
("image", "image/id", "captions"/"text"), but the split names are
"train"/"validation"/"test" where coco_captions uses "val".
"""

SHAPES = ("circle", "square", "triangle")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (210, 40, 40),
    "green": (40, 170, 60),
    "blue": (50, 70, 210),
    "yellow": (225, 200, 40),
}
SIZES = ("small", "large")
# (x, y) centres in pixels on the 32x32 canvas.
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (8.0, 16.0),
    "right": (24.0, 16.0),
    "top": (16.0, 8.0),
    "bottom": (16.0, 24.0),
    "center": (16.0, 16.0),
}
# One phrase per caption template, so each caption is fixed by the scene.
_POSITION_PHRASES: dict[str, tuple[str, str, str]] = {
    "left": ("on the left", "at the left", "on the left side"),
    "right": ("on the right", "at the right", "on the right side"),
    "top": ("at the top", "near the top", "at the top of the image"),
    "bottom": ("at the bottom", "near the bottom", "at the bottom of the image"),
    "center": ("in the center", "in the middle", "in the center of the image"),
}
_SIZE_SYNONYMS = {"small": "little", "large": "big"}

IMAGE_SIZE = 32
SPLIT_SIZES = {"train": 2000, "validation": 300, "test": 300}
_SEED = 20240601

Shape = tuple[str, str, str, str]  # (shape, colour, size, position)
Example = dict[str, Any]


def captions_for(scene: list[Shape]) -> list[str]:
    """Returns the 3 captions of a scene (one shape, or a left/right pair).

    Args:
        scene: one (shape, colour, size, position) tuple, or two, the left one first.

    Returns:
        Three paraphrases, each fixed by the scene.
    """
    if len(scene) == 1:
        shape, colour, size, pos = scene[0]
        phrases = _POSITION_PHRASES[pos]
        return [
            f"a {size} {colour} {shape} {phrases[0]}",
            f"a {_SIZE_SYNONYMS[size]} {colour} {shape} {phrases[1]}",
            f"there is a {colour} {shape} {phrases[2]}",
        ]
    (s1, c1, z1, _), (s2, c2, z2, _) = scene  # left shape first
    return [
        f"a {c1} {s1} left of a {c2} {s2}",
        f"a {c2} {s2} right of a {c1} {s1}",
        f"a {z1} {c1} {s1} and a {z2} {c2} {s2}",
    ]


def _shape_mask(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] + 0.5
    if shape == "circle":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2
    if shape == "square":
        half = 0.85 * r  # roughly the circle's area
        return (np.abs(xx - cx) <= half) & (np.abs(yy - cy) <= half)
    # Upward triangle: apex at (cx, cy - r), base of width 2r at cy + r.
    top = cy - r
    return (yy >= top) & (yy <= cy + r) & (np.abs(xx - cx) <= (yy - top) / 2)


def render(scene: list[Shape], rng: np.random.Generator) -> np.ndarray:
    """Draws a scene as uint8 (32, 32, 3) with random jitter and noise.

    Args:
        scene: the shapes to draw, as (shape, colour, size, position) tuples.
        rng: the random generator, advanced by the draws.

    Returns:
        uint8 array of shape (32, 32, 3): a light or dark background, the shapes with
        jittered size, place and colour, and Gaussian pixel noise.
    """
    light = rng.random() < 0.5
    base = rng.uniform(170, 230) if light else rng.uniform(15, 70)
    image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), base)
    for shape, colour, size, pos in scene:
        # Radius ranges and +-1 px jitter keep "small"/"large" separable and
        # a left/right pair from overlapping.
        r = rng.uniform(3.5, 4.5) if size == "small" else rng.uniform(6.5, 7.0)
        cx, cy = np.asarray(POSITIONS[pos]) + rng.uniform(-1.0, 1.0, size=2)
        rgb = np.asarray(COLOURS[colour]) + rng.uniform(-15, 15, size=3)
        image[_shape_mask(shape, cx, cy, r)] = rgb
    image += rng.normal(0.0, 12.0, size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _random_shape(rng: np.random.Generator, pos: str) -> Shape:
    return (
        SHAPES[rng.integers(len(SHAPES))],
        list(COLOURS)[rng.integers(len(COLOURS))],
        SIZES[rng.integers(len(SIZES))],
        pos,
    )


def generate_splits() -> dict[str, list[tuple[int, Example]]]:
    """Returns {split: [(image_id, example), ...]}, identical on every call.

    Returns:
        `train` (2,000), `validation` (300) and `test` (300) scenes with distinct images,
        keyed by `image/id`: `image` uint8 (32, 32, 3), `image/id` and `captions`
        (`{"text": [3 captions]}`).
    """
    rng = np.random.default_rng(_SEED)
    total = sum(SPLIT_SIZES.values())
    pool: list[Example] = []
    seen: set[bytes] = set()
    while len(pool) < total:
        if rng.random() < 0.5:
            position = list(POSITIONS)[rng.integers(len(POSITIONS))]
            scene = [_random_shape(rng, position)]
        else:
            scene = [_random_shape(rng, "left"), _random_shape(rng, "right")]
        image = render(scene, rng)
        if image.tobytes() in seen:
            continue
        seen.add(image.tobytes())
        pool.append(
            {
                "image": image,
                "image/id": len(pool),
                "captions": {"text": captions_for(scene)},
            }
        )

    # The pool is i.i.d., so consecutive slices are already random splits.
    return slice_pool(pool, SPLIT_SIZES, lambda _, ex: (ex["image/id"], ex))


class ZooShapesCaptions(GeneratedBuilder):
    """Synthetic shape scenes with 3 captions each: a learnable coco_captions."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, 3)),
                    "image/id": tfds.features.Scalar(dtype=np.int64),
                    "captions": tfds.features.Sequence({"text": tfds.features.Text()}),
                }
            ),
            homepage=None,
        )

    generate_splits = staticmethod(generate_splits)
