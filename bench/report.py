"""summary.json and the Markdown table for the README, from the benchmarks' JSON files.

The targets are the issue's; each is reported met or missed from the measured numbers, never
adjusted. The notes under the tables say what the numbers rest on and what dominates, from the
same files.
"""

import json
import os
from typing import Any, Dict, List, Optional, Tuple

from bench.common import Settings, load_result, machine_snapshot

BENCHMARKS = (
    "where_time_goes",
    "training_compare",
    "throughput",
    "serving_cost",
    "tflite_cost",
    "transform_beam",
    "ceiling",
    "exif_cost",
    "cli_latency",
    "determinism_cost",
)
# name: (what the issue asks, limit, direction)
TARGETS = {
    "mean_iou": ("mean IoU at equal epochs >= the tutorial's (ours / tutorial)", 1.0, ">="),
    "train_throughput": ("Trainer training images/s >= 0.9x the tutorial loop's", 0.9, ">="),
    "serving_overhead": ("predict_images cost per image at batch 32 <= 1.3x the bare model's", 1.3, "<="),
    "non_training_share": ("non-training components <= half of the pipeline's wall time", 0.5, "<="),
}


def build_summary(
    settings: Settings, stage_seconds: Dict[str, float], total_seconds: Optional[float]
) -> Dict[str, Any]:
    """The headline numbers of every benchmark, the targets, and the machine."""
    results = {name: load_result(settings, name) for name in BENCHMARKS}
    training, throughput, serving = (
        results["training_compare"],
        results["throughput"],
        results["serving_cost"],
    )
    pipeline, ceiling = results["where_time_goes"], results["ceiling"]
    runs = training["tutorial_port"]["runs"]
    ours_score = training["trainer"]["score"]
    values = {
        "mean_iou": ours_score["mean_iou"] / runs["bilinear"]["score"]["mean_iou"],
        "train_throughput": throughput["ratios"]["trainer_over_tutorial"]["median_of_rounds"],
        "serving_overhead": serving["batch"]["32"]["overhead_ratio_per_image_p50"],
        "non_training_share": pipeline["non_training_share"],
    }
    targets = {
        name: {
            "target": text,
            "value": values[name],
            "limit": limit,
            "met": values[name] >= limit if direction == ">=" else values[name] <= limit,
        }
        for name, (text, limit, direction) in TARGETS.items()
    }
    first_machine = results["where_time_goes"]["machine"]["before"]
    return {
        "settings": training["settings"],
        "machine": {key: first_machine[key] for key in ("cpu_model", "cores", "usable_cores")},
        "load_average_1min_before_after": {
            name: [
                r["machine"]["before"]["load_average_1_5_15"][0],
                r["machine"]["after"]["load_average_1_5_15"][0],
            ]
            for name, r in results.items()
        },
        "run_all_seconds": total_seconds,
        "stage_seconds": stage_seconds,
        "quality": {
            "epochs": settings.epochs,
            "eval_images": ours_score["images"],
            "trainer": _quality(ours_score),
            "tutorial_bilinear_masks": _quality(runs["bilinear"]["score"]),
            "tutorial_nearest_masks": _quality(runs["nearest"]["score"]),
            "tutorial_own_val_accuracy": runs["bilinear"]["own_history"]["val_accuracy"][-1],
            "bilinear_mask_fractional_pixel_share": training["facts"]["bilinear_mask_fractional_pixel_share"],
            "augment_flips_agree_share": training["facts"]["augment_flips_agree_share"],
        },
        "training": {
            "images_per_second": throughput["images_per_second"],
            "rounds": throughput["settings"]["burst_rounds"],
            "ratios_median_of_rounds": {k: v["median_of_rounds"] for k, v in throughput["ratios"].items()},
            "ratios_overall": {k: v["overall"] for k, v in throughput["ratios"].items()},
            "input_pipeline_alone_images_per_second": throughput["input_pipeline_alone_images_per_second"],
            "fit_seconds_sequential_runs": {
                "trainer": training["trainer"]["timing"]["fit_seconds"],
                "tutorial_bilinear": runs["bilinear"]["fit_seconds"],
                "tutorial_nearest": runs["nearest"]["fit_seconds"],
            },
            "tutorial_fit_steady_images_per_second": {
                m: r["timing"]["steady_images_per_second"] for m, r in runs.items()
            },
        },
        "serving": {
            batch: {
                name: {k: s[k] for k in ("p50_ms", "p99_ms", "images_per_second", "ms_per_image_p50")}
                for name, s in result["stats"].items()
            }
            for batch, result in serving["batch"].items()
        },
        "serving_breakdown_ms_per_image": {
            batch: result["breakdown_ms_per_image_p50"] for batch, result in serving["batch"].items()
        },
        "pipeline": {
            "total_seconds": pipeline["total_seconds"],
            "trainer_seconds": pipeline["trainer_seconds"],
            "non_training_share": pipeline["non_training_share"],
            "components": {n: c["seconds"] for n, c in pipeline["components"].items()},
            "orchestration_seconds": pipeline["orchestration_seconds"],
        },
        "transform_beam": {
            "images_per_second": results["transform_beam"]["images_per_second"],
            "seconds": results["transform_beam"]["seconds"],
        },
        "ceiling": {
            k: ceiling[k]
            for k in (
                "forward_flops_per_image",
                "training_flops_per_image",
                "peak_flops_per_second",
                "share_of_peak",
                "ceiling_images_per_second",
                "share_of_same_round_matmul",
                "same_round_matmul_flops_per_second_median",
            )
        },
        "exif_ms_per_image": {
            kind: {
                "transform_plain": results["exif_cost"][kind]["wall_ms_per_image"]["transform_plain"],
                "transform_oriented": results["exif_cost"][kind]["wall_ms_per_image"]["transform_oriented"],
                "cpu_ratio": results["exif_cost"][kind]["cpu_ratio_to_plain"]["transform_oriented"],
            }
            for kind in ("untagged", "exif_orientation_6")
        },
        "cli_seconds": {name: c["median_seconds"] for name, c in results["cli_latency"]["commands"].items()},
        "import_tensorflow_seconds": results["cli_latency"]["import_tensorflow_median_seconds"],
        "tflite": {
            name: {
                "mib": variant["size_bytes"] / 2**20,
                "eval_mean_iou": variant["eval_mean_iou"],
                "latency_ms": {
                    threads: [latency["p50_ms"], latency["p99_ms"]]
                    for threads, latency in variant["latency_batch1"].items()
                },
            }
            for name, variant in results["tflite_cost"]["variants"].items()
        },
        "tflite_gate": results["tflite_cost"]["gate"],
        "determinism": {
            "images_per_second": results["determinism_cost"]["median_images_per_second"],
            "ratio": results["determinism_cost"]["deterministic_over_free"],
        },
        "targets": targets,
    }


def _quality(score: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "mean_iou": score["mean_iou"],
        "pixel_accuracy": score["pixel_accuracy"],
        "iou": score["iou"],
        "predicted_class_share": score["predicted_class_share"],
    }


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _results_table(summary: Dict[str, Any]) -> List[str]:
    s, q, t = summary["settings"], summary["quality"], summary["targets"]
    tr, serving, pipe, ceiling = (
        summary["training"],
        summary["serving"],
        summary["pipeline"],
        summary["ceiling"],
    )
    ips, ratios, overall = tr["images_per_second"], tr["ratios_median_of_rounds"], tr["ratios_overall"]
    fit = tr["fit_seconds_sequential_runs"]
    exif = summary["exif_ms_per_image"]
    det = summary["determinism"]
    lite, gate = summary["tflite"], summary["tflite_gate"]
    sm, f16, i8 = lite["saved_model"], lite["float16"], lite["int8"]

    def latency(variant: Dict[str, Any], threads: str) -> str:
        p50, p99 = variant["latency_ms"][threads]
        return f"{p50:.1f} / {p99:.1f}"

    beam = summary["transform_beam"]["images_per_second"]
    b1, b32 = serving["1"], serving["32"]
    ours, bilinear, nearest = q["trainer"], q["tutorial_bilinear_masks"], q["tutorial_nearest_masks"]
    return [
        "| measure | segpipe | tutorial / reference | ratio | target | result |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| eval mean IoU after {_epochs(q['epochs'])} (all {q['eval_images']} eval images, every pixel, nearest masks) "
        f"| {ours['mean_iou']:.3f} | {bilinear['mean_iou']:.3f} (original: bilinear masks); {nearest['mean_iou']:.3f} (nearest fix) "
        f"| {t['mean_iou']['value']:.2f}x | >= 1x | {_mark(t['mean_iou']['met'])} |",
        f"| eval pixel accuracy, same scoring | {ours['pixel_accuracy']:.3f} | {bilinear['pixel_accuracy']:.3f}; "
        f"{nearest['pixel_accuracy']:.3f} (tutorial's own figure, 1/5 of test, bilinear masks: {q['tutorial_own_val_accuracy']:.3f}) "
        f"| {ours['pixel_accuracy'] / bilinear['pixel_accuracy']:.2f}x | | |",
        f"| training images/s, steady state, {tr['rounds']} interleaved rounds | {ips['trainer']:.1f} (Trainer loop) "
        f"| {ips['tutorial']:.1f} (tutorial loop) | {ratios['trainer_over_tutorial']:.2f}x (median of rounds; overall "
        f"{overall['trainer_over_tutorial']:.2f}x) | >= 0.9x | {_mark(t['train_throughput']['met'])} |",
        f"| training images/s against the same model fed from memory | {ips['trainer']:.1f} (Trainer loop) "
        f"| {ips['memory']:.1f} (decoded arrays in memory) | {ratios['trainer_over_memory']:.2f}x (overall "
        f"{overall['trainer_over_memory']:.2f}x) | | |",
        f"| fit wall time, {_epochs(q['epochs'])}, sequential runs (load-sensitive) | {fit['trainer']:.0f} s (validates on all eval images) "
        f"| {fit['tutorial_bilinear']:.0f} s, {fit['tutorial_nearest']:.0f} s (validate on 1/5) "
        f"| {fit['trainer'] / fit['tutorial_bilinear']:.2f}x | | |",
        f"| `predict_images` per image at batch 32 (p50): JPEG in, class map at full size out "
        f"| {b32['predict_images']['ms_per_image_p50']:.1f} ms | {b32['bare_model']['ms_per_image_p50']:.1f} ms "
        f"(bare Keras model on preprocessed tensors) | {t['serving_overhead']['value']:.2f}x | <= 1.3x | {_mark(t['serving_overhead']['met'])} |",
        f"| phone model size: SavedModel (Format-Serving, float32) / TFLite float16 / TFLite int8 "
        f"| {sm['mib']:.1f} / {f16['mib']:.1f} / {i8['mib']:.1f} MiB | | int8 {i8['mib'] / sm['mib']:.2f}x of the SavedModel | | |",
        f"| CPU latency at batch 1, 1 thread, p50 / p99 ms: TF network / float16 / int8 "
        f"| {latency(sm, '1_threads')} / {latency(f16, '1_threads')} / {latency(i8, '1_threads')} | "
        f"| int8 {sm['latency_ms']['1_threads'][0] / i8['latency_ms']['1_threads'][0]:.2f}x faster | | |",
        f"| CPU latency at batch 1, 2 threads, p50 / p99 ms: TF network / float16 / int8 "
        f"| {latency(sm, '2_threads')} / {latency(f16, '2_threads')} / {latency(i8, '2_threads')} | | | | |",
        f"| eval mean IoU: SavedModel / float16 / int8 (gate: {gate['shipped']} ships) "
        f"| {sm['eval_mean_iou']:.3f} / {f16['eval_mean_iou']:.3f} / {i8['eval_mean_iou']:.3f} | "
        f"| int8 change {i8['eval_mean_iou'] - f16['eval_mean_iou']:+.3f} | int8 within {gate['max_drop']} of float16 "
        f"| {_mark(i8['eval_mean_iou'] - f16['eval_mean_iou'] >= -gate['max_drop'])} |",
        f"| `predict_images` latency at batch 1, p50 / p99 | {b1['predict_images']['p50_ms']:.1f} / {b1['predict_images']['p99_ms']:.1f} ms "
        f"| {b1['bare_model']['p50_ms']:.1f} / {b1['bare_model']['p99_ms']:.1f} ms "
        f"| {b1['predict_images']['p50_ms'] / b1['bare_model']['p50_ms']:.2f}x | | |",
        f"| `predict_images` images/s at batch 1 / 32 | {b1['predict_images']['images_per_second']:.1f} / "
        f"{b32['predict_images']['images_per_second']:.1f} | {b1['bare_model']['images_per_second']:.1f} / "
        f"{b32['bare_model']['images_per_second']:.1f} | | | |",
        f"| pipeline wall time, {s['n_train']}/{s['n_eval']} images, {_epochs(q['epochs'])}, nothing cached "
        f"| {pipe['total_seconds']:.0f} s | Trainer {pipe['trainer_seconds']:.0f} s | | | |",
        f"| share of the pipeline run that is not training | {pipe['non_training_share']:.0%} "
        f"({pipe['total_seconds'] - pipe['trainer_seconds']:.0f} s) | | | <= 50% | {_mark(t['non_training_share']['met'])} |",
        f"| Transform images/s, Beam DirectRunner | {beam['multi_processing']:.1f} (multi_processing, "
        f"{summary['machine']['cores']} workers: the default) | {beam['in_memory']:.1f} (in_memory, one process) "
        f"| {beam['multi_processing'] / beam['in_memory']:.2f}x | | |",
        f"| U-Net forward GFLOPs per image (training ~3x) | {ceiling['forward_flops_per_image']['tf_profiler'] / 1e9:.2f} "
        f"(TF profiler) | {ceiling['forward_flops_per_image']['conv_layers'] / 1e9:.2f} (convolutions counted from the layers) | | | |",
        f"| training FLOP/s as a share of float32 matmul FLOP/s measured in the same rounds "
        f"({ceiling['same_round_matmul_flops_per_second_median'] / 1e9:.0f} GFLOP/s median; best of 10: "
        f"{ceiling['peak_flops_per_second'] / 1e9:.0f}) | {ceiling['share_of_same_round_matmul']['trainer']:.0%} (Trainer loop; "
        f"{ceiling['share_of_peak']['trainer']:.0%} of the best-of-10 rate, taken at another moment) "
        f"| {ceiling['share_of_same_round_matmul']['tutorial']:.0%} (tutorial loop), "
        f"{ceiling['share_of_same_round_matmul']['memory']:.0%} (from memory) | | | |",
        f"| EXIF orientation in Transform's per-image step (decode, resize, scale), 500×375 JPEG: untagged "
        f"| {exif['untagged']['transform_oriented']:.2f} ms | {exif['untagged']['transform_plain']:.2f} ms (orientation ignored) "
        f"| {exif['untagged']['cpu_ratio']:.2f}x (CPU time) | | |",
        f"| the same, a phone photo (orientation 6: turned) | {exif['exif_orientation_6']['transform_oriented']:.2f} ms "
        f"| {exif['exif_orientation_6']['transform_plain']:.2f} ms | {exif['exif_orientation_6']['cpu_ratio']:.2f}x (CPU time) | | |",
        f"| commands that only read (fresh process, median): {', '.join(f'`{n}` {s:.2f} s' for n, s in summary['cli_seconds'].items())} "
        f"| | `python -c 'import tensorflow'` {summary['import_tensorflow_seconds']:.1f} s | | about 1 s | |",
        f"| training images/s with op determinism on (`--deterministic yes`, the default; separate processes, "
        f"alternating) | {det['images_per_second']['on']:.1f} | {det['images_per_second']['off']:.1f} (off) "
        f"| {det['ratio']:.2f}x | | |",
    ]


def _component_table(pipe: Dict[str, Any]) -> List[str]:
    lines = ["| pipeline component | seconds | share of the run |", "| --- | --- | --- |"]
    total = pipe["total_seconds"]
    lines += [
        f"| {name} | {seconds:.1f} | {seconds / total:.0%} |" for name, seconds in pipe["components"].items()
    ]
    lines.append(
        f"| (between components) | {pipe['orchestration_seconds']:.1f} | {pipe['orchestration_seconds'] / total:.0%} |"
    )
    lines.append(f"| **total** | {total:.1f} | 100% |")
    return lines


def _notes(summary: Dict[str, Any]) -> List[str]:
    q, tr = summary["quality"], summary["training"]
    tutorial_background = q["tutorial_bilinear_masks"]["predicted_class_share"]["background"]
    alone = tr["input_pipeline_alone_images_per_second"]
    breakdown = summary["serving_breakdown_ms_per_image"]["32"]
    pipe = summary["pipeline"]
    beam_components = {
        n: pipe["components"][n]
        for n in ("TfdsExampleGen", "StatisticsGen", "Transform", "Evaluator")
        if n in pipe["components"]
    }
    beam = summary["transform_beam"]["images_per_second"]
    return [
        "Notes:",
        f"- Both sides train the encoder from random weights (no ImageNet weights offline). The tutorial "
        f"port keeps Keras' BatchNorm momentum 0.999, the Trainer uses 0.9 for a scratch encoder; the "
        f"tutorial's model predicts background for {tutorial_background:.0%} of the eval pixels after "
        f"{_epochs(q['epochs'])}"
        + (
            " (its BatchNorm moving statistics are still near their initial values; docs/stack.md)."
            if tutorial_background > 0.99
            else "."
        ),
        f"- The tutorial's bilinear mask resize leaves {q['bilinear_mask_fractional_pixel_share']:.1%} of the "
        f"training mask pixels fractional (no class); its own validation figure counts 1/5 of the test set "
        f"against such masks. Its Augment layer flipped image and mask alike in "
        f"{q['augment_flips_agree_share']:.0%} of the examples checked.",
        f"- The input pipelines alone deliver {alone['trainer']:.0f} (Trainer) and {alone['tutorial']:.0f} "
        f"(tutorial) images/s once cached, against {tr['images_per_second']['trainer']:.0f} images/s of "
        f"training: the model's compute sets the pace.",
        f"- `predict_images` at batch 32, per image (p50): decode and resize {breakdown['decode_resize']:.1f} ms, "
        f"model {breakdown['model']:.1f} ms, the rest (softmax, resizing probabilities back to each image's "
        f"size, argmax, padding) {breakdown['postprocess_and_rest']:.1f} ms.",
        f"- Beam components: {', '.join(f'{n} {s:.0f} s' for n, s in beam_components.items())}. Run alone, "
        f"Transform with {summary['machine']['cores']} multi_processing workers (the pipeline's default, "
        f"worker start-up included) is {beam['multi_processing'] / beam['in_memory']:.2f}x as fast as in one process.",
    ]


def markdown(summary: Dict[str, Any]) -> str:
    """The results table, the pipeline's component table and the notes, under a machine line."""
    s = summary["settings"]
    loads = [v for pair in summary["load_average_1min_before_after"].values() for v in pair]
    header = (
        f"Machine: {summary['machine']['cpu_model']}, {summary['machine']['cores']} cores, no GPU; "
        f"1-min load average {min(loads):.2f}-{max(loads):.2f} during the runs (other jobs shared the "
        f"machine; compared variants alternate within one process). Data: the built-in synthetic set, "
        f"{s['n_train']} train / {s['n_eval']} eval images, seed {s['seed']}; {s['image_size']} px, batch "
        f"{s['batch_size']}, {_epochs(s['epochs'])}, no encoder weights."
        + (
            f" `make bench` took {summary['run_all_seconds'] / 60:.1f} min."
            if summary["run_all_seconds"]
            else ""
        )
    )
    return (
        "\n".join(
            [
                header,
                "",
                *_results_table(summary),
                "",
                *_component_table(summary["pipeline"]),
                "",
                *_notes(summary),
            ]
        )
        + "\n"
    )


def write(
    settings: Settings, stage_seconds: Dict[str, float], total_seconds: Optional[float]
) -> Tuple[Dict[str, Any], str]:
    """Writes summary.json and README_table.md into the results directory; returns both."""
    summary = build_summary(settings, stage_seconds, total_seconds)
    summary["machine"]["at_report"] = machine_snapshot()
    with open(os.path.join(settings.results_dir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
        handle.write("\n")
    table = markdown(summary)
    with open(os.path.join(settings.results_dir, "README_table.md"), "w", encoding="utf-8") as handle:
        handle.write(table)
    return summary, table


def missed(summary: Dict[str, Any]) -> List[str]:
    return [name for name, target in summary["targets"].items() if not target["met"]]
