"""Early stopping that lets the learning-rate schedule do its work first.

Under the warm-up + cosine schedule the validation mean IoU can stall for a few epochs while the
rate is still high: at the demo's sizes run for 40 epochs, patience 3 stopped the defaults at
epoch 17 (mean IoU 0.761) where running to the end reached 0.833 (README, "Four times the
epochs"). Such stalls belong to the schedule, not to a finished model, so a stop is allowed only
from the first epoch after the warm-up that ends with the rate at or below half its peak
(`trainer.schedules.half_rate_epoch`). The best epoch is still tracked from the first, so the
weights kept are the best on the validation split whether or not training stops early.

A second fit on the same model (the fine-tuning phase) continues from the first one's best: its
epochs must beat that score, and when none does the first phase's best weights come back, so
the model that ships is the epoch `history.json` names.
"""

from typing import Any, Dict, List, Optional

import tf_keras as keras

MONITOR = "val_mean_iou"


class ScheduledEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's EarlyStopping on the validation mean IoU, restoring the best epoch's weights, that
    does not stop before `earliest_stop` (0-based).

    Keras's own `start_from_epoch` is not this: it also ignores the epochs before it when picking
    the best one, so the kept weights could be worse than an earlier epoch's.
    """

    # Set by Keras's EarlyStopping (untyped): the best score so far, its epoch and its weights.
    best: float
    best_epoch: int
    best_weights: Optional[List[Any]]

    def __init__(
        self, patience: int, earliest_stop: int = 0, previous: Optional["ScheduledEarlyStopping"] = None
    ):
        super().__init__(monitor=MONITOR, mode="max", patience=patience, restore_best_weights=True, verbose=1)
        self.earliest_stop = earliest_stop
        self.previous = previous  # an earlier fit's (the first phase's), whose best this one must beat

    def on_train_begin(self, logs: Optional[Dict[str, Any]] = None) -> None:
        super().on_train_begin(logs)
        if self.previous is not None and self.previous.best_weights is not None:
            self.best = self.previous.best
            self.best_epoch = self.previous.best_epoch
            self.best_weights = self.previous.best_weights

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, Any]] = None) -> None:
        stopping_already = self.model.stop_training  # another callback's decision stays
        super().on_epoch_end(epoch, logs)
        if epoch < self.earliest_stop and self.model.stop_training and not stopping_already:
            self.model.stop_training = False
            self.stopped_epoch = 0
