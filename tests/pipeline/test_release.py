"""Evaluator → Pusher → RunReport with real TFX components: blessing both ways, versions.

Three models with known quality are imported one run after another into the same metadata
store, exactly as retraining would hand them to the release half of the DAG
(pipeline.release_components). The eval images carry their own truth in the red channel, so
an "oracle" model can be built that reads it: a decent model (right except on the border
class), a bad one (background everywhere, below the floor), then the oracle.
"""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from PIL import Image
from tfx import v1 as tfx

from components.tfds_example_gen.examples import make_example
from contract import names as features
from pipeline import local_runner
from pipeline.config import build_config
from pipeline.pipeline import release_components
from pipeline.run_summary import load_summary
from serving.model_layout import versions
from tests.helpers import EXPORT_SIZE, write_transform
from trainer.export import export_saved_model

pytestmark = pytest.mark.e2e

EVAL_IMAGES = 6


def _truth(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    classes = np.ones((EXPORT_SIZE, EXPORT_SIZE), np.uint8)  # background
    top, left = rng.integers(8, 24, 2)
    classes[top : top + 30, left : left + 30] = 2  # border band...
    classes[top + 4 : top + 26, left + 4 : left + 26] = 0  # ...around the pet
    return classes


def _example(seed: int) -> bytes:
    classes = _truth(seed)
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


def _model(kind: str) -> keras.Model:
    """Logits from the red channel (the truth) with a known defect."""

    def logits(images):
        classes = tf.cast(tf.clip_by_value(tf.round(images[..., 0] * 255 / 120), 0, 2), tf.int32)
        if kind == "decent":
            classes = tf.where(classes == 2, 1, classes)  # border taken for background
        elif kind == "bad":
            classes = tf.ones_like(classes)
        return tf.one_hot(classes, 3) * 10.0

    inputs = keras.Input((EXPORT_SIZE, EXPORT_SIZE, 3))
    return keras.Model(inputs, keras.layers.Lambda(logits)(inputs))


@pytest.fixture(scope="module")
def release_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    examples_dir = root / "examples" / "Split-eval"
    examples_dir.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(examples_dir / "data.gz"), options="GZIP") as writer:
        for seed in range(EVAL_IMAGES):
            writer.write(_example(seed))
    transform = tft.TFTransformOutput(write_transform(root))
    models = {}
    for kind in ("decent", "bad", "oracle"):
        models[kind] = str(root / "models" / kind)
        export_saved_model(_model(kind), transform, os.path.join(models[kind], "Format-Serving"))
    return str(root / "examples"), models, root


def _run(config, examples_dir, model_dir):
    examples = tfx.dsl.Importer(
        source_uri=examples_dir,
        artifact_type=tfx.types.standard_artifacts.Examples,
        properties={"split_names": '["eval"]'},
    ).with_id("examples")
    model = tfx.dsl.Importer(source_uri=model_dir, artifact_type=tfx.types.standard_artifacts.Model).with_id(
        "model"
    )
    components = [
        examples,
        model,
        *release_components(config, examples.outputs["result"], model.outputs["result"]),
    ]
    local_runner.run(config, components)
    return load_summary(config.output_dir)


def test_only_models_that_beat_the_floor_and_the_last_blessed_one_are_pushed(release_setup):
    examples_dir, models, root = release_setup
    config = build_config(
        overrides={
            ("output", "output_dir"): str(root / "out"),
            ("evaluation", "min_mean_iou"): 0.5,
            ("beam", "direct_running_mode"): "in_memory",
        }
    )
    base = os.path.join(config.serving_root, config.push.model_name)

    first = _run(config, examples_dir, models["decent"])
    assert first["blessing"]["blessed"] and first["blessing"]["baseline_mean_iou"] is None
    assert 0.55 < first["metrics"]["overall"]["mean_iou"] < 0.8
    assert first["metrics"]["overall"]["iou"]["border"] == 0.0
    assert first["pushed_version"] == 1 and versions(base) == [1]

    second = _run(config, examples_dir, models["bad"])
    assert not second["blessing"]["blessed"] and second["pushed_model"] is None
    assert "< floor" in second["blessing"]["reason"] and "does not beat" in second["blessing"]["reason"]
    assert versions(base) == [1]

    third = _run(config, examples_dir, models["oracle"])
    assert third["blessing"]["blessed"] and third["pushed_version"] == 2
    assert third["blessing"]["baseline_mean_iou"] == pytest.approx(first["metrics"]["overall"]["mean_iou"])
    assert third["metrics"]["overall"]["mean_iou"] > 0.95
    assert versions(base) == [1, 2]
    for version in versions(base):
        version_dir = os.path.join(base, str(version))
        assert os.path.isfile(os.path.join(version_dir, "saved_model.pb"))
        assert os.path.isfile(os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests"))
        assert not [n for n in os.listdir(base) if not n.isdigit()]  # no staging left behind
    again = _run(config, examples_dir, models["oracle"])  # a rerun: the candidate is its own baseline
    assert again["blessing"]["blessed"] and again["blessing"]["baseline_mean_iou"] is None
    assert again["pushed_version"] == 2 and versions(base) == [1, 2]  # not published twice
    with open(os.path.join(config.output_dir, "report", "report.json")) as handle:
        assert json.load(handle)["headline"]["blessed"] is True
    assert set(third["metrics"]["slices"]) >= {"species=Cat", "species=Dog"}
