"""Transform on Beam: DirectRunner multi_processing (one worker per core) against one process.

Runs TFX's own Transform executor, with the exec properties the pipeline's Transform ran with
(read from MLMD: `trainer.preprocessing.preprocessing_fn`, its custom config, statistics off),
on the pipeline run's ExampleGen output and schema, into fresh output directories. Only the
Beam options differ: `--direct_running_mode=multi_processing --direct_num_workers=<cores>` (the
pipeline's default) or `in_memory` with one worker. The two alternate, round by round.
Throughput counts every example transformed (train and eval), worker start-up included, since a
pipeline run pays it too.
"""

import os
import shutil
import time
from typing import Dict, List

from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts

from bench.common import Recorder, Settings, alternating_orders, parse_settings
from bench.pipeline_run import artifact, execution_properties, pipeline_config

MODES = {
    "multi_processing": [
        "--direct_running_mode=multi_processing",
        f"--direct_num_workers={os.cpu_count() or 1}",
    ],
    "in_memory": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
}


def run_transform(settings: Settings, mode: str, out_dir: str) -> float:
    """One Transform execution with the given DirectRunner mode; its wall seconds."""
    config = pipeline_config(settings)
    shutil.rmtree(out_dir, ignore_errors=True)
    outputs = {
        "transform_graph": standard_artifacts.TransformGraph(),
        "transformed_examples": standard_artifacts.Examples(),
        "updated_analyzer_cache": standard_artifacts.TransformCache(),
    }
    for key, output in outputs.items():
        output.uri = os.path.join(out_dir, key)
        os.makedirs(output.uri)
    context = BaseBeamExecutor.Context(
        beam_pipeline_args=list(MODES[mode]), tmp_dir=os.path.join(out_dir, "tmp"), unique_id=mode
    )
    executor = transform_executor.Executor(context)
    inputs = {
        "examples": [artifact(config, "TfdsExampleGen.Examples")],
        "schema": [artifact(config, "ImportSchemaGen.Schema")],
    }
    properties = execution_properties(config, "Transform")
    started = time.perf_counter()
    executor.Do(inputs, {key: [output] for key, output in outputs.items()}, properties)
    return time.perf_counter() - started


def main() -> None:
    settings = parse_settings(__doc__)
    recorder = Recorder("transform_beam", settings)
    examples = settings.n_train + settings.n_eval
    seconds: Dict[str, List[float]] = {mode: [] for mode in MODES}
    for index, order in enumerate(alternating_orders(list(MODES), settings.beam_rounds)):
        for mode in order:
            seconds[mode].append(run_transform(settings, mode, os.path.join(settings.work_dir, "beam", mode)))
            print(f"round {index}: {mode} {seconds[mode][-1]:.1f} s")
    rates = {mode: examples * len(values) / sum(values) for mode, values in seconds.items()}
    recorder.write(
        {
            "examples_per_run": examples,
            "beam_args": MODES,
            "seconds": seconds,
            "images_per_second": rates,
            "multi_processing_over_in_memory": rates["multi_processing"] / rates["in_memory"],
        }
    )


if __name__ == "__main__":
    main()
