"""Class offsets fitted on the validation split: the decision rule that the training loss skews.

Balanced class weights (the default) make the thin border class count in the loss, which teaches
the network the border, but they also move the argmax towards the rare classes: at the demo's
sizes the border's recall is about 80% and its precision about 40%. Weighting less during
training costs features (measured: square-rooted weights score lower), so instead the trained
model's decision is corrected afterwards. One offset per class is added to the logits, chosen to
maximise mean IoU on the validation split (never the eval split, which only the Evaluator sees),
and folded into the bias of the model's output layer, so the exported SavedModel, the Evaluator,
the TFLite models and `segpipe predict` all use it with no extra layer or code.

The search is coordinate ascent over a grid, class 0's offset held at 0 (only differences between
logits change the argmax); an offset moves only for a strict gain of at least MIN_GAIN, so noise
on a small validation split leaves the model as trained.
"""

import logging
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from trainer.scores import confusion_matrix, mean_iou

# Candidate offsets (added to a class's logit) and the search's limits.
OFFSET_GRID = tuple(np.round(np.arange(-2.0, 2.0001, 0.25), 2))
MIN_GAIN = 1e-3
MAX_ROUNDS = 4
PREDICT_BATCH = 32


def validation_logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The model's logits (inference mode) for every image, as float32."""
    return model.predict(images, batch_size=PREDICT_BATCH, verbose=0).astype(np.float32)


def offset_mean_iou(logits: np.ndarray, masks: np.ndarray, offsets: Sequence[float]) -> float:
    """Mean IoU of argmax(logits + offsets) against the masks."""
    predicted = np.argmax(logits + np.asarray(offsets, np.float32), axis=-1)
    return mean_iou(confusion_matrix(masks, predicted, logits.shape[-1]))


def fit_class_offsets(logits: np.ndarray, masks: np.ndarray) -> Tuple[List[float], float, float]:
    """Offsets that maximise mean IoU on (logits, masks); returns them, the mean IoU without and
    with them."""
    offsets = [0.0] * logits.shape[-1]
    before = best = offset_mean_iou(logits, masks, offsets)
    for _ in range(MAX_ROUNDS):
        moved = False
        for cls in range(1, len(offsets)):
            for candidate in OFFSET_GRID:
                trial = offsets[:cls] + [float(candidate)] + offsets[cls + 1 :]
                score = offset_mean_iou(logits, masks, trial)
                if score >= best + MIN_GAIN:
                    offsets, best, moved = trial, score, True
        if not moved:
            break
    return offsets, before, best


def output_bias(model: keras.Model) -> tf.Variable:
    """The bias of the layer that produces the model's logits (U-Net's and FCN-8s' both have one)."""
    layer = model.layers[-1]
    bias = getattr(layer, "bias", None)
    if bias is None:
        raise ValueError(f"the output layer {layer.name!r} of {model.name} has no bias to fold offsets into")
    return bias


def calibrate(
    network: keras.Model, predictor: keras.Model, validation: Tuple[np.ndarray, np.ndarray]
) -> Dict[str, Any]:
    """Fits the class offsets to `predictor`'s logits on the validation split (the network
    itself, or the flip-averaged model that ships: trainer/models/flip_average.py) and adds
    them to the network's output bias; returns what the history records: the offsets and
    validation mean IoU before and after."""
    images, masks = validation
    offsets, before, after = fit_class_offsets(validation_logits(predictor, images), masks)
    output_bias(network).assign_add(np.asarray(offsets, np.float32))
    logging.info("class offsets %s: validation mean IoU %.4f -> %.4f", offsets, before, after)
    return {"offsets": offsets, "validation_mean_iou_before": before, "validation_mean_iou_after": after}
