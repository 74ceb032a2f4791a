"""Evaluator → Pusher → RunReport with real TFX components: blessing both ways, versions.

Three models with known quality are imported one run after another into the same metadata
store, exactly as retraining would hand them to the release half of the DAG
(pipeline.release_components). The eval images carry their own truth in the red channel, so
an "oracle" model can be built that reads it: a decent model (right except on the border
class), a bad one (background everywhere, below the floor), then the oracle.
"""

import json
import os

import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx

from pipeline import dag_run
from pipeline.config import build_config
from pipeline.pipeline import release_components
from pipeline.run_summary import load_summary
from serving.model_layout import versions
from tests.helpers import EXPORT_SIZE, truth_in_red_example, write_examples, write_transform
from trainer.export import export_saved_model

pytestmark = pytest.mark.e2e

EVAL_IMAGES = 6


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
    write_examples(
        str(root / "examples"), {"eval": [truth_in_red_example(seed) for seed in range(EVAL_IMAGES)]}
    )
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
    dag_run.run(config, components)
    return load_summary(config.output_dir)


def test_only_models_that_beat_the_floor_and_the_last_blessed_one_are_pushed(release_setup):
    examples_dir, models, root = release_setup
    config = build_config(
        overrides={
            ("output", "output_dir"): str(root / "out"),
            ("evaluation", "min_mean_iou"): 0.5,
            ("beam", "direct_running_mode"): "in_memory",
            # These models read the truth through Lambda layers, not the Trainer's network: no
            # phone model can be rebuilt from them (tests/components/tflite/ converts a real one).
            ("tflite", "enabled"): False,
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
