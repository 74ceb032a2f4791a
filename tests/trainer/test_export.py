"""The exported SavedModel: each signature runs the Transform graph on real encoded images."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from PIL import Image

from contract.names import CLASS_MAP, IMAGE_XF, MASK_XF, PROBABILITIES
from tests.helpers import EXPORT_SIZE as SIZE
from tests.helpers import jpeg_bytes as _jpeg
from tests.helpers import raw_example as _raw_example
from tests.helpers import write_transform
from trainer.export import export_saved_model
from trainer.models import build_model, inference_model


@pytest.fixture(scope="module")
def loaded(exported_model):
    return tf.saved_model.load(exported_model)


def test_the_three_signatures_are_exported(loaded, exported_model):
    assert set(loaded.signatures) == {"serving_default", "transform_features", "predict_images"}
    assert os.path.isfile(os.path.join(exported_model, "saved_model.pb"))


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


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_with_flip_tta_the_saved_model_answers_a_mirrored_image_with_the_mirrored_map(tmp_path):
    network = build_model("unet", image_size=SIZE, encoder_weights="none")
    export_dir = str(tmp_path / "model")
    export_saved_model(
        inference_model(network, flip_tta=True), tft.TFTransformOutput(write_transform(tmp_path)), export_dir
    )
    pixels = np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    predict = tf.saved_model.load(export_dir).signatures["predict_images"]
    out = predict(images=tf.constant([_png(pixels), _png(pixels[:, ::-1].copy())]))[PROBABILITIES].numpy()
    np.testing.assert_allclose(out[1], out[0][:, ::-1], atol=1e-5)
