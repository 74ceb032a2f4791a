"""Test-time flip: the shipped model averages the network's logits on an image and on its mirror
image, shares the network's weights, and so answers a mirrored image with the mirrored map."""

import numpy as np
import pytest
import tf_keras as keras

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
