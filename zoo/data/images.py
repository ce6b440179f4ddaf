"""Reading images given to `predict`: a path or an array, checked and resized for a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.errors import BadInputError
from zoo_runtime.images import exif_orientation, image_array

#: EXIF orientation -> the turn or flip that shows the stored pixels upright, as Pillow's
#: `ImageOps.exif_transpose` applies it (2: mirrored, 3: upside down, 6: a phone held
#: upright, stored turned left, 8: turned right, 5 and 7: turned and mirrored)
_UPRIGHT = {
    2: lambda im: tf.reverse(im, [1]),
    3: lambda im: tf.reverse(im, [0, 1]),
    4: lambda im: tf.reverse(im, [0]),
    5: lambda im: tf.transpose(im, [1, 0, 2]),
    6: lambda im: tf.image.rot90(im, k=3),
    7: lambda im: tf.reverse(tf.transpose(im, [1, 0, 2]), [0, 1]),
    8: lambda im: tf.image.rot90(im, k=1),
}


def apply_exif_orientation(image: tf.Tensor, data: bytes) -> tf.Tensor:
    """Turn decoded pixels upright as the file's EXIF Orientation says (what phones write:
    pixels stored sideways, with a tag that says how to show them); TensorFlow's decoders
    ignore the tag.

    Args:
        image: the file's pixels as decoded, HxWxC.
        data: the bytes of the file they were decoded from.

    Returns:
        The pixels as Pillow's `ImageOps.exif_transpose` shows them.
    """
    turn = _UPRIGHT.get(exif_orientation(data))
    return turn(image) if turn else image


def read_image_file(path: str | Path, channels: int = 0) -> tf.Tensor:
    """Decode an image file (PNG, JPEG, GIF or BMP) upright: the one way the zoo reads one.

    Args:
        path: the file.
        channels: 0 for the file's own channels, or 1, 3 or 4.

    Returns:
        HxWxC pixels (uint8, or uint16 for 16-bit PNGs), turned as its EXIF tag says.

    Raises:
        BadInputError: the file is missing or is not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(
            f"image file not found: {path}. Give the path of a PNG, JPEG, GIF or BMP file."
        )
    data = path.read_bytes()
    try:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    except tf.errors.InvalidArgumentError as err:
        raise BadInputError(
            f"cannot decode {path} as an image (PNG, JPEG, GIF or BMP expected)."
        ) from err
    return apply_exif_orientation(image, data)


def to_model_image(image: str | Path | np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Any image (path or HxW[xC] array) -> uint8 array of `shape`, converting channels.

    Args:
        image: the path of a PNG, JPEG, GIF or BMP file (an animation's first frame), or an
            array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). uint8 arrays are read
            as they are; float arrays whose maximum is at most 1.0 are scaled by 255; then
            values are clipped to [0, 255] (NaN reads as 0). 16-bit PNGs saturate above 255.
        shape: (height, width, channels) the model reads, channels 1 or 3.

    Returns:
        uint8 array of `shape`: alpha dropped, RGB and grey converted into each other as
        needed, resized with antialiasing where the size differs (the aspect ratio is not
        kept).

    Raises:
        BadInputError: a missing or undecodable file, an array of another rank or channel
            count, or an empty array.
    """
    if isinstance(image, (str, Path)):
        tensor = read_image_file(image)
    else:
        tensor = tf.constant(image_array(image, BadInputError))
    if tensor.shape[-1] in (2, 4):  # alpha dropped (a grey PNG with alpha has 2 channels)
        tensor = tensor[..., :-1]
    if tensor.dtype != tf.uint8:  # read_image_file gives uint8; kept for uint16 decoders
        tensor = tf.cast(tf.clip_by_value(tensor, 0, 255), tf.uint8)
    return fit_to_shape(tensor, shape).numpy()


def fit_to_shape(image: tf.Tensor, shape: tuple[int, int, int]) -> tf.Tensor:
    """In a `tf.data` pipeline: a uint8 image converted to `shape`'s channels and size, so a
    model trained on one image size can be fine-tuned on images of another.

    Args:
        image: uint8 tensor of shape (H, W, C), C 1 or 3 and known when traced; H and W may
            be unknown. Other channel counts pass unconverted.
        shape: (height, width, channels) to produce.

    Returns:
        uint8 tensor of shape (height, width, channels): RGB to grey or grey to RGB as
        needed, resized with antialiasing (then rounded and clipped) where the size differs.
    """
    height, width, channels = shape
    if image.shape[-1] == 3 and channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    elif image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    if tuple(image.shape[:2]) != (height, width):
        # antialiased resizing can overshoot [0, 255]: clip before the cast back to uint8
        resized = tf.image.resize(image, (height, width), antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    return image


def augment(
    image: tf.Tensor,
    seed: tf.Tensor,
    *,
    min_crop: float = 0.8,
    brightness: float = 0.15,
    contrast: float = 0.2,
    saturation: float = 0.2,
) -> tuple[tf.Tensor, tf.Tensor]:
    """In a `tf.data` pipeline: one random variant of a training image, the same for the
    same seed: a crop of `min_crop` to all of each side at a random place, resized back,
    mirrored left to right half the time, and its brightness, contrast and saturation
    jittered (stateless random ops, so an epoch's variants follow from its seeds).

    Args:
        image: uint8 tensor of shape (height, width, 3), height and width known when traced.
        seed: int64 tensor of shape (2,), this image's seed for this epoch.
        min_crop: the smallest crop side, as a fraction of the image's side.
        brightness: largest change of brightness, on a [0, 1] scale.
        contrast: contrast multiplied by a factor in [1 - contrast, 1 + contrast].
        saturation: saturation multiplied by a factor in [1 - saturation, 1 + saturation].

    Returns:
        `(image, mirrored)`: uint8 tensor of the input's shape, and a bool scalar, True where
        the image was mirrored (so text about it can swap left and right).
    """
    height, width, channels = image.shape
    seeds = tf.random.experimental.stateless_split(seed, 6)
    side = tf.random.stateless_uniform([], seeds[0], min_crop, 1.0)
    crop_shape = tf.stack(
        [
            tf.cast(side * height, tf.int32),
            tf.cast(side * width, tf.int32),
            channels,
        ]
    )
    crop = tf.image.stateless_random_crop(image, crop_shape, seeds[1])
    x = tf.image.resize(tf.cast(crop, tf.float32) / 255.0, (height, width))
    mirrored = tf.random.stateless_uniform([], seeds[2]) < 0.5
    x = tf.where(mirrored, x[:, ::-1], x)
    x = tf.image.stateless_random_brightness(x, brightness, seeds[3])
    x = tf.image.stateless_random_contrast(x, 1 - contrast, 1 + contrast, seeds[4])
    x = tf.image.stateless_random_saturation(x, 1 - saturation, 1 + saturation, seeds[5])
    return tf.cast(tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0), tf.uint8), mirrored
