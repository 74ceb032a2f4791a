"""The Trainer's user code: Transform's preprocessing_fn, the input pipeline, the models, the
distribution strategy, run_fn and the export. Its own settings' schema is trainer/settings.py.
Names shared with the other stages come from `contract` (imported first, so Keras 2 is settled
before TensorFlow loads)."""

import contract  # noqa: F401  (settles Keras 2 before any TensorFlow import: contract/__init__.py)
