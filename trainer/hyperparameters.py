"""The Tuner's search space, and how its values become the Trainer's settings.

Each hyperparameter the Tuner can search (trainer/settings.py `HYPERPARAMETERS`) has its range
here (`SPACE`, which trainer/tuning.py turns into KerasTuner's HyperParameters) and sets one or
two fields of TrainingSettings (`apply_hyperparameters`):

    learning_rate     training.learning_rate      log-uniform in [1e-4, 1e-2]
    batch_size        training.batch_size         8, 16 or 32 (per replica)
    loss              training.loss               cross_entropy, cross_entropy_dice or focal
    class_weights     training.class_weights and  none: unweighted; balanced: median-frequency
                      training.balance_classes    weights from the train split (--balance-classes)
    augment_strength  training.augment_strength   0 to 2 in steps of 0.5
    fine_tune_epochs  training.fine_tune_epochs   0, 2 or 5
    fine_tune_from    training.fine_tune_from     block_16/13/10/6_expand

A tuned value replaces the config's value of the same setting; the others keep the config's.
The Trainer gets the Tuner's best values as a KerasTuner HyperParameters config (TFX's
`fn_args.hyperparameters`), whether from this run's Tuner or, with --reuse-tuning, from the
latest one in the metadata store. Imports no TensorFlow: the pipeline checks the settings with
it before a run starts.
"""

import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pydantic import ValidationError

from trainer.settings import (
    HYPERPARAMETERS,
    ModelSettings,
    SearchSettings,
    TrainerSettings,
    TrainingSettings,
)

FINE_TUNE_BLOCKS = ("block_16_expand", "block_13_expand", "block_10_expand", "block_6_expand")
CLASS_WEIGHTING = ("none", "balanced")
# name -> its range: {"float": (low, high), "sampling"/"step": ...} or {"choice": [values]}.
SPACE: Dict[str, Dict[str, Any]] = {
    "learning_rate": {"float": (1e-4, 1e-2), "sampling": "log"},
    "batch_size": {"choice": [8, 16, 32]},
    "loss": {"choice": ["cross_entropy", "cross_entropy_dice", "focal"]},
    "class_weights": {"choice": list(CLASS_WEIGHTING)},
    "augment_strength": {"float": (0.0, 2.0), "step": 0.5},
    "fine_tune_epochs": {"choice": [0, 2, 5]},
    "fine_tune_from": {"choice": list(FINE_TUNE_BLOCKS)},
}
FINE_TUNING = ("fine_tune_epochs", "fine_tune_from")
# KerasTuner's own entries in a trial's values (Hyperband's "tuner/epochs", ...): bookkeeping of
# the search, not settings of the model.
TUNER_PREFIX = "tuner/"


class HyperparameterError(ValueError):
    """Hyperparameter values the Trainer cannot apply (an unknown name, a value out of range)."""


def encoder_frozen(model: ModelSettings) -> bool:
    """Whether the encoder starts frozen, which fine-tuning needs (auto: frozen when pretrained)."""
    if model.freeze_encoder is not None:
        return model.freeze_encoder
    return model.encoder_weights != "none"


def searched(search: SearchSettings, model: ModelSettings) -> List[str]:
    """The hyperparameters a search tries: the ones named, else every one that applies (the
    fine-tuning ones only with a frozen encoder), in HYPERPARAMETERS' order."""
    if search.hyperparameters:
        return [name for name in HYPERPARAMETERS if name in search.hyperparameters]
    return [name for name in HYPERPARAMETERS if encoder_frozen(model) or name not in FINE_TUNING]


def search_problem(search: SearchSettings, model: ModelSettings, training: TrainingSettings) -> Optional[str]:
    """Why the named hyperparameters cannot be searched with these settings, or None."""
    named = search.hyperparameters
    fine_tuning = [name for name in named if name in FINE_TUNING]
    if fine_tuning and not encoder_frozen(model):
        return (
            f"{', '.join(fine_tuning)} tune(s) the fine-tuning phase, which unfreezes a frozen "
            "encoder, but this encoder trains from the start (--encoder-weights none or "
            "--freeze-encoder no): leave them out"
        )
    if "fine_tune_from" in named and "fine_tune_epochs" not in named and not training.fine_tune_epochs:
        return (
            "fine_tune_from changes nothing without fine-tuning epochs: add fine_tune_epochs, "
            "or set --fine-tune-epochs"
        )
    return None


def values_of(config: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The values of a KerasTuner HyperParameters config ({"space": [...], "values": {...}}, what
    TFX hands the Trainer as fn_args.hyperparameters), without KerasTuner's own "tuner/..."
    entries; {} for None."""
    if config is None:
        return {}
    values = config.get("values") if isinstance(config, Mapping) else None
    if not isinstance(values, Mapping):
        raise HyperparameterError(
            "hyperparameters: expected a KerasTuner HyperParameters config "
            f"{{'space': [...], 'values': {{...}}}}; got {config!r}"
        )
    return {name: value for name, value in values.items() if not str(name).startswith(TUNER_PREFIX)}


def _updates(name: str, value: Any) -> Dict[str, Any]:
    """The TrainingSettings fields one hyperparameter sets."""
    if name == "class_weights":
        if value not in CLASS_WEIGHTING:
            raise HyperparameterError(
                f"hyperparameter class_weights: must be one of {', '.join(CLASS_WEIGHTING)}; got {value!r}"
            )
        return {"class_weights": [], "balance_classes": value == "balanced"}
    if isinstance(value, float) and not math.isfinite(value):
        raise HyperparameterError(f"hyperparameter {name}: must be a finite number; got {value!r}")
    return {name: value}


def apply_hyperparameters(
    settings: TrainerSettings, values: Mapping[str, Any]
) -> Tuple[TrainerSettings, Dict[str, Any]]:
    """The settings with the tuned values in place, and the fields they set ({field: value}).

    Raises HyperparameterError for a name the Trainer does not know (KerasTuner's "tuner/..."
    entries are skipped) or a value its setting refuses.
    """
    updates: Dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith(TUNER_PREFIX):
            continue
        if name not in HYPERPARAMETERS:
            raise HyperparameterError(
                f"hyperparameter {name!r}: unknown to this Trainer, which applies "
                f"{', '.join(HYPERPARAMETERS)} (was it tuned by another version of the pipeline?)"
            )
        updates.update(_updates(name, value))
    if not updates:
        return settings, {}
    try:
        training = TrainingSettings.model_validate({**settings.training.model_dump(), **updates})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise HyperparameterError(
            f"hyperparameter {field}: {first['msg']}; got {updates.get(field, first['input'])!r}"
        ) from None
    applied = {field: getattr(training, field) for field in updates}
    return settings.model_copy(update={"training": training}), applied
