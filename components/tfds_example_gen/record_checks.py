"""Per-record checks, run inside ExampleGen's Beam pipeline on every image and mask.

Each record is decoded with the same TensorFlow decoders Transform uses, so what passes here
decodes there; a decoder's error becomes a BadRecord with a one-line reason, never a trace.
"""

from typing import Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components.tfds_example_gen.data_quality import BadRecord


def decode_error_message(error: Exception) -> str:
    """TensorFlow's decoder message without its graph-function prefix."""
    text = getattr(error, "message", None) or str(error)
    return text.split("}} ", 1)[-1].strip().splitlines()[0][:200]


def check_record(
    file_name: str, image: bytes, mask: bytes, mask_values: Sequence[int]
) -> Tuple[Optional[BadRecord], int, int]:
    """Decodes image and mask as Transform will; returns (problem or None, height, width)."""
    try:
        pixels = tf.io.decode_image(image, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        return BadRecord(file_name, "undecodable_image", decode_error_message(error)), 0, 0
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    try:
        labels = tf.io.decode_image(mask, channels=0, expand_animations=False).numpy()
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        return BadRecord(file_name, "undecodable_mask", decode_error_message(error)), height, width
    if labels.shape[2] != 1:
        return (
            BadRecord(file_name, "undecodable_mask", f"mask has {labels.shape[2]} channels, expected 1"),
            height,
            width,
        )
    if labels.shape[:2] != (height, width):
        return (
            BadRecord(
                file_name,
                "mask_size_mismatch",
                f"mask is {labels.shape[1]}x{labels.shape[0]}, image is {width}x{height}",
            ),
            height,
            width,
        )
    unknown = np.setdiff1d(np.unique(labels), np.asarray(mask_values))
    if unknown.size:
        return (
            BadRecord(
                file_name, "unknown_mask_values", f"values {unknown.tolist()[:10]} not in {list(mask_values)}"
            ),
            height,
            width,
        )
    return None, height, width
