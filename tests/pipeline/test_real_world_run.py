"""The whole DAG on data shaped like real downloads, with the default multi-process Beam runner.

`segpipe make-data --real-world` builds every record and list-file case of datagen/real_world.py
(phone photos stored rotated, palette and 16-bit trimaps, names with spaces, blank and '#' lines,
a BOM, CRLF, another breed numbering, dangling symlinks); `segpipe run` must train, evaluate and
push on it, keep every usable record, and print no Python traceback or exception notice, not
even the one TensorFlow raises while Beam's worker processes exit.
"""

import json
import os
import subprocess
import sys

import pytest

from contract.names import RUN_SUMMARY
from tests.helpers import BLESS_ANY_MODEL, REPO_ROOT, TINY_RUN_FLAGS

pytestmark = pytest.mark.e2e


def _segpipe(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_a_run_on_real_world_shaped_data_keeps_every_usable_record_and_prints_no_traceback(tmp_path):
    data, out = str(tmp_path / "data"), str(tmp_path / "out")
    made = _segpipe("make-data", data, "--train", "16", "--test", "8", "--seed", "3", "--real-world")
    assert made.returncode == 0, made.stderr[-2000:]
    cases = json.loads(made.stdout)["real_world"]

    run = _segpipe(
        "run",
        "--data-dir",
        data,
        "--output",
        out,
        *TINY_RUN_FLAGS,
        *BLESS_ANY_MODEL,
    )
    printed = run.stdout + run.stderr
    assert run.returncode == 0, printed[-3000:]
    assert "Traceback" not in printed and "Exception ignored" not in printed

    with open(os.path.join(out, RUN_SUMMARY)) as handle:
        quality = json.load(handle)["data_quality"]
    assert quality["bad"] == len(cases["dangling_symlink_listed"]) == 1
    assert quality["good"] == 16 + 8  # every generated entry, whatever its shape
    assert quality["notes"]["images_exif_oriented"] == 2 and quality["notes"]["names_with_spaces"] == 1
