"""The TrainingGate: a retraining run trains only when the latest blessed model was not trained
on these examples with these settings; its executor reads the record the Trainer writes."""

import json

import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.training_gate.component import TrainingDecisionArtifact, TrainingGate, split_files
from components.training_gate.decision import should_train
from contract.names import HISTORY_FILE, REASON_PROPERTY, TRAIN_PROPERTY, TRAINED_ON
from contract.trained_on import trained_on

NOW = trained_on(["/t/5/Split-train/*"], ["/t/5/Split-validation/*"], "key-a")
OLD_TRAIN, OLD_VALIDATION = ["/t/4/Split-train/*"], ["/t/4/Split-validation/*"]


@pytest.mark.parametrize(
    "model, recorded, train, reason",
    [
        (None, None, True, "no blessed model yet"),
        ("/m/3", None, True, "does not record what it was trained on"),
        (
            "/m/3",
            trained_on(OLD_TRAIN, OLD_VALIDATION, "key-a"),
            True,
            "new examples",
        ),
        (
            "/m/3",
            trained_on(NOW["train_files"], OLD_VALIDATION, "key-a"),
            True,
            "new examples",
        ),
        (
            "/m/3",
            trained_on(NOW["train_files"], NOW["eval_files"], "key-b"),
            True,
            "settings or code changed",
        ),
        ("/m/3", NOW, False, "nothing new: the latest blessed model was trained on these examples"),
    ],
)
def test_it_trains_unless_the_blessed_model_was_trained_on_exactly_this(model, recorded, train, reason):
    decided, why = should_train(model, recorded, NOW)
    assert decided is train and reason in why


def _examples(uri):
    examples = standard_artifacts.Examples()
    examples.uri = uri
    examples.split_names = artifact_utils.encode_split_names(["train", "validation"])
    return examples


def _decide(tmp_path, history, key="key-a", with_model=True):
    """Runs the gate's executor as TFX does; returns (train, reason) from its output artifact."""
    examples = _examples(str(tmp_path / "Transform" / "transformed_examples" / "5"))
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "Trainer" / "model" / "7")
    if history is not None:
        (tmp_path / "Trainer" / "model" / "7").mkdir(parents=True, exist_ok=True)
        (tmp_path / "Trainer" / "model" / "7" / HISTORY_FILE).write_text(json.dumps(history))
    decision = TrainingDecisionArtifact()
    decision.uri = str(tmp_path / "decision")
    inputs = {"examples": [examples], **({"blessed_model": [model]} if with_model else {})}
    TrainingGate.EXECUTOR_SPEC.executor_class().Do(inputs, {"decision": [decision]}, {"training_key": key})
    return decision.get_int_custom_property(TRAIN_PROPERTY), decision.get_string_custom_property(
        REASON_PROPERTY
    )


def test_the_executor_compares_the_trainers_record_with_this_runs_files_and_key(tmp_path):
    examples = _examples(str(tmp_path / "Transform" / "transformed_examples" / "5"))
    record = trained_on(split_files(examples, "train"), split_files(examples, "validation"), "key-a")
    assert record["train_files"] == [str(tmp_path / "Transform/transformed_examples/5/Split-train/*")]

    assert _decide(tmp_path, None, with_model=False) == (1, "no blessed model yet")
    assert _decide(tmp_path, {"metrics": {}})[0] == 1  # a model from before the record existed
    assert _decide(tmp_path, {TRAINED_ON: record}, key="key-b")[0] == 1
    train, reason = _decide(tmp_path, {TRAINED_ON: record})
    assert train == 0 and reason.startswith("nothing new")
