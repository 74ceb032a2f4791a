"""Test helpers: encoded images, raw examples and a real exported model, made on the fly."""

import argparse
import io
import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
import tf_keras as keras
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx.types import artifact_utils, standard_artifacts

from components.tfds_example_gen.examples import make_example
from contract import names as features
from pipeline.config import BUILT_IN_SCHEMA
from serving import predict_cli
from trainer.export import export_saved_model
from trainer.models import build_model
from trainer.preprocessing import preprocessing_fn
from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
from trainer.task import build_for

EXPORT_SIZE = 64
# The smallest `segpipe run` that still runs every component for real: 64 px, one epoch, a random
# encoder (nothing to download). The end-to-end tests add the Beam runner and blessing floor they need.
TINY_RUN_FLAGS = ("--image-size", "64", "--epochs", "1", "--batch-size", "8", "--encoder-weights", "none")
IN_PROCESS_BEAM = ("--beam-mode", "in_memory")
BLESS_ANY_MODEL = ("--min-mean-iou", "0")  # one epoch on 16 images: push whatever it scores
SMALL_FLAGS = (*TINY_RUN_FLAGS, *IN_PROCESS_BEAM, *BLESS_ANY_MODEL)
# What every run writes up to the trained model, whatever happens after it.
TRAINING_OUTPUTS = frozenset(
    {
        "TfdsExampleGen.Examples",
        "StatisticsGen.ExampleStatistics",
        "ImportSchemaGen.Schema",
        "ExampleValidator.ExampleAnomalies",
        "Transform.TransformGraph",
        "Transform.Examples",
        "Trainer.Model",
    }
)
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


def truth_classes(seed: int) -> np.ndarray:
    """A class map at EXPORT_SIZE: background, a square pet in a border band, placed by seed."""
    rng = np.random.default_rng(seed)
    classes = np.ones((EXPORT_SIZE, EXPORT_SIZE), np.uint8)  # background
    top, left = rng.integers(8, 24, 2)
    classes[top : top + 30, left : left + 30] = 2  # border band...
    classes[top + 4 : top + 26, left + 4 : left + 26] = 0  # ...around the pet
    return classes


def truth_in_red_example(seed: int) -> bytes:
    """A serialized raw tf.Example whose image carries its own truth in the red channel (class
    x 120; green and blue are noise), so a model can read it, or learn it in a few steps."""
    classes = truth_classes(seed)
    rng = np.random.default_rng(seed + 100)
    pixels = np.stack(
        [classes * 120, rng.integers(0, 256, classes.shape), rng.integers(0, 256, classes.shape)], -1
    ).astype(np.uint8)
    image, mask = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(image, format="PNG")
    Image.fromarray(classes + 1, mode="L").save(mask, format="PNG")
    return make_example(
        {
            features.IMAGE_KEY: image.getvalue(),
            features.MASK_KEY: mask.getvalue(),
            features.LABEL_KEY: seed % 3,
            features.SPECIES_KEY: seed % 2,
            features.FILE_NAME_KEY: f"pet_{seed}.png",
            features.HEIGHT_KEY: EXPORT_SIZE,
            features.WIDTH_KEY: EXPORT_SIZE,
        }
    ).SerializeToString()


def write_examples(directory: str, records_by_split: Dict[str, List[bytes]]) -> str:
    """An Examples artifact's folder: Split-<name>/data.gz (gzipped TFRecords) per split."""
    for split, records in records_by_split.items():
        os.makedirs(os.path.join(directory, f"Split-{split}"), exist_ok=True)
        with tf.io.TFRecordWriter(
            os.path.join(directory, f"Split-{split}", "data.gz"), options="GZIP"
        ) as out:
            for record in records:
                out.write(record)
    return directory


def examples_artifact(directory: str, splits=("train", "eval")) -> standard_artifacts.Examples:
    """An Examples artifact over a folder written by write_examples."""
    examples = standard_artifacts.Examples()
    examples.uri = directory
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    return examples


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


# What the tiny trained model is (the Trainer's settings at EXPORT_SIZE, no encoder weights): the
# TFLite component rebuilds the network from them.
TRAINED_SETTINGS = TrainerSettings(
    model=ModelSettings(image_size=EXPORT_SIZE, encoder_weights="none"),
    training=TrainingSettings(),
    dataset="oxford_iiit_pet",
)


def train_test_model(root, records: List[bytes], epochs: int = 10) -> str:
    """A U-Net at EXPORT_SIZE trained for a few steps on truth-in-red examples, written as the
    Trainer writes its Model artifact (Format-Serving/ with the Transform graph, Format-Keras/);
    the artifact's directory. It learns the task well enough that conversions can be compared."""
    transform = tft.TFTransformOutput(write_transform(root))
    transformed = transform.transform_features_layer()(
        tf.io.parse_example(tf.constant(records), transform.raw_feature_spec())
    )
    keras.utils.set_random_seed(0)
    model = build_for(TRAINED_SETTINGS, num_classes=3)
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(
        transformed[features.IMAGE_XF], transformed[features.MASK_XF], batch_size=8, epochs=epochs, verbose=0
    )
    model_dir = str(root / "model")
    export_saved_model(model, transform, os.path.join(model_dir, "Format-Serving"))
    model.save_weights(os.path.join(model_dir, features.KERAS_DIR, features.WEIGHTS_FILE))
    return model_dir


def predict_parser() -> argparse.ArgumentParser:
    """`segpipe predict`'s own argument parser, as the command line builds it."""
    parser = argparse.ArgumentParser(prog="segpipe predict")
    predict_cli.add_arguments(parser)
    return parser


def run_predict_cli(argv: List[str], capsys) -> Tuple[int, str, str]:
    """`segpipe predict` in this process: its exit code and console, which never shows a traceback."""
    code = predict_cli.run(predict_parser().parse_args(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err
