"""RunReport: the DAG's last node; writes run_summary.json and the evaluation report.

It runs after the Pusher, so its summary holds the whole story of the run: data quality,
training, metrics overall and per slice (by name), the blessing with its reason, and the pushed
version or null. Both land in the artifact (lineage in MLMD) and are exported to the output
directory as OUTPUT/run_summary.json and OUTPUT/report/ — replaced atomically, whichever
orchestrator ran the DAG (`segpipe run`, `tfx run create`).
"""
import glob
import json
import os
import shutil
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


def _read_json(path: str) -> Optional[dict]:
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def eval_samples(examples_uri: str, model_dir: str, count: int) -> List[Sample]:
    """The first `count` eval images with truth and prediction, as the model sees them."""
    files = sorted(glob.glob(os.path.join(examples_uri, "Split-eval", "*.gz")))
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


def _replace_atomically(source: str, target: str) -> None:
    """Copies a file or folder to target, swapping it in with a rename."""
    staged = f"{target}.tmp-{os.getpid()}"
    if os.path.isdir(source):
        shutil.copytree(source, staged)
        old = f"{target}.old-{os.getpid()}"
        if os.path.exists(target):
            os.rename(target, old)
        os.rename(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        shutil.copyfile(source, staged)
        os.replace(staged, target)


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
    history = _read_json(os.path.join(model.uri, HISTORY_FILE))
    quality = _read_json(os.path.join(examples.uri, QUALITY_FILE))

    report_dir = os.path.join(report.uri, REPORT_DIR)
    samples = eval_samples(examples.uri, os.path.join(model.uri, "Format-Serving"), num_samples)
    write_report(report_dir, metrics={**candidate, "blessing": decision}, history=history,
                 samples=samples, title=f"{pipeline_name}: evaluation of {os.path.basename(model.uri)}",
                 class_names=spec.class_names)

    summary: Dict[str, Any] = {
        "pipeline": pipeline_name,
        "span": examples.get_int_custom_property("span"),
        "metrics": {"overall": candidate["overall"], "slices": candidate["slices"]},
        "baseline_metrics": baseline["overall"] if baseline else None,
        "blessing": decision,
        "pushed_model": pushed_model.get_string_custom_property("pushed_destination") if pushed else None,
        "pushed_version": int(pushed_model.get_string_custom_property("pushed_version")) if pushed else None,
        "training": {key: history[key] for key in ("kept_epoch", "majority_class_baseline")} if history else None,
        "data_quality": {key: quality[key] for key in ("total", "good", "bad", "bad_fraction")} if quality else None,
        "report": os.path.join(os.path.abspath(output_dir), REPORT_DIR, "index.html"),
        "artifacts": {"examples": examples.uri, "model": model.uri, "evaluation": evaluation.uri,
                      "report": report.uri},
    }
    with tf.io.gfile.GFile(os.path.join(report.uri, SUMMARY_FILE), "w") as handle:
        handle.write(json.dumps(summary, indent=2))
    os.makedirs(output_dir, exist_ok=True)
    _replace_atomically(report_dir, os.path.join(output_dir, REPORT_DIR))
    _replace_atomically(os.path.join(report.uri, SUMMARY_FILE), os.path.join(output_dir, SUMMARY_FILE))
