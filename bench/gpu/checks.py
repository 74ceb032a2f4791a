"""The measurements beside the training grid that need only the Trainer's model and feeds:
the mixed-precision accuracy check, predict_images latency and the profile of a configuration.
"""

import os
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf
import tf_keras as keras

from bench.common import latency_stats
from bench.gpu.harness import Harness
from bench.gpu.profiling import ProfileSteps, summarize_xplane
from bench.gpu.report import first_line, label
from bench.gpu.settings import FLOAT32, MIXED, MIXED_IOU_TOLERANCE, Sizes
from contract.names import CLASS_MAP, IMAGES_INPUT, PREDICT_IMAGES
from trainer import distribution
from trainer.export import export_saved_model


class Checks(Harness):
    """The accuracy check's state and the measurements made on one model at a time."""

    def __init__(self, sizes: Sizes, strategy: tf.distribute.Strategy, plan: distribution.DistributionPlan):
        super().__init__(sizes, strategy, plan)
        self.accuracy_parts: Dict[str, Dict[str, Any]] = {}
        self.float32_weights: Optional[List[np.ndarray]] = None

    def eval_mean_iou(self, model: keras.Model, global_batch: int) -> float:
        evaluation = self.trainer_feed(global_batch, self.data.eval_files, training=False)
        return float(model.evaluate(evaluation, verbose=0, return_dict=True)["mean_iou"])

    def train_on_for_accuracy(self, policy: str, global_batch: int) -> Callable[[keras.Model], None]:
        """What the reference XLA-off configuration of `policy` does after its timed steps.

        Both policies' models began from the same seed and saw the same batches (the Trainer feed
        draws its shuffles and flips from seeded generators, the memory feed is in order), so they
        differ only by precision. Each trains `accuracy_steps` more, then is scored on the eval
        split; the mixed model also scores the float32 model's weights, which separates inference
        rounding from drift in training.
        """

        def train_and_score(model: keras.Model) -> None:
            started = time.monotonic()
            try:
                model.fit(
                    self.trainer_feed(global_batch, self.data.train_files, True).repeat(),
                    epochs=1,
                    steps_per_epoch=self.sizes.accuracy_steps,
                    verbose=0,
                )
                part: Dict[str, Any] = {
                    "training_steps": int(model.optimizer.iterations.numpy()),
                    "mean_iou": self.eval_mean_iou(model, global_batch),
                }
                if policy == FLOAT32:
                    self.float32_weights = model.get_weights()
                elif self.float32_weights is not None:
                    model.set_weights(self.float32_weights)
                    part["float32_weights_mean_iou"] = self.eval_mean_iou(model, global_batch)
            except Exception as err:  # recorded; the timings stand without it
                part = {"error": first_line(err)}
            part["seconds"] = round(time.monotonic() - started, 1)
            self.accuracy_parts[policy] = part

        return train_and_score

    def accuracy_result(self, global_batch: int) -> Dict[str, Any]:
        """The mixed-precision accuracy check, from what the reference configurations left."""
        parts = self.accuracy_parts
        if FLOAT32 not in parts or MIXED not in parts:
            return {
                "status": "not measured",
                "error": "the float32 and mixed_float16 reference "
                "configurations without XLA did not both finish (see configs)",
            }
        errors = {policy: part["error"] for policy, part in parts.items() if "error" in part}
        if errors:
            return {"status": "error", "error": "; ".join(f"{p}: {e}" for p, e in errors.items())}
        difference = parts[MIXED]["mean_iou"] - parts[FLOAT32]["mean_iou"]
        return {
            "status": "ok",
            "steps": parts[FLOAT32]["training_steps"],
            "batch_size": global_batch,
            "tolerance": MIXED_IOU_TOLERANCE,
            f"{FLOAT32}_mean_iou": parts[FLOAT32]["mean_iou"],
            f"{MIXED}_mean_iou": parts[MIXED]["mean_iou"],
            "float32_weights_mixed_inference_mean_iou": parts[MIXED].get("float32_weights_mean_iou"),
            "difference": difference,
            "passed": abs(difference) <= MIXED_IOU_TOLERANCE,
            "seconds": {policy: part["seconds"] for policy, part in parts.items()},
        }

    def predict_latency(self, work_dir: str) -> Dict[str, Any]:
        """predict_images of the model the Trainer would export here (mixed precision on a GPU)."""
        policy = MIXED if self.plan.mixed_precision else FLOAT32
        model = self.compiled_model(policy, xla=False)
        export_dir = os.path.join(work_dir, "export")
        started = time.perf_counter()
        export_saved_model(model, self.data.transform_output, export_dir)
        export_seconds = time.perf_counter() - started
        keras.backend.clear_session()
        signature = tf.saved_model.load(export_dir).signatures[PREDICT_IMAGES]
        result: Dict[str, Any] = {
            "policy": policy,
            "export_seconds": export_seconds,
            "inputs": "encoded JPEGs at their own sizes (160-420 px)",
        }
        for batch, calls in self.sizes.predict_calls.items():
            images = tf.constant(
                [self.data.eval_images[i % len(self.data.eval_images)] for i in range(batch)]
            )
            for _ in range(self.sizes.predict_warmup_calls):
                signature(**{IMAGES_INPUT: images})[CLASS_MAP].numpy()
            seconds = []
            for _ in range(calls):
                started = time.perf_counter()
                signature(**{IMAGES_INPUT: images})[CLASS_MAP].numpy()
                seconds.append(time.perf_counter() - started)
            result[f"batch_{batch}"] = latency_stats(seconds, batch)
        return result

    def profile(self, best: Dict[str, Any], work_dir: str) -> Dict[str, Any]:
        """A few profiled steps of the fastest configuration, reduced to its top kernels."""
        global_batch = best["global_batch_size"]
        model = self.compiled_model(best["policy"], best["xla"])
        logdir = os.path.join(work_dir, "profile")
        warmup = self.trainer_warmup(global_batch)
        profiler = ProfileSteps(logdir, warmup, self.sizes.profile_steps)
        try:
            model.fit(
                self.trainer_feed(global_batch, self.data.train_files, True).repeat(),
                epochs=1,
                steps_per_epoch=warmup + self.sizes.profile_steps,
                callbacks=[profiler],
                verbose=0,
            )
        finally:
            profiler.stop()
            keras.backend.clear_session()
        return {
            "config": label(best),
            "profiled_steps": self.sizes.profile_steps,
            **summarize_xplane(logdir),
        }
