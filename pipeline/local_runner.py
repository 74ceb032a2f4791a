"""Runs the pipeline on TFX's LocalDagRunner, with SQLite metadata under the output directory.

`segpipe run` calls `run(config)`. The file is also the `--pipeline_path` of
`tfx pipeline create --engine local`, which executes it as __main__: it then reads its config
from the file named by $SEGPIPE_CONFIG (YAML/JSON, as for `segpipe --config`), and calls
LocalDagRunner().run exactly once, as that CLI requires.
"""

import contextlib
import os
import sys
from typing import List, Optional

if __name__ == "__main__":  # run as a script: its own folder would shadow the `pipeline` package
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from tfx import v1 as tfx
from tfx.dsl.components.base.base_node import BaseNode

from pipeline.config import PipelineConfig, build_config, load_file
from pipeline.pipeline import create_pipeline
from pipeline.run_lock import run_lock
from pipeline.run_outputs import export_run_report
from pipeline.run_view import RunListener, RunView

CONFIG_ENV = "SEGPIPE_CONFIG"


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


if __name__ == "__main__":
    from pipeline.run_session import run_and_report

    config_file = os.environ.get(CONFIG_ENV)
    settings = build_config(load_file(config_file) if config_file else None)
    with run_lock(settings.output_dir, wait=True):  # tfx run create queues behind segpipe runs
        sys.exit(run_and_report(settings, "tfx run create"))
