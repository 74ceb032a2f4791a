"""The Trainer's input pipeline: augmentations keep image and mask aligned, masks stay class ids,
draws change every epoch, the validation data is never touched, splits load in a fixed order."""

import numpy as np
import pytest
import tensorflow as tf

from trainer.data import (
    AUGMENTATIONS,
    augmentation,
    balanced_class_weights,
    class_pixel_counts,
    load_split,
    make_dataset,
)
from trainer.settings import TrainingSettings
from trainer.task import class_weights_for

# Three well-separated colours, one per class: a mask can be read back from its image.
PALETTE = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.2, 0.9]], np.float32)


def _blocks(count=8, size=32, seed=0):
    """Images made of coloured blocks (4×4 px and up) and the masks their colours spell."""
    rng = np.random.default_rng(seed)
    masks = np.stack(
        [np.kron(rng.integers(0, 3, (size // 8, size // 8)), np.ones((8, 8), np.int32)) for _ in range(count)]
    )
    masks = masks.astype(np.int32)
    return PALETTE[masks], masks


def _classes_of(images):
    """Each pixel's nearest palette colour: the mask an image spells."""
    distances = ((images[..., None, :] - PALETTE) ** 2).sum(-1)
    return distances.argmin(-1)


@pytest.mark.parametrize("kind", AUGMENTATIONS)
def test_each_augmentation_keeps_image_and_mask_aligned_and_masks_class_ids(kind):
    images, masks = _blocks()
    augment = augmentation(kind, strength=1.0)
    for index in range(len(images)):
        image, mask = augment(
            tf.constant(images[index]), tf.constant(masks[index]), tf.constant([index, 7], tf.int64)
        )
        image, mask = image.numpy(), mask.numpy()
        assert image.shape == images[index].shape and mask.shape == masks[index].shape
        assert set(np.unique(mask)) <= {0, 1, 2} and mask.dtype == masks.dtype
        assert image.min() >= 0.0 and image.max() <= 1.0
        # The mask the augmented image spells is the augmented mask, but for bilinear blends along
        # block edges (and colour jitter cannot move a pixel to another block's colour).
        assert np.mean(_classes_of(image) == mask) > 0.9, kind


def test_a_misaligned_mask_would_be_caught():
    """The check above can fail: the mask of another draw spells a different picture."""
    images, masks = _blocks(count=1)
    augment = augmentation("geometric", strength=2.0)
    image, _ = augment(tf.constant(images[0]), tf.constant(masks[0]), tf.constant([1, 2], tf.int64))
    _, other = augment(tf.constant(images[0]), tf.constant(masks[0]), tf.constant([3, 4], tf.int64))
    assert np.mean(_classes_of(image.numpy()) == other.numpy()) < 0.9


def test_augmentations_change_every_epoch_and_repeat_with_the_seed():
    images, masks = _blocks(count=16)

    def epochs(seed):
        dataset = make_dataset(
            tf.data.Dataset.from_tensor_slices((images, masks)), 16, training=True, seed=seed, augment="full"
        )
        return [next(iter(dataset))[1].numpy() for _ in range(2)]

    first, second = epochs(3), epochs(3)
    assert not np.array_equal(first[0], first[1])  # a new draw each epoch
    assert all(np.array_equal(a, b) for a, b in zip(first, second))  # the same seed, the same draws
    assert not np.array_equal(epochs(4)[0], first[0])


def test_validation_data_is_never_shuffled_or_augmented():
    images, masks = _blocks(count=8)
    dataset = make_dataset(tf.data.Dataset.from_tensor_slices((images, masks)), 8, training=False, seed=7)
    got_images, got_masks = next(iter(dataset))
    np.testing.assert_array_equal(got_images.numpy(), images)
    np.testing.assert_array_equal(got_masks.numpy(), masks)


def test_class_weights_become_per_pixel_sample_weights():
    images, masks = _blocks(count=2)
    dataset = make_dataset(
        tf.data.Dataset.from_tensor_slices((images, masks)),
        2,
        training=False,
        seed=0,
        class_weights=[1.0, 2.0, 5.0],
    )
    _, got_masks, weights = next(iter(dataset))
    np.testing.assert_allclose(weights.numpy(), np.array([1.0, 2.0, 5.0])[got_masks.numpy()])


def _rare_border_masks() -> np.ndarray:
    """One 10x10 mask: 2 border pixels, 48 pet, 50 background."""
    masks = np.zeros((1, 10, 10), np.int32)
    masks[0, :, 5:] = 1
    masks[0, 0, :2] = 2
    return masks


def test_class_pixel_counts_and_balanced_weights_favour_the_rare_class():
    masks = _rare_border_masks()
    assert class_pixel_counts(masks, 3) == [48, 50, 2]
    weights = balanced_class_weights(masks, 3)
    assert weights[2] > weights[0] > weights[1] * 0.99 and weights[0] == pytest.approx(1.0)


def _write_split(path, examples):
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for key, value in examples:
            features = {
                "image_xf": tf.train.Feature(float_list=tf.train.FloatList(value=[value] * 12)),
                "mask_xf": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value) % 3] * 4)),
                "key_xf": tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def test_a_split_loads_in_key_order_whatever_order_its_files_hold(tmp_path):
    spec = {
        "image_xf": tf.io.FixedLenFeature([2, 2, 3], tf.float32),
        "mask_xf": tf.io.FixedLenFeature([2, 2], tf.int64),
        "key_xf": tf.io.FixedLenFeature([], tf.string),
    }
    examples = [(f"pet_{k}.jpg", float(k)) for k in range(6)]
    _write_split(tmp_path / "a-00000.gz", examples[3:][::-1])
    _write_split(tmp_path / "a-00001.gz", examples[:3])
    images, masks = load_split([str(tmp_path / "a-*.gz")], spec)
    np.testing.assert_array_equal(images[:, 0, 0, 0], np.arange(6, dtype=np.float32))
    assert masks.dtype == np.int32 and masks[4, 0, 0] == 1


def test_given_class_weights_win_over_balancing_and_balancing_over_none():
    masks = _rare_border_masks()
    train = (np.zeros((1, 10, 10, 3), np.float32), masks)
    given = TrainingSettings(class_weights=[1.0, 1.0, 3.0], balance_classes=True)
    assert class_weights_for(given, train, 3) == [1.0, 1.0, 3.0]
    balanced = class_weights_for(TrainingSettings(balance_classes=True), train, 3)
    assert balanced == balanced_class_weights(masks, 3)
    assert class_weights_for(TrainingSettings(balance_classes=False), train, 3) is None
