"""Runs the pipeline on TFX's LocalDagRunner, with SQLite metadata under the output directory.

`segpipe run` and `segpipe retrain` reach `run(config)` through run_session.run_and_report, as
does `tfx run create` through pipeline/local_runner.py (the script TFX's CLI executes).
"""

import contextlib
import os
from typing import List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base.base_node import BaseNode

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.run_outputs import export_run_report
from pipeline.run_view import RunListener, RunView


def run(
    config: PipelineConfig, components: Optional[List[BaseNode]] = None, view: Optional[RunView] = None
) -> None:
    """Runs the pipeline's components (all of them by default) locally, cached outputs reused,
    showing them on `view` if given, then copies the run's summary and report to OUTPUT/."""
    os.makedirs(config.output_dir, exist_ok=True)
    pipeline = create_pipeline(config, components=components)
    with RunListener(view) if view else contextlib.nullcontext():
        tfx.orchestration.LocalDagRunner().run(pipeline)
    export_run_report(config)
