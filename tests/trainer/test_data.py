"""The Trainer's input pipeline: flips keep image and mask aligned and change every epoch."""

import numpy as np
import tensorflow as tf

from trainer.data import make_dataset


def _pairs(count=16, size=8):
    """Images whose red channel encodes the column index, masks equal to the column index."""
    columns = np.tile(np.arange(size, dtype=np.float32), (size, 1))
    images = np.stack([np.stack([columns, columns * 0, columns * 0], -1) + i for i in range(count)])
    masks = np.stack([np.tile(np.arange(size, dtype=np.int64), (size, 1)) % 3 for _ in range(count)])
    return tf.data.Dataset.from_tensor_slices((images, masks))


def test_flip_keeps_image_and_mask_aligned_and_varies_between_epochs():
    dataset = make_dataset(_pairs(), batch_size=16, training=True, seed=7)
    epochs = []
    for _ in range(3):
        images, masks = next(iter(dataset))
        images, masks = images.numpy(), masks.numpy()
        # the red channel minus its per-image offset is the (possibly flipped) column index
        offsets = images[:, :, :, 0].min(axis=(1, 2), keepdims=True)
        assert ((images[:, :, :, 0] - offsets).astype(np.int64) % 3 == masks).all()
        epochs.append(
            sorted(
                (int(offsets[i, 0, 0]), bool(images[i, 0, 0, 0] > images[i, 0, -1, 0]))
                for i in range(len(images))
            )
        )
    flips = [[flipped for _, flipped in epoch] for epoch in epochs]
    assert all(0 < sum(f) < len(f) for f in flips)  # some flipped, some not
    assert flips[0] != flips[1] or flips[1] != flips[2]  # drawn afresh each epoch


def test_eval_split_is_never_flipped_or_shuffled():
    dataset = make_dataset(_pairs(), batch_size=16, training=False, seed=7)
    images, _ = next(iter(dataset))
    images = images.numpy()
    assert (images[:, 0, 0, 0] < images[:, 0, -1, 0]).all()
    assert (np.diff(images[:, 0, 0, 0]) > 0).all()


def test_class_weights_become_per_pixel_sample_weights():
    dataset = make_dataset(
        _pairs(count=2), batch_size=2, training=False, seed=0, class_weights=[1.0, 2.0, 5.0]
    )
    _, masks, weights = next(iter(dataset))
    expected = np.array([1.0, 2.0, 5.0])[masks.numpy()]
    assert np.allclose(weights.numpy(), expected)


def test_class_pixel_counts_count_every_true_pixel():
    from trainer.data import class_pixel_counts

    dataset = make_dataset(_pairs(count=3, size=6), batch_size=2, training=False, seed=0)
    assert class_pixel_counts(dataset, 3) == [3 * 6 * 2] * 3  # columns 0..5 % 3, 6 rows, 3 images
