"""Class offsets fitted on validation logits: they undo a known skew, leave a right model alone,
and are folded into the output layer's bias so that the model itself predicts with them."""

import numpy as np
import pytest
import tf_keras as keras

from trainer.calibration import calibrate, fit_class_offsets, offset_mean_iou, output_bias, validation_logits
from trainer.models import build_model, inference_model


def _skewed_logits(skew: float, noise: float = 1.0, seed: int = 0):
    """Masks of three classes, and noisy logits that favour the true class by 2 but give class 2
    (the rare border) `skew` extra, so that it is over-predicted as balanced weights make it."""
    rng = np.random.default_rng(seed)
    masks = rng.choice(3, size=(6, 16, 16), p=[0.45, 0.45, 0.10]).astype(np.int64)
    logits = 2.0 * np.eye(3, dtype=np.float32)[masks] + rng.normal(0, noise, masks.shape + (3,)).astype(
        np.float32
    )
    logits[..., 2] += skew
    return logits, masks


def test_offsets_undo_a_class_skew_and_raise_mean_iou():
    logits, masks = _skewed_logits(skew=1.5)
    offsets, before, after = fit_class_offsets(logits, masks)
    assert offsets[0] == 0.0  # only differences between logits matter; class 0 is the reference
    assert offsets[2] - offsets[1] < -0.75  # the over-predicted class is pushed down
    assert after > before + 0.02
    assert after == pytest.approx(offset_mean_iou(logits, masks, offsets))


def test_a_model_already_right_keeps_zero_offsets():
    logits, masks = _skewed_logits(skew=0.0, noise=0.0)
    offsets, before, after = fit_class_offsets(logits, masks)
    # Every pixel right: no offset gains MIN_GAIN, so the model stays as trained.
    assert offsets == [0.0, 0.0, 0.0]
    assert before == after == 1.0


def _tiny_model() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, name="logits")(hidden))


@pytest.mark.parametrize("flip_tta", [False, True])
def test_calibrate_fits_the_shipped_logits_and_folds_the_offsets_into_the_output_bias(flip_tta):
    keras.utils.set_random_seed(0)
    model = _tiny_model()
    shipped = inference_model(model, flip_tta)  # with --flip-tta: flip-averaged, same weights
    images = np.random.default_rng(1).random((10, 8, 8, 3), dtype=np.float32)
    masks = np.random.default_rng(2).choice(3, size=(10, 8, 8), p=[0.3, 0.2, 0.5])
    before_logits = validation_logits(shipped, images)
    bias_before = output_bias(model).numpy().copy()

    result = calibrate(model, shipped, (images, masks))

    offsets = np.asarray(result["offsets"], np.float32)
    assert offsets.any()  # these masks favour class 2, which the random model does not
    np.testing.assert_allclose(output_bias(model).numpy(), bias_before + offsets, rtol=0, atol=1e-6)
    np.testing.assert_allclose(validation_logits(shipped, images), before_logits + offsets, atol=1e-5)
    assert result["validation_mean_iou_before"] == pytest.approx(
        offset_mean_iou(before_logits, masks, [0, 0, 0]), abs=1e-9
    )
    assert result["validation_mean_iou_after"] == pytest.approx(
        offset_mean_iou(before_logits, masks, offsets), abs=1e-9
    )
    assert result["validation_mean_iou_after"] >= result["validation_mean_iou_before"]


@pytest.mark.parametrize("name", ["unet", "fcn8"])
def test_both_networks_have_an_output_bias_that_starts_at_zero(name):
    bias = output_bias(build_model(name, image_size=32))
    assert bias.shape == (3,)
    assert not bias.numpy().any()


def test_a_model_without_an_output_bias_is_a_clear_error():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, use_bias=False, name="scores")(inputs))
    with pytest.raises(ValueError, match="output layer 'scores' .* has no bias"):
        output_bias(model)
