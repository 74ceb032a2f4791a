"""Test helpers: encoded images, raw examples and a real exported model, made on the fly."""

import io
import os

import numpy as np
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from components.tfds_example_gen.examples import make_example
from contract import names as features
from pipeline.config import BUILT_IN_SCHEMA
from trainer.export import export_saved_model
from trainer.models import build_model
from trainer.preprocessing import preprocessing_fn

EXPORT_SIZE = 64
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jpeg_bytes(width: int, height: int, seed: int = 0) -> bytes:
    """A JPEG of random pixels of the given size."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_mask_bytes(width: int, height: int) -> bytes:
    """An Oxford-style trimap PNG holding 1 (a box), 2 (elsewhere) and 3 (a 4-pixel band)."""
    buffer = io.BytesIO()
    mask = np.full((height, width), 2, np.uint8)
    mask[height // 4 : height // 2, width // 4 : width // 2] = 1
    mask[height // 2 : height // 2 + 4, :] = 3
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def raw_example(width: int, height: int) -> bytes:
    """A serialized raw tf.Example as ExampleGen writes it."""
    return make_example(
        {
            features.IMAGE_KEY: jpeg_bytes(width, height),
            features.MASK_KEY: png_mask_bytes(width, height),
            features.LABEL_KEY: 3,
            features.SPECIES_KEY: 1,
            features.FILE_NAME_KEY: "x.jpg",
            features.HEIGHT_KEY: height,
            features.WIDTH_KEY: width,
        }
    ).SerializeToString()


def write_transform(root) -> str:
    """The real preprocessing_fn at EXPORT_SIZE as a Transform output directory (no data needed)."""
    with open(BUILT_IN_SCHEMA) as handle:
        schema = text_format.Parse(handle.read(), schema_pb2.Schema())
    raw_metadata = dataset_metadata.DatasetMetadata(schema)
    transform_dir = str(root / "transform")
    with tft_beam.Context(temp_dir=str(root / "tmp"), force_tf_compat_v1=False):
        transform_fn = ([], raw_metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, {"image_size": EXPORT_SIZE, "dataset": "oxford_iiit_pet"})
        )
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    metadata_io.write_metadata(
        raw_metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR)
    )
    return transform_dir


def export_test_model(root) -> str:
    """A U-Net at 64×64 (random weights) exported with a real Transform graph; its directory."""
    model = build_model("unet", image_size=EXPORT_SIZE, encoder_weights="none")
    export_saved_model(model, tft.TFTransformOutput(write_transform(root)), str(root / "model"))
    return str(root / "model")
