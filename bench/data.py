"""The benchmarks' data: the built-in synthetic dataset, its TFDS copy, and decoded arrays.

Every benchmark reads the same files: `datagen.synthetic_pets.write_dataset` (seed 0) in the
Oxford-IIIT Pet layout, never downloaded. The tutorial side reads them the tutorial's way,
through TFDS's real `oxford_iiit_pet` builder, prepared offline by the project's own
`components.tfds_source.prepare`; the pipeline reads the same raw files through ExampleGen.
"""

import json
import os
from typing import List, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from bench.common import DATASET, DATASET_VERSION, Settings
from components.tfds_example_gen.tfds_source import prepare
from contract import oxford_pets as layout
from datagen.synthetic_pets import write_dataset

_DONE_FILE = "bench_dataset.json"


def ensure_dataset(settings: Settings) -> str:
    """Writes the dataset once per work directory (deterministic, so a rerun reuses it)."""
    marker = os.path.join(settings.data_dir, _DONE_FILE)
    wanted = {"n_train": settings.n_train, "n_test": settings.n_eval, "seed": settings.seed}
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle) == wanted:
                return settings.data_dir
    write_dataset(settings.data_dir, settings.n_train, settings.n_eval, seed=settings.seed)
    with open(marker, "w", encoding="utf-8") as handle:
        json.dump(wanted, handle)
    return settings.data_dir


def tfds_builder(settings: Settings) -> tfds.core.DatasetBuilder:
    """TFDS's oxford_iiit_pet builder over the prepared copy of the benchmark's dataset."""
    prepared = prepare(
        DATASET, DATASET_VERSION, os.path.join(settings.work_dir, "tfds"), local_dir=ensure_dataset(settings)
    )
    return tfds.builder_from_directory(prepared.builder_dir)


def resized_arrays(builder: tfds.core.DatasetBuilder, split: str, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """A whole split decoded and resized as the pipeline's Transform does it.

    Images bilinear to [0, 1]; masks NEAREST (bilinear blends labels into non-classes) and
    shifted to classes 0..2. Both models are scored, and the bare model is fed, from these arrays.
    """

    def convert(example):
        image = tf.image.resize(tf.cast(example["image"], tf.float32), [size, size], method="bilinear")
        mask = tf.image.resize(example["segmentation_mask"], [size, size], method="nearest")
        return tf.clip_by_value(image / 255.0, 0.0, 1.0), tf.cast(mask[..., 0], tf.int64) - 1

    images, masks = [], []
    for image, mask in builder.as_dataset(split=split).map(convert).batch(64).as_numpy_iterator():
        images.append(image)
        masks.append(mask)
    return np.concatenate(images), np.concatenate(masks)


def encoded_images(settings: Settings, split: str = "test") -> List[bytes]:
    """The split's JPEG files as bytes, at the dataset's own sizes (what a serving client sends)."""
    root = ensure_dataset(settings)
    entries = layout.parse_list_file(layout.list_file_path(root, split))
    result = []
    for entry in entries:
        with open(layout.image_path(root, entry), "rb") as handle:
            result.append(handle.read())
    return result
