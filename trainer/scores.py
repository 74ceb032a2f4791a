"""Segmentation scores from a pixel confusion matrix: one arithmetic for every number reported.

The Evaluator's TFMA metrics, the report's per-sample captions and the TFLite scorer count the
same N×N matrix (rows = true class, columns = predicted class) and derive:
    pixel accuracy = trace / total          IoU_k  = M_kk / (row_k + col_k - M_kk)
    mean IoU       = mean over classes       Dice_k = 2 M_kk / (row_k + col_k)
A class absent from both truth and prediction has IoU and Dice NaN and is left out of the
mean, as tf_keras' MeanIoU does: it would otherwise count as perfect (or as zero).
"""

import math
from typing import Any, Dict, Optional, Sequence

import numpy as np

# The scores' names, as the Evaluator's TFMA metrics are named (components/evaluator/metrics.py)
# and as every summary reports them.
CONFUSION_MATRIX = "confusion_matrix"
PIXEL_ACCURACY = "pixel_accuracy"
MEAN_IOU = "mean_iou"
IOU = "iou"
DICE = "dice"


def confusion_matrix(truth: np.ndarray, prediction: np.ndarray, num_classes: int) -> np.ndarray:
    """N×N pixel counts; truth pixels outside 0..N-1 (e.g. -1 padding) are not counted."""
    truth = np.asarray(truth).reshape(-1).astype(np.int64)
    prediction = np.asarray(prediction).reshape(-1).astype(np.int64)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth has {truth.size} pixels, prediction {prediction.size}")
    keep = (truth >= 0) & (truth < num_classes) & (prediction >= 0) & (prediction < num_classes)
    counts = np.bincount(truth[keep] * num_classes + prediction[keep], minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def iou_per_class(matrix: np.ndarray) -> np.ndarray:
    """Intersection over union of each class; NaN for a class absent from truth and prediction."""
    true_positive = np.diag(matrix).astype(np.float64)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positive
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, true_positive / np.maximum(union, 1), np.nan)


def dice_per_class(matrix: np.ndarray) -> np.ndarray:
    """Dice coefficient (F1 over pixels) of each class; NaN where the class is absent."""
    true_positive = np.diag(matrix).astype(np.float64)
    total = matrix.sum(axis=0) + matrix.sum(axis=1)
    return np.where(total > 0, 2 * true_positive / np.maximum(total, 1), np.nan)


def pixel_accuracy(matrix: np.ndarray) -> float:
    """Share of the counted pixels whose predicted class is the true class."""
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else float("nan")


def mean_iou(matrix: np.ndarray) -> float:
    """Mean IoU over the classes present in truth or prediction."""
    ious = iou_per_class(matrix)
    return float(np.nanmean(ious)) if np.isfinite(ious).any() else float("nan")


def majority_class_scores(matrix: np.ndarray) -> dict:
    """What predicting the most frequent true class everywhere would score on the same pixels.

    Its IoU is that class's share for that class and 0 for the others, so its mean IoU is the
    share divided by the number of classes: a model must clearly beat both numbers.
    """
    matrix = np.asarray(matrix)
    share = float(matrix.sum(axis=1).max() / matrix.sum()) if matrix.sum() else float("nan")
    return {"pixel_accuracy": share, "mean_iou": share / len(matrix)}


def named_scores(matrix: np.ndarray, class_names: Sequence[str]) -> Dict[str, Any]:
    """Every score of a matrix under the Evaluator's metric names, per-class ones by class name,
    ready for JSON: an undefined score (NaN) is None."""

    def number(value: float) -> Optional[float]:
        return float(value) if math.isfinite(value) else None

    return {
        PIXEL_ACCURACY: number(pixel_accuracy(matrix)),
        MEAN_IOU: number(mean_iou(matrix)),
        IOU: dict(zip(class_names, map(number, iou_per_class(matrix)))),
        DICE: dict(zip(class_names, map(number, dice_per_class(matrix)))),
        CONFUSION_MATRIX: np.asarray(matrix).tolist(),
    }
