"""Serving cost: the exported `predict_images` signature against the bare Keras model.

`predict_images` is what a client calls: JPEG bytes at the images' own sizes in, a class map at
each image's own size out; it decodes, resizes and normalises through the Transform graph, runs
the model, and resizes the probabilities back. The bare model gets already-preprocessed
[b, s, s, 3] float tensors and returns logits: the same weights (the Trainer's Format-Keras
checkpoint loaded into the Trainer's model), nothing else. A third variant runs only the
decode-and-resize step (`trainer.preprocessing.decode_images`) to split the difference between
preprocessing and post-processing. The variants alternate in rounds at batch 1 and batch 32,
each call timed on its own (eager calls on CPU return when the work is done).
"""

import dataclasses
import time
from typing import Callable, Dict, List

import numpy as np
import tensorflow as tf
from tfx.utils import path_utils

from bench.common import NUM_CLASSES, Recorder, Settings, alternating_orders, latency_stats, parse_settings
from bench.data import encoded_images, resized_arrays, tfds_builder
from bench.pipeline_run import artifact, pipeline_config, trainer_settings
from components.tflite.converter import rebuild_model
from contract.names import PREDICT_IMAGES
from trainer.preprocessing import decode_images

BATCH_SIZES = (1, 32)
DISTINCT_BATCHES = 4
WARMUP_CALLS = 2


def _batches(items, batch_size: int) -> List:
    """DISTINCT_BATCHES different batches, cycling through the items."""
    return [
        [items[(start * batch_size + i) % len(items)] for i in range(batch_size)]
        for start in range(DISTINCT_BATCHES)
    ]


@dataclasses.dataclass
class Served:
    """The three callables, loaded once, and the inputs they are fed."""

    predict_images: Callable
    bare: Callable
    decode: Callable
    jpegs: List[bytes]
    images: np.ndarray

    @classmethod
    def load(cls, settings: Settings) -> "Served":
        config = pipeline_config(settings)
        model_uri = artifact(config, "Trainer.Model").uri
        signature = tf.saved_model.load(path_utils.serving_model_path(model_uri)).signatures[PREDICT_IMAGES]
        model = rebuild_model(model_uri, trainer_settings(config), NUM_CLASSES)
        size = settings.image_size
        bare = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
        )
        decode = tf.function(
            lambda b: decode_images(b, size)[0], input_signature=[tf.TensorSpec([None], tf.string)]
        )
        images, _ = resized_arrays(tfds_builder(settings), "test", size)
        return cls(
            predict_images=lambda jpegs: signature(images=jpegs),
            bare=bare,
            decode=decode,
            jpegs=encoded_images(settings, "test"),
            images=images,
        )

    def calls(self, batch_size: int) -> Dict[str, Callable[[int], object]]:
        """name -> call(i): the i-th call of that variant at this batch size."""
        jpegs = [tf.constant(batch) for batch in _batches(self.jpegs, batch_size)]
        arrays = [tf.constant(np.stack(batch)) for batch in _batches(list(self.images), batch_size)]
        return {
            "predict_images": lambda i: self.predict_images(jpegs[i % DISTINCT_BATCHES]),
            "bare_model": lambda i: self.bare(arrays[i % DISTINCT_BATCHES]),
            "decode_resize_only": lambda i: self.decode(jpegs[i % DISTINCT_BATCHES]),
        }


def measure(settings: Settings, served: Served, batch_size: int) -> Dict[str, object]:
    calls = served.calls(batch_size)
    per_round = settings.serving_calls_batch1 if batch_size == 1 else settings.serving_calls_batch32
    seconds: Dict[str, List[float]] = {name: [] for name in calls}
    for call in calls.values():
        for i in range(WARMUP_CALLS):
            call(i)
    for order in alternating_orders(list(calls), settings.serving_rounds):
        for name in order:
            for i in range(per_round):
                started = time.perf_counter()
                calls[name](i)
                seconds[name].append(time.perf_counter() - started)
    stats = {name: latency_stats(values, batch_size) for name, values in seconds.items()}
    full, bare, decode = (
        stats[n]["ms_per_image_p50"] for n in ("predict_images", "bare_model", "decode_resize_only")
    )
    return {
        "stats": stats,
        "overhead_ratio_per_image_p50": full / bare,
        "breakdown_ms_per_image_p50": {
            "decode_resize": decode,
            "model": bare,
            "postprocess_and_rest": full - bare - decode,
        },
    }


def main() -> None:
    settings = parse_settings(__doc__)
    recorder = Recorder("serving_cost", settings)
    served = Served.load(settings)
    recorder.write(
        {
            "jpeg_sizes": "the eval split's JPEGs at their own sizes (160-420 px sides)",
            "batch": {str(b): measure(settings, served, b) for b in BATCH_SIZES},
        }
    )


if __name__ == "__main__":
    main()
