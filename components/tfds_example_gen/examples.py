"""The record format ExampleGen writes and every later step reads (keys: contract/names.py).

Images and masks stay encoded (JPEG/PNG bytes in a BytesList): flattened pixel lists, as one
public segmentation pipeline wrote them, make records about 30x larger. Label and species are
the TFDS class indices (0-based), kept for slicing the evaluation by species and breed.
"""

from typing import Dict, Union

import tensorflow as tf

from contract.names import BYTES_FEATURES, INT_FEATURES


def make_example(values: Dict[str, Union[bytes, str, int]]) -> tf.train.Example:
    """Builds the pipeline's tf.train.Example from one record's values.

    TFX's `dict_to_example` cannot carry image bytes (it UTF-8-decodes bytes; docs/stack.md,
    "ExampleGen"), so records are built here, from exactly the contract's features.
    """
    feature = {}
    for key in BYTES_FEATURES:
        value = values[key]
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
    for key in INT_FEATURES:
        feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(values[key])]))
    return tf.train.Example(features=tf.train.Features(feature=feature))
