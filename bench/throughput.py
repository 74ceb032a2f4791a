"""Training throughput, interleaved: the tutorial's loop, the Trainer's loop, and the bare model.

Three training loops run in one process, in alternating short bursts, so that load from other
jobs on the machine hits all of them alike:
- `tutorial`: the tutorial port's compiled model on its own `train_batches` (bilinear masks);
- `trainer`: the Trainer's model and compile (`trainer.task.build_for`, `compile_model`) on its
  own input pipeline (`trainer.data.make_dataset(load_split(...))`) over the Transform
  output of the benchmark's pipeline run, repeated across epochs as Keras' fit iterates it;
- `memory`: the same model and compile fed from decoded arrays already in memory
  (`Dataset.from_tensor_slices`), the ceiling any input pipeline could reach.
Each burst calls the model's Keras `train_function` (what `fit` calls per step) on the variant's
iterator. Before timing, every input pipeline is read once to fill its cache and every model
runs a few steps (tracing); those are left out. Each pipeline is also read alone, without
training, to show what it can deliver.

Every round also times a burst of large float32 matmuls, so that `bench.ceiling` can set each
round's training rate against the FLOP/s the machine gave in that same round: other jobs' load
moves both alike, and a peak measured at another moment does not.
"""

import dataclasses
import statistics
import time
from typing import Callable, Dict, Iterator, List, Optional

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.types import artifact_utils
from tfx.utils import io_utils

from bench import tutorial_port
from bench.common import NUM_CLASSES, Recorder, Settings, alternating_orders, parse_settings
from bench.data import resized_arrays, tfds_builder
from bench.pipeline_run import artifact, pipeline_config, trainer_settings
from bench.step_timer import batch_sizes
from trainer.data import load_split, make_dataset
from trainer.task import build_for, compile_model

WARMUP_STEPS = 3
PIPELINE_ONLY_BATCHES = 20
MATMUL_SIZE = 4096
MATMUL_PRODUCTS_PER_BURST = 2


@dataclasses.dataclass
class Loop:
    """One training loop: a compiled model, its endless dataset and where its iterator stands."""

    model: keras.Model
    dataset: tf.data.Dataset
    examples_per_pass: int
    batch_size: int
    step: int = 0
    train_function: Optional[Callable] = None
    iterator: Optional[Iterator] = None

    def images_of_step(self, step: int) -> int:
        return batch_sizes(self.examples_per_pass, self.batch_size)(step)

    def warm_up(self) -> None:
        """Reads one whole pass (fills the caches), then traces and runs a few training steps."""
        for _ in self.dataset.take(-(-self.examples_per_pass // self.batch_size)):
            pass
        self.iterator = iter(self.dataset)
        self.train_function = self.model.make_train_function()
        self.burst(WARMUP_STEPS)

    def burst(self, steps: int) -> Dict[str, float]:
        """`steps` training steps, as fit runs them; seconds and images."""
        train_function, iterator = self.train_function, self.iterator
        if train_function is None or iterator is None:
            raise RuntimeError("Loop.burst before Loop.warm_up: no train function or iterator yet")
        images = sum(self.images_of_step(self.step + i) for i in range(steps))
        started = time.perf_counter()
        for _ in range(steps):
            logs = train_function(iterator)
        float(logs["loss"])  # wait for the last step
        self.step += steps
        return {"seconds": time.perf_counter() - started, "images": images}

    def pipeline_only(self, batches: int) -> float:
        """Images/s the input pipeline delivers alone (warm cache, no training)."""
        iterator = iter(self.dataset)
        next(iterator)
        started, images = time.perf_counter(), 0
        for _ in range(batches):
            images += int(tf.shape(tf.nest.flatten(next(iterator))[0])[0])
        return images / (time.perf_counter() - started)


def tutorial_loop(settings: Settings, builder) -> Loop:
    data = tutorial_port.input_pipelines(builder, settings.image_size, settings.batch_size)
    return Loop(
        tutorial_port.compiled_model(settings.image_size, seed=42),
        data.train_batches,
        data.train_length,
        settings.batch_size,
    )


def _trainer_model(settings: Settings) -> keras.Model:
    trainer = trainer_settings(pipeline_config(settings))
    model = build_for(trainer, NUM_CLASSES)
    compile_model(model, trainer.training.learning_rate, NUM_CLASSES, trainer.training)
    return model


def trainer_loop(settings: Settings) -> Loop:
    """The Trainer's dataset as run_fn builds it, from the pipeline run's Transform output."""
    config = pipeline_config(settings)
    transformed = artifact(config, "Transform.Examples")
    spec = tft.TFTransformOutput(artifact(config, "Transform.TransformGraph").uri).transformed_feature_spec()
    train_files = [io_utils.all_files_pattern(artifact_utils.get_split_uri([transformed], "train"))]
    dataset = make_dataset(
        tf.data.Dataset.from_tensor_slices(load_split(train_files, spec)),
        settings.batch_size,
        training=True,
        seed=config.training.seed,
        augment=config.training.augment,
        augment_strength=config.training.augment_strength,
    )
    return Loop(_trainer_model(settings), dataset.repeat(), settings.n_train, settings.batch_size)


def memory_loop(settings: Settings, builder) -> Loop:
    images, masks = resized_arrays(builder, "train", settings.image_size)
    dataset = tf.data.Dataset.from_tensor_slices((images, masks)).batch(settings.batch_size).repeat()
    return Loop(_trainer_model(settings), dataset, len(images), settings.batch_size)


class MatmulBurst:
    """Products of two random n x n float32 matrices (2 n^3 FLOPs each)."""

    def __init__(self, n: int = MATMUL_SIZE):
        self.n = n
        self.a = tf.random.normal([self.n, self.n])
        self.b = tf.random.normal([self.n, self.n])
        self.burst(1)

    def burst(self, products: int) -> Dict[str, float]:
        started = time.perf_counter()
        for _ in range(products):
            tf.matmul(self.a, self.b).numpy()
        return {"seconds": time.perf_counter() - started, "flops": 2.0 * self.n**3 * products}


def rate(bursts: List[Dict[str, float]]) -> float:
    return sum(b["images"] for b in bursts) / sum(b["seconds"] for b in bursts)


def main() -> None:
    settings = parse_settings(__doc__)
    recorder = Recorder("throughput", settings)
    builder = tfds_builder(settings)
    loops = {
        "tutorial": tutorial_loop(settings, builder),
        "trainer": trainer_loop(settings),
        "memory": memory_loop(settings, builder),
    }
    for loop in loops.values():
        loop.warm_up()
    pipeline_only = {name: loop.pipeline_only(PIPELINE_ONLY_BATCHES) for name, loop in loops.items()}
    matmul = MatmulBurst()
    rounds = []
    for order in alternating_orders([*loops, "matmul"], settings.burst_rounds):
        rounds.append(
            {
                "order": order,
                **{
                    name: matmul.burst(MATMUL_PRODUCTS_PER_BURST)
                    if name == "matmul"
                    else loops[name].burst(settings.burst_steps)
                    for name in order
                },
            }
        )
    per_round = {name: [r[name]["images"] / r[name]["seconds"] for r in rounds] for name in loops}

    def ratio(a: str, b: str) -> Dict[str, float]:
        values = [x / y for x, y in zip(per_round[a], per_round[b])]
        return {
            "median_of_rounds": statistics.median(values),
            "overall": rate([r[a] for r in rounds]) / rate([r[b] for r in rounds]),
            "per_round": values,
        }

    recorder.write(
        {
            "steps_per_burst": settings.burst_steps,
            "warmup_steps_left_out": WARMUP_STEPS,
            "images_per_second": {name: rate([r[name] for r in rounds]) for name in loops},
            "images_per_second_per_round": per_round,
            "input_pipeline_alone_images_per_second": pipeline_only,
            "matmul_size": MATMUL_SIZE,
            "matmul_flops_per_second_per_round": [
                r["matmul"]["flops"] / r["matmul"]["seconds"] for r in rounds
            ],
            "ratios": {
                "trainer_over_tutorial": ratio("trainer", "tutorial"),
                "trainer_over_memory": ratio("trainer", "memory"),
                "tutorial_over_memory": ratio("tutorial", "memory"),
            },
            "rounds": rounds,
        }
    )


if __name__ == "__main__":
    main()
