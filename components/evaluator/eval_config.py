"""The Evaluator's TFMA config: what is measured, on which slices, and what blesses a model.

- The model is scored through its `serving_default` signature on raw eval examples, after its
  `transform_features` signature has produced the truth (`mask_xf`) from the same Transform
  graph as training: the working pattern for per-pixel labels in TFMA 0.47 (tfx#5191).
- Metrics (components/evaluator/metrics.py): the pixel confusion matrix, pixel
  accuracy, IoU and Dice per class, mean IoU, over every pixel of the whole eval split.
- Slices: overall, by species, by breed (TFDS class indices; reports name them).
- Blessing: mean IoU at least the floor, and better than the latest blessed model by at least
  `min_improvement` (and by a hair when that is 0: a model must beat its baseline, not tie it).
  TFX drops the change threshold on the first run, which has no baseline.
"""

import json

import tensorflow_model_analysis as tfma

from components.evaluator import metrics
from components.shared.blessing_rule import required_gain
from contract.names import CLASS_MAP, MASK_XF, SERVING_DEFAULT, SLICE_FEATURES, TRANSFORM_FEATURES

METRICS_MODULE = metrics.__name__


def build_eval_config(num_classes: int, min_mean_iou: float, min_improvement: float) -> tfma.EvalConfig:
    """The EvalConfig for a segmentation model with `num_classes` classes."""
    arguments = json.dumps(
        {"num_classes": num_classes, "ground_truth_key": MASK_XF, "prediction_key": CLASS_MAP}
    )

    def metric(class_name: str, threshold: tfma.MetricThreshold = None) -> tfma.MetricConfig:
        config = tfma.MetricConfig(class_name=class_name, module=METRICS_MODULE, config=arguments)
        if threshold:  # on the overall slice only: a small breed slice must not veto the model
            config.per_slice_thresholds.add(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        return config

    blessing = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_mean_iou}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": required_gain(min_improvement)},
        ),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(signature_name=SERVING_DEFAULT, preprocessing_function_names=[TRANSFORM_FEATURES])
        ],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    metric("SegmentationConfusionMatrix"),
                    metric("PixelAccuracy"),
                    metric("MeanIoU", blessing),
                    metric("ClassIoU"),
                    metric("Dice"),
                ]
            )
        ],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[key]) for key in SLICE_FEATURES],
    )
