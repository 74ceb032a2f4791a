"""The tutorial's training side by side with the pipeline's Trainer: quality at equal epochs, and time.

Tutorial side: `bench.tutorial_port` trained twice on the TFDS copy of the benchmark dataset,
with the original bilinear mask resize and with the Dec 2022 nearest fix, each timed per step.
Trainer side: the Trainer of the pipeline run by `bench.where_time_goes` (same data, epochs,
batch, image size and encoder weights), read from its outputs: history.json, the TensorBoard
event times of each epoch, the MLMD wall time, and its Format-Keras weights.

All three models are then scored the same way (`bench.evaluation.score`: whole eval split,
nearest-resized masks, every pixel). The tutorial's own validation number (a fifth of the test
set, bilinear masks, accuracy only) is reported next to it for reference.
"""

import glob
import json
import os
import time
from typing import Dict, List, Optional, TypedDict

import tensorflow as tf
import tensorflow_datasets as tfds
import tf_keras as keras

from bench import tutorial_port
from bench.common import NUM_CLASSES, Recorder, Settings, parse_settings
from bench.data import resized_arrays, tfds_builder
from bench.evaluation import score
from bench.pipeline_run import artifact, execution_seconds, pipeline_config, trainer_settings
from bench.step_timer import StepTimer, batch_sizes, warmup_steps
from components.tflite.converter import rebuild_model
from contract.names import HISTORY_FILE

TUTORIAL_SEED = 42  # the Trainer's default seed


class TutorialRun(TypedDict):
    """One tutorial training run (`train_tutorial`)."""

    mask_resize: str
    fit_seconds: float
    steps_per_epoch: int
    validation_steps: int
    timing: Dict[str, object]  # StepTimer.summary
    own_history: Dict[str, List[float]]  # Keras' History.history
    score: Dict[str, object]  # bench.evaluation.score


class EpochTiming(TypedDict):
    """The Trainer's fit timed from its TensorBoard events (`event_epoch_seconds`)."""

    fit_seconds: float
    epoch_seconds_with_validation: List[float]


class TrainerSide(TypedDict):
    """The pipeline Trainer's outputs (`trainer_side`)."""

    component_seconds: float
    timing: EpochTiming
    own_history: Dict[str, List[float]]  # history.json's metrics
    kept_epoch: int
    bn_momentum_encoder: str
    score: Dict[str, object]  # bench.evaluation.score


def score_value(score: Dict[str, object], metric: str) -> float:
    """One number of a `bench.evaluation.score` result (its dict holds lists and dicts too).

    Narrowed here rather than by typing `score` itself: bench/evaluation.py is recipe code, whose
    bytes key the ablation's cache (bench/ablation.RECIPE_CODE)."""
    value = score[metric]
    if not isinstance(value, float):
        raise TypeError(f"score[{metric!r}] is {type(value).__name__}, not a float")
    return value


def fractional_label_share(builder: tfds.core.DatasetBuilder, size: int) -> float:
    """Share of train-mask pixels that bilinear resizing turns into a fraction (no class at all)."""
    load_image = tutorial_port.make_load_image(size, tutorial_port.MASK_RESIZE_ORIGINAL)
    fractional = total = 0
    for _, mask in builder.as_dataset(split="train").map(load_image).batch(64):
        fractional += int(tf.math.count_nonzero(mask != tf.round(mask)))
        total += int(tf.size(mask))
    return fractional / total


def augment_flips_agree(size: int, batches: int = 8, batch_size: int = 16) -> float:
    """Share of examples that the tutorial's Augment flips the same way in image and label.

    Runs inside `Dataset.map` as the tutorial does; the label is a copy of the (left-right
    asymmetric) image, so an example agrees exactly when both outputs are equal.
    """
    images = tf.random.stateless_uniform([batch_size, size, size, 1], seed=[1, 2])
    dataset = tf.data.Dataset.from_tensors((images, images)).repeat(batches).map(tutorial_port.Augment())
    agree = [tf.reduce_all(tf.equal(a, b), axis=[1, 2, 3]) for a, b in dataset]
    return float(tf.reduce_mean(tf.cast(tf.concat(agree, 0), tf.float32)))


def train_tutorial(
    builder: tfds.core.DatasetBuilder, settings: Settings, mask_method: str, eval_images, eval_masks
) -> TutorialRun:
    """One tutorial training run: per-step times, its own history, and the common score."""
    keras.backend.clear_session()
    data = tutorial_port.input_pipelines(builder, settings.image_size, settings.batch_size, mask_method)
    model = tutorial_port.compiled_model(settings.image_size, TUTORIAL_SEED)
    timer = StepTimer()
    started = time.perf_counter()
    history = tutorial_port.fit(model, data, settings.epochs, [timer]).history
    fit_seconds = time.perf_counter() - started
    return {
        "mask_resize": mask_method,
        "fit_seconds": fit_seconds,
        "steps_per_epoch": data.steps_per_epoch,
        "validation_steps": data.validation_steps,
        "timing": timer.summary(
            batch_sizes(data.train_length, settings.batch_size),
            warmup_steps(data.steps_per_epoch, settings.epochs),
        ),
        "own_history": history,
        "score": score(model, eval_images, eval_masks),
    }


def event_epoch_seconds(model_run_uri: str) -> EpochTiming:
    """Per-epoch wall times of the Trainer's fit from its TensorBoard train events.

    Keras writes the model graph when training begins and the epoch scalars when an epoch ends
    (after its validation), so consecutive event times bound each epoch.
    """
    [events] = glob.glob(os.path.join(model_run_uri, "train", "events.out.tfevents.*"))
    begin: Optional[float] = None
    ends: Dict[int, float] = {}
    for event in tf.compat.v1.train.summary_iterator(events):
        tags = {value.tag for value in event.summary.value}
        if "keras" in tags and begin is None:
            begin = event.wall_time
        if "epoch_loss" in tags:
            ends[event.step] = event.wall_time
    if begin is None:
        raise ValueError(f"no 'keras' graph event in {events}: cannot tell when the fit began")
    stamps = [begin] + [ends[epoch] for epoch in sorted(ends)]
    return {
        "fit_seconds": stamps[-1] - stamps[0],
        "epoch_seconds_with_validation": [b - a for a, b in zip(stamps, stamps[1:])],
    }


def trainer_side(settings: Settings, eval_images, eval_masks) -> TrainerSide:
    """The pipeline Trainer's history, timing and score (its weights rebuilt into its model)."""
    config = pipeline_config(settings)
    model_uri = artifact(config, "Trainer.Model").uri
    with open(os.path.join(model_uri, HISTORY_FILE), encoding="utf-8") as handle:
        history = json.load(handle)
    keras.backend.clear_session()
    model = rebuild_model(model_uri, trainer_settings(config), NUM_CLASSES)
    return {
        "component_seconds": execution_seconds(config)["Trainer"]["seconds"],
        "timing": event_epoch_seconds(artifact(config, "Trainer.ModelRun").uri),
        "own_history": history["metrics"],
        "kept_epoch": history["kept_epoch"],
        "bn_momentum_encoder": "0.9 (auto: encoder trained from scratch)",
        "score": score(model, eval_images, eval_masks),
    }


def main() -> None:
    settings = parse_settings(__doc__)
    recorder = Recorder("training_compare", settings)
    builder = tfds_builder(settings)
    eval_images, eval_masks = resized_arrays(builder, "test", settings.image_size)
    facts = {
        "bilinear_mask_fractional_pixel_share": fractional_label_share(builder, settings.image_size),
        "augment_flips_agree_share": augment_flips_agree(settings.image_size),
    }
    tutorial = {
        method: train_tutorial(builder, settings, method, eval_images, eval_masks)
        for method in (tutorial_port.MASK_RESIZE_ORIGINAL, tutorial_port.MASK_RESIZE_FIXED)
    }
    ours = trainer_side(settings, eval_images, eval_masks)
    original = tutorial[tutorial_port.MASK_RESIZE_ORIGINAL]
    recorder.write(
        {
            "tutorial_port": {"deviations": tutorial_port.DEVIATIONS, "runs": tutorial},
            "trainer": ours,
            "facts": facts,
            "ratios_ours_over_tutorial_original": {
                "mean_iou": score_value(ours["score"], "mean_iou")
                / score_value(original["score"], "mean_iou"),
                "pixel_accuracy": score_value(ours["score"], "pixel_accuracy")
                / score_value(original["score"], "pixel_accuracy"),
                "fit_seconds": ours["timing"]["fit_seconds"] / original["fit_seconds"],
            },
            "note": "fit_seconds include validation: the tutorial validates on a fifth of the test "
            "split, the Trainer on all of it; for training speed see throughput.json",
        }
    )


if __name__ == "__main__":
    main()
