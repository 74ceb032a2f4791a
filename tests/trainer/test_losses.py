"""The training losses on hand-made masks whose answers are known."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainer.losses import CrossEntropyDice, FocalLoss, segmentation_loss, soft_dice_loss

MASK = np.array([[[0, 0], [1, 2]]], np.int32)  # one 2×2 image: two pet pixels, one background, one border


def _logits(mask, confidence):
    """Logits that put `confidence` logit units on each pixel's class of `mask`."""
    return tf.constant(np.eye(3, dtype=np.float32)[mask] * confidence)


def test_cross_entropy_is_keras_per_pixel_cross_entropy():
    logits = _logits(MASK, 2.0)
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(MASK, logits).numpy()
    assert segmentation_loss("cross_entropy")(MASK, logits).numpy() == pytest.approx(expected)
    # a right pixel at 2 logit units: -log(e^2 / (e^2 + 2))
    assert expected == pytest.approx(-math.log(math.e**2 / (math.e**2 + 2)), rel=1e-5)


def test_dice_is_zero_for_a_sure_right_map_and_one_for_a_sure_wrong_one():
    assert soft_dice_loss(MASK, _logits(MASK, 50.0)).numpy() == pytest.approx([0.0], abs=1e-4)
    wrong = (MASK + 1) % 3
    # every class absent from the prediction where it is true: Dice = smooth / (count + smooth)
    counts = np.bincount(MASK.ravel(), minlength=3)
    predicted = np.bincount(wrong.ravel(), minlength=3)
    expected = 1 - np.mean(1.0 / (counts + predicted + 1.0))
    assert soft_dice_loss(MASK, _logits(wrong, 50.0)).numpy() == pytest.approx([expected], abs=1e-4)


def test_cross_entropy_dice_adds_the_dice_term_to_every_pixel():
    logits = _logits(MASK, 1.0)
    cross_entropy = segmentation_loss("cross_entropy")(MASK, logits).numpy()
    dice = soft_dice_loss(MASK, logits).numpy()[0]
    assert CrossEntropyDice()(MASK, logits).numpy() == pytest.approx(cross_entropy + dice, rel=1e-5)


def test_focal_loss_is_cross_entropy_at_gamma_0_and_smaller_for_sure_pixels_above():
    logits = _logits(MASK, 3.0)
    cross_entropy = segmentation_loss("cross_entropy")(MASK, logits).numpy()
    assert FocalLoss(0.0)(MASK, logits).numpy() == pytest.approx(cross_entropy, rel=1e-5)
    p = math.e**3 / (math.e**3 + 2)
    assert FocalLoss(2.0)(MASK, logits).numpy() == pytest.approx((1 - p) ** 2 * -math.log(p), rel=1e-4)


@pytest.mark.parametrize("kind", ["cross_entropy", "cross_entropy_dice", "focal"])
def test_every_loss_takes_per_pixel_class_weights(kind):
    logits = _logits(MASK, 0.5)
    loss = segmentation_loss(kind)
    unweighted = loss(MASK, logits).numpy()
    weights = np.array([[[1.0, 1.0], [1.0, 3.0]]], np.float32)  # the border pixel counts three times
    assert loss(MASK, logits, sample_weight=weights).numpy() > unweighted


def test_an_unknown_loss_is_refused_naming_the_accepted_ones():
    with pytest.raises(ValueError, match="cross_entropy, cross_entropy_dice, focal"):
        segmentation_loss("hinge")
