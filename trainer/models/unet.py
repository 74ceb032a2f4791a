"""The TensorFlow "Image segmentation" tutorial's U-Net: MobileNetV2 encoder, pix2pix decoder.

Layer for layer the tutorial's model (4 upsample blocks of 512, 256, 128, 64 filters, each
concatenated with the matching encoder skip, then a stride-2 Conv2DTranspose to logits at full
resolution), except that the [0, 1] -> [-1, 1] rescaling is inside the encoder. The last layer
computes in float32 so the logits stay float32 under a mixed_float16 policy.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tf_keras as keras  # noqa: E402

from trainer.models.encoder import WEIGHTS_NONE, encoder_features  # noqa: E402
from trainer.models.upsample import upsample  # noqa: E402

DECODER_FILTERS = (512, 256, 128, 64)


def build_unet(
    image_size: int,
    num_classes: int = 3,
    encoder_weights: str = WEIGHTS_NONE,
    freeze_encoder: bool | None = None,
    bn_momentum: float | None = None,
) -> keras.Model:
    """Return the U-Net mapping [0, 1] images (batch, s, s, 3) to logits (batch, s, s, classes).

    Encoder arguments as in `build_encoder` (freeze_encoder=None: its default).
    """
    inputs, (*skips, x) = encoder_features(image_size, encoder_weights, freeze_encoder, bn_momentum)
    for filters, skip in zip(DECODER_FILTERS, reversed(skips)):
        x = upsample(filters, 3)(x)
        stride = image_size // skip.shape[1]
        x = keras.layers.Concatenate(name=f"concat_skip_stride{stride}")([x, skip])
    logits = keras.layers.Conv2DTranspose(
        num_classes, 3, strides=2, padding="same", dtype="float32", name="logits"
    )(x)
    return keras.Model(inputs, logits, name="unet")
