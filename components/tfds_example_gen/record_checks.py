"""Per-record checks, run inside ExampleGen's Beam pipeline on every image and mask.

The image is decoded exactly as Transform decodes it (trainer/orientation.py: with its EXIF
orientation applied, so a phone photo stored rotated has the size it is displayed at, the size
its mask was drawn at). The mask is read for its label values the way trimaps store them: the
pixel values of an 8-bit or 16-bit greyscale PNG, the palette indices of a palette PNG (TensorFlow's
decoder would return the palette's colours). A 16-bit or palette mask is re-encoded as the 8-bit
greyscale PNG of the same labels, which is what Transform's decoder reads; the record counts it
as a note. A decoder's error becomes a BadRecord with a one-line reason, never a trace.
"""

import dataclasses
import io
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image

from components.tfds_example_gen.data_quality import BadRecord
from serving.tf_errors import one_line
from trainer.orientation import apply_orientation, exif_orientation

# PIL modes of single-channel masks whose pixel values are the labels, and the note each gets.
_VALUE_MODES = {
    "L": None,
    "I;16": "masks_16_bit",
    "I;16B": "masks_16_bit",
    "I;16L": "masks_16_bit",
    "I": "masks_16_bit",
}
_PALETTE_NOTE = "masks_palette_indices"
_ORIENTED_NOTE = "images_exif_oriented"


@dataclasses.dataclass
class CheckedRecord:
    """A record after its check: the problem that leaves it out (or None), the image's size as
    displayed, the mask to store (re-encoded when it was not 8-bit greyscale), and its notes."""

    problem: Optional[BadRecord]
    height: int = 0
    width: int = 0
    mask: bytes = b""
    notes: List[str] = dataclasses.field(default_factory=list)


def decode_error_message(error: Exception) -> str:
    """TensorFlow's or Pillow's decoder message, on one line (serving/tf_errors.py)."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return one_line(text).split("}} ", 1)[-1].strip()[:200]


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def _displayed_size(image: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Height and width of the image as displayed (Transform's own decode) and as stored, and
    its EXIF orientation; traced once, so a record costs ~3 ms, not ~50 (op by op)."""
    stored = tf.io.decode_image(image, channels=3, expand_animations=False)
    orientation = exif_orientation(image)
    displayed = apply_orientation(stored, orientation)  # = decode_oriented(image): Transform's decode
    return tf.shape(displayed)[:2], tf.shape(stored)[:2], orientation


def _labels(mask: bytes) -> Tuple[np.ndarray, Optional[str]]:
    """The mask's label values (H×W) and the note its encoding earns; ValueError when it is not
    a single-channel (or palette) image."""
    with Image.open(io.BytesIO(mask)) as image:
        image.load()
        if image.mode == "P":
            return np.asarray(image), _PALETTE_NOTE
        if image.mode not in _VALUE_MODES:
            raise ValueError(
                f"mask is a {image.mode} image with {len(image.getbands())} channels, expected 1"
            )
        return np.asarray(image), _VALUE_MODES[image.mode]


def _greyscale_png(labels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(labels.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def check_record(file_name: str, image: bytes, mask: bytes, mask_values: Sequence[int]) -> CheckedRecord:
    """Decodes image and mask as Transform will and checks they fit together."""
    try:
        displayed, stored, orientation = (value.numpy().tolist() for value in _displayed_size(image))
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        return CheckedRecord(BadRecord(file_name, "undecodable_image", decode_error_message(error)))
    height, width = displayed
    notes = [_ORIENTED_NOTE] if orientation != 1 else []
    try:
        labels, note = _labels(mask)
    except (OSError, ValueError, SyntaxError) as error:
        problem = BadRecord(
            file_name, "undecodable_mask", f"mask does not decode: {decode_error_message(error)}"
        )
        return CheckedRecord(problem, height, width)
    if labels.shape[:2] != (height, width):
        detail = f"mask is {labels.shape[1]}x{labels.shape[0]}, image is {width}x{height}"
        if labels.shape[:2] == tuple(stored):
            detail += (
                f" as displayed (EXIF orientation {orientation}); the mask fits the image as stored: "
                "masks are drawn on the photo as displayed"
            )
        return CheckedRecord(BadRecord(file_name, "mask_size_mismatch", detail), height, width)
    unknown = np.setdiff1d(np.unique(labels), np.asarray(mask_values))
    if unknown.size:
        kind = {"masks_16_bit": "16-bit mask ", _PALETTE_NOTE: "palette indices "}.get(note or "", "")
        detail = f"{kind}values {unknown.tolist()[:10]} not in {list(mask_values)}"
        return CheckedRecord(BadRecord(file_name, "unknown_mask_values", detail), height, width)
    if note:
        notes.append(note)
        mask = _greyscale_png(labels)
    try:
        tf.io.decode_png(mask, channels=1)  # what Transform runs: it must decode
    except tf.errors.InvalidArgumentError as error:
        return CheckedRecord(
            BadRecord(file_name, "undecodable_mask", decode_error_message(error)), height, width
        )
    return CheckedRecord(None, height, width, mask, notes)
