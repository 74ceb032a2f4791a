"""`make bench`: every benchmark in order, each in its own process, then the summary and table,
and the last `make bench-ablation`'s tables (bench/ablation.py, its own target for its length).

Own processes keep one benchmark's TensorFlow state (graphs, caches, threads, memory) out of the
next one's timings. The order matters: `where_time_goes` runs the pipeline whose outputs the
later stages read (Transform output, the Trainer's model). Each stage's output goes to a log
under bench/results/tmp/; a failing stage stops the run and shows the end of its log.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from bench import report
from bench.common import FULL, QUICK, REPO_ROOT, SCRATCH_DIR

LOG_TAIL_LINES = 40


def run_stage(stage: str, quick: bool, log_dir: str) -> float:
    """Runs `python -m bench.<stage>`; its wall seconds. Exits with the stage's log tail on failure."""
    log_path = os.path.join(log_dir, f"{stage}.log")
    command = [sys.executable, "-m", f"bench.{stage}"] + (["--quick"] if quick else [])
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.call(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if code:
        with open(log_path, encoding="utf-8", errors="replace") as log:
            tail = log.readlines()[-LOG_TAIL_LINES:]
        sys.exit(
            f"bench.{stage} failed (exit {code}) after {seconds:.0f} s; end of {log_path}:\n{''.join(tail)}"
        )
    print(f"bench.{stage}: {seconds:.0f} s (log: {os.path.relpath(log_path, REPO_ROOT)})", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100/50 images, 64 px, 1 epoch: a few minutes; results in bench/results/tmp/quick/",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild summary.json and README_table.md from the existing results",
    )
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    if args.report_only:
        with open(os.path.join(settings.results_dir, "summary.json"), encoding="utf-8") as handle:
            previous = json.load(handle)
        stage_seconds, total = previous["stage_seconds"], previous["run_all_seconds"]
    else:
        log_dir = os.path.join(SCRATCH_DIR, f"logs-{settings.name}")
        os.makedirs(log_dir, exist_ok=True)
        started = time.perf_counter()
        stage_seconds = {stage: run_stage(stage, args.quick, log_dir) for stage in report.BENCHMARKS}
        total = time.perf_counter() - started
    summary, table = report.write(settings, stage_seconds, total)
    print()
    print(table)
    print(
        f"targets missed: {', '.join(report.missed(summary)) or 'none'}; "
        f"results in {os.path.relpath(settings.results_dir, REPO_ROOT)}/"
    )
    if not args.quick:
        from bench import ablation  # imports TensorFlow: only here, at the end

        for sizes in (ablation.FULL, ablation.DEMO_SCALE):
            print()
            missing = f"not run yet here (`{sizes.command}`)"
            print(
                ablation.latest_tables(sizes) or f"Training recipe ablation, {sizes.name} sizes: {missing}."
            )


if __name__ == "__main__":
    main()
