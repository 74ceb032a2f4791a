"""`segpipe retrain`: train again only when a new span (or changed data) has arrived.

TFX's cache already skips every component whose inputs did not change, but a retraining run
warm-starts the Trainer from the latest blessed model, and that model changes whenever a run
pushes. Inside the DAG the TrainingGate (components/training_gate/) keeps the run after a push
from training again on the same data; this check before the run is the fast path: it compares
the input it would read now (span, version and fingerprint, resolved by the ExampleGen's own
driver code) with the input of the last ExampleGen output that a Trainer trained on, as
recorded in the metadata store, and when they match says so without starting TensorFlow or
the pipeline. That makes the command idempotent and cheap, so cron or a systemd timer can call
it every hour.
"""

import os
from typing import List, Optional, Tuple

from tfx.types import artifact_utils

from components.tfds_example_gen.driver import resolve_input
from contract.names import EVAL_SPLIT, TRAIN_SPLIT
from pipeline.config import PipelineConfig
from pipeline.run_outputs import latest_artifacts

# (span, version, fingerprint) of an ExampleGen input.
Identity = Tuple[int, Optional[int], str]


def _download_identity(config: PipelineConfig) -> str:
    """Without a local data dir, TFDS's builder and version are what identifies the input."""
    return f"tfds:{config.dataset.name}:{config.dataset.version}"


def current_input(config: PipelineConfig, split_names: List[str]) -> Identity:
    """(span, version, fingerprint) of what ExampleGen would read now, for these output splits
    (the fingerprint names them)."""
    span, version, fingerprint = resolve_input(config.dataset.data_dir, split_names)
    return span, version, fingerprint or _download_identity(config)


def last_trained_input(config: PipelineConfig) -> Optional[Tuple[Identity, List[str]]]:
    """(span, version, fingerprint) of the examples behind the latest trained model, if any, and
    their split names."""
    if not os.path.isfile(config.metadata_path):
        return None
    artifacts = latest_artifacts(config)
    examples, model = artifacts.get("TfdsExampleGen.Examples"), artifacts.get("Trainer.Model")
    if examples is None or model is None or model.id < examples.id:
        return None
    span = examples.get_int_custom_property("span")
    version = examples.get_int_custom_property("version") if examples.has_custom_property("version") else None
    fingerprint = examples.get_string_custom_property("input_fingerprint") or _download_identity(config)
    return (span, version, fingerprint), artifact_utils.decode_split_names(examples.split_names)


def needs_training(config: PipelineConfig) -> Tuple[bool, str]:
    """Whether a retraining run has new data to train on, and why, in words."""
    last = last_trained_input(config)
    if last is None:
        span = current_input(config, [TRAIN_SPLIT, EVAL_SPLIT])[0]
        return True, f"no model trained yet; training on span {span}"
    before, split_names = last
    now = current_input(config, split_names)
    if now == before:
        return False, f"span {now[0]} unchanged since the last training (same files); nothing to do"
    if now[0] != before[0]:
        return True, f"new span {now[0]} (last trained on span {before[0]})"
    if now[1] != before[1]:
        return True, f"new version {now[1]} of span {now[0]} (last trained on version {before[1]})"
    return True, f"span {now[0]} changed since the last training"
