"""The phone model's cost: file size, CPU latency at batch 1 (p50/p99, 1 and 2 threads) and eval
mean IoU of the SavedModel's network, TFLite float16 and TFLite int8, side by side.

Reads where_time_goes' pipeline run. Sizes and mean IoUs come from what the pipeline produced:
the TfliteExport artifact holds both variants and their scores on the whole eval split, and the
Evaluator's score of the SavedModel (the same pixels, the same arithmetic). Latency: every
variant gets the same eval images, resized as Transform does, one at a time, and computes the
same thing: the class map and the probabilities at the model's resolution. The SavedModel's
side is the Trainer's network in TensorFlow (its Format-Keras weights, softmax and argmax in one
tf.function); the SavedModel's own signatures add decoding and resizing (serving_cost measures
those). TensorFlow fixes its thread pools when its runtime starts, so each thread count runs in
a fresh process; within one, the three variants alternate in rounds.
"""

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Dict, List, Sequence, TypeVar

from bench.common import Recorder, Settings, alternating_orders, latency_stats, parse_settings
from contract.names import TFLITE_MODEL_TYPE_NAME, TFLITE_SCORES_FILE

THREADS = (1, 2)
DISTINCT_IMAGES = 8
WARMUP_CALLS = 3
SAVED_MODEL = "saved_model"
VARIANTS = (SAVED_MODEL, "float16", "int8")

Input = TypeVar("Input")


def _pipeline_outputs(settings: Settings) -> Dict[str, str]:
    """The Trainer's model and the TfliteExport artifact of the benchmark's pipeline run."""
    from bench.pipeline_run import artifact, pipeline_config

    config = pipeline_config(settings)
    return {
        "model": artifact(config, "Trainer.Model").uri,
        "tflite": artifact(config, f"TfliteExport.{TFLITE_MODEL_TYPE_NAME}").uri,
    }


def _in_turn(run: Callable[[Input], object], inputs: Sequence[Input]) -> Callable[[int], object]:
    """call(i): `run` on the i-th of `inputs`, cycling through them."""
    return lambda i: run(inputs[i % len(inputs)])


def _calls(settings: Settings, outputs: Dict[str, str], threads: int) -> Dict[str, Callable[[int], object]]:
    """variant -> call(i): the i-th batch-1 call, on DISTINCT_IMAGES eval images in turn."""
    import tensorflow as tf

    from bench.common import NUM_CLASSES
    from bench.data import resized_arrays, tfds_builder
    from bench.pipeline_run import pipeline_config, trainer_settings
    from components.tflite.converter import rebuild_model
    from contract.names import TFLITE_CONTRACT_FILE, TFLITE_MODEL_FILE
    from serving.tflite_contract import read_contract
    from serving.tflite_runner import TfliteRunner

    images, _ = resized_arrays(tfds_builder(settings), "test", settings.image_size)
    pixels = [image * 255.0 for image in images[:DISTINCT_IMAGES]]
    network = rebuild_model(outputs["model"], trainer_settings(pipeline_config(settings)), NUM_CLASSES)

    @tf.function(
        input_signature=[tf.TensorSpec([1, settings.image_size, settings.image_size, 3], tf.float32)]
    )
    def segment(batch: tf.Tensor) -> Dict[str, tf.Tensor]:
        logits = network(batch / 255.0, training=False)
        return {"class_map": tf.argmax(logits, axis=-1), "probabilities": tf.nn.softmax(logits)}

    tensors = [tf.constant(p[None], tf.float32) for p in pixels]
    calls: Dict[str, Callable[[int], object]] = {SAVED_MODEL: lambda i: segment(tensors[i % len(tensors)])}
    for variant in VARIANTS[1:]:
        folder = os.path.join(outputs["tflite"], variant)
        with open(os.path.join(folder, TFLITE_MODEL_FILE), "rb") as handle:
            runner = TfliteRunner(
                handle.read(), read_contract(os.path.join(folder, TFLITE_CONTRACT_FILE)), threads
            )
        calls[variant] = _in_turn(runner.run, pixels)
    return calls


def _latencies(settings: Settings, outputs: Dict[str, str], threads: int) -> Dict[str, Dict[str, float]]:
    """p50/p99 per variant at batch 1 with `threads` threads (runs in a fresh process)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    calls = _calls(settings, outputs, threads)
    for call in calls.values():
        for i in range(WARMUP_CALLS):
            call(i)
    seconds: Dict[str, List[float]] = {name: [] for name in calls}
    for order in alternating_orders(list(calls), settings.serving_rounds):
        for name in order:
            for i in range(settings.serving_calls_batch1):
                started = time.perf_counter()
                calls[name](i)
                seconds[name].append(time.perf_counter() - started)
    return {name: latency_stats(values, 1) for name, values in seconds.items()}


def _directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def main() -> None:
    settings = parse_settings(__doc__.splitlines()[0])
    recorder = Recorder("tflite_cost", settings)
    outputs = _pipeline_outputs(settings)
    with open(os.path.join(outputs["tflite"], TFLITE_SCORES_FILE), encoding="utf-8") as handle:
        scores = json.load(handle)
    latency = {}
    for threads in THREADS:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            latency[threads] = pool.submit(_latencies, settings, outputs, threads).result()
    sizes = {
        SAVED_MODEL: _directory_bytes(os.path.join(outputs["model"], "Format-Serving")),
        **{variant: values["size_bytes"] for variant, values in scores["variants"].items()},
    }
    mean_ious = {
        SAVED_MODEL: scores["saved_model"]["mean_iou"],
        **{variant: values["mean_iou"] for variant, values in scores["variants"].items()},
    }
    recorder.write(
        {
            "eval_images": scores["variants"]["float16"]["eval_images"],
            "variants": {
                variant: {
                    "size_bytes": sizes[variant],
                    "eval_mean_iou": mean_ious[variant],
                    "latency_batch1": {
                        f"{threads}_threads": latency[threads][variant] for threads in THREADS
                    },
                }
                for variant in VARIANTS
            },
            "gate": scores["gate"],
            "saved_model_note": "size: the whole Format-Serving directory (graph with the Transform, "
            "float32 variables); latency: the same network in TensorFlow, preprocessed input",
        }
    )


if __name__ == "__main__":
    main()
