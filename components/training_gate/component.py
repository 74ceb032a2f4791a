"""TrainingGate: in a retraining run, the Trainer and everything after it run only when there is
something new to train on.

A retraining run warm-starts the Trainer from the latest blessed model, which a Resolver finds.
After a run that pushes, that model is the one just pushed, so the next run's Trainer has a new
input and TFX's cache (local or Vertex's) would train again on the same data. The pipeline puts
the Trainer, the Evaluator, the Pusher, TfliteExport and RunReport (and the Tuner) under
`tfx.dsl.Cond` on this gate's decision, which compares the latest blessed model's record of what
it was trained on (contract/trained_on.py; the rule: decision.py) with what this run's Trainer
would read. The gate itself is cached whenever its inputs are, so a run with nothing new, before
or after a push, trains, evaluates and pushes nothing: locally (LocalDagRunner skips the nodes)
and on Vertex AI (the condition compiles to the tasks' trigger policy).
"""

import os

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components.shared.json_files import read_json
from components.training_gate.decision import should_train
from contract.names import (
    HISTORY_FILE,
    REASON_PROPERTY,
    TRAIN_PROPERTY,
    TRAIN_SPLIT,
    TRAINED_ON,
    TRAINING_DECISION_TYPE_NAME,
    VALIDATION_SPLIT,
)
from contract.trained_on import trained_on


class TrainingDecisionArtifact(artifact.Artifact):
    """Whether this run trains (custom property TRAIN_PROPERTY, 1 or 0) and why (REASON_PROPERTY).

    Its type name is an importable 'module.Class' (`components.TrainingDecisionArtifact`,
    resolved lazily), as Vertex's compiler requires of custom types (tensorflow/tfx#6102); it is
    recorded in the metadata store, so it never changes.
    """

    TYPE_NAME = TRAINING_DECISION_TYPE_NAME


def split_files(examples: standard_artifacts.Examples, split: str) -> list:
    """The file patterns TFX's Trainer gets for one split of `examples` (as fn_args_utils builds
    them), so the gate's record and the Trainer's compare equal."""
    return [io_utils.all_files_pattern(uri) for uri in artifact_utils.get_split_uris([examples], split)]


@component
def TrainingGate(
    examples: InputArtifact[standard_artifacts.Examples],
    decision: OutputArtifact[TrainingDecisionArtifact],
    training_key: Parameter[str],
    blessed_model: InputArtifact[standard_artifacts.Model] = None,
) -> None:
    """Decides whether the Trainer trains on `examples` (the transformed examples it reads: its
    train split to fit, its validation split to pick the epoch) with the settings whose digest
    is `training_key`, given the latest blessed model (None: none yet)."""
    now = trained_on(
        split_files(examples, TRAIN_SPLIT), split_files(examples, VALIDATION_SPLIT), training_key
    )
    history = read_json(os.path.join(blessed_model.uri, HISTORY_FILE)) if blessed_model else None
    train, reason = should_train(
        blessed_model.uri if blessed_model else None, (history or {}).get(TRAINED_ON), now
    )
    decision.set_int_custom_property(TRAIN_PROPERTY, int(train))
    decision.set_string_custom_property(REASON_PROPERTY, reason)
