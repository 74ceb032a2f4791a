"""What the run is on: the GPU's name and datasheet peaks, nvidia-smi, measured matmul rates.

The peak table is here, beside the one function that reads it; a GPU missing from it gets
null shares of peak, not a guess.
"""

import os
import re
import shutil
import subprocess
import time
from typing import Any, Dict, Optional, Tuple

import tensorflow as tf

from bench.common import cpu_model
from bench.gpu.settings import FLOAT32, Sizes

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
            else f"{device['name']!r} is not in bench/gpu/device.py's peak table: shares of peak are null"
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
