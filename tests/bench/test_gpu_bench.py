"""bench/gpu/ on the CPU: its tiny run end to end, and the parts that decide its numbers.

The GPU run itself happens on a lent machine (bench/gpu_device_check.sh); these tests never need
one. The end-to-end run goes through the command line in a subprocess, as `make bench-gpu` would
call it, so its global TensorFlow state (dtype policy, seeds, profiler) stays out of this worker.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import tf_keras as keras
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from bench.common import REPO_ROOT
from bench.gpu.device import peak_tflops
from bench.gpu.measure import Bench
from bench.gpu.profiling import ProfileSteps, summarize_xplane
from bench.gpu.report import render_table
from bench.gpu.settings import FLOAT32, GPU_SIZES, MIXED, TINY_SIZES, Budget, Options
from trainer import distribution

OOM_FROM_BATCH = 4


def _tiny_run(tmp_path):
    """The --quick run with batches from 4 up failing as out of memory; its JSON and table."""
    out = tmp_path / "gpu.json"
    command = [
        sys.executable,
        "-m",
        "bench.gpu",
        "--quick",
        "--no-profile",
        "--out",
        str(out),
        "--budget-seconds",
        "900",
        "--inject-oom-from-batch",
        str(OOM_FROM_BATCH),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    with open(out, encoding="utf-8") as handle:
        doc = json.load(handle)
    return doc, (out.parent / "gpu_table.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_tiny_cpu_run_end_to_end(tmp_path):
    """One run checked three ways (one test, so that pytest-xdist never runs it twice)."""
    doc, table = _tiny_run(tmp_path)
    _check_configurations(doc)
    _check_out_of_memory(doc)
    _check_checks_latency_and_table(doc, table)


def _check_configurations(doc):
    assert doc["mode"] == "cpu-tiny" and doc["device"]["gpus"] == 0
    assert doc["device"]["peak_tflops"] is None and "no GPU" in doc["device"]["peak_note"]
    assert doc["skipped"] == []
    statuses = {(c["policy"], c["batch_size"]): c["status"] for c in doc["configs"]}
    assert statuses[(FLOAT32, 2)] == statuses[(MIXED, 2)] == "ok"
    for config in (c for c in doc["configs"] if c["status"] == "ok"):
        for feed in ("trainer_feed", "memory_feed"):
            timing = config[feed]
            assert timing["images_per_second"] > 0 and timing["images_per_second_synced"] > 0
            assert 0 < timing["step_ms_p50"] <= timing["step_ms_p99"]
            assert timing["first_step_seconds"] > 0
        assert config["images_per_second"] == config["trainer_feed"]["images_per_second"]
        assert config["achieved_tflops"] == pytest.approx(
            config["images_per_second"] * doc["flops_per_image"]["training"] / 1e12
        )
        assert config["pipeline_ratio"] > 0
        assert config["share_of_fp16_bf16_peak"] is None  # a CPU has no datasheet peak
        assert config["gpu_memory_peak_bytes"] is None
    # 32 px is 1/16 of the pixels the ceiling benchmark counted at 128 px.
    assert doc["flops_per_image"]["forward"] == pytest.approx(1.171e9 / 16, rel=0.01)


def _check_out_of_memory(doc):
    """Every out-of-memory is recorded, and the batch stops growing after the first."""
    failed = [c for c in doc["configs"] if c["batch_size"] >= OOM_FROM_BATCH]
    assert failed and all(c["status"] == "oom" and "injected" in c["error"] for c in failed)
    # Batch 8 comes after 4 in every sweep: once 4 runs out of memory, it is never tried.
    assert {c["batch_size"] for c in failed} == {OOM_FROM_BATCH}
    assert not [c for c in doc["configs"] if c["status"] == "error"]


def _check_checks_latency_and_table(doc, table):
    accuracy = doc["mixed_precision_accuracy"]
    assert accuracy["status"] == "ok" and accuracy["tolerance"] == 0.01
    for key in ("float32_mean_iou", "mixed_float16_mean_iou", "float32_weights_mixed_inference_mean_iou"):
        assert 0 <= accuracy[key] <= 1
    assert accuracy["passed"] == (abs(accuracy["difference"]) <= 0.01)
    pipeline = doc["input_pipeline"]
    assert pipeline["status"] == "ok" and pipeline["ratio"] > 0
    assert pipeline["pipeline_alone_images_per_second"] > 0
    assert isinstance(pipeline["bottleneck"], bool)
    predict = doc["predict_images"]
    assert predict["status"] == "ok" and predict["policy"] == FLOAT32
    for batch in (1, 32):
        latency = predict[f"batch_{batch}"]
        assert latency["calls"] == TINY_SIZES.predict_calls[batch]
        assert 0 < latency["p50_ms"] <= latency["p99_ms"]
    summary = doc["summary"]
    assert summary["best_config"] == "float32 xla=off batch=2"
    assert summary["mixed_over_float32"]["best_vs_best"] > 0
    assert summary["share_of_fp16_bf16_peak"]["met"] is None
    assert table.startswith(f"# Training throughput on {doc['device']['name']}")
    assert table.count("| float32 | off |") == 2 and "oom: ResourceExhaustedError" in table


@pytest.mark.parametrize(
    "name, fp16, tf32",
    [
        ("NVIDIA H200", 989.5, 494.5),
        ("NVIDIA H200 NVL", 835.5, 417.5),
        ("NVIDIA H100 80GB HBM3", 989.5, 494.5),
        ("NVIDIA H100 PCIe", 756.5, 378.0),
        ("NVIDIA A100-SXM4-80GB", 312.0, 156.0),
        ("NVIDIA L40S", 366.5, 183.0),
        ("NVIDIA L4", 121.0, 60.0),
        ("NVIDIA A10", 125.0, 62.5),
        ("Tesla T4", 65.0, None),
        ("Tesla V100-SXM2-16GB", 125.0, None),
        ("Tesla V100-PCIE-16GB", 112.0, None),
    ],
)
def test_peak_table_matches_whole_name_tokens(name, fp16, tf32):
    peaks = peak_tflops(name)
    assert peaks is not None
    assert (peaks["fp16_bf16_tensor"], peaks["tf32_tensor"]) == (fp16, tf32)


@pytest.mark.parametrize("name", ["NVIDIA A10G", "NVIDIA GeForce RTX 4090", "NVIDIA L40"])
def test_unknown_gpus_get_no_peak(name):
    assert peak_tflops(name) is None


def test_budget_allows_only_what_fits_in_the_time_left():
    budget = Budget(10.0, started=time.monotonic() - 8.0)
    assert budget.allows(1.0) and not budget.allows(5.0)
    assert 1.9 < budget.left() <= 2.0


def _write_space(root, planes) -> None:
    """An XSpace file where the profiler writes one: {plane: {line: [(kernel, ms), ...]}}."""
    space = xplane_pb2.XSpace()
    for plane_name, lines in planes.items():
        plane = space.planes.add(name=plane_name)
        ids: dict[str, int] = {}
        for line_name, events in lines.items():
            line = plane.lines.add(name=line_name)
            for kernel, ms in events:
                metadata_id = ids.setdefault(kernel, len(ids) + 1)
                plane.event_metadata[metadata_id].id = metadata_id
                plane.event_metadata[metadata_id].name = kernel
                line.events.add(metadata_id=metadata_id, duration_ps=int(ms * 1e9))
    run_dir = root / "plugins" / "profile" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "host.xplane.pb").write_bytes(space.SerializeToString())


def test_kernel_summary_counts_stream_lines_only(tmp_path):
    _write_space(
        tmp_path,
        {
            "/host:CPU": {"tf_Compute/1": [("host op", 50.0)]},
            "/device:GPU:0": {
                "Stream #7(Compute)": [("dgrad_kernel", 3.0), ("fprop_kernel", 1.0), ("fprop_kernel", 1.0)],
                "Stream #9(MemcpyH2D)": [("MemcpyH2D", 1.0)],
                "XLA Ops": [("fusion.1", 100.0)],  # derived from the streams: the same time again
            },
        },
    )
    summary = summarize_xplane(str(tmp_path))
    assert summary["source"] == "GPU streams"
    assert summary["total_device_ms"] == pytest.approx(6.0)
    top = summary["top_kernels"]
    assert [k["name"] for k in top] == ["dgrad_kernel", "fprop_kernel", "MemcpyH2D"]
    assert top[1]["calls"] == 2 and top[0]["share"] == pytest.approx(0.5)


def test_profiler_callback_traces_the_chosen_steps(tmp_path):
    model = keras.Sequential([keras.layers.Dense(4, input_shape=(8,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    profiler = ProfileSteps(str(tmp_path), warmup=2, steps=2)
    x = keras.backend.random_normal((64, 8))
    model.fit(x, x[:, :1], batch_size=8, epochs=1, callbacks=[profiler], verbose=0)
    assert not profiler.running
    summary = summarize_xplane(str(tmp_path))
    assert summary["status"] == "ok" and summary["top_kernels"]


def _gpu_bench(tmp_path) -> Bench:
    """A Bench holding what a run on an H200 would have measured (built on this CPU machine)."""
    strategy, plan = distribution.choose_strategy(tf_config="", gpus=[])
    bench = Bench(
        Options(),
        GPU_SIZES,
        Budget(420.0, time.monotonic()),
        str(tmp_path / "gpu.json"),
        strategy,
        plan,
    )
    bench.peaks = peak_tflops("NVIDIA H200")
    bench.flops = {"forward": 1.0e9, "training": 3.0e9, "training_over_forward": 3}
    bench.doc.update(
        flops_per_image=bench.flops,
        device={
            "name": "NVIDIA H200",
            "tensorflow": "2.16.2",
            "tf32_enabled": True,
            "peak_tflops": bench.peaks,
            "nvidia_smi": {"memory.total": "143771 MiB"},
            "measured_matmul_tflops": {"float32": 300.0, "float16": 700.0, "size": 8192},
        },
    )
    return bench


def _measured(bench: Bench, policy: str, xla: bool, batch: int, images_per_second: float):
    record = {
        "policy": policy,
        "xla": xla,
        "batch_size": batch,
        "global_batch_size": batch,
        "status": "ok",
        "gpu_memory_peak_bytes": 3 * 2**30,
        "trainer_feed": {"images_per_second": images_per_second, "step_ms_p50": 100.0, "step_ms_p99": 120.0},
        "memory_feed": {"images_per_second": images_per_second * 1.25},
    }
    record.update(bench.derived(policy, record))
    return record


def test_gpu_shares_targets_and_table(tmp_path):
    bench = _gpu_bench(tmp_path)
    fp32 = _measured(bench, FLOAT32, False, 256, 1000.0)
    mixed = _measured(bench, MIXED, True, 256, 2500.0)
    oom = {
        "policy": MIXED,
        "xla": True,
        "batch_size": 512,
        "global_batch_size": 512,
        "status": "oom",
        "error": "ResourceExhaustedError: OOM",
        "gpu_memory_peak_bytes": 2**37,
    }
    bench.doc["configs"] = [fp32, mixed, oom]
    # 1,000 images/s x 3 GFLOP = 3 TFLOP/s: against TF32's 494.5 (float32's own) and fp16's 989.5.
    assert fp32["achieved_tflops"] == pytest.approx(3.0)
    assert fp32["own_precision_peak"] == "tf32_tensor"
    assert fp32["share_of_own_precision_peak"] == pytest.approx(3.0 / 494.5)
    assert mixed["share_of_fp16_bf16_peak"] == pytest.approx(7.5 / 989.5)
    assert fp32["pipeline_ratio"] == pytest.approx(0.8)

    summary = bench.summary()
    assert summary["best_config"] == "mixed_float16 xla=on batch=256"
    assert summary["mixed_over_float32"]["best_vs_best"] == pytest.approx(2.5)
    assert summary["mixed_over_float32"]["met"] is True
    assert summary["share_of_fp16_bf16_peak"]["met"] is False  # 0.8% of the peak, not 25%

    bench.doc["summary"] = summary
    bench.doc["profile"] = {
        "status": "ok",
        "config": summary["best_config"],
        "profiled_steps": 5,
        "source": "GPU streams",
        "total_device_ms": 10.0,
        "top_kernels": [{"name": "dgrad", "total_ms": 6.0, "calls": 20, "share": 0.6}],
    }
    table = render_table(bench.doc)
    assert table.startswith("# Training throughput on NVIDIA H200")
    assert "| mixed_float16 | on | 256 | 2,500.0 | 100.00 | 120.00 | 3.00 | 7.50 | 0.8% |" in table
    assert "| mixed_float16 | on | 512 | oom: ResourceExhaustedError: OOM |" in table
    assert "fp16/bf16 989.5 TFLOP/s" in table
    assert "  - 60.0% 6.00 ms x20: `dgrad`" in table
