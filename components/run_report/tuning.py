"""The run summary's "tuning" section: what the hyperparameter search tried and what it chose.

TFX's Tuner writes two artifacts: HyperParameters (best_hyperparameters.txt, the best trial's
KerasTuner HyperParameters config) and TunerResults (tuner_results.json, one row per completed
trial: trial_id, score and its values). The Trainer records what it applied in history.json.
This module reads them (local or gs://) and puts them in one dict, best trial first:

    source              "search" (this run's Tuner) or "reused" (the latest one, --reuse-tuning)
    algorithm, max_trials, epochs_per_trial, searched    the search's settings (this run's own
                                                         search only; searched: the names tried)
    objective, objective_split                           val_mean_iou on the validation split
    best_hyperparameters   the best trial's values (null: no search result to use)
    best_score             its validation mean IoU
    trials                 [{trial_id, number, score, values}], best first (number: the trial's
                           place in the search, from 1, as the console counts; trial_id: KerasTuner's)
    trainer_applied        the Trainer's settings those values set ({field: value})
    artifacts              where the two artifacts are
"""

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

import tensorflow as tf

# TFX 1.16's file names in the Tuner's artifacts (tfx/components/tuner/executor.py).
BEST_HYPERPARAMETERS_FILE = "best_hyperparameters.txt"
TUNER_RESULTS_FILE = "tuner_results.json"
OBJECTIVE = "val_mean_iou"
OBJECTIVE_SPLIT = "validation"
# KerasTuner's bookkeeping entries of a trial's values (Hyperband's "tuner/epochs", ...).
_TUNER_PREFIX = "tuner/"


def _read(path: str) -> Any:
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.loads(handle.read())


def read_best_hyperparameters(uri: str) -> Optional[Dict[str, Any]]:
    """The HyperParameters artifact's KerasTuner config ({"space": ..., "values": ...}), or None."""
    return _read(os.path.join(uri, BEST_HYPERPARAMETERS_FILE))


def read_tuner_results(uri: str) -> Optional[List[Dict[str, Any]]]:
    """The TunerResults artifact's rows ({trial_id, score, **values}), or None."""
    return _read(os.path.join(uri, TUNER_RESULTS_FILE))


def _values(values: Mapping[str, Any]) -> Dict[str, Any]:
    return {name: value for name, value in values.items() if not str(name).startswith(_TUNER_PREFIX)}


def trials_of(results: Optional[Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """Completed trials as {trial_id, number, score, values}, best (highest score) first."""
    rows = [
        {
            "trial_id": str(row.get("trial_id")),
            "number": int(row["trial_id"]) + 1 if str(row.get("trial_id")).isdigit() else None,
            "score": row.get("score"),
            "values": _values({k: v for k, v in row.items() if k not in ("trial_id", "score")}),
        }
        for row in results or []
    ]

    def rank(row: Dict[str, Any]) -> tuple:
        scored = isinstance(row["score"], (int, float))
        return (not scored, -row["score"] if scored else 0.0)

    return sorted(rows, key=rank)


def tuning_summary(
    description: Mapping[str, Any],
    best_config: Optional[Mapping[str, Any]],
    results: Optional[Sequence[Mapping[str, Any]]],
    history: Optional[Mapping[str, Any]] = None,
    artifacts: Optional[Mapping[str, Optional[str]]] = None,
) -> Dict[str, Any]:
    """The "tuning" section (see the module's docstring) from the pipeline's description of the
    search, the two artifacts' contents (None where absent) and the Trainer's history.json."""
    best_values = _values(best_config.get("values", {})) if best_config else None
    trials = trials_of(results)
    best = next((trial for trial in trials if trial["values"] == best_values), None)
    applied = (history or {}).get("hyperparameters") or {}
    return {
        **description,
        "objective": OBJECTIVE,
        "objective_split": OBJECTIVE_SPLIT,
        "best_hyperparameters": best_values,
        "best_score": best["score"] if best else None,
        "trials": trials,
        "trainer_applied": applied.get("settings"),
        "artifacts": dict(artifacts or {}),
    }
