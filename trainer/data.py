"""The Trainer's input pipeline: transformed examples → (image, mask[, weights]) batches.

Transform already decoded, resized and normalised every example; this module reads a split into
memory in a canonical order and applies the training-time augmentation. Three rules:

- **Augmentation lives here, never in Transform** (trainer/preprocessing.py says why): it is
  drawn afresh each epoch and serving never sees it.
- **Image and mask move together.** Every geometric change (flip, scale, crop, shift) is applied
  to the image and its mask with the same random draw; the mask is resized by nearest neighbour,
  so its values stay class ids. Colour changes touch the image only.
- **Same seed, same model.** A split is read sorted by its examples' keys (their file names,
  passed through Transform), because ExampleGen's and Transform's Beam jobs write records in no
  fixed order; shuffling and every augmentation then draw from the seed alone, with stateless
  random ops fed per-example seeds from a seeded `Dataset.random`, which draws anew each epoch.
  With TensorFlow's op determinism on (trainer/task.py), a run repeats exactly.
"""

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from contract.names import IMAGE_XF, KEY_XF, MASK_XF

PARSE_BATCH = 64
AUGMENTATIONS = ("flip", "geometric", "color", "full")
# Ranges at augment_strength 1 (scaled linearly by it).
SCALE_RANGE = 0.25  # the image is zoomed by a factor in [1 - 0.25, 1 + 0.25]
SHIFT_RANGE = 0.10  # and shifted by up to 10% of its side
BRIGHTNESS_RANGE = 0.20  # added to [0, 1] pixels
CONTRAST_RANGE = 0.30  # contrast and saturation factors in [1 - 0.3, 1 + 0.3]

Augmentation = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], Tuple[tf.Tensor, tf.Tensor]]


def read_transformed(file_patterns: List[str], feature_spec: dict) -> tf.data.Dataset:
    """Gzipped TFRecords of transformed examples → dataset of (image, mask) pairs, file order."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    keys = [key for key in (IMAGE_XF, MASK_XF, KEY_XF) if key in feature_spec]
    spec = {key: feature_spec[key] for key in keys}
    return (
        tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=tf.data.AUTOTUNE)
        .batch(PARSE_BATCH)
        .map(lambda records: tf.io.parse_example(records, spec), num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
    )


def load_split(file_patterns: List[str], feature_spec: dict) -> Tuple[np.ndarray, np.ndarray]:
    """A whole split in memory as (images [n, s, s, 3] float32, masks [n, s, s] int32), sorted by
    example key: the same data in the same order, whatever order the files hold it in.

    A Transform graph made before keys were passed through has none; its order is the files'.
    """
    images, masks, keys = [], [], []
    for example in read_transformed(file_patterns, feature_spec).batch(256):
        images.append(example[IMAGE_XF].numpy())
        masks.append(example[MASK_XF].numpy().astype(np.int32))
        if KEY_XF in example:
            keys.extend(example[KEY_XF].numpy().reshape(-1).tolist())
    image_array, mask_array = np.concatenate(images), np.concatenate(masks)
    if keys:
        order = np.argsort(np.asarray(keys, dtype=object), kind="stable")
        image_array, mask_array = image_array[order], mask_array[order]
    return image_array, mask_array


def _flip(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    both = tf.image.stateless_random_flip_left_right(
        tf.concat([image, tf.cast(mask[..., None], image.dtype)], -1), seed
    )
    return both[..., :3], tf.cast(both[..., 3], mask.dtype)


def _scale_crop_shift(
    image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, strength: float
) -> Tuple[tf.Tensor, tf.Tensor]:
    """Zoom by a random factor, then crop the image's size at a random offset (a shift): image
    bilinear, mask nearest, reflected at the borders so no new content appears."""
    size = tf.shape(image)[0]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    factor = tf.random.stateless_uniform([], seeds[0], 1 - SCALE_RANGE * strength, 1 + SCALE_RANGE * strength)
    side = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * factor), tf.int32), 1)
    zoomed = tf.image.resize(image, [side, side], method="bilinear")
    zoomed_mask = tf.image.resize(mask[..., None], [side, side], method="nearest")
    pad = (tf.maximum(size - side, 0) + 1) // 2 + tf.cast(
        tf.round(SHIFT_RANGE * strength * tf.cast(size, tf.float32)), tf.int32
    )
    pad = tf.minimum(pad, side - 1)  # reflection needs the padding to be smaller than the image
    padding = [[pad, pad], [pad, pad], [0, 0]]
    both = tf.concat(
        [
            tf.pad(zoomed, padding, mode="REFLECT"),
            tf.cast(tf.pad(zoomed_mask, padding, mode="REFLECT"), image.dtype),
        ],
        -1,
    )
    crop = tf.image.stateless_random_crop(both, [size, size, 4], seeds[1])
    return crop[..., :3], tf.cast(crop[..., 3], mask.dtype)


def _colour(image: tf.Tensor, seed: tf.Tensor, strength: float) -> tf.Tensor:
    seeds = tf.random.experimental.stateless_split(seed, 3)
    image = tf.image.stateless_random_brightness(image, BRIGHTNESS_RANGE * strength, seeds[0])
    low, high = max(1 - CONTRAST_RANGE * strength, 0.0), 1 + CONTRAST_RANGE * strength
    image = tf.image.stateless_random_contrast(image, low, high, seeds[1])
    image = tf.image.stateless_random_saturation(image, low, high, seeds[2])
    return tf.clip_by_value(image, 0.0, 1.0)


def augmentation(kind: str, strength: float = 1.0) -> Augmentation:
    """The map function of one augmentation recipe: (image, mask, seed [2]) → (image, mask)."""
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {kind!r}; accepted: {', '.join(AUGMENTATIONS)}")

    def augment(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        seeds = tf.random.experimental.stateless_split(seed, 3)
        image, mask = _flip(image, mask, seeds[0])
        if kind in ("geometric", "full") and strength > 0:
            image, mask = _scale_crop_shift(image, mask, seeds[1], strength)
        if kind in ("color", "full") and strength > 0:
            image = _colour(image, seeds[2], strength)
        return image, mask

    return augment


def with_class_weights(weights: Sequence[float]):
    """A map function adding per-pixel sample weights looked up by each pixel's true class."""
    table = tf.constant(weights, tf.float32)

    def add(image: tf.Tensor, mask: tf.Tensor):
        return image, mask, tf.gather(table, mask)

    return add


def make_dataset(
    pairs: tf.data.Dataset,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    augment: str = "flip",
    augment_strength: float = 1.0,
    class_weights: Optional[Sequence[float]] = None,
    shuffle_buffer: int = 4096,
) -> tf.data.Dataset:
    """Batches ready for Keras: for training, shuffled and augmented afresh each epoch."""
    dataset = pairs.cache()
    if training:
        per_example_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        augment_one = augmentation(augment, augment_strength)
        dataset = tf.data.Dataset.zip(
            (dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True), per_example_seeds)
        ).map(
            lambda pair, example_seed: augment_one(pair[0], pair[1], example_seed),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if class_weights:
        dataset = dataset.map(with_class_weights(class_weights), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def class_pixel_counts(masks: np.ndarray, num_classes: int) -> List[int]:
    """Pixels per true class over a split's masks."""
    return np.bincount(masks.reshape(-1), minlength=num_classes)[:num_classes].tolist()


def balanced_class_weights(masks: np.ndarray, num_classes: int) -> List[float]:
    """Median frequency balancing: weight_c = median frequency / frequency of c (clipped to
    [0.1, 10]), so a pixel of the thin border class counts as much as the classes it borders."""
    counts = np.maximum(np.asarray(class_pixel_counts(masks, num_classes), np.float64), 1.0)
    frequency = counts / counts.sum()
    return np.clip(np.median(frequency) / frequency, 0.1, 10.0).round(4).tolist()
