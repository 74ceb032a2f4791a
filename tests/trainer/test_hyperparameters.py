"""The search space and how tuned values become the Trainer's settings (no TensorFlow)."""

import pytest
from pydantic import ValidationError

from trainer.hyperparameters import (
    SPACE,
    HyperparameterError,
    apply_hyperparameters,
    search_problem,
    searched,
    values_of,
)
from trainer.settings import HYPERPARAMETERS, ModelSettings, SearchSettings, TrainerSettings, TrainingSettings

BASE = TrainerSettings(
    model=ModelSettings(),
    training=TrainingSettings(class_weights=[1.0, 1.0, 3.0], balance_classes=False),
    dataset="oxford_iiit_pet",
)
# One tuned value per hyperparameter, each unlike the base settings, and the fields it must set.
CASES = {
    "learning_rate": (0.0042, {"learning_rate": 0.0042}),
    "batch_size": (8, {"batch_size": 8}),
    "loss": ("focal", {"loss": "focal"}),
    "class_weights": ("balanced", {"class_weights": [], "balance_classes": True}),
    "augment_strength": (1.5, {"augment_strength": 1.5}),
    "fine_tune_epochs": (5, {"fine_tune_epochs": 5}),
    "fine_tune_from": ("block_6_expand", {"fine_tune_from": "block_6_expand"}),
}


def test_every_hyperparameter_has_a_range_and_a_case_here():
    assert tuple(SPACE) == HYPERPARAMETERS
    assert set(CASES) == set(HYPERPARAMETERS)


@pytest.mark.parametrize("name", HYPERPARAMETERS)
def test_each_hyperparameter_sets_its_training_field_and_nothing_else(name):
    value, expected = CASES[name]
    before = BASE.training.model_dump()
    assert all(before[field] != wanted for field, wanted in expected.items()), (
        "the case must change something"
    )
    settings, applied = apply_hyperparameters(BASE, {name: value})
    after = settings.training.model_dump()
    assert applied == expected
    assert {field: after[field] for field in expected} == expected
    assert {k: v for k, v in after.items() if k not in expected} == {
        k: v for k, v in before.items() if k not in expected
    }
    assert settings.model == BASE.model and settings.dataset == BASE.dataset
    assert BASE.training.model_dump() == before  # the given settings are left as they were


@pytest.mark.parametrize("name", HYPERPARAMETERS)
def test_every_value_in_the_space_is_one_the_settings_accept(name):
    spec = SPACE[name]
    values = spec["choice"] if "choice" in spec else list(spec["float"])
    for value in values:
        apply_hyperparameters(BASE, {name: value})


def test_class_weights_none_drops_given_weights_and_balancing():
    balanced = BASE.model_copy(
        update={"training": TrainingSettings(balance_classes=True)}
    )  # --balance-classes yes
    for settings in (BASE, balanced):
        tuned, applied = apply_hyperparameters(settings, {"class_weights": "none"})
        assert (tuned.training.class_weights, tuned.training.balance_classes) == ([], False)
        assert applied == {"class_weights": [], "balance_classes": False}


def test_unknown_names_are_refused_naming_them_and_the_known_ones():
    with pytest.raises(
        HyperparameterError, match=r"'dropout': unknown to this Trainer, which applies learning_rate"
    ):
        apply_hyperparameters(BASE, {"learning_rate": 0.001, "dropout": 0.3})


def test_kerastuners_own_entries_are_not_settings():
    settings, applied = apply_hyperparameters(BASE, {"tuner/epochs": 3, "tuner/bracket": 0, "batch_size": 16})
    assert applied == {"batch_size": 16} and settings.training.epochs == BASE.training.epochs


@pytest.mark.parametrize(
    "values,named",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 2.0}, "learning_rate"),
        ({"loss": "hinge"}, "loss"),
        ({"class_weights": "inverse"}, "class_weights"),
        ({"augment_strength": float("nan")}, "augment_strength"),
    ],
)
def test_values_the_settings_refuse_name_the_hyperparameter(values, named):
    with pytest.raises(HyperparameterError, match=rf"^hyperparameter {named}: .*got"):
        apply_hyperparameters(BASE, values)


def test_no_values_leave_the_settings_alone():
    assert apply_hyperparameters(BASE, {}) == (BASE, {})


def test_values_of_reads_a_kerastuner_config():
    config = {"space": [], "values": {"learning_rate": 0.01, "tuner/epochs": 2, "loss": "focal"}}
    assert values_of(config) == {"learning_rate": 0.01, "loss": "focal"}
    assert values_of(None) == {}
    for bad in ({"space": []}, {"values": [1, 2]}, ["learning_rate"]):
        with pytest.raises(HyperparameterError, match="expected a KerasTuner HyperParameters config"):
            values_of(bad)


def test_the_search_tries_every_hyperparameter_that_applies_or_the_ones_named():
    pretrained, scratch = ModelSettings(), ModelSettings(encoder_weights="none")
    assert searched(SearchSettings(), pretrained) == list(HYPERPARAMETERS)
    assert searched(SearchSettings(), scratch) == [
        "learning_rate",
        "batch_size",
        "loss",
        "class_weights",
        "augment_strength",
    ]
    assert searched(SearchSettings(), ModelSettings(encoder_weights="none", freeze_encoder=True)) == list(
        HYPERPARAMETERS
    )
    named = SearchSettings(hyperparameters=["loss", "learning_rate"])
    assert searched(named, scratch) == ["learning_rate", "loss"]


def test_search_settings_take_names_repeated_or_comma_separated_and_refuse_unknown_ones():
    assert SearchSettings(hyperparameters=["loss,batch_size", "loss"]).hyperparameters == [
        "loss",
        "batch_size",
    ]
    assert SearchSettings(hyperparameters="learning_rate, loss").hyperparameters == ["learning_rate", "loss"]
    with pytest.raises(ValidationError, match="unknown dropout: must be names from learning_rate"):
        SearchSettings(hyperparameters=["dropout"])


def test_fine_tuning_hyperparameters_need_a_frozen_encoder_and_epochs():
    training = TrainingSettings()
    scratch = ModelSettings(encoder_weights="none")
    assert search_problem(SearchSettings(), scratch, training) is None  # all that apply: none of them
    problem = search_problem(SearchSettings(hyperparameters=["fine_tune_epochs"]), scratch, training)
    assert problem and "trains from the start" in problem
    problem = search_problem(SearchSettings(hyperparameters=["fine_tune_from"]), ModelSettings(), training)
    assert problem and "without fine-tuning epochs" in problem
    with_epochs = TrainingSettings(fine_tune_epochs=2)
    assert (
        search_problem(SearchSettings(hyperparameters=["fine_tune_from"]), ModelSettings(), with_epochs)
        is None
    )
