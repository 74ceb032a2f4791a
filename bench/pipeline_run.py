"""The benchmark's pipeline: its config, what it produced, and how long each component took.

One real pipeline run (`bench.where_time_goes`) feeds the later benchmarks: its Transform output
is the Trainer's input in the throughput benchmark and the input of the Beam benchmark, and its
Trainer's model is the one served. Everything is read back from the run's MLMD store, as
`pipeline.run_outputs` does.
"""

import os
from typing import Dict, TypedDict

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.orchestration import metadata

from bench.common import ENCODER_WEIGHTS, Settings
from pipeline.config import PipelineConfig, build_config
from pipeline.run_outputs import latest_artifacts
from trainer.settings import TrainerSettings


class ExecutionTime(TypedDict):
    """One node's newest execution, from its MLMD record."""

    seconds: float  # created -> last updated
    started_ms: int  # milliseconds since the epoch
    ended_ms: int
    state: str  # an MLMD Execution.State name, e.g. "COMPLETE"


def pipeline_config(settings: Settings) -> PipelineConfig:
    """The Trainer's defaults without encoder weights at the benchmark's sizes and batch size
    (the one every throughput comparison of `make bench` uses, the tutorial's included).

    Early stopping is off so the Trainer keeps its last epoch's weights, like the tutorial: with
    it on, the Trainer would keep the epoch that scored best on the validation split, an
    advantage the tutorial does not have.
    """
    return build_config(
        {
            "dataset": {"data_dir": settings.data_dir},
            "model": {"image_size": settings.image_size, "encoder_weights": ENCODER_WEIGHTS},
            "training": {
                "epochs": settings.epochs,
                "batch_size": settings.batch_size,
                "early_stopping_patience": 0,
            },
            "output": {"output_dir": os.path.join(settings.work_dir, "pipeline_out")},
        }
    )


def trainer_settings(config: PipelineConfig) -> TrainerSettings:
    """What the pipeline hands the Trainer (so a model can be rebuilt exactly as it trained)."""
    return TrainerSettings(model=config.model, training=config.training, dataset=config.dataset.name)


def _store(config: PipelineConfig) -> metadata_store.MetadataStore:
    return metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(config.metadata_path))


def artifact(config: PipelineConfig, key: str) -> types.Artifact:
    """The latest 'Component.Type' artifact of the run, as a TFX Artifact (with its properties)."""
    found = latest_artifacts(config)
    if key not in found:
        raise FileNotFoundError(
            f"no {key} in {config.metadata_path}: run `python -m bench.where_time_goes` first"
        )
    return found[key]


def execution_seconds(config: PipelineConfig) -> Dict[str, ExecutionTime]:
    """Per node: wall seconds of its newest execution (MLMD create → last update) and its state."""
    store = _store(config)
    prefix = config.output.pipeline_name + "."
    result: Dict[str, ExecutionTime] = {}
    for context in store.get_contexts_by_type("node"):
        if not context.name.startswith(prefix):
            continue
        executions = store.get_executions_by_context(context.id)
        if not executions:
            continue
        newest = max(executions, key=lambda e: e.id)
        result[context.name[len(prefix) :]] = {
            "seconds": (newest.last_update_time_since_epoch - newest.create_time_since_epoch) / 1000.0,
            "started_ms": newest.create_time_since_epoch,
            "ended_ms": newest.last_update_time_since_epoch,
            "state": metadata_store_pb2.Execution.State.Name(newest.last_known_state),
        }
    return dict(sorted(result.items(), key=lambda item: item[1]["started_ms"]))


def execution_properties(config: PipelineConfig, node: str) -> Dict[str, object]:
    """The exec properties a node's newest execution ran with, as its executor received them."""
    store = _store(config)
    [context] = [
        c for c in store.get_contexts_by_type("node") if c.name == f"{config.output.pipeline_name}.{node}"
    ]
    newest = max(store.get_executions_by_context(context.id), key=lambda e: e.id)
    return {
        name: getattr(value, value.WhichOneof("value"))
        for name, value in newest.custom_properties.items()
        if not name.startswith("__")
    }
