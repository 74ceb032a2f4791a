"""One TFLite variant of the model, run the way its contract says (serving/tflite_contract.py).

Both the TFLite component's scorer and `segpipe predict --tflite` feed the model through here,
so what is scored is exactly what an app following the contract gets: resized RGB pixels
0..255 in (float32 as they are, or rounded to uint8), the class map and probabilities at the
model's resolution out, one image at a time (the converted model's batch is 1, as on a phone).
"""

from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from contract.names import CLASS_MAP, PROBABILITIES, TFLITE_INPUT
from serving.tflite_contract import SIGNATURE, AppContract, ContractError


class TfliteRunner:
    """The TFLite interpreter on one model, checked against its contract when loaded."""

    def __init__(self, model: bytes, contract: AppContract, num_threads: Optional[int] = None):
        self.contract = contract
        interpreter = tf.lite.Interpreter(model_content=model, num_threads=num_threads)
        self._runner = interpreter.get_signature_runner(SIGNATURE)
        details = self._runner.get_input_details().get(TFLITE_INPUT)
        size = contract.image_size
        expected = (np.dtype(contract.input_dtype), [1, size, size, 3])
        if details is None or (np.dtype(details["dtype"]), list(details["shape"])) != expected:
            found = None if details is None else (np.dtype(details["dtype"]).name, list(details["shape"]))
            raise ContractError(
                f"the model's input {TFLITE_INPUT!r} is {found}, its contract says "
                f"{(contract.input_dtype, expected[1])}"
            )

    def run(self, pixels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """[S, S, 3] resized RGB pixels 0..255 → (class map [S, S], probabilities [S, S, C])."""
        if self.contract.input_dtype == "uint8":
            pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
        outputs = self._runner(**{TFLITE_INPUT: np.asarray(pixels, self.contract.input_dtype)[None]})
        return outputs[CLASS_MAP][0], outputs[PROBABILITIES][0]
