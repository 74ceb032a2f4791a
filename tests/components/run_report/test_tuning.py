"""The run summary's "tuning" section and the report's "Hyperparameter search", from the files
TFX's Tuner writes and the Trainer's history.json."""

import json

import keras_tuner

from components.run_report.render import write_report
from components.run_report.tuning import (
    read_best_hyperparameters,
    read_tuner_results,
    trials_of,
    tuning_summary,
)
from tests.components.run_report.test_report import CLASSES, make_metrics

DESCRIPTION = {"source": "search", "algorithm": "random", "max_trials": 3, "epochs_per_trial": 1}
# Rows as TFX writes tuner_results.json: completed trials, best first, with KerasTuner's ids.
RESULTS = [
    {"trial_id": "1", "score": 0.41, "learning_rate": 0.0005, "loss": "focal"},
    {"trial_id": "2", "score": 0.38, "learning_rate": 0.002, "loss": "cross_entropy"},
    {"trial_id": "0", "score": 0.25, "learning_rate": 0.009, "loss": "cross_entropy_dice"},
]


def _tuner_outputs(tmp_path, best_values=None, results=RESULTS):
    """best_hyperparameters/ and tuner_results/ folders as TFX's Tuner executor fills them."""
    hp = keras_tuner.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    hp.Choice("loss", ["cross_entropy", "cross_entropy_dice", "focal"])
    hp.values = {"learning_rate": 0.0005, "loss": "focal", "tuner/epochs": 1, **(best_values or {})}
    best, scores = tmp_path / "best_hyperparameters", tmp_path / "tuner_results"
    best.mkdir()
    scores.mkdir()
    (best / "best_hyperparameters.txt").write_text(json.dumps(hp.get_config()))
    (scores / "tuner_results.json").write_text(json.dumps(results))
    return str(best), str(scores)


def test_the_summary_holds_each_trial_best_first_and_what_the_trainer_applied(tmp_path):
    best, scores = _tuner_outputs(tmp_path)
    history = {"hyperparameters": {"values": {}, "settings": {"learning_rate": 0.0005, "loss": "focal"}}}
    summary = tuning_summary(
        DESCRIPTION,
        read_best_hyperparameters(best),
        read_tuner_results(scores),
        history,
        {"best_hyperparameters": best, "tuner_results": scores},
    )
    assert summary["source"] == "search" and summary["max_trials"] == 3
    assert (summary["objective"], summary["objective_split"]) == ("val_mean_iou", "validation")
    assert summary["best_hyperparameters"] == {"learning_rate": 0.0005, "loss": "focal"}  # no tuner/ entries
    assert summary["best_score"] == 0.41
    assert [(t["trial_id"], t["number"], t["score"]) for t in summary["trials"]] == [
        ("1", 2, 0.41),
        ("2", 3, 0.38),
        ("0", 1, 0.25),
    ]
    assert summary["trials"][0]["values"] == {"learning_rate": 0.0005, "loss": "focal"}
    assert summary["trainer_applied"] == {"learning_rate": 0.0005, "loss": "focal"}
    assert summary["artifacts"] == {"best_hyperparameters": best, "tuner_results": scores}
    json.dumps(summary, allow_nan=False)


def test_trials_are_ranked_by_score_whatever_order_they_come_in():
    shuffled = [RESULTS[2], RESULTS[0], {"trial_id": "3", "score": None}, RESULTS[1]]
    assert [t["trial_id"] for t in trials_of(shuffled)] == ["1", "2", "0", "3"]
    assert trials_of(None) == []


def test_reuse_without_a_previous_search_says_so(tmp_path):
    summary = tuning_summary({"source": "reused"}, None, None, None)
    assert summary["best_hyperparameters"] is None and summary["trials"] == []
    assert read_best_hyperparameters(str(tmp_path)) is None and read_tuner_results(str(tmp_path)) is None


def _report(tmp_path, tuning) -> str:
    index = write_report(
        str(tmp_path / "report"),
        metrics={**make_metrics(), "tuning": tuning},
        history=None,
        samples=[],
        title="t",
        class_names=CLASSES,
    )
    with open(index, encoding="utf-8") as handle:
        html = handle.read()
    return html[html.index("<h2>Hyperparameter search</h2>") : html.index("<h2>Phone model")]


def test_the_report_shows_each_trials_score_and_values_and_the_values_trained_with(tmp_path):
    best, scores = _tuner_outputs(tmp_path)
    summary = tuning_summary(DESCRIPTION, read_best_hyperparameters(best), read_tuner_results(scores))
    section = _report(tmp_path, summary)
    assert "random search: 3 of at most 3 trials completed, 1 epoch(s) each" in section
    assert "validation split" in section and "eval split" in section
    assert "trained with the best trial&#x27;s values: learning_rate 0.0005, loss focal." in section
    assert "<th>trial</th><th>validation mean IoU</th><th>learning_rate</th><th>loss</th>" in section
    rows = [
        "<tr><td>2 (best)</td><td>0.410</td><td>0.0005</td><td>focal</td></tr>",
        "<tr><td>3</td><td>0.380</td><td>0.002</td><td>cross_entropy</td></tr>",
        "<tr><td>1</td><td>0.250</td><td>0.009</td><td>cross_entropy_dice</td></tr>",
    ]
    assert all(row in section for row in rows)
    assert section.index(rows[0]) < section.index(rows[1]) < section.index(rows[2])


def test_the_report_says_when_there_was_no_search_or_nothing_to_reuse(tmp_path):
    assert "No hyperparameter search in this run" in _report(tmp_path / "a", None)
    empty = _report(tmp_path / "b", tuning_summary({"source": "reused"}, None, None))
    assert "found no search result in this pipeline" in empty and "the config&#x27;s values" in empty


def test_a_reused_search_says_so_and_still_lists_its_trials(tmp_path):
    best, scores = _tuner_outputs(tmp_path)
    summary = tuning_summary(
        {"source": "reused"}, read_best_hyperparameters(best), read_tuner_results(scores)
    )
    section = _report(tmp_path, summary)
    assert "This run reused the latest search in the metadata store (3 trials)." in section
    assert "<tr><td>2 (best)</td><td>0.410</td>" in section
