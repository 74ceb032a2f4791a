"""A passive Keras callback that timestamps every training step, for steady-state throughput.

The first steps of a fit trace the tf.function, fill tf.data caches and warm oneDNN's primitive
cache, so "images per second" over a whole fit understates the loop's real speed. The timer
keeps, per epoch, the time the epoch began and the end of every training step; validation runs
after the last step and before the next epoch begins, so it never counts as training time.
"""

import math
import time
from typing import Callable, Dict, List

import tf_keras as keras


class StepTimer(keras.callbacks.Callback):
    """Records `epochs[e] = [epoch start, end of step 1, end of step 2, ...]` and epoch ends."""

    def __init__(self):
        super().__init__()
        self.epochs: List[List[float]] = []
        self.epoch_ends: List[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append([time.perf_counter()])

    def on_train_batch_end(self, batch, logs=None):
        self.epochs[-1].append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ends.append(time.perf_counter())

    def summary(self, images_of_step: Callable[[int], int], warmup_steps: int) -> Dict[str, object]:
        """Steady-state training images/s, leaving out the first `warmup_steps` steps of the fit.

        `images_of_step(i)` is the batch size of the fit's i-th step (see `batch_sizes`).
        """
        step_seconds: List[float] = []
        step_images: List[int] = []
        for stamps in self.epochs:
            for begin, end in zip(stamps, stamps[1:]):
                step_images.append(images_of_step(len(step_seconds)))
                step_seconds.append(end - begin)
        kept_seconds, kept_images = sum(step_seconds[warmup_steps:]), sum(step_images[warmup_steps:])
        return {
            "steady_images_per_second": kept_images / kept_seconds if kept_seconds else None,
            "steady_steps_counted": len(step_seconds) - warmup_steps,
            "warmup_steps_left_out": warmup_steps,
            "training_seconds_per_epoch": [stamps[-1] - stamps[0] for stamps in self.epochs],
            "epoch_seconds_with_validation": [
                end - stamps[0] for stamps, end in zip(self.epochs, self.epoch_ends)
            ],
        }


def warmup_steps(steps_per_epoch: int, epochs: int) -> int:
    """The whole first epoch when there are more; else the first quarter of the only one (>= 2)."""
    return steps_per_epoch if epochs > 1 else max(2, steps_per_epoch // 4)


def batch_sizes(examples: int, batch_size: int) -> Callable[[int], int]:
    """Batch size of step i when `examples` are batched (short last batch) and passed over again
    and again: true of the tutorial's `.batch().repeat()` and of the Trainer's per-epoch dataset."""
    per_pass = math.ceil(examples / batch_size)
    last = examples - (per_pass - 1) * batch_size
    return lambda step: last if step % per_pass == per_pass - 1 else batch_size
