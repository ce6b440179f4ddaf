"""Images for a model without TensorFlow: files decoded with Pillow and turned upright by
their EXIF tag, channels converted, and resized as `tf.image.resize(antialias=True)` does
(TensorFlow's scale-and-translate with a triangle kernel, ported to numpy with its float32
arithmetic), then rounded and clipped, as `zoo.data.images.fit_to_shape` does.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zoo_runtime.errors import RuntimeInputError

#: the file formats the zoo reads (TensorFlow's `decode_image`), by Pillow's name
FORMATS = ("PNG", "JPEG", "GIF", "BMP")
#: EXIF orientation -> the turn or flip that shows the stored pixels upright, as Pillow's
#: `ImageOps.exif_transpose` applies it, on HxWxC arrays
_UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda im: im[:, ::-1],
    3: lambda im: im[::-1, ::-1],
    4: lambda im: im[::-1],
    5: lambda im: im.transpose(1, 0, 2),
    6: lambda im: np.rot90(im, k=3),
    7: lambda im: im.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda im: np.rot90(im, k=1),
}
#: the weights of `tf.image.rgb_to_grayscale`
_GREY = np.asarray([0.2989, 0.5870, 0.1140], dtype=np.float32)


def exif_orientation(data: bytes) -> int:
    """The EXIF Orientation tag of an image file (1, upright, when it has none).

    Args:
        data: the bytes of a JPEG, PNG, WebP or TIFF file.

    Returns:
        The tag's value, 1 to 8; 1 for files without EXIF data or that Pillow cannot read
        (decoding reports those).
    """
    from PIL import ExifTags, Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        struct.error,
        Image.DecompressionBombError,
    ):
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def upright(pixels: np.ndarray, data: bytes) -> np.ndarray:
    """Decoded pixels turned as the file's EXIF Orientation says.

    Args:
        pixels: HxWxC array, as decoded.
        data: the bytes of the file they were decoded from.

    Returns:
        The pixels as Pillow's `ImageOps.exif_transpose` shows them.
    """
    turn = _UPRIGHT.get(exif_orientation(data))
    return np.ascontiguousarray(turn(pixels)) if turn else pixels


def decode(data: bytes, name: str = "the image") -> np.ndarray:
    """An image file's pixels as TensorFlow's `decode_image(channels=0)` gives them: grey 1
    channel, grey with alpha 2, colour 3, colour with alpha 4 (a palette expands to colour,
    with alpha where it has transparency; a GIF is always colour, its first frame), uint8,
    16-bit PNGs reduced to their high byte (`decode_image`'s uint8 conversion). JPEGs may
    differ by a few levels: TensorFlow's libjpeg decodes with the fast integer IDCT, Pillow
    with the accurate one.

    Args:
        data: the file's bytes.
        name: what to call the file in an error message.

    Returns:
        HxWxC array, not yet turned upright.

    Raises:
        RuntimeInputError: the bytes are not a PNG, JPEG, GIF or BMP file Pillow can read.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise OSError(image.format)
            image.seek(0)
            mode = image.mode
            if image.format == "GIF":
                image = image.convert("RGB")
            elif mode == "P":
                has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
                image = image.convert("RGBA" if has_alpha else "RGB")
            elif mode in ("1", "I", "F"):
                image = image.convert("L") if mode == "1" else image
            elif mode == "CMYK":
                image = image.convert("RGB")
            elif mode == "PA":
                image = image.convert("RGBA")
            pixels = np.asarray(image)
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError):
        raise RuntimeInputError(
            f"cannot decode {name} as an image (PNG, JPEG, GIF or BMP expected)."
        ) from None
    if pixels.dtype != np.uint8:  # 16-bit PNGs: TensorFlow keeps the high byte
        pixels = (np.clip(pixels, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8)
    return pixels if pixels.ndim == 3 else pixels[..., None]


def read_image_file(path: str | Path) -> np.ndarray:
    """Decode an image file upright (`zoo.data.images.read_image_file` without TensorFlow).

    Args:
        path: a PNG, JPEG, GIF or BMP file.

    Returns:
        HxWxC uint8 pixels, turned as its EXIF tag says.

    Raises:
        RuntimeInputError: the file is missing or is not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise RuntimeInputError(
            f"image file not found: {path}. Give the path of a PNG, JPEG, GIF or BMP file."
        )
    data = path.read_bytes()
    return upright(decode(data, str(path)), data)


def to_model_image(image: Any, shape: tuple[int, int, int]) -> np.ndarray:
    """Any image (path or HxW[xC] array) -> uint8 array of `shape`
    (`zoo.data.images.to_model_image`'s rules).

    Args:
        image: a PNG, JPEG, GIF or BMP path, or an array of shape (H, W), (H, W, 1),
            (H, W, 3) or (H, W, 4): uint8 as it is, floats at most 1.0 scaled by 255, then
            clipped to [0, 255] (NaN reads as 0).
        shape: (height, width, channels) the model reads, channels 1 or 3.

    Returns:
        uint8 array of `shape`.

    Raises:
        RuntimeInputError: a missing or undecodable file, an array of another shape, or an
            empty array.
    """
    if isinstance(image, (str, Path)):
        pixels = read_image_file(image)
    else:
        pixels = image_array(image, RuntimeInputError)
    if pixels.shape[-1] in (2, 4):  # alpha dropped
        pixels = pixels[..., :-1]
    return fit_to_shape(pixels, shape)


def image_array(image: Any, error: Callable[[str], Exception]) -> np.ndarray:
    """An image given as an array, checked and made uint8 (the zoo's rule and the runtime's).

    Args:
        image: an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4): uint8 as it is,
            floats at most 1.0 scaled by 255, then clipped to [0, 255] (NaN reads as 0).
        error: the exception type to raise.

    Returns:
        uint8 array (H, W, C).

    Raises:
        Exception: of type `error`: an array of another shape, or an empty one.
    """
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3, 4):
        raise error(f"an image must be HxW, HxWx1, HxWx3 or HxWx4; got shape {pixels.shape}.")
    if 0 in pixels.shape:
        raise error(f"the image is empty (shape {pixels.shape}); give at least one pixel.")
    if pixels.dtype != np.uint8:
        finite = pixels[~np.isnan(pixels)] if pixels.dtype.kind == "f" else pixels
        if pixels.dtype.kind == "f" and (finite.size == 0 or float(finite.max()) <= 1.0):
            pixels = pixels * 255.0  # floats in [0, 1]
        pixels = np.clip(np.nan_to_num(pixels), 0, 255).astype(np.uint8)
    return pixels


def fit_to_shape(pixels: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """A uint8 image converted to `shape`'s channels and size (`zoo.data.images.fit_to_shape`).

    Args:
        pixels: uint8 array (H, W, C), C 1 or 3.
        shape: (height, width, channels) to produce.

    Returns:
        uint8 array of `shape`.
    """
    height, width, channels = shape
    if pixels.shape[-1] == 3 and channels == 1:
        grey = (pixels.astype(np.float32) * np.float32(1 / 255)) @ _GREY
        pixels = (grey * np.float32(255.5)).astype(np.uint8)[..., None]
    elif pixels.shape[-1] == 1 and channels == 3:
        pixels = np.repeat(pixels, 3, axis=-1)
    if pixels.shape[:2] != (height, width):
        resized = resize(pixels, (height, width))
        pixels = np.clip(np.round(resized), 0, 255).astype(np.uint8)
    return pixels


def _spans(output_size: int, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """TensorFlow's `ComputeSpansCore` for the triangle kernel with antialiasing, no
    translation: where each output pixel's span of input pixels starts, and its weights.

    Args:
        output_size: pixels along the axis after resizing.
        input_size: pixels along the axis before.

    Returns:
        `(starts, weights)`: int (output_size,) and float32 (output_size, span size), zero
        beyond each span's end.
    """
    f32 = np.float32
    scale = f32(output_size) / f32(input_size)
    inv_scale = f32(1.0 / float(scale))
    kernel_scale = max(inv_scale, f32(1.0))
    span_size = min(2 * int(np.ceil(kernel_scale)) + 1, input_size)
    starts = np.zeros(output_size, dtype=np.int64)
    weights = np.zeros((output_size, span_size), dtype=np.float32)
    one_over_kernel_scale = f32(1.0) / kernel_scale
    for x in range(output_size):
        sample = f32(f32(x) + f32(0.5)) * inv_scale
        if sample < 0 or sample > input_size:
            continue
        start = int(np.ceil(f32(sample - kernel_scale) - f32(0.5)))
        end = int(np.floor(f32(sample + kernel_scale) - f32(0.5)))
        start = min(max(start, 0), input_size - 1)
        end = min(max(end, 0), input_size - 1) + 1
        row = []
        total = f32(0.0)
        for source in range(start, end):
            position = f32(f32(source) + f32(0.5)) - sample
            distance = abs(f32(position * one_over_kernel_scale))
            weight = f32(1.0) - distance if distance < 1.0 else f32(0.0)
            total = f32(total + weight)
            row.append(weight)
        if abs(total) >= 1000.0 * np.finfo(np.float32).tiny:
            inverse = f32(1.0) / total
            weights[x, : len(row)] = [f32(w * inverse) for w in row]
        starts[x] = start
    return starts, weights


def _gather(image: np.ndarray, axis: int, output_size: int) -> np.ndarray:
    """Resample one axis: each output pixel sums its span's weighted inputs in order, in
    float32, as TensorFlow's `GatherRows` / `GatherColumns` do.

    Args:
        image: float32 array (H, W, C).
        axis: 0 (rows) or 1 (columns).
        output_size: pixels along `axis` after resampling.

    Returns:
        float32 array with `output_size` pixels along `axis`.
    """
    input_size = image.shape[axis]
    starts, weights = _spans(output_size, input_size)
    moved = np.moveaxis(image, axis, 0)
    out = np.zeros((output_size, *moved.shape[1:]), dtype=np.float32)
    for j in range(weights.shape[1]):
        sources = np.minimum(starts + j, input_size - 1)
        real = (starts + j) < input_size  # TensorFlow stops at the image's edge
        w = np.where(real, weights[:, j], np.float32(0.0)).astype(np.float32)
        out += w[:, None, None] * moved[sources]
    return np.moveaxis(out, 0, axis)


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`tf.image.resize(pixels, size, antialias=True)` (bilinear): rows first, then columns.

    Args:
        pixels: array (H, W, C) of any real type.
        size: (height, width) wanted.

    Returns:
        float32 array (height, width, C), not rounded.
    """
    image = pixels.astype(np.float32)
    return _gather(_gather(image, 0, size[0]), 1, size[1])
