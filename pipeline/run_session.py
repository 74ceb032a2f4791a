"""One local run as a person sees it: the run view, the log file, and a one-line failure.

`segpipe run`, `segpipe retrain` and a pipeline started by `tfx run create` all go through
`run_and_report`: the libraries' output goes to OUTPUT/logs/<run id>.log (pipeline/console.py),
the console shows the run view (pipeline/run_view.py) and, at the end, where everything is.
A failure ends with which component failed, the one-line reason, the log file and, for the
data-quality gate, its report, and exit code 1; its traceback is in the log, not on the
console. Every path printed exists.
"""

import logging
import os
import sys
import time
from functools import partial
from typing import List, Optional

from contract.names import DATA_QUALITY_REPORT, REASON_PROPERTY, TRAIN_PROPERTY, TRAINING_DECISION_TYPE_NAME
from pipeline.config import PipelineConfig
from pipeline.console import captured_output, new_run_id
from pipeline.errors import ConfigError
from pipeline.run_summary import describe_tflite, describe_tuning, load_summary, summary_path
from pipeline.run_view import RunView, duration
from serving.tf_errors import one_line

EXIT_OK, EXIT_FAILED = 0, 1


def summary_lines(config: PipelineConfig) -> List[str]:
    """Where everything the run produced is, and the numbers that matter."""
    from pipeline.run_outputs import (
        latest_artifacts,
        node_outputs,
        quality_report,
        training_result,
        validation_mean_iou_text,
    )

    artifacts = latest_artifacts(config)
    lines = []
    if config.training.warm_start_from_blessed:
        decision = node_outputs(config, "TrainingGate")[1].get(TRAINING_DECISION_TYPE_NAME)
        if decision is not None and decision.get_int_custom_property(TRAIN_PROPERTY) == 0:
            reason = decision.get_string_custom_property(REASON_PROPERTY)
            lines.append(f"nothing trained, evaluated or pushed: {reason}; below, the run that trained it")
    examples, model = artifacts.get("TfdsExampleGen.Examples"), artifacts.get("Trainer.Model")
    report = quality_report(examples) if examples else None
    if examples and report:
        lines.append(
            f"data: {report['good']} records kept, {report['bad']} left out ({report['bad_fraction']:.1%}): "
            f"{os.path.join(examples.uri, DATA_QUALITY_REPORT)}"
        )
    result = training_result(model) if model else None
    if result:
        lines.append(
            f"training: {result['epochs']} epochs, kept epoch {result['kept_epoch']} "
            f"({validation_mean_iou_text(result)})"
        )
    summary = load_summary(config.output_dir)
    if summary:
        if summary.get("tuning"):
            lines.append(f"hyperparameter search: {describe_tuning(summary['tuning'])}")
        overall = summary["metrics"]["overall"]
        if "mean_iou" in overall:
            classes = ", ".join(f"{name} {value:.3f}" for name, value in overall.get("iou", {}).items())
            majority = summary.get("majority_class_baseline") or {}
            against = (
                f"; always the majority class: {majority['pixel_accuracy']:.3f} / {majority['mean_iou']:.3f}"
                if majority
                else ""
            )
            scores = f"pixel accuracy {overall['pixel_accuracy']:.3f}, mean IoU {overall['mean_iou']:.3f}"
            lines.append(f"eval split: {scores} ({classes}){against}")
        blessing = summary["blessing"]
        lines.append(f"{'BLESSED' if blessing['blessed'] else 'NOT blessed'}: {blessing['reason']}")
        lines.append(f"pushed: {summary['pushed_model'] or 'nothing'}")
        if summary.get("tflite"):
            lines.append(f"phone model (TFLite): {describe_tflite(summary['tflite'])}")
            lines.append(f"  {summary['tflite']['gate']['reason']}")
        lines.append(f"report: {summary['report']}")
        shown = f"segpipe metrics --output {config.output.output_dir}"
        lines.append(f"summary: {summary_path(config.output_dir)} ({shown})")
    return lines


def _failure_lines(command: str, node: Optional[str], error: BaseException, log_path: str) -> List[str]:
    where = f"{node}: " if node else ""
    return [
        f"{command}: failed: {where}{one_line(str(error)) or type(error).__name__}",
        f"{command}: log: {log_path}",
    ]


def run_and_report(config: PipelineConfig, command: str, verbose: bool = False) -> int:
    """Runs the pipeline locally with the run view; the exit code (ConfigError propagates)."""
    run_id = new_run_id()
    log_path = os.path.join(config.logs_dir, f"{run_id}.log")
    failure: List[str] = []
    started = time.monotonic()
    with captured_output(log_path, verbose) as console:
        # TensorFlow, TFX and Beam load here, inside the capture: their start-up notices go to the log.
        from pipeline import dag_run
        from pipeline.node_figures import outcome

        view = RunView(console, partial(outcome, config))
        say = partial(view.console.print, markup=False)
        say(f"{command} {run_id}: pipeline {config.output.pipeline_name}, output {config.output_dir}")
        say(f"  libraries' log: {log_path}")
        try:
            with view:
                dag_run.run(config, view=view)
        except ConfigError:
            raise
        except Exception as error:
            logging.exception("%s failed", command)
            node = view.node_failed(one_line(str(error)))
            failure = _failure_lines(command, node, error, log_path)
        if not failure:
            say(f"{command} {run_id} finished in {duration(time.monotonic() - started)}")
            for line in summary_lines(config):
                say(f"  {line}")
            say(f"  log: {log_path}")
    if failure:
        print("\n".join(failure), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
