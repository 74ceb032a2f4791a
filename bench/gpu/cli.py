"""The command line: `python -m bench.gpu` (bench/gpu/__main__.py) parses its flags here and runs
the benchmark in a scratch directory; exit status 0, or EXIT_NO_GPU with --require-gpu on a
machine where TensorFlow sees no GPU.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from bench import gpu
from bench.gpu.measure import Bench
from bench.gpu.report import default_out
from bench.gpu.settings import EXIT_NO_GPU, FLOAT32, GPU_SIZES, TINY_SIZES, Budget, Options
from trainer import distribution


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
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu", description=(gpu.__doc__ or "").split("\n\n")[0]
    )
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
