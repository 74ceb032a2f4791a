"""The DAG end to end on the local orchestrator, through `segpipe run`, on tiny offline data."""

import os

import pytest

from contract.names import DATA_QUALITY_REPORT
from pipeline import cli
from pipeline.config import build_config
from pipeline.run_outputs import anomalies_by_split, latest_artifacts

pytestmark = pytest.mark.e2e

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
    assert "data quality: 24 good, 0 bad" in printed and "schema anomalies: none" in printed

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
    assert "training: 1 epochs" in printed

    assert cli.main(argv) == 0  # same input: every component is served from the cache
    again = latest_artifacts(config)
    assert {name: a.id for name, a in again.items()} == {name: a.id for name, a in artifacts.items()}
