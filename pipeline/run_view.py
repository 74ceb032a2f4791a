"""What `segpipe run` and `retrain` show while the DAG runs: one line per component, a live bar
while the Trainer trains.

In a terminal (rich): a spinner and the elapsed time for the running component, and for the
Trainer (and each of the Tuner's trials) a bar of epochs and one of the current epoch's batches,
with rate and time left; each component's line stays when it ends: done, cached, skipped (held
back by the TrainingGate) or failed, its seconds, and its key figure. A trial of the Tuner's
search adds a line with its values when it starts and one with its validation mean IoU when it
ends.
Anywhere else (CI, cron, `tfx run create`, a pipe): plain timestamped lines, one per event,
without control characters.

The events come from where they happen, in this process: TFX's LocalDagRunner logs
"Component X is running." and "... is finished." before and after each node (a handler on its
logger hears them), the Trainer reports epochs and batches on contract.names.PROGRESS_LOGGER
(trainer/progress.py), and the metadata store says how each node ended and what it produced.
"""

import logging
import time
from typing import Any, Callable, Dict, Optional, TextIO, Tuple

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from contract.names import PROGRESS_LOGGER

# TFX 1.16's LocalDagRunner, around each node (tfx/orchestration/local/local_dag_runner.py), and
# its launcher for a node whose tfx.dsl.Cond is false (tfx/orchestration/portable/launcher.py):
# here, what the TrainingGate holds back when there is nothing new to train on.
_STARTED, _FINISHED = "Component %s is running.", "Component %s is finished."
_SKIPPED = "Skipping execution for %s"
MARKS = {"done": "✓", "cached": "↺", "failed": "✗", "started": "▶", "skipped": "–"}

# node -> (state: "done" / "cached", key figure), read once the node has finished.
Outcome = Callable[[str], Tuple[str, str]]


def duration(seconds: float) -> str:
    """'4.2 s', '3 min 05 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s"


class RunView:
    """Draws the run on a console stream: live in a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO, outcome: Outcome):
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal
        self._outcome = outcome
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._node: Optional[str] = None
        self._skipped: Optional[str] = None
        self._node_started = 0.0
        self._node_task: Optional[TaskID] = None
        self._epoch_task: Optional[TaskID] = None
        self._batch_task: Optional[TaskID] = None

    # --- output ---------------------------------------------------------------------------

    def line(self, text: str) -> None:
        """One line that stays: above the live bars in a terminal, timestamped elsewhere."""
        if self.live:
            self._progress.console.print(text, markup=False)
        else:
            self.console.print(f"{time.strftime('%H:%M:%S')} {text}", markup=False)

    def __enter__(self) -> "RunView":
        if self.live:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.live:
            self._progress.stop()

    # --- events ---------------------------------------------------------------------------

    def node_started(self, node: str) -> None:
        self._node, self._node_started = node, time.monotonic()
        if self.live:
            self._node_task = self._progress.add_task(node, total=None)
        else:
            self.line(f"{MARKS['started']} {node} started")

    def node_skipped(self, node: str) -> None:
        """The running node will not execute: its condition (the TrainingGate's decision) is false."""
        self._skipped = node

    def node_finished(self, node: str) -> None:
        seconds = time.monotonic() - self._node_started
        self._clear_tasks()
        if node == self._skipped:
            self.line(f"{MARKS['skipped']} {node} skipped: the TrainingGate found nothing new to train on")
            self._node = self._skipped = None
            return
        state, figure = self._outcome(node)
        self.line(f"{MARKS[state]} {node} {state} in {duration(seconds)}" + (f": {figure}" if figure else ""))
        self._node = None

    def node_failed(self, reason: str) -> Optional[str]:
        """Marks the running node failed; returns its name (None when no node was running)."""
        node = self._node
        if node is not None:
            self._clear_tasks()
            seconds = time.monotonic() - self._node_started
            self.line(f"{MARKS['failed']} {node} failed after {duration(seconds)}: {reason}")
            self._node = None
        return node

    def training(self, progress: Dict[str, Any]) -> None:
        """An epoch or batch the Trainer reported (trainer/progress.py), or a trial of the
        Tuner's search starting or ending (trainer/tuning.py)."""
        event, phase, epochs = progress["event"], progress["phase"], progress.get("epochs")
        if event in ("trial_start", "trial_end", "trial_failed"):
            self._trial(progress)
            return
        if event == "epoch_end":
            shown = _epoch_metrics(progress.get("metrics", {}))
            self.line(
                f"  {phase} epoch {progress['epoch']}/{epochs} in {duration(progress['seconds'])}: {shown}"
            )
        if not self.live:
            return
        if event == "epoch_start":
            if self._epoch_task is None:
                self._epoch_task = self._progress.add_task(f"{phase}: epochs", total=epochs)
            self._progress.update(self._epoch_task, completed=progress["epoch"] - 1, total=epochs)
            if self._batch_task is not None:
                self._progress.remove_task(self._batch_task)
            self._batch_task = self._progress.add_task(
                f"epoch {progress['epoch']}: batches", total=progress.get("steps")
            )
        elif event == "batch" and self._batch_task is not None:
            self._progress.update(self._batch_task, completed=progress["step"])
        elif event == "epoch_end" and self._epoch_task is not None:
            self._progress.update(self._epoch_task, completed=progress["epoch"])

    def _trial(self, progress: Dict[str, Any]) -> None:
        """'  trial 1/2: learning_rate 0.00123, ...', then its score (or why it failed); each trial
        gets fresh bars."""
        event, where = progress["event"], f"  trial {progress['trial']}/{progress.get('trials')}"
        if event == "trial_start":
            values = progress.get("values") or {}
            shown = ", ".join(
                f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
            )
            self.line(f"{where}: {shown}")
            for task in (self._epoch_task, self._batch_task):
                if task is not None:
                    self._progress.remove_task(task)
            self._epoch_task = self._batch_task = None
        elif event == "trial_end":
            self.line(f"{where}: validation mean IoU {progress['score']:.3f}")
        else:
            self.line(f"{where} failed: {progress.get('reason', '')}")

    def _clear_tasks(self) -> None:
        for task in (self._node_task, self._epoch_task, self._batch_task):
            if task is not None:
                self._progress.remove_task(task)
        self._node_task = self._epoch_task = self._batch_task = None


def _epoch_metrics(metrics: Dict[str, float]) -> str:
    """'loss 0.412, validation mean IoU 0.583' from Keras' epoch logs."""
    shown = []
    for key, label in (
        ("loss", "loss"),
        ("val_loss", "validation loss"),
        ("val_mean_iou", "validation mean IoU"),
    ):
        if key in metrics:
            shown.append(f"{label} {metrics[key]:.3f}")
    return ", ".join(shown)


class RunListener(logging.Handler):
    """Turns TFX's node messages and the Trainer's progress records into RunView events."""

    def __init__(self, view: RunView):
        super().__init__(level=logging.DEBUG)
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name == PROGRESS_LOGGER and hasattr(record, "progress"):
                self.view.training(record.progress)
            elif (
                record.msg in (_STARTED, _FINISHED, _SKIPPED)
                and isinstance(record.args, tuple)
                and record.args
            ):
                node = str(record.args[0])
                if record.msg == _STARTED:
                    self.view.node_started(node)
                elif record.msg == _SKIPPED:
                    self.view.node_skipped(node)
                else:
                    self.view.node_finished(node)
        except Exception:  # a drawing problem must never stop the pipeline: logging reports it
            self.handleError(record)

    def __enter__(self) -> "RunListener":
        self._saved_level = logging.getLogger(PROGRESS_LOGGER).level
        logging.getLogger(PROGRESS_LOGGER).setLevel(logging.DEBUG)
        for name in ("absl", PROGRESS_LOGGER):
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for name in ("absl", PROGRESS_LOGGER):
            logging.getLogger(name).removeHandler(self)
        logging.getLogger(PROGRESS_LOGGER).setLevel(self._saved_level)
