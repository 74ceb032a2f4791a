"""The trained model as TFLite: float16 weights, or full-integer int8, with TensorFlow's converter.

The exported SavedModel cannot be converted as it is: its signatures parse tf.Examples and
decode JPEGs through the Transform graph, which TFLite's builtin ops cannot run, and a phone
app decodes and resizes photos itself anyway. So the Keras model is rebuilt from the Trainer's
settings (trainer.task.build_for) with the Trainer's weights (Format-Keras/), and wrapped in
a function that takes what the app has: the resized RGB image as pixel values 0..255, and
returns the class map (argmax) and the probabilities (softmax) at the model's resolution.

- float16: weights stored as float16 (half the size), float32 input and maths on a CPU;
- int8: weights and activations int8, calibrated on a representative set of training images
  (transformed as in training); uint8 input with the [0, 1] scaling folded in: a fake-quant
  node pins the input's range to exactly 0..255, so its quantisation is scale 1, zero point 0
  and the app feeds its pixels unchanged (checked after conversion).

docs/stack.md, "TFLite", has the converter's facts this relies on.
"""

import contextlib
import os
from typing import Dict, Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from contract.names import CLASS_MAP, KERAS_DIR, PROBABILITIES, TFLITE_INPUT, WEIGHTS_FILE
from serving.tflite_contract import SIGNATURE, AppContract
from trainer.models import inference_model
from trainer.models.encoder import WEIGHTS_NONE
from trainer.settings import TrainerSettings
from trainer.task import build_for

FLOAT16, INT8 = "float16", "int8"
VARIANTS = (FLOAT16, INT8)
# What each variant takes: float32 pixels with their fractions, or pixels rounded to uint8.
INPUT_DTYPES = {FLOAT16: "float32", INT8: "uint8"}


@contextlib.contextmanager
def _float32_policy() -> Iterator[None]:
    """Keras' dtype policy is process-wide and the Trainer sets mixed_float16 on GPUs; the
    converter needs a float32 graph (it makes the float16 variant itself)."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def rebuild_model(model_uri: str, settings: TrainerSettings, num_classes: int) -> keras.Model:
    """The model the Trainer exported (its network with its weights, flip-averaged with
    --flip-tta), in float32.

    Built without encoder weights (ImageNet's would be downloaded, only to be overwritten), which
    changes no layer: the trained weights are loaded over it.
    """
    weights = os.path.join(model_uri, KERAS_DIR, WEIGHTS_FILE)
    if not tf.io.gfile.exists(weights + ".index"):
        raise FileNotFoundError(
            f"{model_uri}: no {KERAS_DIR}/{WEIGHTS_FILE} checkpoint, so no model to convert"
        )
    architecture = settings.model.model_copy(update={"encoder_weights": WEIGHTS_NONE})
    with _float32_policy():
        model = build_for(settings.model_copy(update={"model": architecture}), num_classes)
        model.load_weights(weights).expect_partial()
        return inference_model(model, settings.training.flip_tta)


def _segment_function(model: keras.Model, variant: str) -> tf.types.experimental.ConcreteFunction:
    """pixels [1, S, S, 3] float32 0..255 → class map and probabilities at S×S."""
    size = int(model.input_shape[1])

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name=TFLITE_INPUT)])
    def segment(pixels: tf.Tensor) -> Dict[str, tf.Tensor]:
        if variant == INT8:
            pixels = tf.quantization.fake_quant_with_min_max_args(pixels, min=0.0, max=255.0, num_bits=8)
        logits = model(pixels / 255.0, training=False)
        return {
            CLASS_MAP: tf.argmax(logits, axis=-1, output_type=tf.int32),
            PROBABILITIES: tf.nn.softmax(logits),
        }

    return segment.get_concrete_function()


def convert(model: keras.Model, variant: str, representative: Optional[np.ndarray] = None) -> bytes:
    """The model as a .tflite flatbuffer; int8 needs `representative` pixels [N, S, S, 3] 0..255."""
    # The converter saves what it converts: a module holding only the variables saves in seconds,
    # the Keras model itself would have every layer traced again (docs/stack.md, "TFLite").
    holder = tf.Module()
    holder.variables_to_convert = list(model.variables)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_segment_function(model, variant)], holder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
    if representative is None or not len(representative):
        raise ValueError("int8 conversion needs representative images to calibrate on; got none")
    converter.representative_dataset = lambda: ([image[None].astype(np.float32)] for image in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converted = converter.convert()
    _check_pixels_unscaled(converted)
    return converted


def _check_pixels_unscaled(model: bytes) -> None:
    """The int8 model must take raw pixels: input quantisation scale 1, zero point 0."""
    details = tf.lite.Interpreter(model_content=model).get_signature_runner(SIGNATURE).get_input_details()
    scale, zero_point = details[TFLITE_INPUT]["quantization"]
    if (scale, zero_point) != (1.0, 0):
        raise ValueError(
            f"the int8 model's input quantisation is scale {scale}, zero point {zero_point}; "
            "an app feeding raw pixels needs scale 1, zero point 0"
        )


def contract_for(variant: str, image_size: int, class_names: Sequence[str]) -> AppContract:
    """The contract an app follows to feed this variant."""
    return AppContract(
        variant=variant,
        image_size=image_size,
        input_dtype=INPUT_DTYPES[variant],
        class_names=tuple(class_names),
    )
