"""The Trainer: models, input pipeline, distribution, export.

Every package entry point sets TF_USE_LEGACY_KERAS before TensorFlow can be imported: TFT and
TFMA 1.16 only work with Keras 2 (tf_keras), and which Keras `tf.keras` is depends on import order.

AutoGraph's list of packages it never converts names `keras` but not `tf_keras`, so TF 2.16
rewrites tf_keras's own internals (Layer.__call__, train_step, ...) on every first trace of a
model: a tiny model's first `fit` took 13.2 s here instead of 0.37 s. tf_keras is written to
run in graph mode as it is, so it is added to that list (a private but stable TF setting).
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tensorflow.python.autograph.core import config as _autograph_config  # noqa: E402

if not any(getattr(rule, "_prefix", None) == "tf_keras"
           for rule in _autograph_config.CONVERSION_RULES):
    _autograph_config.CONVERSION_RULES = (
        _autograph_config.DoNotConvert("tf_keras"),) + tuple(_autograph_config.CONVERSION_RULES)
