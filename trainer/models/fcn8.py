"""FCN-8s head (Long, Shelhamer, Darrell, "Fully Convolutional Networks", 2015) on MobileNetV2.

A lighter alternative to the U-Net decoder: 1x1 convolutions score the classes at strides 32,
16 and 8 (block_16_project, block_13_expand_relu, block_6_expand_relu); the stride-32 scores are
upsampled x2 and added to the stride-16 scores, the sum upsampled x2 and added to the stride-8
scores, and that sum upsampled x8 to full-resolution logits. As in the paper, the upsampling
kernels start as bilinear interpolation, the x2 ones are learned and the final x8 one stays
fixed, and the skip score layers start at zero (the net starts out as FCN-32s).
"""

from typing import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

SCORE_LAYER_NAMES = ("score_stride32", "score_stride16", "score_stride8")


@keras.utils.register_keras_serializable(package="segpipe")
class BilinearUpsampling(keras.initializers.Initializer):
    """Conv2DTranspose kernel (k, k, out, in) doing per-channel bilinear interpolation."""

    def __call__(self, shape, dtype=None, **kwargs):
        size, _, out_channels, in_channels = shape
        factor = (size + 1) // 2
        center = factor - 1 if size % 2 else factor - 0.5
        ramp = 1 - np.abs(np.arange(size) - center) / factor
        kernel = np.zeros(shape, dtype=np.float32)
        for channel in range(min(out_channels, in_channels)):
            kernel[:, :, channel, channel] = np.outer(ramp, ramp)
        return tf.constant(kernel, dtype=dtype or tf.float32)


def _upscore(
    num_classes: int, factor: int, name: str, use_bias: bool = False, **kwargs
) -> keras.layers.Layer:
    return keras.layers.Conv2DTranspose(
        num_classes,
        2 * factor,
        strides=factor,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=BilinearUpsampling(),
        name=name,
        **kwargs,
    )


def fcn8_decoder(inputs: tf.Tensor, features: Sequence[tf.Tensor], num_classes: int) -> keras.Model:
    """FCN-8s on the encoder's five feature maps (strides 2..32): [0, 1] images (batch, s, s,
    3) to logits (batch, s, s, classes)."""
    _, _, features8, features16, features32 = features
    score32 = keras.layers.Conv2D(num_classes, 1, name="score_stride32")(features32)
    score16, score8 = (
        keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=name)(features)
        for name, features in (("score_stride16", features16), ("score_stride8", features8))
    )
    x = _upscore(num_classes, 2, "upscore_stride32")(score32)
    x = keras.layers.Add(name="fuse_stride16")([x, score16])
    x = _upscore(num_classes, 2, "upscore_stride16")(x)
    x = keras.layers.Add(name="fuse_stride8")([x, score8])
    # The fixed last upsampling carries a bias that training leaves at zero: the class offsets
    # fitted after training (trainer/calibration.py) are folded into it.
    logits = _upscore(num_classes, 8, "logits", use_bias=True, trainable=False, dtype="float32")(x)
    return keras.Model(inputs, logits, name="fcn8")
