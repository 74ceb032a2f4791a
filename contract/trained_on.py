"""What a model was trained on: the record the Trainer writes into its history.json (under
names.TRAINED_ON) and the TrainingGate rebuilds for a retraining run, in one shape.

The train and validation file patterns are the ones TFX hands the Trainer: they name the
Transform output they come from, so a new span, changed data or a changed preprocessing step
changes them. The training key is a digest of the Trainer's settings and code (the pipeline
computes it once and hands it to both).
"""

from typing import Any, Dict, List

TRAIN_FILES, EVAL_FILES, KEY = "train_files", "eval_files", "training_key"


def trained_on(train_files: List[str], eval_files: List[str], training_key: str) -> Dict[str, Any]:
    """The record, as written to history.json."""
    return {TRAIN_FILES: list(train_files), EVAL_FILES: list(eval_files), KEY: training_key}
