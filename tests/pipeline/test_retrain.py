"""`segpipe retrain` three times: a first span, the same data again, then a new span; between
them, the DAG's own TrainingGate holds back a warm-started `segpipe run` on the same data (what a
scheduled Vertex run does, with no check before the run)."""

import json
import os

import pytest

from pipeline import cli
from pipeline.config import build_config
from pipeline.run_outputs import latest_artifacts
from pipeline.run_summary import load_summary
from serving.model_layout import versions
from tests.helpers import SMALL_FLAGS

pytestmark = pytest.mark.e2e


def test_retrain_trains_on_new_spans_only_and_warm_starts_from_the_blessed_model(
    pristine_dataset, tmp_path, capsys
):
    spans = tmp_path / "deliveries"
    spans.mkdir()
    os.symlink(pristine_dataset, spans / "span-1")
    out = str(tmp_path / "out")
    argv = [
        "retrain",
        "--data-dir",
        str(spans / "span-{SPAN}"),
        "--output",
        out,
        *SMALL_FLAGS,
    ]
    config = build_config(overrides={("output", "output_dir"): out})
    base = os.path.join(config.serving_root, config.push.model_name)

    assert cli.main(argv) == 0
    assert "no model trained yet" in capsys.readouterr().out
    first = load_summary(config.output_dir)
    assert first["span"] == 1 and first["pushed_version"] == 1 and versions(base) == [1]
    first_model = latest_artifacts(config)["Trainer.Model"]

    assert cli.main(argv) == 0  # same data: nothing retrains
    assert "unchanged since the last training" in capsys.readouterr().out
    assert latest_artifacts(config)["Trainer.Model"].id == first_model.id

    # The same data again, without retrain's check: the resolver now returns the model just
    # pushed (a new Trainer input), and the gate in the DAG keeps it from training again.
    assert cli.main(["run", "--warm-start-from-blessed", "yes", *argv[1:]]) == 0
    shown = capsys.readouterr().out
    assert "TrainingGate done" in shown and "nothing new: the latest blessed model was trained on" in shown
    for node in ("Trainer", "Evaluator", "Pusher", "TfliteExport", "RunReport"):
        assert f"– {node} skipped: the TrainingGate found nothing new to train on" in shown
    assert "nothing trained, evaluated or pushed: nothing new" in shown
    assert latest_artifacts(config)["Trainer.Model"].id == first_model.id and versions(base) == [1]
    assert load_summary(config.output_dir)["pushed_version"] == 1

    os.symlink(pristine_dataset, spans / "span-2")  # a new delivery arrives
    assert cli.main(argv) == 0
    assert "new span 2 (last trained on span 1)" in capsys.readouterr().out
    second_model = latest_artifacts(config)["Trainer.Model"]
    assert second_model.id != first_model.id
    with open(os.path.join(second_model.uri, "history.json")) as handle:
        warm_start = json.load(handle)["warm_started_from"]
    assert warm_start and warm_start.startswith(first_model.uri)  # from version 1's model
    with open(os.path.join(second_model.uri, "history.json")) as handle:
        assert json.load(handle)["trained_on"]["train_files"][0].endswith("Split-train/*")
    second = load_summary(config.output_dir)
    assert second["span"] == 2
    assert second["blessing"]["baseline_mean_iou"] == first["metrics"]["overall"]["mean_iou"]
    if second["blessing"]["blessed"]:
        assert second["pushed_version"] == 2 and versions(base) == [1, 2]
    else:
        assert second["pushed_model"] is None and versions(base) == [1]
