"""`segpipe retrain`: train again only when a new span (or changed data) has arrived.

TFX's cache already skips every component whose inputs did not change, but a retraining run
warm-starts the Trainer from the latest blessed model, and that model changes whenever a run
pushes: left to the cache alone, the run after a push would train again on the same data. So
retraining first compares the input it would read now (span and fingerprint, resolved exactly
as the ExampleGen's driver resolves them) with the input of the last ExampleGen output that a
Trainer trained on, as recorded in the metadata store; when they match there is nothing to do.
That makes the command idempotent, so cron or a systemd timer can call it every hour.
"""

import os
from typing import Optional, Tuple

from components.tfds_example_gen.driver import TfdsInputProcessor
from pipeline.config import PipelineConfig
from pipeline.run_outputs import latest_artifacts

Identity = Tuple[int, Optional[str]]


def _download_identity(config: PipelineConfig) -> str:
    """Without a local data dir, TFDS's builder and version are what identifies the input."""
    return f"tfds:{config.dataset.name}:{config.dataset.version}"


def current_input(config: PipelineConfig) -> Identity:
    """(span, fingerprint) of what ExampleGen would read now."""
    processor = TfdsInputProcessor(config.dataset.data_dir, splits=[])
    span, version = processor.resolve_span_and_version()
    fingerprint = processor.get_input_fingerprint(span, version) or _download_identity(config)
    return span, fingerprint


def last_trained_input(config: PipelineConfig) -> Optional[Identity]:
    """(span, fingerprint) of the examples behind the latest trained model, if any."""
    if not os.path.isfile(config.metadata_path):
        return None
    artifacts = latest_artifacts(config)
    examples, model = artifacts.get("TfdsExampleGen.Examples"), artifacts.get("Trainer.Model")
    if examples is None or model is None or model.id < examples.id:
        return None
    span = examples.get_int_custom_property("span")
    fingerprint = examples.get_string_custom_property("input_fingerprint") or _download_identity(config)
    return span, fingerprint


def needs_training(config: PipelineConfig) -> Tuple[bool, str]:
    """Whether a retraining run has new data to train on, and why, in words."""
    now, before = current_input(config), last_trained_input(config)
    if before is None:
        return True, f"no model trained yet; training on span {now[0]}"
    if now == before:
        return False, f"span {now[0]} unchanged since the last training (same files); nothing to do"
    if now[0] != before[0]:
        return True, f"new span {now[0]} (last trained on span {before[0]})"
    return True, f"span {now[0]} changed since the last training"
