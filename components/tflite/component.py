"""TfliteExport: the phone model, converted, scored, gated and pushed like the SavedModel.

It runs after the Pusher, on the Trainer's model:
1. convert (converter.py): float16 and full-integer int8, the int8 one calibrated on the first
   CALIBRATION_IMAGES images of the train split as Transform makes them; each variant with the
   contract an app follows (serving/tflite_contract.py);
2. score (scorer.py): every image of the eval split through the interpreter, counted with the
   Evaluator's arithmetic, against the SavedModel's scores from the Evaluator's own output;
3. gate (gate.py): int8 ships only within `max_drop` mean IoU of float16;
4. push (release.py): when the SavedModel was pushed as version N, the shipped variant becomes
   SERVING_ROOT/<model>-tflite/N/, atomically, pruned with the SavedModel's versions.

Everything lands in its artifact (components/shared/tflite_artifact.py): float16/ and int8/
(model.tflite, contract.json each) and tflite_scores.json, which RunReport puts in the run
summary and the report.
"""

import json
import logging
import math
import os
from typing import Any, Dict, Optional

import numpy as np
import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.shared.metrics_reader import candidate_metrics, read_metrics
from components.shared.tflite_artifact import TfliteModelArtifact
from components.tflite.converter import FLOAT16, INT8, VARIANTS, contract_for, convert, rebuild_model
from components.tflite.gate import choose_variant
from components.tflite.release import release
from components.tflite.scorer import confusion_of
from components.tflite.transformed import transformed_batches
from contract.datasets import DatasetFacts, dataset_facts
from contract.names import (
    EVAL_SPLIT,
    TFLITE_CONTRACT_FILE,
    TFLITE_MODEL_FILE,
    TFLITE_SCORES_FILE,
    TRAIN_SPLIT,
    TRANSFORM_FEATURES,
)
from serving.tflite_contract import AppContract
from serving.tflite_runner import TfliteRunner
from trainer.scores import IOU, MEAN_IOU, PIXEL_ACCURACY, named_scores
from trainer.settings import TrainerSettings

# TensorFlow's post-training quantization guide suggests about 100 to 500 representative samples;
# 100 keep the calibration to seconds on a CPU.
CALIBRATION_IMAGES = 100


def _finite(value: Any) -> Optional[float]:
    """A score for JSON: None where the Evaluator's is missing or NaN."""
    return float(value) if value is not None and math.isfinite(value) else None


def _change(score: Optional[float], reference: Optional[float]) -> Optional[float]:
    return None if score is None or reference is None else score - reference


def _write_variant(directory: str, flatbuffer: bytes, contract: AppContract) -> None:
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, TFLITE_MODEL_FILE), "wb") as handle:
        handle.write(flatbuffer)
    with tf.io.gfile.GFile(os.path.join(directory, TFLITE_CONTRACT_FILE), "w") as handle:
        handle.write(contract.to_json())


def _saved_model_scores(evaluation_uri: str, facts: DatasetFacts) -> Dict[str, Any]:
    """The Evaluator's overall scores of the SavedModel, JSON-ready."""
    overall = candidate_metrics(read_metrics(evaluation_uri, facts))["overall"]
    return {
        PIXEL_ACCURACY: _finite(overall.get(PIXEL_ACCURACY)),
        MEAN_IOU: _finite(overall.get(MEAN_IOU)),
        IOU: {name: _finite(value) for name, value in (overall.get(IOU) or {}).items()},
    }


def _export_variant(
    directory: str,
    flatbuffer: bytes,
    contract: AppContract,
    examples: standard_artifacts.Examples,
    transform: tf.types.experimental.ConcreteFunction,
    saved: Dict[str, Any],
) -> Dict[str, Any]:
    """Writes one variant into the artifact and scores it on the eval split."""
    _write_variant(directory, flatbuffer, contract)
    runner = TfliteRunner(flatbuffer, contract, num_threads=os.cpu_count())
    matrix, images = confusion_of(runner, transformed_batches(examples, EVAL_SPLIT, transform))
    scores = named_scores(matrix, contract.class_names)
    logging.info("%s: %d bytes, eval mean IoU %s", contract.variant, len(flatbuffer), scores[MEAN_IOU])
    return {
        "size_bytes": len(flatbuffer),
        "eval_images": images,
        **scores,
        "change_against_saved_model": {
            key: _change(scores[key], saved[key]) for key in (PIXEL_ACCURACY, MEAN_IOU)
        },
    }


@component
def TfliteExport(
    examples: InputArtifact[standard_artifacts.Examples],
    model: InputArtifact[standard_artifacts.Model],
    evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    tflite_model: OutputArtifact[TfliteModelArtifact],
    trainer_settings: Parameter[str],
    max_drop: Parameter[float],
    serving_base: Parameter[str],
) -> None:
    """Writes both variants, their scores and the gate's decision into the TFLite artifact, and
    pushes the shipped variant beside the SavedModel when that was pushed.

    trainer_settings: the Trainer's settings as JSON (TrainerSettings), to rebuild its network;
    serving_base: the SavedModel's SERVING_ROOT/<model>, empty where the phone model is not
    pushed (Vertex AI).
    """
    settings = TrainerSettings.model_validate_json(trainer_settings)
    facts = dataset_facts(settings.dataset)
    transform = tf.saved_model.load(path_utils.serving_model_path(model.uri)).signatures[TRANSFORM_FEATURES]
    network = rebuild_model(model.uri, settings, facts.num_classes)
    batches = [
        pixels for pixels, _ in transformed_batches(examples, TRAIN_SPLIT, transform, CALIBRATION_IMAGES)
    ]
    if not batches:
        raise ValueError(f"Examples {examples.uri}: no {TRAIN_SPLIT} records to calibrate the int8 model on")
    calibration = np.concatenate(batches)
    saved = _saved_model_scores(evaluation.uri, facts)
    variants = {
        variant: _export_variant(
            os.path.join(tflite_model.uri, variant),
            convert(network, variant, calibration),
            contract_for(variant, settings.model.image_size, facts.class_names),
            examples,
            transform,
            saved,
        )
        for variant in VARIANTS
    }
    gate = choose_variant(variants[FLOAT16][MEAN_IOU], variants[INT8][MEAN_IOU], max_drop)
    version = pushed_model.get_string_custom_property("pushed_version")
    was_pushed = pushed_model.get_int_custom_property("pushed") == 1 and version.isdigit()
    push = release(
        os.path.join(tflite_model.uri, gate["shipped"]), serving_base, int(version) if was_pushed else None
    )
    summary = {
        "image_size": settings.model.image_size,
        "saved_model": saved,
        "variants": variants,
        "gate": gate,
        "push": push,
    }
    with tf.io.gfile.GFile(os.path.join(tflite_model.uri, TFLITE_SCORES_FILE), "w") as handle:
        handle.write(json.dumps(summary, indent=2))
    tflite_model.set_string_custom_property("shipped_variant", gate["shipped"])
    tflite_model.set_int_custom_property("pushed", int(push["pushed_model"] is not None))
    logging.info("%s; %s", gate["reason"], push["reason"])
