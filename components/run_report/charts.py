"""The report's pictures: one function per PNG, each writing its file and closing its figure.

Every function takes plain numbers and arrays (no metrics dicts) so that it can be tested and
reused alone; `render` decides what to draw and what to skip. A value that is None is missing
(e.g. the IoU of a class absent from truth and prediction) and is drawn as such, never as zero.
Figures are drawn at 100 dpi with constrained layout, and legends sit outside the axes so that
they never hide data.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from serving.colors import CLASS_COLORS, overlay

DPI = 100
# Applied around all drawing by `render`: quieter axes, a readable default size.
STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "font.size": 9,
    "legend.frameon": False,
}
TRAIN_COLOR, VALIDATION_COLOR = "#0072B2", "#D55E00"
IOU_COLOR, DICE_COLOR = "#0072B2", "#9ECAE1"
BASELINE_COLOR = "#777777"
GROUP_COLORS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
# Overlay strength: enough colour to read the classes, enough image to see what they cover.
OVERLAY_ALPHA = 0.45
# (label, train key, validation key) per training-curve panel, in the Trainer's history.json
# names (Keras' val_ prefix: the validation split the Trainer picks its epoch on).
CURVE_PANELS = (
    ("loss", "loss", "val_loss"),
    ("pixel accuracy", "pixel_accuracy", "val_pixel_accuracy"),
    ("mean IoU", "mean_iou", "val_mean_iou"),
)


def plain(text: str) -> str:
    """Text that matplotlib shows as written: a `$` would otherwise start mathtext (or fail)."""
    return str(text).replace("$", r"\$")


def _save(fig: Figure, path: str) -> None:
    """Write the figure as PNG and free it, even when saving fails (pyplot keeps figures alive)."""
    try:
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)


def _bar_label(ax: plt.Axes, bars, values: Sequence[Optional[float]]) -> None:
    """Print each value above its bar; a missing value reads `n/a` at the axis."""
    ax.bar_label(bars, labels=["n/a" if v is None else f"{v:.3f}" for v in values], padding=2, fontsize=8)


def _heights(values: Sequence[Optional[float]]) -> list[float]:
    """Bar heights: a missing value draws no bar (its label says n/a)."""
    return [0.0 if v is None else v for v in values]


def plot_iou_per_class(
    path: str,
    class_names: Sequence[str],
    iou: Sequence[Optional[float]],
    dice: Sequence[Optional[float]],
    mean_iou: Optional[float],
) -> None:
    """IoU and Dice side by side per class, mean IoU as a line: which class drags the mean down."""
    fig = plt.figure(figsize=(max(5.5, 1.5 * len(class_names) + 2), 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(class_names))
    width = 0.38
    _bar_label(ax, ax.bar(x - width / 2, _heights(iou), width, color=IOU_COLOR, label="IoU"), iou)
    _bar_label(ax, ax.bar(x + width / 2, _heights(dice), width, color=DICE_COLOR, label="Dice"), dice)
    if mean_iou is not None:
        ax.axhline(
            mean_iou, color=BASELINE_COLOR, linestyle="--", linewidth=1.2, label=f"mean IoU {mean_iou:.3f}"
        )
    ax.set_xticks(x, [plain(name) for name in class_names])
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score (1 = perfect)")
    ax.set_title("IoU and Dice per class")
    fig.legend(loc="outside lower center", ncol=3)
    _save(fig, path)


def plot_confusion_matrix(path: str, class_names: Sequence[str], matrix: np.ndarray) -> None:
    """Rows normalised to 100 %: where each true class's pixels went, whatever the class sizes."""
    matrix = np.asarray(matrix, dtype=np.int64)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    n = len(class_names)
    fig = plt.figure(figsize=(1.3 * n + 2.6, 1.15 * n + 1.6), layout="constrained")
    ax = fig.add_subplot()
    picture = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, col), share in np.ndenumerate(shares):
        ax.text(
            col,
            row,
            f"{share:.1%}\n{matrix[row, col]:,}",
            ha="center",
            va="center",
            fontsize=9,
            color="white" if share > 0.6 else "black",
        )
    labels = [plain(name) for name in class_names]
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.spines[:].set_visible(False)
    ax.set_title("Confusion matrix (share of each true class)")
    fig.colorbar(picture, ax=ax, format=lambda value, _: f"{value:.0%}", shrink=0.85)
    _save(fig, path)


def _curve_panel(
    ax: plt.Axes,
    label: str,
    train: Sequence[float],
    validation: Sequence[float],
    kept_epoch: Optional[int],
    baseline: Optional[float],
) -> None:
    """One metric per epoch (epochs count from 1, as `kept_epoch` does in history.json)."""
    ax.set_title(label)
    if not train and not validation:
        ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color=BASELINE_COLOR)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.plot(range(1, len(train) + 1), train, color=TRAIN_COLOR, marker=".", label="train")
    ax.plot(range(1, len(validation) + 1), validation, color=VALIDATION_COLOR, marker=".", label="validation")
    if kept_epoch is not None:
        ax.axvline(kept_epoch, color="black", linestyle=":", linewidth=1, label=f"kept epoch ({kept_epoch})")
        if 1 <= kept_epoch <= len(validation):
            ax.plot(
                kept_epoch,
                validation[kept_epoch - 1],
                marker="o",
                markersize=8,
                markerfacecolor="none",
                color="black",
            )
    if baseline is not None:
        ax.axhline(
            baseline, color=BASELINE_COLOR, linestyle="--", linewidth=1.2, label="majority class (eval split)"
        )
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)


def plot_training_curves(
    path: str, curves: Mapping[str, Sequence[float]], kept_epoch: Optional[int], baseline: Mapping[str, float]
) -> None:
    """Loss, pixel accuracy and mean IoU per epoch: over- or under-fitting at a glance.

    `curves` holds history.json's metric lists (missing ones draw nothing); `baseline` the
    majority-class pixel_accuracy and mean_iou, drawn where the panel measures the same thing.
    """
    fig = plt.figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, len(CURVE_PANELS))
    for ax, (label, train_key, eval_key) in zip(axes, CURVE_PANELS):
        _curve_panel(
            ax,
            label,
            curves.get(train_key, []),
            curves.get(eval_key, []),
            kept_epoch,
            baseline.get(train_key),
        )
    legend: Dict[str, Any] = {}  # one entry per kind of line, from whichever panel has it
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(text, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=max(len(legend), 1))
    _save(fig, path)


def plot_slices(
    path: str,
    names: Sequence[str],
    mean_ious: Sequence[float],
    groups: Sequence[str],
    overall: Optional[float],
) -> None:
    """Mean IoU per slice as horizontal bars, in the given order from the top, coloured by group."""
    group_colors = {
        group: GROUP_COLORS[k % len(GROUP_COLORS)] for k, group in enumerate(dict.fromkeys(groups))
    }
    fig = plt.figure(figsize=(8, 0.26 * len(names) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, mean_ious, color=[group_colors[group] for group in groups], height=0.7)
    for row, value in zip(y, mean_ious):
        # Inside the bar end, where the reference line cannot cross it; past a bar too short to hold it.
        inside = value > 0.15
        ax.text(
            value - 0.01 if inside else value + 0.01,
            row,
            f"{value:.3f}",
            va="center",
            fontsize=7,
            ha="right" if inside else "left",
            color="white" if inside else "black",
        )
    if overall is not None:
        # Behind the bars: visible between them and past their ends, never over a label.
        ax.axvline(
            overall, color="black", linestyle="--", linewidth=1, zorder=0, label=f"overall {overall:.3f}"
        )
    ax.set_yticks(y, [plain(name) for name in names], fontsize=8)
    ax.set_ylim(len(names) - 0.4, -0.6)  # first slice at the top, no empty rows
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("mean IoU")
    ax.set_title("Mean IoU per slice")
    handles = [Patch(color=color, label=plain(group)) for group, color in group_colors.items()]
    fig.legend(
        handles=handles + ax.get_legend_handles_labels()[0], loc="outside lower center", ncol=len(handles) + 1
    )
    _save(fig, path)


def _class_legend(fig: Figure, class_names: Sequence[str]) -> None:
    """Colour key for the overlays, below the panels."""
    handles = [Patch(color=CLASS_COLORS[k] / 255, label=plain(name)) for k, name in enumerate(class_names)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))


def _sample_row(
    axes: Sequence[plt.Axes], image: np.ndarray, truth: np.ndarray, prediction: np.ndarray
) -> None:
    """Input, truth overlaid and prediction overlaid, same scale, no ticks."""
    pictures = (image, overlay(image, truth, OVERLAY_ALPHA), overlay(image, prediction, OVERLAY_ALPHA))
    for ax, picture in zip(axes, pictures):
        ax.imshow(picture, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])


def plot_sample(
    path: str,
    image: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    title: str,
    class_names: Sequence[str],
) -> None:
    """One sample: input | truth | prediction, titled with its own scores."""
    fig = plt.figure(figsize=(9, 3.7), layout="constrained")
    axes = fig.subplots(1, 3)
    _sample_row(axes, image, truth, prediction)
    for ax, label in zip(axes, ("input", "truth", "prediction")):
        ax.set_title(label)
    fig.suptitle(plain(title))
    _class_legend(fig, class_names)
    _save(fig, path)


def plot_contact_sheet(
    path: str, rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, str]], class_names: Sequence[str]
) -> None:
    """Several samples on one page, one row each (image, truth, prediction, row label at the left)."""
    fig = plt.figure(figsize=(9.5, 2.55 * len(rows) + 0.9), layout="constrained")
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for row_axes, (image, truth, prediction, label) in zip(axes, rows):
        _sample_row(row_axes, image, truth, prediction)
        row_axes[0].set_ylabel(plain(label), fontsize=8, rotation=0, ha="right", va="center")
    for ax, label in zip(axes[0], ("input", "truth", "prediction")):
        ax.set_title(label)
    _class_legend(fig, class_names)
    _save(fig, path)
