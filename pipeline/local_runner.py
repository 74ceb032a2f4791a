"""The `--pipeline_path` of `tfx pipeline create --engine local`: TFX's CLI executes this file as
__main__. It reads its config from the file named by $SEGPIPE_CONFIG (YAML/JSON, as for
`segpipe --config`) and runs the pipeline once with the run view, as `segpipe run` does
(pipeline/dag_run.py calls LocalDagRunner().run exactly once, as that CLI requires).
"""

import os
import sys

if __name__ == "__main__":  # run as a script: its own folder would shadow the `pipeline` package
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from pipeline.config import build_config, load_file
from pipeline.run_lock import run_lock
from pipeline.run_session import run_and_report

CONFIG_ENV = "SEGPIPE_CONFIG"

if __name__ == "__main__":
    config_file = os.environ.get(CONFIG_ENV)
    settings = build_config(load_file(config_file) if config_file else None)
    with run_lock(settings.output_dir, wait=True):  # tfx run create queues behind segpipe runs
        sys.exit(run_and_report(settings, "tfx run create"))
