"""segpipe's TFX components, one folder each with its executor and helpers.

tfds_example_gen/  TfdsExampleGen: TFDS builder -> tf.Examples, spans, the bad-data gate
evaluator/         TFX's Evaluator with the segmentation metrics; never its own baseline
pusher/            TFX's Pusher publishing atomic TF Serving versions with warmup requests
run_report/        RunReport: the run summary and the HTML report, in its artifact
tflite/            TfliteExport: the phone model, converted, scored, gated, pushed beside the SavedModel
training_gate/     TrainingGate: whether a retraining run has anything new to train on
shared/            what several of them use: atomic directories, publishing, segmentation scores,
                   the Evaluator's metrics by name, the TFLite artifact type, JSON files in artifacts

Names they share with the Trainer and the clients come from `contract` (imported first, so
Keras 2 is settled before TensorFlow loads).
"""

import importlib

from contract.names import (  # contract settles Keras 2 first
    RUN_REPORT_TYPE_NAME,
    TFLITE_MODEL_TYPE_NAME,
    TRAINING_DECISION_TYPE_NAME,
)

# The custom artifact types by the name Vertex records for them, and the module defining each.
_ARTIFACT_TYPES = {
    RUN_REPORT_TYPE_NAME.rsplit(".", 1)[1]: "components.run_report.component",
    TFLITE_MODEL_TYPE_NAME.rsplit(".", 1)[1]: "components.shared.tflite_artifact",
    TRAINING_DECISION_TYPE_NAME.rsplit(".", 1)[1]: "components.training_gate.component",
}


def __getattr__(name: str):
    """`components.RunReportArtifact`, `components.TfliteModelArtifact` and
    `components.TrainingDecisionArtifact`, importable by the names Vertex records for the types
    (contract/names.py), without making `import components` load TensorFlow."""
    if name in _ARTIFACT_TYPES:
        return getattr(importlib.import_module(_ARTIFACT_TYPES[name]), name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
