"""The contract every stage shares: names, file names and per-dataset facts.

Bottom layer of segpipe (README, "Architecture"): the pipeline, the components, the Trainer and
the serving clients all take the names they must agree on from here (feature keys, signature
and output names, artifact file names, class names and mask values), never from each other.
It imports nothing but the standard library, so any process can load it in milliseconds.

Importing it also settles which Keras TensorFlow uses, once for the whole project: TFT and
TFMA 1.16 only work with Keras 2 (tf_keras), and TF 2.16 picks Keras 2 or 3 from
TF_USE_LEGACY_KERAS when `tf.keras` is first touched (docs/stack.md, "Keras 2 vs Keras 3").
Every package of segpipe imports `contract` first, so the variable is set before any of them
can import TensorFlow.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
