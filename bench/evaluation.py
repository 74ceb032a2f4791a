"""One scoring for every model: pixel accuracy and mean IoU over every pixel of the whole eval split.

The tutorial's own validation scores a fifth of the test set by accuracy, against masks it resized
bilinearly; comparing that number with the pipeline's Evaluator would compare two different
measurements. Here both models predict the same arrays (`bench.data.resized_arrays`: masks
resized nearest) and the project's own metric functions count the confusion matrix.
"""

from typing import Dict

import numpy as np
import tf_keras as keras

from bench.common import NUM_CLASSES
from contract.datasets import CLASS_NAMES
from trainer.scores import confusion_matrix, iou_per_class, mean_iou, pixel_accuracy


def score(
    model: keras.Model, images: np.ndarray, masks: np.ndarray, batch_size: int = 32
) -> Dict[str, object]:
    """Argmax predictions of `model` (inference mode) against `masks`, all pixels counted."""
    predicted = np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=-1)
    matrix = confusion_matrix(masks, predicted, NUM_CLASSES)
    return {
        "pixel_accuracy": pixel_accuracy(matrix),
        "mean_iou": mean_iou(matrix),
        "iou": dict(zip(CLASS_NAMES, iou_per_class(matrix).tolist())),
        "predicted_class_share": dict(zip(CLASS_NAMES, (matrix.sum(axis=0) / matrix.sum()).tolist())),
        "images": int(len(images)),
        "confusion_matrix": matrix.tolist(),
    }
