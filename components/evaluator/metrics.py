"""Pixel accuracy, IoU and Dice per class, and mean IoU, as TFMA metrics on Beam.

TFMA's own SemanticSegmentationConfusionMatrix counts one-vs-rest TP/FP/FN per class, which
gives IoU but not the full confusion matrix (which class the errors go to) a person needs to
read the model. So the combiner here counts the full N×N pixel matrix, rows = true class,
columns = predicted class, over every pixel of every example in each slice, and the metrics
derive from it with trainer/scores.py, the arithmetic every reported score uses.
This module must stay importable on Beam workers by its name (docs/stack.md, "Evaluator").

Labels and predictions are found by TFMA's DecodeImagePreprocessor: the truth in the
transformed features (the model's `transform_features` signature) and the prediction in the
model's outputs, both as 2-D class maps at the model's resolution.
"""

from typing import Any, Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics.preprocessors import image_preprocessors

from trainer.scores import (
    CONFUSION_MATRIX,
    DICE,
    IOU,
    MEAN_IOU,
    PIXEL_ACCURACY,
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
)


class _ConfusionMatrixCombiner(beam.CombineFn):
    """Sums each example's N×N pixel confusion matrix (per slice, in parallel on Beam)."""

    def __init__(self, key: metric_types.MetricKey, num_classes: int):
        self._key = key
        self._num_classes = num_classes

    def create_accumulator(self) -> np.ndarray:
        return np.zeros((self._num_classes, self._num_classes), np.int64)

    def add_input(self, accumulator: np.ndarray, element: metric_types.StandardMetricInputs) -> np.ndarray:
        truth, prediction = element.get_labels(), element.get_predictions()
        if np.ndim(truth) != 2 or np.shape(truth) != np.shape(prediction):
            raise ValueError(
                f"segmentation metrics need 2-D class maps of one shape; got truth "
                f"{np.shape(truth)} and prediction {np.shape(prediction)}"
            )
        return accumulator + confusion_matrix(truth, prediction, self._num_classes)

    def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result = result + accumulator
        return result

    def extract_output(self, accumulator: np.ndarray) -> Dict[metric_types.MetricKey, np.ndarray]:
        return {self._key: accumulator}


class SegmentationConfusionMatrix(metric_types.Metric):
    """The N×N pixel confusion matrix (rows true, columns predicted) as a TFMA metric."""

    def __init__(
        self, num_classes: int, ground_truth_key: str, prediction_key: str, name: Optional[str] = None
    ):
        super().__init__(
            metric_util.merge_per_key_computations(self._computations),
            name=name or CONFUSION_MATRIX,
            num_classes=num_classes,
            ground_truth_key=ground_truth_key,
            prediction_key=prediction_key,
        )

    @staticmethod
    def _computations(
        num_classes: int,
        ground_truth_key: str,
        prediction_key: str,
        name: str = CONFUSION_MATRIX,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **kwargs: Any,
    ) -> metric_types.MetricComputations:
        key = metric_types.MetricKey(
            name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
        )
        preprocessor = image_preprocessors.DecodeImagePreprocessor(
            ground_truth_key=ground_truth_key,
            prediction_key=prediction_key,
            decode_ground_truth=False,
            decode_prediction=False,
            model_name=model_name,
        )
        return [
            metric_types.MetricComputation(
                keys=[key], preprocessors=[preprocessor], combiner=_ConfusionMatrixCombiner(key, num_classes)
            )
        ]


metric_types.register_metric(SegmentationConfusionMatrix)


class _DerivedSegmentationMetric(metric_types.Metric):
    """A metric computed from the shared confusion matrix (one matrix per model and slice)."""

    DEFAULT_NAME = ""
    PER_CLASS = False

    def __init__(
        self, num_classes: int, ground_truth_key: str, prediction_key: str, name: Optional[str] = None
    ):
        super().__init__(
            metric_util.merge_per_key_computations(self._computations),
            name=name or self.DEFAULT_NAME,
            num_classes=num_classes,
            ground_truth_key=ground_truth_key,
            prediction_key=prediction_key,
        )

    def value(self, matrix: np.ndarray):
        raise NotImplementedError

    def _computations(
        self,
        num_classes: int,
        ground_truth_key: str,
        prediction_key: str,
        name: str = "",
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **kwargs: Any,
    ) -> metric_types.MetricComputations:
        matrix_computations = SegmentationConfusionMatrix(
            num_classes, ground_truth_key, prediction_key
        ).computations(
            model_names=[model_name], output_names=[output_name], example_weighted=example_weighted
        )
        matrix_key = matrix_computations[-1].keys[-1]
        key = metric_types.MetricKey(
            name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
        )
        keys: List[metric_types.MetricKey] = (
            [key._replace(sub_key=metric_types.SubKey(class_id=k)) for k in range(num_classes)]
            if self.PER_CLASS
            else [key]
        )

        def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, Any]:
            values = self.value(np.asarray(metrics[matrix_key]))
            if self.PER_CLASS:
                return {k: float(v) for k, v in zip(keys, values)}
            return {key: values}

        return matrix_computations + [metric_types.DerivedMetricComputation(keys=keys, result=result)]


class PixelAccuracy(_DerivedSegmentationMetric):
    """Share of all pixels whose predicted class is the true class."""

    DEFAULT_NAME = PIXEL_ACCURACY

    def value(self, matrix: np.ndarray) -> float:
        return pixel_accuracy(matrix)


class MeanIoU(_DerivedSegmentationMetric):
    """Mean over classes of intersection over union; the metric that gates blessing."""

    DEFAULT_NAME = MEAN_IOU

    def value(self, matrix: np.ndarray) -> float:
        return mean_iou(matrix)


class ClassIoU(_DerivedSegmentationMetric):
    """Intersection over union of each class (sub key class_id)."""

    DEFAULT_NAME = IOU
    PER_CLASS = True

    def value(self, matrix: np.ndarray) -> np.ndarray:
        return iou_per_class(matrix)


class Dice(_DerivedSegmentationMetric):
    """Dice coefficient (F1 over pixels) of each class (sub key class_id)."""

    DEFAULT_NAME = DICE
    PER_CLASS = True

    def value(self, matrix: np.ndarray) -> np.ndarray:
        return dice_per_class(matrix)


for _metric in (PixelAccuracy, MeanIoU, ClassIoU, Dice):
    metric_types.register_metric(_metric)
