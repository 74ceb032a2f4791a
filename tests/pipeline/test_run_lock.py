"""The output directory's run lock: a second run refuses (or waits), a dead holder frees it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.run_lock import LOCK_FILE, RunLockedError, run_lock
from tests.helpers import REPO_ROOT

HOLD = """
import sys, time
from pipeline.run_lock import run_lock
with run_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(output_dir):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(output_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_refuses_naming_the_lock_and_the_holder(tmp_path, capsys):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(RunLockedError) as error, run_lock(str(tmp_path)):
            pass
        assert str(tmp_path / LOCK_FILE) in str(error.value) and f"pid {holder.pid}" in str(error.value)
        code = cli.main(["run", "--output", str(tmp_path), "--encoder-weights", "none"])
        assert code == cli.EXIT_BUSY and LOCK_FILE in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_stale_lock_and_waiters_get_their_turn(tmp_path):
    holder = _holder(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run_lock(str(tmp_path)) as path:  # free again at once
        assert Path(path).read_text() == str(os.getpid())
    holder = _holder(tmp_path)
    started = time.monotonic()
    subprocess.Popen(["sh", "-c", f"sleep 1; kill {holder.pid}"])
    with run_lock(str(tmp_path), wait=True):
        assert time.monotonic() - started > 0.5  # it waited for the holder to go
    holder.wait()
