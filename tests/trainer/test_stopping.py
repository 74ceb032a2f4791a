"""Early stopping waits for the cosine schedule's rate to halve, and still keeps the best epoch."""

import numpy as np
import pytest
import tf_keras as keras

from tests.trainer.test_data import _blocks
from trainer import task
from trainer.schedules import WarmupCosine, half_rate_epoch
from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
from trainer.stopping import MONITOR, ScheduledEarlyStopping

# Validation mean IoU per epoch: best at epoch 1, then a stall long enough for patience 3.
STALLING = [0.50, 0.60, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55]


@pytest.mark.parametrize("epochs,warmup", [(10, 2), (40, 2), (8, 2), (5, 0), (7, 3), (3, 1)])
def test_half_rate_epoch_is_the_first_after_the_warm_up_to_end_with_the_rate_at_half_its_peak(epochs, warmup):
    steps_per_epoch, peak = 7, 1.0
    schedule = WarmupCosine(peak, warmup * steps_per_epoch, epochs * steps_per_epoch)
    # The rate of an epoch's last step (the schedule is called with the 0-based step index).
    rates = [float(schedule((epoch + 1) * steps_per_epoch - 1)) for epoch in range(epochs)]
    first_half = next(e for e, rate in enumerate(rates) if e >= warmup and rate <= peak / 2 + 1e-6)
    assert half_rate_epoch("cosine", epochs, warmup) == first_half


@pytest.mark.parametrize("kind", ["constant", "plateau"])
def test_schedules_without_a_decay_plan_let_early_stopping_stop_at_once(kind):
    assert half_rate_epoch(kind, 40, 2) == 0


def _watch(callback: ScheduledEarlyStopping, scores, stop_from_elsewhere_at=None, first_epoch=0):
    """Runs the callback over epochs with these validation scores; each epoch's weights are the
    epoch's number. Returns the epochs run and the weight restored at the end."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    for epoch, score in enumerate(scores, start=first_epoch):
        model.set_weights([np.full((1, 1), float(epoch), np.float32)])
        if epoch == stop_from_elsewhere_at:
            model.stop_training = True
        callback.on_epoch_end(epoch, {MONITOR: score})
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch + 1 - first_epoch, float(model.get_weights()[0][0, 0])


def test_without_an_earliest_epoch_it_stops_like_keras():
    epochs_run, kept = _watch(ScheduledEarlyStopping(patience=3), STALLING)
    assert (epochs_run, kept) == (5, 1.0)  # three epochs without a gain after the best, epoch 1


def test_it_does_not_stop_before_the_earliest_epoch_and_still_restores_the_best_earlier_one():
    epochs_run, kept = _watch(ScheduledEarlyStopping(patience=3, earliest_stop=6), STALLING)
    assert epochs_run == 7  # the stall exhausted patience at epoch 4; the first allowed stop is 6
    assert kept == 1.0  # Keras's start_from_epoch would have forgotten epoch 1 and kept epoch 6


def test_a_gain_after_the_earliest_epoch_restarts_the_count():
    scores = STALLING[:7] + [0.70, 0.65, 0.65]
    epochs_run, kept = _watch(ScheduledEarlyStopping(patience=3, earliest_stop=5), scores)
    assert (epochs_run, kept) == (6, 1.0)  # stalled since epoch 1 by epoch 5: stops there
    epochs_run, kept = _watch(ScheduledEarlyStopping(patience=3, earliest_stop=8), scores)
    assert (epochs_run, kept) == (10, 7.0)


def test_another_callbacks_stop_before_the_earliest_epoch_is_kept():
    epochs_run, _ = _watch(
        ScheduledEarlyStopping(patience=3, earliest_stop=6), STALLING, stop_from_elsewhere_at=2
    )
    assert epochs_run == 3


def test_a_second_phase_must_beat_the_first_ones_best_or_gets_its_weights_back():
    first = ScheduledEarlyStopping(patience=2)
    assert _watch(first, [0.5, 0.7, 0.6, 0.6]) == (4, 1.0)
    worse = ScheduledEarlyStopping(patience=2, previous=first)
    assert _watch(worse, [0.65, 0.66, 0.64], first_epoch=4) == (2, 1.0)  # epoch 1's weights return
    better = ScheduledEarlyStopping(patience=2, previous=first)
    assert _watch(better, [0.65, 0.75, 0.70, 0.70], first_epoch=4) == (4, 5.0)


@pytest.mark.slow
def test_fine_tuning_that_only_hurts_leaves_the_first_phases_best_epoch_in_the_model():
    settings = TrainerSettings(
        model=ModelSettings(name="unet", image_size=32, encoder_weights="none"),
        training=TrainingSettings(
            epochs=3,
            warmup_epochs=1,
            batch_size=4,
            early_stopping_patience=2,
            fine_tune_epochs=2,
            fine_tune_learning_rate=1.0,  # Adam at rate 1: every fine-tuning epoch is worse
            calibrate_classes=False,
        ),
        dataset="oxford_iiit_pet",
    )
    task.make_reproducible(settings.training)
    validation = _blocks(count=4, size=32, seed=2)
    model, history = task.fit_model(settings, _blocks(count=8, size=32, seed=1), validation, num_classes=3)
    kept = history["kept_epoch"]
    assert kept <= settings.training.epochs  # the case under test: the first phase's epoch wins
    task.compile_model(model, 1e-3, num_classes=3)
    _, _, mean_iou = model.evaluate(*validation, batch_size=4, verbose=0)
    assert mean_iou == pytest.approx(history["metrics"]["val_mean_iou"][kept - 1], abs=1e-6)


@pytest.mark.slow
def test_the_trainer_gives_early_stopping_the_cosine_schedules_half_rate_epoch(monkeypatch):
    seen = []

    class Recording(ScheduledEarlyStopping):
        def __init__(self, patience, earliest_stop=0):
            seen.append((patience, earliest_stop))
            super().__init__(patience, earliest_stop)

    monkeypatch.setattr(task, "ScheduledEarlyStopping", Recording)
    settings = TrainerSettings(
        model=ModelSettings(name="unet", image_size=32, encoder_weights="none"),
        training=TrainingSettings(
            epochs=3, warmup_epochs=1, batch_size=4, lr_schedule="cosine", early_stopping_patience=2
        ),
        dataset="oxford_iiit_pet",
    )
    task.fit_model(
        settings, _blocks(count=8, size=32, seed=1), _blocks(count=4, size=32, seed=2), num_classes=3
    )
    assert seen == [(2, half_rate_epoch("cosine", 3, 1))] == [(2, 1)]
