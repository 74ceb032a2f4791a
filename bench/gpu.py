"""GPU training benchmark (issue 17): the Trainer's own input pipeline and model, bounded in time.

    python -m bench.gpu [--quick] [--out bench/results/gpu.json] [--budget-seconds N] [--require-gpu]

What it measures, on data it generates on the machine (nothing is downloaded):
- for float32 and mixed_float16, with and without XLA (`jit_compile`), and for batch sizes up to
  what memory allows (growing stops at the first ResourceExhaustedError, which is recorded):
  training images/s, step time p50/p99, the GPU memory peak, and the TFLOP/s achieved against
  the device's dense peak. Each configuration is the Trainer's path: the model of its default
  settings with encoder weights none (`trainer.task.build_for`), compiled by
  `trainer.task.compile_model` under the strategy `trainer.distribution` picks, with the dtype
  policy set by `distribution.configure_mixed_precision`, fed by
  `trainer.data.make_dataset(load_split(...))` from gzipped TFRecords of transformed
  examples, as Transform writes them;
- whether the input pipeline is the bottleneck: the same compiled model is then fed cached,
  already transformed tensors from memory (`from_tensor_slices`), and the ratio is recorded;
- whether mixed precision costs accuracy: the float32 and mixed-precision models of the
  reference batch size without XLA start from the same seed and see the same batches; after their
  timed steps both train on for a few hundred more, and their eval mean IoU on held-out images
  must agree within 0.01;
- `predict_images` latency at batch 1 and 32 through a SavedModel exported by the Trainer's own
  `export_saved_model` (Transform graph written without data, as tests/helpers.py does);
- optionally, a profiler trace of a few steps of the fastest configuration, reduced to its top
  kernels by device time (the trace itself is not kept).

Achieved FLOP/s = images/s x 3 x forward FLOPs per image. The forward FLOPs are the ones
bench/ceiling.py measured at 128 px (bench/results/ceiling.json), scaled by the pixel count at
other sizes (every layer of this fully convolutional network scales with it). The 3 is the
usual training rule: the backward pass costs about twice the forward one (gradients with respect
to activations and to weights, each about one forward pass of multiply-adds). BatchNorm,
activations and the optimizer are not counted, so the figure slightly understates the work.

Images/s come from a window of steps that run as the Trainer's fit runs them (no device sync
between steps, so the host queues the next step while the device computes); p50/p99 come from a
second window whose every step waits for the device, so each time is one step's real latency.

Everything is bounded by --budget-seconds, counted from the start of `main` (after the imports,
which bench/__init__.py begins by settling Keras 2 through `contract`): the essential
measurements run first, and whatever would overrun is skipped with a note. The JSON and the
markdown table are rewritten after every phase, so a run killed from outside still leaves what
it measured. Without a GPU, or with --quick, it runs a tiny version
(32 px, batches of 2 to 8, a few steps, no XLA) so that tests keep this script working.
"""

import argparse
import dataclasses
import gc
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from bench.common import RESULTS_DIR, SCRATCH_DIR, cpu_model, latency_stats, machine_snapshot
from contract import oxford_pets as layout
from contract.datasets import DEFAULT_DATASET, dataset_facts
from contract.names import (
    CLASS_MAP,
    FILE_NAME_KEY,
    IMAGE_KEY,
    IMAGE_XF,
    IMAGES_INPUT,
    LABEL_KEY,
    MASK_KEY,
    MASK_XF,
    PREDICT_IMAGES,
    SPECIES_KEY,
)
from datagen.synthetic_pets import write_dataset
from trainer import distribution
from trainer.data import load_split, make_dataset
from trainer.export import export_saved_model
from trainer.preprocessing import preprocessing_fn
from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
from trainer.task import build_for, compile_model

FLOAT32 = "float32"
MIXED = "mixed_float16"
ENCODER_WEIGHTS = "none"  # no ImageNet weights offline; the encoder trains from scratch
TRAINING_OVER_FORWARD = 3  # training step ~ 3 forward passes (see the module docstring)
CEILING_FILE = os.path.join(RESULTS_DIR, "ceiling.json")
MIXED_IOU_TOLERANCE = 0.01
TARGET_MIXED_SPEEDUP = 2.0
TARGET_SHARE_OF_PEAK = 0.25
# The Trainer feed counts as "not the bottleneck" when it reaches this share of the memory feed.
PIPELINE_OK_RATIO = 0.95
TOP_KERNELS = 25
PROFILE_KERNELS_IN_TABLE = 8
KERNEL_NAME_CHARS = 160
EXIT_NO_GPU = 3

# Dense (no 2:4 sparsity) peak TFLOP/s at boost clock, from NVIDIA's datasheets. The datasheets
# quote tensor-core rates "with sparsity", twice the dense rates used here. Keys are the tokens
# of the name nvidia-smi and TensorFlow report ("NVIDIA H200", "NVIDIA A100-SXM4-80GB",
# "Tesla V100-SXM2-16GB"); the first entry whose tokens all appear in the name wins, so the more
# specific entries come first. Values: (fp32 without tensor cores, tf32 tensor, fp16/bf16 tensor).
_PEAK_TFLOPS: Tuple[Tuple[Tuple[str, ...], Optional[float], Optional[float], Optional[float]], ...] = (
    # H200 NVL / SXM: https://www.nvidia.com/en-us/data-center/h200/ (NVL: FP32 60, TF32 835*,
    # BF16/FP16 1,671*; SXM: FP32 67, TF32 989*, BF16/FP16 1,979*; * = with sparsity)
    (("H200", "NVL"), 60.0, 417.5, 835.5),
    (("H200",), 67.0, 494.5, 989.5),
    # H100 NVL / PCIe / SXM: https://www.nvidia.com/en-us/data-center/h100/ (NVL: 60, 835*, 1,671*;
    # PCIe: 51, 756*, 1,513*; SXM, named "H100 80GB HBM3" by nvidia-smi: 67, 989*, 1,979*)
    (("H100", "NVL"), 60.0, 417.5, 835.5),
    (("H100", "PCIE"), 51.0, 378.0, 756.5),
    (("H100",), 67.0, 494.5, 989.5),
    # A100 40/80 GB, SXM4 and PCIe alike: https://www.nvidia.com/en-us/data-center/a100/
    # (FP32 19.5, TF32 156, BF16/FP16 312, dense)
    (("A100",), 19.5, 156.0, 312.0),
    # L40S: https://www.nvidia.com/en-us/data-center/l40s/ (FP32 91.6, TF32 366*, BF16/FP16 733*)
    (("L40S",), 91.6, 183.0, 366.5),
    # L4: https://www.nvidia.com/en-us/data-center/l4/ (FP32 30.3, TF32 120*, BF16/FP16 242*)
    (("L4",), 30.3, 60.0, 121.0),
    # A10: https://www.nvidia.com/en-us/data-center/products/a10-gpu/ (FP32 31.2, TF32 125*,
    # BF16/FP16 250*)
    (("A10",), 31.2, 62.5, 125.0),
    # T4 (Turing: no TF32, no BF16): https://www.nvidia.com/en-us/data-center/tesla-t4/
    # (FP32 8.1, mixed FP16/FP32 tensor 65)
    (("T4",), 8.1, None, 65.0),
    # V100 (Volta: no TF32, no BF16): https://www.nvidia.com/en-us/data-center/v100/
    # (V100S PCIe: FP32 16.4, tensor 130; SXM2: 15.7, 125; PCIe: 14, 112)
    (("V100S",), 16.4, None, 130.0),
    (("V100", "SXM2"), 15.7, None, 125.0),
    (("V100",), 14.0, None, 112.0),
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big one run is: the GPU run of the issue, or the tiny CPU run that tests use."""

    name: str
    image_size: int
    n_train: int  # unique training images = examples per pass (a multiple of every batch size)
    n_eval: int
    # Per-replica batch sizes: the reference first (every precision/XLA pair runs at it), then
    # larger ones (growing stops at the first out-of-memory), then smaller ones.
    batch_sizes: Tuple[int, ...]
    xla: Tuple[bool, ...]
    warmup_steps: int  # at least; the Trainer feed's warm-up also covers one whole pass (cache)
    measured_steps: int  # in each of the two windows (free-running, then synced per step)
    accuracy_steps: int  # extra training steps of the accuracy check, after the timed ones
    predict_calls: Dict[int, int]  # calls timed at each batch size, after warm-up calls
    predict_warmup_calls: int
    profile_steps: int
    matmul_size: int
    matmul_repeats: int
    # Seconds a phase is assumed to take before one like it has run (the budget's first guesses).
    default_seconds: Dict[str, float]


GPU_SIZES = Sizes(
    name="gpu",
    image_size=128,
    n_train=1024,
    n_eval=256,
    batch_sizes=(256, 512, 1024, 128, 64, 32),
    xla=(False, True),
    warmup_steps=5,
    measured_steps=40,
    accuracy_steps=300,
    predict_calls={1: 100, 32: 30},
    predict_warmup_calls=5,
    profile_steps=5,
    matmul_size=8192,
    matmul_repeats=20,
    default_seconds={"config": 30.0, "config_xla": 60.0, "predict": 60.0, "pipeline": 10.0},
)
# 32 px, the smallest size the encoder takes: float16 runs emulated on CPUs, ~3 s a step at 64 px.
TINY_SIZES = Sizes(
    name="cpu-tiny",
    image_size=32,
    n_train=8,
    n_eval=4,
    batch_sizes=(2, 4, 8),
    xla=(False,),  # XLA's compile of this model alone takes ~45 s on 2 cores
    warmup_steps=1,
    measured_steps=2,
    accuracy_steps=2,
    predict_calls={1: 3, 32: 2},
    predict_warmup_calls=1,
    profile_steps=2,
    matmul_size=256,
    matmul_repeats=3,
    default_seconds={"config": 20.0, "config_xla": 90.0, "predict": 40.0, "pipeline": 5.0},
)


@dataclasses.dataclass(frozen=True)
class Options:
    """The command line's choices."""

    quick: bool = False
    out: Optional[str] = None
    budget_seconds: float = 420.0
    require_gpu: bool = False
    profile: bool = True
    inject_oom_from_batch: Optional[int] = None


class Budget:
    """Seconds left of the run's allowance, and whether a step estimated to take `seconds` fits."""

    def __init__(self, total_seconds: float, started: float):
        self.total = float(total_seconds)
        self.started = started

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.total - self.elapsed()

    def allows(self, seconds: float) -> bool:
        return self.left() >= seconds


def peak_tflops(device_name: str) -> Optional[Dict[str, Any]]:
    """Datasheet dense peaks for a GPU name, or None when the name is not in the table."""
    tokens = set(re.split(r"[^A-Z0-9]+", device_name.upper()))
    for key, fp32, tf32, fp16 in _PEAK_TFLOPS:
        if all(token in tokens for token in key):
            return {"matched": " ".join(key), "fp32": fp32, "tf32_tensor": tf32, "fp16_bf16_tensor": fp16}
    return None


def _nvidia_smi() -> Optional[Dict[str, str]]:
    """Name, memory, driver and clocks of GPU 0 from nvidia-smi, None where it is absent."""
    if not shutil.which("nvidia-smi"):
        return None
    fields = ("name", "memory.total", "driver_version", "clocks.max.sm", "power.limit")
    try:
        line = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.splitlines()[0]
    except (subprocess.SubprocessError, OSError, IndexError) as err:
        return {"error": str(err)}
    return dict(zip(fields, (value.strip() for value in line.split(","))))


def _matmul_tflops(dtype: tf.DType, size: int, repeats: int) -> float:
    """TFLOP/s of `repeats` back-to-back size^3 matrix products (2 size^3 FLOPs each), after one
    untimed product; on the GPU the ceiling a dense kernel of this TensorFlow build reaches."""
    a = tf.random.normal([size, size], dtype=dtype)
    b = tf.random.normal([size, size], dtype=dtype)
    tf.matmul(a, b)
    tf.test.experimental.sync_devices()
    started = time.perf_counter()
    for _ in range(repeats):
        product = tf.matmul(a, b)
    product[0, 0].numpy()
    tf.test.experimental.sync_devices()
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e12


def detect_device(sizes: Sizes) -> Dict[str, Any]:
    """What the run is on: GPU name, datasheet peaks, measured matmul rates, TensorFlow's build."""
    gpus = tf.config.list_physical_devices("GPU")
    device: Dict[str, Any] = {
        "gpus": len(gpus),
        "tensorflow": tf.__version__,
        "tensorflow_build": {
            k: v
            for k, v in tf.sysconfig.get_build_info().items()
            if k in ("cuda_version", "cudnn_version", "cuda_compute_capabilities")
        },
        "nvidia_smi": _nvidia_smi(),
    }
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        smi_name = (device["nvidia_smi"] or {}).get("name")
        device["name"] = smi_name or details.get("device_name", "unknown GPU")
        capability = details.get("compute_capability")
        device["compute_capability"] = ".".join(map(str, capability)) if capability else None
        device["tf32_enabled"] = tf.config.experimental.tensor_float_32_execution_enabled()
        peaks = peak_tflops(device["name"])
        device["peak_tflops"] = peaks
        device["peak_note"] = (
            "NVIDIA datasheet, dense (without 2:4 sparsity), boost clock, per GPU"
            if peaks
            else f"{device['name']!r} is not in bench/gpu.py's peak table: shares of peak are null"
        )
    else:
        device["name"] = f"CPU: {cpu_model()} ({os.cpu_count()} cores)"
        device["compute_capability"] = None
        device["peak_tflops"] = None
        device["peak_note"] = (
            "no GPU visible to TensorFlow (no datasheet peak for a CPU; "
            "bench/ceiling.py measures this machine's matmul rate)"
        )
    device["measured_matmul_tflops"] = {
        FLOAT32: _matmul_tflops(tf.float32, sizes.matmul_size, sizes.matmul_repeats),
        "float16": _matmul_tflops(tf.float16, sizes.matmul_size, sizes.matmul_repeats),
        "size": sizes.matmul_size,
        "note": "float32 runs on TF32 tensor cores when tf32_enabled (TensorFlow's default on "
        "Ampere and later)"
        if gpus
        else "CPU",
    }
    return device


def trainer_settings(image_size: int) -> TrainerSettings:
    """The Trainer's default settings (model, learning rate, seed) with encoder weights none."""
    return TrainerSettings(
        model=ModelSettings(image_size=image_size, encoder_weights=ENCODER_WEIGHTS),
        training=TrainingSettings(),
        dataset=DEFAULT_DATASET,
    )


def forward_flops_per_image(image_size: int) -> Dict[str, Any]:
    """bench/ceiling.py's measured forward FLOPs, scaled from its image size to this one."""
    with open(CEILING_FILE, encoding="utf-8") as handle:
        ceiling = json.load(handle)
    measured = ceiling["forward_flops_per_image"]["tf_profiler"]
    scale = (image_size / ceiling["image_size"]) ** 2
    return {
        "forward": measured * scale,
        "training": TRAINING_OVER_FORWARD * measured * scale,
        "training_over_forward": TRAINING_OVER_FORWARD,
        "source": f"{os.path.relpath(CEILING_FILE, os.path.dirname(RESULTS_DIR))} "
        f"(tf_profiler at {ceiling['image_size']} px) x ({image_size}/"
        f"{ceiling['image_size']})^2",
    }


@dataclasses.dataclass
class Data:
    """The generated data, transformed once, in the forms the benchmark feeds."""

    transform_output: tft.TFTransformOutput
    train_files: List[str]
    eval_files: List[str]
    memory_pairs: tf.data.Dataset  # the transformed training examples, as in-memory tensors
    eval_images: List[bytes]  # encoded JPEGs at their own sizes, what predict_images receives


def write_transform_graph(root: str, image_size: int) -> str:
    """The Trainer's preprocessing_fn as a Transform output directory, without data or Beam workers.

    As tests/helpers.py's write_transform, at any image size. The raw schema declares only the
    five features preprocessing_fn reads, each one value per example as ExampleGen writes them.
    The Beam pipeline gets no arguments: by default it would parse this script's flags as its own.
    """
    import apache_beam as beam  # Beam takes seconds to import: only here, where it is used
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    raw_spec = {
        IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string),
        MASK_KEY: tf.io.FixedLenFeature([1], tf.string),
        LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64),
        SPECIES_KEY: tf.io.FixedLenFeature([1], tf.int64),
        FILE_NAME_KEY: tf.io.FixedLenFeature([1], tf.string),
    }
    raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))
    transform_dir = os.path.join(root, "transform")
    config = {"image_size": image_size, "dataset": DEFAULT_DATASET}
    with (
        beam.Pipeline(argv=[]) as pipeline,
        tft_beam.Context(temp_dir=os.path.join(root, "beam_tmp"), force_tf_compat_v1=False),
    ):
        transform_fn = (pipeline | beam.Create([]), raw_metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, config)
        )
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    metadata_io.write_metadata(
        raw_metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR)
    )
    return transform_dir


def _raw_split(data_dir: str, split: str) -> Tuple[Dict[str, np.ndarray], List[bytes]]:
    """A generated split as raw features ([n, 1] each, as ExampleGen's records parse) and its JPEGs."""
    entries = layout.parse_list_file(layout.list_file_path(data_dir, split))
    images, masks = [], []
    for entry in entries:
        with open(layout.image_path(data_dir, entry), "rb") as handle:
            images.append(handle.read())
        with open(layout.trimap_path(data_dir, entry), "rb") as handle:
            masks.append(handle.read())
    raw = {
        IMAGE_KEY: np.array(images, dtype=object)[:, None],
        MASK_KEY: np.array(masks, dtype=object)[:, None],
        LABEL_KEY: np.array([[e.class_id - 1] for e in entries], np.int64),
        SPECIES_KEY: np.array([[e.species_id - 1] for e in entries], np.int64),
        FILE_NAME_KEY: np.array([[e.name + layout.IMAGE_SUFFIX] for e in entries], dtype=object),
    }
    return raw, images


def _transform(
    output: tft.TFTransformOutput, raw: Dict[str, np.ndarray], chunk: int = 64
) -> Dict[str, np.ndarray]:
    """Raw features through the Transform graph, in chunks; every transformed feature as arrays."""
    parts: Dict[str, List[np.ndarray]] = {}
    for start in range(0, len(raw[IMAGE_KEY]), chunk):
        batch = {key: tf.constant(value[start : start + chunk]) for key, value in raw.items()}
        for key, value in output.transform_raw_features(batch, drop_unused_features=True).items():
            parts.setdefault(key, []).append(value.numpy())
    return {key: np.concatenate(values) for key, values in parts.items()}


def _write_records(path: str, output: tft.TFTransformOutput, arrays: Dict[str, np.ndarray]) -> str:
    """Transformed examples as gzipped tf.Examples, the format of Transform's output split.

    Compression level 1 instead of zlib's default: the reader does not care, and the data is
    written again on every fresh machine.
    """
    coder = tft.coders.ExampleProtoCoder(output.transformed_metadata.schema)
    options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=1)
    with tf.io.TFRecordWriter(path, options) as writer:
        for i in range(len(arrays[IMAGE_XF])):
            writer.write(coder.encode({key: value[i] for key, value in arrays.items()}))
    return path


def prepare_data(sizes: Sizes, work_dir: str) -> Tuple[Data, Dict[str, Any]]:
    """Generate the synthetic dataset, write the Transform graph, transform and write the records."""
    timings: Dict[str, float] = {}
    started = time.perf_counter()
    data_dir = os.path.join(work_dir, "raw")
    write_dataset(data_dir, sizes.n_train, sizes.n_eval, seed=0)
    timings["generate_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    output = tft.TFTransformOutput(write_transform_graph(work_dir, sizes.image_size))
    timings["transform_graph_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    raw_train, _ = _raw_split(data_dir, "train")
    raw_eval, eval_images = _raw_split(data_dir, "test")
    train = _transform(output, raw_train)
    evaluation = _transform(output, raw_eval)
    timings["transform_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    train_file = _write_records(os.path.join(work_dir, "train.tfrecord.gz"), output, train)
    eval_file = _write_records(os.path.join(work_dir, "eval.tfrecord.gz"), output, evaluation)
    timings["write_records_seconds"] = time.perf_counter() - started

    memory_pairs = tf.data.Dataset.from_tensor_slices((train[IMAGE_XF], train[MASK_XF]))
    data = Data(output, [train_file], [eval_file], memory_pairs, eval_images)
    info = {
        "n_train": sizes.n_train,
        "n_eval": sizes.n_eval,
        "image_size": sizes.image_size,
        "train_record_megabytes": os.path.getsize(train_file) / 2**20,
        "source": "datagen.synthetic_pets.write_dataset(seed=0) -> the Transform graph of "
        "trainer.preprocessing.preprocessing_fn -> gzipped tf.Examples",
        **{key: round(value, 2) for key, value in timings.items()},
    }
    return data, info


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


class _ProfileSteps(keras.callbacks.Callback):
    """Runs TensorFlow's profiler over `steps` steps after `warmup` steps of a fit."""

    def __init__(self, logdir: str, warmup: int, steps: int):
        super().__init__()
        self._supports_tf_logs = True
        self.logdir, self.first, self.last = logdir, warmup, warmup + steps - 1
        self.running = False

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.first:
            tf.test.experimental.sync_devices()
            tf.profiler.experimental.start(self.logdir)
            self.running = True

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.last:
            self.stop()

    def stop(self) -> None:
        if self.running:
            tf.test.experimental.sync_devices()
            tf.profiler.experimental.stop()
            self.running = False


def _is_oom(err: BaseException) -> bool:
    text = str(err)
    return (
        isinstance(err, tf.errors.ResourceExhaustedError)
        or "RESOURCE_EXHAUSTED" in text
        or "out of memory" in text.lower()
    )


def _first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:300]}"


def summarize_xplane(logdir: str, top: int = TOP_KERNELS) -> Dict[str, Any]:
    """Device time per kernel name from the profiler's XSpace, the largest `top` of them.

    GPU planes hold one line per CUDA stream ("Stream #N..."), whose events are kernels and
    copies; lines derived from them (XLA Ops, TensorFlow Ops, Steps) would count the same time
    twice and are left out. Without a GPU plane (CPU runs), the host plane's TensorFlow op events
    are summed instead; those nest, so their shares are only indicative.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # only needed when profiling

    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        return {"status": "no trace written", "top_kernels": []}
    space = xplane_pb2.XSpace()
    with open(paths[0], "rb") as handle:
        space.ParseFromString(handle.read())
    gpu_planes = [p for p in space.planes if p.name.startswith("/device:GPU:")]
    if gpu_planes:
        planes, keep_line, source = gpu_planes, re.compile(r"^Stream #\d+").match, "GPU streams"
    else:
        planes = [p for p in space.planes if p.name == "/host:CPU"]
        keep_line, source = re.compile(r"^tf_Compute").match, "host TensorFlow ops (no GPU plane)"
    totals: Dict[str, List[float]] = {}
    lines = []
    for plane in planes:
        for line in plane.lines:
            lines.append(
                {
                    "plane": plane.name,
                    "line": line.name,
                    "events": len(line.events),
                    "counted": bool(keep_line(line.name)),
                }
            )
            if not keep_line(line.name):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                entry = totals.setdefault(name, [0.0, 0])
                entry[0] += event.duration_ps / 1e9
                entry[1] += 1
    total_ms = sum(ms for ms, _ in totals.values())
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])[:top]
    return {
        "status": "ok",
        "source": source,
        "total_device_ms": total_ms,
        "lines": lines,
        "top_kernels": [
            {
                "name": name[:KERNEL_NAME_CHARS],
                "total_ms": ms,
                "calls": calls,
                "share": ms / total_ms if total_ms else None,
            }
            for name, (ms, calls) in ranked
        ],
    }


class Bench:
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
        self.options, self.sizes, self.budget, self.out_path = options, sizes, budget, out_path
        self.strategy, self.plan = strategy, plan
        self.settings = trainer_settings(sizes.image_size)
        self.seed = self.settings.training.seed
        self.num_classes = dataset_facts(self.settings.dataset).num_classes
        self.has_gpu = plan.gpus > 0
        self._data: Optional[Data] = None
        self.flops: Dict[str, Any] = {}
        self.peaks: Optional[Dict[str, Any]] = None
        self.seconds_seen: Dict[str, List[float]] = {}
        self.accuracy_parts: Dict[str, Dict[str, Any]] = {}
        self.float32_weights: Optional[List[np.ndarray]] = None
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

    @property
    def data(self) -> Data:
        if self._data is None:
            raise RuntimeError("the data is not prepared yet (Bench.run prepares it first)")
        return self._data

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
                "error": _first_line(err),
                "traceback": traceback.format_exc(limit=8)[-3000:],
            }
        finally:
            self.seconds_seen.setdefault(kind, []).append(time.monotonic() - started)
            self.doc[key]["seconds"] = round(time.monotonic() - started, 1)
            self.save()

    def save(self) -> None:
        self.doc["elapsed_seconds"] = round(self.budget.elapsed(), 1)
        write_outputs(self.doc, self.out_path)

    # -- models and feeds ----------------------------------------------------------------------
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
            record["error"] = _first_line(err)
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
                part = {"error": _first_line(err)}
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
            "config": _label(best),
            "trainer_images_per_second": trainer,
            "memory_images_per_second": memory,
            "ratio": trainer / memory,
            "pipeline_alone_images_per_second": alone,
            "ok_threshold": PIPELINE_OK_RATIO,
            "bottleneck": trainer / memory < PIPELINE_OK_RATIO,
            "per_config_ratios": {_label(c): c["pipeline_ratio"] for c in self.ok_configs()},
        }

    def profile(self, best: Dict[str, Any], work_dir: str) -> Dict[str, Any]:
        """A few profiled steps of the fastest configuration, reduced to its top kernels."""
        global_batch = best["global_batch_size"]
        model = self.compiled_model(best["policy"], best["xla"])
        logdir = os.path.join(work_dir, "profile")
        warmup = self.trainer_warmup(global_batch)
        profiler = _ProfileSteps(logdir, warmup, self.sizes.profile_steps)
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
            "config": _label(best),
            "profiled_steps": self.sizes.profile_steps,
            **summarize_xplane(logdir),
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
            "best_config": _label(best) if best else None,
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


def _label(config: Dict[str, Any]) -> str:
    return f"{config['policy']} xla={'on' if config['xla'] else 'off'} batch={config['batch_size']}"


def _fmt(value: Optional[float], digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_table(doc: Dict[str, Any]) -> str:
    """The README's table: every configuration with the device named, then the checks."""
    device = doc.get("device", {})
    peaks = device.get("peak_tflops") or {}
    smi = device.get("nvidia_smi") or {}
    lines = [f"# Training throughput on {device.get('name', 'unknown device')}", ""]
    facts = [f"mode {doc['mode']}", f"TensorFlow {device.get('tensorflow', '?')}", doc["strategy"]]
    if smi.get("memory.total"):
        facts.append(f"{smi['memory.total']}, driver {smi.get('driver_version', '?')}")
    if peaks:
        facts.append(
            f"datasheet dense peak: fp16/bf16 {peaks['fp16_bf16_tensor']} TFLOP/s, "
            f"tf32 {peaks['tf32_tensor']}, fp32 {peaks['fp32']}"
        )
    measured = device.get("measured_matmul_tflops")
    if measured:
        facts.append(
            f"measured {measured['size']}^3 matmul: float16 {measured['float16']:.1f} "
            f"TFLOP/s, float32 {measured[FLOAT32]:.1f}"
        )
    flops = doc.get("flops_per_image")
    if flops:
        facts.append(
            f"U-Net {doc['settings']['image_size']} px: {flops['forward'] / 1e9:.2f} "
            f"GFLOP forward per image, x{flops['training_over_forward']} per training image"
        )
    lines += [
        "; ".join(facts) + ".",
        "",
        "| precision | XLA | batch | images/s | step p50 ms | step p99 ms | GPU memory peak GiB "
        "| TFLOP/s | share of fp16/bf16 peak | memory-fed images/s | Trainer/memory |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in doc["configs"]:
        head = f"| {c['policy']} | {'on' if c['xla'] else 'off'} | {c['batch_size']} |"
        if c["status"] != "ok":
            lines.append(f"{head} {c['status']}{': ' + c['error'] if c.get('error') else ''} | | | | | | | |")
            continue
        peak = c["gpu_memory_peak_bytes"]
        share = c["share_of_fp16_bf16_peak"]
        lines.append(
            f"{head} {_fmt(c['images_per_second'])} | {_fmt(c['step_ms_p50'], 2)} | "
            f"{_fmt(c['step_ms_p99'], 2)} | {_fmt(peak / 2**30 if peak else None, 2)} | "
            f"{_fmt(c['achieved_tflops'], 2)} | {'-' if share is None else f'{share:.1%}'} | "
            f"{_fmt(c['memory_feed']['images_per_second'])} | {c['pipeline_ratio']:.2f} |"
        )
    lines.append("")
    summary = doc.get("summary") or {}
    if summary:
        ratio = summary["mixed_over_float32"]
        share = summary["share_of_fp16_bf16_peak"]
        lines.append(f"- Best: {summary['best_config']}, {_fmt(summary['best_images_per_second'])} images/s.")
        lines.append(
            f"- Mixed precision over float32 (best vs best): "
            f"{_fmt(ratio['best_vs_best'], 2)}x, target {ratio['target']}x: "
            f"{_met(ratio['met'])}."
        )
        lines.append(
            f"- Share of the fp16/bf16 peak at the best configuration: "
            f"{'-' if share['best'] is None else format(share['best'], '.1%')}, target "
            f"{share['target']:.0%}: {_met(share['met'])}."
        )
    pipeline = doc.get("input_pipeline") or {}
    if pipeline.get("status") == "ok":
        verdict = "the bottleneck" if pipeline["bottleneck"] else "not the bottleneck"
        alone = _fmt(pipeline["pipeline_alone_images_per_second"])
        lines.append(
            f"- Input pipeline ({pipeline['config']}): Trainer feed / memory feed "
            f"{pipeline['ratio']:.2f} ({verdict}); the pipeline alone delivers {alone} images/s."
        )
    accuracy = doc.get("mixed_precision_accuracy") or {}
    if accuracy.get("status") == "ok":
        lines.append(
            f"- Mixed-precision accuracy ({accuracy['steps']} steps, batch "
            f"{accuracy['batch_size']}): eval mean IoU float32 "
            f"{accuracy[FLOAT32 + '_mean_iou']:.3f}, mixed {accuracy[MIXED + '_mean_iou']:.3f}, "
            f"difference {accuracy['difference']:+.3f} (tolerance {accuracy['tolerance']}): "
            f"{'pass' if accuracy['passed'] else 'FAIL'}."
        )
    predict = doc.get("predict_images") or {}
    if predict.get("status") == "ok":
        parts = [
            f"batch {key.split('_')[1]}: p50 {predict[key]['p50_ms']:.1f} ms, p99 "
            f"{predict[key]['p99_ms']:.1f} ms"
            for key in predict
            if key.startswith("batch_")
        ]
        lines.append(f"- predict_images ({predict['policy']} SavedModel): {'; '.join(parts)}.")
    profile = doc.get("profile") or {}
    if profile.get("status") == "ok" and profile.get("total_device_ms"):
        lines.append(
            f"- Top kernels by device time ({profile['config']}, {profile['profiled_steps']} steps, "
            f"{profile['source']}):"
        )
        lines += [
            f"  - {k['share']:.1%} {k['total_ms']:.2f} ms x{k['calls']}: `{k['name']}`"
            for k in profile["top_kernels"][:PROFILE_KERNELS_IN_TABLE]
        ]
    for key in ("mixed_precision_accuracy", "predict_images", "input_pipeline", "profile"):
        if (doc.get(key) or {}).get("status") in ("error", "not measured"):
            lines.append(f"- {key}: {doc[key]['status']}: {doc[key]['error']}")
    for skip in doc["skipped"]:
        lines.append(f"- Skipped {skip['what']}: {skip['reason']}.")
    return "\n".join(lines) + "\n"


def _met(value: Optional[bool]) -> str:
    return "not measured" if value is None else ("met" if value else "missed")


def write_outputs(doc: Dict[str, Any], out_path: str) -> None:
    """The JSON, then gpu_table.md beside it, each replaced atomically. The JSON goes first, and a
    table that fails to render says so in its place: a rendering bug must not lose a measurement
    made on a machine lent for minutes."""
    _replace(out_path, json.dumps(doc, indent=2, default=_json_default) + "\n")
    try:
        table = render_table(doc)
    except Exception as err:  # every number is in the JSON written above
        table = f"# gpu_table.md could not be rendered\n\n{_first_line(err)}\n"
    _replace(os.path.join(os.path.dirname(os.path.abspath(out_path)), "gpu_table.md"), table)


def _replace(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def default_out(sizes: Sizes) -> str:
    """The real GPU run's results are kept in bench/results; tiny runs go to the ignored tmp/."""
    return (
        os.path.join(RESULTS_DIR, "gpu.json")
        if sizes is GPU_SIZES
        else os.path.join(SCRATCH_DIR, "quick", "gpu.json")
    )


def run(options: Options, started: float) -> Dict[str, Any]:
    """The whole benchmark, its budget counted from `started` (time.monotonic()); returns the
    document it wrote."""
    strategy, plan = distribution.choose_strategy()  # first TensorFlow work, as the Trainer does it
    sizes = GPU_SIZES if plan.gpus and not options.quick else TINY_SIZES
    out_path = options.out or default_out(sizes)
    budget = Budget(options.budget_seconds, started)
    bench = Bench(options, sizes, budget, out_path, strategy, plan)
    work_dir = tempfile.mkdtemp(prefix="segpipe-gpu-bench-")
    try:
        return bench.run(work_dir)
    finally:
        keras.mixed_precision.set_global_policy(FLOAT32)
        shutil.rmtree(work_dir, ignore_errors=True)
        print(f"wrote {out_path} and {os.path.join(os.path.dirname(out_path), 'gpu_table.md')}")


def parse_options(argv: Optional[Sequence[str]] = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the tiny CPU-sized run (32 px, batches 2 to 8, a few steps, no XLA)",
    )
    parser.add_argument(
        "--out",
        help="result JSON (default bench/results/gpu.json on a GPU, "
        "bench/results/tmp/quick/gpu.json otherwise); "
        "gpu_table.md is written beside it",
    )
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=Options.budget_seconds,
        help="wall-clock allowance from the start (after the imports); phases that would "
        "overrun are skipped with a note (default %(default)s)",
    )
    parser.add_argument(
        "--require-gpu", action="store_true", help=f"exit {EXIT_NO_GPU} at once when TensorFlow sees no GPU"
    )
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip the profiler trace of the best configuration",
    )
    parser.add_argument(
        "--inject-oom-from-batch",
        type=int,
        metavar="N",
        help="for tests: batch sizes from N up fail as out of memory",
    )
    args = parser.parse_args(argv)
    return Options(
        quick=args.quick,
        out=args.out,
        budget_seconds=args.budget_seconds,
        require_gpu=args.require_gpu,
        profile=args.profile,
        inject_oom_from_batch=args.inject_oom_from_batch,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = parse_options(argv)
    if options.require_gpu and not tf.config.list_physical_devices("GPU"):
        print(
            f"no GPU visible to TensorFlow {tf.__version__} (build: "
            f"{dict(tf.sysconfig.get_build_info())}); see the log above for the CUDA libraries "
            "it could not load",
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    run(options, started=time.monotonic())
    return 0


if __name__ == "__main__":
    sys.exit(main())
