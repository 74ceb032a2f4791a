"""What the last run produced, read back from the metadata store (MLMD).

The store is the source of truth of a TFX run: it records every artifact with its URI and the
span it came from, including the ones a cached run reused rather than wrote again.
"""
import json
import os
from typing import Dict, Optional

from ml_metadata.metadata_store import metadata_store
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
    return "\n".join(lines)
