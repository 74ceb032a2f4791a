"""The Trainer's own settings: which network it builds and how it fits it.

The Trainer owns this schema; the pipeline composes it with its other sections
(pipeline/config.py), and the settings travel to `run_fn` as `custom_config` and come back here
(`TrainerSettings`). Every field carries its command-line flag and help, so `segpipe` builds
its flags from the same declaration that types and checks the value. Imports no TensorFlow: the
command line reads it to answer `--help` in a second.
"""

import math
import os
from typing import Any, Dict, List, Literal, Optional, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.fields import FieldInfo

MODEL_NAMES = ("unet", "fcn8")
ENCODER_WEIGHTS = ("imagenet", "none")
AUTO = "auto"


def flag(name: str, metavar: Optional[str] = None, shown_default: Optional[str] = None) -> Dict[str, Any]:
    """A field's command-line flag, for Field(json_schema_extra): the placeholder its help shows,
    and how its default reads where the stored value means something else (empty = OUTPUT/...)."""
    return {"flag": name, "metavar": metavar, "shown_default": shown_default}


def flag_of(field: FieldInfo) -> Dict[str, Any]:
    """What `flag` put in a field's json_schema_extra."""
    return cast(Dict[str, Any], field.json_schema_extra or {})


class Section(BaseModel):
    """One section of settings: unknown keys are errors, assignments are checked, and a number
    is never a boolean in disguise (YAML reads `yes` as true; `epochs: yes` must not mean 1)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        annotation: Any = cls.model_fields[str(info.field_name)].annotation
        if isinstance(value, bool) and annotation in (int, float):
            raise ValueError("expected a number, not yes/no")
        return value


def _auto_is_none(value: Any) -> Any:
    """'auto' (from a flag or a file) means: let the Trainer decide, i.e. None."""
    return None if isinstance(value, str) and value.strip().lower() == AUTO else value


class ModelSettings(Section):
    """Which network, at which resolution, with which encoder weights."""

    name: Literal["unet", "fcn8"] = Field(
        "unet", description="Segmentation network.", json_schema_extra=flag("--model")
    )
    image_size: int = Field(
        128,
        description="Side of the square model input, in pixels.",
        json_schema_extra=flag("--image-size", "PIXELS"),
    )
    encoder_weights: str = Field(
        "imagenet",
        description="MobileNetV2 encoder weights: imagenet, none, or a weights file.",
        json_schema_extra=flag("--encoder-weights", "imagenet|none|FILE"),
    )
    freeze_encoder: Optional[bool] = Field(
        None,
        description="Freeze the encoder: yes, no, or auto (frozen with pretrained weights, "
        "trained from scratch otherwise).",
        json_schema_extra=flag("--freeze-encoder", "auto|yes|no"),
    )
    bn_momentum: Optional[float] = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="BatchNorm momentum of the encoder; auto = 0.9 when the "
        "encoder trains from scratch, Keras' 0.999 otherwise.",
        json_schema_extra=flag("--bn-momentum", "auto|M"),
    )

    _auto = field_validator("freeze_encoder", "bn_momentum", mode="before")(_auto_is_none)

    @field_validator("image_size")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value < 32 or value > 1024 or value % 32:
            raise ValueError("must be a multiple of 32 between 32 and 1024 (the encoder downsamples 32x)")
        return value

    @field_validator("encoder_weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        if value not in ENCODER_WEIGHTS and not os.path.isfile(value):
            raise ValueError("must be 'imagenet', 'none' or the path of an existing weights file")
        return value


class TrainingSettings(Section):
    """How the Trainer fits the model."""

    epochs: int = Field(
        10, ge=1, le=10_000, description="Training epochs.", json_schema_extra=flag("--epochs", "N")
    )
    batch_size: int = Field(
        32,
        ge=1,
        le=4096,
        description="Batch size per replica (global = this x replicas).",
        json_schema_extra=flag("--batch-size", "N"),
    )
    learning_rate: float = Field(
        5e-3,
        gt=0.0,
        le=1.0,
        description="Adam learning rate (the peak, with a warm-up + cosine schedule).",
        json_schema_extra=flag("--learning-rate", "LR"),
    )
    class_weights: List[float] = Field(
        default_factory=list,
        description="Per-pixel loss weights, one per class "
        "(pet,background,border), comma-separated; empty = unweighted.",
        json_schema_extra=flag("--class-weights", "W,W,W"),
    )
    early_stopping_patience: int = Field(
        3,
        ge=0,
        le=10_000,
        description="Epochs without validation mean-IoU gain before stopping (with the cosine "
        "schedule, not before its rate has fallen to half the peak); 0 = off.",
        json_schema_extra=flag("--early-stopping-patience", "N"),
    )
    augment: Literal["flip", "geometric", "color", "full"] = Field(
        "full",
        description="Training augmentation, image and mask together: flip (the tutorial's); "
        "geometric (flip, random scale, crop and shift); color (flip, brightness, contrast, "
        "saturation); full (all).",
        json_schema_extra=flag("--augment"),
    )
    augment_strength: float = Field(
        0.5,
        ge=0.0,
        le=2.0,
        description="Scales every augmentation's range (1: scale ±25%, shift ±10%, colour ±20%).",
        json_schema_extra=flag("--augment-strength", "S"),
    )
    loss: Literal["cross_entropy", "cross_entropy_dice", "focal"] = Field(
        "cross_entropy_dice",
        description="Training loss: per-pixel cross-entropy, plus soft Dice, or focal.",
        json_schema_extra=flag("--loss"),
    )
    focal_gamma: float = Field(
        2.0, ge=0.0, le=10.0, description="Focal loss's gamma.", json_schema_extra=flag("--focal-gamma", "G")
    )
    balance_classes: bool = Field(
        True,
        description="Weight each pixel's loss by its class's rarity in the train split (median "
        "frequency balancing, so the thin border class counts); --class-weights replace it.",
        json_schema_extra=flag("--balance-classes", "yes|no"),
    )
    lr_schedule: Literal["constant", "cosine", "plateau"] = Field(
        "cosine",
        description="Learning rate over training: constant; cosine decay after a linear warm-up; "
        "halved when validation mean IoU stops improving.",
        json_schema_extra=flag("--lr-schedule"),
    )
    warmup_epochs: int = Field(
        2,
        ge=0,
        le=100,
        description="Warm-up epochs of the cosine schedule.",
        json_schema_extra=flag("--warmup-epochs", "N"),
    )
    calibrate_classes: bool = Field(
        True,
        description="After training, add to each class's logit the offset that maximises mean IoU "
        "on the validation split (the balanced class weights over-predict the rare classes); "
        "folded into the output layer's bias.",
        json_schema_extra=flag("--calibrate-classes", "yes|no"),
    )
    flip_tta: bool = Field(
        False,
        description="Test-time flip: the exported model (and so the Evaluator, the phone model and "
        "segpipe predict) averages the logits of each image and of its mirror image; twice the "
        "inference cost.",
        json_schema_extra=flag("--flip-tta", "yes|no"),
    )
    deterministic: bool = Field(
        True,
        description="Deterministic TensorFlow ops, so the same seed and data give the same model "
        "(a little slower; see make bench).",
        json_schema_extra=flag("--deterministic", "yes|no"),
    )
    fine_tune_epochs: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Extra epochs with the encoder unfrozen from --fine-tune-from.",
        json_schema_extra=flag("--fine-tune-epochs", "N"),
    )
    fine_tune_from: str = Field(
        "block_13_expand",
        min_length=1,
        description="First encoder layer to unfreeze in the fine-tuning phase.",
        json_schema_extra=flag("--fine-tune-from", "LAYER"),
    )
    fine_tune_learning_rate: float = Field(
        1e-4,
        gt=0.0,
        le=1.0,
        description="Learning rate of the fine-tuning phase.",
        json_schema_extra=flag("--fine-tune-learning-rate", "LR"),
    )
    warm_start_from_blessed: bool = Field(
        False,
        description="Start from the latest blessed model's weights (what `segpipe retrain` does).",
        json_schema_extra=flag("--warm-start-from-blessed", "yes|no"),
    )
    warm_start: str = Field(
        "",
        description="Start from this previous model's weights (a Trainer model directory).",
        json_schema_extra=flag("--warm-start", "DIR"),
    )
    seed: int = Field(
        42,
        ge=0,
        le=2**31 - 1,
        description="Random seed of shuffling, augmentation and initialisation.",
        json_schema_extra=flag("--seed", "N"),
    )

    @field_validator("class_weights", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item for item in value.split(",") if item.strip()]
        return value

    @field_validator("class_weights")
    @classmethod
    def _positive(cls, value: List[float]) -> List[float]:
        if any(not (w > 0 and math.isfinite(w)) for w in value):
            raise ValueError("must be positive numbers")
        return value


# The hyperparameters the Tuner can search (trainer/hyperparameters.py defines their ranges and
# what each changes in TrainingSettings).
HYPERPARAMETERS = (
    "learning_rate",
    "batch_size",
    "loss",
    "class_weights",
    "augment_strength",
    "fine_tune_epochs",
    "fine_tune_from",
)
# Where the search's settings travel in the Tuner's custom_config, beside the Trainer's.
TUNING_KEY = "tuning"


class SearchSettings(Section):
    """Hyperparameter search: what the Tuner tries (with --tune yes), scored on the validation split."""

    hyperparameters: List[str] = Field(
        default_factory=list,
        description="Hyperparameters to search (repeatable, or comma-separated): "
        f"{', '.join(HYPERPARAMETERS)}; empty = every one that applies (the fine-tuning ones need a "
        "frozen pretrained encoder). A tuned value replaces the config's setting of that name "
        "(class_weights: none or balanced replaces --class-weights and --balance-classes).",
        json_schema_extra=flag("--tune-hyperparameters", "NAME[,NAME]", "all that apply"),
    )
    trials: int = Field(
        10,
        ge=1,
        le=1000,
        description="Trial budget: the most models the search trains.",
        json_schema_extra=flag("--tune-trials", "N"),
    )
    epochs: int = Field(
        3,
        ge=1,
        le=1000,
        description="Training epochs of each trial (hyperband: the most a trial gets), before any "
        "fine-tuning epochs; the Trainer still trains --epochs.",
        json_schema_extra=flag("--tune-epochs", "N"),
    )
    algorithm: Literal["random", "bayesian", "hyperband"] = Field(
        "random",
        description="Search algorithm (KerasTuner's oracles): random; bayesian (Gaussian process "
        "after random first trials); hyperband (many short trials, the best trained longer).",
        json_schema_extra=flag("--tune-algorithm"),
    )

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list):
            return [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _known(cls, value: List[str]) -> List[str]:
        unknown = [name for name in value if name not in HYPERPARAMETERS]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}: must be names from {', '.join(HYPERPARAMETERS)}")
        return list(dict.fromkeys(value))


class TrainerSettings(BaseModel):
    """What `run_fn` receives in custom_config: the model and training sections and the dataset."""

    model_config = ConfigDict(extra="forbid")
    model: ModelSettings
    training: TrainingSettings
    dataset: str

    @classmethod
    def from_custom_config(cls, custom_config: Dict[str, Any]) -> "TrainerSettings":
        """Rebuilds the settings from the Trainer's custom_config (extra keys, e.g. Vertex's
        ai_platform_* ones, belong to the orchestrator)."""
        return cls(**{key: custom_config[key] for key in cls.model_fields})

    def to_custom_config(self) -> Dict[str, Any]:
        return self.model_dump()
