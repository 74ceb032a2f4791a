"""Test-time flip: the shipped model averages the logits of an image and of its mirror image.

A pet seen in a mirror is still a pet, so the network's two answers are two estimates of one
mask; averaging them (the mirrored one flipped back) removes some of each seed's noise, which
the thin border class feels most. It costs a second forward pass on every image, so it is an
option (`--flip-tta`), not the default: the README's ablation measures what it buys.

The network runs once, on the images and their mirror images stacked along the batch, rather
than twice: both forms compute the same logits in float, but converted to TFLite int8 the
two-call form lost 0.04 mean IoU on the demo's eval images where the one-call form lost none
(README "The phone model (TFLite)"). The shipped model's batch normalisation is in inference
mode, so stacking the batch changes no image's answer.

The wrapper shares the network's layers and variables: nothing is trained or stored twice, the
Trainer's Keras weights stay the network's, and the class offsets (trainer/calibration.py) are
still folded into the network's own output bias (an offset added to both passes survives their
average unchanged).
"""

import tensorflow as tf
import tf_keras as keras


def _stack_with_mirror(images: tf.Tensor) -> tf.Tensor:
    """(batch, ...) images -> (2 * batch, ...): the images, then their mirror images."""
    return tf.concat([images, tf.image.flip_left_right(images)], axis=0)


def _average_with_mirror(stacked_logits: tf.Tensor) -> tf.Tensor:
    """Undo `_stack_with_mirror`: each image's logits averaged with its mirror's, flipped back."""
    direct, mirrored = tf.split(stacked_logits, 2, axis=0)
    return (direct + tf.image.flip_left_right(mirrored)) / 2


def flip_averaged(network: keras.Model) -> keras.Model:
    """A model returning (network(x) + mirror(network(mirror(x)))) / 2, float32 logits."""
    inputs = keras.Input(network.input_shape[1:], name="image")
    stacked = keras.layers.Lambda(_stack_with_mirror, name="image_and_mirror")(inputs)
    logits = keras.layers.Lambda(_average_with_mirror, name="flip_averaged_logits", dtype="float32")(
        network(stacked)
    )
    return keras.Model(inputs, logits, name=f"{network.name}_flip_averaged")


def inference_model(network: keras.Model, flip_tta: bool) -> keras.Model:
    """What the exported, evaluated and converted model computes: the network, or with
    `flip_tta` its flip-averaged wrapper."""
    return flip_averaged(network) if flip_tta else network
