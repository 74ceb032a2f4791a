"""An evaluation report a person would rather look at than read: charts, overlays and one HTML page.

`write_report` turns the Evaluator's metrics, the Trainer's history.json and a few predicted
samples into a folder:

    index.html            self-contained page (inline CSS, relative links, no scripts)
    report.json           the files written and the headline numbers, for machines
    iou_per_class.png     IoU and Dice per class, mean IoU as a line
    confusion_matrix.png  confusion matrix normalised per true class
    training_curves.png   loss, pixel accuracy, mean IoU per epoch       (needs history)
    slices.png            mean IoU per slice                             (needs slices)
    overlays.png          contact sheet of up to 8 samples                (needs samples)
    overlays/<name>.png   input | truth | prediction for each sample     (needs samples)

Optional inputs that are missing (history, slices, blessing, baseline, the phone model's scores
under metrics["tflite"], the hyperparameter search under metrics["tuning"], samples) leave their
section out with a note saying so. Inconsistent
inputs (a confusion matrix or class ids that do not fit class_names) raise ValueError before
anything is written. The folder is built next to
out_dir and renamed into place (components/shared/atomic.py), so readers never see a
half-written report and a failed run leaves the previous report as it was.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from typing import Any, Dict, Mapping, Optional, Sequence

import matplotlib
import numpy as np

from components.run_report import charts, page
from components.shared import atomic
from contract.names import REPORT_INDEX
from serving.colors import CLASS_COLORS
from trainer import scores as pixel_scores

REPORT_JSON = "report.json"
IOU_CHART = "iou_per_class.png"
CONFUSION_CHART = "confusion_matrix.png"
CURVES_CHART = "training_curves.png"
SLICES_CHART = "slices.png"
CONTACT_SHEET = "overlays.png"
OVERLAY_DIR = "overlays"
# More rows would make the contact sheet too tall to take in at once; the rest are linked.
MAX_CONTACT_ROWS = 8
# Slice features shown first, in this order; other features follow alphabetically.
SLICE_FEATURE_ORDER = ("species", "breed")


@dataclasses.dataclass(frozen=True, eq=False)
class Sample:
    """One evaluated image: what the model saw, the true class map and the predicted one."""

    name: str
    image: np.ndarray  # H×W×3 uint8
    truth: np.ndarray  # H×W integer class ids
    prediction: np.ndarray  # H×W integer class ids

    def __post_init__(self) -> None:
        """Fail on bad arrays here, with the sample's name, rather than deep inside matplotlib."""
        image = self.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or not image.size:
            raise ValueError(
                f"sample {self.name!r}: image must be a non-empty H×W×3 uint8 array, "
                f"got {self.image.dtype} {self.image.shape}"
            )
        for label, classes in (("truth", self.truth), ("prediction", self.prediction)):
            if classes.shape != self.image.shape[:2] or not np.issubdtype(classes.dtype, np.integer):
                raise ValueError(
                    f"sample {self.name!r}: {label} must be an integer array of shape "
                    f"{self.image.shape[:2]}, got {classes.dtype} {classes.shape}"
                )


def write_report(
    out_dir: str,
    *,
    metrics: Mapping[str, Any],
    history: Optional[Mapping[str, Any]],
    samples: Sequence[Sample],
    title: str,
    class_names: Sequence[str],
) -> str:
    """Write the report into out_dir (replacing any previous one) and return the path of index.html."""
    class_names = [str(name) for name in class_names]
    _check_inputs(metrics, samples, class_names)
    out_dir = os.path.abspath(out_dir)
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"{out_dir} exists and is not a directory")
    with atomic.staged_directory(os.path.dirname(out_dir)) as staging:
        with matplotlib.rc_context(charts.STYLE):
            _render(staging, metrics, history or {}, samples, title, class_names)
        atomic.replace_directory(staging, out_dir)
    return os.path.join(out_dir, REPORT_INDEX)


def image_scores(
    truth: np.ndarray, prediction: np.ndarray, num_classes: int
) -> tuple[float, Optional[float]]:
    """Pixel accuracy and mean IoU of one image.

    As in the Evaluator, the mean is over the classes present in truth or prediction: a class
    absent from both has no defined IoU and would otherwise count as perfect (or as zero).
    """
    matrix = pixel_scores.confusion_matrix(truth, prediction, num_classes)
    return pixel_scores.pixel_accuracy(matrix), _number(pixel_scores.mean_iou(matrix))


def _check_inputs(metrics: Mapping[str, Any], samples: Sequence[Sample], class_names: Sequence[str]) -> None:
    """Reject what cannot be drawn truthfully, before a staging folder exists."""
    n = len(class_names)
    if not n:
        raise ValueError("class_names is empty")
    matrix = (metrics.get("overall") or {}).get("confusion_matrix")
    if matrix is not None and np.shape(matrix) != (n, n):
        raise ValueError(
            f"confusion matrix has shape {np.shape(matrix)}, expected {(n, n)} for {class_names}"
        )
    if samples and n > len(CLASS_COLORS):
        raise ValueError(f"overlays have colours for {len(CLASS_COLORS)} classes, got {n}")
    for sample in samples:
        for classes in (sample.truth, sample.prediction):
            if classes.min() < 0 or classes.max() >= n:
                raise ValueError(
                    f"sample {sample.name!r}: class ids must lie in 0..{n - 1}, "
                    f"got {classes.min()}..{classes.max()}"
                )


def _render(
    directory: str,
    metrics: Mapping[str, Any],
    history: Mapping[str, Any],
    samples: Sequence[Sample],
    title: str,
    class_names: Sequence[str],
) -> None:
    """Every file of the report, index.html and report.json last (they list the others)."""
    overall = metrics.get("overall") or {}
    majority = metrics.get("majority_class_baseline") or {}
    sections = [
        ("Headline", _headline_section(directory, overall, metrics.get("blessing"), majority, class_names)),
        ("Confusion matrix", _confusion_section(directory, overall, class_names)),
        ("Training", _training_section(directory, history, majority, class_names)),
        ("Slices", _slices_section(directory, metrics.get("slices") or {}, overall, class_names)),
        ("Hyperparameter search", _tuning_section(metrics.get("tuning"))),
        ("Phone model (TFLite)", _tflite_section(metrics.get("tflite"), class_names)),
        ("Samples", _samples_section(directory, samples, class_names)),
    ]
    with open(os.path.join(directory, REPORT_INDEX), "w", encoding="utf-8") as f:
        f.write(page.document(title, sections))
    summary = {
        "title": title,
        "files": _files_under(directory),
        "headline": _headline_numbers(overall, metrics.get("blessing"), class_names),
    }
    with open(os.path.join(directory, REPORT_JSON), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, allow_nan=False)


def _number(value: Any) -> Optional[float]:
    """A metric as a float, or None where it is missing or undefined (the Evaluator's NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _score(value: Optional[float]) -> str:
    """IoU, Dice and the like: three decimals."""
    return "n/a" if value is None else f"{value:.3f}"


def _percent(value: Optional[float]) -> str:
    """Pixel accuracy: a share of pixels reads best as a percentage."""
    return "n/a" if value is None else f"{value:.1%}"


def _per_class(values: Optional[Mapping[str, Any]], class_names: Sequence[str]) -> list[Optional[float]]:
    """A {class name: value} dict as a list in class order, None where a class has no value."""
    return [_number((values or {}).get(name)) for name in class_names]


def _headline_numbers(
    overall: Mapping[str, Any], blessing: Optional[Mapping[str, Any]], class_names: Sequence[str]
) -> dict[str, Any]:
    """report.json's numbers: null where unknown (JSON has no NaN)."""
    blessing = blessing or {}
    return {
        "pixel_accuracy": _number(overall.get("pixel_accuracy")),
        "mean_iou": _number(overall.get("mean_iou")),
        "iou": dict(zip(class_names, _per_class(overall.get("iou"), class_names))),
        "dice": dict(zip(class_names, _per_class(overall.get("dice"), class_names))),
        "blessed": None if blessing.get("blessed") is None else bool(blessing["blessed"]),
        "reason": blessing.get("reason"),
        "baseline_mean_iou": _number(blessing.get("baseline_mean_iou")),
    }


def _blessing_html(blessing: Optional[Mapping[str, Any]]) -> str:
    """The Evaluator's decision, first thing on the page: it is what decides whether we ship."""
    if not blessing:
        return page.note("The metrics hold no blessing decision: this model was not validated.")
    verdicts: Dict[Any, tuple[str, str]] = {
        True: ("BLESSED", "blessed"),
        False: ("NOT BLESSED", "not-blessed"),
    }
    label, css_class = verdicts.get(blessing.get("blessed"), ("NO DECISION", "unknown"))
    reason = blessing.get("reason")
    return page.verdict(label, css_class) + (page.paragraph(reason) if reason else "")


def _comparison_rows(
    overall: Mapping[str, Any], blessing: Optional[Mapping[str, Any]], majority: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """This model against what it must beat: the blessed baseline and the majority-class guess."""
    mean_iou = _number(overall.get("mean_iou"))
    rows = [("this model", _percent(_number(overall.get("pixel_accuracy"))), _score(mean_iou))]
    baseline = _number((blessing or {}).get("baseline_mean_iou"))
    if baseline is not None:
        delta = "" if mean_iou is None else f" ({mean_iou - baseline:+.3f})"
        rows.append(("baseline model", "n/a", _score(baseline) + delta))
    elif blessing:
        rows.append(("baseline model", "none", "none"))
    if majority:
        rows.append(
            (
                "always the majority class",
                _percent(_number(majority.get("pixel_accuracy"))),
                _score(_number(majority.get("mean_iou"))),
            )
        )
    return rows


def _headline_section(
    directory: str,
    overall: Mapping[str, Any],
    blessing: Optional[Mapping[str, Any]],
    majority: Mapping[str, Any],
    class_names: Sequence[str],
) -> str:
    """Blessing, overall numbers (on the eval split), per-class numbers and the IoU chart."""
    iou = _per_class(overall.get("iou"), class_names)
    dice = _per_class(overall.get("dice"), class_names)
    tables = page.side_by_side(
        page.table(("", "pixel accuracy", "mean IoU"), _comparison_rows(overall, blessing, majority)),
        page.table(("class", "IoU", "Dice"), zip(class_names, map(_score, iou), map(_score, dice))),
    )
    if all(value is None for value in iou + dice):
        return (
            _blessing_html(blessing)
            + tables
            + page.note("No per-class IoU or Dice in the metrics: no chart.")
        )
    charts.plot_iou_per_class(
        os.path.join(directory, IOU_CHART), class_names, iou, dice, _number(overall.get("mean_iou"))
    )
    return _blessing_html(blessing) + tables + page.image(IOU_CHART, "IoU and Dice per class")


def _confusion_section(directory: str, overall: Mapping[str, Any], class_names: Sequence[str]) -> str:
    """The confusion matrix chart, or why there is none."""
    matrix = overall.get("confusion_matrix")
    if matrix is None:
        return page.note("The metrics hold no confusion matrix.")
    charts.plot_confusion_matrix(os.path.join(directory, CONFUSION_CHART), class_names, np.asarray(matrix))
    return page.paragraph(
        "Each row is one true class and adds up to 100%: the diagonal is what the model "
        "got right, the rest shows which class took the pixels it got wrong."
    ) + page.image(CONFUSION_CHART, "confusion matrix, rows normalised per true class")


def _training_section(
    directory: str, history: Mapping[str, Any], majority: Mapping[str, Any], class_names: Sequence[str]
) -> str:
    """Training curves from history.json (train and validation splits), or why there are none."""
    curves = history.get("metrics") or {}
    if not any(curves.values()):
        return page.note("No training history was given: no training curves.")
    kept = history.get("kept_epoch")
    baseline = {key: float(value) for key, value in majority.items() if _number(value) is not None}
    charts.plot_training_curves(os.path.join(directory, CURVES_CHART), curves, kept, baseline)
    epochs = max(len(values) for values in curves.values())
    kept_text = (
        f"The exported model is from epoch {kept} of {epochs}, the best on the validation split "
        "(carved from the training data; the eval split above is never seen in training)."
        if kept
        else f"{epochs} epochs."
    )
    return page.paragraph(
        kept_text
        + _flip_text(bool(history.get("flip_tta")))
        + _calibration_text(history.get("class_calibration"), class_names)
    ) + page.image(CURVES_CHART, "loss, pixel accuracy and mean IoU per epoch")


def _flip_text(flip_tta: bool) -> str:
    """Says that the exported model is flip-averaged (--flip-tta): the figures that follow are its."""
    if not flip_tta:
        return ""
    return (
        " The exported model averages its logits on each image and on its mirror image "
        "(test-time flip, --flip-tta)."
    )


def _calibration_text(calibration: Optional[Mapping[str, Any]], class_names: Sequence[str]) -> str:
    """What the class offsets fitted after training did on the validation split, if any."""
    if not calibration:
        return ""
    offsets = ", ".join(f"{name} {offset:+.2f}" for name, offset in zip(class_names, calibration["offsets"]))
    return (
        f" Class offsets fitted on the validation split after training and added to the logits "
        f"({offsets}) move its mean IoU from "
        f"{calibration['validation_mean_iou_before']:.3f} to {calibration['validation_mean_iou_after']:.3f}."
    )


def _hyperparameter(value: Any) -> str:
    """A tuned value as a person reads it: 3 significant digits for a float (0.00123)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _tuning_section(tuning: Optional[Mapping[str, Any]]) -> str:
    """Each trial's validation mean IoU and values, best first, and what the Trainer used."""
    if not tuning:
        return page.note("No hyperparameter search in this run (--tune no, --reuse-tuning no).")
    best = tuning.get("best_hyperparameters")
    if not best:
        return page.note(
            "--reuse-tuning found no search result in this pipeline's metadata store: the Trainer "
            "trained with the config's values."
        )
    trials = tuning.get("trials") or []
    if tuning.get("source") == "search":
        how = (
            f"This run searched with {tuning.get('algorithm')} search: {len(trials)} of at most "
            f"{tuning.get('max_trials')} trials completed, {tuning.get('epochs_per_trial')} epoch(s) "
            "each (plus any fine-tuning epochs a trial chose)."
        )
    else:
        how = f"This run reused the latest search in the metadata store ({len(trials)} trials)."
    chosen = ", ".join(f"{name} {_hyperparameter(value)}" for name, value in best.items())
    text = (
        f"{how} Each trial trained the Trainer's recipe on the train split and was scored by its "
        "mean IoU on the validation split, at the epoch the Trainer would keep; the eval split "
        f"above was never seen. The Trainer trained with the best trial's values: {chosen}."
    )
    if not trials:
        return page.paragraph(text) + page.note("The search's per-trial results are not available.")
    names = list(dict.fromkeys(name for trial in trials for name in trial.get("values", {})))
    rows = [
        (
            f"{trial.get('number') or trial.get('trial_id')}"
            + (" (best)" if trial.get("values") == best else ""),
            _score(_number(trial.get("score"))),
            *(_hyperparameter(trial.get("values", {}).get(name, "")) for name in names),
        )
        for trial in trials
    ]
    return page.paragraph(text) + page.table(("trial", "validation mean IoU", *names), rows)


def _tflite_section(tflite: Optional[Mapping[str, Any]], class_names: Sequence[str]) -> str:
    """The phone model's variants beside the SavedModel (same eval split, same arithmetic), which
    one the gate chose and why, and where it went."""
    if not tflite:
        return page.note("No phone model was built in this run (--tflite no).")
    gate, saved = tflite.get("gate") or {}, tflite.get("saved_model") or {}
    rows = [
        (
            "SavedModel (TF Serving)",
            "",
            _percent(_number(saved.get("pixel_accuracy"))),
            _score(_number(saved.get("mean_iou"))),
            "",
            *map(_score, _per_class(saved.get("iou"), class_names)),
        )
    ]
    for variant, values in (tflite.get("variants") or {}).items():
        change = _number((values.get("change_against_saved_model") or {}).get("mean_iou"))
        rows.append(
            (
                f"TFLite {variant}" + (" (ships)" if variant == gate.get("shipped") else ""),
                f"{values.get('size_bytes', 0) / 2**20:.1f} MiB",
                _percent(_number(values.get("pixel_accuracy"))),
                _score(_number(values.get("mean_iou"))),
                "n/a" if change is None else f"{change:+.4f}",
                *map(_score, _per_class(values.get("iou"), class_names)),
            )
        )
    header = (
        "model",
        "size",
        "pixel accuracy",
        "mean IoU",
        "vs SavedModel",
        *(f"IoU {c}" for c in class_names),
    )
    push = (tflite.get("push") or {}).get("reason", "")
    where = (tflite.get("push") or {}).get("pushed_model")
    return (
        page.verdict(
            f"{str(gate.get('shipped', 'no variant')).upper()} SHIPS", "blessed" if gate else "unknown"
        )
        + page.paragraph(gate.get("reason", "The gate recorded no decision."))
        + page.paragraph(f"{push}: {where}" if where else push)
        + page.table(header, rows)
    )


def _slice_group(name: str) -> str:
    """The feature a slice is cut on: 'species' for 'species=Cat'."""
    return name.split("=", 1)[0] if "=" in name else "other"


def _ordered_slices(slices: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """Species first, then breeds, then other features; best mean IoU first within each."""

    def key(item: tuple[str, Mapping[str, Any]]) -> tuple:
        name, values = item
        group = _slice_group(name)
        rank = SLICE_FEATURE_ORDER.index(group) if group in SLICE_FEATURE_ORDER else len(SLICE_FEATURE_ORDER)
        mean_iou = _number(values.get("mean_iou"))
        return rank, group, mean_iou is None, -(mean_iou or 0.0), name

    return sorted(slices.items(), key=key)


def _slices_section(
    directory: str,
    slices: Mapping[str, Mapping[str, Any]],
    overall: Mapping[str, Any],
    class_names: Sequence[str],
) -> str:
    """Slice chart and table, or why there are none."""
    if not slices:
        return page.note("The metrics hold no slices: no per-slice results.")
    ordered = _ordered_slices(slices)
    rows = [
        (
            name,
            _percent(_number(values.get("pixel_accuracy"))),
            _score(_number(values.get("mean_iou"))),
            *map(_score, _per_class(values.get("iou"), class_names)),
        )
        for name, values in ordered
    ]
    header = ("slice", "pixel accuracy", "mean IoU", *(f"IoU {name}" for name in class_names))
    table = page.table(header, rows)
    charted = [
        (name, iou) for name, values in ordered if (iou := _number(values.get("mean_iou"))) is not None
    ]
    if not charted:
        return page.note("No slice has a mean IoU: no chart.") + table
    charts.plot_slices(
        os.path.join(directory, SLICES_CHART),
        [name for name, _ in charted],
        [value for _, value in charted],
        [_slice_group(name) for name, _ in charted],
        _number(overall.get("mean_iou")),
    )
    return page.image(SLICES_CHART, "mean IoU per slice") + table


def _file_stems(names: Sequence[str]) -> list[str]:
    """Safe, unique file names for samples: names come from data and may hold '/', spaces or repeats.

    Uniqueness ignores case, for case-insensitive file systems.
    """
    stems: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sample"
        stem, count = base, 1
        while stem.lower() in taken:
            count += 1
            stem = f"{base}-{count}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def _caption(name: str, accuracy: float, mean_iou: Optional[float], separator: str) -> str:
    """A sample's name and its own scores, for titles and links."""
    return separator.join((name, f"pixel accuracy {_percent(accuracy)}", f"mean IoU {_score(mean_iou)}"))


def _samples_section(directory: str, samples: Sequence[Sample], class_names: Sequence[str]) -> str:
    """One overlay figure per sample, the contact sheet, and links to each figure."""
    if not samples:
        return page.note("No samples were given: no overlays.")
    os.makedirs(os.path.join(directory, OVERLAY_DIR))
    scores = [image_scores(sample.truth, sample.prediction, len(class_names)) for sample in samples]
    links = []
    for sample, (accuracy, sample_iou), stem in zip(samples, scores, _file_stems([s.name for s in samples])):
        relative = f"{OVERLAY_DIR}/{stem}.png"
        caption = _caption(sample.name, accuracy, sample_iou, " · ")
        charts.plot_sample(
            os.path.join(directory, relative),
            sample.image,
            sample.truth,
            sample.prediction,
            caption,
            class_names,
        )
        links.append((caption, relative))
    rows = [
        (sample.image, sample.truth, sample.prediction, _caption(sample.name, accuracy, mean_iou, "\n"))
        for sample, (accuracy, mean_iou) in zip(samples[:MAX_CONTACT_ROWS], scores)
    ]
    charts.plot_contact_sheet(os.path.join(directory, CONTACT_SHEET), rows, class_names)
    shown = (
        f"The first {MAX_CONTACT_ROWS} of {len(samples)} samples; all are linked below."
        if len(samples) > MAX_CONTACT_ROWS
        else "Input, truth and prediction per sample."
    )
    return (
        page.paragraph(shown)
        + page.image(CONTACT_SHEET, "samples: input, truth, prediction")
        + page.links(links)
    )


def _files_under(directory: str) -> list[str]:
    """Relative paths (with '/') of every file written so far, sorted."""
    found = []
    for root, _, files in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, name), directory).replace(os.sep, "/") for name in files]
    return sorted(found)
