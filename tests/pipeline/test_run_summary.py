"""`segpipe metrics`' table from run_summary.json: the phone model's line when the run made one."""

import json
import os

from pipeline.run_summary import format_metrics_table

OLD_SUMMARY = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "data", "old_output", "run_summary.json"
)
PHONE_MODEL = {
    "saved_model": {"mean_iou": 0.6049},
    "variants": {"float16": {"mean_iou": 0.6050}, "int8": {"mean_iou": float("nan")}},
    "gate": {"shipped": "float16", "reason": "float16 ships: the mean IoUs cannot be compared"},
    "push": {"pushed_model": "/srv/serving/segmenter-tflite/3", "reason": "pushed as version 3"},
}


def _summary(**extra) -> dict:
    with open(OLD_SUMMARY, encoding="utf-8") as handle:
        return {**json.load(handle), **extra}


def test_the_table_names_the_phone_model_that_ships_its_scores_and_why():
    lines = format_metrics_table(_summary(tflite=PHONE_MODEL)).splitlines()
    assert lines[-2] == (
        "phone model (TFLite): float16 ships (mean IoU: float16 0.6050, int8 n/a, SavedModel 0.6049); "
        "pushed: /srv/serving/segmenter-tflite/3"
    )
    assert lines[-1] == "  float16 ships: the mean IoUs cannot be compared"


def test_a_summary_without_a_phone_model_has_no_such_line():
    assert "phone model" not in format_metrics_table(_summary())
    assert "phone model" not in format_metrics_table(_summary(tflite=None))
