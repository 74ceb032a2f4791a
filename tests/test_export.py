"""The exported SavedModel: each signature runs the Transform graph on real encoded images."""
import io
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from google.protobuf import text_format

from components import features
from components.features import make_example
from pipeline.config import DEFAULT_SCHEMA_FILE
from trainer.export import CLASS_MAP, PROBABILITIES, export_saved_model
from trainer.models import build_model
from trainer.preprocessing import IMAGE_XF, MASK_XF, preprocessing_fn

SIZE = 64


def _jpeg(width, height, seed=0):
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png_mask(width, height):
    buffer = io.BytesIO()
    mask = np.full((height, width), 2, np.uint8)
    mask[height // 4: height // 2, width // 4: width // 2] = 1
    mask[height // 2: height // 2 + 4, :] = 3
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _raw_example(width, height) -> bytes:
    return make_example({features.IMAGE_KEY: _jpeg(width, height), features.MASK_KEY: _png_mask(width, height),
                         features.LABEL_KEY: 3, features.SPECIES_KEY: 1, features.FILE_NAME_KEY: "x.jpg",
                         features.HEIGHT_KEY: height, features.WIDTH_KEY: width}).SerializeToString()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> str:
    """A U-Net at 64×64 (random weights) exported with a real Transform graph."""
    root = tmp_path_factory.mktemp("export")
    with open(DEFAULT_SCHEMA_FILE) as handle:
        schema = text_format.Parse(handle.read(), schema_pb2.Schema())
    raw_metadata = dataset_metadata.DatasetMetadata(schema)
    with tft_beam.Context(temp_dir=str(root / "tmp"), force_tf_compat_v1=False):
        transform_fn = ([], raw_metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, {"image_size": SIZE, "dataset": "oxford_iiit_pet"}))
        _ = transform_fn | tft_beam.WriteTransformFn(str(root / "transform"))
    metadata_io.write_metadata(raw_metadata, str(root / "transform" / tft.TFTransformOutput.RAW_METADATA_DIR))
    model = build_model("unet", image_size=SIZE, encoder_weights="none")
    export_saved_model(model, tft.TFTransformOutput(str(root / "transform")), str(root / "model"))
    return str(root / "model")


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported)


def test_the_three_signatures_are_exported(loaded, exported):
    assert set(loaded.signatures) == {"serving_default", "transform_features", "predict_images"}
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))


def test_predict_images_returns_a_map_at_each_images_own_size(loaded):
    images = tf.constant([_jpeg(123, 77), _jpeg(40, 201, seed=1)])
    out = loaded.signatures["predict_images"](images=images)
    assert out[CLASS_MAP].shape == (2, 201, 123)
    assert out["height"].numpy().tolist() == [77, 201] and out["width"].numpy().tolist() == [123, 40]
    first = out[CLASS_MAP].numpy()[0]
    assert set(np.unique(first[:77, :123])) <= {0, 1, 2} and (first[77:, :] == -1).all()
    assert out[PROBABILITIES].shape == (2, SIZE, SIZE, 3)
    assert np.allclose(out[PROBABILITIES].numpy().sum(-1), 1.0, atol=1e-4)


def test_predict_images_takes_png_and_grayscale(loaded):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((31, 45), np.uint8)).save(buffer, format="PNG")
    out = loaded.signatures["predict_images"](images=tf.constant([buffer.getvalue()]))
    assert out[CLASS_MAP].shape == (1, 31, 45)


def test_serving_default_scores_serialized_examples(loaded):
    out = loaded.signatures["serving_default"](examples=tf.constant([_raw_example(99, 67)]))
    assert out[CLASS_MAP].shape == (1, SIZE, SIZE) and out[PROBABILITIES].shape == (1, SIZE, SIZE, 3)


def test_transform_features_gives_the_training_tensors(loaded):
    out = loaded.signatures["transform_features"](examples=tf.constant([_raw_example(99, 67)] * 2))
    assert out[IMAGE_XF].shape == (2, SIZE, SIZE, 3)
    assert set(np.unique(out[MASK_XF].numpy())) == {0, 1, 2}
