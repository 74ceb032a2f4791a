"""RunReport: the DAG's last node; writes run_summary.json and the evaluation report.

It runs after the Pusher, so its summary holds the whole story of the run: data quality,
training, metrics overall and per slice (by name), the blessing with its reason, and the pushed
version or null. Both land in the artifact (lineage in MLMD) and are exported to the output
directory as OUTPUT/run_summary.json and OUTPUT/report/ — replaced atomically, whichever
orchestrator ran the DAG (`segpipe run`, `tfx run create`).
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
from tfx.types import artifact, standard_artifacts

from components.dataset_specs import dataset_spec
from components.report.render import Sample, write_report
from components.run_report.blessing import blessing_decision
from components.run_report.metrics_reader import read_metrics
from components.tfds_example_gen.executor import REPORT_FILE as QUALITY_FILE
from trainer.export import CLASS_MAP
from trainer.preprocessing import IMAGE_XF, MASK_XF
from trainer.task import HISTORY_FILE

SUMMARY_FILE = "run_summary.json"
REPORT_DIR = "report"


class RunReportArtifact(artifact.Artifact):
    """A run's summary (run_summary.json) and evaluation report (report/index.html).

    The type name is the importable 'module.Class' that Vertex's pipeline compiler requires of
    custom artifact types (tensorflow/tfx#6102); `components.RunReportArtifact` resolves lazily.
    """
    TYPE_NAME = "components.RunReportArtifact"


def read_json(path: str) -> Optional[dict]:
    """A JSON file (local or gs://), or None when it does not exist."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def eval_samples(examples_uri: str, model_dir: str, count: int) -> List[Sample]:
    """The first `count` eval images with truth and prediction, as the model sees them."""
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, "Split-eval", "*.gz")))
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)]
    if not records:
        return []
    model = tf.saved_model.load(model_dir)
    batch = tf.constant(records)
    transformed = model.signatures["transform_features"](examples=batch)
    predicted = model.signatures["serving_default"](examples=batch)[CLASS_MAP].numpy()
    names = [tf.train.Example.FromString(r).features.feature["file_name"].bytes_list.value[0].decode()
             for r in records]
    images = (transformed[IMAGE_XF].numpy() * 255).round().astype(np.uint8)
    return [Sample(name=n, image=i, truth=t, prediction=p)
            for n, i, t, p in zip(names, images, transformed[MASK_XF].numpy(), predicted)]


def _copy_tree(source: str, target: str) -> None:
    """Copies a local folder to target through tf.io.gfile (a local path or gs://)."""
    for directory, _, files in tf.io.gfile.walk(source):
        destination = os.path.join(target, os.path.relpath(directory, source))
        tf.io.gfile.makedirs(destination)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(destination, name), overwrite=True)


def export_to_output(report_dir: str, summary_path: str, output_dir: str) -> None:
    """OUTPUT/report/ and OUTPUT/run_summary.json, swapped in whole on a local disk.

    Locally the new copy is staged beside the old one and renamed into place, so a reader never
    sees half a report. GCS has no rename of folders; there the files are overwritten in place.
    """
    report_target = os.path.join(output_dir, REPORT_DIR)
    summary_target = os.path.join(output_dir, SUMMARY_FILE)
    if "://" in output_dir:
        _copy_tree(report_dir, report_target)
        tf.io.gfile.copy(summary_path, summary_target, overwrite=True)
        return
    os.makedirs(output_dir, exist_ok=True)
    staged, old = f"{report_target}.tmp-{os.getpid()}", f"{report_target}.old-{os.getpid()}"
    shutil.copytree(report_dir, staged)
    if os.path.exists(report_target):
        os.rename(report_target, old)
    os.rename(staged, report_target)
    shutil.rmtree(old, ignore_errors=True)
    shutil.copyfile(summary_path, summary_target + ".tmp")
    os.replace(summary_target + ".tmp", summary_target)


@component
def RunReport(examples: InputArtifact[standard_artifacts.Examples],  # pylint: disable=invalid-name
              model: InputArtifact[standard_artifacts.Model],
              evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
              blessing: InputArtifact[standard_artifacts.ModelBlessing],
              pushed_model: InputArtifact[standard_artifacts.PushedModel],
              report: OutputArtifact[RunReportArtifact],
              output_dir: Parameter[str], dataset: Parameter[str], pipeline_name: Parameter[str],
              min_mean_iou: Parameter[float], min_improvement: Parameter[float],
              num_samples: Parameter[int] = 8) -> None:
    """Writes the run summary and the report into the artifact and the output directory."""
    spec = dataset_spec(dataset)
    by_model = read_metrics(evaluation.uri, spec)
    candidate = by_model.get("candidate") or by_model.get("") or {"overall": {}, "slices": {}}
    baseline = by_model.get("baseline")
    decision = blessing_decision(
        blessed=blessing.get_int_custom_property("blessed") == 1,
        candidate_miou=candidate["overall"].get("mean_iou", float("nan")), floor=min_mean_iou,
        baseline_miou=baseline["overall"].get("mean_iou") if baseline else None,
        min_improvement=min_improvement)
    pushed = pushed_model.get_int_custom_property("pushed") == 1
    history = read_json(os.path.join(model.uri, HISTORY_FILE))
    quality = read_json(os.path.join(examples.uri, QUALITY_FILE))

    samples = eval_samples(examples.uri, os.path.join(model.uri, "Format-Serving"), num_samples)
    scratch = tempfile.mkdtemp(prefix="segpipe-report-")  # matplotlib writes local files
    try:
        write_report(os.path.join(scratch, REPORT_DIR), metrics={**candidate, "blessing": decision},
                     history=history, samples=samples,
                     title=f"{pipeline_name}: evaluation of {os.path.basename(model.uri)}",
                     class_names=spec.class_names)
        _copy_tree(os.path.join(scratch, REPORT_DIR), os.path.join(report.uri, REPORT_DIR))
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
        "training": {key: history[key] for key in ("kept_epoch", "majority_class_baseline")} if history else None,
        "data_quality": {key: quality[key] for key in ("total", "good", "bad", "bad_fraction")} if quality else None,
        "report": os.path.join(output_dir, REPORT_DIR, "index.html"),
        "artifacts": {"examples": examples.uri, "model": model.uri, "evaluation": evaluation.uri,
                      "report": report.uri},
    }
    summary_path = os.path.join(report.uri, SUMMARY_FILE)
    with tf.io.gfile.GFile(summary_path, "w") as handle:
        handle.write(json.dumps(summary, indent=2))
    export_to_output(os.path.join(report.uri, REPORT_DIR), summary_path, output_dir)
