"""The ceiling: the model's FLOPs per image, the machine's matmul FLOP/s, and the share reached.

FLOPs per image (forward) are counted two ways that should agree: TF's graph profiler
(`tf.compat.v1.profiler`, float operations of the inference graph at batch 1) and the
multiply-adds of every convolution read off the Keras layers (2 FLOPs each; BatchNorm,
activations and concatenations are left out, a few per cent). A training step costs about 3x the
forward pass (forward, gradients of activations, gradients of weights). The machine's peak is
the best float32 `tf.matmul` rate over a few sizes, the most favourable kernel it has; the share
of it a training loop reaches is images/s x 3 x forward FLOPs / peak. Since other jobs' load
moves that peak between measurements, the share is also given against the matmul rate measured
in the same throughput rounds as the training (`bench.throughput`), the steadier figure.
"""

import statistics
import time
from typing import Dict, Iterator

import tensorflow as tf
import tf_keras as keras

from bench.common import NUM_CLASSES, TRAINING_OVER_FORWARD, Recorder, load_result, parse_settings
from bench.pipeline_run import pipeline_config, trainer_settings
from trainer.task import build_for

MATMUL_SIZES = (1024, 2048, 4096)
MATMUL_REPEATS = 10


def _leaf_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    inner = getattr(layer, "layers", None)
    if inner:
        for child in inner:
            yield from _leaf_layers(child)
    else:
        yield layer


def conv_macs(model: keras.Model) -> int:
    """Multiply-adds of every Conv2D, DepthwiseConv2D and Conv2DTranspose for one image."""
    total = 0
    for layer in _leaf_layers(model):
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            continue
        kh, kw = layer.kernel_size
        if isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel scatters k*k*out
            _, h, w, cin = layer.input_shape
            total += h * w * kh * kw * cin * layer.filters
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, cin = layer.output_shape
            total += h * w * kh * kw * cin * layer.depth_multiplier
        else:
            _, h, w, cout = layer.output_shape
            total += h * w * kh * kw * layer.input_shape[-1] * cout
    return int(total)


def profiler_flops(model: keras.Model, size: int) -> int:
    """Float operations TF's profiler counts in the inference graph at batch 1."""
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, size, size, 3], tf.float32)
    )
    options = (
        tf.compat.v1.profiler.ProfileOptionBuilder(
            tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        )
        .with_empty_output()
        .build()
    )
    return int(
        tf.compat.v1.profiler.profile(
            graph=function.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
        ).total_float_ops
    )


def matmul_flops_per_second() -> Dict[str, float]:
    """Best-of-N float32 matmul rate per size (2 n^3 FLOPs per product)."""
    rates = {}
    for n in MATMUL_SIZES:
        a = tf.random.normal([n, n])
        b = tf.random.normal([n, n])
        tf.matmul(a, b).numpy()
        best = min(_timed(lambda a=a, b=b: tf.matmul(a, b).numpy()) for _ in range(MATMUL_REPEATS))
        rates[str(n)] = 2 * n**3 / best
    return rates


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    settings = parse_settings(__doc__)
    recorder = Recorder("ceiling", settings)
    model = build_for(trainer_settings(pipeline_config(settings)), NUM_CLASSES)
    forward = {"conv_layers": 2 * conv_macs(model), "tf_profiler": profiler_flops(model, settings.image_size)}
    forward_flops = forward["tf_profiler"]
    rates = matmul_flops_per_second()
    peak = max(rates.values())
    throughput = load_result(settings, "throughput")
    loops = throughput["images_per_second"]
    training_flops = TRAINING_OVER_FORWARD * forward_flops
    in_round = throughput["matmul_flops_per_second_per_round"]
    recorder.write(
        {
            "image_size": settings.image_size,
            "parameters": int(model.count_params()),
            "forward_flops_per_image": forward,
            "training_flops_per_image": training_flops,
            "matmul_flops_per_second": rates,
            "peak_flops_per_second": peak,
            "training_images_per_second": loops,
            "share_of_peak": {name: rate * training_flops / peak for name, rate in loops.items()},
            "ceiling_images_per_second": peak / training_flops,
            # Each throughput round's training rate against the matmul rate of the same round.
            "share_of_same_round_matmul": {
                name: statistics.median(r * training_flops / m for r, m in zip(per_round, in_round))
                for name, per_round in throughput["images_per_second_per_round"].items()
            },
            "same_round_matmul_flops_per_second_median": statistics.median(in_round),
        }
    )


if __name__ == "__main__":
    main()
