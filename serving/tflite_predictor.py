"""`segpipe predict --tflite`: the phone model on the TFLite interpreter, fed as an app feeds it.

The phone model has no Transform graph, so this does what the contract beside it says (and what
an app must do): decode the photo as displayed (serving/mask_files.py's `displayed_rgb`, EXIF
orientation applied as the exported model applies it), resize it to the model's size with the
Transform's own resize (tf.image.resize, bilinear), run the interpreter, and bring the map
back to the photo's size the way `predict_images` does (probabilities resized bilinearly, then
the argmax). The result is the same Prediction as every other backend's, so `segpipe predict`
writes the same mask and overlay files.

`location` is a .tflite file (its contract.json beside it), a version directory holding
model.tflite, or the model base SERVING_ROOT/<model>-tflite/ (its highest version).
"""

import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

from contract.names import TFLITE_CONTRACT_FILE, TFLITE_MODEL_FILE
from serving.mask_files import displayed_rgb
from serving.predictors import resolve_model_dir
from serving.tflite_contract import ContractError, read_contract
from serving.wire_format import Prediction, PredictionError


def resolve_tflite(location: str) -> Tuple[str, str]:
    """(model file, contract file) of a .tflite file, a version directory or a model base."""
    if os.path.isfile(location):
        model_path = location
    elif os.path.isdir(location):
        model_path = os.path.join(resolve_model_dir(location, TFLITE_MODEL_FILE), TFLITE_MODEL_FILE)
    else:
        raise PredictionError(f"--tflite {location}: no such file or directory")
    return model_path, os.path.join(os.path.dirname(model_path), TFLITE_CONTRACT_FILE)


class TfLitePredictor:
    """The phone model in this process, one image at a time, as its contract says."""

    def __init__(self, location: str, num_threads: Optional[int] = None):
        self.model_path, contract_path = resolve_tflite(location)  # before TensorFlow's import
        import tensorflow as tf

        from serving.tflite_runner import TfliteRunner

        self._tf = tf
        try:
            with open(self.model_path, "rb") as handle:
                model = handle.read()
            self._runner = TfliteRunner(model, read_contract(contract_path), num_threads)
        except ContractError as error:
            raise PredictionError(f"{self.model_path}: {error}") from None
        except (OSError, ValueError, RuntimeError) as error:
            raise PredictionError(f"cannot load the TFLite model {self.model_path}: {error}") from None
        self.contract = self._runner.contract

    def predict(self, images: Sequence[bytes]) -> List[Prediction]:
        return [self._predict_one(image) for image in images]

    def _predict_one(self, image_bytes: bytes) -> Prediction:
        tf, size = self._tf, self.contract.image_size
        try:
            image = np.asarray(displayed_rgb(image_bytes))
        except Exception as error:  # Pillow raises many kinds for damaged data
            raise PredictionError(
                f"the TFLite model {self.model_path} cannot read the image: {error}", bad_input=True
            ) from None
        resized = tf.image.resize(tf.cast(image, tf.float32), [size, size], method="bilinear")
        try:
            _, probabilities = self._runner.run(resized.numpy())
        except (RuntimeError, ValueError) as error:
            raise PredictionError(f"the TFLite model {self.model_path} failed: {error}") from None
        height, width = image.shape[:2]
        full_size = tf.image.resize(probabilities, [height, width], method="bilinear")
        class_map = tf.argmax(full_size, axis=-1).numpy()
        return Prediction(class_map=class_map, probabilities=probabilities)
