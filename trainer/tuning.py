"""The Tuner component's tuner_fn: KerasTuner searches the Trainer's own recipe.

TFX's Tuner (or, on Vertex AI, its Google Cloud extension) calls `tuner_fn(fn_args)` with the
same transformed train and validation splits the Trainer gets and a custom_config holding the
Trainer's settings plus the search's (`TUNING_KEY`: trainer/settings.py SearchSettings). Each
trial applies its values to the settings (trainer/hyperparameters.py, exactly as the Trainer
will), trains with `fit_model` (the Trainer's recipe: model, loss, class weights, augmentation,
early stopping, fine-tuning) for --tune-epochs epochs, and scores the epoch it would keep by its
validation mean IoU (`OBJECTIVE`). The eval split is never read: only the Evaluator sees it.
TFX writes the best trial's values (best_hyperparameters.txt, a KerasTuner HyperParameters
config) and every completed trial's score (tuner_results.json) into the Tuner's artifacts.

Algorithms are KerasTuner's oracles: random, bayesian (Gaussian process after random first
trials), hyperband (successive halving of the epochs; a promoted trial trains again from the
start for its larger budget, as nothing is checkpointed between trials). Every trial starts
from the same seed, so trials differ by their values only.

On Vertex AI several tuner workers run trials in parallel, one machine each (with its GPUs);
they ask a chief oracle for trials (KerasTuner's KERASTUNER_* environment, set by TFX's
extension). Nothing TensorFlow touches a device before a trial starts, so the chief oracle's
process, which runs no trial, leaves the GPUs to the tuner worker beside it; and a worker
ignores TF_CONFIG, which Vertex sets for the job's machines: trials are independent, not one
multi-worker training.
"""

import logging
import math
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from keras_tuner.engine.trial import TrialStatus
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from contract.datasets import dataset_facts
from contract.names import PROGRESS_LOGGER
from trainer import distribution
from trainer.data import load_split
from trainer.hyperparameters import SPACE, apply_hyperparameters, searched
from trainer.settings import TUNING_KEY, SearchSettings, TrainerSettings
from trainer.task import Split, fit_model, make_reproducible, warm_start_weights

OBJECTIVE = "val_mean_iou"  # Keras' name for the mean_iou metric on the validation data
PROJECT_NAME = "segpipe_tuning"
TUNER_ID_ENV = "KERASTUNER_TUNER_ID"  # KerasTuner's name for this tuner; TFX's extension sets it
HYPERBAND_FACTOR = 3

_log = logging.getLogger(PROGRESS_LOGGER)


def search_space(names: List[str]) -> keras_tuner.HyperParameters:
    """KerasTuner's HyperParameters for the named entries of SPACE."""
    space = keras_tuner.HyperParameters()
    for name in names:
        spec = SPACE[name]
        if "float" in spec:
            low, high = spec["float"]
            space.Float(name, low, high, step=spec.get("step"), sampling=spec.get("sampling", "linear"))
        else:
            space.Choice(name, spec["choice"])
    return space


def make_oracle(search: SearchSettings, space: keras_tuner.HyperParameters, seed: int) -> Any:
    """The search algorithm, maximising OBJECTIVE, within the trial budget."""
    common: Dict[str, Any] = {
        "objective": keras_tuner.Objective(OBJECTIVE, direction="max"),
        "hyperparameters": space,
        "allow_new_entries": False,
        "tune_new_entries": False,
        "seed": seed,
    }
    if search.algorithm == "random":
        return keras_tuner.oracles.RandomSearchOracle(max_trials=search.trials, **common)
    if search.algorithm == "bayesian":
        # KerasTuner's default (3 random points per dimension) would spend most budgets at random.
        initial = max(2, min(3 * len(space.space), search.trials // 2))
        return keras_tuner.oracles.BayesianOptimizationOracle(
            max_trials=search.trials, num_initial_points=initial, **common
        )
    oracle = keras_tuner.oracles.HyperbandOracle(
        max_epochs=search.epochs, factor=HYPERBAND_FACTOR, hyperband_iterations=1, **common
    )
    oracle.max_trials = search.trials  # Hyperband has no budget of its own; the base oracle stops at it
    return oracle


class TuningError(RuntimeError):
    """The search found nothing to recommend (every trial failed)."""


def trial_strategy() -> Tuple[tf.distribute.Strategy, distribution.DistributionPlan]:
    """This machine's devices, whatever TF_CONFIG says: each tuner worker runs its own trials."""
    return distribution.choose_strategy(tf_config="")


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


class SegmentationTuner(keras_tuner.Tuner):
    """Runs each trial as the Trainer trains (fit_model), and returns its validation mean IoU."""

    def __init__(
        self,
        oracle: Any,
        settings: TrainerSettings,
        search: SearchSettings,
        load_data: Callable[[], Tuple[Split, Split]],
        base_weights: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(oracle=oracle, **kwargs)
        self.settings = settings
        self.search_settings = search
        self._load_data = load_data
        self._base_weights = base_weights
        self._prepared: Optional[Dict[str, Any]] = None
        self._last_failure = ""

    def _prepare(self) -> Dict[str, Any]:
        """Devices, precision and data, on the first trial (the chief oracle runs none)."""
        if self._prepared is None:
            strategy, plan = trial_strategy()
            make_reproducible(self.settings.training)
            distribution.configure_mixed_precision(plan)
            distribution.log_plan(plan)
            train, validation = self._load_data()
            logging.info("tuning on %d train and %d validation examples", len(train[0]), len(validation[0]))
            self._prepared = {"strategy": strategy, "plan": plan, "train": train, "validation": validation}
        return self._prepared

    def _report(self, event: str, trial: Any, message: str, **values: Any) -> None:
        number = int(trial.trial_id) + 1 if str(trial.trial_id).isdigit() else trial.trial_id
        progress = {
            "event": event,
            "phase": "tuning",
            "trial": number,
            "trials": self.oracle.max_trials,
            **values,
        }
        _log.info(f"trial {number}/{self.oracle.max_trials}: {message}", extra={"progress": progress})

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> float:
        values = dict(trial.hyperparameters.values)
        settings, _ = apply_hyperparameters(self.settings, values)
        epochs = int(values.get("tuner/epochs", self.search_settings.epochs))  # Hyperband's budget
        # Trials are compared on the kept epoch's validation mean IoU; class offsets, fitted on
        # that same split, would only cost seconds (the final Trainer run fits them).
        settings = settings.model_copy(
            update={
                "training": settings.training.model_copy(
                    update={"epochs": epochs, "calibrate_classes": False}
                )
            }
        )
        shown = {name: value for name, value in values.items() if not name.startswith("tuner/")}
        self._report("trial_start", trial, ", ".join(f"{k} {v}" for k, v in shown.items()), values=shown)
        try:
            prepared = self._prepare()
            keras.backend.clear_session()
            keras.utils.set_random_seed(settings.training.seed)  # every trial from the same seed
            _, history = fit_model(
                settings,
                prepared["train"],
                prepared["validation"],
                dataset_facts(settings.dataset).num_classes,
                strategy=prepared["strategy"],
                global_batch=distribution.global_batch_size(settings.training.batch_size, prepared["plan"]),
                base_weights=self._base_weights,
            )
            score = history["metrics"][OBJECTIVE][history["kept_epoch"] - 1]
            if not math.isfinite(score):
                raise keras_tuner.errors.FailedTrialError(f"validation mean IoU is {score}")
        except Exception as error:
            self._last_failure = _last_line(error)
            self._report("trial_failed", trial, f"failed: {self._last_failure}", reason=self._last_failure)
            raise
        self._report("trial_end", trial, f"validation mean IoU {score:.4f}", score=score, epochs=epochs)
        return float(score)

    def on_trial_end(self, trial: Any) -> None:
        try:
            super().on_trial_end(trial)
        except RuntimeError as error:  # KerasTuner: too many failed trials in a row
            raise TuningError(
                f"hyperparameter search stopped: {self.oracle.max_consecutive_failed_trials} trials "
                f"failed in a row; the last: {self._last_failure or _last_line(error)}"
            ) from None

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """KerasTuner's search; then, where the oracle is this process's (a local search, or
        the chief oracle on Vertex), a TuningError unless some trial completed: TFX would
        otherwise record a failed trial's values as the best."""
        super().search(*fit_args, **fit_kwargs)
        if not isinstance(self.oracle, keras_tuner.Oracle):
            return  # a tuner worker's proxy to the chief oracle, which checks for itself
        completed = [t for t in self.oracle.trials.values() if t.status == TrialStatus.COMPLETED]
        if not completed:
            raise TuningError(
                "hyperparameter search: no trial completed"
                + (f"; the last failed with: {self._last_failure}" if self._last_failure else "")
            )


def load_splits(fn_args: FnArgs) -> Tuple[Split, Split]:
    """The transformed train and validation splits, in memory, as the Trainer reads them."""
    spec = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_feature_spec()
    return load_split(fn_args.train_files, spec), load_split(fn_args.eval_files, spec)


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
    """TFX Tuner entry point: the tuner and (empty) fit kwargs; trials load the data themselves."""
    custom_config = fn_args.custom_config
    settings = TrainerSettings.from_custom_config(custom_config)
    search = SearchSettings.model_validate(custom_config[TUNING_KEY])
    names = searched(search, settings.model)
    training = settings.training
    warm_start = training.warm_start or fn_args.base_model

    tuner = SegmentationTuner(
        oracle=make_oracle(search, search_space(names), training.seed),
        settings=settings,
        search=search,
        load_data=lambda: load_splits(fn_args),
        base_weights=warm_start_weights(warm_start) if warm_start else None,
        directory=fn_args.working_dir,
        # One folder per tuner: on Vertex the chief oracle and the first worker share a machine
        # (and /tmp); each starts afresh rather than reloading a stale search from a folder.
        project_name=f"{PROJECT_NAME}_{os.environ.get(TUNER_ID_ENV, 'tuner0')}",
        overwrite=True,
    )
    return TunerFnResult(tuner=tuner, fit_kwargs={})
