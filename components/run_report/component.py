"""RunReport: the DAG's last node; writes the run summary and the evaluation report.

It runs after the Pusher, so its summary holds the whole story of the run: data quality,
training, metrics overall and per slice (by name), the blessing with its reason, and the pushed
version or null. Both land in its own artifact only, as every TFX component's outputs must (a
write outside the artifact is skipped when the node is cached, and has no place on Vertex):
RUN_REPORT/run_summary.json and RUN_REPORT/report/. The local runner copies them to
OUTPUT/run_summary.json and OUTPUT/report/ after the run (pipeline/run_outputs.py).
"""

import json
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

from components.run_report.blessing import blessing_decision
from components.run_report.metrics_reader import read_metrics
from components.run_report.render import Sample, write_report
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
    TRANSFORM_FEATURES,
)


class RunReportArtifact(artifact.Artifact):
    """A run's summary (run_summary.json) and evaluation report (report/index.html).

    The type name is the importable 'module.Class' that Vertex's pipeline compiler requires of
    custom artifact types (tensorflow/tfx#6102); `components.RunReportArtifact` resolves lazily.
    It is recorded in every metadata store, so it never changes (contract/names.py).
    """

    TYPE_NAME = RUN_REPORT_TYPE_NAME


def read_json(path: str) -> Optional[dict]:
    """A JSON file (local or gs://), or None when it does not exist."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def eval_samples(examples: standard_artifacts.Examples, model_dir: str, count: int) -> List[Sample]:
    """The first `count` eval images with truth and prediction, as the model sees them."""
    split_uri = artifact_utils.get_split_uri([examples], EVAL_SPLIT)
    files = sorted(tf.io.gfile.glob(os.path.join(split_uri, "*.gz")))
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)]
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
    num_samples: Parameter[int] = 8,
) -> None:
    """Writes the run summary and the report into the RunReport artifact."""
    facts = dataset_facts(dataset)
    by_model = read_metrics(evaluation.uri, facts)
    candidate = by_model.get("candidate") or by_model.get("") or {"overall": {}, "slices": {}}
    baseline = by_model.get("baseline")
    decision = blessing_decision(
        blessed=blessing.get_int_custom_property("blessed") == 1,
        candidate_miou=candidate["overall"].get("mean_iou", float("nan")),
        floor=min_mean_iou,
        baseline_miou=baseline["overall"].get("mean_iou") if baseline else None,
        min_improvement=min_improvement,
    )
    pushed = pushed_model.get_int_custom_property("pushed") == 1
    history = read_json(os.path.join(model.uri, HISTORY_FILE))
    quality = read_json(os.path.join(examples.uri, DATA_QUALITY_REPORT))

    samples = eval_samples(examples, path_utils.serving_model_path(model.uri), num_samples)
    scratch = tempfile.mkdtemp(prefix="segpipe-report-")  # matplotlib writes local files
    try:
        write_report(
            os.path.join(scratch, REPORT_DIR),
            metrics={**candidate, "blessing": decision},
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
        "training": {key: history[key] for key in ("kept_epoch", "majority_class_baseline")}
        if history
        else None,
        "data_quality": _quality_summary(quality) if quality else None,
        "report": os.path.join(report.uri, REPORT_DIR, REPORT_INDEX),
        "artifacts": {
            "examples": examples.uri,
            "model": model.uri,
            "evaluation": evaluation.uri,
            "report": report.uri,
        },
    }
    with tf.io.gfile.GFile(os.path.join(report.uri, RUN_SUMMARY), "w") as handle:
        handle.write(json.dumps(summary, indent=2))
