"""The benchmark's data: generated on the machine, transformed once by the Trainer's Transform
graph, and written as the gzipped records Transform writes (nothing is downloaded).
"""

import dataclasses
import os
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from bench.gpu.settings import Sizes
from contract import oxford_pets as layout
from contract.datasets import DEFAULT_DATASET
from contract.names import FILE_NAME_KEY, IMAGE_KEY, IMAGE_XF, LABEL_KEY, MASK_KEY, MASK_XF, SPECIES_KEY
from datagen.synthetic_pets import write_dataset
from trainer.preprocessing import preprocessing_fn


@dataclasses.dataclass
class Data:
    """The generated data, transformed once, in the forms the benchmark feeds."""

    transform_output: tft.TFTransformOutput
    train_files: List[str]
    eval_files: List[str]
    memory_pairs: tf.data.Dataset  # the transformed training examples, as in-memory tensors
    eval_images: List[bytes]  # encoded JPEGs at their own sizes, what predict_images receives


def write_transform_graph(root: str, image_size: int) -> str:
    """The Trainer's preprocessing_fn as a Transform output directory, without data or Beam workers.

    As tests/helpers.py's write_transform, at any image size. The raw schema declares only the
    five features preprocessing_fn reads, each one value per example as ExampleGen writes them.
    The Beam pipeline gets no arguments: by default it would parse this script's flags as its own.
    """
    import apache_beam as beam  # Beam takes seconds to import: only here, where it is used
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    raw_spec = {
        IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string),
        MASK_KEY: tf.io.FixedLenFeature([1], tf.string),
        LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64),
        SPECIES_KEY: tf.io.FixedLenFeature([1], tf.int64),
        FILE_NAME_KEY: tf.io.FixedLenFeature([1], tf.string),
    }
    raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))
    transform_dir = os.path.join(root, "transform")
    config = {"image_size": image_size, "dataset": DEFAULT_DATASET}
    with (
        beam.Pipeline(argv=[]) as pipeline,
        tft_beam.Context(temp_dir=os.path.join(root, "beam_tmp"), force_tf_compat_v1=False),
    ):
        transform_fn = (pipeline | beam.Create([]), raw_metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, config)
        )
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    metadata_io.write_metadata(
        raw_metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR)
    )
    return transform_dir


def _raw_split(data_dir: str, split: str) -> Tuple[Dict[str, np.ndarray], List[bytes]]:
    """A generated split as raw features ([n, 1] each, as ExampleGen's records parse) and its JPEGs."""
    entries = layout.parse_list_file(layout.list_file_path(data_dir, split))
    images, masks = [], []
    for entry in entries:
        with open(layout.image_path(data_dir, entry), "rb") as handle:
            images.append(handle.read())
        with open(layout.trimap_path(data_dir, entry), "rb") as handle:
            masks.append(handle.read())
    raw = {
        IMAGE_KEY: np.array(images, dtype=object)[:, None],
        MASK_KEY: np.array(masks, dtype=object)[:, None],
        LABEL_KEY: np.array([[e.class_id - 1] for e in entries], np.int64),
        SPECIES_KEY: np.array([[e.species_id - 1] for e in entries], np.int64),
        FILE_NAME_KEY: np.array([[e.name + layout.IMAGE_SUFFIX] for e in entries], dtype=object),
    }
    return raw, images


def _transform(
    output: tft.TFTransformOutput, raw: Dict[str, np.ndarray], chunk: int = 64
) -> Dict[str, np.ndarray]:
    """Raw features through the Transform graph, in chunks; every transformed feature as arrays."""
    parts: Dict[str, List[np.ndarray]] = {}
    for start in range(0, len(raw[IMAGE_KEY]), chunk):
        batch = {key: tf.constant(value[start : start + chunk]) for key, value in raw.items()}
        for key, value in output.transform_raw_features(batch, drop_unused_features=True).items():
            parts.setdefault(key, []).append(value.numpy())
    return {key: np.concatenate(values) for key, values in parts.items()}


def _write_records(path: str, output: tft.TFTransformOutput, arrays: Dict[str, np.ndarray]) -> str:
    """Transformed examples as gzipped tf.Examples, the format of Transform's output split.

    Compression level 1 instead of zlib's default: the reader does not care, and the data is
    written again on every fresh machine.
    """
    coder = tft.coders.ExampleProtoCoder(output.transformed_metadata.schema)
    options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=1)
    with tf.io.TFRecordWriter(path, options) as writer:
        for i in range(len(arrays[IMAGE_XF])):
            writer.write(coder.encode({key: value[i] for key, value in arrays.items()}))
    return path


def prepare_data(sizes: Sizes, work_dir: str) -> Tuple[Data, Dict[str, Any]]:
    """Generate the synthetic dataset, write the Transform graph, transform and write the records."""
    timings: Dict[str, float] = {}
    started = time.perf_counter()
    data_dir = os.path.join(work_dir, "raw")
    write_dataset(data_dir, sizes.n_train, sizes.n_eval, seed=0)
    timings["generate_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    output = tft.TFTransformOutput(write_transform_graph(work_dir, sizes.image_size))
    timings["transform_graph_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    raw_train, _ = _raw_split(data_dir, "train")
    raw_eval, eval_images = _raw_split(data_dir, "test")
    train = _transform(output, raw_train)
    evaluation = _transform(output, raw_eval)
    timings["transform_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    train_file = _write_records(os.path.join(work_dir, "train.tfrecord.gz"), output, train)
    eval_file = _write_records(os.path.join(work_dir, "eval.tfrecord.gz"), output, evaluation)
    timings["write_records_seconds"] = time.perf_counter() - started

    memory_pairs = tf.data.Dataset.from_tensor_slices((train[IMAGE_XF], train[MASK_XF]))
    data = Data(output, [train_file], [eval_file], memory_pairs, eval_images)
    info = {
        "n_train": sizes.n_train,
        "n_eval": sizes.n_eval,
        "image_size": sizes.image_size,
        "train_record_megabytes": os.path.getsize(train_file) / 2**20,
        "source": "datagen.synthetic_pets.write_dataset(seed=0) -> the Transform graph of "
        "trainer.preprocessing.preprocessing_fn -> gzipped tf.Examples",
        **{key: round(value, 2) for key, value in timings.items()},
    }
    return data, info
