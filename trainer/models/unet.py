"""The TensorFlow "Image segmentation" tutorial's U-Net: MobileNetV2 encoder, pix2pix decoder.

Layer for layer the tutorial's model (4 upsample blocks of 512, 256, 128, 64 filters, each
concatenated with the matching encoder skip, then a stride-2 Conv2DTranspose to logits at full
resolution), except that the [0, 1] -> [-1, 1] rescaling is inside the encoder. The last layer
computes in float32 so the logits stay float32 under a mixed_float16 policy.
"""

from typing import Sequence

import tensorflow as tf
import tf_keras as keras

from trainer.models.upsample import upsample

DECODER_FILTERS = (512, 256, 128, 64)


def unet_decoder(inputs: tf.Tensor, features: Sequence[tf.Tensor], num_classes: int) -> keras.Model:
    """The U-Net on the encoder's five feature maps (strides 2..32): [0, 1] images (batch, s, s,
    3) to logits (batch, s, s, classes)."""
    *skips, x = features
    for filters, skip in zip(DECODER_FILTERS, reversed(skips)):
        x = upsample(filters, 3)(x)
        stride = inputs.shape[1] // skip.shape[1]
        x = keras.layers.Concatenate(name=f"concat_skip_stride{stride}")([x, skip])
    logits = keras.layers.Conv2DTranspose(
        num_classes, 3, strides=2, padding="same", dtype="float32", name="logits"
    )(x)
    return keras.Model(inputs, logits, name="unet")
