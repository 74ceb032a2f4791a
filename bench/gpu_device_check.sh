#!/usr/bin/env bash
# Issue 17's GPU run, in one bounded command for a lent GPU machine (see bench/gpu/__init__.py).
#
#   bash bench/gpu_device_check.sh            # on the GPU machine, from anywhere in the repo copy
#
# Runs `python -m bench.gpu` once with a budget (BENCH_GPU_BUDGET seconds, default 420, counted
# from the interpreter's start: TensorFlow's import and the data generation included) under a
# hard `timeout` a minute longer, so the whole script ends within about 8 minutes. bench.gpu
# rewrites its JSON and table after every phase, so even a run stopped by the timeout leaves
# what it measured. nvidia-smi is printed before and after; the results, the log and
# nvidia-smi's output are copied to $OUT (the device tool brings back what is written there;
# without $OUT they go to bench/results/tmp/device-out/).
#
# Exit status: bench.gpu's own; 3 when TensorFlow sees no GPU (checked right after its import,
# so a machine without usable CUDA libraries costs seconds, not the whole budget); 2 when the
# project's Python is missing; 124 when the hard timeout stopped it.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-bench/results/tmp/device-out}"
BUDGET="${BENCH_GPU_BUDGET:-420}"
PYTHON="${PYTHON:-.venv/bin/python}"
mkdir -p "$OUT"

smi() {
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi
    nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv
  else
    echo "nvidia-smi: not found"
  fi
}

{ echo "== before ($(date -u +%FT%TZ))"; smi; } >"$OUT/nvidia_smi.txt" 2>&1
cat "$OUT/nvidia_smi.txt"

if ! "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  {
    echo "the project's Python 3.10 ($PYTHON) does not run here; what there is:"
    ls -l .venv/bin/python* 2>&1
    command -v python3 && python3 -V
  } | tee "$OUT/gpu_bench.log"
  exit 2
fi

export PYTHONUNBUFFERED=1
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}"
# TensorFlow 2.16's wheel carries Hopper (sm_90) code only as PTX, which the driver compiles on
# first use: keep every compiled kernel in the cache rather than the default few hundred MiB.
export CUDA_CACHE_MAXSIZE="${CUDA_CACHE_MAXSIZE:-4294967296}"
export CUDA_MODULE_LOADING="${CUDA_MODULE_LOADING:-LAZY}"
# XLA needs libdevice; point it at a system CUDA when the pip package nvidia-cuda-nvcc-cu12
# (tensorflow[and-cuda]) is not installed.
if ! ls .venv/lib/python3.10/site-packages/nvidia/cuda_nvcc >/dev/null 2>&1 \
   && [ -d /usr/local/cuda/nvvm/libdevice ]; then
  export XLA_FLAGS="--xla_gpu_cuda_data_dir=/usr/local/cuda ${XLA_FLAGS:-}"
fi
env | grep -E '^(CUDA_|XLA_|TF_)' | sort | tee "$OUT/gpu_bench.log"

timeout --kill-after=20 "$((BUDGET + 60))" \
  "$PYTHON" -m bench.gpu --require-gpu --budget-seconds "$BUDGET" --out bench/results/gpu.json \
  2>&1 | tee -a "$OUT/gpu_bench.log"
status=${PIPESTATUS[0]}

{ echo "== after ($(date -u +%FT%TZ)), bench.gpu exit status $status"; smi; } >>"$OUT/nvidia_smi.txt" 2>&1
tail -n 12 "$OUT/nvidia_smi.txt"
for file in bench/results/gpu.json bench/results/gpu_table.md; do
  if [ -f "$file" ]; then cp "$file" "$OUT/"; fi
done
[ -f "$OUT/gpu_table.md" ] && cat "$OUT/gpu_table.md"
exit "$status"
