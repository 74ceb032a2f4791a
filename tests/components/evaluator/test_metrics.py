"""The Evaluator's TFMA combiner on hand-made masks (the arithmetic: tests/components/shared)."""

import numpy as np
import pytest
from tensorflow_model_analysis.metrics import metric_types

from components.evaluator import metrics
from tests.trainer.test_scores import PREDICTION, TRUTH


def test_the_tfma_combiner_sums_examples_and_rejects_non_maps():
    key = metric_types.MetricKey(name="confusion_matrix")
    combiner = metrics._ConfusionMatrixCombiner(key, 3)
    first = combiner.add_input(
        combiner.create_accumulator(), metric_types.StandardMetricInputs(labels=TRUTH, predictions=PREDICTION)
    )
    second = combiner.add_input(
        combiner.create_accumulator(), metric_types.StandardMetricInputs(labels=TRUTH, predictions=TRUTH)
    )
    merged = combiner.extract_output(combiner.merge_accumulators([first, second]))[key]
    assert merged.sum() == 32 and np.trace(merged) == 12 + 16
    with pytest.raises(ValueError, match="2-D class maps"):
        combiner.add_input(
            combiner.create_accumulator(),
            metric_types.StandardMetricInputs(labels=TRUTH.reshape(-1), predictions=PREDICTION),
        )
