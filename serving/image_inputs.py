"""Checks each image file before it is sent, so that a bad file fails alone, by name.

The model decodes a whole batch in one op: a text file renamed .jpg or a truncated JPEG in a
batch fails every image in it, with an error that names none of them. And a decompression bomb
(a small file declaring a huge image) would take the server's memory. So every file is read,
identified and fully decoded here first; its pixel count is checked from the header before any
decoding.
"""

import dataclasses
import io
import os
import warnings
from typing import Tuple

from PIL import Image, UnidentifiedImageError

from serving.orientation import SWAPS_SIDES, orientation_of

# "MPO" is what Pillow calls the multi-picture JPEGs many cameras write; they are JPEGs.
ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG")


class InputError(Exception):
    """What is wrong with one input file, in one line (the caller adds the file's name)."""


@dataclasses.dataclass(frozen=True)
class CheckedImage:
    """An input file that decodes as a JPEG or PNG within the pixel limit: its encoded bytes."""

    path: str
    data: bytes
    width: int
    height: int


def read_checked_image(path: str, max_pixels: int) -> CheckedImage:
    """Reads and checks one image file; InputError says what is wrong with it."""
    if not os.path.exists(path):
        raise InputError("no such file")
    if not os.path.isfile(path):
        raise InputError("not a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}") from None
    if not data:
        raise InputError("empty file")
    width, height = _check_header(data, max_pixels)
    _check_decodes(data)
    return CheckedImage(path=path, data=data, width=width, height=height)


def _check_header(data: bytes, max_pixels: int) -> Tuple[int, int]:
    """Format and size as displayed, from the header alone (Image.open decodes no pixels)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 M pixels and refuses above ~179 M; the limit here is ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
                if orientation_of(image) in SWAPS_SIDES:  # the model returns the displayed size
                    width, height = height, width
    except UnidentifiedImageError:
        raise InputError("not a JPEG or PNG image") from None
    except Image.DecompressionBombError as error:
        raise InputError(f"too many pixels: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"not a readable image: {error}") from None
    if image_format not in ACCEPTED_FORMATS:
        raise InputError(f"a {image_format} image; only JPEG and PNG are accepted")
    if width * height > max_pixels:
        raise InputError(
            f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} (--max-pixels)"
        )
    return width, height


def _check_decodes(data: bytes) -> None:
    """Verifies checksums (PNG) and decodes every pixel, which is what finds truncated files."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except Exception as error:
        # Pillow's decoders raise OSError, SyntaxError, ValueError, struct.error, EOFError and
        # more for damaged data; whichever it is, the file is damaged, not the program.
        raise InputError(f"damaged image: {error}") from None
