"""What the last run produced, read back from the metadata store (MLMD), and its exports.

The store is the source of truth of a TFX run: it records every artifact with its URI and the
span it came from, including the ones a cached run reused rather than wrote again. After a
local run, the RunReport artifact's summary and report are copied to OUTPUT/run_summary.json
and OUTPUT/report/ (`export_run_report`): components write only into their artifacts, so the
copy is the runner's job, and it runs whether RunReport executed or came from the cache.
"""

import json
import os
import shutil
from typing import Dict, Optional, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.orchestration import metadata
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

from components.shared import atomic
from components.shared.json_files import read_json
from contract.names import (
    DATA_QUALITY_REPORT,
    HISTORY_FILE,
    REPORT_DIR,
    REPORT_INDEX,
    RUN_REPORT_TYPE_NAME,
    RUN_SUMMARY,
)
from pipeline.config import PipelineConfig
from pipeline.run_summary import summary_path

_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
# What a Resolver node found is recorded as its execution's internal outputs.
_NODE_OUTPUT_EVENTS = (*_OUTPUT_EVENTS, metadata_store_pb2.Event.INTERNAL_OUTPUT)


def latest_artifacts(config: PipelineConfig) -> Dict[str, Artifact]:
    """The newest live artifact of each component output, keyed 'Component.Type'.

    Every TFX node has a 'node' context in MLMD ('<pipeline>.<node id>'); the output events of
    its executions name what it produced, including outputs a cached run reused.
    """
    connection = metadata.sqlite_metadata_connection_config(config.metadata_path)
    store = metadata_store.MetadataStore(connection)
    types = {t.id: t for t in store.get_artifact_types()}
    prefix = config.output.pipeline_name + "."
    latest: Dict[str, Artifact] = {}
    for context in store.get_contexts_by_type("node"):
        if not context.name.startswith(prefix):
            continue
        node = context.name[len(prefix) :]
        executions = [e.id for e in store.get_executions_by_context(context.id)]
        produced = {
            event.artifact_id
            for event in store.get_events_by_execution_ids(executions)
            if event.type in _OUTPUT_EVENTS
        }
        for found in store.get_artifacts_by_id(sorted(produced)):
            key = f"{node}.{types[found.type_id].name}"
            if found.state == found.LIVE and (key not in latest or found.id > latest[key].id):
                latest[key] = artifact_utils.deserialize_artifact(types[found.type_id], found)
    return latest


def node_outputs(config: PipelineConfig, node: str) -> Tuple[str, Dict[str, Artifact]]:
    """How a node's latest execution ended (MLMD's state name: COMPLETE, CACHED, FAILED, ...)
    and its output artifacts by type name ({} before it ever ran; a Resolver's: what it found)."""
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(config.metadata_path))
    context = store.get_context_by_type_and_name("node", f"{config.output.pipeline_name}.{node}")
    executions = store.get_executions_by_context(context.id) if context else []
    if not executions:
        return "NEW", {}
    latest = max(executions, key=lambda execution: execution.id)
    produced = [
        e.artifact_id for e in store.get_events_by_execution_ids([latest.id]) if e.type in _NODE_OUTPUT_EVENTS
    ]
    types = {t.id: t for t in store.get_artifact_types()}
    artifacts = {
        types[found.type_id].name: artifact_utils.deserialize_artifact(types[found.type_id], found)
        for found in store.get_artifacts_by_id(produced)
    }
    return metadata_store_pb2.Execution.State.Name(latest.last_known_state), artifacts


def quality_report(examples: Artifact) -> Optional[dict]:
    return read_json(os.path.join(examples.uri, DATA_QUALITY_REPORT))


def anomalies_by_split(anomalies: Artifact) -> Dict[str, Dict[str, str]]:
    """ExampleValidator's findings: {split: {feature: description}} (empty when clean)."""
    found: Dict[str, Dict[str, str]] = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), "SchemaDiff.pb")
        if os.path.isfile(path):
            proto = anomalies_pb2.Anomalies()
            with open(path, "rb") as handle:
                proto.ParseFromString(handle.read())
            found[split] = {feature: info.description for feature, info in proto.anomaly_info.items()}
    return found


def training_result(model: Artifact) -> Optional[dict]:
    """The Trainer's epochs and its validation metrics at the epoch whose weights were kept."""
    saved = read_json(os.path.join(model.uri, HISTORY_FILE))
    if saved is None:
        return None
    metrics, kept = saved["metrics"], saved["kept_epoch"]
    calibration = saved.get("class_calibration")
    return {
        "epochs": len(metrics["loss"]),
        "kept_epoch": kept,
        "validation_pixel_accuracy": metrics["val_pixel_accuracy"][kept - 1],
        "validation_mean_iou": metrics["val_mean_iou"][kept - 1],
        "calibrated_validation_mean_iou": calibration["validation_mean_iou_after"] if calibration else None,
        "flip_tta": bool(saved.get("flip_tta")),
    }


def validation_mean_iou_text(result: dict) -> str:
    """The kept epoch's validation mean IoU, and the exported model's after the class offsets
    (fitted to the flip-averaged logits with --flip-tta, which the text then names)."""
    text = f"validation mean IoU {result['validation_mean_iou']:.3f}"
    calibrated = result.get("calibrated_validation_mean_iou")
    if calibrated is None:
        return text
    flip = "test-time flip and " if result.get("flip_tta") else ""
    return text + f", {calibrated:.3f} with {flip}class offsets"


def export_run_report(config: PipelineConfig) -> Optional[str]:
    """Copies the latest RunReport's summary and report to OUTPUT/, each replaced whole.

    The exported summary names the exported report. Returns the summary's path, or None when
    no RunReport artifact exists yet.
    """
    if not os.path.isfile(config.metadata_path):
        return None
    report = latest_artifacts(config).get(f"RunReport.{RUN_REPORT_TYPE_NAME}")
    if report is None:
        return None
    target = os.path.join(config.output_dir, REPORT_DIR)
    with atomic.staged_directory(config.output_dir) as staging:
        shutil.copytree(os.path.join(report.uri, REPORT_DIR), staging, dirs_exist_ok=True)
        atomic.replace_directory(staging, target)
    summary = read_json(os.path.join(report.uri, RUN_SUMMARY)) or {}
    summary["report"] = os.path.join(target, REPORT_INDEX)
    path = summary_path(config.output_dir)
    atomic.write_file(path, json.dumps(summary, indent=2).encode())
    return path
