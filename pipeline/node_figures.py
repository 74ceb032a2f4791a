"""Each component's key figure, read from what it produced, for the run view's line.

A person watching a run wants one number per step, not a path: how many records were kept and
why others were left out, whether the schema found anomalies, whether a retraining run had
anything new to train on, which epoch the Trainer kept and how good it was, what the
hyperparameter search tried and chose, whether the model was blessed and why, which version was
pushed, which phone model ships.
"""

import os
from typing import Dict, Tuple

from tfx.types.artifact import Artifact

from components.run_report.tuning import read_best_hyperparameters, read_tuner_results, tuning_summary
from components.shared.json_files import read_json
from components.shared.metrics_reader import candidate_metrics, read_metrics
from contract.datasets import dataset_facts
from contract.names import (
    REASON_PROPERTY,
    TFLITE_MODEL_TYPE_NAME,
    TFLITE_SCORES_FILE,
    TRAIN_PROPERTY,
    TRAINING_DECISION_TYPE_NAME,
)
from pipeline.config import PipelineConfig
from pipeline.pipeline import LATEST_TUNING_RESOLVER
from pipeline.run_outputs import (
    anomalies_by_split,
    node_outputs,
    quality_report,
    training_result,
    validation_mean_iou_text,
)
from pipeline.run_summary import describe_tflite, describe_tuning


def _examples(artifacts: Dict[str, Artifact]) -> str:
    report = quality_report(artifacts["Examples"]) if "Examples" in artifacts else None
    if not report:
        return ""
    splits = ", ".join(f"{split} {count}" for split, count in report["good_per_split"].items())
    text = f"{report['good']} records kept ({splits}), {report['bad']} left out"
    if report["bad"]:
        reasons = ", ".join(f"{reason} {group['count']}" for reason, group in report["bad_by_reason"].items())
        text += f" ({reasons})"
    noted = sum(note["count"] for note in report.get("notes", {}).values())
    return text + (f"; {noted} kept but noted" if noted else "")


def _anomalies(artifacts: Dict[str, Artifact]) -> str:
    if "ExampleAnomalies" not in artifacts:
        return ""
    found = {
        split: features
        for split, features in anomalies_by_split(artifacts["ExampleAnomalies"]).items()
        if features
    }
    if not found:
        return "no schema anomalies"
    return "schema anomalies: " + "; ".join(
        f"{split}: {', '.join(features)}" for split, features in found.items()
    )


def _trainer(artifacts: Dict[str, Artifact]) -> str:
    result = training_result(artifacts["Model"]) if "Model" in artifacts else None
    if not result:
        return ""
    return (
        f"{result['epochs']} epochs, kept epoch {result['kept_epoch']}: validation pixel accuracy "
        f"{result['validation_pixel_accuracy']:.3f}, {validation_mean_iou_text(result)}"
    )


def _evaluator(artifacts: Dict[str, Artifact], config: PipelineConfig) -> str:
    if "ModelBlessing" not in artifacts:
        return ""
    blessed = artifacts["ModelBlessing"].get_int_custom_property("blessed") == 1
    metrics = read_metrics(artifacts["ModelEvaluation"].uri, dataset_facts(config.dataset.name))
    overall = candidate_metrics(metrics)["overall"]
    score = f"eval mean IoU {overall['mean_iou']:.3f}, " if "mean_iou" in overall else ""
    return score + ("blessed" if blessed else "not blessed")


def _pusher(artifacts: Dict[str, Artifact]) -> str:
    pushed = artifacts.get("PushedModel")
    if pushed is None:
        return ""
    if pushed.get_int_custom_property("pushed") != 1:
        return "nothing pushed (not blessed)"
    version = pushed.get_string_custom_property("pushed_version")
    return f"version {version}: {pushed.get_string_custom_property('pushed_destination')}"


def _tflite(artifacts: Dict[str, Artifact]) -> str:
    found = artifacts.get(TFLITE_MODEL_TYPE_NAME)
    scores = read_json(os.path.join(found.uri, TFLITE_SCORES_FILE)) if found else None
    return describe_tflite(scores) if scores else ""


def _gate(artifacts: Dict[str, Artifact]) -> str:
    decision = artifacts.get(TRAINING_DECISION_TYPE_NAME)
    if decision is None:
        return ""
    reason = decision.get_string_custom_property(REASON_PROPERTY)
    return reason if decision.get_int_custom_property(TRAIN_PROPERTY) == 0 else f"train: {reason}"


def _resolver(artifacts: Dict[str, Artifact]) -> str:
    model = artifacts.get("Model")
    return f"last blessed model: {os.path.basename(model.uri)}" if model else "no blessed model yet"


def _tuning(artifacts: Dict[str, Artifact], source: str) -> str:
    """The search's trials, best score and chosen values (the Tuner's, or the reused ones)."""
    best, results = artifacts.get("HyperParameters"), artifacts.get("TunerResults")
    if best is None:
        return describe_tuning({})
    summary = tuning_summary(
        {"source": source},
        read_best_hyperparameters(best.uri),
        read_tuner_results(results.uri) if results else None,
    )
    return describe_tuning(summary)


def figure(node: str, artifacts: Dict[str, Artifact], config: PipelineConfig) -> str:
    """The one-line key figure of a finished node ('' when it has none)."""
    if node == "TfdsExampleGen":
        return _examples(artifacts)
    if node == "ExampleValidator":
        return _anomalies(artifacts)
    if node == "Trainer":
        return _trainer(artifacts)
    if node == "Evaluator":
        return _evaluator(artifacts, config)
    if node == "Pusher":
        return _pusher(artifacts)
    if node == "TfliteExport":
        return _tflite(artifacts)
    if node == "TrainingGate":
        return _gate(artifacts)
    if node == "latest_blessed_model_resolver":
        return _resolver(artifacts)
    if node == "Tuner":
        return _tuning(artifacts, "search")
    if node == LATEST_TUNING_RESOLVER:
        return _tuning(artifacts, "reused")
    if node in ("ImportSchemaGen", "SchemaGen"):
        return "schema imported" if node == "ImportSchemaGen" else "schema inferred"
    return ""


def outcome(config: PipelineConfig, node: str) -> Tuple[str, str]:
    """How a finished node ended ('done' or 'cached') and its key figure."""
    state, artifacts = node_outputs(config, node)
    return ("cached" if state == "CACHED" else "done"), figure(node, artifacts, config)
