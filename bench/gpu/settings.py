"""The GPU benchmark's sizes (the GPU run and the tiny CPU run), options, budget and constants.

Every constant of bench.gpu lives here, so that a threshold or a size is changed in one place;
the one table apart, the datasheet peaks, stands in bench/gpu/device.py beside its lookup.
"""

import dataclasses
import os
import time
from typing import Dict, Optional, Tuple

from bench.common import RESULTS_DIR

FLOAT32 = "float32"
MIXED = "mixed_float16"
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
