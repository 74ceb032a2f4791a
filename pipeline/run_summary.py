"""OUTPUT/run_summary.json: reading it and printing its metrics table.

Pure Python on purpose: `segpipe metrics` only reads a JSON file, so it must answer in about a
second, without TensorFlow, TFX, Beam or the metadata store (each costs 10-30 s to import here).
"""

import json
import os
from typing import Any, Dict, List, Optional

from contract.names import RUN_SUMMARY, SLICE_DISPLAY_NAMES, SLICE_FEATURES


def summary_path(output_dir: str) -> str:
    return os.path.join(output_dir, RUN_SUMMARY)


def load_summary(output_dir: str) -> Optional[dict]:
    """OUTPUT/run_summary.json of the latest run, or None before the first complete run."""
    path = summary_path(output_dir)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def slice_order(slices: Dict[str, Any]) -> List[str]:
    """Species slices first, then breeds, each alphabetical."""
    prefixes = [SLICE_DISPLAY_NAMES.get(f, f) + "=" for f in SLICE_FEATURES]
    return sorted(slices, key=lambda n: (next((i for i, p in enumerate(prefixes) if n.startswith(p)), 99), n))


def _number(value: Any) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"


def describe_tflite(tflite: Dict[str, Any]) -> str:
    """The phone model in one line: which variant ships, the mean IoUs it was chosen on, where
    it went ('int8 ships (mean IoU: int8 0.6012, float16 0.6050, SavedModel 0.6049); pushed ...')."""
    gate, push = tflite["gate"], tflite["push"]
    means = {variant: values.get("mean_iou") for variant, values in tflite["variants"].items()}
    means["SavedModel"] = tflite["saved_model"].get("mean_iou")
    scores = [f"{name} {_number(value)}" for name, value in means.items()]
    where = f"pushed: {push['pushed_model']}" if push["pushed_model"] else push["reason"]
    return f"{gate['shipped']} ships (mean IoU: {', '.join(scores)}); {where}"


def _hyperparameter(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def describe_tuning(tuning: Dict[str, Any]) -> str:
    """The search in one line: trials, the best validation mean IoU and the values the Trainer
    used ('2 trials, best validation mean IoU 0.412: learning_rate 0.00123, batch_size 16, ...')."""
    best = tuning.get("best_hyperparameters")
    if not best:
        return "no search result in this pipeline's metadata store yet: trained with the config's values"
    trials = tuning.get("trials") or []
    head = f"{len(trials)} trial{'' if len(trials) == 1 else 's'}"
    if tuning.get("best_score") is not None:
        head += f", best validation mean IoU {tuning['best_score']:.3f}"
    if tuning.get("source") == "reused":
        head = f"reused the latest search ({head})"
    return f"{head}: " + ", ".join(f"{name} {_hyperparameter(value)}" for name, value in best.items())


def format_metrics_table(summary: dict) -> str:
    """The latest run's metrics: one row per slice, one column per metric and class."""
    overall = summary["metrics"]["overall"]
    classes = list(overall.get("iou", {}))
    header = (
        ["slice", "pixel acc", "mean IoU"] + [f"IoU {c}" for c in classes] + [f"Dice {c}" for c in classes]
    )
    rows = []
    slices = summary["metrics"]["slices"]
    for name, values in [("overall", overall)] + [(n, slices[n]) for n in slice_order(slices)]:
        rows.append(
            [name, _number(values.get("pixel_accuracy")), _number(values.get("mean_iou"))]
            + [_number(values.get("iou", {}).get(c)) for c in classes]
            + [_number(values.get("dice", {}).get(c)) for c in classes]
        )
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    blessing = summary["blessing"]
    lines.append("")
    lines.append(f"{'BLESSED' if blessing['blessed'] else 'NOT blessed'}: {blessing['reason']}")
    lines.append(f"pushed: {summary['pushed_model'] or 'nothing'}; report: {summary['report']}")
    if summary.get("tflite"):
        lines.append(f"phone model (TFLite): {describe_tflite(summary['tflite'])}")
        lines.append(f"  {summary['tflite']['gate']['reason']}")
    if summary.get("tuning"):
        lines.append(f"hyperparameter search: {describe_tuning(summary['tuning'])}")
    return "\n".join(lines)
