"""Raw examples as the model sees them, through the exported model's own Transform graph.

The exported SavedModel's `transform_features` signature is the Transform graph training used
(the Evaluator takes its labels from it too): raw tf.Examples in, the resized [0, 1] image and
the nearest-resized class map out. The int8 calibration images come from the train split this
way (exactly the transformed train split, without the Trainer's random flips) and the scored
images from the eval split, which Transform leaves raw.
"""

from typing import Iterator, Optional, Tuple

import numpy as np
import tensorflow as tf
from tfx.types import standard_artifacts

from components.shared.examples_io import split_records
from contract.names import EXAMPLES_INPUT, IMAGE_XF, MASK_XF

BATCH_SIZE = 32


def transformed_batches(
    examples: standard_artifacts.Examples,
    split: str,
    transform_features: tf.types.experimental.ConcreteFunction,
    limit: Optional[int] = None,
) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """(pixels [b, S, S, 3] 0..255, class maps [b, S, S]) per batch of the split's records, in
    file order; the first `limit` records only, when given."""
    records = split_records(examples, split)
    if limit is not None:
        records = records.take(limit)
    for batch in records.batch(BATCH_SIZE):
        features = transform_features(**{EXAMPLES_INPUT: batch})
        yield features[IMAGE_XF].numpy() * 255.0, features[MASK_XF].numpy()
