"""The Trainer's run_fn: build, fit and export the segmentation model.

TFX's Trainer calls `run_fn(fn_args)`; every setting arrives in `fn_args.custom_config` as the
model and training sections of trainer/settings.py plus the dataset's name, so the pipeline's
one config file drives training too. Outputs, next to the exported SavedModel (Model artifact):
    Format-Serving/           the SavedModel with serving_default, transform_features, predict_images
    Format-Keras/weights.*    the weights (TF checkpoint, works on GCS), for warm starts
    trainable_layers.txt|json which blocks train and which are frozen (parameter counts)
    history.json              loss, pixel accuracy and mean IoU per epoch (train and eval), the
                              epoch whose weights were kept, and the warm-start weights if any
and TensorBoard logs in the model run directory.
"""

import json
import logging
import math
import os
from typing import Dict

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs

from contract.datasets import dataset_facts
from contract.names import HISTORY_FILE, KERAS_DIR, TRAINABLE_LAYERS, WEIGHTS_FILE
from trainer import distribution
from trainer.data import class_pixel_counts, make_dataset, read_transformed
from trainer.export import export_saved_model
from trainer.models import build_model, format_trainable_summary, trainable_summary, unfreeze_encoder_from
from trainer.progress import ProgressReporter
from trainer.settings import TrainerSettings, TrainingSettings


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


def compile_model(model: keras.Model, learning_rate: float, num_classes: int) -> None:
    """Adam on sparse cross-entropy from logits; pixel accuracy and mean IoU every epoch."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
            keras.metrics.MeanIoU(num_classes=num_classes, sparse_y_pred=False, name="mean_iou"),
        ],
    )


def callbacks_for(
    training: TrainingSettings, log_dir: str, steps_per_epoch: int, phase: str = "training"
) -> list:
    result = [
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        ProgressReporter(steps_per_epoch, phase),
    ]
    if training.early_stopping_patience:
        result.append(
            keras.callbacks.EarlyStopping(
                monitor="val_mean_iou",
                mode="max",
                patience=training.early_stopping_patience,
                restore_best_weights=True,
                verbose=1,
            )
        )
    return result


def majority_baseline(counts: list) -> Dict[str, float]:
    """What predicting the most frequent class everywhere scores on the eval split.

    Its IoU is that class's share for that class and 0 for the others, so its mean IoU is the
    share divided by the number of classes; a model must clearly beat both numbers.
    """
    share = max(counts) / max(1, sum(counts))
    return {"pixel_accuracy": share, "mean_iou": share / len(counts)}


def write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point."""
    settings = TrainerSettings.from_custom_config(fn_args.custom_config)
    training = settings.training
    num_classes = dataset_facts(settings.dataset).num_classes
    tf.random.set_seed(training.seed)
    strategy, plan = distribution.choose_strategy()
    distribution.configure_mixed_precision(plan)
    distribution.log_plan(plan)

    transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    spec = transform_output.transformed_feature_spec()
    batch = distribution.global_batch_size(training.batch_size, plan)
    train_records = int(read_transformed(fn_args.train_files, spec).reduce(0, lambda count, _: count + 1))
    steps_per_epoch = math.ceil(train_records / batch)
    train = make_dataset(
        read_transformed(fn_args.train_files, spec),
        batch,
        training=True,
        seed=training.seed,
        class_weights=training.class_weights or None,
    )
    evaluation = make_dataset(
        read_transformed(fn_args.eval_files, spec), batch, training=False, seed=training.seed
    )

    warm_start = None
    with strategy.scope():
        model = build_for(settings, num_classes)
        if training.warm_start or fn_args.base_model:
            warm_start = warm_start_weights(training.warm_start or fn_args.base_model)
            logging.info("warm start from %s", warm_start)
            model.load_weights(warm_start)
        compile_model(model, training.learning_rate, num_classes)

    model_dir = distribution.worker_output_dir(os.path.dirname(fn_args.serving_model_dir.rstrip("/")), plan)
    summary = trainable_summary(model)
    write_text(os.path.join(model_dir, TRAINABLE_LAYERS + ".txt"), format_trainable_summary(summary))
    write_text(os.path.join(model_dir, TRAINABLE_LAYERS + ".json"), json.dumps(summary, indent=2))
    logging.info("layers that train:\n%s", format_trainable_summary(summary))

    callbacks = callbacks_for(training, fn_args.model_run_dir, steps_per_epoch)
    history = model.fit(
        train, validation_data=evaluation, epochs=training.epochs, callbacks=callbacks, verbose=2
    ).history
    if training.fine_tune_epochs:
        with strategy.scope():
            unfreeze_encoder_from(model, training.fine_tune_from)
            compile_model(model, training.fine_tune_learning_rate, num_classes)
        logging.info("fine-tuning from %s for %d epochs", training.fine_tune_from, training.fine_tune_epochs)
        tuned = model.fit(
            train,
            validation_data=evaluation,
            epochs=len(history["loss"]) + training.fine_tune_epochs,
            initial_epoch=len(history["loss"]),
            callbacks=callbacks_for(training, fn_args.model_run_dir, steps_per_epoch, "fine-tuning"),
            verbose=2,
        ).history
        history = {key: history[key] + tuned.get(key, []) for key in history}

    kept = (
        max(range(len(history["val_mean_iou"])), key=history["val_mean_iou"].__getitem__)
        if training.early_stopping_patience
        else len(history["loss"]) - 1
    )
    write_text(
        os.path.join(model_dir, HISTORY_FILE),
        json.dumps(
            {
                "metrics": history,
                "kept_epoch": kept + 1,
                "warm_started_from": warm_start,
                "majority_class_baseline": majority_baseline(class_pixel_counts(evaluation, num_classes)),
            },
            indent=2,
        ),
    )
    tf.io.gfile.makedirs(os.path.join(model_dir, KERAS_DIR))
    model.save_weights(os.path.join(model_dir, KERAS_DIR, WEIGHTS_FILE))
    serving_dir = distribution.worker_output_dir(fn_args.serving_model_dir, plan)
    export_saved_model(model, transform_output, serving_dir)
    logging.info("exported %s", serving_dir)
