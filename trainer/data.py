"""The Trainer's input pipeline: transformed examples → (image, mask[, weights]) batches.

Transform already decoded, resized and normalised every example; this module only reads them,
caches the decoded tensors in memory, and applies the training-time augmentation. The random
horizontal flip lives here, not in Transform (see trainer/preprocessing.py for why): it is
drawn from a tf.random.Generator whose state lives outside the dataset, so every epoch gets new
flips (a seeded op inside `map` would replay the same flips each epoch), and image and mask are
flipped by the same draw so they stay aligned. The eval split is never flipped.
"""

from typing import List, Optional, Sequence

import tensorflow as tf

from contract.names import IMAGE_XF, MASK_XF

PARSE_BATCH = 64


def read_transformed(file_patterns: List[str], feature_spec: dict) -> tf.data.Dataset:
    """Gzipped TFRecords of transformed examples → dataset of (image, mask) pairs."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    spec = {key: feature_spec[key] for key in (IMAGE_XF, MASK_XF)}
    return (
        tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=tf.data.AUTOTUNE)
        .batch(PARSE_BATCH)
        .map(lambda records: tf.io.parse_example(records, spec), num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(lambda example: (example[IMAGE_XF], example[MASK_XF]))
    )


def random_flip(generator: tf.random.Generator):
    """A map function flipping image and mask together, with one fresh draw per example."""

    def flip(image: tf.Tensor, mask: tf.Tensor):
        seed = generator.make_seeds(1)[:, 0]
        image = tf.image.stateless_random_flip_left_right(image, seed)
        mask = tf.image.stateless_random_flip_left_right(mask[..., None], seed)[..., 0]
        return image, mask

    return flip


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
    class_weights: Optional[Sequence[float]] = None,
    shuffle_buffer: int = 1024,
) -> tf.data.Dataset:
    """Cached, (for training) shuffled and flipped, batched dataset ready for Keras."""
    dataset = pairs.cache()
    if training:
        generator = tf.random.Generator.from_seed(seed)
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).map(
            random_flip(generator)
        )
    if class_weights:
        dataset = dataset.map(with_class_weights(class_weights), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def class_pixel_counts(dataset: tf.data.Dataset, num_classes: int) -> List[int]:
    """Pixels per true class over a batched (image, mask[, weights]) dataset."""

    def add(counts: tf.Tensor, batch) -> tf.Tensor:
        labels = tf.reshape(batch[1], [-1])
        return counts + tf.math.bincount(labels, minlength=num_classes, maxlength=num_classes, dtype=tf.int64)

    return dataset.reduce(tf.zeros([num_classes], tf.int64), add).numpy().tolist()
