"""The console a person reads: fast help and metrics, help that fits each command, failures in one
line with paths that exist, and one line (not a traceback) when Google credentials are missing."""

import json
import os
import re
import subprocess
import sys

import pytest

from datagen.faults import inject_faults
from pipeline import cli
from tests.helpers import REPO_ROOT

HEAVY = (
    "tensorflow",
    "tfx",
    "apache_beam",
    "ml_metadata",
    "tensorflow_model_analysis",
    "tensorflow_transform",
)
PROBE = """
import json, sys
from pipeline import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
OLD_OUTPUT = os.path.join(REPO_ROOT, "tests", "data", "old_output")


def _loaded_modules(*argv: str) -> set:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=REPO_ROOT, capture_output=True, text=True
    )
    return set(json.loads(probe.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["run", "--help"],
        ["retrain", "--help"],
        ["summary", "--help"],
        ["metrics", "--help"],
        ["predict", "--help"],
        ["make-data", "--help"],
        ["vertex", "submit", "--help"],
        ["metrics", "--output", OLD_OUTPUT],
        ["metrics", "--output", OLD_OUTPUT, "--json"],
    ],
)
def test_help_and_metrics_import_no_tensorflow_tfx_beam_or_mlmd(argv):
    assert not _loaded_modules(*argv) & set(HEAVY)


def _help(*argv: str, capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    return capsys.readouterr().out


def test_each_command_shows_only_its_own_flags_with_defaults_as_a_user_types_them(capsys):
    run = _help("run", capsys=capsys)
    assert "--epochs" in run and "--data-dir" in run
    assert "--vertex-project" not in run and "--cron" not in run and "vertex settings" not in run
    assert "(default: OUTPUT/serving)" in run and "(default: OUTPUT/tfds)" in run
    assert "site-packages" not in run and REPO_ROOT not in run
    vertex = _help("vertex", "schedule", capsys=capsys)
    assert "--vertex-project" in vertex and "--cron" in vertex and "vertex settings" in vertex
    metrics = _help("metrics", capsys=capsys)
    assert "--output" in metrics and "--epochs" not in metrics and "--data-dir" not in metrics
    summary = _help("summary", capsys=capsys)
    assert "--model" in summary and "--serving-root" not in summary
    for text in (run, vertex, metrics, summary):
        for group in re.findall(r"^(\w+) settings:", text, flags=re.M):
            assert text.count(f"{group} settings:") == 1  # one group per section


@pytest.mark.slow
def test_a_failed_gate_says_which_component_why_and_where_and_every_path_exists(dataset, tmp_path, capsys):
    inject_faults(dataset, per_kind=1, seed=2)
    out = str(tmp_path / "out")
    code = cli.main(["run", "--data-dir", dataset, "--output", out, "--beam-mode", "in_memory"])
    printed = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in printed.out + printed.err
    # In a real process the libraries' lines go to the log (fds 1 and 2 point there); under
    # pytest's capture some reach it, so only segpipe's own lines are counted.
    failed, logged = [line for line in printed.err.splitlines() if line.startswith("segpipe run:")]
    assert failed.startswith("segpipe run: failed: TfdsExampleGen: 8 of 24 records")
    assert logged.startswith("segpipe run: log: ")
    paths = re.findall(r"(/\S+\.(?:json|log))", printed.err)
    assert len(paths) == 2 and all(os.path.isfile(path) for path in paths), paths
    assert paths[0].startswith(os.path.join(out, "data_quality"))
    with open(paths[1], encoding="utf-8") as handle:
        assert "Traceback" in handle.read()  # the details are in the log, not on the console
    assert "✗ TfdsExampleGen failed after" in printed.out


@pytest.mark.slow
def test_vertex_submit_without_credentials_is_one_line_saying_how_to_log_in(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "NO_GCE_CHECK": "True"}
    argv = [
        "vertex",
        "submit",
        "--vertex-project",
        "my-project",
        "--gcs-root",
        "gs://segpipe-bucket/runs",
        "--image-uri",
        "us-central1-docker.pkg.dev/my-project/segpipe/segpipe:1",
        "--output",
        str(tmp_path / "o"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("segpipe vertex submit:")]
    assert "no Google Cloud credentials" in line and "gcloud auth application-default login" in line
