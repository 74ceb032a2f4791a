"""The DAG end to end on the local orchestrator, through `segpipe run`, on tiny offline data."""

import json
import os
import re

import pytest
import tensorflow as tf
from tfx.types import artifact_utils

from contract.names import DATA_QUALITY_REPORT, TFLITE_MODEL_TYPE_NAME, TFLITE_SCORES_FILE
from pipeline import cli
from pipeline.config import build_config
from pipeline.run_outputs import anomalies_by_split, latest_artifacts
from pipeline.run_summary import load_summary
from tests.helpers import IN_PROCESS_BEAM, TINY_RUN_FLAGS, TRAINING_OUTPUTS

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
    "TfliteExport",
    "RunReport",
]
UPSTREAM = {"ImportSchemaGen", "TfdsExampleGen", "StatisticsGen", "Transform", "ExampleValidator", "Trainer"}


def test_segpipe_run_executes_the_dag_and_caches_an_unchanged_rerun(pristine_dataset, tmp_path, capsys):
    os.symlink(pristine_dataset, tmp_path / "span-1")
    out = str(tmp_path / "out")
    argv = [
        "run",
        "--data-dir",
        str(tmp_path / "span-{SPAN}"),
        "--output",
        out,
        *TINY_RUN_FLAGS,
        *IN_PROCESS_BEAM,
    ]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    _assert_run_view(printed, "done")
    assert "TfdsExampleGen done" in printed
    kept = re.search(r"24 records kept \(eval 8, train (\d+), validation (\d+)\), 0 left out", printed)
    assert kept and int(kept[1]) + int(kept[2]) == 16 and int(kept[2]) >= 1, printed
    assert "ExampleValidator done" in printed and "no schema anomalies" in printed

    config = build_config(overrides={("output", "output_dir"): out})
    artifacts = latest_artifacts(config)
    assert set(artifacts) >= TRAINING_OUTPUTS
    examples = artifacts["TfdsExampleGen.Examples"]
    assert examples.get_int_custom_property("span") == 1
    assert os.path.isfile(os.path.join(examples.uri, DATA_QUALITY_REPORT))
    assert {"train", "validation", "eval"} == set(
        anomalies_by_split(artifacts["ExampleValidator.ExampleAnomalies"])
    )
    _assert_eval_never_reaches_training(artifacts)
    model_dir = artifacts["Trainer.Model"].uri
    for name in (
        "Format-Serving/saved_model.pb",
        "Format-Keras/weights.index",
        "history.json",
        "trainable_layers.txt",
    ):
        assert os.path.isfile(os.path.join(model_dir, name)), name
    trained = (
        r"training: 1 epochs, kept epoch 1 \(validation mean IoU \d\.\d{3}, \d\.\d{3} with class offsets\)"
    )
    assert re.search(trained, printed) and "training epoch 1/1 in" in printed, printed
    _assert_phone_model(artifacts, config, printed)

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


def _names(examples, split: str) -> set:
    files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*.gz"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return {
        tf.train.Example.FromString(r.numpy()).features.feature["file_name"].bytes_list.value[0]
        for r in records
    }


def _assert_eval_never_reaches_training(artifacts) -> None:
    """Three disjoint splits; Transform and the Trainer read train and validation only, so no eval
    example reaches training or early stopping (the Evaluator alone reads eval)."""
    examples = artifacts["TfdsExampleGen.Examples"]
    train, validation, evaluation = (_names(examples, split) for split in ("train", "validation", "eval"))
    assert len(evaluation) == 8 and len(train) + len(validation) == 16 and validation
    assert not (train & validation) and not (evaluation & (train | validation))
    transformed = artifacts["Transform.Examples"]
    assert set(artifact_utils.decode_split_names(transformed.split_names)) == {"train", "validation"}
    with open(os.path.join(artifacts["Trainer.Model"].uri, "history.json")) as handle:
        history = json.load(handle)
    assert (history["train_examples"], history["validation_examples"]) == (len(train), len(validation))


def _assert_phone_model(artifacts, config, printed: str) -> None:
    """TfliteExport converted and scored both variants on every eval image, the run summary and
    the console say which ships and why, and it went beside the SavedModel only if that did."""
    tflite = artifacts[f"TfliteExport.{TFLITE_MODEL_TYPE_NAME}"]
    with open(os.path.join(tflite.uri, TFLITE_SCORES_FILE)) as handle:
        scores = json.load(handle)
    assert {name: values["eval_images"] for name, values in scores["variants"].items()} == {
        "float16": 8,
        "int8": 8,
    }
    summary = load_summary(config.output_dir)
    assert summary["tflite"]["gate"] == scores["gate"] and scores["gate"]["shipped"] in ("float16", "int8")
    assert f"phone model (TFLite): {scores['gate']['shipped']} ships" in printed
    phone_base = os.path.join(config.serving_root, "segmenter-tflite")
    if summary["pushed_version"]:
        assert scores["push"]["pushed_model"] == os.path.join(phone_base, str(summary["pushed_version"]))
        assert os.path.isfile(os.path.join(scores["push"]["pushed_model"], "model.tflite"))
    else:
        assert scores["push"]["pushed_model"] is None and not os.path.exists(phone_base)
