"""Reads the Evaluator's TFMA output into plain dicts named by what they mean.

TFMA keys metrics by (model, slice, name, class id); people ask "what is the pet IoU for dogs?".
This turns the metrics files into {"overall": {...}, "slices": {"species=Dog": {...}}} with
classes and slice values named by the dataset (pet/background/border, Cat/Dog, breed names),
for the candidate model and, when there was one, the baseline it was compared with. The run
report reads every number; the TFLite component reads the SavedModel's, to compare its own with.
"""

from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow_model_analysis as tfma

from contract.datasets import DatasetFacts
from contract.names import LABEL_KEY, SLICE_DISPLAY_NAMES, SPECIES_KEY


def _value(metric_value) -> Any:
    kind = metric_value.WhichOneof("type")
    if kind == "double_value":
        return metric_value.double_value.value
    if kind == "array_value":
        array = metric_value.array_value
        values = array.int64_values or array.int32_values or array.double_values or array.float32_values
        return np.asarray(values).reshape(list(array.shape)).tolist()
    return None


def slice_name(slice_key: Tuple, spec: DatasetFacts) -> Optional[str]:
    """'species=Dog', 'breed=Abyssinian', or None for the overall slice."""
    if not slice_key:
        return None
    ((feature, value),) = slice_key
    labels = {SPECIES_KEY: spec.species_names, LABEL_KEY: spec.label_names}.get(feature, ())
    readable = labels[int(value)] if 0 <= int(value) < len(labels) else value
    return f"{SLICE_DISPLAY_NAMES.get(feature, feature)}={readable}"


def read_metrics(evaluation_uri: str, spec: DatasetFacts) -> Dict[str, Dict[str, Any]]:
    """{model name ('candidate' / 'baseline' / ''): {"overall": ..., "slices": {...}}}."""
    result: Dict[str, Dict[str, Any]] = {}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        slice_key = tfma.slicer.deserialize_slice_key(metrics_for_slice.slice_key)
        name = slice_name(slice_key, spec)
        for entry in metrics_for_slice.metric_keys_and_values:
            key, value = entry.key, _value(entry.value)
            if key.is_diff:  # TFMA also stores candidate-minus-baseline under the candidate
                continue
            model = result.setdefault(key.model_name, {"overall": {}, "slices": {}})
            target = model["overall"] if name is None else model["slices"].setdefault(name, {})
            if key.sub_key.HasField("class_id"):
                class_name = spec.class_names[key.sub_key.class_id.value]
                target.setdefault(key.name, {})[class_name] = value
            else:
                target[key.name] = value
    return result


def candidate_metrics(by_model: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The evaluated model's metrics out of read_metrics' result: TFMA names it 'candidate' when
    a baseline was compared and '' when not; empty overall and slices when there is neither."""
    return by_model.get("candidate") or by_model.get("") or {"overall": {}, "slices": {}}
