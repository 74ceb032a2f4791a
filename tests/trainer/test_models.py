"""Tests of trainer.models: shapes, parameter counts, freezing, BN momentum, weights files, and
that a short from-scratch training run gives non-degenerate predictions in inference mode.

Offline: every encoder is built with encoder_weights "none" or a weights file made here.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainer.models import (
    MODEL_NAMES,
    build_model,
    format_trainable_summary,
    trainable_summary,
    unfreeze_encoder_from,
)
from trainer.models.encoder import (
    ENCODER_NAME,
    KERAS_BN_MOMENTUM,
    RESCALE_LAYER_NAME,
    SCRATCH_BN_MOMENTUM,
    build_encoder,
)
from trainer.models.fcn8 import SCORE_LAYER_NAMES

# The tutorial's model.summary() at 128x128 with the encoder frozen.
TUTORIAL_TOTAL_PARAMS = 6_504_227
TUTORIAL_TRAINABLE_PARAMS = 4_660_323


def _size(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


def _batchnorms(model: keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.fixture(scope="module")
def frozen_unet_128() -> keras.Model:
    return build_model("unet", image_size=128, freeze_encoder=True)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("size", [64, 128])
def test_output_shape_and_float32_logits(name, size):
    model = build_model(name, image_size=size)
    logits = model(np.random.default_rng(0).random((2, size, size, 3), np.float32))
    assert logits.shape == (2, size, size, 3)
    assert logits.dtype == tf.float32


def test_logits_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        models = [build_model(name, image_size=64) for name in MODEL_NAMES]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for model in models:
        assert model.get_layer(ENCODER_NAME).layers[-1].compute_dtype == "float16"
        assert model.output.dtype == tf.float32


def test_unknown_model_name_and_bad_image_size():
    with pytest.raises(ValueError, match="unet, fcn8"):
        build_model("segnet", image_size=64)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("unet", image_size=100)


def test_frozen_encoder_trains_exactly_the_decoder(frozen_unet_128):
    model = frozen_unet_128
    # Decoder parameters from first principles: upsample(f, 3) on c channels has a 3x3xcxf
    # kernel (no bias) and 4f BatchNorm parameters (2f of them moving statistics); its input
    # is the previous output concatenated with the encoder skip of that resolution.
    encoder_out, skip_channels = 320, (576, 192, 144, 96)  # block_16_project, skips s/16..s/2
    channels, trainable, bn_statistics = encoder_out, 0, 0
    for filters, skip in zip((512, 256, 128, 64), skip_channels):
        trainable += 9 * channels * filters + 2 * filters
        bn_statistics += 2 * filters
        channels = filters + skip
    trainable += 9 * channels * 3 + 3  # the logits Conv2DTranspose, with bias
    assert trainable == TUTORIAL_TRAINABLE_PARAMS
    assert model.count_params() == TUTORIAL_TOTAL_PARAMS
    assert _size(model.trainable_weights) == trainable

    encoder = model.get_layer(ENCODER_NAME)
    assert encoder.trainable_weights == []
    encoder_ids = {id(w) for w in encoder.weights}
    assert not any(id(w) in encoder_ids for w in model.trainable_weights)
    assert all(bn.momentum == KERAS_BN_MOMENTUM for bn in _batchnorms(encoder))

    summary = trainable_summary(model)
    assert summary["total"] == model.count_params()
    assert summary["trainable"] == _size(model.trainable_weights)
    assert summary["frozen"] == _size(model.non_trainable_weights)
    rows = {row["name"]: row for row in summary["blocks"]}
    assert all(row["trainable"] == 0 for name, row in rows.items() if name.startswith("encoder/"))
    assert [name for name in rows if not name.startswith("encoder/")] == [
        "upsample_512",
        "upsample_256",
        "upsample_128",
        "upsample_64",
        "logits",
    ]
    assert rows["upsample_512"]["frozen"] == rows["upsample_512"]["bn_statistics"] == 1024
    assert {"encoder/Conv1", "encoder/expanded_conv", "encoder/block_16"} <= set(rows)
    table = format_trainable_summary(summary)
    assert "encoder/block_16" in table and f"{TUTORIAL_TRAINABLE_PARAMS:,}" in table


def test_input_is_rescaled_inside_the_model(frozen_unet_128):
    """Inputs in [0, 1] (the Transform's range) reach MobileNetV2 in its [-1, 1] range."""
    encoder = frozen_unet_128.get_layer(ENCODER_NAME)
    rescale = encoder.get_layer(RESCALE_LAYER_NAME)
    assert encoder.layers[1] is rescale
    np.testing.assert_allclose(rescale(tf.constant([0.0, 0.5, 1.0])).numpy(), [-1.0, 0.0, 1.0])


def test_scratch_encoder_trains_with_bn_momentum_0_9():
    model = build_model("unet", image_size=64)
    encoder = model.get_layer(ENCODER_NAME)
    assert encoder.trainable
    summary = trainable_summary(model)
    assert summary["frozen"] == summary["bn_statistics"]  # only moving statistics are frozen
    encoder_rows = [row for row in summary["blocks"] if row["name"].startswith("encoder/")]
    assert _size(encoder.trainable_weights) == sum(row["trainable"] for row in encoder_rows)
    assert _size(encoder.trainable_weights) == 1_811_072  # MobileNetV2 up to block_16_project
    batchnorms = _batchnorms(encoder)
    # bn_Conv1, 2 in expanded_conv, 3 in each of block_1..block_15, 2 in block_16 (its output
    # is block_16_project, before block_16_project_BN).
    assert len(batchnorms) == 50 and all(bn.momentum == SCRATCH_BN_MOMENTUM for bn in batchnorms)

    # The momentum set after construction is the one a training step uses.
    bn = encoder.get_layer("bn_Conv1")
    x = tf.random.normal((4, 8, 8, bn.moving_mean.shape[0]), mean=3.0)
    bn(x, training=True)
    expected = (1 - SCRATCH_BN_MOMENTUM) * tf.reduce_mean(x, axis=[0, 1, 2])
    np.testing.assert_allclose(bn.moving_mean.numpy(), expected.numpy(), rtol=1e-4)


@pytest.mark.parametrize("bn_momentum, expected", [(None, KERAS_BN_MOMENTUM), (0.95, 0.95)])
def test_frozen_scratch_encoder_keeps_configured_momentum(bn_momentum, expected):
    model = build_model("fcn8", image_size=64, freeze_encoder=True, bn_momentum=bn_momentum)
    encoder = model.get_layer(ENCODER_NAME)
    assert encoder.trainable_weights == []
    assert all(bn.momentum == expected for bn in _batchnorms(encoder))


def test_fcn8_score_layers_and_bilinear_upsampling():
    model = build_model("fcn8", image_size=96)
    assert model.name == "fcn8"
    in_channels = {"score_stride32": 320, "score_stride16": 576, "score_stride8": 192}
    for name in SCORE_LAYER_NAMES:
        assert model.get_layer(name).kernel.shape == (1, 1, in_channels[name], 3)
    assert model.get_layer("score_stride32").output.shape[1] == 96 // 32
    assert model.get_layer("score_stride8").output.shape[1] == 96 // 8
    final = model.get_layer("logits")
    assert not final.trainable and final.output.shape[1:] == (96, 96, 3)
    # Bilinear initialisation: a constant score map upsamples to the same constant inside.
    upsampled = final(tf.fill((1, 12, 12, 3), 2.0)).numpy()
    np.testing.assert_allclose(upsampled[0, 8:-8, 8:-8], 2.0, rtol=1e-5)


def test_unfreeze_encoder_from_block():
    model = build_model("unet", image_size=64, freeze_encoder=True)
    encoder = model.get_layer(ENCODER_NAME)
    frozen_trainable = _size(model.trainable_weights)
    unfreeze_encoder_from(model, "block_13_expand")
    names = [layer.name for layer in encoder.layers]
    start = names.index("block_13_expand")
    assert all(layer.trainable for layer in encoder.layers[start:])
    assert not any(layer.trainable for layer in encoder.layers[:start])
    unfrozen = _size(w for layer in encoder.layers[start:] for w in layer.trainable_weights)
    assert unfrozen > 0
    assert _size(model.trainable_weights) == frozen_trainable + unfrozen

    # A frozen BatchNorm stays in inference mode even when called with training=True.
    bn = encoder.get_layer("bn_Conv1")
    before = bn.moving_mean.numpy().copy()
    bn(tf.random.normal((2, 4, 4, before.shape[0]), mean=3.0), training=True)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)

    unfreeze_encoder_from(model, "block_15")  # a block prefix also works
    assert [layer.trainable for layer in encoder.layers] == [
        name.startswith(("block_15", "block_16")) for name in names
    ]
    with pytest.raises(ValueError, match=r"valid block prefixes: .*Conv1.*block_13.*block_16"):
        unfreeze_encoder_from(model, "block_99")


def test_encoder_weights_from_file(tmp_path):
    source = build_encoder(64, "none")
    own_file = str(tmp_path / "encoder.h5")
    source.save_weights(own_file)
    # Keras' MobileNetV2 no-top layout, as in its downloaded ImageNet file.
    keras_layout = keras.applications.MobileNetV2(input_shape=[64, 64, 3], include_top=False, weights=None)
    keras_file = str(tmp_path / "mobilenet_v2_no_top.h5")
    keras_layout.save_weights(keras_file)

    loaded = build_encoder(64, own_file)
    for expected, actual in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(expected.numpy(), actual.numpy())
    assert loaded.trainable_weights == []  # pretrained: frozen by default
    assert all(bn.momentum == KERAS_BN_MOMENTUM for bn in _batchnorms(loaded))

    from_keras = build_encoder(64, keras_file)
    for layer in (layer for layer in from_keras.layers if layer.weights):
        for expected, actual in zip(keras_layout.get_layer(layer.name).weights, layer.weights):
            np.testing.assert_array_equal(expected.numpy(), actual.numpy())

    with pytest.raises(FileNotFoundError):
        build_encoder(64, str(tmp_path / "missing.h5"))
    partial = keras.Sequential([keras.layers.Dense(2, name="Conv1", input_shape=[3])])
    partial_file = str(tmp_path / "partial.h5")
    partial.save_weights(partial_file)
    with pytest.raises(ValueError, match="has no weights for"):
        build_encoder(64, partial_file)


def _synthetic_pets(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright ellipses (class 0) with a mid-grey border ring (class 2) on noise (class 1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    images = rng.uniform(0.0, 0.35, (n, size, size, 3)).astype(np.float32)
    masks = np.ones((n, size, size), np.int32)
    for image, mask in zip(images, masks):
        cx, cy = rng.uniform(0.3, 0.7, 2) * size
        a, b = rng.uniform(0.12, 0.3, 2) * size
        radius = np.sqrt(((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2)
        pet, ring = radius < 1.0, (radius >= 1.0) & (radius < 1.3)
        image[pet] = rng.uniform(0.65, 1.0, 3) + rng.normal(0, 0.05, (pet.sum(), 3))
        image[ring] = 0.5 + rng.normal(0, 0.05, (ring.sum(), 3))
        mask[pet], mask[ring] = 0, 2
    return np.clip(images, 0.0, 1.0), masks


@pytest.mark.parametrize("bn_momentum", [None, KERAS_BN_MOMENTUM], ids=["default", "keras0.999"])
def test_short_scratch_training_eval_predictions(bn_momentum):
    """60 steps from scratch: with the default momentum (0.9) inference-mode predictions beat
    the majority class clearly; with Keras' 0.999 the moving statistics are still near their
    initial values and inference predicts (almost) one class everywhere."""
    keras.utils.set_random_seed(0)
    size, batch, steps = 64, 8, 60
    images, masks = _synthetic_pets(batch * steps, size, seed=0)
    test_images, test_masks = _synthetic_pets(64, size, seed=1)
    model = build_model("unet", image_size=size, bn_momentum=bn_momentum)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, masks, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    predicted = np.argmax(model(test_images, training=False), axis=-1)
    accuracy = np.mean(predicted == test_masks)
    majority = max(np.mean(test_masks == c) for c in range(3))
    if bn_momentum is None:
        assert len(np.unique(predicted)) == 3
        assert accuracy > majority + 0.1, (accuracy, majority)
    else:
        assert accuracy < majority + 0.03, (accuracy, majority)
