"""The Trainer's run_fn: build, fit and export the segmentation model.

TFX's Trainer calls `run_fn(fn_args)`; every setting arrives in `fn_args.custom_config` as the
model and training sections of trainer/settings.py plus the dataset's name, so the pipeline's
one config file drives training too; the Tuner's best values (`fn_args.hyperparameters`, with
--tune or --reuse-tuning) replace the settings they name (trainer/hyperparameters.py). It fits
on the train split and picks its epoch on the validation split (`fn_args.eval_files`: the
pipeline hands the Trainer the validation split, and only the Evaluator ever reads the eval
split). Outputs, next to the exported SavedModel:
    Format-Serving/           the SavedModel with serving_default, transform_features, predict_images
    Format-Keras/weights.*    the weights (TF checkpoint, works on GCS), for warm starts
    trainable_layers.txt|json which blocks train and which are frozen (parameter counts)
    history.json              loss, pixel accuracy and mean IoU per epoch (train and validation),
                              the epoch whose weights were kept, the class weights, the warm start,
                              the tuned hyperparameters applied (values and the settings they set),
                              what it was trained on (files and settings digest: the TrainingGate
                              reads it in retraining runs)
and TensorBoard logs in the model run directory.

`fit_model` is the training itself, shared with `make bench`'s ablation so that the benchmark
measures exactly the Trainer's recipe.
"""

import json
import logging
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs

from contract.datasets import dataset_facts
from contract.names import HISTORY_FILE, KERAS_DIR, TRAINABLE_LAYERS, TRAINED_ON, WEIGHTS_FILE
from contract.trained_on import KEY as TRAINING_KEY
from contract.trained_on import trained_on
from trainer import distribution
from trainer.calibration import calibrate
from trainer.data import balanced_class_weights, load_split, make_dataset
from trainer.export import export_saved_model
from trainer.hyperparameters import apply_hyperparameters, values_of
from trainer.losses import segmentation_loss
from trainer.models import (
    build_model,
    format_trainable_summary,
    inference_model,
    trainable_summary,
    unfreeze_encoder_from,
)
from trainer.progress import ProgressReporter
from trainer.schedules import half_rate_epoch, learning_rate, schedule_callbacks
from trainer.settings import TrainerSettings, TrainingSettings
from trainer.stopping import ScheduledEarlyStopping

Split = Tuple[np.ndarray, np.ndarray]  # images [n, s, s, 3] in [0, 1], masks [n, s, s] class ids


def warm_start_weights(location: str) -> str:
    """The weights of a previous model: a checkpoint prefix, a Model artifact or its Format-Serving."""
    candidates = [
        location,
        os.path.join(location, KERAS_DIR, WEIGHTS_FILE),
        os.path.join(os.path.dirname(location.rstrip("/")), KERAS_DIR, WEIGHTS_FILE),
    ]
    for candidate in candidates:
        if tf.io.gfile.exists(candidate + ".index"):
            return candidate
    raise FileNotFoundError(
        f"--warm-start {location}: no {KERAS_DIR}/{WEIGHTS_FILE} checkpoint "
        "there; give a Trainer model directory or a checkpoint prefix"
    )


def build_for(settings: TrainerSettings, num_classes: int) -> keras.Model:
    """The configured model ('auto' choices are None, which the builders resolve)."""
    model = settings.model
    return build_model(
        model.name,
        image_size=model.image_size,
        num_classes=num_classes,
        encoder_weights=model.encoder_weights,
        freeze_encoder=model.freeze_encoder,
        bn_momentum=model.bn_momentum,
    )


def compile_model(
    model: keras.Model, rate: Any, num_classes: int, training: Optional[TrainingSettings] = None
) -> None:
    """Adam on the configured loss (cross-entropy by default); pixel accuracy and mean IoU every epoch."""
    loss = (
        segmentation_loss(training.loss, training.focal_gamma)
        if training
        else segmentation_loss("cross_entropy")
    )
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=loss,
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
            keras.metrics.MeanIoU(num_classes=num_classes, sparse_y_pred=False, name="mean_iou"),
        ],
    )


def callbacks_for(
    steps_per_epoch: int,
    lr_schedule: str,
    log_dir: Optional[str] = None,
    phase: str = "training",
    stopping: Optional[ScheduledEarlyStopping] = None,
) -> List[keras.callbacks.Callback]:
    """Progress, the learning-rate schedule's, TensorBoard (with a log dir) and early stopping
    (trainer/stopping.py) when it is on."""
    result: List[keras.callbacks.Callback] = [ProgressReporter(steps_per_epoch, phase)]
    result += schedule_callbacks(lr_schedule)
    if log_dir:
        result.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    if stopping:
        result.append(stopping)
    return result


def make_reproducible(training: TrainingSettings) -> None:
    """Seeds Python, numpy and TensorFlow, and (with --deterministic) makes TensorFlow's ops
    deterministic, so the same settings and data give the same model (docs/stack.md)."""
    keras.utils.set_random_seed(training.seed)
    if training.deterministic:
        tf.config.experimental.enable_op_determinism()


def class_weights_for(training: TrainingSettings, train: Split, num_classes: int) -> Optional[List[float]]:
    """The per-class loss weights: given (they win over the default balancing), balanced from the
    train split's pixels, or none."""
    if training.class_weights:
        return list(training.class_weights)
    if training.balance_classes:
        return balanced_class_weights(train[1], num_classes)
    return None


def fit_model(
    settings: TrainerSettings,
    train: Split,
    validation: Split,
    num_classes: int,
    *,
    strategy: Optional[tf.distribute.Strategy] = None,
    global_batch: Optional[int] = None,
    base_weights: Optional[str] = None,
    log_dir: Optional[str] = None,
    observers: Sequence[keras.callbacks.Callback] = (),
) -> Tuple[keras.Model, Dict[str, Any]]:
    """Builds and fits the model; returns it (with its kept epoch's weights) and its history.

    `observers` are passive callbacks added to every fit (the benchmark's step timer).

    The history holds the metrics per epoch (train and `val_` = validation), the kept epoch
    (best validation mean IoU with early stopping, else the last), the class weights and the
    class offsets fitted on the validation split after training (trainer/calibration.py), to
    the logits of the model that ships (`inference_model`: with --flip-tta, flip-averaged), and
    whether it is flip-averaged.
    The returned model is the network itself; callers wrap it with `inference_model` to score
    or export it.
    """
    training = settings.training
    strategy = strategy or tf.distribute.get_strategy()
    batch = global_batch or training.batch_size
    steps_per_epoch = math.ceil(len(train[0]) / batch)
    weights = class_weights_for(training, train, num_classes)
    train_data = make_dataset(
        tf.data.Dataset.from_tensor_slices(train),
        batch,
        training=True,
        seed=training.seed,
        augment=training.augment,
        augment_strength=training.augment_strength,
        class_weights=weights,
        shuffle_buffer=len(train[0]),
    )
    validation_data = make_dataset(
        tf.data.Dataset.from_tensor_slices(validation), batch, training=False, seed=training.seed
    )
    with strategy.scope():
        model = build_for(settings, num_classes)
        if base_weights:
            logging.info("warm start from %s", base_weights)
            model.load_weights(base_weights)
        rate = learning_rate(
            training.lr_schedule,
            training.learning_rate,
            steps_per_epoch,
            training.epochs,
            training.warmup_epochs,
        )
        compile_model(model, rate, num_classes, training)
    # Early stopping on the validation split, restoring the best epoch's weights; the
    # fine-tuning phase's continues from the first phase's best (trainer/stopping.py).
    stopping = (
        ScheduledEarlyStopping(
            training.early_stopping_patience,
            half_rate_epoch(training.lr_schedule, training.epochs, training.warmup_epochs),
        )
        if training.early_stopping_patience
        else None
    )
    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=training.epochs,
        callbacks=callbacks_for(steps_per_epoch, training.lr_schedule, log_dir, stopping=stopping)
        + list(observers),
        verbose=2,
    ).history
    if training.fine_tune_epochs:
        with strategy.scope():
            unfreeze_encoder_from(model, training.fine_tune_from)
            compile_model(model, training.fine_tune_learning_rate, num_classes, training)
        logging.info("fine-tuning from %s for %d epochs", training.fine_tune_from, training.fine_tune_epochs)
        stopping = (
            ScheduledEarlyStopping(training.early_stopping_patience, previous=stopping) if stopping else None
        )
        tuned = model.fit(
            train_data,
            validation_data=validation_data,
            epochs=len(history["loss"]) + training.fine_tune_epochs,
            initial_epoch=len(history["loss"]),
            callbacks=callbacks_for(steps_per_epoch, training.lr_schedule, log_dir, "fine-tuning", stopping)
            + list(observers),
            verbose=2,
        ).history
        history = {key: history[key] + tuned.get(key, []) for key in history}
    # The epoch whose weights the model holds: the one early stopping restored (the best on
    # validation over both phases), or the last.
    kept = stopping.best_epoch if stopping else len(history["loss"]) - 1
    metrics = {key: [float(value) for value in values] for key, values in history.items() if key != "lr"}
    calibration = (
        calibrate(model, inference_model(model, training.flip_tta), validation)
        if training.calibrate_classes
        else None
    )
    return model, {
        "metrics": metrics,
        "kept_epoch": kept + 1,
        "class_weights": weights,
        "class_calibration": calibration,
        "flip_tta": training.flip_tta,
    }


def write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point."""
    tuned = values_of(fn_args.hyperparameters)  # the Tuner's best values, when it has any
    settings, applied = apply_hyperparameters(
        TrainerSettings.from_custom_config(fn_args.custom_config), tuned
    )
    if tuned:
        logging.info("tuned hyperparameters %s set %s", tuned, applied)
    training = settings.training
    num_classes = dataset_facts(settings.dataset).num_classes
    strategy, plan = distribution.choose_strategy()  # first: it configures TensorFlow's context
    make_reproducible(training)
    distribution.configure_mixed_precision(plan)
    distribution.log_plan(plan)

    transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    spec = transform_output.transformed_feature_spec()
    train, validation = load_split(fn_args.train_files, spec), load_split(fn_args.eval_files, spec)
    logging.info(
        "training on %d examples, choosing the epoch on %d validation examples",
        len(train[0]),
        len(validation[0]),
    )
    warm_start = (
        warm_start_weights(training.warm_start or fn_args.base_model)
        if training.warm_start or fn_args.base_model
        else None
    )
    model, history = fit_model(
        settings,
        train,
        validation,
        num_classes,
        strategy=strategy,
        global_batch=distribution.global_batch_size(training.batch_size, plan),
        base_weights=warm_start,
        log_dir=fn_args.model_run_dir,
    )

    model_dir = distribution.worker_output_dir(os.path.dirname(fn_args.serving_model_dir.rstrip("/")), plan)
    summary = trainable_summary(model)
    write_text(os.path.join(model_dir, TRAINABLE_LAYERS + ".txt"), format_trainable_summary(summary))
    write_text(os.path.join(model_dir, TRAINABLE_LAYERS + ".json"), json.dumps(summary, indent=2))
    history.update(
        {
            "warm_started_from": warm_start,
            "train_examples": len(train[0]),
            "validation_examples": len(validation[0]),
            "hyperparameters": {"values": tuned, "settings": applied} if tuned else None,
            TRAINED_ON: trained_on(
                fn_args.train_files, fn_args.eval_files, fn_args.custom_config.get(TRAINING_KEY, "")
            ),
        }
    )
    write_text(os.path.join(model_dir, HISTORY_FILE), json.dumps(history, indent=2))
    tf.io.gfile.makedirs(os.path.join(model_dir, KERAS_DIR))
    model.save_weights(os.path.join(model_dir, KERAS_DIR, WEIGHTS_FILE))
    serving_dir = distribution.worker_output_dir(fn_args.serving_model_dir, plan)
    export_saved_model(inference_model(model, training.flip_tta), transform_output, serving_dir)
    logging.info("exported %s", serving_dir)
