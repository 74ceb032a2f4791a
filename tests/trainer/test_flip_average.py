"""Test-time flip: the shipped model averages the network's logits on an image and on its mirror
image, shares the network's weights, and so answers a mirrored image with the mirrored map."""

import numpy as np
import pytest
import tf_keras as keras

from trainer.calibration import calibrate, offset_mean_iou, output_bias, validation_logits
from trainer.models import build_model, inference_model
from trainer.models.flip_average import flip_averaged


@pytest.fixture(scope="module")
def network() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model("unet", image_size=32)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)


def test_the_logits_are_the_average_of_the_image_and_its_mirror(network, images):
    mirrored_back = network.predict(images[:, :, ::-1], verbose=0)[:, :, ::-1]
    expected = (network.predict(images, verbose=0) + mirrored_back) / 2
    np.testing.assert_allclose(flip_averaged(network).predict(images, verbose=0), expected, atol=1e-5)


def test_a_mirrored_image_gets_the_mirrored_logits_which_the_network_alone_does_not(network, images):
    averaged = flip_averaged(network)
    np.testing.assert_array_equal(
        averaged.predict(images[:, :, ::-1], verbose=0), averaged.predict(images, verbose=0)[:, :, ::-1]
    )
    alone = network.predict(images[:, :, ::-1], verbose=0) - network.predict(images, verbose=0)[:, :, ::-1]
    assert np.abs(alone).max() > 1e-3  # so the property above is the wrapper's, not the network's


def test_the_wrapper_adds_no_weights_and_only_wraps_when_asked(network):
    averaged = inference_model(network, flip_tta=True)
    assert {id(v) for v in averaged.variables} == {id(v) for v in network.variables}
    assert averaged.count_params() == network.count_params()
    assert inference_model(network, flip_tta=False) is network


def test_class_offsets_are_fitted_to_the_averaged_logits_and_shift_them_exactly():
    keras.utils.set_random_seed(1)
    network = build_model("unet", image_size=32)
    averaged = flip_averaged(network)
    images = np.random.default_rng(1).random((6, 32, 32, 3), dtype=np.float32)
    masks = np.random.default_rng(2).choice(3, size=(6, 32, 32), p=[0.2, 0.2, 0.6])
    before = validation_logits(averaged, images)
    bias = output_bias(network).numpy().copy()

    result = calibrate(network, averaged, (images, masks))

    offsets = np.asarray(result["offsets"], np.float32)
    assert offsets.any()  # the random network's map is far from these masks: something moves
    np.testing.assert_allclose(output_bias(network).numpy(), bias + offsets, atol=1e-6)
    np.testing.assert_allclose(validation_logits(averaged, images), before + offsets, atol=1e-5)
    assert result["validation_mean_iou_before"] == pytest.approx(offset_mean_iou(before, masks, [0, 0, 0]))
