"""One scoring for every model: pixel accuracy and mean IoU over every pixel of the whole eval split.

The tutorial's own validation scores a fifth of the test set by accuracy, against masks it resized
bilinearly; comparing that number with the pipeline's Evaluator would compare two different
measurements. Here both models predict the same arrays (`bench.data.resized_arrays`: masks
resized nearest) and the project's own metric functions count the confusion matrix.
"""

from typing import Dict

import numpy as np
import tensorflow as tf
import tf_keras as keras

from bench.common import NUM_CLASSES
from contract.datasets import CLASS_NAMES
from trainer.scores import confusion_matrix, iou_per_class, mean_iou, pixel_accuracy


def score(
    model: keras.Model, images: np.ndarray, masks: np.ndarray, batch_size: int = 32
) -> Dict[str, object]:
    """Argmax predictions of `model` (inference mode) against `masks`, all pixels counted."""
    predict = tf.function(
        lambda x: tf.argmax(model(x, training=False), axis=-1),
        input_signature=[tf.TensorSpec([None, *images.shape[1:]], tf.float32)],
    )
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for start in range(0, len(images), batch_size):
        predicted = predict(tf.constant(images[start : start + batch_size])).numpy()
        matrix += confusion_matrix(masks[start : start + batch_size], predicted, NUM_CLASSES)
    return {
        "pixel_accuracy": pixel_accuracy(matrix),
        "mean_iou": mean_iou(matrix),
        "iou": dict(zip(CLASS_NAMES, iou_per_class(matrix).tolist())),
        "predicted_class_share": dict(zip(CLASS_NAMES, (matrix.sum(axis=0) / matrix.sum()).tolist())),
        "images": int(len(images)),
        "confusion_matrix": matrix.tolist(),
    }
