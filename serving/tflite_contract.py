"""The phone model's contract: the small JSON beside model.tflite that tells an app how to feed it.

A TFLite model has no Transform graph: the app decodes, turns and resizes the photo itself, so
what the Transform does must be written down exactly, next to the model, in a form a program
reads. The TFLite component writes it (`AppContract.to_json`); `segpipe predict --tflite` reads
it (`read_contract`) and does what it says, as an app would, so a wrong contract fails a test.

What it says (segpipe-tflite/1):
- input `pixels` [1, S, S, 3]: the photo as displayed (JPEG EXIF orientation applied), RGB,
  resized to S×S with bilinear interpolation, half-pixel centres, no antialiasing and no
  cropping or padding (tf.image.resize's default, which Transform uses), values 0..255: as
  float32 with their fractions (float16 variant) or rounded to uint8 (int8 variant); the model
  divides by 255 itself;
- outputs `class_map` [1, S, S] int32 (class ids) and `probabilities` [1, S, S, C] float32
  (softmax), classes in the order of `class_names`;
- for a map at the photo's own size, resize the probabilities bilinearly to it and take the
  argmax per pixel, as the server's `predict_images` does.
"""

import dataclasses
import json
from typing import Any, Dict, Tuple

from contract.names import CLASS_MAP, PROBABILITIES, TFLITE_INPUT, TFLITE_MODEL_FILE

FORMAT = "segpipe-tflite/1"
SIGNATURE = "serving_default"  # the converted model's only signature
INPUT_DTYPES = ("float32", "uint8")


class ContractError(ValueError):
    """A contract file that is missing, not JSON, or not this format; the message names it."""


@dataclasses.dataclass(frozen=True)
class AppContract:
    """What an app needs to run one variant of the phone model."""

    variant: str  # "float16" or "int8": how the weights (and, for int8, the maths) are stored
    image_size: int
    input_dtype: str  # one of INPUT_DTYPES
    class_names: Tuple[str, ...]

    def to_json(self) -> str:
        """The contract file's text: the machine-read fields and the words a person follows."""
        size, classes = self.image_size, len(self.class_names)
        rounding = "rounded to the nearest integer" if self.input_dtype == "uint8" else "with their fractions"
        document: Dict[str, Any] = {
            "format": FORMAT,
            "model_file": TFLITE_MODEL_FILE,
            "variant": self.variant,
            "signature": SIGNATURE,
            "input": {
                "name": TFLITE_INPUT,
                "dtype": self.input_dtype,
                "shape": [1, size, size, 3],
                "values": f"RGB pixel values 0..255, {rounding}; the model divides by 255 itself",
            },
            "preprocessing": {
                "orientation": "apply a JPEG's EXIF orientation first: the photo as displayed",
                "resize": f"to {size}x{size}, bilinear, half-pixel centres, no antialiasing, the whole "
                "photo stretched (no crop, no padding): tf.image.resize's default, as in training",
            },
            "outputs": {
                CLASS_MAP: {"dtype": "int32", "shape": [1, size, size], "values": "class id per pixel"},
                PROBABILITIES: {
                    "dtype": "float32",
                    "shape": [1, size, size, classes],
                    "values": "softmax per pixel, classes in class_names order",
                },
            },
            "postprocessing": "for a map at the photo's own size, resize probabilities bilinearly "
            "to it and take the argmax per pixel (as the server's predict_images does)",
            "class_names": list(self.class_names),
        }
        return json.dumps(document, indent=2) + "\n"


def read_contract(path: str) -> AppContract:
    """The contract in a file; ContractError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise ContractError(f"{path}: no such file (the contract goes beside the model)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ContractError(f"{path}: not a readable JSON file: {error}") from None
    found = document.get("format") if isinstance(document, dict) else type(document).__name__
    if found != FORMAT:
        raise ContractError(f"{path}: not a {FORMAT} contract (format {found!r})")
    try:
        contract = AppContract(
            variant=str(document["variant"]),
            image_size=int(document["input"]["shape"][1]),
            input_dtype=str(document["input"]["dtype"]),
            class_names=tuple(str(name) for name in document["class_names"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ContractError(f"{path}: not a {FORMAT} contract: missing or bad {error}") from None
    if contract.input_dtype not in INPUT_DTYPES:
        raise ContractError(f"{path}: input dtype {contract.input_dtype!r}, expected one of {INPUT_DTYPES}")
    return contract
