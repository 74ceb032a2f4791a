"""The same DAG through TFX's own CLI: `tfx pipeline create` then `tfx run create`, local engine."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from serving.model_layout import versions
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.e2e

TFX = os.path.join(os.path.dirname(sys.executable), "tfx")


def test_tfx_cli_creates_and_runs_the_pipeline_and_a_model_is_pushed(pristine_dataset, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "segpipe.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataset": {"data_dir": pristine_dataset},
                "model": {"image_size": 64, "encoder_weights": "none"},
                "training": {"epochs": 1, "batch_size": 8},
                "evaluation": {"min_mean_iou": 0.0},
                "beam": {"direct_running_mode": "in_memory"},
                "output": {"output_dir": str(out), "pipeline_name": "tfx-cli-test"},
            }
        )
    )
    env = dict(
        os.environ, SEGPIPE_CONFIG=str(config), HOME=str(tmp_path), LOCAL_HOME=str(tmp_path / "tfx-local")
    )

    def tfx(*args):
        done = subprocess.run(
            [TFX, *args, "--engine", "local"],
            cwd=REPO_ROOT,
            env=env,
            text=True,
            capture_output=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    assert "created successfully" in tfx("pipeline", "create", "--pipeline_path", "pipeline/local_runner.py")
    assert os.path.isfile(tmp_path / "tfx-local" / "tfx-cli-test" / "pipeline_args.json")
    tfx("run", "create", "--pipeline_name", "tfx-cli-test")

    assert versions(str(out / "serving" / "segmenter")) == [1]
    with open(out / "run_summary.json") as handle:
        summary = json.load(handle)
    assert summary["pushed_version"] == 1 and summary["blessing"]["blessed"]
