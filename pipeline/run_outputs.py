"""What the last run produced, read back from the metadata store (MLMD).

The store is the source of truth of a TFX run: it records every artifact with its URI and the
span it came from, including the ones a cached run reused rather than wrote again.
"""
import json
import os
from typing import Dict, Optional

from ml_metadata.metadata_store import metadata_store
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.orchestration import metadata

from components.tfds_example_gen.executor import REPORT_FILE
from pipeline.config import PipelineConfig


def latest_artifacts(config: PipelineConfig) -> Dict[str, object]:
    """The newest live artifact of each type in this pipeline's metadata store."""
    connection = metadata.sqlite_metadata_connection_config(config.metadata_path)
    store = metadata_store.MetadataStore(connection)
    latest: Dict[str, object] = {}
    types = {t.id: t.name for t in store.get_artifact_types()}
    for artifact in store.get_artifacts():
        name = types[artifact.type_id]
        if artifact.state == artifact.LIVE and (name not in latest or artifact.id > latest[name].id):
            latest[name] = artifact
    return latest


def quality_report(examples_uri: str) -> Optional[dict]:
    path = os.path.join(examples_uri, REPORT_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


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


def describe_latest_run(config: PipelineConfig) -> str:
    """Lines for the terminal: where each output is, and the data-quality verdict."""
    artifacts = latest_artifacts(config)
    lines = [f"pipeline {config.output.pipeline_name}: outputs under {config.output_dir}"]
    for type_name, artifact in sorted(artifacts.items()):
        span = artifact.custom_properties.get("span")
        suffix = f" (span {span.int_value})" if span is not None else ""
        lines.append(f"  {type_name}: {artifact.uri}{suffix}")
    examples = artifacts.get("Examples")
    report = quality_report(examples.uri) if examples else None
    if report:
        lines.append(f"  data quality: {report['good']} good, {report['bad']} bad "
                     f"({report['bad_fraction']:.2%}) per split {report['good_per_split']}; "
                     f"{os.path.join(examples.uri, REPORT_FILE)}")
    validator = artifacts.get("ExampleAnomalies")
    if validator:
        findings = {s: f for s, f in anomalies_by_split(validator.uri).items() if f}
        lines.append(f"  schema anomalies: {findings or 'none'}")
    return "\n".join(lines)
