"""Transform's preprocessing_fn: sizes, value ranges, nearest-neighbour masks, class mapping."""

import io

import numpy as np
import tensorflow as tf
from PIL import Image

from contract import names as features
from trainer import preprocessing as pre

CONFIG = {"image_size": 32, "dataset": "oxford_iiit_pet"}


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def _inputs(images, masks):
    column = lambda values: tf.constant([[v] for v in values])  # noqa: E731 (schema shape [1])
    return {
        features.IMAGE_KEY: column(images),
        features.MASK_KEY: column(masks),
        features.SPECIES_KEY: tf.constant([[0], [1]], tf.int64),
        features.LABEL_KEY: tf.constant([[5], [30]], tf.int64),
        features.FILE_NAME_KEY: tf.constant([[b"a.jpg"], [b"b.png"]]),
    }


def _trimap(height, width):
    """Stripes of 1 | 3 | 2 with sharp edges: bilinear resizing would blend them."""
    trimap = np.full((height, width), 2, np.uint8)
    trimap[:, : width // 3] = 1
    trimap[:, width // 3 : width // 3 + 3] = 3
    return trimap


def test_outputs_have_the_model_size_and_ranges():
    rng = np.random.default_rng(0)
    images = [
        _encode(rng.integers(0, 256, (77, 123, 3), np.uint8), "JPEG"),
        _encode(rng.integers(0, 256, (200, 90, 3), np.uint8), "PNG"),
    ]
    masks = [_encode(_trimap(77, 123), "PNG"), _encode(_trimap(200, 90), "PNG")]
    out = pre.preprocessing_fn(_inputs(images, masks), CONFIG)
    assert out[pre.IMAGE_XF].shape == (2, 32, 32, 3) and out[pre.IMAGE_XF].dtype == tf.float32
    assert float(tf.reduce_min(out[pre.IMAGE_XF])) >= 0.0 and float(tf.reduce_max(out[pre.IMAGE_XF])) <= 1.0
    assert out[pre.MASK_XF].shape == (2, 32, 32)
    assert out[pre.HEIGHT_XF].numpy().tolist() == [77, 200]
    assert out[pre.WIDTH_XF].numpy().tolist() == [123, 90]
    assert out[pre.SPECIES_XF].numpy().tolist() == [0, 1] and out[pre.LABEL_XF].numpy().tolist() == [5, 30]
    assert out[pre.KEY_XF].numpy().tolist() == [b"a.jpg", b"b.png"]  # the key the Trainer sorts by


def test_masks_hold_only_classes_0_1_2_mapped_from_values_1_2_3():
    masks = [_encode(_trimap(101, 157), "PNG"), _encode(_trimap(64, 64), "PNG")]
    image = _encode(np.zeros((10, 10, 3), np.uint8), "JPEG")
    mask_xf = pre.preprocessing_fn(_inputs([image, image], masks), CONFIG)[pre.MASK_XF].numpy()
    assert set(np.unique(mask_xf)) == {0, 1, 2}
    # pet (value 1) is the left third → class 0; background (value 2) on the right → class 1
    assert (mask_xf[:, :, 0] == 0).all() and (mask_xf[:, :, -1] == 1).all()


def test_masks_are_resized_with_nearest_neighbour_not_bilinear():
    trimap = _trimap(97, 131)
    mask_xf = pre.decode_masks(tf.constant([_encode(trimap, "PNG")]), 32, (1, 2, 3)).numpy()[0]
    rows = np.arange(32) * 97 // 32
    cols = np.arange(32) * 131 // 32
    nearest = trimap[rows][:, cols].astype(np.int64) - 1
    assert (mask_xf == nearest).mean() > 0.95  # TF's nearest picks pixel centres; same classes
    assert np.issubdtype(mask_xf.dtype, np.integer)
