"""TFX's Evaluator, except that a model is never its own baseline.

The baseline is the latest blessed model. When a run is repeated on unchanged inputs, the
Trainer's output comes from the cache, so the candidate IS that blessed model: TFX's Evaluator
would compare it with itself, find no improvement, and refuse to bless it, so a rerun after a
killed Pusher would never ship the model. Here a baseline identical to the candidate is
dropped: the model was blessed before, and it is judged by the floor alone again.
"""

import logging
from typing import Any, Dict, List

from tfx import types
from tfx.components import Evaluator as TfxEvaluator
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

BASELINE = standard_component_specs.BASELINE_MODEL_KEY
CANDIDATE = standard_component_specs.MODEL_KEY


class Executor(tfx_evaluator.Executor):
    """Drops a baseline that is the candidate model itself, then evaluates as TFX does."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        baseline, candidate = input_dict.get(BASELINE) or [], input_dict.get(CANDIDATE) or []
        if baseline and candidate and baseline[0].id == candidate[0].id:
            logging.info(
                "the candidate model %s is the latest blessed model itself; judging it by the floor alone",
                candidate[0].uri,
            )
            input_dict = {key: value for key, value in input_dict.items() if key != BASELINE}
        super().Do(input_dict, output_dict, exec_properties)


class Evaluator(TfxEvaluator):
    """tfx.components.Evaluator with the executor above."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
