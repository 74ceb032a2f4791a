"""The DAG end to end on the local orchestrator, through `segpipe run`, on tiny offline data."""

import os
import re

import pytest

from contract.names import DATA_QUALITY_REPORT
from pipeline import cli
from pipeline.config import build_config
from pipeline.run_outputs import anomalies_by_split, latest_artifacts

pytestmark = pytest.mark.e2e

# The DAG's order as TFX runs it; what a rerun on the same input takes from the cache.
DAG_ORDER = [
    "ImportSchemaGen",
    "TfdsExampleGen",
    "latest_blessed_model_resolver",
    "StatisticsGen",
    "Transform",
    "ExampleValidator",
    "Trainer",
    "Evaluator",
    "Pusher",
    "RunReport",
]
UPSTREAM = {"ImportSchemaGen", "TfdsExampleGen", "StatisticsGen", "Transform", "ExampleValidator", "Trainer"}
EXPECTED_OUTPUTS = {
    "TfdsExampleGen.Examples",
    "StatisticsGen.ExampleStatistics",
    "ImportSchemaGen.Schema",
    "ExampleValidator.ExampleAnomalies",
    "Transform.TransformGraph",
    "Transform.Examples",
    "Trainer.Model",
}


def test_segpipe_run_executes_the_dag_and_caches_an_unchanged_rerun(pristine_dataset, tmp_path, capsys):
    os.symlink(pristine_dataset, tmp_path / "span-1")
    out = str(tmp_path / "out")
    argv = [
        "run",
        "--data-dir",
        str(tmp_path / "span-{SPAN}"),
        "--output",
        out,
        "--encoder-weights",
        "none",
        "--beam-mode",
        "in_memory",
        "--image-size",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "8",
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    _assert_run_view(printed, "done")
    assert "TfdsExampleGen done" in printed and "24 records kept (eval 8, train 16), 0 left out" in printed
    assert "ExampleValidator done" in printed and "no schema anomalies" in printed

    config = build_config(overrides={("output", "output_dir"): out})
    artifacts = latest_artifacts(config)
    assert set(artifacts) >= EXPECTED_OUTPUTS
    examples = artifacts["TfdsExampleGen.Examples"]
    assert examples.get_int_custom_property("span") == 1
    assert os.path.isfile(os.path.join(examples.uri, DATA_QUALITY_REPORT))
    assert {"train", "eval"} == set(anomalies_by_split(artifacts["ExampleValidator.ExampleAnomalies"]))
    model_dir = artifacts["Trainer.Model"].uri
    for name in (
        "Format-Serving/saved_model.pb",
        "Format-Keras/weights.index",
        "history.json",
        "trainable_layers.txt",
    ):
        assert os.path.isfile(os.path.join(model_dir, name)), name
    assert "training: 1 epochs, kept epoch 1" in printed and "training epoch 1/1 in" in printed

    assert cli.main(argv) == 0  # same input: every component is served from the cache
    again = latest_artifacts(config)
    assert {name: a.id for name, a in again.items()} == {name: a.id for name, a in artifacts.items()}
    _assert_run_view(capsys.readouterr().out, "cached")


def _assert_run_view(printed: str, upstream: str) -> None:
    """Plain mode (not a terminal): timestamped lines, one per event, each node in DAG order,
    the log file named first and last and holding the libraries' output, no control characters."""
    lines = printed.splitlines()
    assert len(lines) <= 60 and not any(c in printed for c in "\x1b\r")
    ended = [re.match(r"\d\d:\d\d:\d\d [✓↺✗] (\w+) (done|cached|failed)", line) for line in lines]
    ended = [(m.group(1), m.group(2)) for m in ended if m]
    assert [node for node, _ in ended] == DAG_ORDER
    assert all(state == upstream for node, state in ended if node in UPSTREAM)
    log_path = lines[1].split("libraries' log: ")[1]
    assert lines[-1] == f"  log: {log_path}"
    with open(log_path, encoding="utf-8") as handle:
        assert "Component Trainer is running." in handle.read()
