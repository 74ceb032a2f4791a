"""What every benchmark shares: its sizes (full or --quick), where it writes, and the machine.

The machine has 2 cores that other jobs may share, so absolute numbers drift with the load:
every result records the CPU, the core count and the load average before and after, and the
benchmarks compare variants as ratios measured in the same process, alternating between them.
"""

import argparse
import dataclasses
import json
import os
import platform
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from components.shared.atomic import write_file
from contract.datasets import CLASS_NAMES

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(REPO_ROOT, "bench", "results")
# bench/results/tmp/ is git-ignored: generated data, pipeline outputs, logs and --quick results.
SCRATCH_DIR = os.path.join(RESULTS_DIR, "tmp")
DATASET = "oxford_iiit_pet"
DATASET_VERSION = "4.*.*"
NUM_CLASSES = len(CLASS_NAMES)
# Every benchmark trains the encoder from random weights: no ImageNet download offline.
ENCODER_WEIGHTS = "none"
# A training step costs about 3 forward passes: the forward pass, then the gradients with
# respect to activations and to weights, each about one forward pass of multiply-adds.
TRAINING_OVER_FORWARD = 3


@dataclasses.dataclass(frozen=True)
class Settings:
    """The sizes of one benchmark run; `FULL` is the issue's setting, `QUICK` a few-minute smoke run."""

    name: str
    n_train: int
    n_eval: int
    image_size: int
    epochs: int
    batch_size: int
    seed: int
    # Interleaved training throughput: rounds x steps per variant (after one warm-up burst).
    burst_rounds: int
    burst_steps: int
    # Serving latency: rounds x calls per variant at batch 1 and at batch 32.
    serving_rounds: int
    serving_calls_batch1: int
    serving_calls_batch32: int
    # Beam Transform: how many times each DirectRunner mode runs (alternating).
    beam_rounds: int

    @property
    def work_dir(self) -> str:
        return os.path.join(SCRATCH_DIR, f"work-{self.name}")

    @property
    def results_dir(self) -> str:
        return RESULTS_DIR if self.name == "full" else os.path.join(SCRATCH_DIR, self.name)

    @property
    def data_dir(self) -> str:
        return os.path.join(self.work_dir, "data")


FULL = Settings(
    name="full",
    n_train=1000,
    n_eval=500,
    image_size=128,
    epochs=3,
    batch_size=16,
    seed=0,
    burst_rounds=10,
    burst_steps=4,
    serving_rounds=4,
    serving_calls_batch1=25,
    serving_calls_batch32=5,
    beam_rounds=2,
)
QUICK = Settings(
    name="quick",
    n_train=100,
    n_eval=50,
    image_size=64,
    epochs=1,
    batch_size=16,
    seed=0,
    burst_rounds=4,
    burst_steps=2,
    serving_rounds=2,
    serving_calls_batch1=10,
    serving_calls_batch32=2,
    beam_rounds=1,
)


def parse_settings(description: str, argv: Optional[Sequence[str]] = None) -> Settings:
    """The --quick flag every benchmark module takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (100/50 images, 64 px, 1 epoch): minutes, not tens of minutes",
    )
    return QUICK if parser.parse_args(argv).quick else FULL


def _cpuinfo_value(key: str, cpuinfo: str = "/proc/cpuinfo") -> Optional[str]:
    """The first `key : value` line's value in cpuinfo (every core repeats it), or None."""
    with open(cpuinfo, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return None


def cpu_model() -> str:
    return _cpuinfo_value("model name") or platform.processor() or "unknown"


# The vector instruction sets oneDNN chooses its kernels by. Two CPUs sold under one model name
# (a cloud "AMD EPYC") can differ in them, and a training's figures differ with them (README
# "The demo"), so every result records which of them its machine had.
VECTOR_EXTENSIONS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def vector_extensions(cpuinfo: str = "/proc/cpuinfo") -> List[str]:
    """Which of VECTOR_EXTENSIONS this CPU has, from cpuinfo's flags (none known: [])."""
    flags = set((_cpuinfo_value("flags", cpuinfo) or "").split())
    return [name for name in VECTOR_EXTENSIONS if name in flags]


def machine_snapshot() -> Dict[str, Any]:
    """The CPU, its vector instruction sets, cores and current load; call at the start and end of
    each benchmark."""
    return {
        "cpu_model": cpu_model(),
        "vector_extensions": vector_extensions(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


class Recorder:
    """Collects one benchmark's result and writes it with the machine before and after."""

    def __init__(self, name: str, settings: Settings):
        self.name = name
        self.settings = settings
        self.started = time.perf_counter()
        self.machine_before = machine_snapshot()

    def write(self, result: Dict[str, Any]) -> str:
        document = {
            "benchmark": self.name,
            "settings": dataclasses.asdict(self.settings),
            "machine": {"before": self.machine_before, "after": machine_snapshot()},
            "benchmark_seconds": round(time.perf_counter() - self.started, 1),
            **result,
        }
        path = os.path.join(self.settings.results_dir, f"{self.name}.json")
        write_json(path, document)
        print(f"wrote {path}")
        return path


def write_json(path: str, document: Any) -> None:
    """A benchmark's JSON, written whole or not at all (components.shared.atomic.write_file): a
    run interrupted while writing must not leave a truncated file that every later reader (the
    ablation's cache, `make bench`'s tables) would fail on."""
    write_file(path, (json.dumps(document, indent=2, default=json_default) + "\n").encode())


def json_default(value: Any) -> Any:
    """json.dump's fallback for numpy scalars and arrays, which benchmark results hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_result(settings: Settings, name: str) -> Dict[str, Any]:
    """A benchmark's JSON written earlier in this run (the stages depend on each other in order)."""
    path = os.path.join(settings.results_dir, f"{name}.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: run `python -m bench.{name}` first "
            "(or bench.run_all, which runs the stages in order)"
        )
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def latency_stats(seconds: Sequence[float], images_per_call: int) -> Dict[str, float]:
    """p50/p99 per call in ms, and images per second over all calls."""
    values = np.asarray(seconds, np.float64)
    return {
        "calls": int(values.size),
        "p50_ms": float(np.percentile(values, 50) * 1e3),
        "p99_ms": float(np.percentile(values, 99) * 1e3),
        "images_per_second": float(images_per_call * values.size / values.sum()),
        "ms_per_image_p50": float(np.percentile(values, 50) * 1e3 / images_per_call),
    }


def alternating_orders(variants: Sequence[str], rounds: int) -> list:
    """Round r runs the variants rotated by r, so none always runs first (or after the same one)."""
    n = len(variants)
    return [[variants[(r + i) % n] for i in range(n)] for r in range(rounds)]
