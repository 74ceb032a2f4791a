"""Same settings, seed and data: the same model, exactly. A different seed: another model."""

import numpy as np
import pytest

from tests.trainer.test_data import _blocks
from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
from trainer.task import fit_model, make_reproducible

pytestmark = pytest.mark.slow


def _fit(seed: int):
    settings = TrainerSettings(
        model=ModelSettings(name="unet", image_size=32, encoder_weights="none"),
        training=TrainingSettings(
            epochs=2,
            batch_size=4,
            seed=seed,
            augment="full",
            lr_schedule="cosine",
            loss="cross_entropy_dice",
            balance_classes=True,
            early_stopping_patience=1,
        ),
        dataset="oxford_iiit_pet",
    )
    make_reproducible(settings.training)
    train, validation = _blocks(count=12, size=32, seed=1), _blocks(count=4, size=32, seed=2)
    model, history = fit_model(settings, train, validation, num_classes=3)
    return history, [w.numpy() for w in model.weights]


def test_two_runs_with_one_seed_give_the_same_metrics_and_weights_and_another_seed_does_not():
    first_history, first_weights = _fit(seed=5)
    second_history, second_weights = _fit(seed=5)
    assert first_history == second_history  # every metric of every epoch, exactly
    assert all(np.array_equal(a, b) for a, b in zip(first_weights, second_weights))
    other_history, _ = _fit(seed=6)
    assert other_history["metrics"]["loss"] != first_history["metrics"]["loss"]
