"""A TFLite variant's scores on a split: the Evaluator's arithmetic on the interpreter's maps.

Every image goes through serving/tflite_runner.py as an app would feed it (uint8 pixels for
int8), and its class map is counted against the truth in one N×N pixel confusion matrix at the
model's resolution, as the Evaluator counts the SavedModel's (trainer/scores.py), so
the two mean IoUs differ only by what conversion changed.
"""

from typing import Iterable, Tuple

import numpy as np

from serving.tflite_runner import TfliteRunner
from trainer.scores import confusion_matrix


def confusion_of(
    runner: TfliteRunner, batches: Iterable[Tuple[np.ndarray, np.ndarray]]
) -> Tuple[np.ndarray, int]:
    """The pixel confusion matrix of the runner's maps against the truth, and the image count."""
    classes = len(runner.contract.class_names)
    matrix = np.zeros((classes, classes), np.int64)
    images = 0
    for pixels, truths in batches:
        for image, truth in zip(pixels, truths):
            class_map, _ = runner.run(image)
            matrix += confusion_matrix(truth, class_map, classes)
            images += 1
    return matrix, images
