"""One benchmark run: the configurations in the order the issue needs them, within the budget,
and the document that records them (the Bench).
"""

import dataclasses
import gc
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

import tensorflow as tf
import tf_keras as keras

from bench.common import machine_snapshot
from bench.gpu.checks import Checks
from bench.gpu.data import prepare_data
from bench.gpu.device import detect_device
from bench.gpu.flops import forward_flops_per_image
from bench.gpu.report import first_line, label, write_outputs
from bench.gpu.settings import (
    FLOAT32,
    MIXED,
    PIPELINE_OK_RATIO,
    TARGET_MIXED_SPEEDUP,
    TARGET_SHARE_OF_PEAK,
    Budget,
    Options,
    Sizes,
)
from trainer import distribution


def _is_oom(err: BaseException) -> bool:
    text = str(err)
    return (
        isinstance(err, tf.errors.ResourceExhaustedError)
        or "RESOURCE_EXHAUSTED" in text
        or "out of memory" in text.lower()
    )


class Bench(Checks):
    """One benchmark run: its sizes, budget, strategy and data, and the document it writes."""

    def __init__(
        self,
        options: Options,
        sizes: Sizes,
        budget: Budget,
        out_path: str,
        strategy: tf.distribute.Strategy,
        plan: distribution.DistributionPlan,
    ):
        super().__init__(sizes, strategy, plan)
        self.options, self.budget, self.out_path = options, budget, out_path
        self.flops: Dict[str, Any] = {}
        self.peaks: Optional[Dict[str, Any]] = None
        self.seconds_seen: Dict[str, List[float]] = {}
        self.doc: Dict[str, Any] = {
            "benchmark": "gpu",
            "mode": sizes.name,
            "settings": dataclasses.asdict(sizes),
            "options": dataclasses.asdict(options),
            "budget_seconds": budget.total,
            "machine": {"before": machine_snapshot()},
            "strategy": distribution.describe(plan),
            "configs": [],
            "skipped": [],
        }

    # -- bookkeeping ---------------------------------------------------------------------------
    def estimate(self, kind: str) -> float:
        seen = self.seconds_seen.get(kind)
        return max(seen) if seen else self.sizes.default_seconds[kind]

    def fits(self, what: str, kind: str) -> bool:
        """Whether a step of this kind fits the budget left; notes the skip when it does not."""
        needed = self.estimate(kind)
        if self.budget.allows(needed):
            return True
        self.doc["skipped"].append(
            {"what": what, "reason": f"budget: {self.budget.left():.0f} s left, needs ~{needed:.0f} s"}
        )
        return False

    def phase(self, key: str, kind: str, fn: Callable[[], Dict[str, Any]]) -> None:
        """Runs one phase if it fits; records its result, or its error, and saves the document."""
        if not self.fits(key, kind):
            self.doc[key] = {"status": "skipped"}
            return
        started = time.monotonic()
        try:
            self.doc[key] = {"status": "ok", **fn()}
        except Exception as err:  # one phase's failure must not lose the others' results
            self.doc[key] = {
                "status": "error",
                "error": first_line(err),
                "traceback": traceback.format_exc(limit=8)[-3000:],
            }
        finally:
            self.seconds_seen.setdefault(kind, []).append(time.monotonic() - started)
            self.doc[key]["seconds"] = round(time.monotonic() - started, 1)
            self.save()

    def save(self) -> None:
        self.doc["elapsed_seconds"] = round(self.budget.elapsed(), 1)
        write_outputs(self.doc, self.out_path)

    # -- training configurations ---------------------------------------------------------------
    def run_config(
        self, policy: str, xla: bool, batch: int, after: Optional[Callable[[keras.Model], None]] = None
    ) -> Dict[str, Any]:
        """One configuration, fed first by the Trainer's pipeline, then from memory; `after`
        gets the model once it is measured (its time is not counted as the configuration's)."""
        kind = "config_xla" if xla else "config"
        record: Dict[str, Any] = {
            "policy": policy,
            "xla": xla,
            "batch_size": batch,
            "global_batch_size": self.global_batch(batch),
        }
        if not self.fits(f"{policy} xla={xla} batch={batch}", kind):
            record["status"] = "skipped"
            self.doc["configs"].append(record)
            return record
        started = time.monotonic()
        global_batch = record["global_batch_size"]
        model = None
        try:
            self.reset_memory_peak()
            if self.options.inject_oom_from_batch and batch >= self.options.inject_oom_from_batch:
                raise tf.errors.ResourceExhaustedError(None, None, "injected by --inject-oom-from-batch")
            model = self.compiled_model(policy, xla)
            record["trainer_feed"] = self.timed_fit(
                model,
                self.trainer_feed(global_batch, self.data.train_files, True).repeat(),
                self.trainer_warmup(global_batch),
                global_batch,
            )
            record["memory_feed"] = self.timed_fit(
                model, self.memory_feed(global_batch), self.sizes.warmup_steps, global_batch
            )
        except Exception as err:  # one configuration's failure must not end the run
            record["status"] = "oom" if _is_oom(err) else "error"
            record["error"] = first_line(err)
        else:
            record["status"] = "ok"
            record.update(self.derived(policy, record))
            record["seconds"] = round(time.monotonic() - started, 1)
            if after:
                after(model)
        finally:
            record["gpu_memory_peak_bytes"] = self.memory_peak()
            del model
            keras.backend.clear_session()
            gc.collect()
            record.setdefault("seconds", round(time.monotonic() - started, 1))
            self.seconds_seen.setdefault(kind, []).append(record["seconds"])
            self.doc["configs"].append(record)
            self.save()
        return record

    def derived(self, policy: str, record: Dict[str, Any]) -> Dict[str, Any]:
        """Headline numbers of a finished configuration: its Trainer-fed speed against the peaks."""
        fed = record["trainer_feed"]
        tflops = fed["images_per_second"] * self.flops["training"] / 1e12
        peaks = self.peaks
        own_key = (
            "fp16_bf16_tensor"
            if policy == MIXED
            else ("tf32_tensor" if self.doc["device"].get("tf32_enabled") else "fp32")
        )
        replicas = self.plan.num_replicas_in_sync

        def share(key: str) -> Optional[float]:
            peak = peaks.get(key) if peaks else None
            return tflops / (peak * replicas) if peak else None

        return {
            "images_per_second": fed["images_per_second"],
            "step_ms_p50": fed["step_ms_p50"],
            "step_ms_p99": fed["step_ms_p99"],
            "achieved_tflops": tflops,
            "share_of_fp16_bf16_peak": share("fp16_bf16_tensor"),
            "share_of_own_precision_peak": share(own_key),
            "own_precision_peak": own_key,
            "pipeline_ratio": fed["images_per_second"] / record["memory_feed"]["images_per_second"],
        }

    def ok_configs(self, **match: Any) -> List[Dict[str, Any]]:
        return [
            c
            for c in self.doc["configs"]
            if c["status"] == "ok" and all(c[key] == value for key, value in match.items())
        ]

    def record_of(self, policy: str, xla: bool, batch: int) -> Optional[Dict[str, Any]]:
        """The configuration's record if it has one (run, failed, or skipped for budget: the
        budget only shrinks, so a skipped one is not tried again)."""
        return next(
            (
                c
                for c in self.doc["configs"]
                if c["policy"] == policy and c["xla"] == xla and c["batch_size"] == batch
            ),
            None,
        )

    def best(self, **match: Any) -> Optional[Dict[str, Any]]:
        configs = self.ok_configs(**match)
        return max(configs, key=lambda c: c["images_per_second"]) if configs else None

    def sweep(self, policy: str, xla: bool, down: bool = True) -> None:
        """Batch sizes beyond the reference for one policy/XLA pair: up until memory runs out,
        then (with `down`) the smaller ones."""
        reference = self.sizes.batch_sizes[0]
        for batch in (b for b in self.sizes.batch_sizes if b > reference):
            record = self.record_of(policy, xla, batch) or self.run_config(policy, xla, batch)
            if record["status"] == "oom":
                break
        for batch in (b for b in self.sizes.batch_sizes if down and b < reference):
            if not self.record_of(policy, xla, batch):
                self.run_config(policy, xla, batch)

    # -- the other measurements ----------------------------------------------------------------
    def input_pipeline(self, best: Dict[str, Any]) -> Dict[str, Any]:
        """The fastest configuration's Trainer feed against its memory feed, and the Trainer's
        pipeline alone (no model): what it can deliver at most."""
        global_batch = best["global_batch_size"]
        dataset = self.trainer_feed(global_batch, self.data.train_files, True).repeat()
        iterator = iter(dataset)
        for _ in range(self.trainer_warmup(global_batch)):  # fill the cache
            next(iterator)
        batches = max(self.sizes.measured_steps, 5)
        started = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        alone = global_batch * batches / (time.perf_counter() - started)
        trainer = best["trainer_feed"]["images_per_second"]
        memory = best["memory_feed"]["images_per_second"]
        return {
            "config": label(best),
            "trainer_images_per_second": trainer,
            "memory_images_per_second": memory,
            "ratio": trainer / memory,
            "pipeline_alone_images_per_second": alone,
            "ok_threshold": PIPELINE_OK_RATIO,
            "bottleneck": trainer / memory < PIPELINE_OK_RATIO,
            "per_config_ratios": {label(c): c["pipeline_ratio"] for c in self.ok_configs()},
        }

    # -- the run ---------------------------------------------------------------------------------
    def run(self, work_dir: str) -> Dict[str, Any]:
        self.doc["device"] = detect_device(self.sizes)
        self.peaks = self.doc["device"]["peak_tflops"]
        self.flops = forward_flops_per_image(self.sizes.image_size)
        self.doc["flops_per_image"] = self.flops
        self.save()
        self._data, self.doc["data"] = prepare_data(self.sizes, work_dir)
        self.save()

        reference = self.sizes.batch_sizes[0]
        global_reference = self.global_batch(reference)
        for policy in (FLOAT32, MIXED):
            for xla in self.sizes.xla:
                self.run_config(
                    policy,
                    xla,
                    reference,
                    after=None if xla else self.train_on_for_accuracy(policy, global_reference),
                )
        self.doc["mixed_precision_accuracy"] = self.accuracy_result(global_reference)
        self.save()
        self.phase("predict_images", "predict", lambda: self.predict_latency(work_dir))

        # Then, in the order of what the issue needs most: the fastest pair at larger batches,
        # float32 at the best batch, the input-pipeline check, the profile; then whatever the
        # budget leaves of the other cells.
        fastest = self.best()
        if fastest:
            self.sweep(fastest["policy"], fastest["xla"], down=False)
            best = self.best() or fastest
            # Float32 at the best batch too, so the mixed/float32 ratio is also taken there.
            fp32_xla = (self.best(policy=FLOAT32) or best)["xla"]
            if not self.record_of(FLOAT32, fp32_xla, best["batch_size"]):
                self.run_config(FLOAT32, fp32_xla, best["batch_size"])
            best = self.best() or best
            self.phase("input_pipeline", "pipeline", lambda: self.input_pipeline(best))
            if self.options.profile:
                self.phase(
                    "profile", "config_xla" if best["xla"] else "config", lambda: self.profile(best, work_dir)
                )
            self.sweep(best["policy"], best["xla"])
            for policy in (MIXED, FLOAT32):
                for xla in self.sizes.xla:
                    self.sweep(policy, xla)
        self.doc["summary"] = self.summary()
        self.doc["machine"]["after"] = machine_snapshot()
        self.save()
        return self.doc

    def summary(self) -> Dict[str, Any]:
        """The issue's targets, met or missed (never enforced: a benchmark reports)."""
        best = self.best()
        reference = self.sizes.batch_sizes[0]
        at_reference = {}
        for xla in self.sizes.xla:
            fp32, mixed = (self.best(policy=p, xla=xla, batch_size=reference) for p in (FLOAT32, MIXED))
            at_reference[f"xla_{'on' if xla else 'off'}"] = (
                mixed["images_per_second"] / fp32["images_per_second"] if fp32 and mixed else None
            )
        fp32_best, mixed_best = self.best(policy=FLOAT32), self.best(policy=MIXED)
        best_vs_best = (
            mixed_best["images_per_second"] / fp32_best["images_per_second"]
            if fp32_best and mixed_best
            else None
        )
        share = best["share_of_fp16_bf16_peak"] if best else None
        accuracy = self.doc.get("mixed_precision_accuracy", {})
        return {
            "best_config": label(best) if best else None,
            "best_images_per_second": best["images_per_second"] if best else None,
            "mixed_over_float32": {
                "at_reference_batch": at_reference,
                "best_vs_best": best_vs_best,
                "target": TARGET_MIXED_SPEEDUP,
                "met": best_vs_best >= TARGET_MIXED_SPEEDUP if best_vs_best else None,
            },
            "share_of_fp16_bf16_peak": {
                "best": share,
                "target": TARGET_SHARE_OF_PEAK,
                "met": share >= TARGET_SHARE_OF_PEAK if share is not None else None,
                "note": None if share is not None else "no datasheet peak for this device",
            },
            "input_pipeline_bottleneck": self.doc.get("input_pipeline", {}).get("bottleneck"),
            "mixed_precision_accuracy_passed": accuracy.get("passed"),
        }
