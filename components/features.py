"""The feature names and record format that ExampleGen writes and every later step reads.

Images and masks stay encoded (JPEG/PNG bytes in a BytesList): flattened pixel lists, as one
public segmentation pipeline wrote them, make records about 30x larger. Label and species are
the TFDS class indices (0-based), kept for slicing the evaluation by species and breed.
"""
from typing import Dict, Union

import tensorflow as tf

IMAGE_KEY = "image"
MASK_KEY = "segmentation_mask"
LABEL_KEY = "label"
SPECIES_KEY = "species"
FILE_NAME_KEY = "file_name"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"

BYTES_FEATURES = (IMAGE_KEY, MASK_KEY, FILE_NAME_KEY)
INT_FEATURES = (LABEL_KEY, SPECIES_KEY, HEIGHT_KEY, WIDTH_KEY)


def make_example(values: Dict[str, Union[bytes, str, int]]) -> tf.train.Example:
    """Builds the pipeline's tf.train.Example from one record's values.

    TFX's `dict_to_example` cannot carry image bytes (it UTF-8-decodes bytes), so records are
    built here, from exactly the features above.
    """
    feature = {}
    for key in BYTES_FEATURES:
        value = values[key]
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
    for key in INT_FEATURES:
        feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(values[key])]))
    return tf.train.Example(features=tf.train.Features(feature=feature))
