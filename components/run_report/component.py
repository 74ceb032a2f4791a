"""RunReport: the DAG's last node; writes the run summary and the evaluation report.

It runs after the Pusher (and TfliteExport), so its summary holds the whole story of the run:
data quality, training, metrics overall and per slice (by name), the blessing with its reason,
the pushed version or null, the phone model's variants, scores and gate, and the hyperparameter
search's trials and chosen values (with --tune or --reuse-tuning). Both land in its
own artifact only, as every TFX component's outputs must (a write outside the artifact is
skipped when the node is cached, and has no place on Vertex):
RUN_REPORT/run_summary.json and RUN_REPORT/report/. The local runner copies them to
OUTPUT/run_summary.json and OUTPUT/report/ after the run (pipeline/run_outputs.py).
"""

import json
import os
import shutil
import tempfile
from typing import Any, Dict, List

import numpy as np
import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, standard_artifacts
from tfx.utils import io_utils, path_utils

from components.run_report.blessing import blessing_decision
from components.run_report.render import Sample, write_report
from components.run_report.tuning import read_best_hyperparameters, read_tuner_results, tuning_summary
from components.shared.examples_io import split_records
from components.shared.json_files import read_json
from components.shared.metrics_reader import candidate_metrics, read_metrics
from components.shared.tflite_artifact import TfliteModelArtifact
from contract.datasets import dataset_facts
from contract.names import (
    CLASS_MAP,
    DATA_QUALITY_REPORT,
    EVAL_SPLIT,
    EXAMPLES_INPUT,
    FILE_NAME_KEY,
    HISTORY_FILE,
    IMAGE_XF,
    MASK_XF,
    REPORT_DIR,
    REPORT_INDEX,
    RUN_REPORT_TYPE_NAME,
    RUN_SUMMARY,
    SERVING_DEFAULT,
    TFLITE_SCORES_FILE,
    TRANSFORM_FEATURES,
    VALIDATION_SPLIT,
)
from trainer.scores import majority_class_scores


class RunReportArtifact(artifact.Artifact):
    """A run's summary (run_summary.json) and evaluation report (report/index.html).

    The type name is the importable 'module.Class' that Vertex's pipeline compiler requires of
    custom artifact types (tensorflow/tfx#6102); `components.RunReportArtifact` resolves lazily.
    It is recorded in every metadata store, so it never changes (contract/names.py).
    """

    TYPE_NAME = RUN_REPORT_TYPE_NAME


def eval_samples(examples: standard_artifacts.Examples, model_dir: str, count: int) -> List[Sample]:
    """The first `count` eval images with truth and prediction, as the model sees them."""
    records = [r.numpy() for r in split_records(examples, EVAL_SPLIT).take(count)]
    if not records:
        return []
    model = tf.saved_model.load(model_dir)
    batch = {EXAMPLES_INPUT: tf.constant(records)}
    transformed = model.signatures[TRANSFORM_FEATURES](**batch)
    predicted = model.signatures[SERVING_DEFAULT](**batch)[CLASS_MAP].numpy()
    names = [
        tf.train.Example.FromString(r).features.feature[FILE_NAME_KEY].bytes_list.value[0].decode()
        for r in records
    ]
    images = (transformed[IMAGE_XF].numpy() * 255).round().astype(np.uint8)
    return [
        Sample(name=n, image=i, truth=t, prediction=p)
        for n, i, t, p in zip(names, images, transformed[MASK_XF].numpy(), predicted)
    ]


def _training_summary(history: Dict[str, Any]) -> Dict[str, Any]:
    """The kept epoch and its validation scores (the split the Trainer chose it on), and the class
    offsets fitted on that split after training."""
    kept = history["kept_epoch"]
    metrics = history.get("metrics", {})
    chosen = {
        key[len("val_") :]: values[kept - 1] for key, values in metrics.items() if key.startswith("val_")
    }
    return {
        "epochs": len(metrics.get("loss", [])),
        "kept_epoch": kept,
        "validation": chosen,
        "class_calibration": history.get("class_calibration"),
        "flip_tta": bool(history.get("flip_tta")),
    }


def _quality_summary(quality: Dict[str, Any]) -> Dict[str, Any]:
    """The data-quality report's counts: records, bad ones, and what was kept but noted."""
    summary = {key: quality[key] for key in ("total", "good", "bad", "bad_fraction")}
    summary["notes"] = {kind: note["count"] for kind, note in quality.get("notes", {}).items()}
    return summary


@component
def RunReport(
    examples: InputArtifact[standard_artifacts.Examples],
    model: InputArtifact[standard_artifacts.Model],
    evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    blessing: InputArtifact[standard_artifacts.ModelBlessing],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    report: OutputArtifact[RunReportArtifact],
    dataset: Parameter[str],
    pipeline_name: Parameter[str],
    min_mean_iou: Parameter[float],
    min_improvement: Parameter[float],
    tflite_model: InputArtifact[TfliteModelArtifact] = None,
    hyperparameters: InputArtifact[standard_artifacts.HyperParameters] = None,
    tuner_results: InputArtifact[standard_artifacts.TunerResults] = None,
    tuning: Parameter[str] = "",
    num_samples: Parameter[int] = 8,
) -> None:
    """Writes the run summary and the report into the RunReport artifact (with the phone model's
    scores and gate when TfliteExport ran, and the hyperparameter search's trials and choice
    when the Trainer got tuned values: `tuning` is the pipeline's JSON description of where
    they came from, empty without --tune or --reuse-tuning)."""
    facts = dataset_facts(dataset)
    tflite = read_json(os.path.join(tflite_model.uri, TFLITE_SCORES_FILE)) if tflite_model else None
    by_model = read_metrics(evaluation.uri, facts)
    candidate = candidate_metrics(by_model)
    baseline = by_model.get("baseline")
    decision = blessing_decision(
        blessed=blessing.get_int_custom_property("blessed") == 1,
        candidate_miou=candidate["overall"].get("mean_iou", float("nan")),
        floor=min_mean_iou,
        baseline_miou=baseline["overall"].get("mean_iou") if baseline else None,
        min_improvement=min_improvement,
    )
    pushed = pushed_model.get_int_custom_property("pushed") == 1
    matrix = candidate["overall"].get("confusion_matrix")
    majority = majority_class_scores(np.asarray(matrix)) if matrix is not None else None
    history = read_json(os.path.join(model.uri, HISTORY_FILE))
    quality = read_json(os.path.join(examples.uri, DATA_QUALITY_REPORT))
    searched = (
        tuning_summary(
            json.loads(tuning),
            read_best_hyperparameters(hyperparameters.uri) if hyperparameters else None,
            read_tuner_results(tuner_results.uri) if tuner_results else None,
            history,
            {
                "best_hyperparameters": hyperparameters.uri if hyperparameters else None,
                "tuner_results": tuner_results.uri if tuner_results else None,
            },
        )
        if tuning
        else None
    )

    samples = eval_samples(examples, path_utils.serving_model_path(model.uri), num_samples)
    scratch = tempfile.mkdtemp(prefix="segpipe-report-")  # matplotlib writes local files
    try:
        write_report(
            os.path.join(scratch, REPORT_DIR),
            metrics={
                **candidate,
                "blessing": decision,
                "majority_class_baseline": majority,
                "tflite": tflite,
                "tuning": searched,
            },
            history=history,
            samples=samples,
            title=f"{pipeline_name}: evaluation of {os.path.basename(model.uri)}",
            class_names=facts.class_names,
        )
        io_utils.copy_dir(os.path.join(scratch, REPORT_DIR), os.path.join(report.uri, REPORT_DIR))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    version = pushed_model.get_string_custom_property("pushed_version") if pushed else ""

    summary: Dict[str, Any] = {
        "pipeline": pipeline_name,
        "span": examples.get_int_custom_property("span"),
        "metrics": {"overall": candidate["overall"], "slices": candidate["slices"]},
        "baseline_metrics": baseline["overall"] if baseline else None,
        "blessing": decision,
        "pushed_model": pushed_model.get_string_custom_property("pushed_destination") if pushed else None,
        "pushed_version": int(version) if version.isdigit() else None,  # none from a Vertex endpoint
        "splits": {"metrics": EVAL_SPLIT, "training_epoch_chosen_on": VALIDATION_SPLIT},
        "majority_class_baseline": majority,
        "training": _training_summary(history) if history else None,
        "data_quality": _quality_summary(quality) if quality else None,
        "report": os.path.join(report.uri, REPORT_DIR, REPORT_INDEX),
        "tflite": tflite,  # the phone model: variants, scores, the gate's choice and reason, push
        "tuning": searched,  # the hyperparameter search: trials, scores, the values trained with
        "artifacts": {
            "examples": examples.uri,
            "model": model.uri,
            "evaluation": evaluation.uri,
            "tflite_model": tflite_model.uri if tflite_model else None,
            "best_hyperparameters": hyperparameters.uri if hyperparameters else None,
            "report": report.uri,
        },
    }
    with tf.io.gfile.GFile(os.path.join(report.uri, RUN_SUMMARY), "w") as handle:
        handle.write(json.dumps(summary, indent=2))
