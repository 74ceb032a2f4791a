"""One split of an Examples artifact as its serialized tf.Examples (gzipped TFRecords, as
ExampleGen and Transform write them, local or gs://): the report's samples and the TFLite
component's calibration and scoring images are read this way."""

import os

import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts


def split_records(examples: standard_artifacts.Examples, split: str) -> tf.data.Dataset:
    """The split's serialized records in file order (empty when the split has no files)."""
    split_uri = artifact_utils.get_split_uri([examples], split)
    files = sorted(tf.io.gfile.glob(os.path.join(split_uri, "*.gz")))
    return tf.data.TFRecordDataset(files, compression_type="GZIP")
