"""Where the time goes: the whole pipeline on the benchmark dataset, component by component.

Runs `pipeline.dag_run.run(config)` once from an empty output directory (nothing cached),
with the default Beam setting (DirectRunner multi_processing, one worker per core) and the
demo's training settings, then reads each component's wall time from its MLMD execution record
(created → last updated). Reports the Trainer's share and the share of the run that is not
training: everything except the Trainer, including the orchestration between components.
"""

import shutil
import time

from bench.common import Recorder, parse_settings
from bench.data import ensure_dataset
from bench.pipeline_run import execution_seconds, pipeline_config
from pipeline import dag_run

TRAINER = "Trainer"


def main() -> None:
    settings = parse_settings(__doc__)
    recorder = Recorder("where_time_goes", settings)
    ensure_dataset(settings)
    config = pipeline_config(settings)
    shutil.rmtree(config.output_dir, ignore_errors=True)
    started = time.perf_counter()
    dag_run.run(config)
    total = time.perf_counter() - started

    components = execution_seconds(config)
    trainer_seconds = components[TRAINER]["seconds"]
    recorder.write(
        {
            "pipeline": {
                "train_images": settings.n_train,
                "eval_images": settings.n_eval,
                "image_size": config.model.image_size,
                "epochs": config.training.epochs,
                "batch_size": config.training.batch_size,
                "encoder_weights": config.model.encoder_weights,
                "early_stopping_patience": config.training.early_stopping_patience,
                "beam_pipeline_args": config.beam_pipeline_args(),
                "output_dir": config.output_dir,
            },
            "total_seconds": total,
            "components": {
                name: {"seconds": c["seconds"], "share_of_total": c["seconds"] / total, "state": c["state"]}
                for name, c in components.items()
            },
            "orchestration_seconds": total - sum(c["seconds"] for c in components.values()),
            "trainer_seconds": trainer_seconds,
            "non_training_seconds": total - trainer_seconds,
            "non_training_share": (total - trainer_seconds) / total,
        }
    )


if __name__ == "__main__":
    main()
