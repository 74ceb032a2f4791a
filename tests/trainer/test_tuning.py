"""The Tuner's tuner_fn: KerasTuner's search space, oracles and trials, with the training faked.

Each trial must train the Trainer's recipe with its values applied (as the Trainer will apply
them), for the search's epochs, and be scored by the validation mean IoU of the epoch the Trainer
would keep. The real training runs in the end-to-end test (tests/pipeline/test_tuning_e2e.py).
"""

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest

from contract.names import PROGRESS_LOGGER
from trainer import distribution, tuning
from trainer.hyperparameters import SPACE
from trainer.settings import HYPERPARAMETERS, ModelSettings, SearchSettings, TrainerSettings, TrainingSettings

SETTINGS = TrainerSettings(
    model=ModelSettings(image_size=64, encoder_weights="none"),
    training=TrainingSettings(epochs=7, deterministic=False),
    dataset="oxford_iiit_pet",
)
TINY = (np.zeros((4, 64, 64, 3), np.float32), np.zeros((4, 64, 64), np.int32))


def test_the_search_space_holds_each_named_hyperparameter_with_its_range():
    space = tuning.search_space(list(HYPERPARAMETERS))
    by_name = {hp.name: hp for hp in space.space}
    assert list(by_name) == list(HYPERPARAMETERS)
    rate = by_name["learning_rate"]
    assert (rate.min_value, rate.max_value, rate.sampling) == (1e-4, 1e-2, "log")
    assert list(by_name["batch_size"].values) == SPACE["batch_size"]["choice"]
    assert by_name["augment_strength"].step == 0.5
    assert [hp.name for hp in tuning.search_space(["loss"]).space] == ["loss"]


@pytest.mark.parametrize(
    "algorithm,kind",
    [("random", "RandomSearch"), ("bayesian", "BayesianOptimization"), ("hyperband", "Hyperband")],
)
def test_each_algorithm_is_its_oracle_maximising_validation_mean_iou_within_the_budget(algorithm, kind):
    search = SearchSettings(algorithm=algorithm, trials=5, epochs=4)
    oracle = tuning.make_oracle(search, tuning.search_space(["loss", "batch_size"]), seed=3)
    assert type(oracle).__name__ == f"{kind}Oracle"
    assert (oracle.objective.name, oracle.objective.direction) == ("val_mean_iou", "max")
    assert oracle.max_trials == 5 and not oracle.allow_new_entries
    if algorithm == "hyperband":
        assert oracle.max_epochs == 4


def test_trials_ignore_tf_config_each_tuning_worker_trains_alone(monkeypatch):
    cluster = {"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "chief", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    _, plan = tuning.trial_strategy()
    assert plan.strategy_name != distribution.MULTI_WORKER_MIRRORED and plan.num_workers == 1


class FakeFit:
    """Stands in for fit_model: records each trial's settings; scores come from `score`."""

    def __init__(self, score=lambda settings: settings.training.learning_rate * 10, fail=None):
        self.calls = []
        self.score, self.fail = score, fail

    def __call__(self, settings, train, validation, num_classes, **kwargs):
        self.calls.append((settings, kwargs))
        if self.fail:
            raise self.fail
        epochs = settings.training.epochs
        # The kept epoch is the second; the last epoch's score must not be the one reported.
        scores = [0.0] * epochs
        scores[min(1, epochs - 1)] = self.score(settings)
        return None, {"metrics": {"val_mean_iou": scores}, "kept_epoch": min(2, epochs)}


THREE_TRIALS = SearchSettings(trials=3, epochs=2)


def _search(tmp_path, monkeypatch, fit, search=THREE_TRIALS, base=SETTINGS, name="t"):
    monkeypatch.setattr(tuning, "fit_model", fit)
    monkeypatch.setattr(tuning, "make_reproducible", lambda training: None)  # no global determinism here
    names = tuning.searched(search, base.model)
    tuner = tuning.SegmentationTuner(
        oracle=tuning.make_oracle(search, tuning.search_space(names), seed=1),
        settings=base,
        search=search,
        load_data=lambda: (TINY, TINY),
        directory=str(tmp_path),
        project_name=name,
    )
    tuner.search()
    return tuner


def test_each_trial_trains_the_recipe_with_its_values_and_reports_the_kept_epochs_score(
    tmp_path, monkeypatch, caplog
):
    fit = FakeFit()
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        tuner = _search(tmp_path, monkeypatch, fit)
    assert len(fit.calls) == 3
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    for trial, (settings, kwargs) in zip(trials, fit.calls):
        values = trial.hyperparameters.values
        assert set(values) == {"learning_rate", "batch_size", "loss", "class_weights", "augment_strength"}
        assert settings.training.learning_rate == values["learning_rate"]
        assert settings.training.batch_size == values["batch_size"] == kwargs["global_batch"]
        assert settings.training.loss == values["loss"]
        assert settings.training.balance_classes == (values["class_weights"] == "balanced")
        assert settings.training.augment_strength == values["augment_strength"]
        assert settings.training.epochs == 2  # --tune-epochs, not the Trainer's 7
        assert not settings.training.calibrate_classes  # scored before any offsets
        assert trial.score == pytest.approx(values["learning_rate"] * 10)
    best = tuner.get_best_hyperparameters()[0].values
    assert best["learning_rate"] == max(t.hyperparameters.values["learning_rate"] for t in trials)
    events = [record.progress["event"] for record in caplog.records if hasattr(record, "progress")]
    assert events == ["trial_start", "trial_end"] * 3
    ended = [r.progress for r in caplog.records if getattr(r, "progress", {}).get("event") == "trial_end"]
    assert [(p["trial"], p["trials"]) for p in ended] == [(1, 3), (2, 3), (3, 3)]


def test_hyperband_trains_each_trial_for_its_bracket_epochs(tmp_path, monkeypatch):
    fit = FakeFit()
    _search(tmp_path, monkeypatch, fit, SearchSettings(algorithm="hyperband", trials=4, epochs=3))
    epochs = [settings.training.epochs for settings, _ in fit.calls]
    assert len(epochs) == 4 and set(epochs) <= {1, 3} and 1 in epochs


def test_a_search_whose_every_trial_fails_says_why_in_one_line(tmp_path, monkeypatch, caplog):
    fit = FakeFit(fail=MemoryError("OOM when allocating tensor\nwith shape [32,128,128,3]"))
    with pytest.raises(
        tuning.TuningError, match=r"trials failed in a row; the last: with shape \[32,128,128,3\]"
    ):
        _search(tmp_path, monkeypatch, fit, SearchSettings(trials=5, epochs=1))
    assert len(fit.calls) == 3  # KerasTuner stops after 3 failures in a row


def test_a_search_with_no_completed_trial_is_an_error_not_a_result(tmp_path, monkeypatch):
    fit = FakeFit(score=lambda settings: float("nan"))
    with pytest.raises(
        tuning.TuningError, match="no trial completed; the last failed with: validation mean IoU is nan"
    ):
        _search(tmp_path, monkeypatch, fit, SearchSettings(trials=2, epochs=1))


def test_tuner_fn_builds_the_search_from_the_tuners_custom_config(tmp_path, monkeypatch):
    fit = FakeFit()
    monkeypatch.setattr(tuning, "fit_model", fit)
    monkeypatch.setattr(tuning, "make_reproducible", lambda training: None)
    loaded = []
    monkeypatch.setattr(tuning, "load_splits", lambda fn_args: loaded.append(fn_args) or (TINY, TINY))
    search = SearchSettings(hyperparameters=["batch_size"], trials=2, epochs=1, algorithm="bayesian")
    fn_args = SimpleNamespace(
        custom_config={**SETTINGS.to_custom_config(), "tuning": search.model_dump(), "code": "x"},
        working_dir=str(tmp_path),
        base_model=None,
    )
    result = tuning.tuner_fn(fn_args)
    assert result.fit_kwargs == {} and not loaded  # the data loads with the first trial, not before
    assert [hp.name for hp in result.tuner.oracle.hyperparameters.space] == ["batch_size"]
    result.tuner.search(**result.fit_kwargs)
    assert loaded == [fn_args] and len(fit.calls) == 2
    assert {settings.training.batch_size for settings, _ in fit.calls} <= {8, 16, 32}
