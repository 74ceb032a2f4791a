"""What a run writes and where: the JSON document, gpu_table.md beside it, and how configurations,
errors and numbers are shown in them.

The Bench rewrites both after every phase, so a run killed from outside still leaves what it
measured.
"""

import os
from typing import Any, Dict, Optional

from bench.common import RESULTS_DIR, SCRATCH_DIR, write_json
from bench.gpu.settings import FLOAT32, GPU_SIZES, MIXED, PROFILE_KERNELS_IN_TABLE, Sizes
from components.shared.atomic import write_file


def first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:300]}"


def label(config: Dict[str, Any]) -> str:
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
    write_json(out_path, doc)
    try:
        table = render_table(doc)
    except Exception as err:  # every number is in the JSON written above
        table = f"# gpu_table.md could not be rendered\n\n{first_line(err)}\n"
    write_file(os.path.join(os.path.dirname(os.path.abspath(out_path)), "gpu_table.md"), table.encode())


def default_out(sizes: Sizes) -> str:
    """The real GPU run's results are kept in bench/results; tiny runs go to the ignored tmp/."""
    return (
        os.path.join(RESULTS_DIR, "gpu.json")
        if sizes is GPU_SIZES
        else os.path.join(SCRATCH_DIR, "quick", "gpu.json")
    )
