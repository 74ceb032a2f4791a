"""Segmentation models by name: the tutorial's U-Net and an FCN-8s head, on MobileNetV2.

All models take [0, 1] images (batch, s, s, 3), s a multiple of 32, and return float32 logits
(batch, s, s, num_classes).

AutoGraph's list of packages it never converts names `keras` but not `tf_keras`, so TF 2.16
rewrites tf_keras's own internals (Layer.__call__, train_step, ...) on every first trace of a
model: a tiny model's first `fit` took 13.2 s here instead of 0.37 s. tf_keras is written to
run in graph mode as it is, so it is added to that list (a private but stable TF setting),
here, where every model is built.
"""

import tf_keras as keras
from tensorflow.python.autograph.core import config as _autograph_config

from trainer.models.encoder import WEIGHTS_NONE, encoder_features, unfreeze_encoder_from
from trainer.models.fcn8 import fcn8_decoder
from trainer.models.flip_average import inference_model
from trainer.models.summary import format_trainable_summary, trainable_summary
from trainer.models.unet import unet_decoder
from trainer.settings import MODEL_NAMES

if not any(getattr(rule, "_prefix", None) == "tf_keras" for rule in _autograph_config.CONVERSION_RULES):
    _autograph_config.CONVERSION_RULES = (_autograph_config.DoNotConvert("tf_keras"),) + tuple(
        _autograph_config.CONVERSION_RULES
    )

_DECODERS = {"unet": unet_decoder, "fcn8": fcn8_decoder}
assert tuple(_DECODERS) == MODEL_NAMES, "trainer/settings.py MODEL_NAMES must name every decoder"

__all__ = [
    "MODEL_NAMES",
    "build_model",
    "format_trainable_summary",
    "inference_model",
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
    if name not in _DECODERS:
        raise ValueError(f"unknown model {name!r}; accepted names: {', '.join(MODEL_NAMES)}")
    inputs, features = encoder_features(image_size, encoder_weights, freeze_encoder, bn_momentum)
    return _DECODERS[name](inputs, features, num_classes)
