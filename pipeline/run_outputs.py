"""What the last run produced, read back from the metadata store (MLMD).

The store is the source of truth of a TFX run: it records every artifact with its URI and the
span it came from, including the ones a cached run reused rather than wrote again.
"""
import os
from typing import Dict, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.orchestration import metadata

from components.tfds_example_gen.executor import REPORT_FILE
from components.run_report.component import SUMMARY_FILE as RUN_SUMMARY_FILE, read_json
from components.run_report.metrics_reader import slice_order
from pipeline.config import PipelineConfig
from trainer.task import HISTORY_FILE, SUMMARY_FILE


def latest_artifacts(config: PipelineConfig) -> Dict[str, object]:
    """The newest live artifact of each component output, keyed 'Component.Type'.

    Every TFX node has a 'node' context in MLMD ('<pipeline>.<node id>'); the output events of
    its executions name what it produced, including outputs a cached run reused.
    """
    connection = metadata.sqlite_metadata_connection_config(config.metadata_path)
    store = metadata_store.MetadataStore(connection)
    types = {t.id: t.name for t in store.get_artifact_types()}
    prefix = config.output.pipeline_name + "."
    latest: Dict[str, object] = {}
    outputs = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    for context in store.get_contexts_by_type("node"):
        if not context.name.startswith(prefix):
            continue
        node = context.name[len(prefix):]
        executions = [e.id for e in store.get_executions_by_context(context.id)]
        produced = {event.artifact_id for event in store.get_events_by_execution_ids(executions)
                    if event.type in outputs}
        for artifact in store.get_artifacts_by_id(sorted(produced)):
            key = f"{node}.{types[artifact.type_id]}"
            if artifact.state == artifact.LIVE and (key not in latest or artifact.id > latest[key].id):
                latest[key] = artifact
    return latest


def quality_report(examples_uri: str) -> Optional[dict]:
    return read_json(os.path.join(examples_uri, REPORT_FILE))


def anomalies_by_split(anomalies_uri: str) -> Dict[str, Dict[str, str]]:
    """ExampleValidator's findings: {split: {feature: description}} (empty when clean)."""
    found: Dict[str, Dict[str, str]] = {}
    for split_dir in sorted(os.listdir(anomalies_uri)):
        path = os.path.join(anomalies_uri, split_dir, "SchemaDiff.pb")
        if split_dir.startswith("Split-") and os.path.isfile(path):
            anomalies = anomalies_pb2.Anomalies()
            with open(path, "rb") as handle:
                anomalies.ParseFromString(handle.read())
            found[split_dir[len("Split-"):]] = {
                feature: info.description for feature, info in anomalies.anomaly_info.items()}
    return found


def training_result(model_uri: str) -> Optional[dict]:
    """The Trainer's eval metrics at the epoch whose weights were kept (best mean IoU)."""
    saved = read_json(os.path.join(model_uri, HISTORY_FILE))
    if saved is None:
        return None
    metrics, kept = saved["metrics"], saved["kept_epoch"]
    return {"epochs": len(metrics["loss"]), "kept_epoch": kept,
            "eval_pixel_accuracy": metrics["val_pixel_accuracy"][kept - 1],
            "eval_mean_iou": metrics["val_mean_iou"][kept - 1],
            "majority_class_baseline": saved["majority_class_baseline"]}


def run_summary_path(config: PipelineConfig) -> str:
    return os.path.join(config.output_dir, RUN_SUMMARY_FILE)


def load_run_summary(config: PipelineConfig) -> Optional[dict]:
    """OUTPUT/run_summary.json of the latest run, or None before the first complete run."""
    return read_json(run_summary_path(config))


def _number(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"


def format_metrics_table(summary: dict) -> str:
    """The latest run's metrics: one row per slice, one column per metric and class."""
    overall = summary["metrics"]["overall"]
    classes = list(overall.get("iou", {}))
    header = (["slice", "pixel acc", "mean IoU"] + [f"IoU {c}" for c in classes]
              + [f"Dice {c}" for c in classes])
    rows = []
    slices = summary["metrics"]["slices"]
    for name, values in [("overall", overall)] + [(n, slices[n]) for n in slice_order(slices)]:
        rows.append([name, _number(values.get("pixel_accuracy")), _number(values.get("mean_iou"))]
                    + [_number(values.get("iou", {}).get(c)) for c in classes]
                    + [_number(values.get("dice", {}).get(c)) for c in classes])
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    blessing = summary["blessing"]
    lines.append("")
    lines.append(f"{'BLESSED' if blessing['blessed'] else 'NOT blessed'}: {blessing['reason']}")
    lines.append(f"pushed: {summary['pushed_model'] or 'nothing'}; report: {summary['report']}")
    return "\n".join(lines)


def describe_latest_run(config: PipelineConfig) -> str:
    """Lines for the terminal: where each output is, and the data-quality verdict."""
    artifacts = latest_artifacts(config)
    lines = [f"pipeline {config.output.pipeline_name}: outputs under {config.output_dir}"]
    for type_name, artifact in sorted(artifacts.items()):
        span = artifact.custom_properties.get("span")
        suffix = f" (span {span.int_value})" if span is not None else ""
        lines.append(f"  {type_name}: {artifact.uri}{suffix}")
    examples = artifacts.get("TfdsExampleGen.Examples")
    report = quality_report(examples.uri) if examples else None
    if report:
        lines.append(f"  data quality: {report['good']} good, {report['bad']} bad "
                     f"({report['bad_fraction']:.2%}) per split {report['good_per_split']}; "
                     f"{os.path.join(examples.uri, REPORT_FILE)}")
    model = artifacts.get("Trainer.Model")
    result = training_result(model.uri) if model else None
    if result:
        lines.append(f"  training: {result['epochs']} epochs, kept epoch {result['kept_epoch']}: eval "
                     f"pixel accuracy {result['eval_pixel_accuracy']:.3f}, mean IoU "
                     f"{result['eval_mean_iou']:.3f} (predicting the majority class everywhere: "
                     f"{result['majority_class_baseline']['pixel_accuracy']:.3f}, "
                     f"{result['majority_class_baseline']['mean_iou']:.3f}); layers that train: "
                     f"{os.path.join(model.uri, SUMMARY_FILE + '.txt')}")
    summary = load_run_summary(config)
    if summary:
        blessing = summary["blessing"]
        lines.append(f"  evaluation: {'BLESSED' if blessing['blessed'] else 'NOT blessed'}: {blessing['reason']}")
        lines.append(f"  pushed: {summary['pushed_model'] or 'nothing (not blessed)'}")
        lines.append(f"  report: {summary['report']}")
        lines.append(f"  run summary: {run_summary_path(config)}")
    validator = artifacts.get("ExampleValidator.ExampleAnomalies")
    if validator:
        findings = {s: f for s, f in anomalies_by_split(validator.uri).items() if f}
        lines.append(f"  schema anomalies: {findings or 'none'}")
    return "\n".join(lines)
