"""How the learning rate moves over training: constant, cosine after a warm-up, or halved on a
plateau of the validation mean IoU.

A warm-up keeps the first steps of an encoder trained from scratch (random BatchNorm statistics)
from overshooting; a cosine decay then settles the weights instead of leaving them bouncing at
the initial rate, which is what made the validation loss jump between epochs.
"""

import math
from typing import List, Optional

import tensorflow as tf
import tf_keras as keras

from trainer.stopping import MONITOR

SCHEDULES = ("constant", "cosine", "plateau")


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear from ~0 to `peak` over the warm-up steps, then a cosine to 0 at the last step."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int):
        self.peak, self.warmup_steps, self.total_steps = peak, warmup_steps, max(total_steps, 1)

    def __call__(self, step: tf.Tensor) -> tf.Tensor:
        step = tf.cast(step, tf.float32) + 1.0
        warmup = self.peak * step / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        cosine = 0.5 * self.peak * (1.0 + tf.cos(math.pi * tf.clip_by_value(progress, 0.0, 1.0)))
        return tf.where(step <= self.warmup_steps, warmup, cosine)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


def learning_rate(kind: str, peak: float, steps_per_epoch: int, epochs: int, warmup_epochs: int):
    """What the optimizer's learning_rate takes: a number, or a per-step schedule."""
    if kind == "cosine":
        return WarmupCosine(peak, warmup_epochs * steps_per_epoch, epochs * steps_per_epoch)
    if kind in ("constant", "plateau"):
        return peak
    raise ValueError(f"unknown learning-rate schedule {kind!r}; accepted: {', '.join(SCHEDULES)}")


def half_rate_epoch(kind: str, epochs: int, warmup_epochs: int) -> int:
    """The first epoch (0-based) after the warm-up that ends with the cosine schedule's rate at or
    below half its peak: before it, early stopping waits (trainer/stopping.py). 0 for the other schedules: a
    constant rate never decays, and the plateau schedule halves the rate on the very stalls that
    early stopping counts."""
    if kind != "cosine":
        return 0
    # At the end of epoch e the cosine's progress is (e + 1 - warmup) / (epochs - warmup).
    return math.ceil(warmup_epochs + (epochs - warmup_epochs) / 2) - 1


def schedule_callbacks(kind: str) -> List[keras.callbacks.Callback]:
    """The callbacks a schedule needs: halving on a validation mean-IoU plateau."""
    plateau: Optional[keras.callbacks.Callback] = None
    if kind == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(monitor=MONITOR, mode="max", factor=0.5, patience=2)
    return [plateau] if plateau else []
