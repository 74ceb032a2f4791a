"""Segmentation models by name: the tutorial's U-Net and an FCN-8s head, on MobileNetV2.

All models take [0, 1] images (batch, s, s, 3), s a multiple of 32, and return float32 logits
(batch, s, s, num_classes).
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tf_keras as keras  # noqa: E402

from trainer.models.encoder import WEIGHTS_NONE, unfreeze_encoder_from  # noqa: E402
from trainer.models.fcn8 import build_fcn8  # noqa: E402
from trainer.models.summary import format_trainable_summary, trainable_summary  # noqa: E402
from trainer.models.unet import build_unet  # noqa: E402

_BUILDERS = {"unet": build_unet, "fcn8": build_fcn8}
MODEL_NAMES = tuple(_BUILDERS)

__all__ = [
    "MODEL_NAMES",
    "build_model",
    "format_trainable_summary",
    "trainable_summary",
    "unfreeze_encoder_from",
]


def build_model(
    name: str,
    *,
    image_size: int,
    num_classes: int = 3,
    encoder_weights: str = WEIGHTS_NONE,
    freeze_encoder: bool | None = None,
    bn_momentum: float | None = None,
) -> keras.Model:
    """Build model `name` (one of MODEL_NAMES).

    encoder_weights: "imagenet", "none" or a weights-file path. freeze_encoder: None freezes a
    pretrained encoder and trains a random one. bn_momentum: momentum of the encoder's
    BatchNorm layers; None is 0.9 for an encoder trained from scratch, else Keras' 0.999 (the
    decoder keeps pix2pix's 0.99). See `trainer.models.encoder.build_encoder`.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; accepted names: {', '.join(MODEL_NAMES)}")
    return _BUILDERS[name](
        image_size,
        num_classes=num_classes,
        encoder_weights=encoder_weights,
        freeze_encoder=freeze_encoder,
        bn_momentum=bn_momentum,
    )
