"""Transform's preprocessing_fn: decode, resize and normalise; the graph serving runs too.

What it does, per example:
- image: JPEG/PNG bytes → RGB, turned as displayed (its EXIF orientation applied,
  trainer/orientation.py: phone photos are stored rotated, and their masks are drawn on the
  photo as displayed) → resized to image_size×image_size, bilinear → float32 in [0, 1];
- mask: PNG bytes → resized with NEAREST neighbour (bilinear would blend labels 1 and 3 into
  fractional, meaningless classes, the tutorial's old bug that a public TFX pipeline still has)
  → class ids 0..n-1 in the order of the dataset's mask values (Oxford: 1 pet → 0,
  2 background → 1, 3 border → 2);
- the file name passes through as the example's key (the Trainer sorts a split by it, so the
  same data trains in the same order however Beam wrote the records);
- species and breed label pass through for slicing the evaluation; the original height and width
  (as displayed) come out too, so `predict_images` can return a class map at the image's own
  size without decoding it twice.

Why there is NO random flip here: Transform materialises its output once and its graph is baked
into the exported model. A flip here would be the same flip every epoch (augmentation frozen by
caching) and serving would flip its inputs. The flip is training-time augmentation and lives in
the Trainer's input pipeline (trainer/data.py), applied freshly each epoch, to image and mask
together, on the train split only.
"""

from typing import Any, Dict

import tensorflow as tf

from contract.datasets import dataset_facts
from contract.names import (
    FILE_NAME_KEY,
    HEIGHT_XF,
    IMAGE_KEY,
    IMAGE_XF,
    KEY_XF,
    LABEL_KEY,
    LABEL_XF,
    MASK_KEY,
    MASK_XF,
    SPECIES_KEY,
    SPECIES_XF,
    WIDTH_XF,
)
from trainer.orientation import decode_oriented


def _bytes_column(tensor: tf.Tensor) -> tf.Tensor:
    """[batch, 1] (the schema's fixed shape) → [batch]."""
    return tf.reshape(tensor, [-1])


def _decode_image(encoded: tf.Tensor, size: int):
    image = decode_oriented(encoded, channels=3)
    shape = tf.shape(image)[:2]
    image = tf.image.resize(tf.cast(image, tf.float32), [size, size], method="bilinear")
    return tf.clip_by_value(image / 255.0, 0.0, 1.0), shape


def decode_images(encoded: tf.Tensor, size: int):
    """Batch of encoded images → ([batch, size, size, 3] in [0, 1], [batch, 2] original sizes)."""
    return tf.map_fn(
        lambda one: _decode_image(one, size),
        encoded,
        fn_output_signature=(tf.TensorSpec([size, size, 3], tf.float32), tf.TensorSpec([2], tf.int32)),
    )


def decode_masks(encoded: tf.Tensor, size: int, mask_values) -> tf.Tensor:
    """Batch of encoded masks → [batch, size, size] int64 class ids, resized nearest."""

    def one(mask_bytes: tf.Tensor) -> tf.Tensor:
        mask = tf.io.decode_png(mask_bytes, channels=1)
        return tf.image.resize(mask, [size, size], method="nearest")[..., 0]

    masks = tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec([size, size], tf.uint8))
    values = tf.constant(mask_values, tf.uint8)
    return tf.argmax(tf.cast(tf.equal(masks[..., None], values), tf.int8), axis=-1)


def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
    """TFT preprocessing_fn; custom_config carries 'image_size' and 'dataset'."""
    size = int(custom_config["image_size"])
    images, sizes = decode_images(_bytes_column(inputs[IMAGE_KEY]), size)
    masks = decode_masks(
        _bytes_column(inputs[MASK_KEY]), size, dataset_facts(custom_config["dataset"]).mask_values
    )
    return {
        IMAGE_XF: images,
        MASK_XF: masks,
        HEIGHT_XF: tf.cast(sizes[:, 0], tf.int64),
        WIDTH_XF: tf.cast(sizes[:, 1], tf.int64),
        SPECIES_XF: tf.reshape(inputs[SPECIES_KEY], [-1]),
        LABEL_XF: tf.reshape(inputs[LABEL_KEY], [-1]),
        KEY_XF: _bytes_column(inputs[FILE_NAME_KEY]),
    }
