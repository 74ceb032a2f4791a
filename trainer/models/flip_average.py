"""Test-time flip: the shipped model averages the logits of an image and of its mirror image.

A pet seen in a mirror is still a pet, so the network's two answers are two estimates of one
mask; averaging them (the mirrored one flipped back) removes some of each seed's noise, which
the thin border class feels most. It costs a second forward pass on every image, so it is an
option (`--flip-tta`), not the default: the README's ablation measures what it buys.

The wrapper shares the network's layers and variables: nothing is trained or stored twice, the
Trainer's Keras weights stay the network's, and the class offsets (trainer/calibration.py) are
still folded into the network's own output bias (an offset added to both passes survives their
average unchanged).
"""

import tensorflow as tf
import tf_keras as keras

# Axis 2 of a (batch, height, width, channels) tensor: left-right.
WIDTH_AXIS = 2


def _mirror(tensor: tf.Tensor) -> tf.Tensor:
    return tf.reverse(tensor, axis=[WIDTH_AXIS])


def flip_averaged(network: keras.Model) -> keras.Model:
    """A model returning (network(x) + mirror(network(mirror(x)))) / 2, float32 logits."""
    inputs = keras.Input(network.input_shape[1:], name="image")
    mirrored = keras.layers.Lambda(_mirror, name="mirror_image")(inputs)
    mirrored_logits = keras.layers.Lambda(_mirror, name="mirror_back")(network(mirrored))
    logits = keras.layers.Average(name="flip_averaged_logits", dtype="float32")(
        [network(inputs), mirrored_logits]
    )
    return keras.Model(inputs, logits, name=f"{network.name}_flip_averaged")


def inference_model(network: keras.Model, flip_tta: bool) -> keras.Model:
    """What the exported, evaluated and converted model computes: the network, or with
    `flip_tta` its flip-averaged wrapper."""
    return flip_averaged(network) if flip_tta else network
