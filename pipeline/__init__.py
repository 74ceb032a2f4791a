"""The pipeline: the DAG, its runners, the settings and the command line (`segpipe`).
Names shared with the other stages come from `contract` (imported first, so Keras 2 is
settled before TensorFlow loads)."""

import contract  # noqa: F401  (settles Keras 2 before any TensorFlow import: contract/__init__.py)
