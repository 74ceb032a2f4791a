"""What `--deterministic yes` (the default) costs in training speed.

TensorFlow's op determinism (`tf.config.experimental.enable_op_determinism`, which the Trainer
turns on for repeatable runs) cannot be switched off again in a process, so each measurement is
its own process: the Trainer's model, compile and input pipeline (`trainer.task`,
`trainer.data.make_dataset` with the default augmentation) on generated arrays, a few warm-up
steps left out, then timed steps. Processes alternate off, on, on, off, ... so that load from
other jobs hits both alike; the result is the ratio of medians.
"""

import json
import statistics
import subprocess
import sys
import time
from typing import Dict, List

from bench.common import REPO_ROOT, Recorder, alternating_orders, parse_settings

WARMUP_STEPS = 3
TIMED_STEPS = 12
ROUNDS = {"full": 3, "quick": 1}
CHILD_FLAG = "--child"


def measure(deterministic: bool, image_size: int, batch_size: int) -> float:
    """Steady training images/s of the Trainer's model and input pipeline, in this process."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from bench.common import DATASET, ENCODER_WEIGHTS, NUM_CLASSES
    from trainer.data import make_dataset
    from trainer.settings import ModelSettings, TrainerSettings, TrainingSettings
    from trainer.task import build_for, compile_model, make_reproducible

    training = TrainingSettings(batch_size=batch_size, deterministic=deterministic)
    settings = TrainerSettings(
        model=ModelSettings(image_size=image_size, encoder_weights=ENCODER_WEIGHTS),
        training=training,
        dataset=DATASET,
    )
    make_reproducible(training)
    rng = np.random.default_rng(0)
    examples = batch_size * 4
    images = rng.random((examples, image_size, image_size, 3), dtype=np.float32)
    masks = rng.integers(0, NUM_CLASSES, (examples, image_size, image_size), dtype=np.int32)
    dataset = make_dataset(
        tf.data.Dataset.from_tensor_slices((images, masks)),
        batch_size,
        training=True,
        seed=0,
        augment=training.augment,
    ).repeat()
    model = build_for(settings, NUM_CLASSES)
    compile_model(model, training.learning_rate, NUM_CLASSES, training)
    train_function = model.make_train_function()
    iterator = iter(dataset)
    for _ in range(WARMUP_STEPS):
        train_function(iterator)
    started = time.perf_counter()
    for _ in range(TIMED_STEPS):
        logs = train_function(iterator)
    keras.backend.get_value(logs["loss"])
    return TIMED_STEPS * batch_size / (time.perf_counter() - started)


def main() -> None:
    if CHILD_FLAG in sys.argv:
        mode, size, batch = sys.argv[sys.argv.index(CHILD_FLAG) + 1 :][:3]
        print(json.dumps({"images_per_second": measure(mode == "on", int(size), int(batch))}))
        return
    settings = parse_settings(__doc__)
    recorder = Recorder("determinism_cost", settings)
    speeds: Dict[str, List[float]] = {"off": [], "on": []}
    for order in alternating_orders(["off", "on"], ROUNDS[settings.name]):
        for mode in order:
            command = [
                sys.executable,
                "-m",
                "bench.determinism_cost",
                CHILD_FLAG,
                mode,
                str(settings.image_size),
                str(settings.batch_size),
            ]
            output = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
            speeds[mode].append(json.loads(output.strip().splitlines()[-1])["images_per_second"])
    medians = {mode: statistics.median(values) for mode, values in speeds.items()}
    recorder.write(
        {
            "images_per_second": speeds,
            "median_images_per_second": medians,
            "deterministic_over_free": medians["on"] / medians["off"],
            "warmup_steps": WARMUP_STEPS,
            "timed_steps": TIMED_STEPS,
        }
    )


if __name__ == "__main__":
    main()
