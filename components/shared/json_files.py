"""Reading the JSON files components leave in their artifacts, local or on GCS."""

import json
from typing import Optional

import tensorflow as tf


def read_json(path: str) -> Optional[dict]:
    """A JSON file (local or gs://), or None when it does not exist."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)
