"""Serving: TF Serving's files, the wire formats of `predict_images`, REST/gRPC/in-process
clients and `segpipe predict`. Names come from `contract` (imported first, so Keras 2 is
settled before TensorFlow loads)."""

import contract  # noqa: F401  (settles Keras 2 before any TensorFlow import: contract/__init__.py)
