"""Reading images given to `predict`: a path or an array, checked and resized for a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.errors import BadInputError


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
        path = Path(image)
        if not path.is_file():
            raise BadInputError(
                f"image file not found: {path}. Give the path of a PNG, JPEG, GIF or BMP file."
            )
        try:
            tensor = tf.io.decode_image(path.read_bytes(), channels=0, expand_animations=False)
        except tf.errors.InvalidArgumentError as err:
            raise BadInputError(
                f"cannot decode {path} as an image (PNG, JPEG, GIF or BMP expected)."
            ) from err
    else:
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
            raise BadInputError(
                f"an image must be HxW, HxWx1, HxWx3 or HxWx4; got shape {array.shape}."
            )
        if 0 in array.shape:
            raise BadInputError(
                f"the image is empty (shape {array.shape}); give at least one pixel."
            )
        if array.dtype != np.uint8:
            if array.dtype.kind == "f" and float(np.nanmax(array)) <= 1.0:
                array = array * 255.0  # floats in [0, 1]
            array = np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
        tensor = tf.constant(array)
    if tensor.shape[-1] == 4:
        tensor = tensor[..., :3]
    if tensor.dtype != tf.uint8:  # 16-bit PNGs: values above 255 saturate
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
