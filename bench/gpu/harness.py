"""The Trainer's own model and feeds at one run's sizes, and a fit timed step by step.

Everything a measurement trains or feeds goes through here, so every figure is the Trainer's
path: its model and compile under its strategy and dtype policy, fed by its input pipeline.
"""

import dataclasses
import gc
import math
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from bench.common import ENCODER_WEIGHTS
from bench.gpu.data import Data
from bench.gpu.settings import MIXED, Sizes
from contract.datasets import DEFAULT_DATASET, dataset_facts
from trainer import distribution
from trainer.data import load_split, make_dataset
from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
from trainer.task import build_for, compile_model


def trainer_settings(image_size: int) -> TrainerSettings:
    """The Trainer's default settings (model, learning rate, seed) with encoder weights none."""
    return TrainerSettings(
        model=ModelSettings(image_size=image_size, encoder_weights=ENCODER_WEIGHTS),
        training=TrainingSettings(),
        dataset=DEFAULT_DATASET,
    )


class _Clock(keras.callbacks.Callback):
    """Times fit's steps in two windows after the warm-up.

    The free-running window lets steps queue as in the Trainer's own fit (logs stay tensors, so
    Keras never waits for the device); only its two ends wait. In the synced window every step
    waits for the device, so each interval is one step's latency. With steps_per_execution 1,
    `on_train_batch_end` runs once per step.
    """

    def __init__(self, warmup_steps: int, measured_steps: int):
        super().__init__()
        self._supports_tf_logs = True
        self.warmup_steps = warmup_steps
        self.measured_steps = measured_steps
        self.steps = 0
        self.began = 0.0
        self.first_step_seconds = 0.0
        self.window: List[float] = []
        self.synced: List[float] = []

    def on_train_begin(self, logs=None):
        self.began = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == 1:  # tracing, XLA's compile and autotuning happen in the first step
            tf.test.experimental.sync_devices()
            self.first_step_seconds = time.perf_counter() - self.began
        if self.steps in (self.warmup_steps, self.warmup_steps + self.measured_steps):
            tf.test.experimental.sync_devices()
            self.window.append(time.perf_counter())
        if self.steps >= self.warmup_steps + self.measured_steps:
            tf.test.experimental.sync_devices()
            self.synced.append(time.perf_counter())

    @property
    def total_steps(self) -> int:
        return self.warmup_steps + 2 * self.measured_steps

    def summary(self, images_per_step: int) -> Dict[str, float]:
        seconds = np.diff(self.synced)
        window = self.window[1] - self.window[0]
        return {
            "warmup_steps": self.warmup_steps,
            "measured_steps": self.measured_steps,
            "first_step_seconds": self.first_step_seconds,
            "images_per_second": images_per_step * self.measured_steps / window,
            "images_per_second_synced": images_per_step * len(seconds) / float(seconds.sum()),
            "step_ms_p50": float(np.percentile(seconds, 50) * 1e3),
            "step_ms_p99": float(np.percentile(seconds, 99) * 1e3),
        }


class Harness:
    """The Trainer's model, compile and feeds for one run's sizes, strategy and data."""

    def __init__(self, sizes: Sizes, strategy: tf.distribute.Strategy, plan: distribution.DistributionPlan):
        self.sizes = sizes
        self.strategy, self.plan = strategy, plan
        self.settings = trainer_settings(sizes.image_size)
        self.seed = self.settings.training.seed
        self.num_classes = dataset_facts(self.settings.dataset).num_classes
        self.has_gpu = plan.gpus > 0
        self._data: Optional[Data] = None

    @property
    def data(self) -> Data:
        if self._data is None:
            raise RuntimeError("the data is not prepared yet (Bench.run prepares it first)")
        return self._data

    def set_policy(self, policy: str) -> None:
        """The Trainer's own switch (distribution.configure_mixed_precision) for either policy."""
        distribution.configure_mixed_precision(
            dataclasses.replace(self.plan, mixed_precision=policy == MIXED)
        )

    def compiled_model(self, policy: str, xla: bool) -> keras.Model:
        """The Trainer's model and compile, under its strategy, with XLA switched on or off."""
        keras.backend.clear_session()
        gc.collect()
        self.set_policy(policy)
        keras.utils.set_random_seed(self.seed)
        with self.strategy.scope():
            model = build_for(self.settings, self.num_classes)
            compile_model(
                model, self.settings.training.learning_rate, self.num_classes, self.settings.training
            )
            model.jit_compile = xla
        return model

    def global_batch(self, batch: int) -> int:
        return distribution.global_batch_size(batch, self.plan)

    def trainer_feed(self, global_batch: int, files: Sequence[str], training: bool) -> tf.data.Dataset:
        spec = self.data.transform_output.transformed_feature_spec()
        training_settings = self.settings.training
        return make_dataset(
            tf.data.Dataset.from_tensor_slices(load_split(list(files), spec)),
            global_batch,
            training=training,
            seed=self.seed,
            augment=training_settings.augment,
            augment_strength=training_settings.augment_strength,
        )

    def memory_feed(self, global_batch: int) -> tf.data.Dataset:
        """Cached transformed tensors; batched like the Trainer's (no drop_remainder), so the
        element spec matches and the compiled step is reused, not traced again."""
        return self.data.memory_pairs.repeat().batch(global_batch).prefetch(tf.data.AUTOTUNE)

    def trainer_warmup(self, global_batch: int) -> int:
        """Warm-up steps on the Trainer feed: it caches on its first pass, so one whole pass."""
        return max(self.sizes.warmup_steps, math.ceil(self.sizes.n_train / global_batch) + 1)

    def timed_fit(
        self, model: keras.Model, dataset: tf.data.Dataset, warmup: int, global_batch: int
    ) -> Dict[str, float]:
        clock = _Clock(warmup, self.sizes.measured_steps)
        model.fit(dataset, epochs=1, steps_per_epoch=clock.total_steps, callbacks=[clock], verbose=0)
        return clock.summary(global_batch)

    def reset_memory_peak(self) -> None:
        if self.has_gpu:
            tf.config.experimental.reset_memory_stats("GPU:0")

    def memory_peak(self) -> Optional[int]:
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] if self.has_gpu else None
