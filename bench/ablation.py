"""`make bench-ablation`: which parts of the training recipe earn their place, measured over seeds.

Every row trains from scratch (no ImageNet weights offline) on the same data at the same epochs
and (except the `-b8` rows) batch size, once per seed, and is scored on eval images that no row
ever trains or stops on:
- `plain`: the old recipe (flip only, cross-entropy, constant learning rate, no class offsets);
- one row per option, each alone on top of `plain`: scale/crop/shift, colour jitter,
  cross-entropy + Dice, focal loss, balanced class weights, warm-up + cosine, the same schedule at
  a 5x higher peak rate, reduce-on-plateau, class offsets fitted on validation after training;
- `default`: the Trainer's current defaults (trainer/settings.py), the recipe picked from
  this table;
- `default-unbalanced` and `default-uncalibrated`: the defaults without balanced class
  weights, and without the class offsets fitted after training, to show what each adds on top
  of the rest of the recipe (see README "Results");
- `default-flip-tta`: the defaults with `--flip-tta yes`: the shipped model averages its
  logits on each image and on its mirror image (trainer/models/flip_average.py), twice the
  inference cost for no training change;
- `tutorial`: the tutorial's own code (bench/tutorial_port.py) in its best variant without
  ImageNet weights: encoder trainable, BatchNorm momentum 0.9, masks resized nearest;
- `tutorial-b8`, `default-b8`, `default-flip-tta-b8`: the same at batch 8 (what `make demo`
  trains at) instead of the sizes' 16, and `tutorial-b4`, `default-b4` at batch 4. On 2 cores an
  epoch costs about the same at each, and the tutorial's code gains more from the extra steps, so
  the margin target is judged against whichever tutorial row scores higher
  (`best_tutorial_row`);
- `fcn8`: `--model fcn8` with the default recipe, for the U-Net/FCN-8s table.

`--demo-scale` runs only the tutorial rows and the rows the targets are judged on (TARGET_ROWS)
at `make demo`'s sizes (128 px, the tutorial's resolution, 600 images, 10
epochs): the issue's targets where the demo's figures come from.

Splits, as the pipeline makes them: train = TFDS `train[:90%]` (fits), validation =
`train[90%:]` (early stopping and the epoch kept), eval = TFDS `test` of the same drawing and,
to check that a gain is not a quirk of the built-in generator, `test` of the "alternate" style
drawn from another seed (datagen/synthetic_pets.py). The tutorial trains on all of TFDS `train`
as it does, and runs every epoch (it has no early stopping).

Each (row, seed) result is cached under bench/results/tmp/ keyed by its settings, sizes and a
digest of the code that trains and scores it (RECIPE_CODE), so after a change of defaults only
the rows it touches run again. The U-Net/FCN-8s table adds parameters, forward GFLOPs per
image (TF's profiler) and steady training images/s (bench/step_timer.py, first epoch left
out), all from this run.

The console shows one line per (row, seed) with how far along the run is; Keras's epoch lines and
the libraries' logs go to bench/results/tmp/<stem>.log (pipeline/console.py), which the first
line names.
"""

import argparse
import dataclasses
import functools
import glob
import hashlib
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, TextIO, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
import tf_keras as keras

from bench import tutorial_port
from bench.ceiling import profiler_flops
from bench.common import (
    DATASET,
    DATASET_VERSION,
    ENCODER_WEIGHTS,
    NUM_CLASSES,
    REPO_ROOT,
    RESULTS_DIR,
    SCRATCH_DIR,
    machine_snapshot,
    write_json,
)
from bench.data import resized_arrays
from bench.evaluation import score
from bench.step_timer import StepTimer, batch_sizes, warmup_steps
from components.shared.atomic import write_file
from components.tfds_example_gen.tfds_source import prepare
from datagen.synthetic_pets import write_dataset
from pipeline.console import captured_output
from trainer.models import inference_model
from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
from trainer.task import fit_model, make_reproducible

TRAIN_SPLIT, VALIDATION_SPLIT, EVAL_SPLIT = "train[:90%]", "train[90%:]", "test"
# The data of the cross-style check: another generator style and seed, never trained on.
SHIFTED_STYLE, SHIFTED_SEED = "alternate", 7
# The code a row's result depends on besides its settings (which its cache key holds in full):
# the Trainer's recipe and models, the data generator, the tutorial's port and the scoring
# A change to this module's own training functions needs `rm -r bench/results/tmp/ablation-cache`.
RECIPE_CODE = (
    "trainer/calibration.py",
    "trainer/data.py",
    "trainer/losses.py",
    "trainer/scores.py",
    "trainer/schedules.py",
    "trainer/stopping.py",
    "trainer/task.py",
    "trainer/models/*.py",
    "datagen/synthetic_pets.py",
    "bench/data.py",
    "bench/evaluation.py",
    "bench/tutorial_port.py",
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """One ablation's sizes and rows: FULL (every row), DEMO_SCALE (the tutorial rows against the
    target rows, at `make demo`'s sizes) and QUICK (a smoke run); `duration` says how long each
    takes."""

    name: str
    n_train: int
    n_eval: int
    image_size: int
    epochs: int
    batch_size: int
    seeds: Tuple[int, ...]
    only: Optional[Tuple[str, ...]] = None  # the rows it runs; None = every row
    published: bool = False  # its results are the README's (bench/results/), not scratch
    flag: str = ""  # this module's command-line flag that selects it
    duration: str = ""  # a run with an empty cache on 2 cores, as measured on the CPUs tried

    @property
    def results_dir(self) -> str:
        return RESULTS_DIR if self.published else os.path.join(SCRATCH_DIR, self.name)

    @property
    def command(self) -> str:
        """The command that writes these sizes' results."""
        return f"make bench-ablation BENCH_ABLATION_FLAGS={self.flag}" if self.flag else "make bench-ablation"

    def at_batch(self, batch_size: Optional[int]) -> "Sizes":
        """These sizes at another batch size (None: unchanged), for a row that sets its own."""
        return self if batch_size is None else dataclasses.replace(self, batch_size=batch_size)

    def cache_key(self) -> Dict[str, Any]:
        """What a row's result depends on among these sizes: not which rows run or where the
        results go, so that adding a row or a seed keeps every other row's cached result."""
        return {
            "n_train": self.n_train,
            "n_eval": self.n_eval,
            "image_size": self.image_size,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
        }

    @property
    def stem(self) -> str:
        """The results' file name without extension: ablation, or ablation-<name> beside it."""
        return "ablation" if self.name == "full" else f"ablation-{self.name}"


# The batch sizes of the rows that test how the comparison depends on it (the ablation's own is
# 16): on 2 CPU cores an epoch at batch 8 or 4 takes about as long as at 16 (two or four times the
# steps), the tutorial's code scores higher at each smaller batch and the recipe at 8 but not
# below, so `make demo` trains at 8 and the margin is judged against the tutorial's best batch
# size (README "Results").
DEMO_BATCH, SMALLEST_BATCH = 8, 4


def at_batch_size(row: str, batch_size: int) -> str:
    """The name of a row's variant at another batch size than the ablation's."""
    return f"{row}-b{batch_size}"


# The tutorial's code at every batch size the ablation tries: the margin target is judged against
# the best of them (`best_tutorial_row`).
TUTORIAL_ROWS = ("tutorial", at_batch_size("tutorial", DEMO_BATCH), at_batch_size("tutorial", SMALLEST_BATCH))
# The rows the targets are judged on: the defaults, with and without the test-time flip,
# at the ablation's batch size and the demo's, and the defaults at the smallest batch.
TARGET_ROWS = (
    "default",
    "default-flip-tta",
    at_batch_size("default", DEMO_BATCH),
    at_batch_size("default-flip-tta", DEMO_BATCH),
    at_batch_size("default", SMALLEST_BATCH),
)

FULL = Sizes(
    "full",
    n_train=320,
    n_eval=200,
    image_size=96,
    epochs=8,
    batch_size=16,
    seeds=(0, 1, 2),
    published=True,
    duration="60 to 95 minutes",
)
# `make demo`'s sizes (600 images, 128 px as in the tutorial, 10 epochs; its batch 8 in the `-b8`
# rows, 16 as in FULL in the others): the targets measured where the demo's figures come
# from, for the rows they compare.
DEMO_SCALE = Sizes(
    "demo-scale",
    n_train=600,
    n_eval=200,
    image_size=128,
    epochs=10,
    batch_size=16,
    seeds=(0, 1, 2),
    only=(*TUTORIAL_ROWS, *TARGET_ROWS),
    published=True,
    flag="--demo-scale",
    duration="70 to 110 minutes",
)
QUICK = Sizes(
    "quick",
    n_train=24,
    n_eval=8,
    image_size=32,
    epochs=1,
    batch_size=8,
    seeds=(0, 1),
    flag="--quick",
    duration="minutes",
)

# The old recipe, every setting the defaults have since changed pinned to its old value.
PLAIN = {
    "augment": "flip",
    "augment_strength": 1.0,
    "loss": "cross_entropy",
    "balance_classes": False,
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "warmup_epochs": 1,
    "calibrate_classes": False,
}
# Each option alone on top of PLAIN: (row, what it changes, training overrides).
OPTIONS = (
    ("geometric", "scale, crop and shift (image and mask together)", {"augment": "geometric"}),
    ("color", "brightness, contrast and saturation jitter", {"augment": "color"}),
    ("dice", "cross-entropy + soft Dice loss", {"loss": "cross_entropy_dice"}),
    ("focal", "focal loss (gamma 2)", {"loss": "focal"}),
    ("balanced", "median-frequency class weights", {"balance_classes": True}),
    ("cosine", "1 warm-up epoch, then cosine decay", {"lr_schedule": "cosine"}),
    (
        "fast-cosine",
        "peak rate 5e-3 (not 1e-3), 2 warm-up epochs, then cosine decay",
        {"learning_rate": 5e-3, "lr_schedule": "cosine", "warmup_epochs": 2},
    ),
    ("plateau", "halve the rate when validation mean IoU stalls 2 epochs", {"lr_schedule": "plateau"}),
    (
        "calibrated",
        "class offsets fitted on validation after training",
        {"calibrate_classes": True},
    ),
)


@dataclasses.dataclass
class Data:
    train: Tuple[np.ndarray, np.ndarray]
    validation: Tuple[np.ndarray, np.ndarray]
    evals: Dict[str, Tuple[np.ndarray, np.ndarray]]  # "same style" and "other style"
    builder: tfds.core.DatasetBuilder


def _builder(root: str, sizes: Sizes, seed: int, style: str) -> tfds.core.DatasetBuilder:
    """TFDS's oxford_iiit_pet builder over a generated dataset (written and prepared once)."""
    data_dir = os.path.join(root, "data")
    marker = os.path.join(data_dir, "ablation_dataset.json")
    wanted = {"n_train": sizes.n_train, "n_test": sizes.n_eval, "seed": seed, "style": style}
    written = None
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            written = json.load(handle)
    if written != wanted:
        write_dataset(data_dir, sizes.n_train, sizes.n_eval, seed=seed, style=style)
        with open(marker, "w", encoding="utf-8") as handle:
            json.dump(wanted, handle)
    prepared = prepare(DATASET, DATASET_VERSION, os.path.join(root, "tfds"), local_dir=data_dir)
    return tfds.builder_from_directory(prepared.builder_dir)


def load_data(sizes: Sizes) -> Data:
    work = os.path.join(SCRATCH_DIR, f"ablation-{sizes.name}")
    builder = _builder(os.path.join(work, "default"), sizes, 0, "default")
    shifted = _builder(os.path.join(work, SHIFTED_STYLE), sizes, SHIFTED_SEED, SHIFTED_STYLE)
    size = sizes.image_size
    return Data(
        train=resized_arrays(builder, TRAIN_SPLIT, size),
        validation=resized_arrays(builder, VALIDATION_SPLIT, size),
        evals={
            "same style": resized_arrays(builder, EVAL_SPLIT, size),
            "other style": resized_arrays(shifted, EVAL_SPLIT, size),
        },
        builder=builder,
    )


def row_settings(sizes: Sizes, model: str, training: Dict[str, Any], seed: int) -> TrainerSettings:
    """The Trainer's settings of one row: its defaults, the row's changes, the ablation's sizes."""
    return TrainerSettings(
        model=ModelSettings(name=model, image_size=sizes.image_size, encoder_weights=ENCODER_WEIGHTS),
        training=TrainingSettings(
            **{**training, "epochs": sizes.epochs, "batch_size": sizes.batch_size, "seed": seed}
        ),
        dataset=DATASET,
    )


def _scores(model: keras.Model, data: Data) -> Dict[str, Dict[str, Any]]:
    return {name: score(model, images, masks) for name, (images, masks) in data.evals.items()}


def train_trainer_row(settings: TrainerSettings, data: Data) -> Dict[str, Any]:
    """The Trainer's own fit (trainer.task.fit_model) with the row's settings, then scored."""
    keras.backend.clear_session()
    make_reproducible(settings.training)
    timer = StepTimer()
    started = time.perf_counter()
    model, history = fit_model(settings, data.train, data.validation, NUM_CLASSES, observers=[timer])
    seconds = time.perf_counter() - started
    steps = -(-len(data.train[0]) // settings.training.batch_size)
    return {
        "fit_seconds": seconds,
        "epochs_run": len(history["metrics"]["loss"]),
        "kept_epoch": history["kept_epoch"],
        "class_weights": history["class_weights"],
        "timing": timer.summary(
            batch_sizes(len(data.train[0]), settings.training.batch_size),
            warmup_steps(steps, len(history["metrics"]["loss"])),
        ),
        "parameters": int(model.count_params()),
        "forward_flops_per_image": profiler_flops(model, settings.model.image_size),
        "scores": _scores(inference_model(model, settings.training.flip_tta), data),
    }


def train_tutorial_row(sizes: Sizes, seed: int, data: Data) -> Dict[str, Any]:
    """The tutorial's code, best variant without ImageNet weights, at the ablation's epochs."""
    keras.backend.clear_session()
    # Seeded and deterministic like the Trainer's rows, so that its seeds repeat too: the
    # tutorial's unseeded shuffle takes its seed from the global one at creation.
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tutorial = tutorial_port.input_pipelines(
        data.builder, sizes.image_size, sizes.batch_size, tutorial_port.MASK_RESIZE_FIXED
    )
    model = tutorial_port.compiled_model(sizes.image_size, seed, bn_momentum=0.9)
    started = time.perf_counter()
    tutorial_port.fit(model, tutorial, sizes.epochs, [])
    return {
        "fit_seconds": time.perf_counter() - started,
        "epochs_run": sizes.epochs,
        "kept_epoch": sizes.epochs,
        "scores": _scores(model, data),
    }


def _cache_path(key: Dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return os.path.join(SCRATCH_DIR, "ablation-cache", f"{digest}.json")


def cached_run(key: Dict[str, Any], code: str, train) -> Dict[str, Any]:
    """The row's result from the cache when its key (settings, sizes, code) is unchanged."""
    path = _cache_path({**key, "code": code})
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            return {**json.load(handle), "cached": True}
    result = train()
    write_json(path, result)
    return {**result, "cached": False}


def code_fingerprint() -> str:
    """sha256 over RECIPE_CODE's files: what a row's result depends on besides its settings."""
    digest = hashlib.sha256()
    for pattern in RECIPE_CODE:
        for path in sorted(glob.glob(os.path.join(REPO_ROOT, pattern))):
            digest.update(os.path.relpath(path, REPO_ROOT).encode() + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


class Row(NamedTuple):
    """One line of the table: what trains, and how it differs from the defaults."""

    name: str
    model: str
    what: str
    training: Optional[Dict[str, Any]]  # overrides of the Trainer's defaults; None = the tutorial
    batch_size: Optional[int] = None  # None: the sizes' batch size


def at_smaller_batch(row: Row, what: str, batch_size: int) -> Row:
    """`row` at another batch size than the ablation's, described as `what` at that batch."""
    name = at_batch_size(row.name, batch_size)
    return row._replace(
        name=name, what=f"{what} at batch {batch_size} (not the ablation's)", batch_size=batch_size
    )


def rows() -> List[Row]:
    """Every row, in table order."""
    tutorial = Row("tutorial", "unet", "tutorial code, encoder trainable, BN momentum 0.9", None)
    default = Row("default", "unet", f"the Trainer's defaults: {describe_defaults()}", {})
    flip = Row(
        "default-flip-tta",
        "unet",
        "the defaults with --flip-tta yes (each image and its mirror image, logits averaged)",
        {"flip_tta": True},
    )
    result = [
        tutorial,
        at_smaller_batch(tutorial, "the tutorial's code", DEMO_BATCH),
        at_smaller_batch(tutorial, "the tutorial's code", SMALLEST_BATCH),
        Row("plain", "unet", "flip, cross-entropy, constant rate (the old recipe)", dict(PLAIN)),
    ]
    result += [Row(name, "unet", what, {**PLAIN, **change}) for name, what, change in OPTIONS]
    result += [
        default,
        Row(
            "default-unbalanced", "unet", "the defaults with --balance-classes no", {"balance_classes": False}
        ),
        Row(
            "default-uncalibrated",
            "unet",
            "the defaults with --calibrate-classes no",
            {"calibrate_classes": False},
        ),
        flip,
        at_smaller_batch(default, "the defaults", DEMO_BATCH),
        at_smaller_batch(flip, "the defaults with --flip-tta yes", DEMO_BATCH),
        at_smaller_batch(default, "the defaults", SMALLEST_BATCH),
        Row("fcn8", "fcn8", "--model fcn8 with the Trainer's defaults", {}),
    ]
    return result


def describe_defaults() -> str:
    defaults = TrainingSettings()
    return (
        f"augment {defaults.augment} (strength {defaults.augment_strength:g}), loss {defaults.loss}, "
        f"balance_classes {'yes' if defaults.balance_classes else 'no'}, "
        f"learning_rate {defaults.learning_rate:g} {defaults.lr_schedule} "
        f"({defaults.warmup_epochs} warm-up epochs), "
        f"calibrate_classes {'yes' if defaults.calibrate_classes else 'no'}"
    )


def summarise(runs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Mean and spread (max - min over seeds) of mean IoU and border IoU on each eval set."""
    result: Dict[str, Any] = {}
    for name in runs[0]["scores"]:
        mean_iou = [run["scores"][name]["mean_iou"] for run in runs]
        border = [run["scores"][name]["iou"]["border"] for run in runs]
        result[name] = {
            "mean_iou": statistics.fmean(mean_iou),
            "mean_iou_spread": max(mean_iou) - min(mean_iou),
            "border_iou": statistics.fmean(border),
            "border_iou_spread": max(border) - min(border),
            "per_seed_mean_iou": mean_iou,
        }
    return result


def ablation_table(result: Dict[str, Any]) -> str:
    """Markdown: one line per row, eval mean IoU and border IoU (mean ± spread) on both eval sets."""
    lines = [
        "| row | what | eval mean IoU | border IoU | other-style mean IoU | other-style border IoU "
        "| kept epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        same, other = row["summary"]["same style"], row["summary"]["other style"]
        lines.append(
            f"| {name} | {row['what']} | {same['mean_iou']:.3f} ± {same['mean_iou_spread']:.3f} "
            f"| {same['border_iou']:.3f} ± {same['border_iou_spread']:.3f} "
            f"| {other['mean_iou']:.3f} ± {other['mean_iou_spread']:.3f} "
            f"| {other['border_iou']:.3f} ± {other['border_iou_spread']:.3f} "
            f"| {', '.join(str(run['kept_epoch']) for run in row['runs'])} |"
        )
    return "\n".join(lines)


def model_table(result: Dict[str, Any]) -> str:
    """Markdown: U-Net against FCN-8s, both with the default recipe."""
    lines = [
        "| model | parameters | forward GFLOPs / image | training images/s | eval mean IoU | border IoU |",
        "|---|---|---|---|---|---|",
    ]
    for name, label in (("default", "U-Net (MobileNetV2)"), ("fcn8", "FCN-8s (MobileNetV2)")):
        row = result["rows"][name]
        first = row["runs"][0]
        speed = statistics.median(run["timing"]["steady_images_per_second"] for run in row["runs"])
        same = row["summary"]["same style"]
        lines.append(
            f"| {label} | {first['parameters']:,} | {first['forward_flops_per_image'] / 1e9:.2f} "
            f"| {speed:.1f} | {same['mean_iou']:.3f} ± {same['mean_iou_spread']:.3f} "
            f"| {same['border_iou']:.3f} |"
        )
    return "\n".join(lines)


def best_tutorial_row(result: Dict[str, Any]) -> Optional[str]:
    """The tutorial's best variant in this run: the tutorial row with the highest eval mean IoU
    (the issue judges the margin against the best the tutorial's code can do); None when no
    tutorial row ran, and so no target can be judged."""
    tutorials = [name for name in TUTORIAL_ROWS if name in result["rows"]]
    if not tutorials:
        return None
    return max(tutorials, key=lambda name: result["rows"][name]["summary"]["same style"]["mean_iou"])


def targets(result: Dict[str, Any], row: str = "default") -> Dict[str, Any]:
    """The issue's targets for one row (the default recipe by default), each with its measured
    value and verdict; the margin is over the tutorial's best variant in the same run."""
    measured = result["rows"][row]["summary"]["same style"]
    tutorial_row = best_tutorial_row(result)
    if tutorial_row is None:
        raise ValueError("no tutorial row in the result: the margin has nothing to be judged against")
    margin = measured["mean_iou"] - result["rows"][tutorial_row]["summary"]["same style"]["mean_iou"]
    return {
        "mean_iou_margin_over_tutorial": {
            "value": margin,
            "target": 0.15,
            "met": margin >= 0.15,
            "tutorial_row": tutorial_row,
        },
        "border_iou": {
            "value": measured["border_iou"],
            "target": 0.45,
            "met": measured["border_iou"] >= 0.45,
        },
        "seed_spread": {
            "value": measured["mean_iou_spread"],
            "target": 0.01,
            "met": measured["mean_iou_spread"] < 0.01,
        },
    }


def run(
    sizes: Sizes, only: Optional[Sequence[str]] = None, console: Optional[TextIO] = None
) -> Dict[str, Any]:
    """Trains (or reads from the cache) every selected row at every seed; the result `write`
    stores. Each run's scores go to `console` (standard output by default) as a line, counted
    against the whole run."""
    console = console or sys.stdout
    before = machine_snapshot()
    started = time.perf_counter()
    data = load_data(sizes)
    result: Dict[str, Any] = {
        "benchmark": "ablation",
        "sizes": dataclasses.asdict(sizes),
        "splits": {
            "train": f"TFDS {TRAIN_SPLIT} ({len(data.train[0])} images)",
            "validation": f"TFDS {VALIDATION_SPLIT} ({len(data.validation[0])} images)",
            "same style": f"TFDS {EVAL_SPLIT} ({len(data.evals['same style'][0])} images, seed 0)",
            "other style": f"TFDS {EVAL_SPLIT} of the {SHIFTED_STYLE} style, seed {SHIFTED_SEED} "
            f"({len(data.evals['other style'][0])} images)",
        },
        "defaults": describe_defaults(),
        "rows": {},
    }
    only = only or sizes.only
    selected = [row for row in rows() if not only or row.name in only]
    total, done = len(selected) * len(sizes.seeds), 0
    # Read once: every row's cache key and the result name the code as it was when the run began.
    code = code_fingerprint()
    for row in selected:
        row_sizes = sizes.at_batch(row.batch_size)
        runs = []
        for seed in sizes.seeds:
            if row.training is None:
                key = {"row": "tutorial", "sizes": row_sizes.cache_key(), "seed": seed}
                outcome = cached_run(key, code, functools.partial(train_tutorial_row, row_sizes, seed, data))
            else:
                settings = row_settings(row_sizes, row.model, row.training, seed)
                key = {"settings": settings.model_dump(), "sizes": row_sizes.cache_key()}
                outcome = cached_run(key, code, functools.partial(train_trainer_row, settings, data))
            runs.append({"seed": seed, **outcome})
            done += 1
            same = outcome["scores"]["same style"]
            source = "cached" if outcome["cached"] else f"trained in {outcome['fit_seconds']:.0f} s"
            print(
                f"[{done}/{total}] {row.name} seed {seed}: eval mean IoU {same['mean_iou']:.3f}, "
                f"border IoU {same['iou']['border']:.3f} ({source})",
                file=console,
                flush=True,
            )
        result["rows"][row.name] = {
            "what": row.what,
            "model": row.model,
            "batch_size": row_sizes.batch_size,
            "runs": runs,
            "summary": summarise(runs),
        }
    if best_tutorial_row(result) is not None:
        result["targets"] = {row: targets(result, row) for row in TARGET_ROWS if row in result["rows"]}
    result["machine"] = {"before": before, "after": machine_snapshot()}
    result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    result["code"] = code
    result["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return result


def write(result: Dict[str, Any], sizes: Sizes) -> str:
    """<stem>.json and <stem>.md (the README's tables) in the results directory."""
    write_json(os.path.join(sizes.results_dir, f"{sizes.stem}.json"), result)
    tables = [ablation_table(result)]
    if {"default", "fcn8"} <= set(result["rows"]):
        tables.append(model_table(result))
    write_file(os.path.join(sizes.results_dir, f"{sizes.stem}.md"), ("\n\n".join(tables) + "\n").encode())
    return "\n\n".join(tables)


def target_lines(result: Dict[str, Any]) -> List[str]:
    """One line per target of each judged row: measured value, target and verdict."""
    return [
        f"target {name} ({row}): {target['value']:.3f} (target {target['target']}) "
        + ("met" if target["met"] else "MISSED")
        + (f", over {target['tutorial_row']}" if "tutorial_row" in target else "")
        for row, row_targets in result.get("targets", {}).items()
        for name, target in row_targets.items()
    ]


def latest_tables(sizes: Sizes = FULL, results_dir: Optional[str] = None) -> Optional[str]:
    """The last ablation's tables and targets at these sizes, for `make bench` to print (an
    ablation takes its sizes' `duration`, so it is its own target), with whether the recipe's code has
    changed since; None when it never ran here."""
    results_dir = results_dir or sizes.results_dir
    json_path = os.path.join(results_dir, f"{sizes.stem}.json")
    tables_path = os.path.join(results_dir, f"{sizes.stem}.md")
    if not (os.path.isfile(json_path) and os.path.isfile(tables_path)):
        return None
    with open(json_path, encoding="utf-8") as handle:
        result = json.load(handle)
    with open(tables_path, encoding="utf-8") as handle:
        tables = handle.read().strip()
    recorded = result.get("code")
    freshness = (
        "the recipe's code is unchanged since"
        if recorded == code_fingerprint()
        else f"the recipe's code changed since: rerun `{sizes.command}`"
    )
    finished = result.get("finished", "date unknown")
    head = f"Training recipe ablation, {sizes.name} sizes (`{sizes.command}`, {finished}; {freshness}):"
    return "\n".join([head, "", tables, "", *target_lines(result)])


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        QUICK.flag, action="store_true", help=f"tiny sizes, 2 seeds: a smoke run of {QUICK.duration}"
    )
    scale.add_argument(
        DEMO_SCALE.flag,
        action="store_true",
        help="the tutorial against the defaults (without and with the test-time flip), at batch "
        f"16, 8 and 4, at make demo's sizes (600 images, 128 px, 10 epochs), 3 seeds: {DEMO_SCALE.duration}",
    )
    parser.add_argument("--only", nargs="+", metavar="ROW", help="run only these rows")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else DEMO_SCALE if args.demo_scale else FULL
    tf.get_logger().setLevel("ERROR")
    log_path = os.path.join(SCRATCH_DIR, f"{sizes.stem}.log")
    print(
        f"Training recipe ablation, {sizes.name} sizes; Keras's and the libraries' output goes to "
        f"{os.path.relpath(log_path, REPO_ROOT)}",
        flush=True,
    )
    with captured_output(log_path) as console:
        result = run(sizes, args.only, console)
    print()
    print(write(result, sizes))
    for line in target_lines(result):
        print(line)


if __name__ == "__main__":
    main()
