"""Part of segpipe, the TFX pipeline for the tutorial's U-Net.

Every package entry point sets TF_USE_LEGACY_KERAS before TensorFlow can be imported: TFT and
TFMA 1.16 only work with Keras 2 (tf_keras), and which Keras `tf.keras` is depends on import order.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
