"""The Trainer's progress, as structured log records a console can draw a progress bar from.

Keras' own progress bar writes carriage returns into whatever stdout is (a log file, here), and
the Trainer does not know who watches it: `segpipe run` draws a live bar in a terminal, plain
lines in a log, Vertex AI keeps the log. So the Trainer reports on a named Python logger
(contract.names.PROGRESS_LOGGER): each batch at DEBUG (for a live bar; not worth a log line),
each epoch's start and end at INFO (with the epoch's metrics), the structured values in the
record's `progress` attribute.
"""

import logging
import time
from typing import Any, Dict, Optional

import tf_keras as keras

from contract.names import PROGRESS_LOGGER

_log = logging.getLogger(PROGRESS_LOGGER)


class ProgressReporter(keras.callbacks.Callback):
    """Reports epochs and batches of one `fit` (the phase: "training" or "fine-tuning")."""

    def __init__(self, steps_per_epoch: Optional[int], phase: str = "training"):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.phase = phase
        self._epoch_started = 0.0

    def _report(self, level: int, event: str, message: str, **values: Any) -> None:
        progress: Dict[str, Any] = {
            "event": event,
            "phase": self.phase,
            "epochs": self.params.get("epochs"),
            "steps": self.steps_per_epoch,
            **values,
        }
        _log.log(level, message, extra={"progress": progress})

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        self._epoch_started = time.monotonic()
        self._report(logging.INFO, "epoch_start", f"{self.phase} epoch {epoch + 1} started", epoch=epoch + 1)

    def on_train_batch_end(self, batch: int, logs: Optional[Dict[str, float]] = None) -> None:
        self._report(logging.DEBUG, "batch", f"{self.phase} batch {batch + 1}", step=batch + 1)

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        seconds = time.monotonic() - self._epoch_started
        shown = ", ".join(f"{key} {value:.4f}" for key, value in metrics.items())
        self._report(
            logging.INFO,
            "epoch_end",
            f"{self.phase} epoch {epoch + 1} ({seconds:.1f} s): {shown}",
            epoch=epoch + 1,
            metrics=metrics,
            seconds=seconds,
        )
